"""Helpers shared by test_kill.py and test_replicas.py: watching the
GlobalDatabase's status as the apiserver streams it (so a step is seen within
milliseconds of the controller's write-ahead record), killing a controller
there, telling replicas apart on the wire, and checking the emulator's call
log for non-idempotent calls issued twice.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import ssl
import threading
import time
import urllib.parse

from conftest import FAST_LEASE, Controller
from httpfwd import ForwardingHandler, start_server

# Non-idempotent AWS calls and the parameters that name their target. The
# final snapshot's or a copy's own name carries a time, so it is left out: a
# second call with a new name is still a second call for the same target.
MUTATING = {
    "SwitchoverGlobalCluster": ("GlobalClusterIdentifier",),
    "FailoverGlobalCluster": ("GlobalClusterIdentifier",),
    "RemoveFromGlobalCluster": ("GlobalClusterIdentifier", "DbClusterIdentifier"),
    "CreateGlobalCluster": ("GlobalClusterIdentifier",),
    "DeleteGlobalCluster": ("GlobalClusterIdentifier",),
    "CreateDBCluster": ("DBClusterIdentifier",),
    "DeleteDBCluster": ("DBClusterIdentifier",),
    "ModifyDBCluster": ("DBClusterIdentifier",),
    "CreateDBInstance": ("DBInstanceIdentifier",),
    "DeleteDBInstance": ("DBInstanceIdentifier",),
    "CopyDBClusterSnapshot": ("SourceDBClusterSnapshotIdentifier",),
}


def call_key(c):
    names = MUTATING[c["action"]]
    return (c["action"], c["region"]) + tuple(str(c["params"].get(n, "")) for n in names)


def answered_ok(c):
    return c.get("status") is not None and 200 <= int(c["status"]) < 300


def duplicate_mutations(calls):
    """Non-idempotent calls issued again for the same target although an
    earlier one was answered with success. Retries after an error answer
    (status >= 400, or no answer at all) are fine.
    """
    seen = {}
    dups = []
    for c in sorted(calls, key=lambda c: c["seq"]):
        if c["action"] not in MUTATING:
            continue
        k = call_key(c)
        prev = seen.get(k)
        if prev is not None and answered_ok(prev):
            dups.append((prev, c))
        # A later success is what a further call must not follow.
        if prev is None or not answered_ok(prev):
            seen[k] = c
    return dups


def fmt_call(c):
    ident = ",".join(
        f"{n}={c['params'].get(n)}" for n in MUTATING.get(c["action"], ()) if n in c["params"]
    )
    return (
        f"#{c['seq']} {c['timeRFC3339']} {c['region']} {c['action']}({ident}) "
        f"-> {c.get('status')} {c.get('error') or ''}"
    ).rstrip()


def assert_no_duplicate_mutations(calls):
    dups = duplicate_mutations(calls)
    assert not dups, "non-idempotent calls issued twice:\n" + "\n".join(
        f"  {fmt_call(a)}\n  then {fmt_call(b)}" for a, b in dups
    )


# -- the status as the apiserver streams it -----------------------------------


class StatusWatch(threading.Thread):
    """Watches one GlobalDatabase and keeps every status it saw.

    `arm(op_type, step, fn)` calls fn() from this thread the first time the
    watch sees status.operation at that step: within milliseconds of the
    controller's write-ahead record, i.e. before, during or right after the
    step's AWS call.
    """

    def __init__(self, testenv, ns, name="orders"):
        super().__init__(daemon=True, name=f"watch-{ns}")
        with open(testenv["kubeconfig"]) as f:
            kc = json.load(f)
        user = kc["users"][0]["user"]
        self.ctx = ssl.create_default_context(cafile=testenv["ca_file"])
        self.ctx.load_cert_chain(user["client-certificate"], user["client-key"])
        u = urllib.parse.urlsplit(testenv["apiserver_url"])
        self.host, self.port = u.hostname, u.port
        self.path = (
            f"/apis/globaldb.io/v1alpha1/namespaces/{ns}/globaldatabases"
            f"?watch=1&fieldSelector=metadata.name%3D{name}&timeoutSeconds=600"
        )
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.steps = []  # (monotonic time, op type, step) at every change
        self.last_ops = {}  # (type, startedTime) -> the finished operation
        self.status = {}
        self.armed = None
        self.fired = None  # (monotonic time, op type, step) when the trigger fired
        self.error = None
        self.events = 0
        self.conn = None

    def arm(self, op_type, step, fn):
        """fn() runs at the next status at (op_type, step), or at once if the
        operation is there already (a fallback after a managed failover starts
        waiting for the re-add while the region is still down)."""
        with self.lock:
            now = self.steps[-1][1:] if self.steps else (None, None)
            if now == (op_type, step):
                self.armed = None
                self.fired = (time.monotonic(), op_type, step)
            else:
                self.armed = (op_type, step, fn)
                self.fired = None
                return
        fn()

    def current_step(self):
        with self.lock:
            return self.steps[-1] if self.steps else None

    def steps_of(self, op_type):
        with self.lock:
            return [s for _, t, s in self.steps if t == op_type]

    def describe(self):
        with self.lock:
            return (
                f"{self.events} watch events, steps {[s[1:] for s in self.steps]}, "
                f"last watch error {self.error!r}"
            )

    def last_operation(self, op_type):
        """The latest finished operation of this type the watch saw, or None."""
        with self.lock:
            ops = [v for (t, _), v in self.last_ops.items() if t == op_type]
        return max(ops, key=lambda o: o.get("startedTime") or "") if ops else None

    def _seen(self, obj):
        st = obj.get("status") or {}
        op = st.get("operation") or {}
        cur = (op.get("type"), op.get("step")) if op.get("type") else (None, None)
        fire = None
        with self.lock:
            self.status = st
            if not self.steps or self.steps[-1][1:] != cur:
                self.steps.append((time.monotonic(), *cur))
            last = st.get("lastOperation") or {}
            if last.get("type") and last.get("result"):
                self.last_ops[(last["type"], last.get("startedTime"))] = last
            if self.armed and cur == self.armed[:2]:
                fire = self.armed[2]
                self.armed = None
                self.fired = (time.monotonic(), *cur)
        if fire:
            fire()

    def run(self):
        rv = None
        while not self.stop.is_set():
            try:
                conn = http.client.HTTPSConnection(
                    self.host, self.port, context=self.ctx, timeout=30
                )
                self.conn = conn
                conn.request("GET", self.path + (f"&resourceVersion={rv}" if rv else ""))
                r = conn.getresponse()
                if r.status != 200:
                    raise OSError(f"watch answered {r.status}")
                while not self.stop.is_set():
                    line = r.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    if ev["type"] == "ERROR":
                        rv = None  # 410 Gone: start over from the current state
                        break
                    rv = ev["object"]["metadata"].get("resourceVersion", rv)
                    self.events += 1
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        self._seen(ev["object"])
                conn.close()
            except Exception as e:  # noqa: BLE001 - reconnect on any transport trouble
                if self.stop.is_set():
                    break
                self.error = e
                time.sleep(0.2)

    def close(self):
        self.stop.set()
        try:
            if self.conn:
                self.conn.sock and self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.join(timeout=10)


# -- controllers that get killed --------------------------------------------


class Fleet:
    """Controller processes of one test, with the FAST_LEASE flags so that a
    replacement for a killed leader acts within seconds. Every log lands in
    logdir/<name>/controller.log.
    """

    def __init__(self, controller_bin, testenv, endpoint, ns, logdir):
        self.bin, self.testenv, self.endpoint, self.ns, self.logdir = (
            controller_bin,
            testenv,
            endpoint,
            ns,
            logdir,
        )
        self.all = []
        self.n = 0

    def start(self, name=None, endpoint=None, wait_ready=True):
        self.n += 1
        name = name or f"chaos-controller-{self.n}"
        d = os.path.join(self.logdir, name)
        os.makedirs(d, exist_ok=True)
        c = Controller(
            self.bin,
            self.testenv,
            endpoint or self.endpoint,
            self.ns,
            d,
            extra_args=FAST_LEASE,
            pod_name=name,
        )
        c.name = name
        c.killed_at = None
        self.all.append(c)
        if wait_ready:
            c.wait_ready()
        return c

    @staticmethod
    def kill(c):
        """SIGKILL, as the OOM killer or a node loss would."""
        if c.proc.poll() is None:
            c.proc.send_signal(signal.SIGKILL)
            c.killed_at = time.time()
        c.proc.wait()

    def logs(self):
        out = {}
        for c in self.all:
            if not c.log.closed:
                c.log.flush()
            with open(c.log_path) as f:
                out[c.name] = f.read()
        return out

    def close(self, world):
        """Stops what still runs; checks no log holds a secret. Returns the
        exit codes of the processes stopped here (SIGTERM must exit 0)."""
        rcs = {}
        for c in self.all:
            if c.proc.poll() is None:
                rcs[c.name] = c.stop()
            elif not c.log.closed:
                c.log.close()
        logs = self.logs()
        secrets = [world.password] + [c.aws_secret for c in self.all]
        leaks = [n for n, text in logs.items() if any(s in text for s in secrets)]
        return rcs, leaks


def print_log_tails(fleet, n=4000):
    for name, text in fleet.logs().items():
        print(f"\n---- {name} log (tail) ----\n" + text[-n:])


# -- telling replicas apart on the wire --------------------------------------


class Endpoint:
    """What Controller needs of the emulator: its URL."""

    def __init__(self, url):
        self.url = url


class TaggingProxy:
    """A loopback HTTP proxy in front of the emulator, one per replica, that
    records every request it forwards with its start and end time. The call
    log cannot tell replicas apart (they sign with the same credentials);
    this can, without touching what reaches the emulator.
    """

    def __init__(self, upstream_url, tag):
        u = urllib.parse.urlsplit(upstream_url)
        self.up_host, self.up_port = u.hostname, u.port
        self.tag = tag
        self.lock = threading.Lock()
        self.calls = []
        proxy = self

        class Handler(ForwardingHandler):
            up_host, up_port = proxy.up_host, proxy.up_port

            def forward(self, body):
                entry = {
                    "tag": proxy.tag,
                    "method": self.command,
                    "path": self.path,
                    "action": action_of(self.command, self.path, self.headers, body),
                    "start": time.time(),
                    "end": None,
                    "status": None,
                }
                with proxy.lock:
                    proxy.calls.append(entry)
                try:
                    entry["status"] = self.relay(body)
                finally:
                    entry["end"] = time.time()

        self.server = start_server(Handler, f"proxy-{tag}")
        self.url = self.server.url

    def mutating(self, extra=()):
        """The forwarded calls that change something in AWS (MUTATING, plus
        the actions in extra)."""
        with self.lock:
            return [dict(c) for c in self.calls if c["action"] in MUTATING or c["action"] in extra]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def action_of(method, path, headers, body):
    target = headers.get("X-Amz-Target")
    if target:
        return target.rpartition(".")[2]
    if (
        body
        and method == "POST"
        and (headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded")
    ):
        return urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", [None])[0]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if "Action" in q:
        return q["Action"][0]
    if method == "POST" and path.rstrip("/").endswith("/rrset"):
        return "ChangeResourceRecordSets"
    return f"{method} {urllib.parse.urlsplit(path).path}"
