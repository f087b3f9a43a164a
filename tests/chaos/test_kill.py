"""kill -9 the controller at every step of every runbook.

The controller writes the step it is about to execute into status.operation
before it calls AWS (the write-ahead record, docs/api.md). This file watches
that record as the apiserver streams it and SIGKILLs the controller the moment
the runbook reaches the chosen step — before, during or right after the
step's AWS call — then starts a replacement (same Lease, a new pod name, as a
Deployment would) and proves that:

- the operation converges to the right end state (writer region, DNS record,
  lastOperation Succeeded, rows written before the operation still there);
- lastOperation.steps is the runbook's full list, in order: no step skipped;
- the emulator's call log holds no non-idempotent call (SwitchoverGlobalCluster,
  FailoverGlobalCluster, RemoveFromGlobalCluster, Create*/Delete*, …) issued
  twice for the same target unless the earlier one was answered with an error;
- no log of either process holds a secret.

Runbooks: a switchover (spec.primaryRegion edited), a failover of each method
(Managed FailoverGlobalCluster, DetachAndPromote) on a primary-region outage,
and the fallback after each when the region recovers (then the switch back).

CI runs one kill per runbook at a mid-operation step (about 3.5 minutes);
GDB_CHAOS_FULL=1 kills at every step of every runbook, three times each (the
later repetitions kill 0.3 s and 1 s after the step was written, to land after
its call; at a runbook's last step that may be after the operation ended). One
repetition of every step takes about 27 minutes, the whole sweep about 80, so
run it with pytest (ctest's 1800 s limit is too short for it), e.g.
  GDB_CHAOS_FULL=1 GDB_TESTENV_STATE=... GDB_CONTROLLER_BIN=... PYTHONPATH=tests/env \
    python -m pytest -s tests/chaos/test_kill.py [-k fallback-detach]
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from conftest import EAST, WEST, full_sweep, wait_for
from waiting import wait_lag_measured, wait_rows
from killlib import Fleet, StatusWatch, assert_no_duplicate_mutations, fmt_call, print_log_tails

# Long enough for a kill to land inside Aurora's own work, short enough for CI.
SLOW = {
    "cluster_create": 2,
    "cluster_modify": 1,
    "cluster_promote": 5,
    "failover_pending": 1,
    "failover_run": 2,
    "failover_finish": 1,
    "resync": 2,
}

TAIL = ["UpdateDns", "WaitDnsInsync", "RestartWorkloads"]
RUNBOOKS = {
    "switchover": {
        "op": "Switchover",
        "method": "DetachAndPromote",
        "steps": ["Switchover", "WaitSwitchover"] + TAIL,
    },
    "failover-managed": {
        "op": "Failover",
        "method": "Managed",
        "steps": ["FailoverManaged", "WaitFailover"] + TAIL,
    },
    "failover-detach": {
        "op": "Failover",
        "method": "DetachAndPromote",
        "steps": ["Detach", "WaitPromoted"] + TAIL,
    },
    "fallback-detach": {
        "op": "Fallback",
        "method": "DetachAndPromote",
        "steps": [
            "FenceOldWriter",
            "DeleteOldGlobalCluster",
            "CreateGlobalCluster",
            "CreateSecondary",
            "CreateInstances",
            "WaitConnected",
        ],
    },
    "fallback-managed": {
        "op": "Fallback",
        "method": "Managed",
        "steps": ["WaitReAdded", "CopySnapshot"],
    },
}
CI_CASES = [
    ("switchover", "WaitSwitchover"),
    ("failover-managed", "WaitFailover"),
    ("failover-detach", "WaitPromoted"),
    ("fallback-detach", "FenceOldWriter"),
]
KILL_DELAYS = (0.0, 0.3, 1.0)  # per repetition: seconds between seeing the step and the kill


def cases():
    if not full_sweep():
        return [(rb, step, 0) for rb, step in CI_CASES]
    return [
        (rb, step, rep)
        for rb, spec in RUNBOOKS.items()
        for step in spec["steps"]
        for rep in range(len(KILL_DELAYS))
    ]


def wait_replicated(world, tag, n):
    wait_lag_measured(world, WEST)
    world.write_rows(EAST, "orders-east", tag, n)
    wait_rows(world, WEST, "orders-west", tag, n)


def wait_failed_over(world, watch, timeout=120):
    def done():
        last = watch.last_operation("Failover")
        assert last, f"no finished failover yet (operation at {watch.current_step()})"
        return last

    return wait_for(done, timeout=timeout, interval=0.2, what="the failover to finish")


def check_failover_end(world, watch, rb, emulator, since):
    """The failover's end state; returns its lastOperation, the call that moved the writer,
    and the calls since `since` (read after the end: a replacement may call late)."""
    last = wait_failed_over(world, watch)
    calls = [c for c in emulator.calls() if c["seq"] > since]
    assert last["result"] == "Succeeded", last
    assert last["method"] == rb["method"], last
    assert last["sourceRegion"] == EAST and last["targetRegion"] == WEST, last
    st = world.status()
    assert st["currentPrimaryRegion"] == WEST
    tried = [
        c for c in calls if c["action"] in ("FailoverGlobalCluster", "RemoveFromGlobalCluster")
    ]
    movers = [c for c in tried if 200 <= (c["status"] or 0) < 300]
    if rb["method"] == "Managed":
        assert [c["action"] for c in movers] == ["FailoverGlobalCluster"], [
            fmt_call(c) for c in tried
        ]
        assert world.writer_region("orders-global") == WEST
    else:
        assert [c["action"] for c in movers] == ["RemoveFromGlobalCluster"], [
            fmt_call(c) for c in tried
        ]
        assert movers[0]["region"] == WEST
        assert world.cluster(WEST, "orders-west")["Status"] == "available"
    return last, movers[0], calls


def check_dns(world, calls, after_seq):
    west = world.cluster(WEST, "orders-west")
    assert world.record(f"writer.{world.zone_name}") == west["Endpoint"]
    dns = [
        c
        for c in calls
        if c["action"] == "ChangeResourceRecordSets" and c["seq"] > after_seq and c["status"] == 200
    ]
    assert dns, "no DNS change after the writer moved"
    assert any(c["action"] == "GetChange" and c["seq"] > dns[0]["seq"] for c in calls), (
        "the DNS change was never awaited (GetChange)"
    )


@pytest.mark.parametrize(
    "runbook,step,rep", cases(), ids=lambda v: str(v) if not isinstance(v, int) else f"rep{v}"
)
def test_kill_at_step(
    runbook, step, rep, world, emulator, kubectl, testenv, controller_bin, tmp_path
):
    rb = RUNBOOKS[runbook]
    t_start = time.monotonic()
    emulator.delays(**SLOW)
    fleet = Fleet(controller_bin, testenv, emulator, world.ns, str(tmp_path))
    watch = StatusWatch(testenv, world.ns)
    watch.start()
    passed = False
    try:
        first = fleet.start()
        kubectl.apply(world.gdb_manifest(failover={"method": rb["method"]}))
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        wait_replicated(world, "before", 20)
        since = max(c["seq"] for c in emulator.calls())

        prior = watch.last_operation(rb["op"])
        started_before = (prior or {}).get("startedTime", "")
        killed = threading.Event()
        landed = {}

        def kill():
            landed["step"] = watch.current_step()
            Fleet.kill(first)
            killed.set()

        def fire():
            if KILL_DELAYS[rep] > 0:
                threading.Timer(KILL_DELAYS[rep], kill).start()
            else:
                kill()

        if rb["op"] == "Fallback":
            emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
            last = wait_failed_over(world, watch)
            assert last["result"] == "Succeeded", last
            world.write_rows(WEST, "orders-west", "during", 20)
            watch.arm("Fallback", step, fire)
            emulator.outage(EAST, "off")
        else:
            watch.arm(rb["op"], step, fire)
            if rb["op"] == "Switchover":
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
            else:
                emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])

        def reached():
            if killed.is_set():
                return True
            if watch.fired is not None:
                return False  # seen; a delayed kill is on its way, wherever it lands
            done = watch.last_operation(rb["op"])
            if done and done.get("startedTime", "") > started_before:
                pytest.fail(
                    f"the {rb['op']} finished without step {step} being seen: "
                    f"{watch.describe()}; lastOperation {done}"
                )
            return False

        wait_for(reached, timeout=180, interval=0.05, what=f"the {rb['op']} to reach step {step}")
        print(f"watch: {watch.describe()}")
        t_kill = time.monotonic()
        replacement = fleet.start(wait_ready=False)
        print(
            f"\n{runbook}: killed at {step} (+{KILL_DELAYS[rep]}s, operation then at "
            f"{landed['step'][1:]}), replacement {replacement.name} started"
        )

        # -- the end state ------------------------------------------------------
        if rb["op"] == "Switchover":

            def switched():
                last = watch.last_operation("Switchover")
                assert last, f"no finished switchover yet (at {watch.current_step()})"
                return last

            last = wait_for(switched, timeout=120, interval=0.2, what="the switchover to finish")
            assert last["result"] == "Succeeded", last
            st = world.status()
            assert st["currentPrimaryRegion"] == WEST
            assert world.writer_region("orders-global") == WEST
            calls = [c for c in emulator.calls() if c["seq"] > since]
            sw = [
                c for c in calls if c["action"] == "SwitchoverGlobalCluster" and c["status"] == 200
            ]
            assert len(sw) == 1 and sw[0]["region"] == EAST, [fmt_call(c) for c in sw]
            check_dns(world, calls, sw[0]["seq"])
            world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
            assert world.count_rows(WEST, "orders-west", "before") == 20
        elif rb["op"] == "Failover":
            last, mover, calls = check_failover_end(world, watch, rb, emulator, since)
            check_dns(world, calls, mover["seq"])
            assert world.restarted_at() is not None
            assert world.count_rows(WEST, "orders-west", "before") == 20
        else:
            generation = (
                "orders-global-2" if rb["method"] == "DetachAndPromote" else "orders-global"
            )

            def home():
                s = world.status()
                back = watch.last_operation("Switchover")
                assert s.get("currentPrimaryRegion") == EAST, (
                    f"writer in {s.get('currentPrimaryRegion')} (at {watch.current_step()})"
                )
                assert back and back["result"] == "Succeeded", back
                return s

            st = wait_for(home, timeout=300, interval=0.5, what="the writer back in us-east-1")
            assert st["globalClusterIdentifier"] == generation
            assert world.writer_region(generation) == EAST
            world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
            last = watch.last_operation("Fallback")
            assert last and last["result"] == "Succeeded", last
            snap = last.get("lostWritesSnapshot")
            assert snap and snap.startswith("orders-east-lost-writes-"), last
            assert world.rds[EAST].describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snap)[
                "DBClusterSnapshots"
            ]
            if rb["method"] == "DetachAndPromote":
                assert world.global_cluster("orders-global") is None
            roles = {r["name"]: r["role"] for r in st["regions"]}
            assert roles == {EAST: "Primary", WEST: "Secondary"}, roles
            assert world.count_rows(EAST, "orders-east", "before") == 20
            assert world.count_rows(EAST, "orders-east", "during") == 20
            calls = [c for c in emulator.calls() if c["seq"] > since]
            east = world.cluster(EAST, "orders-east")
            assert world.record(f"writer.{world.zone_name}") == east["Endpoint"]

        # -- no step skipped, no non-idempotent call twice -------------------------
        names = [s["name"] for s in last.get("steps", [])]
        assert names == rb["steps"], f"lastOperation.steps {names}, expected {rb['steps']}"
        assert step in names
        assert_no_duplicate_mutations(calls)
        print(
            f"{runbook}: converged {time.monotonic() - t_kill:.1f}s after the kill; "
            f"test took {time.monotonic() - t_start:.1f}s"
        )
        passed = True
    finally:
        watch.close()
        rcs, leaks = fleet.close(world)
        if not passed:
            print(f"watch: {watch.describe()}")
            print_log_tails(fleet)
    assert not leaks, f"a controller log contains a secret: {leaks}"
    assert all(rc == 0 for rc in rcs.values()), f"exit codes after SIGTERM: {rcs}"
