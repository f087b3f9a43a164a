"""Tags on DB clusters and global clusters, as the controller's ownership rules
read and write them (docs/api.md, "Ownership"): Tags on create, TagList in the
Describe answers, and the tagging calls on both kinds of ARN, driven with boto3
against the emulator."""

import botocore.exceptions
import pytest

EAST, WEST = "us-east-1", "us-west-2"
OWNER = [
    {"Key": "globaldb.io/owner", "Value": "shop/orders"},
    {"Key": "globaldb.io/owner-uid", "Value": "6f1c2a3e-0000-4000-8000-000000000001"},
]


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def tags_of(answer):
    return {t["Key"]: t["Value"] for t in answer.get("TagList", [])}


def primary(aws, region=WEST, cid="west", tags=None):
    kw = {
        "DBClusterIdentifier": cid,
        "Engine": "aurora-postgresql",
        "EngineVersion": "15.4",
        "MasterUsername": "admin",
        "MasterUserPassword": "very-secret-pw",
    }
    if tags:
        kw["Tags"] = tags
    return aws("rds", region).create_db_cluster(**kw)["DBCluster"]


def test_create_global_cluster_keeps_its_tags_in_every_answer(aws):
    src = primary(aws)
    gc = aws("rds", WEST).create_global_cluster(
        GlobalClusterIdentifier="gdb", SourceDBClusterIdentifier=src["DBClusterArn"], Tags=OWNER
    )["GlobalCluster"]
    assert gc["GlobalClusterArn"] == "arn:aws:rds::123456789012:global-cluster:gdb"
    want = {t["Key"]: t["Value"] for t in OWNER}
    assert tags_of(gc) == want
    # Describe and ListTagsForResource agree, whichever region is asked.
    for region in (EAST, WEST):
        rds = aws("rds", region)
        assert (
            tags_of(
                rds.describe_global_clusters(GlobalClusterIdentifier="gdb")["GlobalClusters"][0]
            )
            == want
        )
        assert tags_of(rds.list_tags_for_resource(ResourceName=gc["GlobalClusterArn"])) == want


def test_global_cluster_without_a_source_keeps_its_tags(aws):
    gc = aws("rds", EAST).create_global_cluster(
        GlobalClusterIdentifier="empty", Engine="aurora-postgresql", Tags=OWNER[:1]
    )["GlobalCluster"]
    assert tags_of(gc) == {"globaldb.io/owner": "shop/orders"}


def test_tagging_calls_work_on_global_cluster_arns(aws):
    src = primary(aws)
    arn = aws("rds", WEST).create_global_cluster(
        GlobalClusterIdentifier="gdb", SourceDBClusterIdentifier=src["DBClusterArn"]
    )["GlobalCluster"]["GlobalClusterArn"]
    east = aws("rds", EAST)
    assert tags_of(east.describe_global_clusters()["GlobalClusters"][0]) == {}
    east.add_tags_to_resource(ResourceName=arn, Tags=OWNER)
    # Adding the same tags again changes nothing (the controller may retry).
    aws("rds", WEST).add_tags_to_resource(ResourceName=arn, Tags=OWNER)
    got = tags_of(aws("rds", WEST).describe_global_clusters()["GlobalClusters"][0])
    assert got == {t["Key"]: t["Value"] for t in OWNER}
    east.remove_tags_from_resource(ResourceName=arn, TagKeys=["globaldb.io/owner-uid"])
    assert tags_of(east.list_tags_for_resource(ResourceName=arn)) == {
        "globaldb.io/owner": "shop/orders"
    }


def test_cluster_tags_from_create_and_add_show_in_describe(aws):
    c = primary(aws, EAST, "east", tags=OWNER[:1])
    rds = aws("rds", EAST)
    rds.add_tags_to_resource(ResourceName=c["DBClusterArn"], Tags=OWNER[1:])
    got = tags_of(rds.describe_db_clusters(DBClusterIdentifier="east")["DBClusters"][0])
    assert got == {t["Key"]: t["Value"] for t in OWNER}


@pytest.mark.parametrize(
    "arn,fault",
    [
        ("arn:aws:rds:us-east-1:123456789012:cluster:nope", "DBClusterNotFoundFault"),
        ("arn:aws:rds::123456789012:global-cluster:nope", "GlobalClusterNotFoundFault"),
    ],
)
def test_tagging_what_does_not_exist_is_a_not_found_fault(aws, arn, fault):
    rds = aws("rds", EAST)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.add_tags_to_resource(ResourceName=arn, Tags=OWNER)
    assert code(e) == fault
    with pytest.raises(botocore.exceptions.ClientError) as e:
        rds.list_tags_for_resource(ResourceName=arn)
    assert code(e) == fault
