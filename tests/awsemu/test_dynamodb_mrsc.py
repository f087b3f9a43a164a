"""DynamoDB multi-Region strong consistency (MRSC) in the emulator, with boto3:
one table in three regions of a region set, linearizable from each, and the
loss of a region and throttling as the controllers' guard meets them."""

import botocore.exceptions
import pytest

EAST, WEST, THIRD = "us-east-1", "us-west-2", "us-east-2"
TABLE = "gdb-guard"


def err(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def make_mrsc(aws, witness=True):
    """The lease table in us-east-1 with a replica in us-west-2 and a witness
    (or a third replica) in us-east-2, the way the AWS API makes it."""
    ddb = aws("dynamodb", EAST)
    ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    kw = {"ReplicaUpdates": [{"Create": {"RegionName": WEST}}], "MultiRegionConsistency": "STRONG"}
    if witness:
        kw["GlobalTableWitnessUpdates"] = [{"Create": {"RegionName": THIRD}}]
    else:
        kw["ReplicaUpdates"].append({"Create": {"RegionName": THIRD}})
    return ddb.update_table(TableName=TABLE, **kw)["TableDescription"]


def acquire(ddb, epoch_seen, holder):
    """The guard's conditional write: epoch = the value read, raised by one."""
    cond, values = "attribute_not_exists(pk)", {":next": {"N": str(epoch_seen + 1)}}
    if epoch_seen:
        cond = "epoch = :seen"
        values[":seen"] = {"N": str(epoch_seen)}
    ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "lease/ns/db"}},
        UpdateExpression="SET epoch = :next, holder = :h",
        ConditionExpression=cond,
        ExpressionAttributeValues={**values, ":h": {"S": holder}},
    )


def read_lease(ddb):
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "lease/ns/db"}}, ConsistentRead=True)
    return item.get("Item")


def test_one_table_described_from_every_replica_region(aws, admin):
    desc = make_mrsc(aws)
    assert desc["MultiRegionConsistency"] == "STRONG"
    west = aws("dynamodb", WEST).describe_table(TableName=TABLE)["Table"]
    assert west["TableArn"].startswith(f"arn:aws:dynamodb:{WEST}:")
    assert west["MultiRegionConsistency"] == "STRONG"
    assert [r["RegionName"] for r in west["Replicas"]] == [EAST]
    assert west["GlobalTableWitnesses"] == [{"RegionName": THIRD, "WitnessStatus": "ACTIVE"}]
    assert TABLE in aws("dynamodb", WEST).list_tables()["TableNames"]
    # A witness holds no table a client could call.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("dynamodb", THIRD).describe_table(TableName=TABLE)
    assert err(e)[0] == "ResourceNotFoundException"


def test_conditional_write_in_one_region_seen_by_a_consistent_read_in_another(aws, admin):
    make_mrsc(aws)
    east, west = aws("dynamodb", EAST), aws("dynamodb", WEST)
    acquire(west, 0, "west")
    assert read_lease(east)["holder"] == {"S": "west"}
    acquire(east, 1, "east")
    item = read_lease(west)
    assert item["holder"] == {"S": "east"} and item["epoch"] == {"N": "2"}


def test_a_stale_conditional_write_fails(aws, admin):
    make_mrsc(aws, witness=False)
    east, west, third = (aws("dynamodb", r) for r in (EAST, WEST, THIRD))
    acquire(east, 0, "east")
    acquire(third, 1, "third")
    # west still believes epoch 1: its takeover must not land.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        acquire(west, 1, "west")
    assert err(e) == ("ConditionalCheckFailedException", 400)
    assert read_lease(west)["holder"] == {"S": "third"}
    calls = [c for c in admin.calls(service="dynamodb") if c["action"] == "UpdateItem"]
    assert [(c["region"], c["caller"], c["error"]) for c in calls] == [
        (EAST, "AKIDEXAMPLE", None),
        (THIRD, "AKIDEXAMPLE", None),
        (WEST, "AKIDEXAMPLE", "ConditionalCheckFailedException"),
    ]


def test_a_lost_region_refuses_while_the_other_two_keep_working(aws, admin):
    make_mrsc(aws, witness=False)
    admin.outage(EAST, "5xx", pg="none", services=["dynamodb"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        acquire(aws("dynamodb", EAST), 0, "east")
    assert err(e) == ("ServiceUnavailable", 503)
    # The table was created in us-east-1; the other replicas still serve it.
    acquire(aws("dynamodb", WEST), 0, "west")
    assert read_lease(aws("dynamodb", THIRD))["holder"] == {"S": "west"}
    # RDS in the region is not part of a DynamoDB outage.
    aws("rds", EAST).describe_db_clusters()
    log = admin.calls(region=EAST, service="dynamodb")
    assert log[-1]["injected"] == "outage:5xx"

    # A second region lost: no quorum, the last replica refuses writes and
    # strongly consistent reads, as MRSC does; eventual reads still answer.
    admin.outage(THIRD, "5xx", pg="none", services=["dynamodb"])
    west = aws("dynamodb", WEST)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        acquire(west, 1, "west-again")
    assert err(e) == ("InternalServerError", 500)
    item = west.get_item(TableName=TABLE, Key={"pk": {"S": "lease/ns/db"}})["Item"]
    assert item["holder"] == {"S": "west"}

    admin.outage(THIRD, "off")
    admin.outage(EAST, "off")
    acquire(aws("dynamodb", EAST), 1, "east")
    assert read_lease(west)["holder"] == {"S": "east"}


def test_a_lost_region_that_hangs(aws, admin):
    make_mrsc(aws)
    admin.outage(WEST, "hang", pg="none", services=["dynamodb"])
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        read_lease(aws("dynamodb", WEST, read_timeout=1))
    acquire(aws("dynamodb", EAST), 0, "east")
    admin.outage(WEST, "off")
    assert read_lease(aws("dynamodb", WEST))["holder"] == {"S": "east"}


def test_throttling_of_dynamodb_in_one_region(aws, admin):
    make_mrsc(aws)
    admin.post("/throttle", {"fraction": 1, "services": ["dynamodb"], "regions": [WEST], "seed": 1})
    west = aws("dynamodb", WEST)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        acquire(west, 0, "west")
    assert err(e) == ("ThrottlingException", 400)
    assert e.value.response["Error"]["Code"] == "ThrottlingException"
    acquire(aws("dynamodb", EAST), 0, "east")  # other regions are not throttled
    admin.post("/throttle", {"fraction": 0})
    acquire(west, 1, "west")
    assert read_lease(west)["epoch"] == {"N": "2"}
    throttled = [c for c in admin.calls(service="dynamodb") if c["injected"] == "throttle"]
    assert [(c["region"], c["action"]) for c in throttled] == [(WEST, "UpdateItem")]


def test_mrsc_is_made_the_way_aws_allows(aws, admin):
    ddb = aws("dynamodb", EAST)
    ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    cases = [
        # two regions only
        {"ReplicaUpdates": [{"Create": {"RegionName": WEST}}], "MultiRegionConsistency": "STRONG"},
        # a region outside the region set
        {
            "ReplicaUpdates": [
                {"Create": {"RegionName": WEST}},
                {"Create": {"RegionName": "eu-west-1"}},
            ],
            "MultiRegionConsistency": "STRONG",
        },
        # eventual consistency is not emulated
        {
            "ReplicaUpdates": [
                {"Create": {"RegionName": WEST}},
                {"Create": {"RegionName": THIRD}},
            ],
            "MultiRegionConsistency": "EVENTUAL",
        },
    ]
    for kw in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ddb.update_table(TableName=TABLE, **kw)
        assert err(e) == ("ValidationException", 400), kw
    # Not empty: MRSC needs an empty table.
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "x"}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        make_mrsc_update(ddb)
    assert err(e) == ("ValidationException", 400)
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "x"}})
    make_mrsc_update(ddb)
    # A table with replicas is not deleted before its replicas are.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aws("dynamodb", WEST).delete_table(TableName=TABLE)
    assert err(e) == ("ValidationException", 400)
    assert admin.get("/dynamodb/mrsc")["tables"] == [
        {"table": TABLE, "home": EAST, "replicas": [EAST, WEST, THIRD], "witnesses": []}
    ]


def make_mrsc_update(ddb):
    ddb.update_table(
        TableName=TABLE,
        ReplicaUpdates=[{"Create": {"RegionName": WEST}}, {"Create": {"RegionName": THIRD}}],
        MultiRegionConsistency="STRONG",
    )
