"""One controller per tenant: manifests/overlays/namespaced applied with
`kubectl apply -k` into the world's namespace, and the controller run as that
overlay's ServiceAccount (a TokenRequest token, no other identity) with
--watch-namespace. It reconciles the GlobalDatabase of its namespace to Ready
and leaves one in another namespace untouched; after a switchover it restarts
the Deployment of its namespace. A spec that names a Deployment in another
namespace is refused (RestartNotAllowed: its Role cannot read that Namespace's
opt-in), and that Deployment is never touched. Its Role is all it needs for
everything else: no request of its own namespace's work is refused.
"""

import json
import os
import secrets
import subprocess

import pytest
from conftest import SOURCE_DIR, WEST, Controller

OVERLAY = os.path.join(SOURCE_DIR, "manifests", "overlays", "namespaced")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def write_kubeconfig(path, testenv, token):
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "tenant",
        "clusters": [
            {
                "name": "tenant",
                "cluster": {
                    "server": testenv["apiserver_url"],
                    "certificate-authority": testenv["ca_file"],
                },
            }
        ],
        "users": [{"name": "tenant", "user": {"token": token}}],
        "contexts": [{"name": "tenant", "context": {"cluster": "tenant", "user": "tenant"}}],
    }
    with open(path, "w") as f:
        json.dump(cfg, f)
    os.chmod(path, 0o600)


def apply_overlay(kubectl, ns, tmp_path):
    """The overlay as a team applies it: its namespace set to theirs."""
    d = tmp_path / "tenant"
    d.mkdir()
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"namespace: {ns}\n"
        # kustomize takes a base only by a relative path.
        f"resources:\n- {os.path.relpath(OVERLAY, d)}\n"
    )
    out = kubectl("apply", "-k", str(d))
    for obj in ("role.rbac.authorization.k8s.io/globaldb-controller", "serviceaccount/"):
        assert obj in out, out
    assert "clusterrole" not in out, out


def restarted_at(kubectl, ns):
    d = kubectl.json("-n", ns, "get", "deployment", "orders-api")
    return (d["spec"]["template"]["metadata"].get("annotations") or {}).get(RESTARTED_AT)


@pytest.fixture
def other_ns(world, kubectl):
    """A second tenant's namespace, with its own Deployment, that nobody here watches."""
    ns = "e2e-other-" + secrets.token_hex(4)
    kubectl("create", "namespace", ns)
    kubectl(
        "-n", ns, "create", "deployment", "orders-api", "--image=example/orders:1", "--replicas=0"
    )
    yield ns
    kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_tenant_controller_stays_in_its_namespace(
    world, other_ns, kubectl, testenv, controller_bin, emulator, tmp_path
):
    ns = world.ns
    apply_overlay(kubectl, ns, tmp_path)
    token = kubectl("-n", ns, "create", "token", "globaldb-controller", "--duration=1h").strip()
    kc = str(tmp_path / "tenant.kubeconfig")
    write_kubeconfig(kc, testenv, token)

    # The other tenant's object exists before the controller starts: had the
    # controller listed it, its first sync would have reconciled it.
    theirs = world.gdb_manifest()
    theirs["metadata"]["namespace"] = other_ns
    theirs["spec"]["workloads"] = {"deployments": [{"namespace": other_ns, "name": "orders-api"}]}
    kubectl.apply(theirs)
    # Ours names a workload of the other tenant too: it must not be touched.
    ours = world.gdb_manifest(workloads={"deployments": [{"namespace": ns, "name": "orders-api"}]})
    kubectl.apply(ours)

    c = Controller(
        controller_bin,
        testenv,
        emulator,
        ns,
        str(tmp_path),
        extra_args=(
            "--kubeconfig",
            kc,
            "--watch-namespace",
            ns,
            "--leader-election-namespace",
            ns,
        ),
    )
    try:
        c.wait_ready()
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)

        other = kubectl.json("-n", other_ns, "get", "globaldatabase", "orders")
        assert "status" not in other, other.get("status")
        assert not other["metadata"].get("finalizers"), other["metadata"]

        # A switchover ends with the workload restarts.
        gdb = world.named("orders")
        mark = gdb.op_mark()
        gdb.patch_spec(primaryRegion=WEST)
        last = gdb.wait_operation("Switchover", mark, timeout=180)
        assert last.get("result") == "Succeeded", last
        assert restarted_at(kubectl, ns), "the Deployment in the watched namespace was restarted"
        assert restarted_at(kubectl, other_ns) is None, "the other tenant's Deployment was not"

        # Naming the other tenant's Deployment is refused before anything is done.
        gdb.patch_spec(
            workloads={
                "deployments": [
                    {"namespace": ns, "name": "orders-api"},
                    {"namespace": other_ns, "name": "orders-api"},
                ]
            }
        )
        world.wait_condition("Ready", "False", "RestartNotAllowed", timeout=60)
        assert restarted_at(kubectl, other_ns) is None

        other = kubectl.json("-n", other_ns, "get", "globaldatabase", "orders")
        assert "status" not in other and not other["metadata"].get("finalizers"), other
        lease = kubectl.json("-n", ns, "get", "lease", "globaldb-e2e-" + ns)
        assert lease["spec"]["holderIdentity"]
    finally:
        rc = c.stop()
        log = c.log_text() if not c.log.closed else open(c.log_path).read()
        print("\n---- controller log (tail) ----\n" + log[-4000:])
    assert rc == 0
    assert "forbidden" not in log.lower(), [
        line for line in log.splitlines() if "forbidden" in line.lower()
    ][:5]
    assert world.password not in log and c.aws_secret not in log
    # The controller never held more than its Role: it cannot list elsewhere.
    r = subprocess.run(
        [testenv["kubectl"], "--kubeconfig", kc, "-n", other_ns, "get", "globaldatabases"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "forbidden" in r.stderr.lower(), r.stderr
