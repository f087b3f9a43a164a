"""Shared harness of the controller benchmarks (footprint, intent, detect).

It reuses the end-to-end helpers (tests/e2e/conftest.py) outside pytest: the
AWS emulator as its own process (fast mode: zero transition delays), four
PostgreSQL servers bound to orders-east / orders-west, the Route 53 zone, the
namespace with its Deployment, and the controller binary as its own process
with the controller's ServiceAccount kubeconfig. The test environment
(kube-apiserver, CRD, RBAC) comes from $GDB_TESTENV_STATE.

All timestamps compared here are epoch seconds on this one machine: the
emulator's call log ("call arrived at the AWS endpoint"), the benchmark's own
clock around kubectl and admin calls, and Event times written by the
controller.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("GDB_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))
E2E_DIR = os.path.join(SOURCE_DIR, "tests", "e2e")
ENV_DIR = os.path.join(SOURCE_DIR, "tests", "env")
for d in (E2E_DIR, ENV_DIR):
    if d not in sys.path:
        sys.path.insert(0, d)

import conftest  # noqa: E402
from conftest import EAST, WEST, Admin, Controller, Kubectl, World, wait_for  # noqa: E402,F401


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def load_avg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def parse_time(s):
    """RFC 3339 (Kubernetes MicroTime / Time) to epoch seconds."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def controller_bin():
    b = conftest.controller_bin_path()
    if not os.access(b, os.X_OK):
        sys.exit(f"controller binary {b} is not built (set GDB_CONTROLLER_BIN)")
    return b


def testenv_state():
    path = os.environ.get("GDB_TESTENV_STATE")
    if not path or not os.path.exists(path):
        sys.exit(
            "GDB_TESTENV_STATE does not name a running test environment "
            "(run through ctest, or hack/testenv up)"
        )
    with open(path) as f:
        return json.load(f)


class Bench:
    """One world (emulator, servers, infrastructure, namespace) and a controller."""

    def __init__(self):
        self.testenv = testenv_state()
        self.tmp = tempfile.mkdtemp(prefix="gdb-bench-")
        os.chmod(self.tmp, 0o755)
        self.emu_proc = None
        self.world = None
        self.controller = None
        self._emu_log = None

    def start_emulator(self):
        url_file = os.path.join(self.tmp, "awsemu.url")
        self._emu_log = open(os.path.join(self.tmp, "awsemu.log"), "w")
        env = dict(os.environ)
        env["PYTHONPATH"] = ENV_DIR + os.pathsep + env.get("PYTHONPATH", "")
        self.emu_proc = subprocess.Popen(
            [sys.executable, "-m", "awsemu", "--fast", "--url-file", url_file],
            stdout=self._emu_log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        wait_for(
            lambda: os.path.exists(url_file) or self.emu_proc.poll() is not None,
            timeout=60,
            what="the emulator to listen",
        )
        if self.emu_proc.poll() is not None:
            raise RuntimeError("the emulator exited; see " + self._emu_log.name)
        with open(url_file) as f:
            self.admin = Admin(f.read().strip())
        return self.admin

    def make_world(self):
        self.admin.post("/reset")
        self.admin.delays(**{k: 0 for k in conftest.DELAY_KEYS})
        root = os.path.join(self.tmp, "pg")
        os.makedirs(root)
        os.chmod(root, 0o755)
        self.kubectl = Kubectl(self.testenv)
        w = World(self.admin, self.kubectl, root)
        w.ns = "bench-" + w.ns.split("-", 1)[1]
        self.world = w
        w.make_servers()
        w.create_infrastructure()
        w.create_zone()
        w.create_namespace()
        return w

    def start_controller(self, extra_args=()):
        """Start the controller; return the epoch time just before exec."""
        t = time.time()
        self.controller = Controller(
            controller_bin(),
            self.testenv,
            self.admin,
            self.world.ns,
            self.tmp,
            extra_args=extra_args,
        )
        return t

    def last_seq(self):
        calls = self.admin.calls()
        return max((c["seq"] for c in calls), default=0)

    def close(self):
        if self.controller is not None:
            try:
                self.controller.stop()
            except Exception:
                pass
        if self.world is not None:
            for region in (EAST, WEST):
                try:
                    self.admin.outage(region, "off")
                except Exception:
                    pass
            self.world.destroy_servers()
        if self.emu_proc is not None:
            self.emu_proc.terminate()
            try:
                self.emu_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.emu_proc.kill()
                self.emu_proc.wait()
            self._emu_log.close()
        if os.environ.get("GDB_BENCH_KEEP"):
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Api:
    """One kept-alive HTTPS connection to kube-apiserver as the admin user.

    Used to time a merge patch without kubectl's process start-up (about
    100 ms here), which would otherwise dominate millisecond latencies.
    """

    def __init__(self, testenv):
        import http.client
        import ssl
        import urllib.parse

        u = urllib.parse.urlparse(testenv["apiserver_url"])
        ctx = ssl.create_default_context(cafile=testenv["ca_file"])
        ctx.load_cert_chain(
            os.path.join(testenv["dir"], "admin.crt"), os.path.join(testenv["dir"], "admin.key")
        )
        self.conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)

    def merge_patch(self, path, body):
        """PATCH; return (epoch before sending, epoch after the response)."""
        data = json.dumps(body).encode()
        t0 = time.time()
        self.conn.request(
            "PATCH", path, body=data, headers={"Content-Type": "application/merge-patch+json"}
        )
        r = self.conn.getresponse()
        payload = r.read()
        t1 = time.time()
        if r.status != 200:
            raise RuntimeError(f"PATCH {path}: {r.status} {payload[:300]!r}")
        return t0, t1

    def close(self):
        self.conn.close()


class Watch:
    """`kubectl get -w` of one object in a thread; each line with its arrival time."""

    def __init__(self, kubectl_bin, kubeconfig, *args):
        import threading

        import tempfile

        self.lines = []
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [kubectl_bin, "--kubeconfig", kubeconfig, "get", "-w", *args],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))

    def check(self):
        """Fails, with kubectl's own words, when the watch has ended."""
        if self.proc.poll() is not None:
            self.stderr.seek(0)
            raise AssertionError(
                f"kubectl get -w exited ({self.proc.returncode}): {self.stderr.read()[-2000:]}"
            )

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.stderr.close()
