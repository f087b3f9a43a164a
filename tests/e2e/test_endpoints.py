"""Endpoints for everyone: after the writer moves, SSM Parameter Store in every
region says where it is (the seed runbook's hidden trap: a global cluster
name captured in a parameter at deploy time), and ECS services are rolled
with forceNewDeployment after DNS is in sync, so no task keeps the old
writer's address.
"""

import json

from conftest import EAST, WEST, aws_client, wait_for

PREFIX = "/orders/db"


def test_switchover_publishes_ssm_and_rolls_ecs(world, controller, emulator, kubectl):
    ecs = aws_client(emulator, "ecs", WEST)
    ecs.create_cluster(clusterName="orders")
    ecs.register_task_definition(
        family="orders-api",
        containerDefinitions=[{"name": "api", "image": "example/orders:1", "memory": 128}],
    )
    ecs.create_service(
        cluster="orders", serviceName="api", taskDefinition="orders-api", desiredCount=1
    )
    since = max(c["seq"] for c in emulator.calls())

    m = world.gdb_manifest(
        ssm={"parameterPrefix": PREFIX},
        workloads={
            "deployments": [{"namespace": world.ns, "name": "orders-api"}],
            "ecsServices": [{"region": WEST, "cluster": "orders", "service": "api"}],
        },
    )
    world.kubectl.apply(m)
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    kubectl(
        "-n",
        world.ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"primaryRegion": WEST}}),
    )

    def switched():
        last = world.status().get("lastOperation") or {}
        assert last.get("type") == "Switchover" and last.get("result") == "Succeeded", last
        return last

    last = wait_for(switched, timeout=120, interval=0.5, what="the switchover")
    assert "PublishSsm" in {s["name"] for s in last["steps"]}

    west = world.cluster(WEST, "orders-west")
    for region in (EAST, WEST):
        ssm = aws_client(emulator, "ssm", region)
        got = {
            p: ssm.get_parameter(Name=f"{PREFIX}/{p}")["Parameter"]["Value"]
            for p in ("primaryRegion", "globalClusterIdentifier", "writerEndpoint")
        }
        assert got == {
            "primaryRegion": WEST,
            "globalClusterIdentifier": "orders-global",
            "writerEndpoint": west["Endpoint"],
        }, (region, got)

    calls = [c for c in emulator.calls() if c["seq"] > since]
    insync = [c for c in calls if c["action"] == "GetChange"]
    roll = [c for c in calls if c["action"] == "UpdateService"]
    assert len(roll) == 1 and roll[0]["region"] == WEST, roll
    assert roll[0]["params"].get("forceNewDeployment") is True, roll[0]["params"]
    assert roll[0]["params"].get("service") == "api"
    assert insync and roll[0]["seq"] > insync[-1]["seq"], "ECS is rolled only after DNS is in sync"
    svc = ecs.describe_services(cluster="orders", services=["api"])["services"][0]
    assert len(svc["deployments"]) >= 1
