#!/usr/bin/env python3
"""Scale: many GlobalDatabases on one controller replica.

N GlobalDatabases, each adopting its own global cluster of two regions
(gdbNNNN-east writer in us-east-1, gdbNNNN-west secondary in us-west-2), with
probes every --period s. All clusters are bound to the same four real
PostgreSQL servers (a writer and a streaming reader per region), so each
GlobalDatabase has a real writer probe (heartbeat upsert of its own row) and a
real reader probe (lag) — 2 x N probe connections.

The objects exist before the controller starts. The benchmark measures:
  - exec -> every object Ready=True (seen by one `kubectl get -w`, checked
    every 0.2 s),
  - the RSS while the start-up settles: the --settle s after all are Ready,
    when the last start-up reconciles and the rounds they asked for still run
    and their garbage waits for the next trim,
  - then, over a steady window of --window s: CPU (utime+stime over wall
    time), RSS (VmRSS sampled every 0.5 s; max and last), and the AWS calls
    that arrived at the emulator, per action and region, per minute.

Run it with two --count values to see whether Describe calls per minute depend
on the number of resources.
"""

import argparse
import concurrent.futures
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import EAST, WEST, wait_for  # noqa: E402

MAX_CONNECTIONS = 1200


def report_api_requests(metrics_text, count):
    """The controller's own apiserver requests by method and code, from
    rest_client_requests_total: what start-up asks of the apiserver."""
    rows = {}
    for line in metrics_text.splitlines():
        if not line.startswith("rest_client_requests_total{"):
            continue
        labels, value = line.rsplit(" ", 1)
        kv = dict(part.split("=", 1) for part in labels[labels.index("{") + 1 : -1].split(","))
        key = (kv.get("method", "?").strip('"'), kv.get("code", "?").strip('"'))
        rows[key] = rows.get(key, 0) + float(value)
    print("\n| apiserver requests from the controller, exec -> all Ready | count | per object |")
    print("| --- | --- | --- |")
    for (method, code), n in sorted(rows.items()):
        print(f"| {method} {code} | {n:.0f} | {n / count:.2f} |")


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def postgres_ticks():
    """CPU of every postgres process (server, backends, walsenders) now alive."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            total += cpu_ticks(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return total


class StartupCpu:
    """CPU seconds each part of the test bed spent from exec to all Ready.

    The start-up is bound by these 2 cores; this says whose work it was."""

    def __init__(self, b, controller_pid, readiness):
        self.procs = {
            "controller": controller_pid,
            "kube-apiserver": b.testenv["apiserver_pid"],
            "etcd": b.testenv["etcd_pid"],
            "AWS emulator (Python)": b.emu_proc.pid,
            "kubectl get -w": readiness.watch.proc.pid,
        }
        self.t0, self.c0 = time.time(), self.sample()

    def sample(self):
        out = {}
        for name, pid in self.procs.items():
            try:
                out[name] = cpu_ticks(pid)
            except OSError:
                out[name] = 0
        out["PostgreSQL (4 servers, all backends)"] = postgres_ticks()
        return out

    def report(self):
        c1, wall = self.sample(), time.time() - self.t0
        hz = os.sysconf("SC_CLK_TCK")
        print(
            f"\n| start-up CPU, exec -> all Ready ({wall:.0f} s wall, "
            f"{2 * wall:.0f} CPU-s on 2 cores) | CPU-s |\n| --- | --- |"
        )
        for name in c1:
            print(f"| {name} | {(c1[name] - self.c0.get(name, 0)) / hz:.1f} |")


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def raise_max_connections(w):
    """Standbys first: a hot standby refuses a primary with more connections."""
    for name in ("east-r", "west-r", "west-w", "east-w"):
        s = w.servers[name]
        with open(os.path.join(s.datadir, "server.conf"), "a") as f:
            f.write(f"max_connections = {MAX_CONNECTIONS}\n")
        s.stop()
        s.start()


def create_one(w, i):
    """One global cluster of two regions, created as CloudFormation would (unbound)."""
    east, west = w.rds[EAST], w.rds[WEST]
    base = f"gdb{i:04d}"
    c = east.create_db_cluster(
        DBClusterIdentifier=f"{base}-east",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="postgres",
        MasterUserPassword=w.password,
    )["DBCluster"]
    east.create_db_instance(
        DBInstanceIdentifier=f"{base}-east-1",
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier=f"{base}-east",
    )
    east.create_global_cluster(
        GlobalClusterIdentifier=f"{base}-global", SourceDBClusterIdentifier=c["DBClusterArn"]
    )
    west.create_db_cluster(
        DBClusterIdentifier=f"{base}-west",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        GlobalClusterIdentifier=f"{base}-global",
    )
    west.create_db_instance(
        DBInstanceIdentifier=f"{base}-west-1",
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier=f"{base}-west",
    )
    # Bound after creation: the four servers already replicate east -> west.
    w.admin.bind(EAST, f"{base}-east", w.servers["east-w"], w.servers["east-r"])
    w.admin.bind(WEST, f"{base}-west", w.servers["west-w"], w.servers["west-r"])


def manifest(w, i, period, timeout):
    base = f"gdb{i:04d}"
    tmpl = {"engineVersion": "15.4", "instanceClass": "db.r6g.large", "instances": 1}
    return {
        "apiVersion": "globaldb.io/v1alpha1",
        "kind": "GlobalDatabase",
        "metadata": {"name": base, "namespace": w.ns},
        "spec": {
            "globalClusterIdentifier": f"{base}-global",
            "primaryRegion": EAST,
            "regions": [
                {"name": EAST, "dbClusterIdentifier": f"{base}-east", "template": tmpl},
                {"name": WEST, "dbClusterIdentifier": f"{base}-west", "template": tmpl},
            ],
            "healthCheck": {
                "periodSeconds": period,
                "timeoutSeconds": timeout,
                "failureThreshold": 3,
                "credentialsSecretRef": {"name": "pg-probe"},
                "sslMode": "disable",
                "allowInsecurePassword": True,
            },
            "failover": {"mode": "Automatic", "method": "Managed", "maxDataLossSeconds": 30},
            # The clusters above exist untagged: each object adopts its own.
            "adoption": {"policy": "AdoptUntagged"},
        },
    }


class ReadyWatch:
    """Every object's Ready status from one `kubectl get -w` stream.

    Listing 1,000 objects every second (the first version of this benchmark)
    cost the apiserver and kubectl more CPU than the controller's own work on
    these 2 cores, and so slowed the start-up it measured.
    """

    def __init__(self, b, ns):
        cols = 'custom-columns=N:.metadata.name,R:.status.conditions[?(@.type=="Ready")].status'
        self.watch = harness.Watch(
            b.testenv["kubectl"],
            b.testenv["kubeconfig"],
            "-n",
            ns,
            "globaldatabases",
            "--no-headers",
            "-o",
            cols,
        )

    def count(self):
        """(objects Ready=True, objects seen)."""
        self.watch.check()
        ready = {}
        for _, line in list(self.watch.lines):
            f = line.split()
            if len(f) >= 2:
                ready[f[0]] = f[1] == "True"
        return sum(ready.values()), len(ready)

    def close(self):
        self.watch.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--period", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=3)
    ap.add_argument("--window", type=float, default=120.0)
    ap.add_argument(
        "--log-level",
        default="info",
        help="the controller's (debug logs each status write and what changed)",
    )
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds between all Ready and the steady window (one round period)",
    )
    ap.add_argument("--smoke", action="store_true", help="10 objects, 10 s window (CI)")
    a = ap.parse_args()
    if a.smoke:
        a.count, a.window, a.settle = 10, 10.0, 0.0

    # moto counts the automated snapshot of every instance against a quota of 1,000.
    os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", str(10 * a.count + 1000))
    b = harness.Bench()
    try:
        b.start_emulator()
        w = b.make_world()
        # The emulator may serve a Describe answer again until a write clears
        # it: moto needs ~10 ms of CPU per cluster to render one, so an
        # uncached round of 1,000 clusters costs it tens of seconds of a core
        # that the controller, the apiserver and PostgreSQL share, and the run
        # would measure moto (with a 30 s cache, each expiry starved the
        # probes into timeouts). Nothing changes in AWS meanwhile.
        b.admin.post("/config", {"describeCacheSeconds": 3600})
        raise_max_connections(w)
        t = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: create_one(w, i), range(a.count)))
        print(f"created {a.count} global clusters in {time.time() - t:.1f} s", flush=True)
        wait_for(
            lambda: all(
                w.cluster(WEST, f"gdb{i:04d}-west")["Status"] == "available"
                for i in (0, a.count - 1)
            ),
            timeout=120,
            what="clusters available",
        )
        items = [manifest(w, i, a.period, a.timeout) for i in range(a.count)]
        t = time.time()
        w.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
        )
        print(f"applied {a.count} GlobalDatabases in {time.time() - t:.1f} s", flush=True)

        load = harness.load_avg()
        readiness = ReadyWatch(b, w.ns)
        t_exec = b.start_controller(
            extra_args=("--log-level", a.log_level, "--concurrency", str(a.concurrency))
        )
        c = b.controller
        startup = StartupCpu(b, c.proc.pid, readiness)
        last = [0, 0]

        def all_ready():
            assert c.proc.poll() is None, "controller exited:\n" + c.log_text()[-3000:]
            last[:] = readiness.count()
            return last[0] == a.count

        wait_for(all_ready, timeout=600, interval=0.2, what=f"all {a.count} Ready (last: {last})")
        t_ready = time.time() - t_exec
        print(f"all {a.count} Ready {t_ready:.1f} s after exec", flush=True)
        startup.report()
        report_api_requests(c.metrics(), a.count)

        pid = c.proc.pid
        settle_rss = [proc_rss_kib(pid)]
        end = time.time() + a.settle
        while time.time() < end:
            time.sleep(0.5)
            settle_rss.append(proc_rss_kib(pid))
        since = b.last_seq()
        rss = []
        t0, c0 = time.time(), cpu_ticks(pid)
        end = t0 + a.window
        while time.time() < end:
            rss.append(proc_rss_kib(pid))
            time.sleep(0.5)
        t1, c1 = time.time(), cpu_ticks(pid)
        cpu = 100.0 * (c1 - c0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
        calls = [x for x in b.admin.calls() if x["seq"] > since and x["time"] <= t1]
        minutes = (t1 - t0) / 60.0
        per = {}
        for x in calls:
            k = (x.get("service", ""), x["action"], x.get("region", ""))
            per[k] = per.get(k, 0) + 1
        ready_after, _ = readiness.count()
        readiness.close()

        print(
            f"\n## scale: {a.count} GlobalDatabases, probes every {a.period} s "
            f"(timeout {a.timeout} s), concurrency {a.concurrency}, load {load}"
        )
        print("| measure | result |\n| --- | --- |")
        print(f"| exec -> all Ready | {t_ready:.1f} s |")
        print(
            f"| RSS while settling ({a.settle:.0f} s after all Ready; max) | "
            f"{max(settle_rss) / 1024:.1f} MiB |"
        )
        print(f"| steady CPU over {a.window:.0f} s | {cpu:.2f} % of one core |")
        print(f"| steady RSS (max / last) | {max(rss) / 1024:.1f} / {rss[-1] / 1024:.1f} MiB |")
        print(f"| threads | {threads(pid)} |")
        print(f"| Ready at the end | {ready_after} / {a.count} |")
        describe = sum(v for (s, act, r), v in per.items() if act.startswith("Describe"))
        print(f"| Describe calls per minute | {describe / minutes:.1f} |")
        print(f"| all AWS calls per minute | {len(calls) / minutes:.1f} |")
        print("\n| service | action | region | per minute |\n| --- | --- | --- | --- |")
        for (s, act, r), v in sorted(per.items()):
            print(f"| {s} | {act} | {r} | {v / minutes:.1f} |")
        assert ready_after == a.count, "objects fell out of Ready during the window"
    finally:
        b.close()


if __name__ == "__main__":
    main()
