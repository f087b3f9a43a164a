"""The installed release's controller as a local process.

The test environment has no kubelet: pods never start. So after a `helm
install` of charts/globaldb-controller, the controller binary runs as a local
process with the installed Deployment's container args and env, authenticated
as the release's ServiceAccount (a TokenRequest token), with AWS credentials
from the web identity variables EKS's pod identity webhook would inject for
the role on the ServiceAccount's annotation.

What differs from a pod: the process binds its metrics and health ports on
127.0.0.1 (a pod has its own network namespace); it reads a kubeconfig instead
of the in-cluster token mount; the emulator's STS trusts any token; and the
image, the probes, the securityContext, the NetworkPolicy and scheduling are
never exercised.

Used by tests/helm/test_install.py and by the chart demo (demo_helm.py,
`make demo-helm`).
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.request

from helmutil import SRC, container

# The e2e tier's world (emulator, PostgreSQL servers, Aurora clusters, the
# application namespace): imported, not copied.
if "e2e_fixtures" in sys.modules:
    e2e = sys.modules["e2e_fixtures"]
else:
    _spec = importlib.util.spec_from_file_location(
        "e2e_fixtures", os.path.join(SRC, "tests", "e2e", "conftest.py")
    )
    e2e = importlib.util.module_from_spec(_spec)
    sys.modules["e2e_fixtures"] = e2e
    _spec.loader.exec_module(e2e)

CRD = "globaldatabases.globaldb.io"

# What the test world's GlobalDatabase names (its zone, SSM path, ECS cluster,
# secret), allowed as tests/e2e/conftest.py's TEST_ALLOWLISTS allows it, as
# chart values: the chart's default lists allow none of it.
WORLD_ALLOWLISTS = (
    "--set",
    "allowlists.route53Zones={*}",
    "--set",
    "allowlists.ssmPrefixes={/orders}",
    "--set",
    "allowlists.ecsClusters={orders}",
    "--set",
    "allowlists.secrets={orders/*}",
)


class LocalPod:
    """The installed Deployment's container as a local process: its args and
    env exactly, except where a pod's surroundings must be stood in for (see
    the module's docstring)."""

    def __init__(self, binary, deployment, kubeconfig, aws_env, log_path):
        c = container(deployment)
        self.ports = {}
        args = []
        for a in c["args"]:
            for flag, port_name in (
                ("--metrics-bind-address=", "metrics"),
                ("--health-probe-bind-address=", "health"),
            ):
                if a.startswith(flag):
                    self.ports[port_name] = e2e.free_port()
                    a = f"{flag}127.0.0.1:{self.ports[port_name]}"
            args.append(a)
        self.args = args
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "GLOBALDB_", "KUBERNETES_"))
            and k not in ("POD_NAMESPACE", "KUBECONFIG")
        }
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName":
                continue  # no Node here: the guard (off in these tests) would read it
            else:  # the downward API, as the kubelet resolves it
                assert e["valueFrom"] == {
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}
                }, e
                env[e["name"]] = deployment["metadata"]["namespace"]
        env.update(aws_env)
        self.env = env
        self.log_path = log_path
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen(
            [binary, *args, "--kubeconfig", kubeconfig],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def wait_ready(self):
        def ready():
            assert self.proc.poll() is None, "controller exited:\n" + self.text()[-3000:]
            try:
                url = f"http://127.0.0.1:{self.ports['health']}/readyz"
                with urllib.request.urlopen(url, timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        e2e.wait_for(ready, timeout=90, what="controller /readyz")

    def text(self):
        if not self.log.closed:
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
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode


def write_kubeconfig(path, testenv, token):
    """A kubeconfig for the test environment's kube-apiserver with this token."""
    with open(path, "w") as f:
        json.dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "sa",
                "clusters": [
                    {
                        "name": "sa",
                        "cluster": {
                            "server": testenv["apiserver_url"],
                            "certificate-authority": testenv["ca_file"],
                        },
                    }
                ],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": "sa", "user": "sa"}}],
            },
            f,
        )
    os.chmod(path, 0o600)


def start_as_release(testenv, kubectl, aws_endpoint, controller_bin, workdir, name, ns, full):
    """The controller with the Deployment `full` now in namespace `ns`, as its
    ServiceAccount, against the AWS endpoint; waits until /readyz answers."""
    dep = json.loads(kubectl("-n", ns, "get", "deployment", full, "-o", "json"))
    sa_name = dep["spec"]["template"]["spec"]["serviceAccountName"]
    sa = json.loads(kubectl("-n", ns, "get", "serviceaccount", sa_name, "-o", "json"))
    token = kubectl("-n", ns, "create", "token", sa_name, "--duration=1h").strip()
    kubeconfig = os.path.join(workdir, f"{name}.kubeconfig")
    write_kubeconfig(kubeconfig, testenv, token)
    # What EKS's pod identity webhook injects for the role on the annotation.
    web_token = os.path.join(workdir, f"{name}.web-identity-token")
    with open(web_token, "w") as f:
        f.write(
            kubectl("-n", ns, "create", "token", sa_name, "--audience=sts.amazonaws.com").strip()
        )
    aws_env = {
        "AWS_ROLE_ARN": sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "AWS_WEB_IDENTITY_TOKEN_FILE": web_token,
        "AWS_REGION": e2e.EAST,
        "AWS_DEFAULT_REGION": e2e.EAST,
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AWS_ENDPOINT_URL": aws_endpoint,
    }
    pod = LocalPod(controller_bin, dep, kubeconfig, aws_env, os.path.join(workdir, f"{name}.log"))
    pod.sa_name = sa_name
    try:
        pod.wait_ready()
    except BaseException:
        pod.stop()
        raise
    return pod
