"""Two replicas on one Lease: never two leaders acting; after the leader is
killed (SIGKILL, no Lease release) the other completes the operation in flight.

Both replicas sign with the same credentials, so the emulator's call log
cannot tell them apart: each replica talks to the emulator through its own
loopback proxy (killlib.TaggingProxy) that records what it forwarded and when.
From those records, the replicas' logs ("became leader") and the emulator's
call log the test proves:

- every mutating AWS call came from the replica holding the Lease at the
  time (after its "became leader", before its death), and none of one
  replica's mutating calls overlaps in time with one of the other's;
- the survivor takes the Lease within seconds and finishes the switchover
  the dead leader had started (lastOperation Succeeded with every step, the
  writer in the new region), without a second non-idempotent call;
- no secret in either log.

CI: two switchovers (there and back) with both replicas, then a kill at
WaitSwitchover. GDB_CHAOS_FULL=1 repeats the kill at every switchover step.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import time

import pytest

from conftest import EAST, WEST, full_sweep, wait_for
from waiting import wait_rows
from killlib import (
    Endpoint,
    Fleet,
    StatusWatch,
    TaggingProxy,
    assert_no_duplicate_mutations,
    print_log_tails,
)

SLOW = {
    "cluster_create": 2,
    "cluster_modify": 1,
    "cluster_promote": 2,
    "failover_pending": 1,
    "failover_run": 2,
    "failover_finish": 1,
    "resync": 2,
}
STEPS = ["Switchover", "WaitSwitchover", "UpdateDns", "WaitDnsInsync", "RestartWorkloads"]
# Calls that change AWS: the non-idempotent ones and the (idempotent) DNS UPSERT.
ACTING = ("ChangeResourceRecordSets",)


def kill_steps():
    return STEPS if full_sweep() else ["WaitSwitchover"]


def holder(kubectl, lease):
    out = kubectl.json("-n", "globaldb-system", "get", "lease", lease)
    return out["spec"].get("holderIdentity") or ""


def leadership_starts(log_text):
    """Epoch times of every "became leader" line of one replica's log."""
    out = []
    for m in re.finditer(r"^(\S+) info became leader ", log_text, re.M):
        out.append(
            datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
            .replace(tzinfo=datetime.timezone.utc)
            .timestamp()
        )
    return out


def switch_to(world, kubectl, watch, region, timeout=120):
    before = watch.last_operation("Switchover")
    kubectl(
        "-n",
        world.ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"primaryRegion": region}}),
    )
    return wait_switched(world, watch, region, before, timeout)


def wait_switched(world, watch, region, before, timeout=120):
    def done():
        last = watch.last_operation("Switchover")
        assert last and last is not before and last != before, (
            f"no new finished switchover (at {watch.current_step()})"
        )
        return last

    last = wait_for(done, timeout=timeout, interval=0.2, what=f"the switchover to {region}")
    assert last["result"] == "Succeeded", last
    assert last["targetRegion"] == region, last
    assert [s["name"] for s in last.get("steps", [])] == STEPS, last
    assert world.status()["currentPrimaryRegion"] == region
    assert world.writer_region("orders-global") == region
    return last


@pytest.mark.parametrize("step", kill_steps())
def test_one_leader_acts_and_the_survivor_finishes(
    step, world, emulator, kubectl, testenv, controller_bin, tmp_path
):
    t_start = time.monotonic()
    emulator.delays(**SLOW)
    lease = "globaldb-e2e-" + world.ns
    proxies = {n: TaggingProxy(emulator.url, n) for n in ("replica-a", "replica-b")}
    fleet = Fleet(controller_bin, testenv, emulator, world.ns, str(tmp_path))
    watch = StatusWatch(testenv, world.ns)
    watch.start()
    passed = False
    try:
        reps = {n: fleet.start(n, endpoint=Endpoint(p.url)) for n, p in proxies.items()}
        wait_for(
            lambda: holder(kubectl, lease).split("_")[0] in reps,
            timeout=30,
            what="a replica to take the Lease",
        )
        first = holder(kubectl, lease).split("_")[0]
        other = next(n for n in reps if n != first)

        kubectl.apply(world.gdb_manifest())
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        world.write_rows(EAST, "orders-east", "before", 20)
        wait_rows(world, WEST, "orders-west", "before", 20)

        # Switchovers there and back with both replicas up: only the leader acts.
        switch_to(world, kubectl, watch, WEST)
        switch_to(world, kubectl, watch, EAST)
        assert reps[first].reconciles() > 0
        assert reps[other].reconciles() == 0, "the standby reconciled"
        assert not proxies[other].mutating(ACTING), "the standby called AWS to change something"
        since = max(c["seq"] for c in emulator.calls())

        # Kill -9 the leader at the chosen step of the next switchover.
        killed = threading.Event()

        def kill():
            Fleet.kill(reps[first])
            killed.set()

        before = watch.last_operation("Switchover")
        t_patch = time.time()
        watch.arm("Switchover", step, kill)
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
        wait_for(
            killed.is_set,
            timeout=120,
            interval=0.05,
            what=f"the switchover to reach {step} ({watch.describe()})",
        )
        t_kill = time.monotonic()
        wait_for(
            lambda: holder(kubectl, lease).split("_")[0] == other,
            timeout=30,
            what=f"{other} to take the Lease",
        )
        t_lease = time.monotonic() - t_kill
        wait_switched(world, watch, WEST, before)
        t_done = time.monotonic() - t_kill
        west = world.cluster(WEST, "orders-west")
        assert world.record(f"writer.{world.zone_name}") == west["Endpoint"]
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        assert world.count_rows(WEST, "orders-west", "before") == 20
        assert reps[other].reconciles() > 0

        # -- who acted when ----------------------------------------------------
        logs = fleet.logs()
        starts = {n: leadership_starts(logs[n]) for n in reps}
        assert len(starts[first]) == 1 and len(starts[other]) == 1, starts
        killed_at = reps[first].killed_at
        assert starts[other][0] > killed_at, "the survivor led before the leader died"
        windows = {first: (starts[first][0], killed_at), other: (starts[other][0], float("inf"))}
        mut = {n: p.mutating(ACTING) for n, p in proxies.items()}
        for n, calls in mut.items():
            lo, hi = windows[n]
            outside = [c for c in calls if not lo <= c["start"] <= hi]
            assert not outside, f"{n} changed AWS while not leading: {outside}"
        for a in mut[first]:
            for b in mut[other]:
                a_end = a["end"] if a["end"] is not None else float("inf")
                b_end = b["end"] if b["end"] is not None else float("inf")
                assert a_end <= b["start"] or b_end <= a["start"], (
                    f"overlapping mutating calls: {first} {a} and {other} {b}"
                )
        # The switchover was called once, by whichever replica led at the time,
        # and the steps after the kill were the survivor's.
        sw = [
            (n, c)
            for n in mut
            for c in mut[n]
            if c["action"] == "SwitchoverGlobalCluster"
            and c["start"] > t_patch
            and c["status"] == 200
        ]
        assert len(sw) == 1, sw
        if STEPS.index(step) < STEPS.index("UpdateDns"):
            dns = [c for c in mut[other] if c["action"] == "ChangeResourceRecordSets"]
            assert dns, f"the survivor did not move DNS after the kill at {step}"

        calls = [c for c in emulator.calls() if c["seq"] > since]
        assert_no_duplicate_mutations(calls)
        sw = [c for c in calls if c["action"] == "SwitchoverGlobalCluster" and c["status"] == 200]
        assert len(sw) == 1, sw
        print(
            f"\nreplicas: {first} killed at {step}; {other} held the Lease after {t_lease:.1f}s "
            f"and finished the switchover {t_done:.1f}s after the kill; mutating calls "
            f"{ {n: len(c) for n, c in mut.items()} }; "
            f"test took {time.monotonic() - t_start:.1f}s"
        )
        passed = True
    finally:
        watch.close()
        rcs, leaks = fleet.close(world)
        for p in proxies.values():
            p.close()
        if not passed:
            print(f"watch: {watch.describe()}")
            print_log_tails(fleet)
    assert not leaks, f"a controller log contains a secret: {leaks}"
    assert all(rc == 0 for rc in rcs.values()), f"exit codes after SIGTERM: {rcs}"
