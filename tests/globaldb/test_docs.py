"""docs/api.md keeps up with the code: every condition reason, Event reason and
operation step the controller can write is documented, and every one the
document promises exists.

Reasons are found in all of pkg/, not in a list of files: a function with a
`const char *reason` parameter emits a reason (Events if its name says
"event", conditions otherwise), and so does a string put in a `reason` field.
At every call of such a function the reason argument must be something this
test can read: string literals (a conditional expression may choose between
several), a call to a function that returns literals, or a value passed on
from another reason (an expression ending in `reason`, checked where it was
set). Anything else fails with the file and line, so a new way of emitting a
reason cannot slip past the documentation check.
"""

import os
import re

SOURCE = os.environ.get("GDB_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)

# Functions with a `reason` parameter that do not emit one.
NOT_EMITTERS = {
    "old_degraded_is",  # plan_status.c: compares with the current Degraded reason
    "kube_status_code_to_err",  # kube/status.c: reads the reason of an API Status
}

# A metav1.Condition reason, and what the controller uses for Event reasons.
REASON = re.compile(r"^[A-Z][A-Za-z0-9]*$")
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
REASON_PARAM = re.compile(r"^const\s+char\s*\*\s*reason$")


def read(*path):
    with open(os.path.join(SOURCE, *path)) as f:
        return f.read()


def strip_comments(text):
    """text with comments blanked (newlines kept, so offsets keep their line)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def split_args(text, open_paren):
    """The top-level arguments of the call whose '(' is at open_paren, with their offsets."""
    args, depth, start, i = [], 0, open_paren + 1, open_paren
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while j < len(text) and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            i = j
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append((text[start:i].strip(), start))
                return args
        elif ch == "," and depth == 1:
            args.append((text[start:i].strip(), start))
            start = i + 1
        i += 1
    return args


class Sources:
    """The C files of a tree, comments stripped: {path: text}."""

    def __init__(self, files):
        self.files = {p: strip_comments(t) for p, t in files.items()}

    @classmethod
    def from_tree(cls, root, sub="pkg"):
        files = {}
        for d, _, names in os.walk(os.path.join(root, sub)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    path = os.path.join(d, name)
                    with open(path) as f:
                        files[os.path.relpath(path, root)] = f.read()
        return cls(files)

    def calls(self, name, path=None):
        """(path, arguments) of every `name(` in path, or in every file."""
        for p, text in self.files.items():
            if path is not None and p != path:
                continue
            for m in re.finditer(r"\b" + re.escape(name) + r"\s*\(", text):
                yield p, split_args(text, m.end() - 1)

    def emitters(self):
        """{(name, path or None): index of the reason argument}; path None = not static."""
        found = {}
        for p, text in self.files.items():
            for m in re.finditer(r"\b([a-z_][a-z0-9_]*)\s*\(", text):
                name = m.group(1)
                if name in NOT_EMITTERS:
                    continue
                for idx, (arg, _) in enumerate(split_args(text, m.end() - 1)):
                    if REASON_PARAM.match(arg):
                        line_start = text.rfind("\n", 0, m.start()) + 1
                        static = "static" in text[line_start : m.start()].split()
                        found[(name, p if static else None)] = idx
        return found

    def returned_literals(self, fn):
        """The string literals `fn` returns, from its definition in any file."""
        for text in self.files.values():
            for m in re.finditer(r"\b" + re.escape(fn) + r"\s*\([^;{)]*\)\s*\{", text):
                depth, i = 0, m.end() - 1
                while i < len(text):
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    if depth == 0:
                        break
                    i += 1
                return re.findall(r'\breturn\s+"([^"]*)"\s*;', text[m.end() : i])
        return []

    def line(self, path, offset):
        return self.files[path].count("\n", 0, offset) + 1

    def reasons(self):
        """({condition reasons}, {Event reasons}, [problems]), each problem "path:line: why"."""
        conditions, events, problems = set(), set(), []

        def take(kind, found, path, offset, what):
            for r in found:
                if REASON.match(r):
                    kind.add(r)
                else:
                    problems.append(
                        f"{path}:{self.line(path, offset)}: {what} {r!r} is not a CamelCase reason"
                    )

        for (name, path), idx in self.emitters().items():
            kind = events if "event" in name else conditions
            for p, args in self.calls(name, path):
                if idx >= len(args) or REASON_PARAM.match(args[idx][0]):
                    continue  # too few arguments to be a call, or the definition
                arg, off = args[idx]
                literals = LITERAL.findall(arg)
                call = re.match(r"^([a-z_][a-z0-9_]*)\s*\(", arg)
                if literals:
                    take(kind, literals, p, off, f"the reason of {name}()")
                elif call:
                    got = self.returned_literals(call.group(1))
                    if not got:
                        problems.append(
                            f"{p}:{self.line(p, off)}: {name}() takes its reason from "
                            f"{call.group(1)}(), which returns no string literal"
                        )
                    take(kind, got, p, off, f"{call.group(1)}() returns")
                elif not re.search(r"reason\s*(\[[^\]]*\])?$", arg, re.I):
                    problems.append(
                        f"{p}:{self.line(p, off)}: cannot tell the reason {name}() gets "
                        f"from `{arg}`: pass a literal, or teach tests/globaldb/test_docs.py"
                    )
        # A literal stored in a reason field: struct kube_condition, gdb_set_str, xstrdup.
        field = re.compile(
            r'(?:\.|->)reason\s*=\s*(?:xstrdup\s*\(\s*)?"([^"]*)"'
            r'|set_str\s*\(\s*&[^,;]*reason\s*,\s*"([^"]*)"'
        )
        for p, text in self.files.items():
            for m in field.finditer(text):
                take(conditions, [g for g in m.groups() if g is not None], p, m.start(), "reason")
        return conditions, events, problems


PKG = Sources.from_tree(SOURCE)
CONDITIONS, EVENTS, PROBLEMS = PKG.reasons()
TYPES = read("pkg", "globaldb", "types_status.c")
DOC = read("docs", "api.md")
DOC_NAMES = set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", DOC))


def steps():
    return set(re.findall(r'\[GDB_STEP_[A-Z_]+\] = "([A-Za-z]+)"', TYPES))


def test_every_reason_in_pkg_is_understood():
    assert not PROBLEMS, "reasons this test cannot read:\n" + "\n".join(PROBLEMS)


def test_every_condition_reason_is_documented():
    missing = sorted(r for r in CONDITIONS if r not in DOC_NAMES)
    assert not missing, f"condition reasons missing from docs/api.md: {missing}"


def test_every_event_reason_is_documented():
    missing = sorted(r for r in EVENTS if r not in DOC_NAMES)
    assert not missing, f"Event reasons missing from docs/api.md: {missing}"


def test_the_reasons_come_from_every_emitter():
    """The extraction itself: the planner's conditions and Events, the AWS call reasons it
    computes, and the reasons the reconciler and the executor emit on their own."""
    assert len(CONDITIONS) >= 40 and len(EVENTS) >= 40, (len(CONDITIONS), len(EVENTS))
    assert {"AwsThrottled", "AwsCallFailed", "InvalidSpec", "WriterInDesiredRegion"} <= CONDITIONS
    assert {"FailoverCompleted", "FallbackCompleted", "SwitchoverCompleted"} <= EVENTS
    assert {"ProbeCredentialsUnavailable", "ActionFailed", "WorkloadNotFound"} <= EVENTS


def test_the_extractor_reads_every_form_and_refuses_the_rest():
    src = Sources(
        {
            "pkg/a.c": """
static void warn_event(struct x *x, const char *reason, const char *fmt, ...);
static const char *pick(int k) { switch (k) { case 1: return "PickOne"; default: return "PickTwo"; } }
static void warn_event(struct x *x, const char *reason, const char *fmt, ...)
{
	kube_recorder_event(x->r, x->o, "Warning", reason, "Act", "%s", fmt);
}
void f(struct x *x, int k, const char *msg)
{
	/* warn_event(x, "InAComment", "no"); */
	warn_event(x, "Plain", "a, b");
	warn_event(x, k ? "First" : "Second", "%d", k);
	warn_event(x, pick(k), "x");
	warn_event(x, x->last_reason, "passed on");
	warn_event(x, msg, "unknown");
	struct kube_condition c = {.type = "Ready", .reason = "Designated"};
	gdb_set_str(&cd->reason, "ViaSetter");
	cond(x, "Ready", "bad reason");
}
""",
            "pkg/b.h": "int kube_recorder_event(struct r *r, json_t *o, const char *type, "
            "const char *reason, const char *action, const char *fmt, ...);\n"
            "void cond(struct x *x, const char *type, const char *reason);\n",
        }
    )
    conditions, events, problems = src.reasons()
    assert events == {"Plain", "First", "Second", "PickOne", "PickTwo"}
    assert conditions == {"Designated", "ViaSetter"}
    assert len(problems) == 2, problems
    assert problems[0].startswith("pkg/a.c:15: cannot tell the reason warn_event() gets from `msg`")
    assert problems[1] == "pkg/a.c:18: the reason of cond() 'bad reason' is not a CamelCase reason"


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
    known = CONDITIONS | EVENTS
    assert not sorted(documented - known), f"documented but never set: {sorted(documented - known)}"
