"""The operator's approval of a detach the two-controller guard holds, given as
users give it: `kubectl globaldb approve-failover`.

One controller runs with the guard (its table in us-east-2, which the outage
spares) and nobody else can co-sign: the situation of a two-region deployment
whose other controller went down with the writer's region. A real outage of
us-east-1 makes the controller take the detach's lease and wait
(AwaitingCorroboration): a data-losing call on one vantage point's evidence
is not made. The approval stands in for the co-signature, and the detach is
made once.
"""

from __future__ import annotations

from conftest import EAST, WEST, wait_for
from e2e_conftest import Controller, create_guard_table
from waiting import hold, wait_lag_measured

GUARD_TABLE = "globaldb-guard"
GUARD_REGION = "us-east-2"
DETACH = "RemoveFromGlobalCluster"
PROMOTIONS = {"SwitchoverGlobalCluster", "FailoverGlobalCluster", DETACH}


def guarded(world):
    return next((c for c in world.status().get("conditions", []) if c["type"] == "Guarded"), None)


def test_an_approval_lets_a_lone_controller_detach(
    world, controller_bin, testenv, emulator, plugin, tmp_path
):
    create_guard_table(emulator, GUARD_REGION, GUARD_TABLE)
    c = Controller(
        controller_bin,
        testenv,
        emulator,
        world.ns,
        str(tmp_path),
        extra_args=(
            "--region",
            WEST,
            "--controller-id",
            "west",
            "--guard-table",
            GUARD_TABLE,
            "--guard-regions",
            GUARD_REGION,
        ),
    )
    try:
        c.wait_ready()
        world.kubectl.apply(world.gdb_manifest(failover={"cooldownSeconds": 0}))
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        wait_lag_measured(world, WEST)
        since = max(x["seq"] for x in emulator.calls())

        # Nothing to approve yet: refused, nothing written.
        r = plugin("approve-failover", "orders")
        assert r.returncode != 0 and "no Failover awaits approval" in r.stdout + r.stderr, r

        # us-east-1's RDS (Route 53's control plane, signed for us-east-1, stays up).
        emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])

        def waiting():
            g = guarded(world)
            assert g and g["reason"] == "AwaitingCorroboration", g
            return g

        g = wait_for(waiting, timeout=120, interval=0.5, what="the detach waiting for approval")
        assert "kubectl globaldb approve-failover" in g["message"], g

        # Waiting means no call: for three probe periods after, still none.
        def no_promotion():
            calls = [x for x in emulator.calls() if x["seq"] > since]
            assert not [x for x in calls if x["action"] in PROMOTIONS], calls

        hold(6, no_promotion, "no promotion while the detach waits")

        r = plugin("approve-failover", "orders")
        assert r.returncode == 0, r.stderr

        def failed_over():
            last = world.status().get("lastOperation") or {}
            assert last.get("type") == "Failover" and last.get("result") == "Succeeded", last
            return last

        last = wait_for(failed_over, timeout=120, interval=0.5, what="the approved detach")
        assert last["targetRegion"] == WEST, last
        assert "DetachApproved" in world.event_reasons()
        calls = [x for x in emulator.calls() if x["seq"] > since and x["action"] in PROMOTIONS]
        assert [(x["action"], x["region"], x["status"]) for x in calls] == [(DETACH, WEST, 200)], (
            calls
        )
    finally:
        emulator.outage(EAST, "off")
        rc = c.stop()
        text = open(c.log_path).read()
        print("\n---- controller log (tail) ----\n" + text[-6000:])
        assert world.password not in text and c.aws_secret not in text, "a secret in the log"
        assert rc == 0, f"controller exited with {rc} after SIGTERM"
