"""Every extended RDS action driven with boto3 (the reference client) against
the emulator, plus outages, throttling and the call log.  No PostgreSQL here."""

import botocore.exceptions
import pytest

from conftest import wait_for

EAST, WEST = "us-east-1", "us-west-2"


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


def make_cluster(aws, region, cid, global_id=None, instances=1):
    rds = aws("rds", region)
    kw = {"DBClusterIdentifier": cid, "Engine": "aurora-postgresql", "EngineVersion": "15.4"}
    if global_id:
        kw["GlobalClusterIdentifier"] = global_id
    else:
        kw.update(MasterUsername="admin", MasterUserPassword="very-secret-pw")
    c = rds.create_db_cluster(**kw)["DBCluster"]
    for i in range(instances):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{cid}-{i}",
            DBClusterIdentifier=cid,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    return c["DBClusterArn"]


def two_region(aws, gid="gdb"):
    """A global database with its primary in us-west-2 and a secondary in us-east-1."""
    west = make_cluster(aws, WEST, "west")
    aws("rds", WEST).create_global_cluster(
        GlobalClusterIdentifier=gid, SourceDBClusterIdentifier=west
    )
    east = make_cluster(aws, EAST, "east", global_id=gid)
    return west, east


def describe(aws, gid="gdb", region=EAST):
    return aws("rds", region).describe_global_clusters(GlobalClusterIdentifier=gid)[
        "GlobalClusters"
    ][0]


def members(gc):
    return {m["DBClusterArn"]: m for m in gc["GlobalClusterMembers"]}


def test_create_global_cluster_from_a_source_outside_us_east_1(aws):
    west, east = two_region(aws)
    gc = describe(aws, region=WEST)
    assert gc["GlobalClusterIdentifier"] == "gdb"
    assert gc["Engine"] == "aurora-postgresql"
    assert gc["Status"] == "available"
    assert "FailoverState" not in gc
    m = members(gc)
    assert m[west]["IsWriter"] is True and m[west]["Readers"] == [east]
    assert m[east]["IsWriter"] is False
    assert {x["SynchronizationStatus"] for x in m.values()} == {"connected"}
    c = aws("rds", WEST).describe_db_clusters(DBClusterIdentifier="west")["DBClusters"][0]
    assert c["GlobalClusterIdentifier"] == "gdb"


def test_create_global_cluster_rejects_inherited_settings_and_duplicates(aws):
    west = make_cluster(aws, WEST, "west")
    rds = aws("rds", WEST)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.create_global_cluster(
            GlobalClusterIdentifier="g", SourceDBClusterIdentifier=west, Engine="aurora-postgresql"
        )
    assert err(e) == ("InvalidParameterCombination", 400)
    rds.create_global_cluster(GlobalClusterIdentifier="g", SourceDBClusterIdentifier=west)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.create_global_cluster(GlobalClusterIdentifier="g", Engine="aurora-postgresql")
    assert err(e) == ("GlobalClusterAlreadyExistsFault", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.create_global_cluster(GlobalClusterIdentifier="g2", SourceDBClusterIdentifier=west)
    assert err(e) == ("InvalidDBClusterStateFault", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.create_global_cluster(
            GlobalClusterIdentifier="g3",
            SourceDBClusterIdentifier=west.replace(":cluster:west", ":cluster:nope"),
        )
    assert err(e) == ("DBClusterNotFoundFault", 404)


def test_secondary_without_the_global_engine_version_is_refused(aws):
    """Real RDS takes the region's default version when EngineVersion is omitted and refuses
    a secondary whose version differs from the global cluster's (aws/aws-cli#8139): a
    secondary must name the global cluster's version."""
    west = make_cluster(aws, WEST, "west")
    rds = aws("rds", EAST)
    aws("rds", WEST).create_global_cluster(
        GlobalClusterIdentifier="g", SourceDBClusterIdentifier=west
    )
    for version in (None, "16.1"):
        kw = {
            "DBClusterIdentifier": "east",
            "Engine": "aurora-postgresql",
            "GlobalClusterIdentifier": "g",
        }
        if version:
            kw["EngineVersion"] = version
        with pytest.raises(botocore.exceptions.ClientError) as e:
            rds.create_db_cluster(**kw)
        assert err(e) == ("InvalidParameterValue", 400)
        assert e.value.response["Error"]["Message"] == (
            "Value for engineVersion should match setting for global cluster g"
        )
    assert rds.describe_db_clusters()["DBClusters"] == []
    assert make_cluster(aws, EAST, "east", global_id="g")
    assert len(describe(aws, gid="g")["GlobalClusterMembers"]) == 2


def test_describe_global_clusters_honours_identifier_filter_and_pages(aws):
    two_region(aws)
    rds = aws("rds", EAST)
    for i in range(25):
        rds.create_global_cluster(
            GlobalClusterIdentifier=f"empty-{i:02d}", Engine="aurora-postgresql"
        )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.describe_global_clusters(GlobalClusterIdentifier="missing")
    assert err(e) == ("GlobalClusterNotFoundFault", 404)
    assert [
        g["GlobalClusterIdentifier"]
        for g in rds.describe_global_clusters(GlobalClusterIdentifier="GDB")["GlobalClusters"]
    ] == ["gdb"]
    by_region = rds.describe_global_clusters(Filters=[{"Name": "region", "Values": [WEST]}])[
        "GlobalClusters"
    ]
    assert [g["GlobalClusterIdentifier"] for g in by_region] == ["gdb"]
    first = rds.describe_global_clusters(MaxRecords=20)
    assert len(first["GlobalClusters"]) == 20 and "Marker" in first
    rest = rds.describe_global_clusters(MaxRecords=20, Marker=first["Marker"])
    assert len(rest["GlobalClusters"]) == 6 and "Marker" not in rest


def test_secondary_create_shows_creating_then_available(aws, admin):
    admin.delays(cluster_create=3)
    west = make_cluster(aws, WEST, "west")
    rds = aws("rds", WEST)
    assert (
        rds.describe_db_clusters(DBClusterIdentifier="west")["DBClusters"][0]["Status"]
        == "creating"
    )
    wait_for(
        lambda: (
            rds.describe_db_clusters(DBClusterIdentifier="west")["DBClusters"][0]["Status"]
            == "available"
        ),
        what="west available",
    )
    rds.create_global_cluster(GlobalClusterIdentifier="gdb", SourceDBClusterIdentifier=west)
    east = make_cluster(aws, EAST, "east", global_id="gdb")
    assert members(describe(aws))[east]["SynchronizationStatus"] == "pending-resync"
    wait_for(
        lambda: members(describe(aws))[east]["SynchronizationStatus"] == "connected",
        what="east connected",
    )
    assert (
        aws("rds", EAST).describe_db_clusters(DBClusterIdentifier="east")["DBClusters"][0]["Status"]
        == "available"
    )


def observe(aws, region, until, gid="gdb", timeout=20):
    """Poll DescribeGlobalClusters; the distinct (Status, FailoverState.Status) seen."""
    seen = []

    def step():
        gc = describe(aws, gid, region)
        key = (gc["Status"], gc.get("FailoverState", {}).get("Status"))
        if not seen or seen[-1] != key:
            seen.append(key)
        return until(gc) and gc

    gc = wait_for(step, timeout=timeout, interval=0.02, what="operation to finish")
    return seen, gc


def test_switchover_plays_the_documented_sequence(aws, admin):
    west, east = two_region(aws)
    admin.delays(failover_pending=1, failover_run=1, failover_finish=1)
    gc = aws("rds", WEST).switchover_global_cluster(
        GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=east
    )["GlobalCluster"]
    assert gc["Status"] == "switching-over"
    assert gc["FailoverState"] == {
        "Status": "pending",
        "FromDbClusterArn": west,
        "ToDbClusterArn": east,
        "IsDataLossAllowed": False,
    }
    seen, gc = observe(aws, EAST, lambda g: "FailoverState" not in g)
    assert seen == [
        ("switching-over", "pending"),
        ("switching-over", "switching-over"),
        ("available", None),
    ]
    m = members(gc)
    assert m[east]["IsWriter"] is True and m[west]["IsWriter"] is False
    assert m[east]["Readers"] == [west]
    assert {x["SynchronizationStatus"] for x in m.values()} == {"connected"}


def test_failover_global_cluster_without_flags_is_a_switchover(aws):
    west, east = two_region(aws)
    gc = aws("rds", EAST).failover_global_cluster(
        GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=east, Switchover=True
    )["GlobalCluster"]
    assert gc["FailoverState"]["IsDataLossAllowed"] is False
    gc = wait_for(lambda: (g := describe(aws)) and "FailoverState" not in g and g)
    assert members(gc)[east]["IsWriter"] is True


def test_managed_failover_then_re_add_of_the_old_primary(aws, admin):
    west, east = two_region(aws)
    admin.delays(failover_pending=1, failover_run=1, failover_finish=1, resync=0.6)
    admin.outage(WEST, "5xx")
    gc = aws("rds", EAST).failover_global_cluster(
        GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=east, AllowDataLoss=True
    )["GlobalCluster"]
    assert gc["Status"] == "failing-over"
    assert gc["FailoverState"]["IsDataLossAllowed"] is True
    seen, gc = observe(aws, EAST, lambda g: "FailoverState" not in g)
    assert seen == [
        ("failing-over", "pending"),
        ("failing-over", "failing-over"),
        ("available", None),
    ]
    m = members(gc)
    assert m[east]["IsWriter"] is True
    assert m[west]["IsWriter"] is False
    assert m[west]["SynchronizationStatus"] == "pending-resync"
    # While the old primary's region is down it stays pending-resync.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("rds", EAST).switchover_global_cluster(
            GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=west
        )
    assert err(e) == ("InvalidGlobalClusterStateFault", 400)
    admin.outage(WEST, "off")
    wait_for(
        lambda: members(describe(aws))[west]["SynchronizationStatus"] == "connected", what="re-add"
    )
    snaps = aws("rds", WEST).describe_db_cluster_snapshots(DBClusterIdentifier="west")[
        "DBClusterSnapshots"
    ]
    assert any(
        s["DBClusterSnapshotIdentifier"].startswith("rds:unplanned-global-failover-west-")
        for s in snaps
    )


def test_operation_preconditions_answer_the_real_faults(aws, admin):
    west, east = two_region(aws)
    rds = aws("rds", EAST)
    cases = [
        (
            dict(
                GlobalClusterIdentifier="gdb",
                TargetDbClusterIdentifier=east,
                AllowDataLoss=True,
                Switchover=True,
            ),
            "InvalidParameterCombination",
            400,
        ),
        (
            dict(GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=west),
            "InvalidParameterValue",
            400,
        ),
        (
            dict(GlobalClusterIdentifier="nope", TargetDbClusterIdentifier=east),
            "GlobalClusterNotFoundFault",
            404,
        ),
        (
            dict(
                GlobalClusterIdentifier="gdb",
                TargetDbClusterIdentifier=east.replace(":cluster:east", ":cluster:ghost"),
            ),
            "DBClusterNotFoundFault",
            404,
        ),
    ]
    for kw, code, status in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            rds.failover_global_cluster(**kw)
        assert err(e) == (code, status), kw
    # A headless target (no DB instance) cannot be promoted.
    make_cluster(aws, "eu-west-1", "headless", global_id="gdb", instances=0)
    headless = aws("rds", "eu-west-1").describe_db_clusters(DBClusterIdentifier="headless")[
        "DBClusters"
    ][0]["DBClusterArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=headless
        )
    assert err(e) == ("InvalidDBClusterStateFault", 400)
    # A second operation while one runs.
    admin.delays(failover_pending=5)
    rds.switchover_global_cluster(GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=east)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.failover_global_cluster(
            GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=east, AllowDataLoss=True
        )
    assert err(e) == ("InvalidGlobalClusterStateFault", 400)


def test_switchover_of_an_unhealthy_global_cluster_fails(aws, admin):
    west, east = two_region(aws)
    admin.outage(WEST, "hang")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("rds", EAST).switchover_global_cluster(
            GlobalClusterIdentifier="gdb", TargetDbClusterIdentifier=east
        )
    assert err(e) == ("InvalidGlobalClusterStateFault", 400)
    assert "FailoverState" not in describe(aws)


def test_remove_from_global_cluster_in_any_region(aws, admin):
    west, east = two_region(aws)
    admin.delays(cluster_promote=2)
    rds = aws("rds", EAST)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.remove_from_global_cluster(GlobalClusterIdentifier="gdb", DbClusterIdentifier=west)
    assert err(e) == ("InvalidGlobalClusterStateFault", 400)  # the primary, secondaries left
    gc = rds.remove_from_global_cluster(GlobalClusterIdentifier="gdb", DbClusterIdentifier=east)[
        "GlobalCluster"
    ]
    assert [m["DBClusterArn"] for m in gc["GlobalClusterMembers"]] == [west]
    assert (
        rds.describe_db_clusters(DBClusterIdentifier="east")["DBClusters"][0]["Status"]
        == "promoting"
    )
    wait_for(
        lambda: (
            rds.describe_db_clusters(DBClusterIdentifier="east")["DBClusters"][0]["Status"]
            == "available"
        ),
        what="east available",
    )
    c = rds.describe_db_clusters(DBClusterIdentifier="east")["DBClusters"][0]
    assert "GlobalClusterIdentifier" not in c
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.remove_from_global_cluster(GlobalClusterIdentifier="gdb", DbClusterIdentifier=east)
    assert err(e) == ("InvalidParameterValue", 400)


def test_delete_db_cluster_refuses_global_members(aws):
    west, east = two_region(aws)
    rds = aws("rds", EAST)
    rds.delete_db_instance(DBInstanceIdentifier="east-0", SkipFinalSnapshot=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.delete_db_cluster(DBClusterIdentifier="east", SkipFinalSnapshot=True)
    assert err(e) == ("InvalidDBClusterStateFault", 400)
    rds.remove_from_global_cluster(GlobalClusterIdentifier="gdb", DbClusterIdentifier=east)
    rds.delete_db_cluster(DBClusterIdentifier="east", SkipFinalSnapshot=True)
    assert [m["DBClusterArn"] for m in describe(aws)["GlobalClusterMembers"]] == [west]


def test_modify_db_cluster_shows_modifying(aws, admin):
    make_cluster(aws, WEST, "west")
    admin.delays(cluster_modify=2)
    rds = aws("rds", WEST)
    rds.modify_db_cluster(
        DBClusterIdentifier="west", DeletionProtection=False, ApplyImmediately=True
    )
    assert (
        rds.describe_db_clusters(DBClusterIdentifier="west")["DBClusters"][0]["Status"]
        == "modifying"
    )
    wait_for(
        lambda: (
            rds.describe_db_clusters(DBClusterIdentifier="west")["DBClusters"][0]["Status"]
            == "available"
        ),
        what="available after modify",
    )


def test_outage_modes_fail_calls_signed_for_that_region_only(aws, admin):
    make_cluster(aws, WEST, "west")
    admin.outage(WEST, "5xx")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("rds", WEST).describe_db_clusters()
    assert err(e) == ("ServiceUnavailable", 503)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("ssm", WEST).get_parameter(Name="x")
    assert err(e) == ("ServiceUnavailable", 503)
    assert aws("rds", EAST).describe_db_clusters()["DBClusters"] == []
    admin.outage(WEST, "reset")
    with pytest.raises(
        (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)
    ):
        aws("rds", WEST).describe_db_clusters()
    admin.outage(WEST, "hang")
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        aws("rds", WEST, read_timeout=1).describe_db_clusters()
    admin.outage(WEST, "off")
    assert len(aws("rds", WEST).describe_db_clusters()["DBClusters"]) == 1
    injected = [c["injected"] for c in admin.calls(region=WEST)][-5:]
    assert injected == ["outage:5xx", "outage:5xx", "outage:reset", "outage:hang", None]


def test_outage_can_be_limited_to_services(aws, admin):
    admin.outage(EAST, "5xx", services=["rds"])
    with pytest.raises(botocore.exceptions.ClientError):
        aws("rds", EAST).describe_db_clusters()
    aws("ssm", EAST).put_parameter(Name="/app/region", Value=WEST, Type="String")


def test_throttling_uses_each_protocols_wire_format(aws, admin):
    admin.post("/throttle", {"fraction": 1.0, "count": 3})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("rds", EAST).describe_global_clusters()
    assert err(e) == ("Throttling", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("ssm", EAST).get_parameter(Name="x")
    assert err(e) == ("ThrottlingException", 400), admin.calls()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("route53", EAST).list_hosted_zones()
    assert err(e) == ("Throttling", 400)
    # count exhausted: calls go through again
    assert aws("rds", EAST).describe_global_clusters()["GlobalClusters"] == []


def test_throttling_can_wait_for_a_trigger_call(aws, admin):
    """Every Describe of the detached secondary's region throttled from the detach on."""
    west, east = two_region(aws)
    admin.post(
        "/throttle",
        {
            "fraction": 1.0,
            "after": "RemoveFromGlobalCluster",
            "afterSameRegion": True,
            "actions": ["DescribeDBClusters"],
        },
    )
    aws("rds", EAST).describe_db_clusters()  # not armed yet
    assert admin.get("/throttle")["throttle"]["armed"] is False
    aws("rds", EAST).remove_from_global_cluster(
        GlobalClusterIdentifier="gdb", DbClusterIdentifier=east
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("rds", EAST).describe_db_clusters()
    assert err(e) == ("Throttling", 400)
    assert aws("rds", WEST).describe_db_clusters()["DBClusters"]  # only the trigger's region
    assert aws("rds", EAST).describe_global_clusters()["GlobalClusters"]  # only the actions named
    t = admin.get("/throttle")["throttle"]
    assert t["armed"] is True and t["regions"] == [EAST]
    admin.post("/throttle", {"fraction": 0})
    assert aws("rds", EAST).describe_db_clusters()["DBClusters"]


def test_throttling_fraction_is_honoured(aws, admin):
    admin.post("/throttle", {"fraction": 0.5, "seed": 7, "services": ["rds"]})
    rds = aws("rds", EAST)
    throttled = 0
    for _ in range(60):
        try:
            rds.describe_global_clusters()
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "Throttling"
            throttled += 1
    assert 15 <= throttled <= 45


def test_call_log_records_action_region_params_without_secrets(aws, admin):
    west, east = two_region(aws)
    aws("secretsmanager", WEST).create_secret(Name="db", SecretString='{"password":"hunter2"}')
    r53 = aws("route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="r1")["HostedZone"]["Id"]
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "db.example.com.",
                        "Type": "CNAME",
                        "TTL": 5,
                        "ResourceRecords": [{"Value": "localhost"}],
                    },
                }
            ]
        },
    )
    calls = admin.calls()
    change = next(c for c in calls if c["action"] == "ChangeResourceRecordSets")
    assert change["service"] == "route53" and change["region"] == EAST
    assert "db.example.com." in change["params"]["body"]
    create = next(c for c in calls if c["action"] == "CreateDBCluster" and c["region"] == WEST)
    assert create["service"] == "rds"
    assert create["params"]["DBClusterIdentifier"] == "west"
    assert create["params"]["MasterUserPassword"] == "***"
    assert create["status"] == 200
    g = next(c for c in calls if c["action"] == "CreateGlobalCluster")
    assert g["params"]["SourceDBClusterIdentifier"] == west and g["region"] == WEST
    sec = next(c for c in calls if c["action"] == "CreateSecret")
    assert sec["params"]["SecretString"] == "***" and sec["service"] == "secretsmanager"
    assert "hunter2" not in str(calls) and "very-secret-pw" not in str(calls)
    seqs = [c["seq"] for c in calls]
    assert seqs == sorted(seqs)
    assert [c["action"] for c in admin.get(f"/calls?since={seqs[-2]}")["calls"]] == [
        "ChangeResourceRecordSets"
    ]
    admin.post("/calls/reset")
    assert admin.calls() == []


def test_config_sets_delays_and_rejects_unknown_ones(admin):
    import urllib.error

    assert admin.post("/config", {"delays": "default"})["delays"]["cluster_create"] == 3.0
    assert admin.post("/config", {"delays": "fast"})["delays"]["cluster_create"] == 0.0
    with pytest.raises(urllib.error.HTTPError) as e:
        admin.post("/config", {"delays": {"no_such_delay": 1}})
    assert e.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as e:
        admin.post("/outage", {"region": EAST, "mode": "meltdown"})
    assert e.value.code == 400


def test_describe_db_clusters_pages_as_aws_does(aws):
    rds = aws("rds", EAST)
    for i in range(23):
        rds.create_db_cluster(
            DBClusterIdentifier=f"page-{i:02d}",
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            MasterUsername="admin",
            MasterUserPassword="very-secret-pw",
        )
    first = rds.describe_db_clusters(MaxRecords=20)
    assert [c["DBClusterIdentifier"] for c in first["DBClusters"]] == [
        f"page-{i:02d}" for i in range(20)
    ]
    rest = rds.describe_db_clusters(MaxRecords=20, Marker=first["Marker"])
    assert [c["DBClusterIdentifier"] for c in rest["DBClusters"]] == [
        "page-20",
        "page-21",
        "page-22",
    ]
    assert "Marker" not in rest
    assert len(rds.describe_db_clusters()["DBClusters"]) == 23  # default page: 100
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.describe_db_clusters(MaxRecords=5)
    assert err(e) == ("InvalidParameterValue", 400)


def test_describe_cache_is_opt_in_and_cleared_by_any_change(aws, admin):
    rds = aws("rds", EAST)
    make_cluster(aws, EAST, "cached", instances=0)
    admin.post("/config", {"describeCacheSeconds": 60})
    try:
        admin.post("/calls/reset")
        before = rds.describe_db_clusters(DBClusterIdentifier="cached")["DBClusters"][0]
        again = rds.describe_db_clusters(DBClusterIdentifier="cached")["DBClusters"][0]
        assert again == before
        log = admin.get("/calls")["calls"]
        assert [c.get("cached") for c in log] == [None, True]
        # A change answers the next Describe fresh: a cache never hides a write.
        rds.modify_db_cluster(
            DBClusterIdentifier="cached", DeletionProtection=True, ApplyImmediately=True
        )
        after = rds.describe_db_clusters(DBClusterIdentifier="cached")["DBClusters"][0]
        assert after["DeletionProtection"] is True
    finally:
        admin.post("/config", {"describeCacheSeconds": 0})


def test_container_credentials_endpoint_serves_short_lived_keys_or_fails(admin):
    import json
    import time
    import urllib.error
    import urllib.request
    from datetime import datetime

    url = admin.url + "/_awsemu/container-credentials"
    try:
        st = admin.post("/container-credentials/config", {"ttlSeconds": 120})
        assert st["containerCredentials"]["mode"] == "ok"
        with urllib.request.urlopen(url, timeout=10) as r:
            keys = json.loads(r.read())
        assert keys["AccessKeyId"].startswith("ASIAEMU") and keys["SecretAccessKey"]
        assert keys["Token"]
        left = datetime.fromisoformat(keys["Expiration"].replace("Z", "+00:00")).timestamp()
        assert 100 <= left - time.time() <= 121, keys["Expiration"]

        admin.post("/container-credentials/config", {"mode": "5xx"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=10)
        assert e.value.code == 503
        st = admin.get("/container-credentials/config")["containerCredentials"]
        assert (st["requests"], st["served"], st["held"]) == (2, 1, 0)

        for bad in ({"mode": "sometimes"}, {"ttlSeconds": 0}):
            with pytest.raises(urllib.error.HTTPError) as e:
                admin.post("/container-credentials/config", bad)
            assert e.value.code == 400
    finally:
        admin.post("/reset")
    assert admin.get("/container-credentials/config")["containerCredentials"]["requests"] == 0
