"""The Argo CD health check (manifests/argocd/health.lua) on GlobalDatabases
captured from real e2e runs, run by Lua 5.1 as Argo CD runs it.

Argo CD (gopher-lua, a Lua 5.1) converts the live object to a table, sets it
as the global `obj`, runs the script and reads `status` and `message` from
the table it returns. The runner here does the same with Debian's lua5.1:
each fixture's JSON becomes a Lua table literal (JSON null is an absent
field, as in Argo CD's conversion), then the script runs as a chunk.

The fixtures in tests/argocd/fixtures/ are `kubectl get globaldatabase -o
json` outputs saved by tests/plugin/test_plugin.py with
GDB_CAPTURE_ARGOCD_FIXTURES=1 (only metadata.managedFields is dropped).
Refresh them when the status changes shape, and commit the result:

    GDB_CAPTURE_ARGOCD_FIXTURES=1 ctest --test-dir build -R '^e2e_plugin$'

"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(SRC, "manifests", "argocd", "health.lua")
CM = os.path.join(SRC, "manifests", "argocd", "argocd-cm.yaml")
FIXTURES = os.path.join(HERE, "fixtures")
KEY = "resource.customizations.health.globaldb.io_GlobalDatabase"
LUA = os.environ.get("GDB_LUA") or shutil.which("lua5.1")

# What Argo CD should show for each captured state, and a word of the message.
EXPECTED = {
    "new": ("Progressing", "first status"),
    "ready": ("Healthy", "WriterInDesiredRegion"),
    "paused": ("Suspended", "globaldb.io/paused"),
    "switching-over": ("Progressing", "SwitchoverInProgress"),
    "degraded": ("Degraded", "AwaitingFailoverApproval"),
    "failing-over": ("Progressing", "FailoverInProgress"),
}


def lua_literal(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        out = []
        for b in v.encode("utf-8"):
            c = chr(b)
            if c.isalnum() or c in " .,:;-_/+=()[]{}<>!?@#$%^&*|~'`":
                out.append(c)
            else:
                out.append(f"\\{b:03d}")
        return '"' + "".join(out) + '"'
    if isinstance(v, list):
        return "{" + ", ".join(lua_literal(x) for x in v) + "}"
    if isinstance(v, dict):
        return (
            "{"
            + ", ".join(
                f"[{lua_literal(k)}] = {lua_literal(x)}" for k, x in v.items() if x is not None
            )
            + "}"
        )
    raise TypeError(type(v))


def argocd_health(obj, script=SCRIPT):
    """(status, message) as Argo CD would compute them for obj."""
    assert LUA, "lua5.1 not found: apt-get install -y lua5.1 (hack/apt-packages.txt)"
    runner = (
        f"obj = {lua_literal(obj)}\n"
        f"local hs = assert(loadfile({lua_literal(script)}))()\n"
        'io.write(tostring(hs.status), "\\n", tostring(hs.message), "\\n")\n'
    )
    r = subprocess.run([LUA, "-"], input=runner, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    status, message = r.stdout.split("\n", 1)
    return status, message.rstrip("\n")


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


def test_every_captured_state_has_an_expectation():
    names = sorted(f[:-5] for f in os.listdir(FIXTURES) if f.endswith(".json"))
    assert names == sorted(EXPECTED), names


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_health_of_captured_state(name):
    want, word = EXPECTED[name]
    status, message = argocd_health(fixture(name))
    assert (status, word in message) == (want, True), (status, message)


def test_fixtures_are_the_states_they_are_named_after():
    """The captures are what their names say, so an expectation above tests that state."""

    def cond(obj, t):
        return next(c for c in obj["status"]["conditions"] if c["type"] == t)

    assert "status" not in fixture("new")
    assert cond(fixture("ready"), "Ready")["status"] == "True"
    assert fixture("paused")["metadata"]["annotations"]["globaldb.io/paused"] == "true"
    assert fixture("switching-over")["status"]["operation"]["type"] == "Switchover"
    assert cond(fixture("degraded"), "Degraded")["status"] == "True"
    op = fixture("failing-over")["status"]["operation"]
    assert op["type"] == "Failover" and op["step"] != "AwaitingApproval", op


def test_a_pause_does_not_hide_what_is_wrong():
    status, message = argocd_health(fixture("paused"))
    assert status == "Suspended"
    assert "not Ready: WriterNotInDesiredRegion" in message, message
    status, message = argocd_health({**fixture("ready"), "metadata": fixture("paused")["metadata"]})
    assert status == "Suspended" and "not Ready" not in message, message


def test_a_stale_status_is_progressing_until_the_controller_sees_the_spec():
    obj = fixture("ready")
    obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    assert argocd_health(obj)[0] == "Progressing"


def test_a_failing_writer_before_any_decision_is_degraded():
    obj = fixture("ready")
    for c in obj["status"]["conditions"]:
        if c["type"] == "Ready":
            c.update(status="False", reason="PrimaryUnhealthy", message="the writer fails")
    status, message = argocd_health(obj)
    assert status == "Degraded" and message.startswith("PrimaryUnhealthy"), message


def test_argocd_cm_snippet_carries_the_script_verbatim():
    with open(CM) as f:
        cm = yaml.safe_load(f)
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    with open(SCRIPT) as f:
        assert cm["data"][KEY] == f.read()
