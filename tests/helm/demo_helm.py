"""The chart demo (hack/demo-helm, `make demo-helm`): from a clone to a
chart-installed controller making a GlobalDatabase Ready.

It starts, owned by this process (Ctrl-C or any exit stops everything), the
same local world as `make demo`: kube-apiserver + etcd (tests/env/testenv.py),
the AWS emulator bound to real PostgreSQL, orders-global with orders-east
(writer) and orders-west. Then:

  1. removes what the test environment pre-installs (the CRD, the
     controller's ServiceAccount and RBAC), so the chart installs them;
  2. `helm install globaldb-controller charts/globaldb-controller`;
  3. runs the controller as the release would run it. This environment has
     no kubelet, so pods never start: the controller binary runs as a local
     process with the installed Deployment's own args and env, authenticated
     as the release's ServiceAccount (tests/helm/helmrelease.py);
  4. kubectl apply a GlobalDatabase adopting orders-global, waits for Ready,
     and shows `helm list`, `kubectl get globaldatabase` and the Ready
     condition.

Exits when done (0 on success); with --keep, leaves it all running until Ctrl-C.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import helmrelease  # noqa: E402
from helmutil import CHART, HELM, helm  # noqa: E402

e2e = helmrelease.e2e
SOURCE_DIR = e2e.SOURCE_DIR
RELEASE, NAMESPACE = "globaldb-controller", "globaldb-system"
ROLE_ARN = "arn:aws:iam::123456789012:role/globaldb-controller"
T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def show(title, text):
    print(f"\n$ {title}", flush=True)
    for line in text.rstrip().splitlines():
        print(f"  {line}", flush=True)


def remove_preinstalled(kubectl):
    """What testenv.py installs from crds/ and manifests/rbac/, so that the
    chart, not the environment, owns the CRD and the controller's identity.
    The namespace globaldb-system stays: nothing here runs the namespace
    controller that would finish deleting it, and helm installs into it."""
    kubectl("delete", "crd", helmrelease.CRD, "--wait=true")
    rbac = os.path.join(SOURCE_DIR, "manifests", "rbac")
    for f in sorted(os.listdir(rbac)):
        if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml":
            kubectl("delete", "--ignore-not-found", "-f", os.path.join(rbac, f))
    kubectl("-n", NAMESPACE, "delete", "--ignore-not-found", "serviceaccount", RELEASE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--controller-bin", default=e2e.controller_bin_path())
    ap.add_argument(
        "--keep", action="store_true", help="on success, wait for Ctrl-C before cleaning up"
    )
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="gdb-demo-helm-")
    os.chmod(work, 0o755)
    state_path = os.path.join(work, "testenv", "state.json")
    py = sys.executable
    env = dict(os.environ, GDB_SOURCE_DIR=SOURCE_DIR)
    testenv_py = os.path.join(SOURCE_DIR, "tests", "env", "testenv.py")
    emu = world = pod = None
    kubeconfig = None

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # Explicitly: a shell that starts us in the background leaves SIGINT ignored.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_term)

    try:
        say("starting a local world on 127.0.0.1: kube-apiserver + etcd …")
        r = subprocess.run(
            [py, testenv_py, "up", "--state", state_path, "--owner-pid", str(os.getpid())],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if r.returncode != 0:
            raise SystemExit(f"testenv failed:\n{r.stderr[-3000:]}")
        with open(state_path) as f:
            testenv = json.load(f)
        kubeconfig = testenv["kubeconfig"]
        kubectl = e2e.Kubectl(testenv)
        say(f"kube-apiserver at {testenv['apiserver_url']}")
        remove_preinstalled(kubectl)
        say("removed the environment's CRD, ServiceAccount and RBAC: the chart installs them")

        url_file = os.path.join(work, "awsemu.url")
        emu_log = open(os.path.join(work, "awsemu.log"), "w")
        emu = subprocess.Popen(
            [
                py,
                "-m",
                "awsemu",
                "--url-file",
                url_file,
                "--delays",
                json.dumps({k: 0.3 for k in e2e.DELAY_KEYS}),
            ],
            stdout=emu_log,
            stderr=subprocess.STDOUT,
            env=dict(env, PYTHONPATH=e2e.ENV_DIR),
        )
        e2e.wait_for(lambda: os.path.exists(url_file), timeout=60, what="the AWS emulator")
        admin = e2e.Admin(open(url_file).read().strip())
        say(f"AWS emulator (moto + global-database extension) at {admin.url}")
        world = e2e.World(admin, kubectl, os.path.join(work, "pg"))
        world.make_servers()
        world.create_infrastructure()
        world.create_zone()
        world.create_namespace()
        # The chart makes the probe Secret's RoleBinding (rbac.secretReaderNamespaces).
        kubectl("-n", world.ns, "delete", "rolebinding", f"{RELEASE}-secrets")
        say(
            "existing infrastructure: orders-global = orders-east (writer, us-east-1) + "
            f"orders-west (us-west-2) on real PostgreSQL; namespace {world.ns} with "
            "Deployment orders-api and the probe Secret"
        )

        install = [
            "install",
            RELEASE,
            CHART,
            "--namespace",
            NAMESPACE,
            "--create-namespace",
            "--set",
            f"serviceAccount.irsaRoleArn={ROLE_ARN}",
            "--set",
            f"rbac.secretReaderNamespaces={{{world.ns}}}",
            *helmrelease.WORLD_ALLOWLISTS,
        ]
        shown = " ".join(install).replace(CHART, os.path.relpath(CHART, SOURCE_DIR))
        say(f"helm {shown}")
        out = helm(*install, kubeconfig=kubeconfig).stdout
        for line in out.strip().splitlines()[:6]:
            print(f"  {line}", flush=True)
        kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", helmrelease.CRD)

        say(
            "this test environment has no kubelet, so the Deployment's pod never starts: "
            "running the controller as a local process with the Deployment's own args and "
            f"env, as ServiceAccount {NAMESPACE}/{RELEASE}"
        )
        pod = helmrelease.start_as_release(
            testenv, kubectl, admin.url, args.controller_bin, work, "controller", NAMESPACE, RELEASE
        )
        say(
            f"controller running (pid {pod.proc.pid}): {os.path.basename(args.controller_bin)} "
            + " ".join(pod.args)
        )

        say("kubectl apply -f globaldatabase.yaml  (orders, adopting orders-global)")
        kubectl.apply(world.gdb_manifest())
        world.wait_condition("Ready", "True", timeout=180)
        say("GlobalDatabase orders is Ready")

        show(
            f"helm list -n {NAMESPACE}", helm("list", "-n", NAMESPACE, kubeconfig=kubeconfig).stdout
        )
        show(
            f"kubectl -n {world.ns} get globaldatabase",
            kubectl("-n", world.ns, "get", "globaldatabase"),
        )
        ready = world.condition("Ready")
        show(
            "Ready condition",
            f"status={ready['status']} reason={ready['reason']} message={ready.get('message', '')}",
        )

        text = pod.text()
        if world.password in text:
            say("THE CONTROLLER LOG CONTAINS A SECRET")
            return 1
        say("controller log scanned: no password in it")
        if args.keep:
            say(
                f"everything still runs; KUBECONFIG={kubeconfig} "
                f"(helm: {HELM}) — Ctrl-C to clean up"
            )
            while True:
                time.sleep(3600)
        say("done; cleaning up")
        return 0
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    except (AssertionError, TimeoutError) as e:
        say(f"FAILED: {e}")
        if pod:
            print("---- controller log (tail) ----\n" + pod.text()[-3000:], flush=True)
        return 1
    finally:
        if pod:
            pod.stop()
        if world:
            world.destroy_servers()
        if emu:
            emu.terminate()
            try:
                emu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emu.kill()
        if os.path.exists(state_path):
            subprocess.run(
                [py, testenv_py, "down", "--state", state_path],
                env=env,
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
