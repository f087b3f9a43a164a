"""A partition between the controller and the primary database: 0 failovers,
and a condition that says why, whether the primary region's RDS API answers
or not.

The partition is real and only on the controller's data path: a loopback TCP
proxy (tcpproxy.py) sits between the controller's probes and the us-east-1
writer server, because the emulator reports the proxy's port as orders-east's
cluster Port (DescribeDBClusters), which is where the controller probes. The
servers replicate to each other directly and the application-side check below
writes to the writer directly, so the database itself is up and replicating
the whole time; only the controller cannot reach it.

First, RDS keeps answering `available`. Each partition lasts at least twice
the detection window (failureThreshold x periodSeconds) after the controller
declared the writer unhealthy, with the proxy either blackholing (connections
accepted and held, established ones stalled: probes end on their own
deadline) or resetting (RST). Throughout, the call log must show no
FailoverGlobalCluster, RemoveFromGlobalCluster or SwitchoverGlobalCluster, the
writer stays in us-east-1, and Degraded is True/PrimaryAvailableInControlPlane
with a message naming us-east-1 (plus a Warning Event of that reason); after
healing, Degraded clears and Ready is True again.

Then the partition that fooled the controller before: the probes are cut the
same way AND us-east-1's RDS API fails (503), while the us-east-1 PostgreSQL
keeps running and replicating. From the controller's seat this looks exactly
like a regional outage; the difference is visible only from us-west-2, whose
secondary still receives replication from us-east-1
(aurora_global_db_status()). A failover here would make two writers. The
controller must refuse (Degraded True/SecondaryHearsPrimary, naming both
regions), make no failover call, leave the primary writable and replicating,
and keep exactly one writer among the servers, for longer than the detection
window plus the time a secondary needs to count as silent.

The control at the end is a real outage: the same probe failures, the API down
AND the us-east-1 PostgreSQL frozen, so us-west-2 stops hearing it. Now the
controller must fail over, which shows the refusals above were the
discrimination, not inaction.

CI (ctest -R chaos_partition): 2 partitions (blackhole, reset), the partition
with the API down, and the control, about 2.5 minutes. Full sweep
(GDB_CHAOS_FULL=1, `make chaos`): 10 partitions alternating blackhole and
reset, the partition with the API down, the control, and both again in a fresh
world where the API hangs (the controller's 15 s call timeout confirms), about
8 minutes.
"""

import time

import psycopg
import pytest

from conftest import EAST, WEST, full_sweep, wait_for
from waiting import wait_lag_measured
from tcpproxy import TcpProxy

FAILOVER_CALLS = {"FailoverGlobalCluster", "RemoveFromGlobalCluster", "SwitchoverGlobalCluster"}
PERIOD, THRESHOLD = 2, 3
DETECTION_WINDOW = PERIOD * THRESHOLD


def last_seq(emulator):
    return max(c["seq"] for c in emulator.calls())


def failover_calls(emulator, since):
    calls = [c for a in sorted(FAILOVER_CALLS) for c in emulator.calls(since=since, action=a)]
    return sorted((c for c in calls if c["seq"] > since), key=lambda c: c["seq"])


def bind_east(emulator, world, writer_port):
    """Bind orders-east so that RDS reports writer_port as its cluster Port."""
    w = world.servers["east-w"].to_dict()
    w["port"] = writer_port
    emulator.post(
        "/bind",
        {
            "region": EAST,
            "dbClusterIdentifier": "orders-east",
            "writer": w,
            "reader": world.servers["east-r"].to_dict(),
        },
    )


@pytest.fixture
def proxy(world, emulator):
    """The controller's path to the us-east-1 writer, through a proxy."""
    p = TcpProxy(world.servers["east-w"].port).start()
    bind_east(emulator, world, p.port)
    try:
        yield p
    finally:
        p.set_mode("forward")
        # The emulator runs pg_ctl/pg_rewind with the bound port: give it back.
        bind_east(emulator, world, world.servers["east-w"].port)
        p.stop()


def direct_write_replicates(world, tag):
    """The writer takes a write on its own port and it reaches us-west-2."""
    ew = world.servers["east-w"]
    with psycopg.connect(
        host="127.0.0.1",
        port=ew.port,
        user="postgres",
        password=world.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    ) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS partition_marks (tag text PRIMARY KEY)")
        conn.execute("INSERT INTO partition_marks VALUES (%s)", (tag,))
    wait_for(
        lambda: (
            world.servers["west-w"].sql(
                "SELECT count(*) FROM partition_marks WHERE tag = %s", params=(tag,)
            )[0][0]
            == 1
        ),
        timeout=30,
        what=f"{tag} to replicate to us-west-2",
    )


def refusal_events(world):
    """How many times the refusal Event was emitted (a repeat is a series on one object)."""
    evs = [e for e in world.events() if e["reason"] == "PrimaryAvailableInControlPlane"]
    for e in evs:
        assert e["type"] == "Warning" and EAST in e.get("note", ""), e
    return sum((e.get("series") or {}).get("count", 1) for e in evs)


def partition_once(world, emulator, proxy, mode, run):
    since = last_seq(emulator)
    emitted = refusal_events(world)
    t0 = time.monotonic()
    proxy.set_mode(mode)
    try:
        world.wait_condition("PrimaryHealthy", "False", timeout=60)
        detected = time.monotonic() - t0
        deg = world.wait_condition("Degraded", "True", "PrimaryAvailableInControlPlane", timeout=60)
        refused = time.monotonic() - t0
        assert EAST in deg["message"], deg
        wait_for(
            lambda: refusal_events(world) > emitted,
            timeout=30,
            what="a PrimaryAvailableInControlPlane Event",
        )
        ready = world.condition("Ready")
        assert ready["status"] == "False", ready
        if run == 0:
            # Only the controller's path is cut: the database works and replicates.
            direct_write_replicates(world, f"during-{mode}-{run}")

        # Hold the partition for two more detection windows, watching every half second.
        hold_until = time.monotonic() + 2 * DETECTION_WINDOW
        while time.monotonic() < hold_until:
            st = world.status()
            assert st["currentPrimaryRegion"] == EAST, st
            assert not st.get("operation"), f"an operation started: {st.get('operation')}"
            c = next(c for c in st["conditions"] if c["type"] == "Degraded")
            assert (c["status"], c["reason"]) == ("True", "PrimaryAvailableInControlPlane"), c
            assert not failover_calls(emulator, since)
            time.sleep(0.5)
        held = time.monotonic() - t0

        assert not failover_calls(emulator, since)
        # The refusal rests on fresh answers from the primary region's API.
        asked = [
            c
            for c in emulator.calls(since=since, action="DescribeDBClusters", region=EAST)
            if c["status"] == 200
        ]
        assert asked, "the controller never asked us-east-1's RDS API during the partition"
        assert world.writer_region("orders-global") == EAST
    finally:
        proxy.set_mode("forward")
    t1 = time.monotonic()
    world.wait_condition("PrimaryHealthy", "True", timeout=60)
    world.wait_condition("Degraded", "False", "AsExpected", timeout=60)
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
    healed = time.monotonic() - t1
    assert not failover_calls(emulator, since)
    print(
        f"partition {run} ({mode}): unhealthy after {detected:.1f}s, refusal stated after "
        f"{refused:.1f}s, held {held:.1f}s, healed in {healed:.1f}s; 0 failover calls"
    )


def adopt(world, kubectl, proxy):
    kubectl.apply(
        world.gdb_manifest(
            healthCheck={
                "periodSeconds": PERIOD,
                "timeoutSeconds": 1,
                "failureThreshold": THRESHOLD,
            },
            failover={"confirmation": "ControlPlane", "cooldownSeconds": 0},
        )
    )
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    wait_lag_measured(world, WEST, timeout=60)
    assert proxy.accepted > 0, "the controller's probes do not go through the proxy"


def writers(world):
    """The servers that accept writes (not in recovery)."""
    return sorted(name for name, s in world.servers.items() if not s.in_recovery())


def partition_with_api_down_is_not_a_failover(world, emulator, proxy, api_mode):
    """The controller's path to us-east-1 is cut and its RDS API fails; the database is fine."""
    since = last_seq(emulator)
    t0 = time.monotonic()
    proxy.set_mode("blackhole")
    # Route 53 is signed for us-east-1: keep it out of the outage (as a real partition would
    # leave it) so that only the failover decision is tested.
    emulator.outage(EAST, api_mode, pg="none", services=["rds"])
    try:
        world.wait_condition("PrimaryHealthy", "False", timeout=60)
        deg = world.wait_condition("Degraded", "True", "SecondaryHearsPrimary", timeout=120)
        refused = time.monotonic() - t0
        assert EAST in deg["message"] and WEST in deg["message"], deg
        wait_for(
            lambda: any(e["reason"] == "SecondaryHearsPrimary" for e in world.events()),
            timeout=30,
            what="a SecondaryHearsPrimary Event",
        )
        # The refusal is not the API answering: the controller saw it fail (a 503, or a
        # call the emulator held and dropped without an answer).
        failed = [
            c
            for c in emulator.calls(since=since, action="DescribeDBClusters", region=EAST)
            if c["status"] is None or c["status"] >= 500
        ]
        assert failed, "the controller never saw us-east-1's RDS API fail"
        # The primary works and replicates: a failover now would make a second writer.
        direct_write_replicates(world, f"during-{api_mode}-api-outage")

        # Hold past the detection window and the time a secondary needs to count as silent
        # (10 s), watching every half second.
        hold_until = time.monotonic() + 2 * DETECTION_WINDOW + 15
        while time.monotonic() < hold_until:
            st = world.status()
            assert st["currentPrimaryRegion"] == EAST, st
            assert not st.get("operation"), f"an operation started: {st.get('operation')}"
            c = next(c for c in st["conditions"] if c["type"] == "Degraded")
            assert (c["status"], c["reason"]) == ("True", "SecondaryHearsPrimary"), c
            assert not failover_calls(emulator, since)
            time.sleep(0.5)
        held = time.monotonic() - t0

        assert not failover_calls(emulator, since)
        assert world.writer_region("orders-global") == EAST
        assert writers(world) == ["east-w"], writers(world)
        direct_write_replicates(world, f"after-{api_mode}-api-outage")
    finally:
        emulator.outage(EAST, "off")
        proxy.set_mode("forward")
    t1 = time.monotonic()
    world.wait_condition("PrimaryHealthy", "True", timeout=60)
    world.wait_condition("Degraded", "False", "AsExpected", timeout=90)
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
    healed = time.monotonic() - t1
    assert not failover_calls(emulator, since)
    assert writers(world) == ["east-w"], writers(world)
    print(
        f"partition with us-east-1's RDS API {api_mode}: SecondaryHearsPrimary after "
        f"{refused:.1f}s, held {held:.1f}s, healed in {healed:.1f}s; 0 failover calls, one writer"
    )


def real_outage_fails_over(world, emulator, proxy, api_mode):
    """The control: us-east-1's PostgreSQL frozen and its RDS API down; us-west-2 hears nothing."""
    since = last_seq(emulator)
    t0 = time.monotonic()
    proxy.set_mode("blackhole")
    # Route 53 is signed for us-east-1: keep it out of the outage so DNS can move.
    emulator.outage(EAST, api_mode, pg="freeze", services=["rds"])

    def failed_over():
        last = world.status().get("lastOperation") or {}
        assert last.get("type") == "Failover" and last.get("result") == "Succeeded", last
        return last

    last = wait_for(failed_over, timeout=240, interval=0.5, what="the confirmed failover")
    took = time.monotonic() - t0
    assert world.status()["currentPrimaryRegion"] == WEST
    calls = failover_calls(emulator, since)
    ok = [c for c in calls if c["status"] == 200]
    assert [(c["action"], c["region"]) for c in ok] == [("RemoveFromGlobalCluster", WEST)], calls
    assert last["sourceRegion"] == EAST and last["targetRegion"] == WEST, last
    steps = ", ".join(f"{x['name']} {x['durationSeconds']}s" for x in last.get("steps", []))
    print(
        f"control (us-east-1 PostgreSQL frozen + RDS API {api_mode}): failed over to {WEST} in "
        f"{took:.1f}s with one RemoveFromGlobalCluster; steps: {steps}"
    )


def test_partition_from_writer_is_not_a_failover(world, emulator, kubectl, proxy, controller):
    adopt(world, kubectl, proxy)
    start = last_seq(emulator)

    runs = 10 if full_sweep() else 2
    for i in range(runs):
        partition_once(world, emulator, proxy, ("blackhole", "reset")[i % 2], i)

    assert not failover_calls(emulator, start)
    st = world.status()
    assert st["currentPrimaryRegion"] == EAST and not st.get("lastOperation"), st
    assert world.writer_region("orders-global") == EAST
    print(
        f"{runs} partitions, 0 failover calls, "
        f"{refusal_events(world)} PrimaryAvailableInControlPlane Events"
    )

    partition_with_api_down_is_not_a_failover(world, emulator, proxy, "5xx")
    real_outage_fails_over(world, emulator, proxy, "5xx")


if full_sweep():

    def test_partition_with_a_hanging_primary_api_fails_over(
        world, emulator, kubectl, proxy, controller
    ):
        """The API-down partition and the control again, with the API timing out instead of
        answering 503."""
        adopt(world, kubectl, proxy)
        partition_with_api_down_is_not_a_failover(world, emulator, proxy, "hang")
        real_outage_fails_over(world, emulator, proxy, "hang")
