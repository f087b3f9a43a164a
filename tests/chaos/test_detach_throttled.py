"""Chaos: the failover target's RDS API throttles right after the detach.

Three regions: orders-global spans us-east-1 (the writer), us-west-2 and
eu-west-1. us-east-1 goes dark (RDS 503, PostgreSQL frozen) and the controller
detaches and promotes one secondary. From the moment RemoveFromGlobalCluster
succeeds, every Describe in that region is throttled, as when everyone fails
over into the same region. The controller cannot see the promotion there; the
global cluster's member list, read in the third region, no longer has it.

It must wait for that target, past the 30 s settle window and any backoff:
exactly one RemoveFromGlobalCluster for the whole failover, the third region
still a secondary of orders-global, and, once the target answers again, the
failover completes there with DNS pointing at it: one writer.

(Review finding 2: before, the planner re-chose the target once the settle
window had passed and detached the third region too, a second promotion; the
controller built from 1851c73 fails here with "a second promotion:
RemoveFromGlobalCluster in ['eu-west-1'] after us-west-2".)

CI and GDB_CHAOS_FULL=1 run the same one scenario, about two minutes.
"""

from __future__ import annotations

import time

import pgenv
from conftest import EAST, WEST, wait_for
from e2e_conftest import aws_client
from waiting import wait_lag_measured

THIRD = "eu-west-1"
DESCRIBES = ["DescribeDBClusters", "DescribeDBInstances", "DescribeGlobalClusters"]
# The planner's settle window plus the first backoff: by then a re-chosen
# target would have been called.
SETTLE_S = 30
HOLD_S = SETTLE_S + 15


def add_third_region(world):
    """orders-eu joins orders-global as a second secondary, as a platform team would add it."""
    world.rds[THIRD] = aws_client(world.admin, "rds", THIRD)
    w = pgenv.init_primary(world.root, "eu-w", password=world.password)
    world.servers["eu-w"] = w
    world.servers["eu-r"] = pgenv.make_standby(w, world.root, "eu-r")
    world.admin.bind(THIRD, "orders-eu", w, world.servers["eu-r"])
    world.add_secondary(THIRD, "orders-eu")


def manifest(world):
    m = world.gdb_manifest(
        # A generous budget: the lag gate is not what this test is about.
        failover={"method": "DetachAndPromote", "maxDataLossSeconds": 300},
        # No automatic fallback: it would fence the third region as stale (review finding 6).
        fallback={"mode": "Manual"},
    )
    m["spec"]["regions"].append(
        {
            "name": THIRD,
            "dbClusterIdentifier": "orders-eu",
            "template": {"engineVersion": "15.4", "instanceClass": "db.r6g.large", "instances": 1},
        }
    )
    return m


def cid(region):
    return {WEST: "orders-west", THIRD: "orders-eu"}[region]


def test_throttled_target_after_detach_is_promoted_once(world, controller, emulator):
    add_third_region(world)
    world.kubectl.apply(manifest(world))
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
    for r in (WEST, THIRD):
        wait_lag_measured(world, r, timeout=60)
    since = max(c["seq"] for c in emulator.calls())

    emulator.post(
        "/throttle",
        {
            "fraction": 1.0,
            "services": ["rds"],
            "actions": DESCRIBES,
            "after": "RemoveFromGlobalCluster",
            "afterSameRegion": True,
        },
    )
    emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])

    def detaches():
        return [
            c
            for c in emulator.calls(action="RemoveFromGlobalCluster")
            if c["seq"] > since and c["status"] == 200
        ]

    first = wait_for(lambda: detaches() or None, timeout=120, what="the detach")[0]
    target = first["region"]
    other = THIRD if target == WEST else WEST
    detached_at = first["time"]
    assert emulator.get("/throttle")["throttle"]["armed"], "the throttle did not start"

    # The controller waits for its target, saying why, well past the point where
    # it used to choose again; a second RemoveFromGlobalCluster fails at once.
    while True:
        again = [c["region"] for c in detaches() if c["seq"] != first["seq"]]
        assert not again, f"a second promotion: RemoveFromGlobalCluster in {again} after {target}"
        degraded = world.condition("Degraded") or {}
        if (
            time.time() - detached_at > HOLD_S
            and degraded.get("reason") == "FailoverTargetUnobservable"
        ):
            break
        assert time.time() - detached_at < HOLD_S + 60, f"not waiting for {target}: {degraded}"
        time.sleep(1)
    throttled = [
        c
        for c in emulator.calls(region=target)
        if c["seq"] > first["seq"] and c["injected"] == "throttle"
    ]
    assert throttled, "no Describe of the target was throttled: the test proved nothing"
    calls = [c for c in emulator.calls() if c["seq"] > since]
    assert [c["region"] for c in calls if c["action"] == "RemoveFromGlobalCluster"] == [target]
    assert not [c for c in calls if c["action"] == "FailoverGlobalCluster"]
    assert world.status()["operation"]["targetRegion"] == target

    # The target answers again: the failover completes there.
    emulator.post("/throttle", {"fraction": 0})

    def done():
        last = world.status().get("lastOperation") or {}
        assert last.get("type") == "Failover" and last.get("result"), f"lastOperation {last}"
        return last

    last = wait_for(done, timeout=120, interval=0.5, what="the failover to finish")
    assert last["result"] == "Succeeded" and last["targetRegion"] == target, last
    st = world.status()
    assert st["currentPrimaryRegion"] == target

    # One promotion, one writer among the regions that answer.
    calls = [c for c in emulator.calls() if c["seq"] > since]
    assert [c["region"] for c in calls if c["action"] == "RemoveFromGlobalCluster"] == [target]
    promoted = world.cluster(target, cid(target))
    assert not promoted.get("GlobalClusterIdentifier"), promoted
    assert world.sync_status("orders-global", other, cid(other)) is not None, (
        f"{other} left orders-global"
    )
    g = world.global_cluster("orders-global")
    writers = [m["DBClusterArn"] for m in g["GlobalClusterMembers"] if m["IsWriter"]]
    assert all(f":{EAST}:" in a for a in writers), f"writer of orders-global: {writers}"
    assert world.record(f"writer.{world.zone_name}") == promoted["Endpoint"]
    reasons = world.event_reasons()
    assert "FailoverRetargeted" not in reasons, reasons
