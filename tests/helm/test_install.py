"""A real `helm install` and `helm upgrade` of charts/globaldb-controller, and
the controller run as the installed release would run it.

The test environment has no kubelet: pods never start. So after the install
the test runs the controller binary as a local process with the installed
Deployment's container args and env, authenticated as the release's
ServiceAccount (a TokenRequest token), against the AWS emulator bound to real
PostgreSQL (the e2e tier's world). A GlobalDatabase reaching Ready proves the
chart's RBAC is enough for everything the controller does on the way there.

What differs from a pod, and so is not proven here: the process binds its
metrics and health ports on 127.0.0.1 (a pod has its own network namespace);
it reads a kubeconfig instead of the in-cluster token mount; its AWS
credentials come from the web identity variables that EKS's webhook would
inject (AWS_ROLE_ARN from the chart's annotation, a projected-style token)
but the emulator's STS trusts any token; and the image, the probes, the
securityContext, the NetworkPolicy and scheduling are never exercised.

The release gets a test environment of its own: a controller watching every
namespace must not meet the other tests' GlobalDatabases.
"""

import json
import os
import subprocess
import sys

import pytest
import helmrelease as rel
from helmutil import CHART, SRC, container, helm

# The e2e tier's world (emulator, PostgreSQL servers, Aurora clusters, the
# application namespace) and the release's controller as a local process
# (helmrelease.py, shared with the chart demo): imported, not copied.
e2e = rel.e2e
emulator, kubectl, world, controller_bin = e2e.emulator, e2e.kubectl, e2e.world, e2e.controller_bin
wait_for = e2e.wait_for

RELEASE = "gdb"
FULL = "gdb-globaldb-controller"
NS = "gdb-helm"
CRD = rel.CRD
ROLE_ARN = "arn:aws:iam::123456789012:role/globaldb-controller"
ROLE_ARN_2 = "arn:aws:iam::123456789012:role/globaldb-controller-2"


@pytest.fixture(scope="session")
def testenv(tmp_path_factory):
    """A test environment of this run's own (tests/env/testenv.py)."""
    state = str(tmp_path_factory.mktemp("helmenv") / "state.json")
    script = os.path.join(SRC, "tests", "env", "testenv.py")
    env = {**os.environ, "GDB_SOURCE_DIR": SRC}
    subprocess.run(
        [sys.executable, script, "up", "--state", state, "--owner-pid", str(os.getpid())],
        check=True,
        env=env,
        timeout=300,
    )
    try:
        with open(state) as f:
            yield json.load(f)
    finally:
        subprocess.run([sys.executable, script, "down", "--state", state], env=env, timeout=120)


def h(testenv, *args, check=True):
    return helm(*args, "--namespace", NS, kubeconfig=testenv["kubeconfig"], check=check)


@pytest.fixture(scope="module")
def release(testenv, kubectl):
    """The chart installed as release gdb in gdb-helm, onto a cluster without
    the CRD (the environment's copy is deleted first, so the chart's crds/
    installs it)."""
    kubectl("delete", "crd", CRD, "--wait=true")
    h(
        testenv,
        "install",
        RELEASE,
        CHART,
        "--create-namespace",
        "--set",
        f"serviceAccount.irsaRoleArn={ROLE_ARN}",
        "--set",
        "log.level=debug",
        *rel.WORLD_ALLOWLISTS,
    )
    yield
    h(testenv, "uninstall", RELEASE, check=False)


def test_install_creates_the_crd_and_every_object(release, testenv, kubectl):
    status = json.loads(h(testenv, "status", RELEASE, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", CRD)
    for obj in (
        f"serviceaccount/{FULL}",
        f"deployment.apps/{FULL}",
        f"service/{FULL}-metrics",
        f"poddisruptionbudget.policy/{FULL}",
        f"networkpolicy.networking.k8s.io/{FULL}",
        f"role.rbac.authorization.k8s.io/{FULL}-leader-election",
    ):
        kubectl("-n", NS, "get", obj)
    for obj in (
        f"clusterrole/{FULL}",
        f"clusterrolebinding/{FULL}",
        f"clusterrole/{FULL}-secret-reader",
    ):
        kubectl("get", obj)
    sa = json.loads(kubectl("-n", NS, "get", "serviceaccount", FULL, "-o", "json"))
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN


def can_i(kubectl, verb, resource, ns=None):
    where = ["-n", ns] if ns else ["--all-namespaces"]
    r = kubectl(
        "auth",
        "can-i",
        verb,
        resource,
        *where,
        f"--as=system:serviceaccount:{NS}:{FULL}",
        check=False,
    )
    return r.strip() == "yes"


def start_as_release(testenv, kubectl, emulator, controller_bin, tmp_path, name):
    """The controller with the Deployment now in the cluster, as its ServiceAccount."""
    pod = rel.start_as_release(
        testenv, kubectl, emulator.url, controller_bin, str(tmp_path), name, NS, FULL
    )
    assert pod.sa_name == FULL
    return pod


def assumed_roles(emulator):
    """The roles the controller took with AssumeRoleWithWebIdentity."""
    return {c["params"].get("RoleArn") for c in emulator.calls(action="AssumeRoleWithWebIdentity")}


def stop_and_check(pod, world):
    rc = pod.stop()
    text = pod.text()
    print(f"\n---- controller log ({pod.log_path}, tail) ----\n" + text[-4000:])
    assert world.password not in text, "the controller log contains a secret"
    assert rc == 0, f"controller exited with {rc} after SIGTERM"


def refused(kubectl):
    """How many requests kube-apiserver has answered 403 Forbidden. In this
    environment only the controller runs with less than admin rights (the
    test's `auth can-i --as` checks are reviews, answered 201), so a rise
    while it runs is a request the chart's RBAC did not allow."""
    n = 0
    for line in kubectl("get", "--raw", "/metrics").splitlines():
        if line.startswith("apiserver_request_total{") and 'code="403"' in line:
            n += int(float(line.rsplit(" ", 1)[1]))
    return n


def test_the_controller_as_the_release_makes_a_globaldatabase_ready_then_upgrade(
    release, testenv, kubectl, world, emulator, controller_bin, tmp_path
):
    # Users add the namespaces whose probe Secrets the controller reads.
    h(
        testenv,
        "upgrade",
        RELEASE,
        CHART,
        "--reuse-values",
        "--set",
        f"rbac.secretReaderNamespaces={{{world.ns}}}",
    )
    kubectl("-n", world.ns, "get", "rolebinding", f"{FULL}-secrets")
    assert can_i(kubectl, "get", "secrets", world.ns)
    assert not can_i(kubectl, "list", "secrets", world.ns)
    assert not can_i(kubectl, "get", "secrets", "default")

    # 1. Cluster-wide RBAC (the default): Ready, with the Lease in the release namespace.
    refused_before = refused(kubectl)
    pod = start_as_release(testenv, kubectl, emulator, controller_bin, tmp_path, "cluster")
    try:
        assert pod.env["POD_NAMESPACE"] == NS and pod.env["AWS_EC2_METADATA_DISABLED"] == "true"
        assert "--leader-elect" in pod.args and "--log-level=debug" in pod.args
        assert not [a for a in pod.args if a.startswith("--namespace")]
        world.kubectl.apply(world.gdb_manifest())
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=120)
        lease = json.loads(
            kubectl("-n", NS, "get", "lease", "globaldb-controller.globaldb.io", "-o", "json")
        )
        assert lease["spec"].get("holderIdentity")
        # The credentials came from the role on the chart's annotation.
        assert assumed_roles(emulator) == {ROLE_ARN}
        # The finalizer (update) and the Events (events.k8s.io create) were written.
        assert world.gdb()["metadata"].get("finalizers")
        wait_for(world.events, timeout=30, what="an Event from the controller")
    finally:
        stop_and_check(pod, world)
    assert refused(kubectl) == refused_before, "the apiserver refused a request of the controller"

    # 2. helm upgrade with changed values; the changed objects change.
    h(
        testenv,
        "upgrade",
        RELEASE,
        CHART,
        "--reuse-values",
        "--set",
        f"watchNamespace={world.ns}",
        "--set",
        "rbac.namespaced=true",
        "--set",
        f"serviceAccount.irsaRoleArn={ROLE_ARN_2}",
        "--set",
        "replicaCount=3",
        "--set",
        "networkPolicy.enabled=false",
        "--set",
        "log.level=info",
    )
    history = json.loads(h(testenv, "history", RELEASE, "-o", "json").stdout)
    assert [r["revision"] for r in history] == [1, 2, 3]
    assert history[-1]["status"] == "deployed"
    dep = json.loads(kubectl("-n", NS, "get", "deployment", FULL, "-o", "json"))
    assert dep["spec"]["replicas"] == 3
    args = container(dep)["args"]
    assert f"--watch-namespace={world.ns}" in args and "--log-level=debug" not in args
    sa = json.loads(kubectl("-n", NS, "get", "serviceaccount", FULL, "-o", "json"))
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN_2
    assert not kubectl("-n", NS, "get", "networkpolicy", "-o", "name").strip()
    for obj in (
        f"clusterrole/{FULL}",
        f"clusterrolebinding/{FULL}",
        f"clusterrole/{FULL}-secret-reader",
    ):
        assert not kubectl("get", obj, "--ignore-not-found", "-o", "name").strip(), obj
    kubectl("-n", world.ns, "get", "role", FULL)
    assert can_i(kubectl, "get", "secrets", world.ns)
    assert can_i(kubectl, "list", "globaldatabases.globaldb.io", world.ns)
    assert not can_i(kubectl, "list", "globaldatabases.globaldb.io")
    assert not can_i(kubectl, "patch", "deployments.apps", "default")

    # 3. The upgraded release's controller, now with only the namespaced Roles,
    # takes over and reconciles a change of spec to Ready.
    refused_before = refused(kubectl)
    pod = start_as_release(testenv, kubectl, emulator, controller_bin, tmp_path, "namespaced")
    try:
        assert f"--watch-namespace={world.ns}" in pod.args
        gdb = world.named("orders")
        gdb.patch_spec(healthCheck={"periodSeconds": 3})
        generation = gdb.get()["metadata"]["generation"]

        def reconciled():
            st = gdb.status()
            assert st.get("observedGeneration") == generation, st.get("observedGeneration")
            ready = gdb.condition("Ready")
            assert ready and ready["status"] == "True", ready
            return True

        wait_for(
            reconciled, timeout=120, interval=0.5, what="the namespaced controller to reconcile"
        )
        assert assumed_roles(emulator) == {ROLE_ARN, ROLE_ARN_2}
    finally:
        stop_and_check(pod, world)
    assert refused(kubectl) == refused_before, "the apiserver refused a request of the controller"


def test_uninstall_removes_the_release_and_keeps_the_crd(release, testenv, kubectl):
    h(testenv, "uninstall", RELEASE, "--wait")
    assert not kubectl("-n", NS, "get", "deployment,serviceaccount", "-o", "name").strip()
    assert not kubectl("get", f"clusterrole/{FULL}-secret-reader", "--ignore-not-found").strip()
    # Helm never deletes crds/: every GlobalDatabase survives an uninstall.
    kubectl("get", "crd", CRD)
