"""The demo (hack/demo, `make demo`): the seed runbook's story, told live.

It starts, owned by this process (Ctrl-C or any exit stops everything):
the test environment (kube-apiserver + etcd with the CRD and the controller's
RBAC), the AWS emulator with realistic-but-short delays, four PostgreSQL
servers bound to the two Aurora clusters, and the controller binary as a
local process with the ServiceAccount's kubeconfig. Then it tells the story
of the seed runbook (docs/demo.md) with kubectl as the only client:

  1. existing infrastructure: orders-east (writer) + orders-west in
     orders-global, a Route 53 zone, an application Deployment;
  2. kubectl apply the GlobalDatabase: the controller adopts it;
  3. kubectl patch spec.primaryRegion: planned switchover, DNS, restarts;
  4. regional outage of the primary region: detection, confirmation,
     detach-and-promote, DNS, restarts, the data-loss window;
  5. recovery: fence the stale writer, orders-global-2, rebuild, switch back.

An application thread writes a row every 100 ms to whichever cluster the
GlobalDatabase names as primary, so "time to writable" and "rows lost" are
measured, not asserted. It ends with a summary table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import conftest  # noqa: E402
from conftest import (
    EAST,
    WEST,
    Admin,
    Controller,
    Kubectl,
    World,
    cut_connection,  # noqa: E402
    wait_for,
)

SOURCE_DIR = conftest.SOURCE_DIR
T0 = time.monotonic()
OUT = threading.Lock()
TTY = sys.stdout.isatty()
BOLD, DIM, RED, GREEN, YELLOW, RESET = (
    ("\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[0m") if TTY else ("",) * 6
)
DEMO_DELAYS = {
    "cluster_create": 2,
    "cluster_modify": 1,
    "cluster_promote": 2,
    "failover_pending": 1,
    "failover_run": 2,
    "failover_finish": 1,
    "resync": 2,
}


def now():
    return time.monotonic() - T0


def say(msg, color=""):
    with OUT:
        if TTY:
            sys.stdout.write("\r\033[K")
        print(f"{DIM}[{now():6.1f}s]{RESET} {color}{msg}{RESET}", flush=True)


def chapter(title):
    with OUT:
        if TTY:
            sys.stdout.write("\r\033[K")
        print(f"\n{BOLD}== {title} =={RESET}", flush=True)


def progress(msg):
    """One self-overwriting line while waiting (a plain line when not a terminal)."""
    if TTY:
        with OUT:
            sys.stdout.write(f"\r\033[K{DIM}  … {msg}{RESET}")
            sys.stdout.flush()


class EventTail(threading.Thread):
    """Prints the GlobalDatabase's Events as they arrive."""

    def __init__(self, world):
        super().__init__(daemon=True)
        self.world = world
        self.seen = set()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                for e in self.world.events():
                    # A repeat of an identical Event is a series on the same object.
                    uid = (e["metadata"]["uid"], (e.get("series") or {}).get("count", 1))
                    if uid in self.seen:
                        continue
                    self.seen.add(uid)
                    color = YELLOW if e.get("type") == "Warning" else GREEN
                    say(f"event {e['reason']}: {e.get('note', '')}", color)
            except Exception:
                pass
            self.stop.wait(0.5)


class AppWriter(threading.Thread):
    """The application: a row every 100 ms through the current writer."""

    def __init__(self, world):
        super().__init__(daemon=True)
        self.world = world
        self.stop = threading.Event()
        self.acked = []  # (tag, time, region) of every acknowledged write
        self.failures = []  # times of failed writes
        self.lock = threading.Lock()
        self.n = 0

    def run(self):

        conn, conn_region = None, None
        while not self.stop.is_set():
            try:
                region = self.world.status().get("currentPrimaryRegion") or EAST
                cid = "orders-east" if region == EAST else "orders-west"
                if conn is None or conn_region != region:
                    if conn is not None:
                        conn.close()
                    conn, conn_region = self.world.connect(region, cid), region
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, "
                        "tag text NOT NULL, created timestamptz NOT NULL DEFAULT now())"
                    )
                    conn.execute("SET statement_timeout = 1000")
                tag = f"app-{self.n}"
                # A frozen server never answers and its kernel keeps the socket
                # open: cut the socket after 1.5 s, as a client-side timeout.
                cut = threading.Timer(1.5, cut_connection, (conn,))
                cut.start()
                try:
                    conn.execute("INSERT INTO orders (tag) VALUES (%s)", (tag,))
                finally:
                    cut.cancel()
                with self.lock:
                    self.acked.append((tag, now(), conn_region))
                self.n += 1
            except Exception:
                with self.lock:
                    self.failures.append(now())
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
            self.stop.wait(0.1)
        if conn is not None:
            conn.close()

    def first_ack_after(self, t):
        with self.lock:
            return next((a for _, a, _ in self.acked if a > t), None)


def kubectl_show(k, *args):
    out = k(*args)
    with OUT:
        for line in out.rstrip().splitlines():
            print(f"           {line}")


def wait_status(world, pred, what, timeout):
    last_step = None
    t_start = time.monotonic()

    def check():
        nonlocal last_step
        st = world.status()
        op = st.get("operation") or {}
        step = f"{op.get('type', '-')}/{op.get('step', '-')}" if op.get("type") else None
        if step != last_step and step:
            say(
                f"status.operation: {op.get('type')} → step {op.get('step')}"
                + (f" ({op.get('message')})" if op.get("message") else ""),
                DIM,
            )
        last_step = step
        ready = next((c for c in st.get("conditions", []) if c["type"] == "Ready"), {})
        progress(
            f"{what} — {time.monotonic() - t_start:4.0f}s — Ready={ready.get('status', '?')}"
            f" ({ready.get('reason', '')})"
        )
        return pred(st)

    return wait_for(check, timeout=timeout, interval=0.5, what=what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--controller-bin",
        default=os.path.join(
            SOURCE_DIR, "build", "cmd", "globaldb-controller", "globaldb-controller"
        ),
    )
    ap.add_argument(
        "--keep", action="store_true", help="on success, wait for Ctrl-C before cleaning up"
    )
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="gdb-demo-")
    os.chmod(work, 0o755)
    state_path = os.path.join(work, "testenv", "state.json")
    procs = []
    world = controller = tail = app = None
    summary = {}
    py = sys.executable
    env = dict(os.environ, GDB_SOURCE_DIR=SOURCE_DIR)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # Explicitly: a shell that starts us in the background leaves SIGINT ignored.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_term)

    try:
        chapter("Setting up a local world (all on 127.0.0.1)")
        say("starting kube-apiserver + etcd, the CRD, the controller's ServiceAccount and RBAC …")
        r = subprocess.run(
            [
                py,
                os.path.join(SOURCE_DIR, "tests", "env", "testenv.py"),
                "up",
                "--state",
                state_path,
                "--owner-pid",
                str(os.getpid()),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if r.returncode != 0:
            raise SystemExit(f"testenv failed:\n{r.stderr[-3000:]}")
        with open(state_path) as f:
            testenv = json.load(f)
        say(f"kube-apiserver at {testenv['apiserver_url']}")

        url_file = os.path.join(work, "awsemu.url")
        emu_log = open(os.path.join(work, "awsemu.log"), "w")
        procs.append(
            subprocess.Popen(
                [py, "-m", "awsemu", "--url-file", url_file, "--delays", json.dumps(DEMO_DELAYS)],
                stdout=emu_log,
                stderr=subprocess.STDOUT,
                env=dict(env, PYTHONPATH=conftest.ENV_DIR),
            )
        )
        wait_for(lambda: os.path.exists(url_file), timeout=60, what="the AWS emulator")
        admin = Admin(open(url_file).read().strip())
        say(f"AWS emulator (moto + global-database extension) at {admin.url}")

        kubectl = Kubectl(testenv)
        world = World(admin, kubectl, os.path.join(work, "pg"))
        say("PostgreSQL 15: a writer and a reader per region …")
        world.make_servers()

        chapter("1. The existing infrastructure (runbook steps 1–5, as CloudFormation made it)")
        world.create_infrastructure()
        say(
            "orders-east (writer, us-east-1) + orders-west (secondary, us-west-2) in "
            "global cluster orders-global; replication connected"
        )
        world.create_zone()
        world.create_namespace()
        say(
            f"Route 53 zone {world.zone_id}; namespace {world.ns} with Deployment orders-api "
            "and the probe Secret"
        )

        controller = Controller(args.controller_bin, testenv, admin, world.ns, work)
        controller.wait_ready()
        say(
            f"globaldb-controller running (pid {controller.proc.pid}), leader elected, "
            f"metrics on 127.0.0.1:{controller.metrics_port}"
        )

        chapter("2. kubectl apply -f globaldatabase.yaml — adopt, do not create")
        manifest = world.gdb_manifest()
        say(
            f"spec.primaryRegion={EAST}; failover: Automatic, DetachAndPromote, "
            "maxDataLossSeconds 30; healthCheck every 2s, 3 failures"
        )
        tail = EventTail(world)
        tail.start()
        t = now()
        kubectl.apply(manifest)
        wait_status(
            world,
            lambda s: any(
                c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", [])
            ),
            "waiting for Ready",
            120,
        )
        summary["adopt"] = now() - t
        say(f"Ready in {summary['adopt']:.1f}s", GREEN)
        kubectl_show(kubectl, "-n", world.ns, "get", "globaldatabase")
        app = AppWriter(world)
        app.start()
        wait_for(lambda: len(app.acked) >= 20, timeout=30, what="the application to write")
        say(
            f"the application writes a row every 100 ms through the writer "
            f"({len(app.acked)} so far)"
        )

        chapter("3. kubectl patch … spec.primaryRegion=us-west-2 — planned switchover")
        t = now()
        kubectl(
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
        wait_status(
            world,
            lambda s: (
                (s.get("lastOperation") or {}).get("type") == "Switchover"
                and (s.get("lastOperation") or {}).get("result")
                and s.get("currentPrimaryRegion") == WEST
            ),
            "switchover to us-west-2",
            180,
        )
        summary["switchover"] = now() - t
        summary["switchover_steps"] = {
            s["name"]: s["durationSeconds"]
            for s in world.status()["lastOperation"].get("steps", [])
        }
        say(f"switchover done in {summary['switchover']:.1f}s (writer, DNS, restarts)", GREEN)
        kubectl_show(kubectl, "-n", world.ns, "get", "globaldatabase")

        chapter("4. us-west-2 goes dark: RDS API 503s, its PostgreSQL servers freeze")
        before_outage = len(app.acked)
        t_out = now()
        admin.outage(WEST, "5xx", pg="freeze", services=["rds"])
        say("outage started (Route 53's API stays up in this demo)", RED)
        wait_status(
            world,
            lambda s: any(
                c["type"] == "PrimaryHealthy" and c["status"] == "False"
                for c in s.get("conditions", [])
            ),
            "probes failing",
            120,
        )
        summary["detect"] = now() - t_out
        say(
            f"writer declared unhealthy after {summary['detect']:.1f}s "
            "(3 failed heartbeat writes, RDS API confirms)",
            YELLOW,
        )
        wait_status(
            world,
            lambda s: (
                (s.get("lastOperation") or {}).get("type") == "Failover"
                and (s.get("lastOperation") or {}).get("result")
            ),
            "failover to us-east-1",
            240,
        )
        last = world.status()["lastOperation"]
        summary["failover_total"] = now() - t_out
        summary["data_loss"] = last.get("dataLossWindowSeconds")
        summary["failover_steps"] = {s["name"]: s["durationSeconds"] for s in last.get("steps", [])}
        wait_for(lambda: app.first_ack_after(t_out), timeout=60, what="a write on the new writer")
        summary["writable"] = app.first_ack_after(t_out) - t_out
        say(
            f"failover {last['result']}: writes accepted again {summary['writable']:.1f}s after the "
            f"outage; data-loss window {summary['data_loss']}s",
            GREEN,
        )
        kubectl_show(kubectl, "-n", world.ns, "get", "globaldatabase")

        chapter("5. us-west-2 recovers — fence the stale writer, rebuild, fall back")
        t_rec = now()
        admin.outage(WEST, "off")
        say("outage over: the old writer in us-west-2 is reachable (and stale)")
        wait_status(
            world,
            lambda s: (
                s.get("currentPrimaryRegion") == WEST
                and (s.get("lastOperation") or {}).get("type") == "Switchover"
                and (s.get("lastOperation") or {}).get("result") == "Succeeded"
                and s.get("globalClusterIdentifier") == "orders-global-2"
            ),
            "fallback and switch back to us-west-2",
            600,
        )
        summary["fallback"] = now() - t_rec
        say(
            f"back in the desired region after {summary['fallback']:.1f}s, global cluster "
            f"{world.status()['globalClusterIdentifier']}",
            GREEN,
        )
        kubectl_show(kubectl, "-n", world.ns, "get", "globaldatabase")

        app.stop.set()
        app.join()
        acked_before = [tag for tag, _, _ in app.acked[:before_outage]]
        with world.connect(WEST, "orders-west") as conn:
            present = {r[0] for r in conn.execute("SELECT tag FROM orders WHERE tag LIKE 'app-%'")}
        summary["acked"] = len(app.acked)
        summary["lost_before_outage"] = sum(1 for t in acked_before if t not in present)
        summary["lost_total"] = sum(1 for t, _, _ in app.acked if t not in present)
        # The loss window measured from the rows: among the writes the failed
        # writer (us-west-2, before the outage) acknowledged, the newest lost
        # one's acknowledgement minus the newest surviving one's.
        old = [(t, a) for t, a, r in app.acked if r == WEST and a <= t_out]
        lost_at = [a for t, a in old if t not in present]
        kept_at = [a for t, a in old if t in present]
        summary["loss_measured"] = (
            max(lost_at) - max(kept_at) if lost_at and kept_at else (0.0 if not lost_at else None)
        )

        # From the failover's own record of its steps (whole seconds), not
        # from Events, which another operation may have emitted late.
        steps = summary["failover_steps"]
        summary["dns"] = (
            steps.get("UpdateDns", 0) + steps["WaitDnsInsync"] if "WaitDnsInsync" in steps else None
        )
        summary["restart"] = steps.get("RestartWorkloads")

        chapter("Summary")
        rows = [
            ("adopt (apply → Ready)", f"{summary['adopt']:.1f} s"),
            (
                "planned switchover (edit → done, incl. DNS + restarts)",
                f"{summary['switchover']:.1f} s",
            ),
            ("failure detection (outage → PrimaryHealthy=False)", f"{summary['detect']:.1f} s"),
            ("time to writable (outage → first write accepted)", f"{summary['writable']:.1f} s"),
            (
                "failover complete (outage → DNS + restarts done)",
                f"{summary['failover_total']:.1f} s",
            ),
            (
                "data-loss window (status.lastOperation: an upper bound)",
                f"{summary['data_loss']} s",
            ),
            (
                "loss window measured (newest lost − newest kept write)",
                f"{summary['loss_measured']:.2f} s"
                if summary["loss_measured"] is not None
                else "-",
            ),
            (
                "DNS (failover steps UpdateDns + WaitDnsInsync)",
                f"{summary['dns']} s" if summary["dns"] is not None else "-",
            ),
            (
                "workload restarts (failover step RestartWorkloads)",
                f"{summary['restart']} s" if summary["restart"] is not None else "-",
            ),
            (
                "recovery → back in us-west-2 (fence, rebuild, switch)",
                f"{summary['fallback']:.1f} s",
            ),
            ("application writes acknowledged", str(summary["acked"])),
            (
                "acknowledged writes lost (all / before the outage)",
                f"{summary['lost_total']} / {summary['lost_before_outage']}",
            ),
        ]
        w = max(len(a) for a, _ in rows)
        with OUT:
            print(f"  {'measure'.ljust(w)}  value")
            print(f"  {'-' * w}  ---------")
            for a, b in rows:
                print(f"  {a.ljust(w)}  {b}")
            print(
                f"\n  {platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
                f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"
            )
        bound, measured = summary["data_loss"], summary["loss_measured"]
        if measured is not None and (bound is None or bound < measured):
            say(
                f"the reported data-loss window {bound} s is BELOW the measured {measured:.2f} s",
                RED,
            )
        leaks = [s for s in (world.password, controller.aws_secret) if s in controller.log_text()]
        say(
            "controller log scanned: no password or AWS secret key in it"
            if not leaks
            else "THE CONTROLLER LOG CONTAINS A SECRET",
            GREEN if not leaks else RED,
        )
        if args.keep:
            say(f"everything still runs; KUBECONFIG={testenv['kubeconfig']} — Ctrl-C to clean up")
            while True:
                time.sleep(3600)
        return 0 if not leaks else 1
    except KeyboardInterrupt:
        say("interrupted; cleaning up", YELLOW)
        return 130
    finally:
        if tail:
            tail.stop.set()
        if app:
            app.stop.set()
        if controller:
            controller.stop()
        if world:
            try:
                world.admin.outage(WEST, "off")
            except Exception:
                pass
            world.destroy_servers()
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.path.exists(state_path):
            subprocess.run(
                [
                    py,
                    os.path.join(SOURCE_DIR, "tests", "env", "testenv.py"),
                    "down",
                    "--state",
                    state_path,
                ],
                env=env,
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
