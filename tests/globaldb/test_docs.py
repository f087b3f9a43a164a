"""docs/api.md keeps up with the code: every condition reason, Event reason and
operation step the controller can write is documented, and every one the
document promises exists."""

import os
import re

SOURCE = os.environ.get("GDB_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


def read(*path):
    with open(os.path.join(SOURCE, *path)) as f:
        return f.read()


PLANNER = read("pkg", "globaldb", "planner.c")
TYPES = read("pkg", "globaldb", "types.c")
RECONCILER = read("pkg", "globaldb", "reconciler.c")
DOC = read("docs", "api.md")
DOC_NAMES = set(re.findall(r"`([A-Z][A-Za-z]+)`", DOC))


def code_reasons():
    reasons = set()
    for fn in ("degraded", "refuse", "progressing"):
        reasons |= set(re.findall(fn + r'\(\s*c,\s*"([A-Za-z]+)"', PLANNER))
    reasons |= set(re.findall(r'return "(Aws[A-Za-z]+)";', PLANNER))
    reasons |= set(
        re.findall(r'set_condition\(c, "[A-Za-z]+", GDB_COND_[A-Z]+, "([A-Za-z]+)"', PLANNER)
    )
    # the few the reconciler sets itself (no credentials, a refused login)
    reasons |= set(
        re.findall(r'cond_set\(&?[a-z>.-]+, "Degraded", GDB_COND_TRUE, "([A-Za-z]+)"', RECONCILER)
    )
    return reasons


def event_reasons():
    reasons = set(re.findall(r'event\(\s*&?c,\s*GDB_EVENT_[A-Z]+,\s*"([A-Za-z]+)"', PLANNER))
    # reasons chosen by a conditional expression
    reasons |= set(re.findall(r'\? "([A-Za-z]+Completed)"', PLANNER))
    reasons |= set(re.findall(r': "([A-Za-z]+Completed)"', PLANNER))
    return reasons


def steps():
    return set(re.findall(r'\[GDB_STEP_[A-Z_]+\] = "([A-Za-z]+)"', TYPES))


def test_every_condition_reason_is_documented():
    missing = sorted(r for r in code_reasons() if r not in DOC_NAMES)
    assert not missing, f"reasons missing from docs/api.md: {missing}"


def test_every_event_reason_is_documented():
    missing = sorted(r for r in event_reasons() if r not in DOC_NAMES)
    assert not missing, f"Event reasons missing from docs/api.md: {missing}"


def test_every_step_is_in_the_state_machine():
    assert len(steps()) >= 19
    missing = sorted(s for s in steps() if s not in DOC)
    assert not missing, f"steps missing from docs/api.md: {missing}"


def test_documented_degraded_reasons_exist():
    section = DOC.split("`Degraded` reasons", 1)[1].split("### Events", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Za-z]+)`", section)) - {
        "Degraded",
        "DescribeGlobalClusters",
        "SynchronizationStatus",
    }
    known = code_reasons() | event_reasons()
    assert not sorted(documented - known), f"documented but never set: {sorted(documented - known)}"
