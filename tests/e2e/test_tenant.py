"""Tenants: what the author of a GlobalDatabase in one namespace cannot reach.

A ServiceAccount may edit GlobalDatabases in its namespace and nothing else:
not Secrets, not other namespaces. Through a GlobalDatabase it tries what the
controller's rights would otherwise give it (docs/security.md):

- the password of a Secrets Manager secret it does not own, sent to a server
  of its own (awsSecretsManagerSecretId + probeEndpoint, sslMode disable);
- the password in its namespace's probe Secret, which it may not read, the
  same way (probeEndpoint);
- a restart of a Deployment in another namespace;
- records in another Route 53 zone, parameters under another SSM path, a
  forced deployment in another ECS cluster.

Each is refused before any call, with a condition and an Event naming the
rule, and the evidence is what a user would check: the emulator's call log
holds no AWS write and no GetSecretValue, the server of its own saw no
connection, the other namespace's Deployment kept its generation, and the
kube-apiserver's audit log shows the controller read no Secret outside the
tenant's namespace. Then the other namespace opts in with the annotation
globaldb.io/allow-restarts-from, and a switchover restarts its Deployment:
the refusal was the rule, not a broken restart path.

The controller runs as a ServiceAccount of this test's own, so that the
audit log tells its requests from those of other tests' controllers.
"""

import json
import os
import secrets
import socket
import threading
from contextlib import contextmanager

import testenv as envlib
from conftest import AWS_WRITES, EAST, WEST, Controller, Kubectl, aws_client, wait_for

SYSTEM_NS = "globaldb-system"


class Listener:
    """A TCP server of the tenant's own: counts the connections it is offered."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


def write_kubeconfig(testenv, path, token):
    envlib.write_kubeconfig(path, testenv["apiserver_url"], testenv["ca_file"], {"token": token})
    return path


@contextmanager
def controller_identity(kubectl, testenv, tenant_ns, tmp_path):
    """A ServiceAccount with the controller's RBAC (manifests/rbac): the ClusterRole, the
    Lease Role, and the Secret reader bound in the tenant's namespace only. Yields
    (testenv for Controller, audit user name)."""
    name = "gdb-tenant-test-" + secrets.token_hex(4)
    kubectl("-n", SYSTEM_NS, "create", "serviceaccount", name)
    sa = f"--serviceaccount={SYSTEM_NS}:{name}"
    try:
        kubectl("create", "clusterrolebinding", name, "--clusterrole=globaldb-controller", sa)
        kubectl(
            "-n",
            SYSTEM_NS,
            "create",
            "rolebinding",
            name,
            "--role=globaldb-controller-leader-election",
            sa,
        )
        kubectl(
            "-n",
            tenant_ns,
            "create",
            "rolebinding",
            name,
            "--clusterrole=globaldb-controller-secret-reader",
            sa,
        )
        token = kubectl("-n", SYSTEM_NS, "create", "token", name, "--duration=2h").strip()
        env = dict(testenv)
        env["controller_kubeconfig"] = write_kubeconfig(
            testenv, str(tmp_path / "controller.kubeconfig"), token
        )
        yield env, f"system:serviceaccount:{SYSTEM_NS}:{name}"
    finally:
        kubectl("delete", "clusterrolebinding", name, "--ignore-not-found", check=False)
        kubectl("-n", SYSTEM_NS, "delete", "rolebinding", name, "--ignore-not-found", check=False)
        kubectl("-n", SYSTEM_NS, "delete", "serviceaccount", name, check=False)


def tenant_kubectl(kubectl, testenv, ns, tmp_path):
    """kubectl as a ServiceAccount that may edit GlobalDatabases in ns, and nothing else."""
    kubectl("-n", ns, "create", "serviceaccount", "tenant")
    kubectl.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "globaldatabase-editor", "namespace": ns},
            "rules": [
                {
                    "apiGroups": ["globaldb.io"],
                    "resources": ["globaldatabases"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                }
            ],
        }
    )
    kubectl(
        "-n",
        ns,
        "create",
        "rolebinding",
        "tenant-edits-globaldatabases",
        "--role=globaldatabase-editor",
        f"--serviceaccount={ns}:tenant",
    )
    token = kubectl("-n", ns, "create", "token", "tenant", "--duration=1h").strip()
    path = write_kubeconfig(testenv, str(tmp_path / "tenant.kubeconfig"), token)
    return Kubectl({"kubectl": testenv["kubectl"], "kubeconfig": path})


def other_zone(world):
    """A second hosted zone with a Route 53-like id (Z...), someone else's."""
    for i in range(400):
        z = world.r53.create_hosted_zone(
            Name=f"payments{i}.example.com.", CallerReference=secrets.token_hex(8)
        )
        zid = z["HostedZone"]["Id"].split("/")[-1]
        if zid.startswith("Z"):
            return zid
        world.r53.delete_hosted_zone(Id=zid)
    raise AssertionError("no Z... hosted zone id from the emulator")


def deployment(name, ns):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "api", "image": "example/payments:1"}]},
            },
        },
    }


def template_of(kubectl, ns, name):
    d = kubectl.json("-n", ns, "get", "deployment", name)
    ann = d["spec"]["template"]["metadata"].get("annotations") or {}
    return d["metadata"]["generation"], ann.get("kubectl.kubernetes.io/restartedAt")


def secret_reads(testenv, user):
    """(verb, namespace, name) of every Secret request user made, from the audit log."""
    return [
        (e["verb"], e["objectRef"].get("namespace"), e["objectRef"].get("name"))
        for e in envlib.audit_events(testenv, user)
        if e.get("objectRef", {}).get("resource") == "secrets"
    ]


def test_a_tenant_reaches_nothing_outside_its_namespace(
    world, emulator, kubectl, testenv, controller_bin, tmp_path
):
    ns = world.ns
    victim = "payments-" + secrets.token_hex(4)
    kubectl("create", "namespace", victim)
    listener = Listener()
    try:
        kubectl.apply(deployment("payments-api", victim))
        kubectl(
            "-n",
            victim,
            "create",
            "secret",
            "generic",
            "payments-db",
            "--from-literal=password=payments-" + secrets.token_hex(8),
        )
        master = "master-" + secrets.token_hex(8)
        aws_client(emulator, "secretsmanager", EAST).create_secret(
            Name="prod/payments-master",
            SecretString=json.dumps({"username": "postgres", "password": master}),
        )
        victim_zone = other_zone(world)
        tenant = tenant_kubectl(kubectl, testenv, ns, tmp_path)

        # The tenant's rights: GlobalDatabases here, no Secrets, nothing in another namespace.
        def can(*args):
            answer = tenant("auth", "can-i", *args, check=False).strip()
            assert answer in ("yes", "no"), (args, answer)
            return answer == "yes"

        assert can("create", "globaldatabases.globaldb.io", "-n", ns)
        assert not can("get", "secrets", "-n", ns)
        assert not can("create", "globaldatabases.globaldb.io", "-n", victim)
        assert not can("patch", "deployments.apps", "-n", victim)
        assert not can("patch", f"namespaces/{victim}")  # it cannot opt itself in

        with controller_identity(kubectl, testenv, ns, tmp_path) as (ctl_env, ctl_user):
            c = Controller(
                controller_bin,
                ctl_env,
                emulator,
                ns,
                str(tmp_path),
                extra_args=(
                    f"--allowed-route53-zones={world.zone_id}",
                    "--allowed-ssm-prefixes=/globaldb/{namespace}",
                    "--allowed-secrets=globaldb/{namespace}/*",
                    "--allowed-ecs-clusters=",
                    "--allowed-probe-hosts=",
                ),
                pod_name="tenant-controller",
            )
            try:
                c.wait_ready()
                run_attacks(world, emulator, kubectl, tenant, victim, victim_zone, listener)
                check_audit(testenv, ctl_user, ns, victim, wait_for_own=False)
                opt_in_restarts(world, kubectl, tenant, victim)
                check_audit(testenv, ctl_user, ns, victim, wait_for_own=True)
            finally:
                rc = c.stop()
                text = open(c.log_path).read()
                print("\n---- tenant-controller log (tail) ----\n" + text[-6000:])
                leaks = [s for s in (world.password, master, c.aws_secret) if s in text]
                assert not leaks, "the controller log contains a secret"
                assert rc == 0, f"controller exited with {rc} after SIGTERM"
    finally:
        listener.close()
        kubectl("delete", "namespace", victim, "--wait=false", check=False)


def probe_to(port):
    return {"host": "127.0.0.1", "port": port}


def run_attacks(world, emulator, kubectl, tenant, victim, victim_zone, listener):
    since = max(c["seq"] for c in emulator.calls())
    generation, restarted = template_of(kubectl, victim, "payments-api")
    assert restarted is None

    def regions(probe=None):
        out = world.gdb_manifest()["spec"]["regions"]
        if probe:
            for r in out:
                r["probeEndpoint"] = probe
        return out

    own_hc = {"sslMode": "disable", "allowInsecurePassword": True}
    attacks = {
        # Someone else's RDS master secret, sent to the tenant's server in clear.
        "steal-master": (
            "SecretNotAllowed",
            "--allowed-secrets",
            {
                "regions": regions(probe_to(listener.port)),
                "healthCheck": {
                    **own_hc,
                    "credentialsSecretRef": None,
                    "awsSecretsManagerSecretId": "prod/payments-master",
                },
            },
        ),
        # The probe Secret of its own namespace, which it may not read, the same way.
        "steal-probe-password": (
            "ProbeEndpointNotAllowed",
            "--allowed-probe-hosts",
            {"regions": regions(probe_to(listener.port))},
        ),
        "restart-payments": (
            "RestartNotAllowed",
            "globaldb.io/allow-restarts-from",
            {"workloads": {"deployments": [{"namespace": victim, "name": "payments-api"}]}},
        ),
        "hijack-dns": (
            "Route53ZoneNotAllowed",
            "--allowed-route53-zones",
            {"dns": {"hostedZoneId": victim_zone}},
        ),
        "hijack-ssm": (
            "SsmPrefixNotAllowed",
            "--allowed-ssm-prefixes",
            {"ssm": {"parameterPrefix": "/payments/db"}},
        ),
        "roll-ecs": (
            "EcsClusterNotAllowed",
            "--allowed-ecs-clusters",
            {
                "workloads": {
                    "deployments": [],
                    "ecsServices": [{"region": WEST, "cluster": "payments", "service": "api"}],
                }
            },
        ),
    }
    for name, (_, _, over) in attacks.items():
        m = world.gdb_manifest(**over)
        hc = m["spec"]["healthCheck"]
        m["spec"]["healthCheck"] = {k: v for k, v in hc.items() if v is not None}
        m["metadata"]["name"] = name
        tenant.apply(m)
    for name, (reason, rule, _) in attacks.items():
        g = world.named(name)
        ready = g.wait_condition("Ready", "False", reason, timeout=90)
        assert rule in ready["message"], ready
        assert g.condition("Degraded")["reason"] == reason
        wait_for(
            lambda g=g, reason=reason: reason in [e["reason"] for e in g.events()],
            timeout=30,
            what=f"the {reason} Event of {name}",
        )

    calls = [c for c in emulator.calls() if c["seq"] > since]
    assert not [c for c in calls if c["action"] in AWS_WRITES], calls
    assert not [c for c in calls if c["action"] == "GetSecretValue"], calls
    assert listener.accepted == 0, "the controller connected to the tenant's server"
    assert template_of(kubectl, victim, "payments-api") == (generation, None)


def opt_in_restarts(world, kubectl, tenant, victim):
    """The other namespace opts in: the same kind of spec now switches over and restarts
    its Deployment."""
    kubectl("annotate", "namespace", victim, f"globaldb.io/allow-restarts-from={world.ns}")
    m = world.gdb_manifest(
        workloads={
            "deployments": [
                {"namespace": world.ns, "name": "orders-api"},
                {"namespace": victim, "name": "payments-api"},
            ]
        }
    )
    tenant.apply(m)
    g = world.named("orders")
    g.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
    mark = g.op_mark()
    tenant(
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
    last = g.wait_operation("Switchover", mark, timeout=240)
    assert last["result"] == "Succeeded", last
    generation, restarted = template_of(kubectl, victim, "payments-api")
    assert restarted is not None and generation > 1, (generation, restarted)


def check_audit(testenv, user, ns, victim, wait_for_own):
    """The controller read Secrets in the tenant's namespace only; once a GlobalDatabase
    there was allowed, it did read its probe Secret (the log records this controller)."""
    if wait_for_own:
        wait_for(
            lambda: ("get", ns, "pg-probe") in secret_reads(testenv, user),
            timeout=30,
            what="the controller's read of pg-probe in the audit log",
        )
    outside = [r for r in secret_reads(testenv, user) if r[1] != ns]
    assert not outside, outside
    assert os.path.exists(envlib.audit_log_path(testenv))
