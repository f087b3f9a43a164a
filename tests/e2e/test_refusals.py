"""When the controller must NOT fail over, and says why.

A failover loses data and splits the writer's history, so every rule of the
design must hold before one happens. Each case below breaks exactly one rule
while the writer's probes fail, checks that no failover call reaches AWS
while the condition and Events explain the refusal, then lifts the rule and
(where it is the last case) watches the failover happen, which proves the
refusal was that rule and nothing else.
"""

import json
import time

from conftest import EAST, WEST, wait_for
from waiting import lag_seconds, wait_lag_measured

FAILOVER_CALLS = {"FailoverGlobalCluster", "RemoveFromGlobalCluster", "SwitchoverGlobalCluster"}


def hold_refusal(world, controller, emulator, since, reason):
    """The refusal is stated and holds over further reconciles: no failover call."""
    world.wait_condition("Degraded", "True", reason, timeout=90)
    n = controller.reconciles()
    wait_for(
        lambda: controller.reconciles() >= n + 3,
        timeout=90,
        what="three more reconciles while refusing",
    )
    c = world.condition("Degraded")
    assert c["status"] == "True" and c["reason"] == reason, c
    moved = [x for x in emulator.calls() if x["seq"] > since and x["action"] in FAILOVER_CALLS]
    assert not moved, f"a failover call was made despite {reason}: {moved}"
    assert world.status()["currentPrimaryRegion"] == EAST


def last_seq(emulator):
    return max(c["seq"] for c in emulator.calls())


def test_refusals_then_manual_approval(world, controller, emulator, kubectl):
    world.kubectl.apply(world.gdb_manifest(failover={"cooldownSeconds": 0}))
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    wait_lag_measured(world, WEST)
    ns = world.ns

    # 1. Only the probes fail; the primary region's RDS API says the cluster is available.
    since = last_seq(emulator)
    world.servers["east-w"].freeze()
    world.wait_condition("PrimaryHealthy", "False", timeout=60)
    hold_refusal(world, controller, emulator, since, "PrimaryAvailableInControlPlane")
    world.servers["east-w"].thaw()
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)

    # 2. Paused: nothing is done while the annotation says so.
    kubectl("-n", ns, "annotate", "globaldatabase", "orders", "globaldb.io/paused=true")
    world.wait_condition("Progressing", "False", "Paused", timeout=60)
    since = last_seq(emulator)
    emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
    n = controller.reconciles()
    wait_for(lambda: controller.reconciles() >= n + 3, timeout=90, what="reconciles while paused")
    assert world.condition("Progressing")["reason"] == "Paused"
    assert not [x for x in emulator.calls() if x["seq"] > since and x["action"] in FAILOVER_CALLS]
    assert "Paused" in world.event_reasons()
    emulator.outage(EAST, "off")
    # Unpausing while the writer still looks failed would rightly fail over.
    world.wait_condition("PrimaryHealthy", "True", timeout=60)
    kubectl("-n", ns, "annotate", "globaldatabase", "orders", "globaldb.io/paused-")
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)

    # 3. The best target lags more than the data-loss budget.
    kubectl(
        "-n",
        ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"failover": {"maxDataLossSeconds": 1}}}),
    )
    world.servers["west-w"].sql("SELECT pg_wal_replay_pause()")
    try:
        wait_for(
            lambda: (lag_seconds(world, WEST) or 0) > 1,
            timeout=60,
            what="us-west-2 to lag more than 1s",
        )
        since = last_seq(emulator)
        emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
        hold_refusal(world, controller, emulator, since, "ReplicationLagOverBudget")
        assert "budget" in world.condition("Degraded")["message"]
        emulator.outage(EAST, "off")
        world.wait_condition("PrimaryHealthy", "True", timeout=60)
    finally:
        world.servers["west-w"].sql("SELECT pg_wal_replay_resume()")
    kubectl(
        "-n",
        ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"failover": {"maxDataLossSeconds": 30}}}),
    )
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
    wait_for(
        lambda: lag_seconds(world, WEST) == 0,
        timeout=60,
        what="us-west-2 to catch up",
    )

    # 4. Manual mode: a recommendation, an Event, and a wait for the approval.
    kubectl(
        "-n",
        ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"failover": {"mode": "Manual"}}}),
    )
    wait_for(
        lambda: world.status().get("observedGeneration") == world.gdb()["metadata"]["generation"],
        timeout=30,
        what="the controller to see Manual mode",
    )
    # An approval held over on the object and dated in the future ("any failover until
    # then") approves nothing, or Manual would behave like Automatic.
    kubectl(
        "-n",
        ns,
        "annotate",
        "globaldatabase",
        "orders",
        "globaldb.io/approve-failover=2099-01-01T00:00:00Z",
    )
    since = last_seq(emulator)
    emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
    hold_refusal(world, controller, emulator, since, "ApprovalInFuture")
    assert "FailoverRecommended" in world.event_reasons()
    assert "ApprovalInFuture" in world.event_reasons()
    op = world.status()["operation"]
    assert op["type"] == "Failover" and op["step"] == "AwaitingApproval", op
    kubectl("-n", ns, "annotate", "globaldatabase", "orders", "globaldb.io/approve-failover-")
    hold_refusal(world, controller, emulator, since, "AwaitingFailoverApproval")
    approve = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    kubectl(
        "-n", ns, "annotate", "globaldatabase", "orders", f"globaldb.io/approve-failover={approve}"
    )

    def failed_over():
        last = world.status().get("lastOperation") or {}
        assert last.get("type") == "Failover" and last.get("result") == "Succeeded", last
        return last

    wait_for(failed_over, timeout=120, interval=0.5, what="the approved failover")
    assert world.status()["currentPrimaryRegion"] == WEST
    reasons = world.event_reasons()
    assert "FailoverApproved" in reasons and "FailoverCompleted" in reasons, reasons
