#!/usr/bin/env python3
"""The shared test environment: real Kubernetes and real PostgreSQL on loopback.

    testenv.py up    [--state FILE] [--owner-pid PID] [--regions 2|3] [--clusters 1|2]
                                                         start everything, write FILE
    testenv.py down  [--state FILE] [--only-mine]        stop everything, remove it
    testenv.py env   [--state FILE]                      print shell exports
    testenv.py restart-apiserver [--state FILE]          stop and start kube-apiserver
    testenv.py compact [--state FILE]                    compact etcd at its head

`up` starts etcd and kube-apiserver the way controller-runtime's envtest does
(certificates from the openssl CLI, RBAC on, an admin client certificate, a
kubeconfig; every request for a Secret is in the audit log <dir>/audit.log,
read with audit_events), installs the CRDs in crds/ and waits until they are Established,
creates the controller's ServiceAccount with the RBAC in manifests/rbac/ and a
kubeconfig holding a TokenRequest token for it, and starts a PostgreSQL
primary with a streaming standby for each simulated region: us-east-1 and
us-west-2, and eu-west-1 too with --regions 3 (about 3 s more on an idle
machine; the e2e tier's three-region world, marker regions3, builds its own).

With --clusters 2 a second Kubernetes cluster is started the same way, as a
second region's cluster would be (the multicluster tier, tests/multicluster):
its own etcd, kube-apiserver, ports, certificates, kubeconfig, CRDs and
controller ServiceAccount, under <dir>/cluster2. The first cluster's fields
stay where they always were (top level of the state); every further cluster
is an entry of "clusters" (the first one included, as {"name": "cluster1",
...}), each with the same fields: kubeconfig, controller_kubeconfig,
apiserver_url, ca_file, dir, ...

Nothing outlives its owner: `up` leaves a watchdog that tears everything down
when the owner process (by default the one that ran `up`: a shell, ctest, the
demo) exits, so a failed run or Ctrl-C leaves nothing listening. `down` does
the same at once.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("GDB_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pgenv  # noqa: E402  (tests/env is on the path above)

REGIONS = ("us-east-1", "us-west-2")
THIRD_REGION = "eu-west-1"
CONTROLLER_NAMESPACE = "globaldb-system"
CONTROLLER_SA = "globaldb-controller"
START_TIMEOUT = 90  # seconds; a cold kube-apiserver on 2 busy cores needs more than envtest's 20


class TestEnvError(RuntimeError):
    pass


class ProcessExited(TestEnvError):
    """A process we are waiting for has exited: waiting longer cannot help."""


def log(msg):
    print(f"testenv: {msg}", file=sys.stderr, flush=True)


def default_state():
    build = os.environ.get("GDB_BINARY_DIR") or os.path.join(SOURCE_DIR, "build")
    return os.path.join(build, "testenv", "state.json")


def k8s_bin_dir():
    """The cached binaries from hack/build-k8s-bins (built there if missing)."""
    out = subprocess.run(
        [os.path.join(SOURCE_DIR, "hack", "build-k8s-bins")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def run(argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    try:
        return subprocess.run(argv, **kw)
    except subprocess.CalledProcessError as e:
        raise TestEnvError(f"{' '.join(argv[:3])}... failed: {e.stderr.strip()[-2000:]}") from e


def wait_until(what, predicate, timeout=START_TIMEOUT, interval=0.1, log_path=None):
    """Poll predicate until it holds. ProcessExited from it is final; other
    errors mean "still starting"."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except ProcessExited:
            raise
        except Exception as e:  # the service is still starting
            last = e
        time.sleep(interval)
    msg = f"timed out after {timeout}s waiting for {what}: {last}"
    if log_path:
        msg += f"\nlast lines of {log_path}:\n" + tail(log_path)
    raise TestEnvError(msg)


# --- certificates, as envtest's tinyca does, with the openssl CLI ---


def make_certs(d):
    def ossl(*args):
        run(["openssl", *args], cwd=d)

    def ca(name, cn):
        ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")
        ossl(
            "req",
            "-x509",
            "-new",
            "-key",
            f"{name}.key",
            "-days",
            "7",
            "-subj",
            f"/O=envtest/CN={cn}",
            "-out",
            f"{name}.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,digitalSignature",
        )

    def leaf(name, ca_name, subj, ext):
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext)
        ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")
        ossl("req", "-new", "-key", f"{name}.key", "-subj", subj, "-out", f"{name}.csr")
        ossl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            f"{ca_name}.crt",
            "-CAkey",
            f"{ca_name}.key",
            "-CAcreateserial",
            "-days",
            "7",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.crt",
        )

    ca("ca", "envtest-environment")
    leaf(
        "apiserver",
        "ca",
        "/CN=kube-apiserver",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n",
    )
    ca("client-ca", "envtest-client-ca")
    leaf(
        "admin",
        "client-ca",
        "/O=system:masters/CN=admin",
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
    )
    ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa-signer.key")
    ossl("ec", "-in", "sa-signer.key", "-pubout", "-out", "sa-signer.pub")


def write_kubeconfig(path, server, ca_file, user):
    """A kubeconfig with absolute file references; user is a dict of auth fields."""
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "testenv",
        "clusters": [
            {"name": "testenv", "cluster": {"server": server, "certificate-authority": ca_file}}
        ],
        "users": [{"name": "testenv", "user": user}],
        "contexts": [{"name": "testenv", "context": {"cluster": "testenv", "user": "testenv"}}],
    }
    # JSON is YAML; kubectl and our libyaml-based loader both read it.
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    os.chmod(path, 0o600)


# --- processes ---


def start_process(name, argv, d):
    logf = open(os.path.join(d, f"{name}.log"), "ab")
    p = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=d,
    )
    logf.close()
    return p.pid


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_process(pid, timeout=20):
    if not pid or not alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def https_get(url, ca_file, cert=None, timeout=2):
    ctx = ssl.create_default_context(cafile=ca_file)
    if cert:
        ctx.load_cert_chain(*cert)
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
        return r.status, r.read()


# The audit policy: who read or wrote which Secret, and nothing else (the tenant tests
# prove the controller reads no Secret outside a GlobalDatabase's namespace; see
# audit_events). Metadata only: no Secret content reaches the log.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "None"},
    ],
}


def audit_log_path(st):
    return os.path.join(st["dir"], "audit.log")


def audit_events(st, user=None):
    """The kube-apiserver's audit events so far (dicts, oldest first), those of user
    (e.g. "system:serviceaccount:globaldb-system:globaldb-controller") when given."""
    out = []
    try:
        with open(audit_log_path(st)) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if user is None or e.get("user", {}).get("username") == user:
                    out.append(e)
    except FileNotFoundError:
        pass
    return out


def apiserver_argv(st):
    d = st["dir"]
    with open(f"{d}/audit-policy.json", "w") as f:
        json.dump(AUDIT_POLICY, f)
    return [
        os.path.join(st["bin_dir"], "kube-apiserver"),
        f"--etcd-servers={st['etcd_url']}",
        f"--cert-dir={d}",
        f"--tls-cert-file={d}/apiserver.crt",
        f"--tls-private-key-file={d}/apiserver.key",
        f"--secure-port={st['apiserver_port']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        "--disable-admission-plugins=ServiceAccount",
        "--authorization-mode=RBAC",
        f"--client-ca-file={d}/client-ca.crt",
        f"--service-account-issuer=https://127.0.0.1:{st['apiserver_port']}/",
        f"--service-account-key-file={d}/sa-signer.pub",
        f"--service-account-signing-key-file={d}/sa-signer.key",
        "--api-audiences=https://kubernetes.default.svc",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        f"--audit-policy-file={d}/audit-policy.json",
        f"--audit-log-path={audit_log_path(st)}",
        "--audit-log-format=json",
        "--audit-log-maxsize=64",
        "--audit-log-maxbackup=1",
        "--v=1",
    ]


def start_apiserver(st):
    st["apiserver_pid"] = start_process("kube-apiserver", apiserver_argv(st), st["dir"])
    d = st["dir"]
    cert = (f"{d}/admin.crt", f"{d}/admin.key")

    def ready():
        if not alive(st["apiserver_pid"]):
            raise ProcessExited("kube-apiserver exited:\n" + tail(f"{d}/kube-apiserver.log"))
        return https_get(st["apiserver_url"] + "/readyz", st["ca_file"], cert)[0] == 200

    wait_until("kube-apiserver /readyz", ready, log_path=f"{d}/kube-apiserver.log")


def start_etcd(st, save, attempts=3):
    """etcd on two ports that were free a moment ago. Another process can take
    one in between; etcd then exits at once, and we try again on new ports."""
    d = st["dir"]
    log_path = f"{d}/etcd.log"
    for attempt in range(1, attempts + 1):
        etcd_port, peer_port = pgenv.free_port(), pgenv.free_port()
        st["etcd_url"] = f"http://127.0.0.1:{etcd_port}"
        shutil.rmtree(f"{d}/etcd", ignore_errors=True)
        pid = st["etcd_pid"] = start_process(
            "etcd",
            [
                os.path.join(st["bin_dir"], "etcd"),
                f"--data-dir={d}/etcd",
                f"--listen-client-urls={st['etcd_url']}",
                f"--advertise-client-urls={st['etcd_url']}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            d,
        )
        save()

        def healthy():
            if not alive(pid):
                raise ProcessExited("etcd exited:\n" + tail(log_path))
            with urllib.request.urlopen(st["etcd_url"] + "/health", timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"

        try:
            wait_until("etcd /health", healthy, log_path=log_path)
            return
        except TestEnvError as e:
            stop_process(pid)
            if attempt == attempts:
                raise
            log(
                f"etcd did not start (attempt {attempt} of {attempts}), trying new ports: "
                f"{str(e).splitlines()[0]}"
            )


def etcd_post(st, path, body):
    req = urllib.request.Request(
        st["etcd_url"] + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def kubectl(st, *args, kubeconfig=None, input=None):
    return run(
        [st["kubectl"], f"--kubeconfig={kubeconfig or st['kubeconfig']}", *args], input=input
    ).stdout


# --- up / down ---


def in_use_by(state_path, owner_pid):
    """The owner of the environment at state_path when it is another process,
    still running, whose environment is not gone (its watchdog, once started,
    still runs); else 0. Two ctest runs in one build directory share one state
    file: the second must not tear down the first one's environment."""
    try:
        prev = load(state_path)
    except (OSError, ValueError):
        return 0
    holder, watchdog = prev.get("owner_pid", 0), prev.get("watchdog_pid")
    if holder <= 0 or holder == owner_pid or not alive(holder):
        return 0
    return holder if watchdog is None or alive(watchdog) else 0


def up(state_path, owner_pid, regions=REGIONS, clusters=1):
    holder = in_use_by(state_path, owner_pid)
    if holder:
        raise TestEnvError(
            f"{state_path} is the environment of process {holder}, which still runs "
            "(another ctest in this build directory?): wait for it, use another build "
            f"directory, or end it with `testenv.py down --state {state_path}`"
        )
    if os.path.exists(state_path):
        try:
            down(state_path)
        except Exception as e:  # a stale file from a killed run
            log(f"cleaning a previous environment: {e}")
    os.makedirs(os.path.dirname(state_path), exist_ok=True)
    d = tempfile.mkdtemp(prefix="gdb-testenv-")
    os.chmod(d, 0o755)
    st = {"dir": d, "state": state_path, "pids": {}, "regions": list(regions)}
    st["owner_pid"] = owner_pid  # from the first save: an environment starting is in use

    def save():
        tmp = state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(st, f, indent=1)
        os.replace(tmp, state_path)

    interrupted = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.monotonic()
    try:
        st["bin_dir"] = k8s_bin_dir()
        st["kubectl"] = os.path.join(st["bin_dir"], "kubectl")
        save()
        start_cluster(st, save, t0)
        if clusters > 1:
            st["clusters"] = [cluster_view(st, "cluster1")]
        for i in range(2, clusters + 1):
            c = {"name": f"cluster{i}", "dir": os.path.join(d, f"cluster{i}")}
            c["bin_dir"], c["kubectl"] = st["bin_dir"], st["kubectl"]
            os.makedirs(c["dir"])
            st["clusters"].append(c)
            start_cluster(c, save, t0)

        st["postgres"] = {}
        t_pg = time.monotonic()
        for region in regions:
            primary = pgenv.init_primary(os.path.join(d, "pg"), f"{region}-primary")
            standby = pgenv.make_standby(primary, os.path.join(d, "pg"), f"{region}-standby")
            st["postgres"][region] = {
                "primary": describe_pg(primary),
                "standby": describe_pg(standby),
            }
            save()
        log(
            f"postgresql ready: {', '.join(regions)} in {time.monotonic() - t_pg:.1f}s "
            f"({time.monotonic() - t0:.1f}s)"
        )

        if owner_pid > 0:
            st["watchdog_pid"] = start_process(
                "watchdog",
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "watch",
                    "--state",
                    state_path,
                    "--owner-pid",
                    str(owner_pid),
                ],
                d,
            )
        save()
        log(f"environment up in {time.monotonic() - t0:.1f}s; state in {state_path}")
    except BaseException:
        log("start-up failed or was interrupted; tearing down")
        try:
            save()
            down(state_path)
        finally:
            if interrupted:
                sys.exit(128 + interrupted[0])
        raise


# The fields of one Kubernetes cluster in the state (the top level holds the first's).
CLUSTER_FIELDS = (
    "dir",
    "bin_dir",
    "kubectl",
    "ca_file",
    "etcd_url",
    "etcd_pid",
    "apiserver_port",
    "apiserver_url",
    "apiserver_pid",
    "kubeconfig",
    "crds",
    "controller_kubeconfig",
    "controller_serviceaccount",
)


def cluster_view(st, name):
    """The first cluster's fields as an entry of st["clusters"]."""
    return {"name": name, **{k: st[k] for k in CLUSTER_FIELDS if k in st}}


def start_cluster(c, save, t0):
    """etcd, kube-apiserver, CRDs and the controller's identity into c (the
    state itself for the first cluster, an entry of "clusters" for the others)."""
    d = c["dir"]
    make_certs(d)
    c["ca_file"] = f"{d}/ca.crt"

    start_etcd(c, save)

    c["apiserver_port"] = pgenv.free_port()
    c["apiserver_url"] = f"https://127.0.0.1:{c['apiserver_port']}"
    start_apiserver(c)
    save()
    c["kubeconfig"] = f"{d}/admin.kubeconfig"
    write_kubeconfig(
        c["kubeconfig"],
        c["apiserver_url"],
        c["ca_file"],
        {"client-certificate": f"{d}/admin.crt", "client-key": f"{d}/admin.key"},
    )
    log(f"kube-apiserver ready at {c['apiserver_url']} ({time.monotonic() - t0:.1f}s)")

    install_crds(c)
    make_controller_identity(c)
    save()


def describe_pg(server):
    return {
        "name": server.name,
        "host": server.host,
        "port": server.port,
        "datadir": server.datadir,
        "user": server.superuser,
        "password": server.password,
        "logfile": server.logfile,
    }


def install_crds(st):
    crd_dir = os.path.join(SOURCE_DIR, "crds")
    files = (
        sorted(f for f in os.listdir(crd_dir) if f.endswith((".yaml", ".yml")))
        if os.path.isdir(crd_dir)
        else []
    )
    for f in files:
        kubectl(st, "apply", "--server-side", "-f", os.path.join(crd_dir, f))
    if files:
        # `kubectl wait` fails outright on a CRD whose status the server has not
        # written yet, so ask again until the deadline.
        def established():
            kubectl(st, "wait", "--for=condition=Established", "--timeout=10s", "crd", "--all")
            return True

        wait_until("CRDs Established", established, timeout=60, interval=0.2)
    st["crds"] = files


def make_controller_identity(st):
    """The controller's ServiceAccount, its RBAC and a kubeconfig with a bound token."""
    kubectl(st, "create", "namespace", CONTROLLER_NAMESPACE)
    kubectl(st, "-n", CONTROLLER_NAMESPACE, "create", "serviceaccount", CONTROLLER_SA)
    rbac = os.path.join(SOURCE_DIR, "manifests", "rbac")
    if os.path.isdir(rbac):
        for f in sorted(os.listdir(rbac)):
            if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml":
                kubectl(st, "apply", "-f", os.path.join(rbac, f))
    token = kubectl(
        st, "-n", CONTROLLER_NAMESPACE, "create", "token", CONTROLLER_SA, "--duration=24h"
    ).strip()
    st["controller_kubeconfig"] = f"{st['dir']}/controller.kubeconfig"
    st["controller_serviceaccount"] = {"namespace": CONTROLLER_NAMESPACE, "name": CONTROLLER_SA}
    write_kubeconfig(
        st["controller_kubeconfig"], st["apiserver_url"], st["ca_file"], {"token": token}
    )


def load(state_path):
    with open(state_path) as f:
        return json.load(f)


def down(state_path):
    if not os.path.exists(state_path):
        return
    st = load(state_path)
    me = os.getpid()
    if st.get("watchdog_pid") and st["watchdog_pid"] != me:
        stop_process(st["watchdog_pid"], timeout=5)
    for region in st.get("postgres", {}).values():
        for role in ("standby", "primary"):
            if role in region:
                stop_pg(region[role])
    # pgenv servers that were created but not yet recorded in the state
    pgdir = os.path.join(st["dir"], "pg")
    if os.path.isdir(pgdir):
        for name in os.listdir(pgdir):
            stop_pg({"datadir": os.path.join(pgdir, name, "data")})
    for c in st.get("clusters", [])[1:]:
        stop_process(c.get("apiserver_pid"))
        stop_process(c.get("etcd_pid"))
    stop_process(st.get("apiserver_pid"))
    stop_process(st.get("etcd_pid"))
    shutil.rmtree(st["dir"], ignore_errors=True)
    try:
        os.unlink(state_path)
    except FileNotFoundError:
        pass
    log("environment down")


def stop_pg(desc):
    pidfile = os.path.join(desc["datadir"], "postmaster.pid")
    try:
        with open(pidfile) as f:
            pid = int(f.readline())
    except (OSError, ValueError):
        return
    for sig in (signal.SIGCONT, signal.SIGQUIT):  # SIGQUIT = immediate shutdown
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def watch(state_path, owner_pid):
    """The watchdog: tear everything down once the owner is gone."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while alive(owner_pid) and os.path.exists(state_path):
        time.sleep(0.5)
    if os.path.exists(state_path):
        log(f"owner {owner_pid} exited; tearing down")
        down(state_path)


def restart_apiserver(state_path):
    st = load(state_path)
    stop_process(st["apiserver_pid"])
    start_apiserver(st)
    if st.get("clusters"):
        st["clusters"][0]["apiserver_pid"] = st["apiserver_pid"]
    with open(state_path + ".tmp", "w") as f:
        json.dump(st, f, indent=1)
    os.replace(state_path + ".tmp", state_path)
    log("kube-apiserver restarted")


def compact(state_path):
    st = load(state_path)
    head = etcd_post(st, "/v3/kv/range", {"key": base64.b64encode(b"/").decode()})
    rev = int(head["header"]["revision"])
    etcd_post(st, "/v3/kv/compaction", {"revision": rev, "physical": True})
    print(rev)


def print_env(state_path):
    st = load(state_path)
    print(f"export KUBECONFIG={st['kubeconfig']}")
    print(f"export GDB_TESTENV_STATE={state_path}")
    print(f"export PATH={st['bin_dir']}:$PATH")
    for i, c in enumerate(st.get("clusters", [])[1:], start=2):
        print(f"export GDB_KUBECONFIG_{i}={c['kubeconfig']}")
    for region, pg in st.get("postgres", {}).items():
        key = region.upper().replace("-", "_")
        print(f"export GDB_PG_{key}_PRIMARY_PORT={pg['primary']['port']}")
        print(f"export GDB_PG_{key}_STANDBY_PORT={pg['standby']['port']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "command", choices=["up", "down", "env", "watch", "restart-apiserver", "compact"]
    )
    ap.add_argument("--state", default=default_state())
    ap.add_argument(
        "--owner-pid",
        type=int,
        default=0,
        help="tear down when this process exits (0: the parent; -1: never)",
    )
    ap.add_argument(
        "--only-mine",
        action="store_true",
        help="down: leave an environment whose owner is another process still running",
    )
    ap.add_argument(
        "--regions",
        type=int,
        choices=(2, 3),
        default=2,
        help=f"simulated regions: {', '.join(REGIONS)}, and {THIRD_REGION} with 3",
    )
    ap.add_argument(
        "--clusters",
        type=int,
        choices=(1, 2),
        default=1,
        help="Kubernetes clusters (kube-apiserver + etcd pairs); 2 for the multicluster tier",
    )
    a = ap.parse_args()
    state = os.path.abspath(a.state)
    try:
        if a.command == "up":
            regions = REGIONS + ((THIRD_REGION,) if a.regions == 3 else ())
            up(state, os.getppid() if a.owner_pid == 0 else a.owner_pid, regions, a.clusters)
        elif a.command == "down":
            holder = in_use_by(state, os.getppid()) if a.only_mine else 0
            if holder:
                log(f"left alone: {state} is the environment of process {holder}")
            else:
                down(state)
        elif a.command == "env":
            print_env(state)
        elif a.command == "watch":
            watch(state, a.owner_pid)
        elif a.command == "restart-apiserver":
            restart_apiserver(state)
        elif a.command == "compact":
            compact(state)
    except (TestEnvError, pgenv.PgEnvError, subprocess.CalledProcessError) as e:
        log(f"error: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
