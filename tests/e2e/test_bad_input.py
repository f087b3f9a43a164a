"""What only the controller can know is wrong, and what many objects cost.

The API server rejects malformed manifests (tests/globaldb has those); these
are the mistakes a schema cannot see: a Secret without the password key, a
DB cluster that does not exist. Each is reported in the conditions with the
reason and an Event, and no AWS write is made. Then: ten GlobalDatabases in
the same regions cost about the Describe calls of one, because the
observation is cached per region, not per object.
"""

import json

from conftest import AWS_WRITES, CLUSTER_IDS, EAST, WEST, aws_client, wait_for


def writes_since(emulator, since):
    return [c for c in emulator.calls() if c["seq"] > since and c["action"] in AWS_WRITES]


def test_controller_side_mistakes_and_shared_observation(world, controller, emulator, kubectl):
    ns = world.ns
    since = max(c["seq"] for c in emulator.calls())

    # A Secret without the password key: said in the conditions, no AWS write.
    kubectl("-n", ns, "create", "secret", "generic", "no-password", "--from-literal=username=x")
    m = world.gdb_manifest(healthCheck={"credentialsSecretRef": {"name": "no-password"}})
    world.kubectl.apply(m)
    c = world.wait_condition("Ready", "False", "ProbeCredentialsUnavailable", timeout=60)
    assert "has no key password" in c["message"], c
    assert world.condition("Degraded")["reason"] == "ProbeCredentialsUnavailable"
    assert "ProbeCredentialsUnavailable" in world.event_reasons()
    assert not writes_since(emulator, since)

    # The fix is picked up without restarting anything.
    kubectl(
        "-n",
        ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"healthCheck": {"credentialsSecretRef": {"name": "pg-probe"}}}}),
    )
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)

    # A primary cluster that does not exist: reported, nothing created.
    ghost = world.gdb_manifest(globalClusterIdentifier="ghost-global")
    ghost["metadata"]["name"] = "ghost"
    ghost["spec"]["regions"][0]["dbClusterIdentifier"] = "ghost-east"
    ghost["spec"]["regions"][1]["dbClusterIdentifier"] = "ghost-west"
    world.kubectl.apply(ghost)

    def ghost_degraded():
        st = kubectl.json("-n", ns, "get", "globaldatabase", "ghost").get("status", {})
        c = next((c for c in st.get("conditions", []) if c["type"] == "Degraded"), None)
        assert c and c["status"] == "True" and c["reason"] == "PrimaryClusterNotFound", c
        return c

    c = wait_for(ghost_degraded, timeout=60, what="ghost to report PrimaryClusterNotFound")
    assert "ghost-east" in c["message"]
    assert not writes_since(emulator, since)

    # Ten more objects in the same regions share one observation per region.
    base = max(c["seq"] for c in emulator.calls())
    n0 = controller.reconciles()
    items = []
    for i in range(10):
        g = json.loads(json.dumps(ghost))
        g["metadata"]["name"] = f"many-{i}"
        items.append(g)
    world.kubectl.apply({"apiVersion": "v1", "kind": "List", "items": items})

    def all_observed():
        out = kubectl.json("-n", ns, "get", "globaldatabase")
        seen = [
            o
            for o in out["items"]
            if o["metadata"]["name"].startswith("many-")
            and o.get("status", {}).get("observedGeneration")
        ]
        return len(seen) == 10

    wait_for(all_observed, timeout=90, what="all ten objects to be reconciled")
    n1 = controller.reconciles()
    calls = [c for c in emulator.calls() if c["seq"] > base]
    for region in (EAST, WEST):
        describes = [
            c for c in calls if c["action"] == "DescribeDBClusters" and c["region"] == region
        ]
        # At least one reconcile per new object, but far fewer Describe rounds.
        assert n1 - n0 >= 10
        assert len(describes) <= (n1 - n0) / 2, (region, len(describes), n1 - n0)
    assert not writes_since(emulator, since)

    # deletionPolicy Retain (the default): deleting the resource never touches AWS;
    # the controller removes its finalizer and Kubernetes deletes the object.
    kubectl("-n", ns, "delete", "globaldatabase", "ghost", "orders", "--wait=false")

    def gone():
        out = kubectl.json("-n", ns, "get", "globaldatabase")
        names = {o["metadata"]["name"] for o in out["items"]}
        assert not names & {"ghost", "orders"}, names
        return True

    wait_for(gone, timeout=60, what="the deleted objects to go")
    assert not writes_since(emulator, since)
    assert world.cluster(EAST, "orders-east") and world.global_cluster("orders-global")

    # The same clusters adopted again by a resource whose probe credentials live in
    # AWS Secrets Manager (the RDS-managed master user secret's JSON shape).
    sm = aws_client(emulator, "secretsmanager", EAST)
    sm.create_secret(
        Name="orders/probe",
        SecretString=json.dumps(
            {"username": "postgres", "password": world.password, "engine": "postgres"}
        ),
    )
    m = world.gdb_manifest(healthCheck={"awsSecretsManagerSecretId": "orders/probe"})
    del m["spec"]["healthCheck"]["credentialsSecretRef"]
    m["metadata"]["name"] = "orders-sm"
    world.kubectl.apply(m)
    # The clusters still carry the deleted object's owner tags (Retain keeps them):
    # another object is refused until an operator releases them (docs/api.md).
    sm_gdb = world.named("orders-sm")
    sm_gdb.wait_condition("Degraded", "True", "OwnedByAnother", timeout=60)
    owned = [(WEST, world.global_cluster("orders-global")["GlobalClusterArn"])] + [
        (r, world.cluster(r, CLUSTER_IDS[r])["DBClusterArn"]) for r in (EAST, WEST)
    ]
    for region, arn in owned:
        world.rds[region].remove_tags_from_resource(
            ResourceName=arn, TagKeys=["globaldb.io/owner", "globaldb.io/owner-uid"]
        )

    def sm_ready():
        st = kubectl.json("-n", ns, "get", "globaldatabase", "orders-sm").get("status", {})
        conds = {c["type"]: (c["status"], c["reason"]) for c in st.get("conditions", [])}
        assert conds.get("PrimaryHealthy") == ("True", "WriterProbesSucceeding"), conds
        assert conds.get("Ready") == ("True", "WriterInDesiredRegion"), conds
        return st

    wait_for(sm_ready, timeout=90, what="orders-sm to probe with the Secrets Manager credentials")
    assert [c for c in emulator.calls() if c["action"] == "GetSecretValue"]
    assert not writes_since(emulator, since)
