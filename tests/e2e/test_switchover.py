"""Adopt an existing global database, then move the writer by editing the spec.

The seed runbook's steps 1-6: the infrastructure exists (created with boto3
as CloudFormation would), the controller adopts it without creating
anything, and a `kubectl patch` of spec.primaryRegion does the planned
failover the runbook's Lambda did, followed by DNS and restarts, with not a
single row lost.
"""

import json
import subprocess
import tempfile

from conftest import EAST, WEST, metric_value, wait_for
from waiting import wait_lag_measured

# What the probes measure: it may change between two rounds of a settled object.
PROBE_MEASURES = (
    "lastProbeTime",
    "heartbeatSeq",
    "heartbeatTime",
    "replicationLagSeconds",
    "consecutiveFailures",
)


def without_probe_measures(status):
    status = json.loads(json.dumps(status))
    status.pop("maxReplicationLagSeconds", None)
    for region in status.get("regions", []):
        for field in PROBE_MEASURES:
            region.pop(field, None)
    return status


MUTATING = {
    "CreateGlobalCluster",
    "CreateDBCluster",
    "CreateDBInstance",
    "DeleteDBCluster",
    "DeleteDBInstance",
    "DeleteGlobalCluster",
    "RemoveFromGlobalCluster",
    "FailoverGlobalCluster",
    "SwitchoverGlobalCluster",
}


def parse_versions(text):
    """The objects of a `kubectl get -w -o json` stream, in order."""
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        try:
            obj, i = dec.raw_decode(text, i)
        except ValueError:  # a last object cut off by terminate()
            return out
        out.append(obj)


def test_adopt_then_switchover_by_editing_the_primary(world, controller, emulator, kubectl):
    setup_calls = emulator.calls()
    since = max(c["seq"] for c in setup_calls)

    # Every version of the object, from a watch started before it exists.
    out = tempfile.TemporaryFile(mode="a+")  # appends wherever the reader has seeked
    watch = subprocess.Popen(
        [
            kubectl.bin,
            "--kubeconfig",
            kubectl.kubeconfig,
            "-n",
            world.ns,
            "get",
            "globaldatabases",
            "-w",
            "-o",
            "json",
        ],
        stdout=out,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    world.kubectl.apply(world.gdb_manifest())
    ready = world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    # The first status already carries the probes' verdicts: it waited for
    # them instead of being written once as "not probed yet" and again a
    # moment later.
    rv = world.gdb()["metadata"]["resourceVersion"]

    def versions():
        out.seek(0)
        return parse_versions(out.read())

    wait_for(
        lambda: any(v["metadata"]["resourceVersion"] == rv for v in versions()),
        timeout=30,
        what="the watch to see the Ready version",
    )
    watch.terminate()
    watch.wait()
    statuses = [v["status"] for v in versions() if v.get("status")]
    out.close()
    assert statuses, "the watch saw no status"
    first = {c["type"]: c for c in statuses[0]["conditions"]}
    assert first["PrimaryHealthy"]["status"] == "True", statuses[0]["conditions"]
    st = world.status()
    assert st["globalClusterIdentifier"] == "orders-global"
    assert st["currentPrimaryRegion"] == EAST
    roles = {r["name"]: r["role"] for r in st["regions"]}
    assert roles == {EAST: "Primary", WEST: "Secondary"}
    assert "Adopted" in world.event_reasons()
    # Adoption creates nothing: no mutating RDS call at all.
    adopted_calls = [c for c in emulator.calls() if c["seq"] > since]
    assert not [c for c in adopted_calls if c["action"] in MUTATING]
    world.wait_condition("PrimaryHealthy", "True", "WriterProbesSucceeding", timeout=30)
    assert ready["observedGeneration"] == world.gdb()["metadata"]["generation"]
    # The finalizer protects the AWS resources' bookkeeping.
    assert "globaldb.io/finalizer" in world.gdb()["metadata"]["finalizers"]

    # Replication lag is measured on the secondary (heartbeat), not assumed.
    wait_lag_measured(world, WEST)
    # Adoption ends when every resource carries the owner tags (Progressing
    # Adopting, one resource per round): only then is the object settled.
    world.wait_condition("Progressing", "False", "Idle", timeout=60)

    # Settled, the object costs the apiserver and RDS next to nothing: it is
    # not reconciled on a timer (changes reach it as events), the regions are
    # asked about once per 30 s by the round watcher however many objects
    # they hold, and no status is written when only probe times moved. A probe
    # that timed out on a loaded machine is a measurement, not a reconcile: the
    # status may move in what the probes measure, and in nothing else.
    settled = world.gdb()
    seq = max(c["seq"] for c in emulator.calls())

    def rounds():
        return [
            c for c in emulator.calls() if c["seq"] > seq and c["action"] == "DescribeDBClusters"
        ]

    wait_for(
        lambda: {c["region"] for c in rounds()} == {EAST, WEST},
        timeout=45,
        what="the round watcher asking each region again",
    )
    now = world.gdb()
    if now["metadata"]["resourceVersion"] != settled["metadata"]["resourceVersion"]:
        assert without_probe_measures(now["status"]) == without_probe_measures(settled["status"]), (
            f"a settled object's status moved: {settled['status']} -> {now['status']}"
        )
    assert len(rounds()) <= 2, f"more than one Describe round per region: {rounds()}"

    world.write_rows(EAST, "orders-east", "before", 50)
    before_restart = world.restarted_at()
    assert before_restart is None

    kubectl(
        "-n",
        world.ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        '{"spec":{"primaryRegion":"us-west-2"}}',
    )

    def switched():
        s = world.status()
        last = s.get("lastOperation") or {}
        assert last.get("type") == "Switchover", f"lastOperation {last}"
        assert last.get("result") == "Succeeded", f"lastOperation {last}"
        return s

    st = wait_for(switched, timeout=120, interval=0.5, what="the switchover to finish")
    assert st["currentPrimaryRegion"] == WEST
    assert world.writer_region("orders-global") == WEST
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)

    # The runbook's order: writer moved, then DNS (in sync), then the restarts.
    reasons = world.event_reasons()
    for r in (
        "SwitchoverStarted",
        "WriterMoved",
        "UpdatingDns",
        "DnsInSync",
        "RestartingWorkloads",
        "SwitchoverCompleted",
    ):
        assert r in reasons, f"missing event {r}: {reasons}"
    world.assert_event_order(
        [
            "SwitchoverStarted",
            "WriterMoved",
            "DnsInSync",
            "RestartingWorkloads",
            "SwitchoverCompleted",
        ]
    )

    calls = [c for c in emulator.calls() if c["seq"] > since]
    sw = [c for c in calls if c["action"] in ("SwitchoverGlobalCluster", "FailoverGlobalCluster")]
    assert len(sw) == 1, sw
    assert sw[0]["region"] == EAST, "a switchover is called in the current primary's region"
    dns = [c for c in calls if c["action"] == "ChangeResourceRecordSets"]
    assert dns and dns[0]["seq"] > sw[0]["seq"]
    assert any(c["action"] == "GetChange" and c["seq"] > dns[0]["seq"] for c in calls)
    west = world.cluster(WEST, "orders-west")
    assert world.record(f"writer.{world.zone_name}") == west["Endpoint"]
    assert world.record(f"reader.{world.zone_name}") == west["ReaderEndpoint"]
    assert world.restarted_at() is not None

    # Not one row lost; the new writer takes writes.
    world.write_rows(WEST, "orders-west", "after", 50)
    assert world.count_rows(WEST, "orders-west", "before") == 50
    assert world.count_rows(WEST, "orders-west", "after") == 50

    last = st["lastOperation"]
    steps = {s["name"] for s in last.get("steps", [])}
    assert {
        "Switchover",
        "WaitSwitchover",
        "UpdateDns",
        "WaitDnsInsync",
        "RestartWorkloads",
    } <= steps, last
    m = controller.metrics()
    assert (
        metric_value(
            m, "globaldb_current_primary_info", namespace=world.ns, name="orders", region=WEST
        )
        == 1
    )
    assert (
        metric_value(
            m,
            "controller_runtime_reconcile_total",
            controller="globaldatabase",
            result="requeue_after",
        )
        > 0
    )

    # Drift: the writer moved behind the controller's back (a console click)
    # while the object is settled. The region's next round reports the
    # change, the object is enqueued, and the controller moves the writer
    # back to spec.primaryRegion: within one round interval (30 s) and the
    # switchover, not the 5 min backstop of a settled object's requeue.
    wait_for(
        lambda: world.sync_status("orders-global", EAST, "orders-east") == "connected",
        timeout=60,
        what="the old primary to be connected again",
    )
    seq = max(c["seq"] for c in emulator.calls())
    changes = (
        metric_value(controller.metrics(), "globaldb_aws_changes_total", kind="global_cluster") or 0
    )
    east_arn = world.cluster(EAST, "orders-east")["DBClusterArn"]
    world.rds[WEST].switchover_global_cluster(
        GlobalClusterIdentifier="orders-global", TargetDbClusterIdentifier=east_arn
    )
    wait_for(
        lambda: world.writer_region("orders-global") == EAST,
        timeout=60,
        what="the switchover made behind the controller's back",
    )

    def moved_back():
        calls = [c for c in emulator.calls() if c["seq"] > seq]
        sw = [c for c in calls if c["action"] == "SwitchoverGlobalCluster"]
        assert len(sw) >= 2, f"no switchover by the controller yet: {sw}"
        return sw

    sw = wait_for(moved_back, timeout=75, interval=0.5, what="the controller to undo the drift")
    assert sw[1]["region"] == EAST, "the controller's switchover is called in the writer's region"
    wait_for(
        lambda: world.writer_region("orders-global") == WEST,
        timeout=60,
        what="the writer back in spec.primaryRegion",
    )
    # The region's round saw it (the probes may have been first).
    wait_for(
        lambda: (
            (
                metric_value(
                    controller.metrics(), "globaldb_aws_changes_total", kind="global_cluster"
                )
                or 0
            )
            > changes
        ),
        timeout=45,
        what="a round to report the global cluster's change",
    )
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)

    # Every write of the controller was based on the object as it stood: it
    # waits for the watch event of its own last write instead of sending a
    # status based on the version before it, which the apiserver refuses.
    m = controller.metrics()
    conflicts = sum(
        metric_value(m, "rest_client_requests_total", method=v, code="409") or 0
        for v in ("PUT", "PATCH")
    )
    assert conflicts == 0, f"{conflicts} of the controller's writes were refused as stale"
