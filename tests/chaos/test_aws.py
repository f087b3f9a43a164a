"""Chaos: AWS misbehaving.

1. Throttling: 30 % of every AWS call answered `Throttling` for minutes while
   switchovers run (and the periodic observation goes on). Every operation
   completes correctly, the call rate stays bounded (the bound is derived from
   the design below), and no non-idempotent call is repeated unless the
   previous one got an error answer.
2. A hanging region: us-east-1's AWS endpoints hold every request without an
   answer. A second, independent global database in us-west-2 + eu-west-1
   keeps being served within its normal latency (a switchover of it takes no
   longer than without the hang), while the affected object reports the
   region's API as failing in a condition instead of blocking the workers.

CI runs ~75 s of throttling and one hang; GDB_CHAOS_FULL=1 runs five minutes
of throttling and the hang with switchovers both ways.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager

import pgenv
from conftest import EAST, WEST, Controller, Gdb, full_sweep, metric_value, wait_for
from e2e_conftest import aws_client

THIRD = "eu-west-1"

# Calls that change something in AWS: issuing one twice for the same target in
# one operation is a bug unless the first got an error answer.
NON_IDEMPOTENT = {
    "SwitchoverGlobalCluster",
    "FailoverGlobalCluster",
    "RemoveFromGlobalCluster",
    "CreateGlobalCluster",
    "DeleteGlobalCluster",
    "CreateDBCluster",
    "CreateDBInstance",
    "DeleteDBCluster",
    "DeleteDBInstance",
    "ModifyDBCluster",
}
DESCRIBES = ("DescribeDBClusters", "DescribeDBInstances", "DescribeGlobalClusters")
SHORT = {EAST: "east", WEST: "west", THIRD: "eu"}


# -- shared helpers (test_kube.py uses them too) ------------------------------


class SecondSet:
    """A second global database, independent of the world's orders-global.

    Built the way World.create_infrastructure builds the first (boto3 as a
    platform team's CloudFormation would, on four PostgreSQL servers of its
    own bound to the clusters), with other identifiers: <name>-global with
    <name>-<region> clusters, the writer in regions[0]."""

    def __init__(self, world, name, regions):
        self.world = world
        self.name = name
        self.regions = tuple(regions)
        self.gid = f"{name}-global"
        self.cid = {r: f"{name}-{SHORT[r]}" for r in self.regions}
        for r in self.regions:
            if r not in world.rds:
                world.rds[r] = aws_client(world.admin, "rds", r)

    def build(self):
        w = self.world
        primary, secondary = self.regions
        for r in self.regions:
            tag = f"{self.name}-{SHORT[r]}"
            wr = pgenv.init_primary(w.root, tag + "-w", password=w.password)
            w.servers[tag + "-w"] = wr
            w.servers[tag + "-r"] = pgenv.make_standby(wr, w.root, tag + "-r")
            w.admin.bind(r, self.cid[r], w.servers[tag + "-w"], w.servers[tag + "-r"])
        src = w.rds[primary].create_db_cluster(
            DBClusterIdentifier=self.cid[primary],
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            MasterUsername="postgres",
            MasterUserPassword=w.password,
        )["DBCluster"]
        w.rds[primary].create_db_instance(
            DBInstanceIdentifier=self.cid[primary] + "-1",
            DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier=self.cid[primary],
        )
        w.wait_cluster(primary, self.cid[primary], "available")
        w.rds[primary].create_global_cluster(
            GlobalClusterIdentifier=self.gid, SourceDBClusterIdentifier=src["DBClusterArn"]
        )
        w.rds[secondary].create_db_cluster(
            DBClusterIdentifier=self.cid[secondary],
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            GlobalClusterIdentifier=self.gid,
        )
        w.rds[secondary].create_db_instance(
            DBInstanceIdentifier=self.cid[secondary] + "-1",
            DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier=self.cid[secondary],
        )
        w.wait_cluster(secondary, self.cid[secondary], "available", timeout=120)
        wait_for(
            lambda: w.sync_status(self.gid, secondary, self.cid[secondary]) == "connected",
            timeout=120,
            what=f"{self.cid[secondary]} to be connected",
        )
        return self

    def manifest(self, primary=None, dns=False):
        """The GlobalDatabase for this set. Without dns: Route 53 is signed for
        us-east-1, so an object that must not depend on us-east-1 has none."""
        tmpl = {"engineVersion": "15.4", "instanceClass": "db.r6g.large", "instances": 1}
        m = self.world.gdb_manifest(
            globalClusterIdentifier=self.gid,
            primaryRegion=primary or self.regions[0],
            regions=[
                {"name": r, "dbClusterIdentifier": self.cid[r], "template": dict(tmpl)}
                for r in self.regions
            ],
        )
        m["metadata"]["name"] = self.name
        if dns:
            m["spec"]["dns"]["writerRecordName"] = f"{self.name}-writer.{self.world.zone_name}"
            m["spec"]["dns"]["readerRecordName"] = f"{self.name}-reader.{self.world.zone_name}"
        else:
            del m["spec"]["dns"]
        del m["spec"]["workloads"]
        return m


def last_seq(emulator):
    return max((c["seq"] for c in emulator.calls()), default=0)


def duplicated_calls(calls):
    """Non-idempotent calls issued again for the same target after an answer
    that was not an error (a retry after an error answer is fine)."""
    last = {}
    dups = []
    for c in sorted(calls, key=lambda c: c["seq"]):
        if c["action"] not in NON_IDEMPOTENT:
            continue
        params = {
            k: v for k, v in (c.get("params") or {}).items() if k not in ("Action", "Version")
        }
        key = (c["action"], c["region"], json.dumps(params, sort_keys=True))
        prev = last.get(key)
        if prev is not None and prev["status"] < 400:
            dups.append((prev["seq"], c["seq"], c["action"], c["region"], params))
        last[key] = c
    return dups


@contextmanager
def running_controller(
    controller_bin,
    testenv,
    emulator,
    world,
    logdir,
    extra_args=(),
    pod_name="chaos-controller",
    expect_rc=0,
):
    """A controller process with the controller fixture's end checks: no secret
    in its log, and (unless expect_rc is None) the exit status after SIGTERM."""
    os.makedirs(logdir, exist_ok=True)
    c = Controller(
        controller_bin,
        testenv,
        emulator,
        world.ns,
        logdir,
        extra_args=extra_args,
        pod_name=pod_name,
    )
    try:
        c.wait_ready()
        yield c
    finally:
        rc = c.stop()
        text = open(c.log_path).read()
        print(f"\n---- {pod_name} log (tail) ----\n" + text[-4000:])
        leaks = [s for s in (world.password, c.aws_secret) if s in text]
        assert not leaks, f"the log of {pod_name} contains a secret"
        if expect_rc is not None:
            assert rc == expect_rc, f"{pod_name} exited with {rc}"


# -- 1. throttling ------------------------------------------------------------

# The bound on AWS calls per minute, from the design:
#  - observation: per region at most one Describe round per cache TTL
#    (GDB_OBS_TTL_MS = 1.5 s, single flight; a failed round is cached as
#    failed for the same window), i.e. <= 40 rounds a minute, each of 3
#    Describe calls (clusters, instances, global clusters; one page each here);
#  - each call makes at most 3 HTTP attempts (the client's max_attempts), paid
#    from a retry quota; throttled answers are retried after a jittered backoff;
#  - operations: a step re-issues its call only after an error answer, with
#    the planner's backoff of 2 s doubling to 60 s (docs/api.md); the few
#    Route 53 / Kubernetes-side calls of a switchover are a handful a minute,
#    GetChange once per reconcile while a DNS change is awaited.
# Two regions: 2 x 40 x 3 x 3 = 720 Describe attempts a minute at the very
# most, plus the operation calls (say 60). Any storm (a retry loop without
# backoff, a reconcile per probe without the cache) blows far past that. The
# test also states the expected rate: with 30 % throttling a call needs
# 1/(1-0.3) ~ 1.43 attempts on average, so <= 2 x 40 x 3 x 1.43 ~ 343 Describe
# attempts a minute (plus the operation calls), and it prints what it measured.
TTL_S = 1.5
ROUNDS_PER_MIN = 60 / TTL_S
HARD_BOUND_PER_MIN = 2 * ROUNDS_PER_MIN * 3 * 3 + 60
EXPECTED_BOUND_PER_MIN = 2 * ROUNDS_PER_MIN * 3 / (1 - 0.3) + 60


def per_minute_windows(calls, t0, t1):
    """Calls in every 60 s window [t, t+60) sliding by 10 s over [t0, t1]."""
    out = []
    t = t0
    while t + 60 <= t1 + 1e-6:
        out.append((t - t0, sum(1 for c in calls if t <= c["time"] < t + 60)))
        t += 10
    if not out and calls:  # a run shorter than a minute: scale up its rate
        span = max(t1 - t0, 1.0)
        out.append((0.0, len([c for c in calls if t0 <= c["time"] <= t1]) * 60.0 / span))
    return out


def test_throttling_converges_without_a_call_storm(
    world, emulator, controller_bin, testenv, tmp_path
):
    duration = 300 if full_sweep() else 75
    gdb = Gdb(world, "orders")
    with running_controller(controller_bin, testenv, emulator, world, str(tmp_path / "c")) as ctl:
        world.kubectl.apply(world.gdb_manifest())
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        world.write_rows(EAST, "orders-east", "before", 20)
        start_seq = last_seq(emulator)
        t0 = time.time()
        emulator.post("/throttle", {"fraction": 0.3, "seed": 7})
        ops = []
        try:
            target = WEST
            while time.time() - t0 < duration - 5:
                cur = EAST if target == WEST else WEST
                begin = gdb.op_mark()
                seq0 = last_seq(emulator)
                m0 = time.monotonic()
                gdb.patch_spec(primaryRegion=target)
                last = gdb.wait_operation("Switchover", begin, timeout=240)
                took = time.monotonic() - m0
                assert last["result"] == "Succeeded", last
                assert last["sourceRegion"] == cur and last["targetRegion"] == target, last
                # No AWS call of the test's own while throttling (the call log
                # could not tell them from the controller's): RDS's view comes
                # from status (the controller's observation) and the call log.
                st = gdb.status()
                assert st["currentPrimaryRegion"] == target
                cid = "orders-west" if target == WEST else "orders-east"
                op_calls = [c for c in emulator.calls(since=seq0)]
                sw = [c for c in op_calls if c["action"] == "SwitchoverGlobalCluster"]
                ok = [c for c in sw if c["status"] < 400]
                assert len(ok) == 1, f"one accepted SwitchoverGlobalCluster per switchover: {sw}"
                assert (
                    ok[0]["region"] == cur
                    and ok[0]["params"]["TargetDbClusterIdentifier"].split(":")[-1] == cid
                ), ok[0]
                assert duplicated_calls(op_calls) == []
                ops.append((target, took, len(sw)))
                print(
                    f"throttled switchover to {target}: {took:.1f}s, "
                    f"{len(sw)} SwitchoverGlobalCluster call(s) "
                    f"({sum(1 for c in sw if c['injected'] == 'throttle')} throttled)"
                )
                target = cur
            # The periodic observation alone for the rest of the window.
            rest = duration - (time.time() - t0)
            if rest > 0:
                wait_for(
                    lambda: time.time() - t0 >= duration,
                    timeout=rest + 5,
                    interval=1,
                    what="the end of the throttling window",
                )
        finally:
            emulator.post("/throttle", {"fraction": 0})
        t1 = time.time()
        calls = [c for c in emulator.calls(since=start_seq) if t0 <= c["time"] <= t1]
        throttled = sum(1 for c in calls if c.get("injected") == "throttle")
        windows = per_minute_windows(calls, t0, t1)
        worst = max(n for _, n in windows)
        describes = {
            r: sum(1 for c in calls if c["action"] in DESCRIBES and c["region"] == r)
            for r in (EAST, WEST)
        }
        print(
            f"throttling {t1 - t0:.0f}s: {len(calls)} AWS calls ({throttled} throttled, "
            f"{throttled / max(len(calls), 1):.0%}); worst 60 s window {worst:.0f} calls; "
            f"Describe calls per region {describes}; expected <= {EXPECTED_BOUND_PER_MIN:.0f}/min, "
            f"hard bound {HARD_BOUND_PER_MIN:.0f}/min; switchovers {ops}"
        )
        assert len(ops) >= 2, f"at least a switchover there and back under throttling: {ops}"
        assert throttled > 0, "the throttling was injected"
        assert worst <= HARD_BOUND_PER_MIN, f"AWS call storm: {windows}"
        assert worst <= EXPECTED_BOUND_PER_MIN, (
            f"more calls a minute than the cache and backoff allow: {windows}"
        )
        # The cache itself: a round has exactly one answered DescribeDBClusters,
        # so those count the rounds. At most one per TTL per region, plus one
        # early refresh after each action the controller took there (the
        # reconciler invalidates the region it acted in; a switchover has at
        # most 6 steps).
        for region in (EAST, WEST):
            rounds = [
                c
                for c in calls
                if c["action"] == "DescribeDBClusters"
                and c["region"] == region
                and c["status"] < 400
            ]
            accepted = [
                c for c in calls if c["action"] == "SwitchoverGlobalCluster" and c["status"] < 400
            ]
            for start, n in per_minute_windows(rounds, t0, t1):
                ops_in = sum(1 for c in accepted if t0 + start - 30 <= c["time"] < t0 + start + 60)
                assert n <= ROUNDS_PER_MIN + 6 * (ops_in + 1), (
                    f"{region}: {n} Describe rounds in the minute from +{start:.0f}s"
                )
            print(
                f"{region}: at most {max(n for _, n in per_minute_windows(rounds, t0, t1)):.0f} "
                f"Describe rounds a minute (TTL allows {ROUNDS_PER_MIN:.0f} + actions)"
            )
        # (duplicates are checked per switchover above: the same call for the
        # same target rightly recurs in the next switchover there.)

        # Converged: the writer is where the spec says, nothing is lost, and it
        # stays Ready now that the throttling is over.
        final = ops[-1][0]
        gdb.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        fcid = "orders-west" if final == WEST else "orders-east"
        assert world.writer_region("orders-global") == final
        assert world.record(f"writer.{world.zone_name}") == world.cluster(final, fcid)["Endpoint"]
        assert world.count_rows(final, fcid, "before") == 20
        assert ctl.proc.poll() is None
        m = ctl.metrics()
        assert (
            metric_value(
                m, "globaldb_current_primary_info", namespace=world.ns, name="orders", region=final
            )
            == 1
        )


# -- 2. a hanging region --------------------------------------------------------


def timed_switchover(gdb, world, target, timeout=180):
    begin = gdb.op_mark()
    m0 = time.monotonic()
    gdb.patch_spec(primaryRegion=target)
    last = gdb.wait_operation("Switchover", begin, timeout=timeout)
    took = time.monotonic() - m0
    assert last["result"] == "Succeeded", last
    return took


def test_a_hanging_region_does_not_hold_up_other_work(
    world, emulator, controller_bin, testenv, tmp_path
):
    """orders spans us-east-1 + us-west-2; billing spans us-west-2 + eu-west-1.
    us-east-1 hangs (RDS, Route 53, everything signed for it; PostgreSQL keeps
    running): billing's switchovers take no longer than without the hang, and
    orders reports us-east-1's API as failing."""
    billing = SecondSet(world, "billing", (WEST, THIRD)).build()
    orders, bill = Gdb(world, "orders"), Gdb(world, "billing")
    with running_controller(controller_bin, testenv, emulator, world, str(tmp_path / "c")) as ctl:
        world.kubectl.apply(world.gdb_manifest())
        world.kubectl.apply(billing.manifest())
        orders.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
        bill.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)

        # Baseline: billing there and back without any fault.
        base = [timed_switchover(bill, world, THIRD)]
        if full_sweep():
            base.append(timed_switchover(bill, world, WEST))
        bill.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        baseline = max(base)

        seq0 = last_seq(emulator)
        emulator.outage(EAST, "hang", pg="none")
        hang_t0 = time.monotonic()
        try:
            # billing is served as usual, from the first second of the hang on
            # (while orders' reconciles wait on us-east-1) and after it.
            during = []
            cur = bill.status()["currentPrimaryRegion"]
            other = WEST if cur == THIRD else THIRD
            during.append(timed_switchover(bill, world, other))
            bill.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)

            # The affected object says why, instead of hiding it (or hanging).
            def east_reported():
                c = orders.condition("Degraded")
                assert (
                    c
                    and c["status"] == "True"
                    and c["reason"] in ("RegionUnreachable", "AwsUnreachable")
                ), f"orders Degraded: {c}"
                return c

            deg = wait_for(
                east_reported,
                timeout=90,
                interval=0.5,
                what="orders to report us-east-1's API as failing",
            )
            detected = time.monotonic() - hang_t0
            assert EAST in deg["message"], deg
            print(
                f"orders reported {deg['reason']} {detected:.1f}s into the hang: {deg['message']}"
            )
            if full_sweep():
                during.append(timed_switchover(bill, world, cur))
                bill.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
            print(
                f"billing switchover: baseline {[round(b, 1) for b in base]} s, "
                f"during the hang {[round(d, 1) for d in during]} s"
            )
            # A worker held by the hanging region would cost billing at least
            # the AWS call timeout (15 s) per blocked observation.
            assert max(during) <= 2 * baseline + 8, (
                f"billing slowed down by the hanging us-east-1: {during} vs baseline {base}"
            )
            # No call of billing's went to the hanging region.
            calls = emulator.calls(since=seq0)
            assert not [c for c in calls if c["region"] == EAST and c["action"] in NON_IDEMPOTENT]
            # orders is not failed over: its writer's PostgreSQL is fine (pg none),
            # so the probes keep succeeding, and a silent control plane alone
            # is no reason to move.
            assert world.writer_region("orders-global") == EAST
            assert orders.condition("PrimaryHealthy")["status"] == "True"
            assert orders.status()["currentPrimaryRegion"] == EAST

            # orders' own intent meanwhile: a switchover needs its primary's
            # region (the call is made there), so it waits, says so, and calls
            # nothing into the hang ...
            seq_o = last_seq(emulator)
            begin_o = orders.op_mark()
            orders.patch_spec(primaryRegion=WEST)
            gen = orders.get()["metadata"]["generation"]

            def waiting():
                st = orders.status()
                ready = next(c for c in st["conditions"] if c["type"] == "Ready")
                assert st.get("observedGeneration") == gen and ready["status"] == "False", ready
                return ready

            ready = wait_for(
                waiting, timeout=90, interval=0.5, what="orders to take in the new primaryRegion"
            )
            print(f"orders during the hang: Ready=False/{ready['reason']}: {ready['message']}")
            accepted = [
                c
                for c in emulator.calls(since=seq_o)
                if c["action"] == "SwitchoverGlobalCluster" and c["status"] < 400
            ]
            assert accepted == [], accepted
            assert ctl.proc.poll() is None
        finally:
            emulator.outage(EAST, "off")
        # ... and runs once the region answers again, exactly once.
        last = orders.wait_operation("Switchover", begin_o, timeout=180)
        assert last["result"] == "Succeeded", last
        sw = [c for c in emulator.calls(since=seq_o) if c["action"] == "SwitchoverGlobalCluster"]
        assert len([c for c in sw if c["status"] < 400]) == 1, sw
        assert world.writer_region("orders-global") == WEST
        print(
            f"orders' switchover after the hang: {len(sw)} SwitchoverGlobalCluster call(s): "
            f"{[(c['status'], c['injected']) for c in sw]}"
        )
        orders.wait_condition("Degraded", "False", "AsExpected", timeout=120)
        orders.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        bill.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=60)
        assert duplicated_calls(emulator.calls(since=seq0)) == []
