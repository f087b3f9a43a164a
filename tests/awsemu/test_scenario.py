"""The whole story with boto3 only, on real PostgreSQL servers bound to the
emulated clusters: a two-region global database; switchover (no row lost);
primary-region outage; managed failover (the data-loss window measured from
the rows); recovery and Aurora's re-add; switch back.  Then the same with
detach-and-promote and a new global database instead of managed failover."""

import time

import psycopg
import pytest

import pgenv
from conftest import wait_for

EAST, WEST = "us-east-1", "us-west-2"


class Region:
    """A region's PostgreSQL: a writer and a reader server."""

    def __init__(self, root, region, start):
        # Only the first primary's writer needs to run: the emulator re-seeds
        # the others from base backups when their clusters are created.
        self.region = region
        self.writer = pgenv.init_primary(root, f"{region}-w", start=start)
        self.reader = pgenv.init_primary(root, f"{region}-r", start=False)

    def destroy(self):
        for s in (self.reader, self.writer):
            s.destroy()


@pytest.fixture
def regions(pg_root):
    rs = {r: Region(pg_root, r, start=(r == EAST)) for r in (EAST, WEST)}
    yield rs
    for r in rs.values():
        r.destroy()


def cluster(aws, region, cid):
    return aws("rds", region).describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"][0]


def create_cluster(aws, region, cid, global_id=None):
    rds = aws("rds", region)
    kw = {"DBClusterIdentifier": cid, "Engine": "aurora-postgresql", "EngineVersion": "15.4"}
    if global_id:
        kw["GlobalClusterIdentifier"] = global_id
    else:
        kw.update(MasterUsername="postgres", MasterUserPassword=pgenv.DEFAULT_PASSWORD)
    arn = rds.create_db_cluster(**kw)["DBCluster"]["DBClusterArn"]
    for i in range(2):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{cid}-{i}",
            DBClusterIdentifier=cid,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    return arn


def global_cluster(aws, gid, region):
    return aws("rds", region).describe_global_clusters(GlobalClusterIdentifier=gid)[
        "GlobalClusters"
    ][0]


def wait_settled(aws, gid, region, writer_arn, timeout=90):
    """Until no operation runs, writer_arn writes and every member is connected."""

    def ok():
        gc = global_cluster(aws, gid, region)
        if "FailoverState" in gc or gc["Status"] != "available":
            return None
        ms = gc["GlobalClusterMembers"]
        if not all(m["SynchronizationStatus"] == "connected" for m in ms):
            return None
        if not any(m["IsWriter"] and m["DBClusterArn"] == writer_arn for m in ms):
            return None
        return gc

    return wait_for(ok, timeout=timeout, interval=0.1, what=f"{gid} settled on {writer_arn}")


def connect(aws, region, cid, reader=False):
    """A connection through the endpoint DescribeDBClusters/Instances give."""
    if reader:
        inst = aws("rds", region).describe_db_instances(DBInstanceIdentifier=f"{cid}-1")[
            "DBInstances"
        ][0]["Endpoint"]
        host, port = inst["Address"], inst["Port"]
    else:
        c = cluster(aws, region, cid)
        host, port = c["Endpoint"], c["Port"]
    return psycopg.connect(
        host=host,
        port=port,
        user="postgres",
        password=pgenv.DEFAULT_PASSWORD,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def write(aws, region, cid, ids):
    """Insert ids one commit each; the ids whose commit was acknowledged."""
    acked = []
    with connect(aws, region, cid) as conn:
        for i in ids:
            conn.execute("INSERT INTO t (id) VALUES (%s)", (i,))
            acked.append(i)
    return acked


def rows(aws, region, cid, reader=False):
    with connect(aws, region, cid, reader) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM t").fetchall()}


def wait_rows(aws, region, cid, expected, reader=True):
    def caught_up():
        try:
            return rows(aws, region, cid, reader) >= set(expected)
        except psycopg.errors.UndefinedTable:
            return False  # the CREATE TABLE has not been replayed yet

    wait_for(caught_up, timeout=30, what=f"rows on {region}/{cid}")


def in_recovery(aws, region, cid):
    with connect(aws, region, cid) as conn:
        return conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]


def build(aws, admin, regions, gid="gdb"):
    """east primary (writer + reader), west secondary, bound to the servers."""
    for r, cid in ((EAST, "east"), (WEST, "west")):
        admin.bind(r, cid, regions[r].writer, regions[r].reader)
    east = create_cluster(aws, EAST, "east")
    wait_for(lambda: cluster(aws, EAST, "east")["Status"] == "available", what="east available")
    aws("rds", EAST).create_global_cluster(
        GlobalClusterIdentifier=gid, SourceDBClusterIdentifier=east
    )
    west = create_cluster(aws, WEST, "west", global_id=gid)
    wait_settled(aws, gid, EAST, east)
    return east, west


def test_switchover_outage_managed_failover_readd_and_switch_back(aws, admin, regions):
    east, west = build(aws, admin, regions)
    c = cluster(aws, EAST, "east")
    assert (c["Endpoint"], c["Port"]) == ("localhost", regions[EAST].writer.port)
    with connect(aws, EAST, "east") as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    acked = write(aws, EAST, "east", range(1, 101))
    wait_rows(aws, WEST, "west", acked)  # the secondary's reader instance
    wait_rows(aws, EAST, "east", acked)  # the primary's own reader
    assert in_recovery(aws, WEST, "west")
    lag = admin.get("/lag")["lag"]
    assert [(x["dbClusterArn"], x["streaming"]) for x in lag] == [(west, True)]

    # A switchover whose target cannot catch up is cancelled; nothing changes.
    admin.post("/replication", {"region": WEST, "paused": True})
    acked += write(aws, EAST, "east", range(101, 111))
    wait_for(
        lambda: admin.get("/lag")["lag"][0]["streaming"] is False,
        what="the lag endpoint to see replication cut",
    )
    admin.post("/config", {"switchoverSyncTimeout": 1, "delays": {"failover_finish": 1.5}})
    aws("rds", EAST).switchover_global_cluster(
        GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=west
    )
    seen = []

    def finished():
        gc = global_cluster(aws, "gdb", EAST)
        state = gc.get("FailoverState", {}).get("Status")
        if not seen or seen[-1] != state:
            seen.append(state)
        return state is None and gc["Status"] == "available" and gc

    gc = wait_for(finished, timeout=60, interval=0.05, what="switchover cancelled")
    assert "cancelling" in seen
    assert {m["DBClusterArn"]: m["IsWriter"] for m in gc["GlobalClusterMembers"]} == {
        east: True,
        west: False,
    }
    assert not in_recovery(aws, EAST, "east") and in_recovery(aws, WEST, "west")
    assert rows(aws, EAST, "east", reader=False) == set(acked)
    admin.post("/config", {"switchoverSyncTimeout": 60, "delays": {"failover_finish": 0}})
    admin.post("/replication", {"region": WEST, "paused": False})
    wait_rows(aws, WEST, "west", acked)

    # Planned switchover, called in the primary's region: no row lost.
    aws("rds", EAST).switchover_global_cluster(
        GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=west
    )
    wait_settled(aws, "gdb", WEST, west)
    assert not in_recovery(aws, WEST, "west") and in_recovery(aws, EAST, "east")
    assert rows(aws, WEST, "west", reader=False) == set(acked)
    acked += write(aws, WEST, "west", range(111, 151))
    wait_rows(aws, EAST, "east", acked)

    # Replication into east stops, writes go on, then west's region goes down.
    admin.post("/replication", {"region": EAST, "paused": True})
    unreplicated = write(aws, WEST, "west", range(151, 201))
    acked += unreplicated
    admin.outage(WEST, "hang")  # API calls hang, servers frozen
    with pytest.raises(psycopg.OperationalError, match="timeout"):
        psycopg.connect(
            host="127.0.0.1",
            port=regions[WEST].writer.port,
            user="postgres",
            password=pgenv.DEFAULT_PASSWORD,
            connect_timeout=2,
        )
    aws("rds", EAST).failover_global_cluster(
        GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=east, AllowDataLoss=True
    )
    gc = wait_for(
        lambda: (g := global_cluster(aws, "gdb", EAST)) and "FailoverState" not in g and g,
        timeout=60,
        what="failover done",
    )
    ms = {m["DBClusterArn"]: m for m in gc["GlobalClusterMembers"]}
    assert ms[east]["IsWriter"] and ms[west]["SynchronizationStatus"] == "pending-resync"
    survived = rows(aws, EAST, "east", reader=False)
    lost = set(acked) - survived
    assert lost == set(unreplicated)  # the data-loss window, measured
    after = write(aws, EAST, "east", range(201, 221))

    # The region comes back: Aurora fences and re-adds the old primary.
    admin.outage(WEST, "off")
    wait_settled(aws, "gdb", EAST, east)
    snaps = aws("rds", WEST).describe_db_cluster_snapshots(DBClusterIdentifier="west")[
        "DBClusterSnapshots"
    ]
    assert [
        s
        for s in snaps
        if s["DBClusterSnapshotIdentifier"].startswith("rds:unplanned-global-failover-west-")
    ]
    assert in_recovery(aws, WEST, "west")
    wait_rows(aws, WEST, "west", survived | set(after))
    assert rows(aws, WEST, "west") == survived | set(after)  # lost writes were rewound away

    # Switch back to west.
    aws("rds", EAST).switchover_global_cluster(
        GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=west
    )
    wait_settled(aws, "gdb", WEST, west)
    assert rows(aws, WEST, "west", reader=False) == survived | set(after)
    final = write(aws, WEST, "west", range(221, 231))
    wait_rows(aws, EAST, "east", survived | set(after) | set(final))


def test_detach_and_promote_then_fallback_with_a_new_global_database(aws, admin, regions):
    east, west = build(aws, admin, regions)
    with connect(aws, EAST, "east") as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    acked = write(aws, EAST, "east", range(1, 101))
    wait_rows(aws, WEST, "west", acked)
    admin.post("/replication", {"region": WEST, "paused": True})
    unreplicated = write(aws, EAST, "east", range(101, 131))
    acked += unreplicated
    admin.outage(EAST, "5xx", pg="stop")  # API calls fail, servers down
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(
            host="127.0.0.1",
            port=regions[EAST].writer.port,
            user="postgres",
            password=pgenv.DEFAULT_PASSWORD,
            connect_timeout=2,
        )

    # Detach-and-promote, called in the target's region.
    aws("rds", WEST).remove_from_global_cluster(
        GlobalClusterIdentifier="gdb", DbClusterIdentifier=west
    )
    wait_for(lambda: cluster(aws, WEST, "west")["Status"] == "available", what="west promoted")
    assert not in_recovery(aws, WEST, "west")
    survived = rows(aws, WEST, "west", reader=False)
    assert set(acked) - survived == set(unreplicated)
    after = write(aws, WEST, "west", range(131, 151))

    # Fallback: a new global database on west; east rebuilt as its secondary.
    aws("rds", WEST).create_global_cluster(
        GlobalClusterIdentifier="gdb2", SourceDBClusterIdentifier=west
    )
    admin.outage(EAST, "off")  # the servers come back as they were
    assert not in_recovery(aws, EAST, "east")  # split brain until it is dealt with
    rds_east = aws("rds", EAST)
    rds_east.remove_from_global_cluster(GlobalClusterIdentifier="gdb", DbClusterIdentifier=east)
    for i in range(2):
        rds_east.delete_db_instance(DBInstanceIdentifier=f"east-{i}", SkipFinalSnapshot=True)
    rds_east.delete_db_cluster(DBClusterIdentifier="east", SkipFinalSnapshot=True)
    rds_east.delete_global_cluster(GlobalClusterIdentifier="gdb")
    east = create_cluster(aws, EAST, "east", global_id="gdb2")
    wait_settled(aws, "gdb2", WEST, west)
    assert in_recovery(aws, EAST, "east")
    wait_rows(aws, EAST, "east", survived | set(after))

    # Switch back to east, called in the primary's (west's) region.
    aws("rds", WEST).switchover_global_cluster(
        GlobalClusterIdentifier="gdb2", TargetDbClusterIdentifier=east
    )
    wait_settled(aws, "gdb2", EAST, east)
    assert rows(aws, EAST, "east", reader=False) == survived | set(after)
    final = write(aws, EAST, "east", range(151, 161))
    wait_rows(aws, WEST, "west", survived | set(after) | set(final))


# How long ago the secondary last heard its primary region, as the controller's reader probe
# asks it (pkg/probe/prober.h).
UPSTREAM_SQL = (
    "SELECT (extract(epoch FROM clock_timestamp() - max(last_lag_calculation_time)) * 1000)"
    "::int8 FROM aurora_global_db_status() WHERE durability_lag_in_msec IS DISTINCT FROM -1"
)


def upstream_ms(aws, region, cid):
    with connect(aws, region, cid, reader=True) as conn:
        return conn.execute(UPSTREAM_SQL).fetchone()[0]


def test_a_secondary_hears_its_primary_until_the_primary_stops(aws, admin, regions):
    """aurora_global_db_status() on the secondary's reader, a cascading standby of its
    writer: fresh while the primary runs, also while its region's RDS API is down (the
    emulator stamps the primary's replication clock as Aurora's replication would), and
    ageing once the primary is frozen, until it is thawed."""
    build(aws, admin, regions)

    def hears():
        v = upstream_ms(aws, WEST, "west")
        return v is not None and v < 2500

    wait_for(hears, timeout=30, what="us-west-2 to hear us-east-1")

    admin.outage(EAST, "5xx", pg="none")
    try:
        samples = []
        for _ in range(12):
            samples.append(upstream_ms(aws, WEST, "west"))
            time.sleep(0.5)
        assert all(v is not None and v < 2500 for v in samples), samples
    finally:
        admin.outage(EAST, "off")

    admin.outage(EAST, "5xx", pg="freeze")
    try:
        wait_for(
            lambda: (upstream_ms(aws, WEST, "west") or 0) > 5000,
            timeout=30,
            what="us-west-2 to stop hearing the frozen us-east-1",
        )
    finally:
        admin.outage(EAST, "off")
    wait_for(hears, timeout=30, what="us-west-2 to hear us-east-1 again")
