"""The primary region fails, the controller fails over; it comes back, the
controller falls back.

The seed runbook's steps 7 and 8, without Lambdas or a person: three failed
write probes plus the primary region's RDS API confirming the failure make
the controller detach and promote the secondary (or, in the second test, run
Aurora's managed FailoverGlobalCluster with AllowDataLoss), move DNS, restart
the workloads and record the data-loss window. When the region answers again
it fences the stale writer (a final snapshot keeps its writes), builds the
next generation of the global cluster (orders-global-2) with the lost region
as a secondary, waits until it is connected and switches back, because the
spec still names that region.
"""

import time

import pgenv
from conftest import EAST, WEST, ecs_service, metric_value, wait_for
from waiting import wait_lag_measured, wait_rows

EU = "eu-west-1"


def wait_last_operation(world, op_type, timeout=120, seen=None):
    """Wait until status.lastOperation is a finished op_type; return it."""

    def done():
        last = world.status().get("lastOperation") or {}
        if seen is not None and last.get("type"):
            seen.setdefault(last["type"], last)
        assert last.get("type") == op_type and last.get("result"), f"lastOperation {last}"
        return last

    return wait_for(done, timeout=timeout, interval=0.5, what=f"a finished {op_type}")


def event_time(world, reason):
    for e in world.events():
        if e["reason"] == reason:
            return e.get("eventTime") or e["metadata"]["creationTimestamp"]
    return None


def outage_and_failover(world, controller, emulator, method, **over):
    world.kubectl.apply(world.gdb_manifest(failover={"method": method}, **over))
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    wait_lag_measured(world, WEST)
    world.write_rows(EAST, "orders-east", "before", 50)
    wait_rows(world, WEST, "orders-west", "before", 50)
    since = max(c["seq"] for c in emulator.calls())

    t0 = time.monotonic()
    # RDS in us-east-1 answers 503 and its PostgreSQL servers freeze. Route 53's
    # API (signed as us-east-1) stays up here; see docs/demo.md on that risk.
    emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
    world.wait_condition("PrimaryHealthy", "False", timeout=60)
    t_detected = time.monotonic() - t0
    last = wait_last_operation(world, "Failover", timeout=120)
    t_done = time.monotonic() - t0
    assert last["result"] == "Succeeded", last
    st = world.status()
    assert st["currentPrimaryRegion"] == WEST
    assert last["sourceRegion"] == EAST and last["targetRegion"] == WEST
    # An upper bound on the acknowledged writes lost, never 0: the writer may
    # have acknowledged writes after its last heartbeat (docs/api.md).
    assert last.get("dataLossWindowSeconds") is not None, last
    assert 1 <= last["dataLossWindowSeconds"] <= 30, last
    print(
        f"\nfailover ({method}): detected after {t_detected:.1f}s, "
        f"writer, DNS and restarts done after {t_done:.1f}s, "
        f"data-loss window {last['dataLossWindowSeconds']}s"
    )

    reasons = world.event_reasons()
    for r in (
        "FailoverStarted",
        "WriterMoved",
        "DataLossWindow",
        "DnsInSync",
        "RestartingWorkloads",
        "FailoverCompleted",
    ):
        assert r in reasons, f"missing event {r}: {reasons}"
    world.assert_event_order(
        ["FailoverStarted", "WriterMoved", "DnsInSync", "RestartingWorkloads", "FailoverCompleted"]
    )
    assert world.restarted_at() is not None
    west = world.cluster(WEST, "orders-west")
    assert world.record(f"writer.{world.zone_name}") == west["Endpoint"]

    calls = [c for c in emulator.calls() if c["seq"] > since]
    return calls, last


def check_fallback(world, emulator, expect_generation):
    seen = {}

    # Back in the desired region: the fallback, then the switchover back.
    def home():
        s = world.status()
        last = s.get("lastOperation") or {}
        seen.setdefault(last.get("type"), last)
        assert s.get("currentPrimaryRegion") == EAST, f"writer in {s.get('currentPrimaryRegion')}"
        assert last.get("type") == "Switchover" and last.get("result") == "Succeeded", last
        return s

    st = wait_for(home, timeout=300, interval=0.5, what="the writer back in us-east-1")
    assert st["globalClusterIdentifier"] == expect_generation
    assert world.writer_region(expect_generation) == EAST
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
    roles = {r["name"]: r["role"] for r in world.status()["regions"]}
    assert roles == {EAST: "Primary", WEST: "Secondary"}
    reasons = world.event_reasons()
    assert "FallbackStarted" in reasons and "FallbackCompleted" in reasons, reasons
    return st, seen


def regions_without_engine_version(world, region):
    """spec.regions with region's template naming no engineVersion ("the global cluster's")."""
    regions = world.gdb_manifest()["spec"]["regions"]
    for r in regions:
        if r["name"] == region:
            del r["template"]["engineVersion"]
    return regions


def test_detach_and_promote_then_fallback(world, controller, emulator):
    # The rebuilt us-east-1 secondary's template leaves engineVersion empty: the emulator,
    # as RDS, refuses a secondary without the global cluster's version (review finding 9).
    calls, last = outage_and_failover(
        world,
        controller,
        emulator,
        "DetachAndPromote",
        regions=regions_without_engine_version(world, EAST),
    )
    detach = [c for c in calls if c["action"] == "RemoveFromGlobalCluster"]
    assert len(detach) == 1 and detach[0]["region"] == WEST, (
        "detach-and-promote is called in the target's region, once"
    )
    assert not [c for c in calls if c["action"] == "FailoverGlobalCluster"]
    m = controller.metrics()
    assert (
        metric_value(m, "globaldb_failovers_total", method=last["method"], result="Succeeded") == 1
    )

    # The promoted writer takes writes while the old region is down.
    world.write_rows(WEST, "orders-west", "during", 50)
    assert world.condition("Degraded")["status"] == "True"

    # Recovery: the region answers again; its old writer is stale.
    emulator.outage(EAST, "off")
    st, seen = check_fallback(world, emulator, "orders-global-2")
    fb = seen.get("Fallback")
    assert fb and fb["result"] == "Succeeded", seen
    snap = fb.get("lostWritesSnapshot")
    assert snap and snap.startswith("orders-east-lost-writes-"), fb
    snaps = world.rds[EAST].describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snap)
    assert snaps["DBClusterSnapshots"], "the stale writer's final snapshot exists"
    assert world.global_cluster("orders-global") is None, "the old global cluster is deleted"
    rebuilt = [
        c
        for c in emulator.calls()
        if c["action"] == "CreateDBCluster"
        and c["params"].get("DBClusterIdentifier") == "orders-east"
    ]
    assert rebuilt and all(c["params"].get("EngineVersion") == "15.4" for c in rebuilt), rebuilt

    # Every row written before the outage and during it is on the writer.
    assert world.count_rows(EAST, "orders-east", "before") == 50
    assert world.count_rows(EAST, "orders-east", "during") == 50
    world.write_rows(EAST, "orders-east", "after", 10)
    assert world.count_rows(EAST, "orders-east", "after") == 10


def test_managed_failover_then_fallback(world, controller, emulator):
    calls, last = outage_and_failover(world, controller, emulator, "Managed")
    fo = [c for c in calls if c["action"] == "FailoverGlobalCluster"]
    assert len(fo) == 1 and fo[0]["region"] == WEST, (
        "managed failover is called in the target's region"
    )
    assert fo[0]["params"].get("AllowDataLoss") == "true"
    assert not [c for c in calls if c["action"] == "RemoveFromGlobalCluster"]
    world.write_rows(WEST, "orders-west", "during", 50)

    emulator.outage(EAST, "off")
    st, seen = check_fallback(world, emulator, "orders-global")
    fb = seen.get("Fallback")
    assert fb and fb["result"] == "Succeeded", seen
    snap = fb.get("lostWritesSnapshot")
    assert snap and snap.startswith("orders-east-lost-writes-"), fb
    snaps = world.rds[EAST].describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snap)
    assert snaps["DBClusterSnapshots"], "Aurora's failover snapshot was copied to a manual one"
    assert world.count_rows(EAST, "orders-east", "before") == 50
    assert world.count_rows(EAST, "orders-east", "during") == 50


def test_ecs_service_in_the_dead_region_does_not_block_the_failover(world, controller, emulator):
    """Review finding 8: ECS services are listed in both regions, as they naturally are. The
    failed region's ECS API answers 503 with its RDS API: the failover must still end, every
    other service be forced exactly once (each call rolls the service again), a service listed
    after the dead one be restarted too, and the dead one be named as not restarted."""
    services = [
        ecs_service(emulator, WEST, "api"),
        ecs_service(emulator, EAST, "api"),
        ecs_service(emulator, WEST, "worker"),
    ]
    world.kubectl.apply(
        world.gdb_manifest(
            failover={"method": "DetachAndPromote"},
            workloads={
                "deployments": [{"namespace": world.ns, "name": "orders-api"}],
                "ecsServices": services,
            },
        )
    )
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    wait_lag_measured(world, WEST)
    since = max(c["seq"] for c in emulator.calls())

    emulator.outage(EAST, "5xx", pg="freeze", services=["rds", "ecs"])
    last = wait_last_operation(world, "Failover", timeout=180)
    assert last["result"] == "Succeeded", last
    assert world.status()["currentPrimaryRegion"] == WEST
    assert "us-east-1/orders/api" in last.get("message", ""), last
    assert sorted(last.get("restartedEcsServices", [])) == [
        "us-west-2/orders/api",
        "us-west-2/orders/worker",
    ], last
    assert "WorkloadsNotRestarted" in world.event_reasons()

    calls = [c for c in emulator.calls() if c["seq"] > since and c["action"] == "UpdateService"]
    forced = {}
    for c in calls:
        key = (c["region"], c["params"].get("service"))
        forced[key] = forced.get(key, 0) + 1
    assert forced.get((WEST, "api")) == 1, f"the healthy service is forced once: {forced}"
    assert forced.get((WEST, "worker")) == 1, f"the service after the dead one: {forced}"
    assert forced.get((EAST, "api"), 0) >= 1, forced

    # The operation is over, so nothing retries the dead region's ECS and later failovers
    # are not blocked.
    assert not world.status().get("operation", {}).get("type"), world.status().get("operation")
    emulator.outage(EAST, "off")


def test_a_region_that_never_returns_is_replaced(world, controller, emulator):
    """Review finding 7: us-east-1 is lost for good. The operator takes it out of the spec and
    adds eu-west-1 instead. The fallback must stop waiting for us-east-1, rebuild eu-west-1
    into the next generation and end, leaving the old global cluster (which still lists the
    dead us-east-1 cluster) in place with a Warning, instead of waiting forever."""
    eu_w = pgenv.init_primary(world.root, "eu-w", password=world.password)
    world.servers["eu-w"] = eu_w
    world.servers["eu-r"] = pgenv.make_standby(eu_w, world.root, "eu-r")
    emulator.bind(EU, "orders-eu", world.servers["eu-w"], world.servers["eu-r"])
    outage_and_failover(world, controller, emulator, "DetachAndPromote")

    m = world.gdb_manifest(primaryRegion=WEST)
    west = next(r for r in m["spec"]["regions"] if r["name"] == WEST)
    m["spec"]["regions"] = [
        west,
        {"name": EU, "dbClusterIdentifier": "orders-eu", "template": dict(west["template"])},
    ]
    world.kubectl.apply(m)
    fb = wait_last_operation(world, "Fallback", timeout=300)
    assert fb["result"] == "Succeeded", fb
    assert fb["targetRegion"] == EU, fb
    st = world.status()
    assert st["globalClusterIdentifier"] == "orders-global-2"
    assert st["currentPrimaryRegion"] == WEST
    assert world.writer_region("orders-global-2") == WEST
    assert world.sync_status("orders-global-2", EU, "orders-eu") == "connected"
    old = world.global_cluster("orders-global")
    left = [m["DBClusterArn"] for m in (old or {}).get("GlobalClusterMembers", [])]
    assert len(left) == 1 and left[0].split(":")[3] == EAST, old
    assert left[0].endswith(":orders-east"), old
    assert "OldGlobalClusterNotDeleted" in world.event_reasons()
    emulator.outage(EAST, "off")
