"""A global database over three regions: us-east-1 (the writer), us-west-2
and eu-west-1, each with PostgreSQL behind it, the secondaries streaming from
the writer.

What two regions cannot show: which secondary a failover picks (the one that
lags least, measured by heartbeats replicated to each secondary, with one of
them stopped by pg_wal_replay_pause()), a switchover to and from a region
that is neither the old writer's only secondary nor the first in the list, a
managed failover that leaves exactly one writer with the third region still
a member and following it, and a detach fallback that must not delete the
third region's healthy secondary while the lost region is down, and must
take it out of the old global cluster before the stale primary (RDS refuses
to remove a primary that still has secondaries).
"""

import pytest

from conftest import CLUSTER_IDS, EAST, EU, WEST, metric_value, wait_for
from waiting import wait_lag_measured, wait_rows

pytestmark = pytest.mark.regions3

MUTATING = {
    "CreateDBCluster",
    "CreateDBInstance",
    "DeleteDBCluster",
    "DeleteDBInstance",
    "RemoveFromGlobalCluster",
    "FailoverGlobalCluster",
    "SwitchoverGlobalCluster",
}


def server_of(world, region):
    return world.servers[{EAST: "east-w", WEST: "west-w", EU: "eu-w"}[region]]


def writers(world):
    """The regions whose writer server takes writes (frozen ones are skipped)."""
    return sorted(
        r
        for r in world.regions
        if not server_of(world, r).frozen and not server_of(world, r).in_recovery()
    )


def wait_ready_with_lag(world):
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
    for r in (WEST, EU):
        wait_lag_measured(world, r, timeout=60)


def replicated(world, tag, n, regions):
    for r in regions:
        wait_rows(world, r, CLUSTER_IDS[r], tag, n, timeout=60)


def wait_operation(world, op_type, target, timeout=180):
    def done():
        st = world.status()
        last = st.get("lastOperation") or {}
        assert last.get("type") == op_type and last.get("targetRegion") == target, last
        assert last.get("result"), last
        return last

    return wait_for(done, timeout=timeout, interval=0.5, what=f"the {op_type} to {target}")


def test_switchover_to_the_third_region_and_back(world, controller, emulator):
    world.kubectl.apply(world.gdb_manifest())
    wait_ready_with_lag(world)
    world.write_rows(EAST, "orders-east", "before", 20)
    replicated(world, "before", 20, (WEST, EU))
    gdb = world.named("orders")

    for source, target, tag in ((EAST, EU, "on-eu"), (EU, EAST, "back")):
        since = max(c["seq"] for c in emulator.calls())
        gdb.patch_spec(primaryRegion=target)
        last = wait_operation(world, "Switchover", target)
        assert last["result"] == "Succeeded", last
        assert last["sourceRegion"] == source, last
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        assert world.status()["currentPrimaryRegion"] == target
        assert world.writer_region("orders-global") == target
        assert writers(world) == [target], "exactly one writer"
        tc = world.cluster(target, CLUSTER_IDS[target])
        assert world.record(f"writer.{world.zone_name}") == tc["Endpoint"]
        calls = [c for c in emulator.calls() if c["seq"] > since and c["action"] in MUTATING]
        assert [(c["action"], c["region"]) for c in calls] == [
            ("SwitchoverGlobalCluster", source)
        ], calls
        # Nothing lost, and both other regions stream from the new writer.
        assert world.count_rows(target, CLUSTER_IDS[target], "before") == 20
        world.write_rows(target, CLUSTER_IDS[target], tag, 10)
        replicated(world, tag, 10, [r for r in world.regions if r != target])
        roles = {r["name"]: r["role"] for r in world.status()["regions"]}
        assert roles == {r: "Primary" if r == target else "Secondary" for r in world.regions}


def test_managed_failover_picks_the_least_lagging_secondary(world, controller, emulator):
    """us-west-2 is first in the list but its replay is paused: the failover
    goes to eu-west-1, which has every acknowledged write."""
    world.kubectl.apply(world.gdb_manifest(failover={"method": "Managed"}))
    wait_ready_with_lag(world)
    world.write_rows(EAST, "orders-east", "before", 30)
    replicated(world, "before", 30, (WEST, EU))

    server_of(world, WEST).sql("SELECT pg_wal_replay_pause()")
    world.write_rows(EAST, "orders-east", "unreplayed", 10)

    # The prober's own measurement, not the status row (which moves in steps):
    # a margin of seconds, so that a probe that misses a beat under load (its
    # last lag stays) cannot turn the order around.
    def lags():
        m = controller.metrics()
        got = {
            r: metric_value(
                m, "globaldb_replication_lag_seconds", namespace=world.ns, name="orders", region=r
            )
            for r in (WEST, EU)
        }
        assert None not in got.values() and got[WEST] >= 8 and got[EU] < 2, got
        return got

    wait_for(lags, timeout=90, what="us-west-2 to lag 8 s, eu-west-1 under 2 s")
    assert world.count_rows(WEST, "orders-west", "unreplayed") == 0
    print(
        "\nbefore the outage: "
        + ", ".join(
            f"{r['name']}={r.get('replicationLagSeconds')}" for r in world.status()["regions"]
        )
        + "\n"
        + "\n".join(
            line
            for line in controller.metrics().splitlines()
            if line.startswith(("globaldb_replication_lag_seconds", "globaldb_probe_healthy"))
        )
    )
    since = max(c["seq"] for c in emulator.calls())

    emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
    try:
        last = wait_operation(world, "Failover", EU)
    except AssertionError:
        print(
            "\n".join(
                line
                for line in controller.log_text().splitlines()
                if any(w in line for w in ("planned", "verdict changed", "refus"))
            )
        )
        raise
    assert last["result"] == "Succeeded", last
    assert last["sourceRegion"] == EAST
    calls = [c for c in emulator.calls() if c["seq"] > since and c["action"] in MUTATING]
    assert [(c["action"], c["region"]) for c in calls] == [("FailoverGlobalCluster", EU)], calls
    assert calls[0]["params"]["TargetDbClusterIdentifier"].endswith(":cluster:orders-eu")
    assert calls[0]["params"].get("AllowDataLoss") == "true"

    # Exactly one writer; us-west-2 is still a member and now follows eu-west-1.
    assert world.writer_region("orders-global") == EU
    assert writers(world) == [EU], "exactly one writer (east is frozen)"
    assert world.count_rows(EU, "orders-eu", "unreplayed") == 10
    wait_for(
        lambda: world.sync_status("orders-global", WEST, "orders-west") == "connected",
        timeout=60,
        what="us-west-2 to be a connected secondary",
    )
    world.write_rows(EU, "orders-eu", "after", 10)
    replicated(world, "after", 10, (WEST,))
    assert world.count_rows(WEST, "orders-west", "unreplayed") == 10
    roles = {r["name"]: r["role"] for r in world.status()["regions"]}
    assert roles[EU] == "Primary" and roles[WEST] == "Secondary", roles


def test_detach_fallback_keeps_the_third_secondary_until_the_lost_region_is_back(
    world, controller, emulator
):
    world.kubectl.apply(world.gdb_manifest(failover={"method": "DetachAndPromote"}))
    wait_ready_with_lag(world)
    world.write_rows(EAST, "orders-east", "before", 30)
    replicated(world, "before", 30, (WEST, EU))
    since = max(c["seq"] for c in emulator.calls())

    emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
    last = wait_for(
        lambda: (
            (world.status().get("lastOperation") or {}).get("type") == "Failover"
            and world.status()["lastOperation"].get("result")
            and world.status()["lastOperation"]
        ),
        timeout=180,
        interval=0.5,
        what="the failover",
    )
    assert last["result"] == "Succeeded", last
    target = last["targetRegion"]
    third = EU if target == WEST else WEST
    world.write_rows(target, CLUSTER_IDS[target], "during", 20)

    # The failover is done and the lost region is still down: the controller
    # goes on deciding (several reconciles) and leaves the third region's
    # secondary alone, a member of the old global cluster with its rows.
    n = controller.reconciles()
    wait_for(lambda: controller.reconciles() >= n + 3, timeout=120, what="3 more reconciles")
    touched = [
        (
            c["action"],
            c["params"].get("DbClusterIdentifier") or c["params"].get("DBClusterIdentifier"),
        )
        for c in emulator.calls()
        if c["seq"] > since and c["action"] in MUTATING and c["region"] == third
    ]
    assert touched == [], f"the healthy secondary in {third} was touched: {touched}"
    assert "FallbackStarted" not in world.event_reasons()
    world.wait_condition("Degraded", "True", "RegionUnreachable", timeout=60)
    assert world.sync_status("orders-global", third, CLUSTER_IDS[third]) == "connected"
    assert world.count_rows(third, CLUSTER_IDS[third], "before") == 30

    # The region is back: the third region's cluster leaves the old global
    # cluster before the stale primary, which RDS then lets go; all three
    # end up in the next generation, the writer back home.
    back = max(c["seq"] for c in emulator.calls())
    emulator.outage(EAST, "off")

    def home():
        s = world.status()
        last = s.get("lastOperation") or {}
        assert s.get("currentPrimaryRegion") == EAST, s.get("currentPrimaryRegion")
        assert last.get("type") == "Switchover" and last.get("result") == "Succeeded", last
        return s

    st = wait_for(home, timeout=420, interval=1, what="the writer back in us-east-1")
    assert st["globalClusterIdentifier"] == "orders-global-2"
    assert world.global_cluster("orders-global") is None
    for r in (WEST, EU):
        assert world.sync_status("orders-global-2", r, CLUSTER_IDS[r]) == "connected", r
    assert writers(world) == [EAST], "exactly one writer"
    removals = [
        (c["region"], c["status"])
        for c in emulator.calls()
        if c["seq"] > back and c["action"] == "RemoveFromGlobalCluster"
    ]
    assert removals[:2] == [(third, 200), (EAST, 200)], removals
    assert all(status == 200 for _, status in removals), removals
    fb = [e for e in world.events() if e["reason"] == "FallbackCompleted"]
    assert fb, world.event_reasons()
    # Every row written before the outage and during it is on the writer,
    # and the rebuilt third region streams from it.
    assert world.count_rows(EAST, "orders-east", "before") == 30
    assert world.count_rows(EAST, "orders-east", "during") == 20
    world.write_rows(EAST, "orders-east", "after", 10)
    replicated(world, "after", 10, (WEST, EU))
    assert world.count_rows(third, CLUSTER_IDS[third], "during") == 20
