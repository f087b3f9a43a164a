"""`kubectl globaldb` against a running controller, read as a user reads it.

One story on one world (the e2e tier's: the real apiserver, the controller
binary, the AWS emulator on real PostgreSQL), every step through kubectl
with the plugin on PATH: Argo CD applied the object; status after adoption;
an approval with nothing to approve is refused; pause holds a switchover;
resume lets it run; history shows its Events in order; a switchover with
--wait; a Manual-mode failover approved with approve-failover, and the fallback
approved with approve-fallback.

With GDB_CAPTURE_ARGOCD_FIXTURES=1 the story also saves the object as
`kubectl get -o json` shows it in each state the Argo CD health check
distinguishes, into tests/argocd/fixtures/ (see tests/argocd/test_health.py).
"""

from __future__ import annotations

import json
import os
import subprocess

from conftest import EAST, WEST, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "argocd", "fixtures")
SWITCH_CALLS = {"SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster"}
PLUGIN_MANAGER = "kubectl-globaldb"  # cmd/kubectl-globaldb/format.h, KGDB_FIELD_MANAGER


def list_rv(kubectl, ns):
    """The resourceVersion of the namespace's GlobalDatabase list: a watch from it
    sees every later version."""
    return kubectl.json("-n", ns, "get", "globaldatabases")["metadata"]["resourceVersion"]


def first_version(kubectl, ns, rv, pred, what, timeout=120):
    """The first version of a GlobalDatabase in ns after resourceVersion rv for which
    pred holds: a watch from rv replays every change since, so no version is
    missed however fast the controller moves."""
    path = (
        f"/apis/globaldb.io/v1alpha1/namespaces/{ns}/globaldatabases"
        f"?watch=1&resourceVersion={rv}&timeoutSeconds={timeout}"
    )
    p = subprocess.Popen(
        [kubectl.bin, "--kubeconfig", kubectl.kubeconfig, "get", "--raw", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = 0
    try:
        for line in p.stdout:
            if not line.strip():
                continue
            ev = json.loads(line)
            assert ev["type"] != "ERROR", f"watch error: {ev['object']}"
            seen += 1
            if pred(ev["object"]):
                return ev["object"]
    finally:
        p.kill()
        p.wait()
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
    raise AssertionError(f"no version {what} among {seen} within {timeout}s: {err}")


def capture(name, obj):
    """Saves obj as tests/argocd/fixtures/<name>.json when capturing is asked for."""
    if os.environ.get("GDB_CAPTURE_ARGOCD_FIXTURES") != "1":
        return
    obj = json.loads(json.dumps(obj))
    obj["metadata"].pop("managedFields", None)
    os.makedirs(FIXTURES, exist_ok=True)
    with open(os.path.join(FIXTURES, name + ".json"), "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def cond(obj, ctype):
    return next(
        (c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == ctype), {}
    )


def user_written(obj):
    """What users and the plugin write (the controller writes only status)."""
    m = obj["metadata"]
    return m.get("annotations"), m.get("labels"), m["generation"], obj["spec"]


def field_managers(kubectl, ns):
    """The field managers that wrote orders (kubectl hides them unless asked)."""
    obj = kubectl.json("-n", ns, "get", "globaldatabase", "orders", "--show-managed-fields")
    managers = {m["manager"] for m in obj["metadata"]["managedFields"]}
    assert "argocd-controller" in managers, managers  # the apply that made it
    return managers


def calls_since(emulator, seq, actions):
    return [c for c in emulator.calls() if c["seq"] > seq and c["action"] in actions]


def test_plugin_story(world, controller, emulator, kubectl, plugin):
    gdb = world.named("orders")
    ns = world.ns

    # Argo CD applied the object from Git: server-side apply, its field manager.
    rv = list_rv(kubectl, ns)
    manifest = world.gdb_manifest(
        failover={"mode": "Manual", "cooldownSeconds": 0}, fallback={"mode": "Manual"}
    )
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=argocd-controller",
        "-f",
        "-",
        input=json.dumps(manifest),
    )
    capture("new", first_version(kubectl, ns, rv, lambda v: True, "of the new object"))
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    wait_for(
        lambda: (
            next(r for r in gdb.status()["regions"] if r["name"] == WEST).get(
                "replicationLagSeconds"
            )
            is not None
        ),
        timeout=30,
        what="a measured replication lag for us-west-2",
    )
    capture("ready", gdb.get())

    # status after adoption: who writes where, healthy, lag against the budget.
    r = plugin("status", "orders")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"GlobalDatabase {world.ns}/orders" in out
    assert "global cluster:  orders-global (generation 1)" in out
    assert f"writer:          {EAST} (desired {EAST})" in out
    assert "failover:        Manual, method DetachAndPromote, data-loss budget 30s" in out
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith("  us-")}
    assert rows[EAST][1:3] == ["Primary", "orders-east"] and "healthy" in rows[EAST], rows
    assert rows[WEST][1:3] == ["Secondary", "orders-west"], rows
    lag = next(c for c in rows[WEST] if c.endswith("s/30s"))
    assert int(lag.split("s/")[0]) <= 30, rows[WEST]
    assert any(
        ln.split()[:3] == ["Ready", "True", "WriterInDesiredRegion"] for ln in out.splitlines()
    ), out
    assert "Operation in flight: none" in out and "Last operation: none" in out

    # Nothing awaits approval: refused, exit 3, nothing written. The controller
    # may still write status (adoption tags one resource a round), so what is
    # compared is what a user or the plugin writes: metadata and spec.
    before = gdb.get()
    r = plugin("approve-failover", "orders")
    assert r.returncode == 3 and "no Failover awaits approval" in r.stderr, r
    assert user_written(gdb.get()) == user_written(before)
    assert PLUGIN_MANAGER not in field_managers(kubectl, ns)

    # pause, then ask for a switchover: the controller holds it.
    r = plugin("pause", "orders")
    assert r.returncode == 0 and "paused" in r.stdout, r
    # The plugin's first write: its field manager shows (the check above means something).
    assert PLUGIN_MANAGER in field_managers(kubectl, ns)
    world.wait_condition("Progressing", "False", "Paused", timeout=60)
    seq = max(c["seq"] for c in emulator.calls())
    r = plugin("switchover", "orders", "--to", WEST)
    assert r.returncode == 0, r.stderr
    assert f"spec.primaryRegion {EAST} -> {WEST}" in r.stdout
    # The field was Argo CD's: the user is told its next sync moves the writer back.
    assert "managed by Argo CD" in r.stderr and '"argocd-controller"' in r.stderr, r.stderr
    wait_for(
        lambda: gdb.status().get("observedGeneration") == gdb.get()["metadata"]["generation"],
        timeout=60,
        what="the controller to see the new primaryRegion while paused",
    )
    paused = gdb.get()
    assert not paused["status"].get("operation"), paused["status"]
    assert not calls_since(emulator, seq, SWITCH_CALLS), "a paused object called AWS"
    capture("paused", paused)
    out = plugin("status", "orders").stdout
    assert "PAUSED:" in out and f"writer:          {EAST} (desired {WEST})" in out, out

    # resume: the switchover runs; status and history tell its story.
    mark = gdb.op_mark()
    rv = list_rv(kubectl, ns)
    r = plugin("resume", "orders")
    assert r.returncode == 0 and "resumed" in r.stdout, r
    capture(
        "switching-over",
        first_version(
            kubectl,
            ns,
            rv,
            lambda v: (v.get("status", {}).get("operation") or {}).get("type") == "Switchover",
            "with the switchover in flight",
        ),
    )
    last = gdb.wait_operation("Switchover", mark, timeout=180)
    assert last["result"] == "Succeeded", last
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
    out = plugin("status", "orders").stdout
    assert f"writer:          {WEST} (desired {WEST})" in out, out
    assert f"Last operation: #{last['id']} Switchover {EAST} -> {WEST}: Succeeded" in out, out
    steps = next(ln for ln in out.splitlines() if ln.startswith("  steps:"))
    assert "Switchover " in steps and "WaitSwitchover " in steps, steps

    r = plugin("history", "orders")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    reasons = [ln.split()[2] for ln in lines if ln.startswith("  20")]
    for reason in ("Adopted", "Paused", "SwitchoverStarted", "SwitchoverCompleted"):
        assert reason in reasons, reasons
    assert (
        reasons.index("Adopted")
        < reasons.index("Paused")
        < reasons.index("SwitchoverStarted")
        < reasons.index("SwitchoverCompleted")
    ), reasons
    times = [ln.split()[0] for ln in lines if ln.startswith("  20")]
    assert times == sorted(times), "history is not oldest first"
    assert f"Last operation: #{last['id']} Switchover {EAST} -> {WEST}: Succeeded" in r.stdout

    # A switchover back, waited for; the field is the plugin's now: no warning.
    r = plugin("switchover", "orders", "--to", EAST, "--wait=4m", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"switchover Succeeded: writer in {EAST}" in r.stdout, r.stdout
    assert "warning" not in r.stderr, r.stderr

    # Manual mode: the primary region fails; the failover waits for approval.
    seq = max(c["seq"] for c in emulator.calls())
    emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
    world.wait_condition("Degraded", "True", "AwaitingFailoverApproval", timeout=120)
    awaiting = gdb.get()
    capture("degraded", awaiting)
    assert not calls_since(emulator, seq, SWITCH_CALLS), "a failover call before the approval"
    out = plugin("status", "orders").stdout
    op = awaiting["status"]["operation"]
    assert f"Operation in flight: #{op['id']} Failover {EAST} -> {WEST}" in out, out
    assert "step:      AwaitingApproval" in out, out
    assert "approve:   kubectl globaldb approve-failover orders" in out, out
    assert "FAILING" in next(ln for ln in out.splitlines() if ln.startswith(f"  {EAST}")), out

    rv = list_rv(kubectl, ns)
    r = plugin("approve-failover", "orders")
    assert r.returncode == 0, r.stderr
    assert f"Failover to {WEST} approved" in r.stdout, r.stdout
    capture(
        "failing-over",
        first_version(
            kubectl,
            ns,
            rv,
            lambda v: (
                (v.get("status", {}).get("operation") or {}).get("type") == "Failover"
                and v["status"]["operation"].get("step") != "AwaitingApproval"
            ),
            "with the approved failover in flight",
        ),
    )
    last = gdb.wait_operation("Failover", op["id"] - 1, timeout=180)
    assert last["result"] == "Succeeded" and last["targetRegion"] == WEST, last
    assert gdb.status()["currentPrimaryRegion"] == WEST
    assert "FailoverApproved" in world.event_reasons()
    out = plugin("history", "orders").stdout
    assert f"Last operation: #{last['id']} Failover {EAST} -> {WEST} (DetachAndPromote)" in out

    # The region answers again; with fallback.mode Manual its rebuild waits for approval.
    emulator.outage(EAST, "off")
    world.wait_condition("Degraded", "True", "AwaitingFallbackApproval", timeout=180)
    fb = gdb.status()["operation"]
    assert fb["type"] == "Fallback" and fb["step"] == "AwaitingApproval", fb
    out = plugin("status", "orders").stdout
    assert "approve:   kubectl globaldb approve-fallback orders" in out, out
    r = plugin("approve-failover", "orders")
    assert r.returncode == 3, r
    assert "the operation in flight is a Fallback at step AwaitingApproval" in r.stderr, r.stderr
    r = plugin("approve-fallback", "orders")
    assert r.returncode == 0 and f"Fallback to {fb['targetRegion']} approved" in r.stdout, r
    last = gdb.wait_operation("Fallback", fb["id"] - 1, timeout=300)
    assert last["result"] == "Succeeded", last
    assert "FallbackApproved" in world.event_reasons()
    # spec.primaryRegion still names us-east-1: the switch back follows by itself.
    back = gdb.wait_operation("Switchover", last["id"], timeout=180)
    assert back["result"] == "Succeeded" and back["targetRegion"] == EAST, back
    out = plugin("status", "orders").stdout
    assert f"writer:          {EAST} (desired {EAST})" in out, out
    assert "global cluster:  orders-global-2 (generation 2)" in out, out
