"""End-to-end fixtures: the whole product against real parts.

- the shared test environment (kube-apiserver + etcd with the CRD and the
  controller's ServiceAccount and RBAC), read from $GDB_TESTENV_STATE;
- the AWS emulator (moto + our global-database extension) as its own process;
- four PostgreSQL servers of this test's own (pgenv): a writer and a reader per
  region, bound to the two Aurora clusters in the emulator, so switchover,
  failover and fallback move a real writer and replicate real rows;
- the "existing infrastructure" created with boto3, as a platform team's
  CloudFormation would: orders-east (writer) + orders-west (secondary) in the
  global cluster orders-global, a Route 53 zone, an application Deployment;
- with the `regions3` marker, a third region: orders-eu in eu-west-1, a
  secondary of orders-global with one PostgreSQL server of its own (its
  writer instance, a streaming standby of the primary's writer; no reader, to
  keep the start cheap), and in the manifest;
- the controller binary as its own process, with the controller's
  ServiceAccount kubeconfig and AWS_ENDPOINT_URL pointing at the emulator.

Everything is driven with kubectl, as a user would.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("GDB_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))
ENV_DIR = os.path.join(SOURCE_DIR, "tests", "env")
SUPPORT_DIR = os.path.join(SOURCE_DIR, "tests", "support")
for _d in (ENV_DIR, SUPPORT_DIR):
    if _d not in sys.path:
        sys.path.insert(0, _d)

import awsemu_fixture  # noqa: E402
import pgenv  # noqa: E402
from awsemu_fixture import DELAY_KEYS, Admin  # noqa: E402,F401
from pgenv import free_port  # noqa: E402
from waiting import wait_for  # noqa: E402,F401

# The shared fixture, under the name the tests ask for (tests/support/awsemu_fixture.py).
emulator = awsemu_fixture.emulator

EAST, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
CLUSTER_IDS = {EAST: "orders-east", WEST: "orders-west", EU: "orders-eu"}


def cut_connection(conn):
    """Shut a psycopg connection's socket down (a watchdog for a statement
    that would otherwise wait on a frozen server)."""
    try:
        s = socket.socket(fileno=os.dup(conn.fileno()))
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    except OSError:
        pass


@pytest.fixture(scope="session")
def testenv():
    path = os.environ.get("GDB_TESTENV_STATE")
    if not path or not os.path.exists(path):
        pytest.fail(
            "GDB_TESTENV_STATE does not name a running test environment "
            "(run through ctest, or hack/testenv up)"
        )
    with open(path) as f:
        return json.load(f)


def controller_bin_path():
    """The controller binary: $GDB_CONTROLLER_BIN, else the one in the build tree."""
    return os.environ.get("GDB_CONTROLLER_BIN") or os.path.join(
        os.environ.get("GDB_BINARY_DIR", os.path.join(SOURCE_DIR, "build")),
        "cmd",
        "globaldb-controller",
        "globaldb-controller",
    )


@pytest.fixture(scope="session")
def controller_bin():
    b = controller_bin_path()
    if not os.access(b, os.X_OK):
        pytest.fail(f"controller binary {b} is not built")
    return b


class Kubectl:
    def __init__(self, testenv):
        self.bin = testenv["kubectl"]
        self.kubeconfig = testenv["kubeconfig"]

    def __call__(self, *args, input=None, check=True):
        r = subprocess.run(
            [self.bin, "--kubeconfig", self.kubeconfig, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def json(self, *args):
        return json.loads(self(*args, "-o", "json"))

    def apply(self, obj):
        return self("apply", "-f", "-", input=json.dumps(obj))


@pytest.fixture(scope="session")
def kubectl(testenv):
    return Kubectl(testenv)


def aws_client(admin, service, region):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=admin.url,
        aws_access_key_id="AKIDE2ESETUP",
        aws_secret_access_key="setup-not-secret",
        config=Config(
            retries={"max_attempts": 2, "mode": "standard"}, read_timeout=60, connect_timeout=5
        ),
    )


class World:
    """The infrastructure of one test: servers, clusters, zone, namespace."""

    def __init__(self, admin, kubectl, root, regions=(EAST, WEST)):
        self.admin = admin
        self.kubectl = kubectl
        self.root = root
        self.regions = tuple(regions)
        self.password = "pw-" + secrets.token_hex(12)
        self.servers = {}
        self.ns = "e2e-" + secrets.token_hex(4)
        self.rds = {r: aws_client(admin, "rds", r) for r in (EAST, WEST, EU)}
        self.r53 = aws_client(admin, "route53", EAST)
        self.zone_id = None

    # -- PostgreSQL ------------------------------------------------------------

    def make_servers(self):
        ew = pgenv.init_primary(self.root, "east-w", password=self.password)
        self.servers["east-w"] = ew
        self.servers["east-r"] = pgenv.make_standby(ew, self.root, "east-r")
        # The west servers become standbys of the east writer when the secondary is created.
        ww = pgenv.init_primary(self.root, "west-w", password=self.password)
        self.servers["west-w"] = ww
        self.servers["west-r"] = pgenv.make_standby(ww, self.root, "west-r")
        if EU in self.regions:
            self.servers["eu-w"] = pgenv.init_primary(self.root, "eu-w", password=self.password)

    def destroy_servers(self):
        for s in self.servers.values():
            try:
                if s.frozen:
                    s.thaw()
            except Exception:
                pass
            try:
                s.destroy()
            except Exception:
                pass

    # -- AWS -------------------------------------------------------------------

    def create_infrastructure(self):
        """orders-east + orders-west in orders-global, as existing infrastructure."""
        self.admin.bind(EAST, "orders-east", self.servers["east-w"], self.servers["east-r"])
        self.admin.bind(WEST, "orders-west", self.servers["west-w"], self.servers["west-r"])
        east = self.rds[EAST].create_db_cluster(
            DBClusterIdentifier="orders-east",
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            MasterUsername="postgres",
            MasterUserPassword=self.password,
        )["DBCluster"]
        self.rds[EAST].create_db_instance(
            DBInstanceIdentifier="orders-east-1",
            DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier="orders-east",
        )
        self.wait_cluster(EAST, "orders-east", "available")
        self.rds[EAST].create_global_cluster(
            GlobalClusterIdentifier="orders-global", SourceDBClusterIdentifier=east["DBClusterArn"]
        )
        self.add_secondary(WEST, "orders-west")
        if EU in self.regions:
            self.admin.bind(EU, "orders-eu", self.servers["eu-w"])
            self.add_secondary(EU, "orders-eu")

    def add_secondary(self, region, cluster):
        """cluster (already bound to its servers) joins orders-global in region, with one
        instance, as a platform team would add it; returns once it is connected."""
        self.rds[region].create_db_cluster(
            DBClusterIdentifier=cluster,
            Engine="aurora-postgresql",
            EngineVersion="15.4",
            GlobalClusterIdentifier="orders-global",
        )
        self.rds[region].create_db_instance(
            DBInstanceIdentifier=f"{cluster}-1",
            DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier=cluster,
        )
        self.wait_cluster(region, cluster, "available", timeout=120)
        wait_for(
            lambda: self.sync_status("orders-global", region, cluster) == "connected",
            timeout=120,
            what=f"{cluster} to be connected",
        )

    def create_zone(self):
        # The CRD wants a zone id that looks like Route 53's (Z...); moto's are random.
        for i in range(400):
            z = self.r53.create_hosted_zone(
                Name=f"orders{i}.example.com.", CallerReference=secrets.token_hex(8)
            )
            zid = z["HostedZone"]["Id"].split("/")[-1]
            if zid.startswith("Z"):
                self.zone_id = zid
                self.zone_name = f"orders{i}.example.com"
                return zid
            self.r53.delete_hosted_zone(Id=zid)
        raise AssertionError("no Z... hosted zone id from the emulator")

    def record(self, name):
        out = self.r53.list_resource_record_sets(HostedZoneId=self.zone_id)
        for rr in out["ResourceRecordSets"]:
            if rr["Name"].rstrip(".") == name.rstrip(".") and rr["Type"] == "CNAME":
                return rr["ResourceRecords"][0]["Value"]
        return None

    def cluster(self, region, cid):
        try:
            return self.rds[region].describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"][0]
        except self.rds[region].exceptions.DBClusterNotFoundFault:
            return None

    def wait_cluster(self, region, cid, status, timeout=60):
        wait_for(
            lambda: (self.cluster(region, cid) or {}).get("Status") == status,
            timeout=timeout,
            what=f"{cid} to be {status}",
        )

    def global_cluster(self, gid):
        gcs = self.rds[WEST].describe_global_clusters()["GlobalClusters"]
        return next((g for g in gcs if g["GlobalClusterIdentifier"] == gid), None)

    def sync_status(self, gid, region, cid):
        g = self.global_cluster(gid)
        for m in (g or {}).get("GlobalClusterMembers", []):
            if m["DBClusterArn"].endswith(f":{region}:123456789012:cluster:{cid}") or (
                f":{region}:" in m["DBClusterArn"] and m["DBClusterArn"].endswith(":" + cid)
            ):
                return m.get("SynchronizationStatus", "connected")
        return None

    def writer_region(self, gid):
        g = self.global_cluster(gid) or {}
        for m in g.get("GlobalClusterMembers", []):
            if m["IsWriter"]:
                return m["DBClusterArn"].split(":")[3]
        return None

    # -- SQL through the cluster endpoints ------------------------------------

    def connect(self, region, cid):
        import psycopg

        c = self.cluster(region, cid)
        return psycopg.connect(
            host="127.0.0.1",
            port=c["Port"],
            user="postgres",
            password=self.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def write_rows(self, region, cid, tag, n):
        with self.connect(region, cid) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, "
                "tag text NOT NULL, created timestamptz NOT NULL DEFAULT now())"
            )
            for i in range(n):
                conn.execute("INSERT INTO orders (tag) VALUES (%s)", (f"{tag}-{i}",))

    def count_rows(self, region, cid, tag=None):
        with self.connect(region, cid) as conn:
            if tag:
                return conn.execute(
                    "SELECT count(*) FROM orders WHERE tag LIKE %s", (tag + "-%",)
                ).fetchone()[0]
            return conn.execute("SELECT count(*) FROM orders").fetchone()[0]

    # -- Kubernetes ------------------------------------------------------------

    def create_namespace(self):
        k = self.kubectl
        k("create", "namespace", self.ns)
        k(
            "-n",
            self.ns,
            "create",
            "secret",
            "generic",
            "pg-probe",
            "--from-literal=username=postgres",
            f"--from-literal=password={self.password}",
        )
        k(
            "-n",
            self.ns,
            "create",
            "rolebinding",
            "globaldb-controller-secrets",
            "--clusterrole=globaldb-controller-secret-reader",
            "--serviceaccount=globaldb-system:globaldb-controller",
        )
        k.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "orders-api", "namespace": self.ns},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "orders-api"}},
                    "template": {
                        "metadata": {"labels": {"app": "orders-api"}},
                        "spec": {"containers": [{"name": "api", "image": "example/orders:1"}]},
                    },
                },
            }
        )

    def gdb_manifest(self, **over):
        spec = {
            "globalClusterIdentifier": "orders-global",
            "primaryRegion": EAST,
            "regions": [
                {
                    "name": r,
                    "dbClusterIdentifier": CLUSTER_IDS[r],
                    "template": {
                        "engineVersion": "15.4",
                        "instanceClass": "db.r6g.large",
                        "instances": 1,
                    },
                }
                for r in self.regions
            ],
            "healthCheck": {
                "periodSeconds": 2,
                "timeoutSeconds": 1,
                "failureThreshold": 3,
                "credentialsSecretRef": {"name": "pg-probe"},
                # The test servers speak plain TCP.
                "sslMode": "disable",
                "allowInsecurePassword": True,
            },
            "failover": {
                "mode": "Automatic",
                "method": "DetachAndPromote",
                "maxDataLossSeconds": 30,
                "cooldownSeconds": 60,
            },
            "dns": {
                "hostedZoneId": self.zone_id,
                "writerRecordName": f"writer.{self.zone_name}",
                "readerRecordName": f"reader.{self.zone_name}",
                "ttlSeconds": 5,
            },
            "workloads": {"deployments": [{"namespace": self.ns, "name": "orders-api"}]},
            # The world's clusters exist before the object, untagged: the object adopts them.
            "adoption": {"policy": "AdoptUntagged"},
        }
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(spec.get(k), dict):
                spec[k] = {**spec[k], **v}
            else:
                spec[k] = v
        return {
            "apiVersion": "globaldb.io/v1alpha1",
            "kind": "GlobalDatabase",
            "metadata": {"name": "orders", "namespace": self.ns},
            "spec": spec,
        }

    def gdb(self):
        return self.kubectl.json("-n", self.ns, "get", "globaldatabase", "orders")

    def status(self):
        return self.gdb().get("status", {})

    def condition(self, ctype):
        return self.named("orders").condition(ctype)

    def wait_condition(self, ctype, status, reason=None, timeout=90):
        return self.named("orders").wait_condition(ctype, status, reason, timeout)

    def events(self):
        return self.named("orders").events()

    def named(self, name):
        """A handle on one GlobalDatabase of this namespace."""
        return Gdb(self, name)

    def event_reasons(self):
        return [e["reason"] for e in self.events()]

    def assert_event_order(self, reasons):
        """The first Event of each reason is no later than the next one's.

        eventTime has millisecond resolution and Events emitted by one plan
        share it, so equal times count as in order.
        """
        first = {}
        for e in self.events():
            first.setdefault(e["reason"], e.get("eventTime") or e["metadata"]["creationTimestamp"])
        times = [first.get(r) for r in reasons]
        assert None not in times, f"missing events among {reasons}: {sorted(first)}"
        assert times == sorted(times), list(zip(reasons, times))

    def wait_event(self, reason, timeout=60):
        return wait_for(
            lambda: reason in self.event_reasons(), timeout=timeout, what=f"event {reason}"
        )

    def restarted_at(self):
        d = self.kubectl.json("-n", self.ns, "get", "deployment", "orders-api")
        return (d["spec"]["template"]["metadata"].get("annotations") or {}).get(
            "kubectl.kubernetes.io/restartedAt"
        )


class Gdb:
    """One GlobalDatabase of the world's namespace, by name."""

    def __init__(self, world, name):
        self.world = world
        self.name = name

    def get(self, check=True):
        out = self.world.kubectl(
            "-n",
            self.world.ns,
            "get",
            "globaldatabase",
            self.name,
            "-o",
            "json",
            "--ignore-not-found",
            check=check,
        )
        return json.loads(out) if out.strip() else None

    def status(self):
        return (self.get() or {}).get("status", {})

    def condition(self, ctype):
        return next((c for c in self.status().get("conditions", []) if c["type"] == ctype), None)

    def wait_condition(self, ctype, status, reason=None, timeout=90):
        def ok():
            c = self.condition(ctype)
            assert c, f"{self.name}: no {ctype} condition yet"
            assert c["status"] == status and (reason is None or c["reason"] == reason), (
                f"{self.name}: {ctype} is {c['status']}/{c['reason']}: {c.get('message')}"
            )
            return c

        return wait_for(
            ok,
            timeout=timeout,
            interval=0.5,
            what=f"{self.name} {ctype}={status}" + (f" ({reason})" if reason else ""),
        )

    def patch_spec(self, **spec):
        self.world.kubectl(
            "-n",
            self.world.ns,
            "patch",
            "globaldatabase",
            self.name,
            "--type",
            "merge",
            "-p",
            json.dumps({"spec": spec}),
        )

    def events(self):
        out = self.world.kubectl.json("-n", self.world.ns, "get", "events.events.k8s.io")
        evs = [e for e in out["items"] if e.get("regarding", {}).get("name") == self.name]
        evs.sort(key=lambda e: e.get("eventTime") or e["metadata"]["creationTimestamp"])
        return evs

    def op_mark(self):
        """The newest operation id in status, before an action: wait_operation(type, mark)
        then waits for an operation started after it. Ids, not start times: two
        operations can start within one second."""
        st = self.status()
        return max((st.get(k) or {}).get("id", 0) for k in ("operation", "lastOperation"))

    def wait_operation(self, otype, mark, timeout=180):
        """The finished operation of type otype with an id above mark (from op_mark)."""

        def done():
            last = self.status().get("lastOperation") or {}
            assert last.get("type") == otype and last.get("id", 0) > mark, (
                f"{self.name}: lastOperation {last}"
            )
            return last

        return wait_for(
            done, timeout=timeout, interval=0.5, what=f"{self.name}: the {otype} to finish"
        )


# The allowlists (docs/api.md "Allowlists") every test controller starts with: what the
# worlds' specs name. Each world creates its own hosted zone, hence any zone. A test
# that needs narrower lists passes them in extra_args, which come later and win.
# The AWS calls that change something: what a refused spec must never cause.
AWS_WRITES = {
    "CreateGlobalCluster",
    "CreateDBCluster",
    "CreateDBInstance",
    "DeleteDBCluster",
    "DeleteDBInstance",
    "DeleteGlobalCluster",
    "RemoveFromGlobalCluster",
    "FailoverGlobalCluster",
    "SwitchoverGlobalCluster",
    "ChangeResourceRecordSets",
    "PutParameter",
    "UpdateService",
}


def ecs_service(emulator, region, name):
    """An ECS service in the "orders" cluster of region (made with its task definition); the
    spec's workloads.ecsServices entry that names it."""
    ecs = aws_client(emulator, "ecs", region)
    if not ecs.list_clusters()["clusterArns"]:
        ecs.create_cluster(clusterName="orders")
        ecs.register_task_definition(
            family="orders-api",
            containerDefinitions=[{"name": "api", "image": "example/orders:1", "memory": 128}],
        )
    ecs.create_service(
        cluster="orders", serviceName=name, taskDefinition="orders-api", desiredCount=1
    )
    return {"region": region, "cluster": "orders", "service": name}


def create_guard_table(emulator, region, name):
    """The two-controller guard's table in region, as the operator creates it
    (docs/deploy.md): partition key `pk`, on demand. Returns its DynamoDB client."""
    ddb = aws_client(emulator, "dynamodb", region)
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


TEST_ALLOWLISTS = (
    "--allowed-route53-zones=*",
    "--allowed-ssm-prefixes=/orders",
    "--allowed-ecs-clusters=orders",
    "--allowed-secrets=orders/*",
)


class Controller:
    """The controller binary as its own process."""

    def __init__(
        self,
        binary,
        testenv,
        admin,
        ns,
        logdir,
        extra_args=(),
        pod_name="e2e-controller",
        aws_env=None,
    ):
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.aws_secret = "e2e-aws-secret-" + secrets.token_hex(10)
        self.log_path = os.path.join(logdir, "controller.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            {
                "AWS_ENDPOINT_URL": admin.url,
                "AWS_ACCESS_KEY_ID": "AKIDE2ECONTROLLER",
                "AWS_SECRET_ACCESS_KEY": self.aws_secret,
                "AWS_REGION": EAST,
                "AWS_EC2_METADATA_DISABLED": "true",
                "POD_NAME": pod_name,
            }
        )
        if aws_env is not None:  # another credential source than static keys
            del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
            env.update(aws_env)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [
                binary,
                "--kubeconfig",
                testenv["controller_kubeconfig"],
                "--namespace",
                ns,
                "--leader-elect",
                "--leader-election-namespace",
                "globaldb-system",
                "--leader-election-id",
                "globaldb-e2e-" + ns,
                "--metrics-bind-address",
                f"127.0.0.1:{self.metrics_port}",
                "--health-probe-bind-address",
                f"127.0.0.1:{self.health_port}",
                "--concurrency",
                "2",
                "--log-level",
                "debug",
                *TEST_ALLOWLISTS,
                *extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def get(self, port, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready(self, timeout=60):
        def ready():
            assert self.proc.poll() is None, "controller exited:\n" + self.log_text()[-3000:]
            try:
                return self.get(self.health_port, "/readyz")[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout=timeout, what="controller /readyz")

    def metrics(self):
        return self.get(self.metrics_port, "/metrics")[1]

    def reconciles(self):
        """How many reconciles this controller has finished, whatever their result."""
        m = self.metrics()
        return sum(
            metric_value(
                m, "controller_runtime_reconcile_total", controller="globaldatabase", result=r
            )
            or 0
            for r in ("success", "requeue_after", "requeue", "error")
        )

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "regions3: the world has a third region, eu-west-1 (see World)"
    )


@pytest.fixture
def world(emulator, kubectl, tmp_path, request):
    emulator.post("/reset")
    emulator.delays(**{k: 0.3 for k in DELAY_KEYS})
    root = tempfile.mkdtemp(prefix="gdb-e2e-pg-")
    os.chmod(root, 0o755)
    regions = (EAST, WEST, EU) if request.node.get_closest_marker("regions3") else (EAST, WEST)
    w = World(emulator, kubectl, root, regions)
    try:
        t0 = time.monotonic()
        w.make_servers()
        t1 = time.monotonic()
        w.create_infrastructure()
        t2 = time.monotonic()
        w.create_zone()
        w.create_namespace()
        # What a region costs the tier: read with -s (ctest runs the e2e tier so).
        print(
            f"\nworld: {len(regions)} regions ready in {time.monotonic() - t0:.1f}s "
            f"(PostgreSQL servers {t1 - t0:.1f}s, clusters and replication {t2 - t1:.1f}s)"
        )
        yield w
    finally:
        for region in w.regions:
            try:
                emulator.outage(region, "off")
            except Exception:
                pass
        errors = emulator.errors()
        emulator.post("/reset")
        w.destroy_servers()
        shutil.rmtree(root, ignore_errors=True)
        assert errors == [], f"emulator background errors: {errors}"


@pytest.fixture
def controller(world, controller_bin, testenv, emulator, tmp_path):
    c = Controller(controller_bin, testenv, emulator, world.ns, str(tmp_path))
    try:
        c.wait_ready()
        yield c
    finally:
        rc = c.stop()
        text = c.log_text() if not c.log.closed else open(c.log_path).read()
        # Keep the log next to ctest's output for whoever reads a failure.
        print("\n---- controller log (tail) ----\n" + text[-6000:])
        leaks = [s for s in (world.password, c.aws_secret) if s in text]
        assert not leaks, "the controller log contains a secret"
        assert rc == 0, f"controller exited with {rc} after SIGTERM"


def metric_value(text, metric, **labels):
    """The value of one sample in Prometheus text, or None."""
    for line in text.splitlines():
        if not line.startswith(metric):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != metric:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None
