"""--metrics-auth against the real kube-apiserver: /metrics answers 401
without a token the apiserver accepts, 403 to a ServiceAccount without the
globaldb-controller-metrics-reader ClusterRole and 200 to one with it, while
the probes stay open. The controller runs as the namespaced overlay's
ServiceAccount plus the RBAC of manifests/components/metrics-auth; without that
RBAC it answers 500 and says why in its log."""

import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request

import pytest
import yaml
from cmdutil import Controller

SRC = os.environ["GDB_SOURCE_DIR"]
MANIFESTS = os.path.join(SRC, "manifests")
with open(os.environ["GDB_TESTENV_STATE"]) as _f:
    ENV = json.load(_f)


def kubectl(*args, input=None, check=True):
    r = subprocess.run(
        [ENV["kubectl"], "--kubeconfig", ENV["kubeconfig"], *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert r.returncode == 0, r.stderr
    return r.stdout


def kubeconfig(path, token):
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "t",
                "clusters": [
                    {
                        "name": "t",
                        "cluster": {
                            "server": ENV["apiserver_url"],
                            "certificate-authority": ENV["ca_file"],
                        },
                    }
                ],
                "users": [{"name": "t", "user": {"token": token}}],
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
            }
        )
    )
    return str(path)


def token(ns, sa):
    return kubectl("-n", ns, "create", "token", sa, "--duration=10m").strip()


def get(port, path, bearer=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if bearer is not None:
        req.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def tenant(tmp_path):
    """A namespace with the namespaced overlay applied: the controller's identity."""
    ns = "mauth-" + secrets.token_hex(4)
    kubectl("create", "namespace", ns)
    d = tmp_path / "tenant"
    d.mkdir()
    overlay = os.path.join(MANIFESTS, "overlays", "namespaced")
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {ns}\nresources:\n- {os.path.relpath(overlay, d)}\n"
    )
    kubectl("apply", "-k", str(d))
    for sa in ("scraper-yes", "scraper-no"):
        kubectl("-n", ns, "create", "serviceaccount", sa)
    bindings = []

    def bind(clusterrole, sa):
        name = f"{ns}-{sa}-{clusterrole}"
        kubectl(
            "create",
            "clusterrolebinding",
            name,
            f"--clusterrole={clusterrole}",
            f"--serviceaccount={ns}:{sa}",
        )
        bindings.append(name)

    # The ClusterRoles as shipped; bound here to this test's ServiceAccounts.
    with open(os.path.join(MANIFESTS, "components", "metrics-auth", "clusterrole.yaml")) as f:
        (role,) = [d for d in yaml.safe_load_all(f) if d and d["kind"] == "ClusterRole"]
    kubectl("apply", "-f", "-", input=json.dumps(role))
    kubectl("apply", "-f", os.path.join(MANIFESTS, "rbac", "metrics-reader.yaml"))
    bind("globaldb-controller-metrics-reader", "scraper-yes")
    yield ns, bind
    for b in bindings:
        kubectl("delete", "clusterrolebinding", b, check=False)
    kubectl("delete", "namespace", ns, "--wait=false", check=False)


def start(ns, tmp_path):
    kc = kubeconfig(tmp_path / "controller.kubeconfig", token(ns, "globaldb-controller"))
    return Controller(f"--kubeconfig={kc}", f"--watch-namespace={ns}", "--metrics-auth")


def test_metrics_need_a_token_of_a_user_allowed_to_read_them(tenant, tmp_path):
    ns, bind = tenant
    bind("globaldb-controller-metrics-auth", "globaldb-controller")
    with start(ns, tmp_path) as c:
        ports = c.ports()
        metrics, health = ports["/metrics"], ports["/healthz,/readyz"]

        status, body = get(metrics, "/metrics")
        assert status == 401, body
        assert "Unauthorized" in body and "globaldb_" not in body
        status, body = get(metrics, "/metrics", bearer="not-a-token")
        assert status == 401, body

        status, body = get(metrics, "/metrics", bearer=token(ns, "scraper-no"))
        assert status == 403, body
        assert f"system:serviceaccount:{ns}:scraper-no" in body and "globaldb_" not in body

        status, body = get(metrics, "/metrics", bearer=token(ns, "scraper-yes"))
        assert status == 200, body
        assert "globaldb_build_info" in body
        for result, least in (("unauthenticated", 2), ("denied", 1), ("allowed", 1)):
            line = f'globaldb_metrics_auth_total{{result="{result}"}}'
            (value,) = [ln.split()[-1] for ln in body.splitlines() if ln.startswith(line)]
            assert float(value) >= least, (result, value)
        # Again, from the cache: the same answer.
        assert get(metrics, "/metrics", bearer=token(ns, "scraper-yes"))[0] == 200

        # The kubelet sends no token: the probes stay open.
        assert get(health, "/healthz")[0] == 200
        assert get(health, "/healthz", bearer="not-a-token")[0] == 200


def test_without_review_rights_metrics_answer_500_and_the_log_says_why(tenant, tmp_path):
    ns, _ = tenant
    with start(ns, tmp_path) as c:
        ports = c.ports()
        status, body = get(ports["/metrics"], "/metrics", bearer=token(ns, "scraper-yes"))
        assert status == 500, body
        assert "globaldb_" not in body
        rec = c.wait_for("metrics auth: cannot review a /metrics request")
        assert "tokenreviews" in rec["error"] and "forbidden" in rec["error"], rec
