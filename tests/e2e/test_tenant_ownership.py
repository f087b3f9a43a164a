"""Ownership in AWS: a GlobalDatabase acts only on what carries its owner tags.

The spec names Aurora clusters and a global cluster by identifier, and the
controller's IAM role can reach every cluster of the account. A tenant who may
create GlobalDatabases must not be able to switch over, fail over or delete a
global database that belongs to someone else, and a recreated object must not
silently inherit its predecessor's resources (docs/api.md, "Ownership").
"""

from conftest import EAST, WEST, wait_for

OWNER_KEY = "globaldb.io/owner"
UID_KEY = "globaldb.io/owner-uid"
# Every RDS call that changes something, tagging included.
MUTATING = {
    "AddTagsToResource",
    "RemoveTagsFromResource",
    "CreateGlobalCluster",
    "CreateDBCluster",
    "CreateDBInstance",
    "ModifyDBCluster",
    "ModifyGlobalCluster",
    "DeleteDBCluster",
    "DeleteDBInstance",
    "DeleteGlobalCluster",
    "RemoveFromGlobalCluster",
    "FailoverGlobalCluster",
    "SwitchoverGlobalCluster",
}


def last_seq(emulator):
    return max((c["seq"] for c in emulator.calls()), default=0)


def mutating_since(emulator, since):
    return [c for c in emulator.calls() if c["seq"] > since and c["action"] in MUTATING]


def arns(world):
    return {
        "orders-global": world.global_cluster("orders-global")["GlobalClusterArn"],
        "orders-east": world.cluster(EAST, "orders-east")["DBClusterArn"],
        "orders-west": world.cluster(WEST, "orders-west")["DBClusterArn"],
    }


def tags(world, arn):
    out = world.rds[EAST].list_tags_for_resource(ResourceName=arn)["TagList"]
    return {t["Key"]: t["Value"] for t in out}


def uid(world):
    return world.gdb()["metadata"]["uid"]


def one_more_reconcile(world, controller):
    """Waits for a reconcile that starts after now (an annotation wakes the object)."""
    n = controller.reconciles()
    world.kubectl(
        "-n", world.ns, "annotate", "globaldatabase", "orders", "--overwrite", f"test/nudge={n}"
    )
    wait_for(lambda: controller.reconciles() > n, timeout=60, what="one more reconcile")


def delete_and_wait(world):
    world.kubectl("-n", world.ns, "delete", "globaldatabase", "orders", "--wait=false")

    def gone():
        items = world.kubectl.json("-n", world.ns, "get", "globaldatabase")["items"]
        assert not [o for o in items if o["metadata"]["name"] == "orders"], "still there"
        return True

    wait_for(gone, timeout=240, interval=0.5, what="the object to be deleted")


def test_a_global_database_tagged_for_another_owner_is_refused(world, controller, emulator):
    a = arns(world)
    theirs = {OWNER_KEY: "billing/ledger", UID_KEY: "0b9d1c7e-0000-4000-8000-000000000002"}
    world.rds[EAST].add_tags_to_resource(
        ResourceName=a["orders-global"], Tags=[{"Key": k, "Value": v} for k, v in theirs.items()]
    )
    since = last_seq(emulator)

    # Asks for a switchover of someone else's global database, with the opt-in set:
    # the opt-in adopts untagged resources, never another owner's.
    world.kubectl.apply(world.gdb_manifest(primaryRegion=WEST))
    c = world.wait_condition("Degraded", "True", "OwnedByAnother", timeout=90)
    assert "billing/ledger" in c["message"] and "orders-global" in c["message"], c
    assert "OwnedByAnother" in world.event_reasons()
    assert not world.status().get("globalClusterIdentifier"), world.status()
    one_more_reconcile(world, controller)

    assert mutating_since(emulator, since) == []
    assert world.writer_region("orders-global") == EAST
    assert tags(world, a["orders-global"]) == theirs
    assert tags(world, a["orders-east"]) == {} and tags(world, a["orders-west"]) == {}


def test_untagged_needs_the_opt_in_then_is_tagged_before_any_other_call(
    world, controller, emulator
):
    a = arns(world)
    since = last_seq(emulator)

    # Without the opt-in: refused before any call, and the message says how to opt in.
    world.kubectl.apply(
        world.gdb_manifest(primaryRegion=WEST, adoption={"policy": "RequireOwnerTag"})
    )
    c = world.wait_condition("Degraded", "True", "AdoptionNotAllowed", timeout=90)
    assert "AdoptUntagged" in c["message"], c
    one_more_reconcile(world, controller)
    assert mutating_since(emulator, since) == []
    assert world.writer_region("orders-global") == EAST

    # The opt-in, as a GitOps commit would change it: adopted, tagged, then switched over.
    world.kubectl.apply(world.gdb_manifest(primaryRegion=WEST))
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=180)
    assert world.writer_region("orders-global") == WEST
    ours = {OWNER_KEY: f"{world.ns}/orders", UID_KEY: uid(world)}
    for name, arn in a.items():
        assert tags(world, arn) == ours, name
    assert "OwnerTagged" in world.event_reasons()

    calls = mutating_since(emulator, since)
    tagged = [c["params"].get("ResourceName") for c in calls if c["action"] == "AddTagsToResource"]
    assert set(tagged) == set(a.values()), tagged
    first_other = next(i for i, c in enumerate(calls) if c["action"] != "AddTagsToResource")
    after = [c["action"] for c in calls[first_other:]]
    assert "AddTagsToResource" not in after, [c["action"] for c in calls]
    assert calls[first_other]["action"] == "SwitchoverGlobalCluster", calls[first_other]


def test_delete_policy_deletes_only_what_carries_the_objects_tags(world, controller, emulator):
    a = arns(world)

    # The first object adopts the global database (deletionPolicy Retain) and goes.
    world.kubectl.apply(world.gdb_manifest())
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
    first = uid(world)
    wait_for(
        lambda: all(tags(world, arn).get(UID_KEY) == first for arn in a.values()),
        timeout=60,
        what="every resource to carry the first object's tags",
    )
    delete_and_wait(world)
    assert tags(world, a["orders-global"])[UID_KEY] == first

    # Recreated under the same name with deletionPolicy Delete: another uid, so the
    # predecessor's resources are not its own. Deleting it deletes nothing.
    since = last_seq(emulator)
    world.kubectl.apply(
        world.gdb_manifest(deletionPolicy="Delete", adoption={"policy": "RequireOwnerTag"})
    )
    c = world.wait_condition("Degraded", "True", "AdoptionNotAllowed", timeout=90)
    assert "earlier object" in c["message"], c
    delete_and_wait(world)
    assert mutating_since(emulator, since) == []
    assert "NotOwnedRetained" in world.event_reasons()
    for name, arn in a.items():
        assert tags(world, arn)[UID_KEY] == first, name

    # Recreated with the opt-in: it takes them over, and its deletion deletes them.
    world.kubectl.apply(world.gdb_manifest(deletionPolicy="Delete"))
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
    third = uid(world)
    wait_for(
        lambda: all(tags(world, arn).get(UID_KEY) == third for arn in a.values()),
        timeout=60,
        what="every resource to carry the third object's tags",
    )
    since = last_seq(emulator)
    delete_and_wait(world)

    with_names = {"orders-global", "orders-east", "orders-west"}
    for c in mutating_since(emulator, since):
        named = {
            c["params"].get(k)
            for k in ("GlobalClusterIdentifier", "DBClusterIdentifier")
            if c["params"].get(k)
        }
        if c["action"] == "DeleteDBInstance":
            named = {c["params"]["DBInstanceIdentifier"].rsplit("-", 1)[0]}
        assert named and named <= with_names, c
    assert world.global_cluster("orders-global") is None
    assert world.cluster(EAST, "orders-east") is None
    assert world.cluster(WEST, "orders-west") is None
