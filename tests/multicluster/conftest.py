"""The two-cluster world (issue 18): one GlobalDatabase, applied to the clusters
of two regions, a controller in each, one decision through a DynamoDB guard.

- Two kube-apiserver + etcd pairs: `testenv.py up --clusters 2` (a developer's
  `hack/testenv up --clusters 2`, found through $GDB_TESTENV_STATE, or one
  started here for the session and torn down after it).
- The AWS emulator (tests/support/awsemu_fixture.py) and the e2e tier's world
  (tests/e2e/conftest.py): orders-east (writer, us-east-1) and orders-west
  (us-west-2) in orders-global on four real PostgreSQL servers, a Route 53
  zone, and the same namespace, probe Secret and Deployment in both clusters.
- The guard's table: `globaldb-guard` (partition key pk, S), created in
  us-east-1 and made a multi-Region strongly consistent table with replicas in
  us-west-2 and us-east-2, as docs/deploy.md tells an operator to.
- One controller per cluster: `--region us-east-1 --controller-id east` in
  cluster 1 and `--region us-west-2 --controller-id west` in cluster 2, each
  with `--guard-table globaldb-guard --guard-regions <its region first>`,
  its own access key (the emulator's call log names it as caller) and its own
  vantage point (tests/support/vantage.py): its AWS endpoint and its
  PostgreSQL probes go through proxies of its own, so a test can partition
  one controller from a region while the other still sees it.

One world serves every story of the session (building it is most of the
tier's time). `stage` resets what a story may have broken: cuts, outages,
throttling, killed controllers; each story starts from the writer where the
previous one left it and reads the call log from its own mark.
"""

from __future__ import annotations

import calendar
import copy
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_CONFTEST = os.path.join(HERE, "..", "e2e", "conftest.py")

_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E_CONFTEST)
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

# pytest finds fixtures among this module's names.
from e2e_conftest import (  # noqa: E402,F401
    AWS_WRITES,
    DELAY_KEYS,
    EAST,
    WEST,
    Controller,
    Gdb,
    Kubectl,
    World,
    ecs_service,
    wait_for,
)
from vantage import Vantage  # noqa: E402
from waiting import wait_lag_measured  # noqa: E402

THIRD = "us-east-2"  # the guard table's third replica (same MRSC region set)
GUARD_TABLE = "globaldb-guard"
# The guard's lease: the shortest the flag allows (one AWS call and the margin
# fit in it), so that story (d)'s takeover comes 30 s sooner than with 60s.
GUARD_LEASE_S = 30
PROMOTIONS = ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster")
# A Kubernetes Lease short enough that each cluster's controller leads within seconds.
FAST_LEASE = (
    "--leader-election-lease-duration=3s",
    "--leader-election-renew-deadline=2s",
    "--leader-election-retry-period=500ms",
)
TESTENV = os.path.join(e2e.ENV_DIR, "testenv.py")

# The e2e tier's fixtures, under the names the tests ask for.
controller_bin = e2e.controller_bin
emulator = e2e.emulator


# -- two Kubernetes clusters -----------------------------------------------------


@pytest.fixture(scope="session")
def clusters():
    """The state of a test environment with two clusters (testenv.py)."""
    path = os.environ.get("GDB_TESTENV_STATE")
    if path and os.path.exists(path):
        with open(path) as f:
            st = json.load(f)
        if len(st.get("clusters", [])) >= 2:
            yield st
            return
    d = tempfile.mkdtemp(prefix="gdb-multicluster-")
    state = os.path.join(d, "state.json")
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, TESTENV, "up", "--clusters", "2", "--state", state]
        + ["--owner-pid", str(os.getpid())],
        capture_output=True,
        text=True,
    )
    try:
        assert r.returncode == 0, f"testenv up --clusters 2 failed:\n{r.stderr[-4000:]}"
        print(f"\nmulticluster: two clusters up in {time.monotonic() - t0:.1f}s")
        with open(state) as f:
            yield json.load(f)
    finally:
        subprocess.run([sys.executable, TESTENV, "down", "--state", state], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


class Endpoint:
    """What Controller needs of the emulator: a URL (here a vantage point's)."""

    def __init__(self, url):
        self.url = url


class Side:
    """One region's cluster: its kubectl, its view of the object, its vantage
    point and its controller."""

    def __init__(self, name, region, cluster, world, vantage, guard_regions):
        self.name, self.region, self.cluster = name, region, cluster
        self.kubectl = Kubectl(cluster)
        self.world = world  # the World, seen through this cluster's kubectl
        self.gdb = Gdb(world, "orders")
        self.vantage = vantage
        self.guard_regions = guard_regions
        self.access_key = f"AKIDMC{name.upper()}"
        self.controller = None
        self.starts = 0

    def start(self, binary, logdir):
        self.starts += 1
        self.logdir = logdir
        d = os.path.join(logdir, f"{self.name}-{self.starts}")
        os.makedirs(d, exist_ok=True)
        self.controller = Controller(
            binary,
            self.cluster,
            Endpoint(self.vantage.url),
            self.world.ns,
            d,
            extra_args=FAST_LEASE
            + (
                "--region",
                self.region,
                "--controller-id",
                self.name,
                "--guard-table",
                GUARD_TABLE,
                "--guard-regions",
                ",".join(self.guard_regions),
                f"--guard-lease-duration={GUARD_LEASE_S}s",
            ),
            pod_name=f"mc-{self.name}",
            aws_env={
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.controller_secret(),
                "AWS_REGION": self.region,
            },
        )
        self.controller.wait_ready()
        return self.controller

    def controller_secret(self):
        if not hasattr(self, "_secret"):
            self._secret = "mc-secret-" + secrets.token_hex(10)
        return self._secret

    def running(self):
        return self.controller is not None and self.controller.proc.poll() is None

    def kill(self):
        """SIGKILL, as a node loss would."""
        p = self.controller.proc
        if p.poll() is None:
            p.kill()
        p.wait()

    def stop(self):
        if self.controller is None:
            return None
        rc = self.controller.stop() if self.running() else self.controller.proc.returncode
        if not self.controller.log.closed:
            self.controller.log.close()
        return rc

    def secret_in_logs(self, *more):
        text = self.log_text()
        return any(x in text for x in (self.controller_secret(), *more))

    # -- what a user reads with kubectl ------------------------------------------

    def status(self):
        return self.gdb.status()

    def condition(self, ctype):
        return self.gdb.condition(ctype)

    def event_reasons(self):
        return [e["reason"] for e in self.gdb.events()]

    def events_since(self, t):
        """Events of the object first seen at or after epoch time t."""
        out = []
        for e in self.gdb.events():
            ts = e.get("eventTime") or e["metadata"]["creationTimestamp"]
            if _epoch(ts) >= int(t):
                out.append(e)
        return out

    def log_text(self):
        """Every log of this side's controllers so far (one per start)."""
        out = []
        for i in range(1, self.starts + 1):
            path = os.path.join(self.logdir, f"{self.name}-{i}", "controller.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f.read())
        return "".join(out)

    def wait_ready_in(self, region, timeout=120):
        def ready():
            st = self.status()
            assert st.get("currentPrimaryRegion") == region, (
                f"{self.name}: writer in {st.get('currentPrimaryRegion')}"
            )
            c = self.condition("Ready")
            assert c and c["status"] == "True", f"{self.name}: Ready {c}"
            return st

        return wait_for(
            ready, timeout=timeout, interval=0.5, what=f"{self.name}: Ready in {region}"
        )


def _epoch(ts):
    """Epoch seconds of an RFC 3339 time (to the second)."""
    return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))


class MultiWorld:
    """The two sides, the emulator and the world they share."""

    def __init__(self, admin, world, east, west, logdir):
        self.admin, self.world, self.east, self.west = admin, world, east, west
        self.sides = (east, west)
        self.logdir = logdir

    def side_of_caller(self, caller):
        return next((s for s in self.sides if s.access_key == caller), None)

    def mark(self):
        calls = self.admin.calls()
        return max((c["seq"] for c in calls), default=0)

    def calls(self, since, action=None):
        calls = self.admin.calls(**({"action": action} if action else {}))
        return [c for c in calls if c["seq"] > since]

    def promotions(self, since):
        return [c for c in self.calls(since) if c["action"] in PROMOTIONS]

    def rds_writes(self, since):
        return [c for c in self.calls(since) if c["service"] == "rds" and c["action"] in AWS_WRITES]

    def patch_both(self, **spec):
        for s in self.sides:
            s.gdb.patch_spec(**spec)

    def logs(self, n=60):
        """What each controller decided (planned actions and guard decisions), last n lines."""
        out = []
        for s in self.sides:
            lines = [
                line
                for line in s.log_text().splitlines()
                if " planned " in line or " guard " in line or " error " in line
            ]
            out.append(f"\n---- controller {s.name}: decisions ----\n" + "\n".join(lines[-n:]))
        return "".join(out)


def fmt(c):
    return (
        f"#{c['seq']} {c['timeRFC3339']} {c['region']} {c['caller']} {c['action']} "
        f"-> {c['status']} {c.get('error') or ''}"
    )


def create_mrsc_guard_table(admin):
    """The guard's MRSC table, as the operator creates it (docs/deploy.md)."""
    ddb = e2e.create_guard_table(admin, EAST, GUARD_TABLE)
    ddb.update_table(
        TableName=GUARD_TABLE,
        ReplicaUpdates=[{"Create": {"RegionName": WEST}}, {"Create": {"RegionName": THIRD}}],
        MultiRegionConsistency="STRONG",
    )


@pytest.fixture(scope="session")
def mc(clusters, emulator, controller_bin, tmp_path_factory):
    emulator.post("/reset")
    emulator.delays(**{k: 0.3 for k in DELAY_KEYS})
    root = tempfile.mkdtemp(prefix="gdb-mc-pg-")
    os.chmod(root, 0o755)
    logdir = str(tmp_path_factory.mktemp("controllers"))
    c1, c2 = clusters["clusters"][0], clusters["clusters"][1]
    world = World(emulator, Kubectl(c1), root)
    sides, vantages = [], []
    try:
        t0 = time.monotonic()
        world.make_servers()
        world.create_infrastructure()
        world.create_zone()
        world.create_namespace()
        world2 = copy.copy(world)
        world2.kubectl = Kubectl(c2)
        world2.create_namespace()
        create_mrsc_guard_table(emulator)
        ports = {
            EAST: [world.servers["east-w"].port, world.servers["east-r"].port],
            WEST: [world.servers["west-w"].port, world.servers["west-r"].port],
        }
        for name, region, cluster, view, order in (
            ("east", EAST, c1, world, (EAST, WEST, THIRD)),
            ("west", WEST, c2, world2, (WEST, EAST, THIRD)),
        ):
            v = Vantage(name, emulator.url, ports)
            vantages.append(v)
            sides.append(Side(name, region, cluster, view, v, order))
        m = MultiWorld(emulator, world, sides[0], sides[1], logdir)
        # Detach-and-promote: the data-losing path, which needs a second vantage point. The
        # whole tail (Route 53, SSM, an ECS service, each cluster's Deployment), so that the
        # stories can count who makes each of its calls.
        manifest = world.gdb_manifest(
            failover={"cooldownSeconds": 0},
            ssm={"parameterPrefix": "/orders/db"},
            workloads={
                "deployments": [{"namespace": world.ns, "name": "orders-api"}],
                "ecsServices": [ecs_service(emulator, EAST, "api")],
            },
        )
        for s in sides:
            s.kubectl.apply(manifest)
            s.start(controller_bin, logdir)
        for s in sides:
            s.wait_ready_in(EAST, timeout=120)
            wait_lag_measured(s.world, WEST, timeout=60)
        print(f"\nmulticluster: world and both controllers ready in {time.monotonic() - t0:.1f}s")
        yield m
    finally:
        rcs = {s.name: s.stop() for s in sides}
        for s in sides:
            print(f"\n---- controller {s.name} log (tail) ----\n" + s.log_text()[-6000:])
        for v in vantages:
            v.close()
        for region in (EAST, WEST, THIRD):
            try:
                emulator.outage(region, "off")
            except Exception:
                pass
        errors = emulator.errors()
        emulator.post("/reset")
        world.destroy_servers()
        shutil.rmtree(root, ignore_errors=True)
        leaks = [s.name for s in sides if s.controller and s.secret_in_logs(world.password)]
        assert not leaks, f"a controller log contains a secret: {leaks}"
        assert errors == [], f"emulator background errors: {errors}"
        assert all(rc in (0, None, -9) for rc in rcs.values()), f"exit codes {rcs}"


@pytest.fixture
def stage(mc, controller_bin, emulator, request):
    """A story's start: nothing cut, throttled or out; both controllers running;
    yields the call log's mark."""
    for s in mc.sides:
        s.vantage.heal()
        if not s.running():
            s.start(controller_bin, mc.logdir)
    emulator.post("/throttle", {"fraction": 0})
    for region in (EAST, WEST, THIRD):
        emulator.outage(region, "off")
    t0 = time.monotonic()
    yield mc.mark()
    print(f"\n{request.node.name}: {time.monotonic() - t0:.1f}s")
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(mc.logs())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
