"""Chaos: the Kubernetes side failing under the controller.

The kube-apiserver restarts mid-operation (every watch drops, every request
fails for a few seconds), and etcd is compacted so that a watch resuming from
an old resourceVersion gets 410 Gone and must relist. The controller must
converge, lose no intent (a spec changed while it could not watch) and no
object (created or deleted meanwhile), and never issue a non-idempotent AWS
call twice.

What the process itself does is decided by docs/deploy.md and pkg/kube/leader.h:
"a leader that could not renew for [the renew deadline] stops acting and
exits" (exit 1, as controller-runtime does). So:
  - an apiserver restart shorter than the renew deadline: the same process
    stays up and finishes the work;
  - a restart longer than the renew deadline (FAST_LEASE: 2 s): the leader
    exits 1 and the standby replica takes the Lease and finishes the work
    from the write-ahead record in status.operation, without a second
    SwitchoverGlobalCluster.

CI runs the handover at one moment and (b)+(c) combined in one restart
(about 3 minutes, most of it two apiserver restarts of ~25 s each);
GDB_CHAOS_FULL=1 adds the ride-out and the handover at two moments each, and
(b) and (c) separately, repeated.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import testenv as testenv_mod
from conftest import EAST, FAST_LEASE, WEST, Gdb, full_sweep, metric_value, wait_for
from test_aws import (
    NON_IDEMPOTENT,
    SecondSet,
    duplicated_calls,
    last_seq,
    running_controller,
)

ENV_DIR = os.path.dirname(os.path.abspath(testenv_mod.__file__))
PYTHON = os.environ.get("GDB_PYTHON") or sys.executable

# A renew deadline far above an apiserver restart: ~4 s without clients, but
# ~25 s with the controller's watches open (kube-apiserver's graceful
# shutdown; testenv SIGKILLs it after 20 s). The leader must ride it out.
STEADY_LEASE = (
    "--leader-election-lease-duration=90s",
    "--leader-election-renew-deadline=60s",
    "--leader-election-retry-period=2s",
)
STEADY_RENEW_DEADLINE_S = 60


def state_path():
    return os.environ["GDB_TESTENV_STATE"]


def restart_apiserver():
    """testenv.py restart-apiserver: stop kube-apiserver, start it, wait for /readyz.
    Returns how long it was away (seconds)."""
    t0 = time.monotonic()
    r = subprocess.run(
        [PYTHON, os.path.join(ENV_DIR, "testenv.py"), "restart-apiserver", "--state", state_path()],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, f"restart-apiserver failed: {r.stderr[-2000:]}"
    return time.monotonic() - t0


def compact_etcd():
    """testenv.py compact: compact etcd at its head; returns that revision."""
    r = subprocess.run(
        [PYTHON, os.path.join(ENV_DIR, "testenv.py"), "compact", "--state", state_path()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, f"compact failed: {r.stderr[-2000:]}"
    return int(r.stdout.strip().splitlines()[-1])


def admin_get(path, timeout=10):
    """GET on the apiserver with the admin certificate: (status, body)."""
    st = testenv_mod.load(state_path())
    ctx = ssl.create_default_context(cafile=st["ca_file"])
    ctx.load_cert_chain(f"{st['dir']}/admin.crt", f"{st['dir']}/admin.key")
    try:
        with urllib.request.urlopen(st["apiserver_url"] + path, context=ctx, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def watch_answers_gone(ns, rv):
    """True when a watch of GlobalDatabases from rv gets 410 (HTTP status or an
    ERROR event with code 410): what the controller's reflector meets when it
    resumes from that resourceVersion."""

    def gone():
        code, body = admin_get(
            f"/apis/globaldb.io/v1alpha1/namespaces/{ns}/globaldatabases"
            f"?watch=1&resourceVersion={rv}&timeoutSeconds=1"
        )
        if code == 410:
            return True
        assert code == 200, f"watch answered {code}: {body[:300]}"  # 429 while the cache starts
        first = json.loads(body.splitlines()[0]) if body.strip() else {}
        return (
            first.get("type") == "ERROR"
            and first["object"].get("code") == 410
            or pytest.fail(f"a watch from {rv} after the compaction did not get 410: {body[:300]}")
        )

    return wait_for(gone, timeout=30, interval=0.5, what="a watch answer")


def globaldatabase_lists():
    """LISTs of GlobalDatabases the apiserver answered since it started, from
    its own /metrics. After a restart nothing but the controller's reflector
    lists them (the test only GETs single objects), so a count > 0 is the
    controller's relist - the reflector lists only at start-up and after a
    410 or a failed list."""
    code, body = admin_get("/metrics", timeout=30)
    assert code == 200, body[:300]
    n = 0
    for line in body.splitlines():
        if (
            line.startswith("apiserver_request_total{")
            and 'resource="globaldatabases"' in line
            and 'verb="LIST"' in line
        ):
            n += float(line.rsplit(" ", 1)[1])
    return n


def list_rv(world):
    """The resourceVersion of a (consistent) list of the namespace's GlobalDatabases."""
    code, body = admin_get(f"/apis/globaldb.io/v1alpha1/namespaces/{world.ns}/globaldatabases")
    assert code == 200, body[:300]
    return json.loads(body)["metadata"]["resourceVersion"]


def event_count(evs, reason):
    """How many times an Event of reason was emitted (series included)."""
    n = 0
    for e in evs:
        if e["reason"] == reason:
            n += (e.get("series") or {}).get("count", 1)
    return n


def switchover_calls(calls):
    return [c for c in calls if c["action"] in ("SwitchoverGlobalCluster", "FailoverGlobalCluster")]


def assert_one_switchover(world, emulator, seq0, source, target, gdb):
    """The end state a user checks after a switchover, and the call log's story."""
    st = gdb.status()
    last = st["lastOperation"]
    assert last["type"] == "Switchover" and last["result"] == "Succeeded", last
    assert last["sourceRegion"] == source and last["targetRegion"] == target, last
    assert st["currentPrimaryRegion"] == target
    assert "operation" not in st or not st["operation"], st.get("operation")
    assert world.writer_region("orders-global") == target
    cid = "orders-west" if target == WEST else "orders-east"
    assert world.record(f"writer.{world.zone_name}") == world.cluster(target, cid)["Endpoint"]
    calls = emulator.calls(since=seq0)
    sw = switchover_calls(calls)
    assert len(sw) == 1, f"exactly one switchover call: {sw}"
    assert sw[0]["status"] < 400 and sw[0]["region"] == source, sw
    assert duplicated_calls(calls) == []
    evs = gdb.events()
    print("Events:", [(e["reason"], (e.get("series") or {}).get("count", 1)) for e in evs])
    # Each step of the story told once: no Event lost to the restart, none
    # repeated by a resumed (or replacement) controller.
    for reason in (
        "SwitchoverStarted",
        "WriterMoved",
        "UpdatingDns",
        "DnsInSync",
        "RestartingWorkloads",
        "SwitchoverCompleted",
    ):
        assert event_count(evs, reason) == 1, (
            f"{reason} Events: {[e for e in evs if e['reason'] == reason]}"
        )
    assert event_count(evs, "SwitchoverFailed") == 0
    # ... and in the runbook's order. eventTime has millisecond resolution and
    # the Events of one plan share it, so equal times count as in order.
    first = {}
    for e in evs:
        first.setdefault(e["reason"], e.get("eventTime") or e["metadata"]["creationTimestamp"])
    chain = [
        first[r]
        for r in (
            "SwitchoverStarted",
            "WriterMoved",
            "DnsInSync",
            "RestartingWorkloads",
            "SwitchoverCompleted",
        )
    ]
    assert chain == sorted(chain), chain
    return last


def wait_switched(gdb, begin, timeout=180):
    last = gdb.wait_operation("Switchover", begin, timeout=timeout)
    assert last["result"] == "Succeeded", last
    return last


# -- (a) a restart while a switchover waits on Aurora ---------------------------


def restart_during_switchover(world, emulator, gdb, moment):
    """Starts a switchover to us-west-2 and restarts the apiserver at moment:
    'pending' (WaitSwitchover, Aurora has not moved the writer yet) or 'moved'
    (the writer moved, Aurora still finishing). Returns (seq0, begin, downtime)."""
    # Aurora takes its time: ~3 s pending, ~8 s until the writer moves, 5 s to finish.
    emulator.delays(failover_pending=3, failover_run=8, failover_finish=5)
    world.write_rows(EAST, "orders-east", "before", 30)
    seq0 = last_seq(emulator)
    begin = gdb.op_mark()
    gdb.patch_spec(primaryRegion=WEST)

    def at_moment():
        op = gdb.status().get("operation") or {}
        if op.get("step") != "WaitSwitchover":
            return False
        return moment == "pending" or world.writer_region("orders-global") == WEST

    wait_for(at_moment, timeout=60, interval=0.1, what=f"the switchover to be at '{moment}'")
    down = restart_apiserver()
    print(f"apiserver restarted at '{moment}' in {down:.1f}s")
    return seq0, begin, down


def check_rows(world):
    world.write_rows(WEST, "orders-west", "after", 10)
    assert world.count_rows(WEST, "orders-west", "before") == 30
    assert world.count_rows(WEST, "orders-west", "after") == 10


# The CI subset is the handover at 'moved' and the combined test at the end
# (which rides a restart out with STEADY_LEASE); the rest runs in the full sweep.
full_only = pytest.mark.skipif(not full_sweep(), reason="full sweep only (GDB_CHAOS_FULL=1)")


@full_only
@pytest.mark.parametrize("moment", ("pending", "moved"))
def test_restart_shorter_than_renew_deadline_the_leader_carries_on(
    world, emulator, controller_bin, testenv, tmp_path, moment
):
    gdb = Gdb(world, "orders")
    with running_controller(
        controller_bin, testenv, emulator, world, str(tmp_path / "c"), extra_args=STEADY_LEASE
    ) as ctl:
        world.kubectl.apply(world.gdb_manifest())
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        pid = ctl.proc.pid
        seq0, begin, down = restart_during_switchover(world, emulator, gdb, moment)
        assert down < STEADY_RENEW_DEADLINE_S, f"the restart took {down:.1f}s"
        wait_switched(gdb, begin)
        assert ctl.proc.poll() is None and ctl.proc.pid == pid, (
            "the controller must ride out a restart shorter than its renew deadline"
        )
        assert "lost leadership" not in ctl.log_text() and "stopping" not in ctl.log_text()
        assert_one_switchover(world, emulator, seq0, EAST, WEST, gdb)
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        check_rows(world)
        assert metric_value(ctl.metrics(), "leader_election_master_status") == 1


HANDOVER_MOMENTS = ("pending", "moved") if full_sweep() else ("moved",)


@pytest.mark.parametrize("moment", HANDOVER_MOMENTS)
def test_restart_longer_than_renew_deadline_the_standby_finishes(
    world, emulator, controller_bin, testenv, tmp_path, kubectl, moment
):
    gdb = Gdb(world, "orders")
    lease = "globaldb-e2e-" + world.ns
    with running_controller(
        controller_bin,
        testenv,
        emulator,
        world,
        str(tmp_path / "leader"),
        extra_args=FAST_LEASE,
        pod_name="chaos-leader",
        expect_rc=1,
    ) as leader:
        wait_for(
            lambda: (
                kubectl.json("-n", "globaldb-system", "get", "lease", lease)["spec"]
                .get("holderIdentity", "")
                .startswith("chaos-leader_")
            ),
            timeout=30,
            what="the first replica to lead",
        )
        with running_controller(
            controller_bin,
            testenv,
            emulator,
            world,
            str(tmp_path / "standby"),
            extra_args=FAST_LEASE,
            pod_name="chaos-standby",
        ) as standby:
            world.kubectl.apply(world.gdb_manifest())
            gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
            seq0, begin, down = restart_during_switchover(world, emulator, gdb, moment)
            assert down > 2, f"the restart ({down:.1f}s) must outlast FAST_LEASE's renew deadline"
            # The leader could not renew for 2 s: it stops acting and exits 1.
            wait_for(
                lambda: leader.proc.poll() is not None,
                timeout=30,
                what="the leader to exit after losing its Lease",
            )
            assert leader.proc.returncode == 1
            wait_switched(gdb, begin)
            holder = kubectl.json("-n", "globaldb-system", "get", "lease", lease)["spec"]
            assert holder.get("holderIdentity", "").startswith("chaos-standby_"), holder
            assert standby.proc.poll() is None
            last = assert_one_switchover(world, emulator, seq0, EAST, WEST, gdb)
            gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
            check_rows(world)
            print(
                f"handover at '{moment}': steps "
                f"{[(s['name'], s.get('durationSeconds')) for s in last.get('steps', [])]}"
            )


@full_only
@pytest.mark.parametrize("repeat", range(3))
def test_restart_the_moment_the_spec_changes(
    world, emulator, controller_bin, testenv, tmp_path, repeat
):
    """The apiserver goes down milliseconds after primaryRegion changed: the
    controller is somewhere between the watch event, the write-ahead status
    write and SwitchoverGlobalCluster (where exactly varies run to run). In
    every case the switchover happens once: a step whose record could not be
    written must not call AWS, and one that called must not call again."""
    gdb = Gdb(world, "orders")
    with running_controller(
        controller_bin, testenv, emulator, world, str(tmp_path / "c"), extra_args=STEADY_LEASE
    ) as ctl:
        world.kubectl.apply(world.gdb_manifest())
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        world.write_rows(EAST, "orders-east", "before", 30)
        seq0 = last_seq(emulator)
        begin = gdb.op_mark()
        gdb.patch_spec(primaryRegion=WEST)
        # In-process (the same code as `testenv.py restart-apiserver`), so the
        # SIGTERM follows the patch by milliseconds, not a Python start-up.
        t0 = time.monotonic()
        testenv_mod.restart_apiserver(state_path())
        down = time.monotonic() - t0
        before = [c for c in switchover_calls(emulator.calls(since=seq0))]
        print(
            f"restart {repeat}: down {down:.1f}s; switchover calls made by then: "
            f"{[(c['status'], c['error']) for c in before]}"
        )
        wait_switched(gdb, begin)
        assert ctl.proc.poll() is None
        assert_one_switchover(world, emulator, seq0, EAST, WEST, gdb)
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        check_rows(world)


# -- (b) compaction: the watch resumes from a compacted revision ----------------


@full_only
@pytest.mark.parametrize("order", ("patch-then-compact", "compact-then-patch"))
def test_compaction_forces_a_relist_and_the_intent_is_kept(
    world, emulator, controller_bin, testenv, tmp_path, order
):
    gdb = Gdb(world, "orders")
    with running_controller(
        controller_bin, testenv, emulator, world, str(tmp_path / "c"), extra_args=STEADY_LEASE
    ) as ctl:
        world.kubectl.apply(world.gdb_manifest())
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        old_rv = list_rv(world)  # the controller's watch is at most this new now
        seq0 = last_seq(emulator)
        gen0 = gdb.get()["metadata"]["generation"]
        down = restart_apiserver()
        # Straight after the restart, before the controller's reflector (in its
        # backoff) watches again: two spec changes, the last one what counts.
        begin = gdb.op_mark()
        if order == "compact-then-patch":
            rev = compact_etcd()
        gdb.patch_spec(dns={"ttlSeconds": 7})
        gdb.patch_spec(primaryRegion=WEST)
        if order == "patch-then-compact":
            rev = compact_etcd()
        print(f"apiserver down {down:.1f}s; etcd compacted at {rev}; controller's RV <= {old_rv}")
        # What the controller meets: its resourceVersion is gone.
        assert int(old_rv) < rev
        assert watch_answers_gone(world.ns, old_rv)

        wait_switched(gdb, begin)
        assert_one_switchover(world, emulator, seq0, EAST, WEST, gdb)
        relists = globaldatabase_lists()
        print(f"GlobalDatabase LISTs since the restart: {relists:.0f}")
        assert relists >= 1, "the controller never relisted after its watch was compacted away"
        obj = gdb.get()
        assert obj["metadata"]["generation"] == gen0 + 2
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        wait_for(
            lambda: gdb.status().get("observedGeneration") == gen0 + 2,
            timeout=30,
            what="status.observedGeneration to be the latest generation",
        )
        assert ctl.proc.poll() is None


# -- (c) objects created and deleted while the watch was down -------------------


@full_only
@pytest.mark.parametrize("repeat", range(2))
def test_objects_created_and_deleted_during_a_dropped_watch_are_handled(
    world, emulator, controller_bin, testenv, tmp_path, repeat
):
    """orders (deletionPolicy Retain) is deleted and billing (a second global
    database) created while the controller's watch is down: orders' finalizer
    is removed without touching AWS (docs/api.md), billing is adopted and
    becomes Ready."""
    billing = SecondSet(world, "billing", (EAST, WEST)).build()
    orders, bill = Gdb(world, "orders"), Gdb(world, "billing")
    with running_controller(
        controller_bin, testenv, emulator, world, str(tmp_path / "c"), extra_args=STEADY_LEASE
    ) as ctl:
        world.kubectl.apply(world.gdb_manifest())
        orders.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        assert "globaldb.io/finalizer" in orders.get()["metadata"]["finalizers"]
        seq0 = last_seq(emulator)
        down = restart_apiserver()
        world.kubectl("-n", world.ns, "delete", "globaldatabase", "orders", "--wait=false")
        world.kubectl.apply(billing.manifest(dns=True))
        rev = compact_etcd()
        print(f"apiserver down {down:.1f}s; etcd compacted at {rev}")

        wait_for(
            lambda: orders.get() is None,
            timeout=60,
            what="orders' finalizer to be removed and the object gone",
        )
        bill.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
        st = bill.status()
        assert st["globalClusterIdentifier"] == "billing-global"
        assert st["currentPrimaryRegion"] == EAST
        assert "globaldb.io/finalizer" in bill.get()["metadata"]["finalizers"]
        reasons = [e["reason"] for e in bill.events()]
        assert "Adopted" in reasons, reasons
        assert "Retained" in [e["reason"] for e in orders.events()]
        calls = emulator.calls(since=seq0)
        mutating = [
            c
            for c in calls
            if c["action"]
            in (
                "CreateGlobalCluster",
                "CreateDBCluster",
                "CreateDBInstance",
                "DeleteDBCluster",
                "DeleteDBInstance",
                "DeleteGlobalCluster",
                "RemoveFromGlobalCluster",
                "FailoverGlobalCluster",
                "SwitchoverGlobalCluster",
                "ModifyDBCluster",
            )
        ]
        assert mutating == [], f"Retain and adoption touch nothing in AWS: {mutating}"
        # Retained means retained: orders-global is still there, writer in us-east-1.
        assert world.writer_region("orders-global") == EAST
        assert ctl.proc.poll() is None
        assert (
            metric_value(
                ctl.metrics(),
                "globaldb_current_primary_info",
                namespace=world.ns,
                name="billing",
                region=EAST,
            )
            == 1
        )


# -- CI: (b) and (c) in one restart ----------------------------------------------


def test_everything_changed_during_a_dropped_watch_is_acted_on(
    world, emulator, controller_bin, testenv, tmp_path
):
    """One apiserver restart, then, before the controller watches again: orders'
    primaryRegion flipped (after an unrelated spec edit), billing created,
    legacy (Retain) deleted, and etcd compacted so the controller's watch
    cannot resume (410). All three are handled and the controller stays up."""
    billing = SecondSet(world, "billing", (EAST, WEST)).build()
    orders, bill, legacy = Gdb(world, "orders"), Gdb(world, "billing"), Gdb(world, "legacy")
    old = world.gdb_manifest(
        globalClusterIdentifier="legacy-global",
        regions=[
            {
                "name": r,
                "dbClusterIdentifier": f"legacy-{r}",
                "template": {"instanceClass": "db.r6g.large"},
            }
            for r in (EAST, WEST)
        ],
    )
    old["metadata"]["name"] = "legacy"
    del old["spec"]["dns"], old["spec"]["workloads"]
    with running_controller(
        controller_bin, testenv, emulator, world, str(tmp_path / "c"), extra_args=STEADY_LEASE
    ) as ctl:
        world.kubectl.apply(world.gdb_manifest())
        world.kubectl.apply(old)
        orders.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        wait_for(
            lambda: "globaldb.io/finalizer" in legacy.get()["metadata"].get("finalizers", []),
            timeout=60,
            what="legacy to carry the finalizer",
        )
        old_rv = list_rv(world)
        gen0 = orders.get()["metadata"]["generation"]
        seq0 = last_seq(emulator)
        pid = ctl.proc.pid

        down = restart_apiserver()
        begin = orders.op_mark()
        orders.patch_spec(dns={"ttlSeconds": 7})
        orders.patch_spec(primaryRegion=WEST)
        world.kubectl("-n", world.ns, "delete", "globaldatabase", "legacy", "--wait=false")
        world.kubectl.apply(billing.manifest(dns=True))
        rev = compact_etcd()
        print(f"apiserver down {down:.1f}s; etcd compacted at {rev}; controller's RV <= {old_rv}")
        assert down < STEADY_RENEW_DEADLINE_S
        assert int(old_rv) < rev and watch_answers_gone(world.ns, old_rv)

        # The intent: orders switches over, at its latest generation.
        wait_switched(orders, begin)
        relists = globaldatabase_lists()
        print(f"GlobalDatabase LISTs since the restart: {relists:.0f}")
        assert relists >= 1, "the controller never relisted after its watch was compacted away"
        assert_one_switchover(world, emulator, seq0, EAST, WEST, orders)
        orders.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        wait_for(
            lambda: orders.status().get("observedGeneration") == gen0 + 2,
            timeout=30,
            what="orders' observedGeneration to be the latest",
        )
        # The deleted object: finalizer removed, nothing done in AWS for it.
        wait_for(lambda: legacy.get() is None, timeout=60, what="legacy to be gone")
        assert "Retained" in [e["reason"] for e in legacy.events()]
        # The created object: adopted, Ready.
        bill.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
        assert bill.status()["globalClusterIdentifier"] == "billing-global"
        assert "Adopted" in [e["reason"] for e in bill.events()]
        calls = emulator.calls(since=seq0)
        touched = [
            c
            for c in calls
            if c["action"] in NON_IDEMPOTENT and c["action"] != "SwitchoverGlobalCluster"
        ]
        assert touched == [], touched
        assert ctl.proc.poll() is None and ctl.proc.pid == pid
        assert "stopping" not in ctl.log_text()
