#!/usr/bin/env python3
"""Benchmark: many probe targets on the prober's one thread.

Starts PostgreSQL servers of its own (tests/env/pgenv.py): pairs of a primary
and a streaming standby. Half the targets are writers (each upserting its own
heartbeat row on a primary), half readers on the standbys measuring the lag
against their writer. Every target keeps one connection, so the servers'
max_connections is raised to fit. When every target is healthy it measures,
over a window, the probe_driver process (the prober thread, its resolver
threads, and a stdin loop that is idle meanwhile): CPU time / wall time from
/proc/PID/stat, RSS and peak RSS from /proc/PID/status, and whether the
prober kept its schedule (probes finished vs. targets x window / period).

  bench_probe.py                  # 1000 targets, 2 primaries + 2 standbys, period 5 s, 60 s
  bench_probe.py --smoke          # CI: 20 targets, 1 pair, period 1 s, 5 s window

Exits non-zero when a target is not healthy or the schedule slipped by more
than 5%. Prints one summary line (key=value) at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "env"))
sys.path.insert(0, os.path.join(SRC, "tests", "probe"))

import pgenv  # noqa: E402
from driver_client import Driver  # noqa: E402


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def proc_threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def histogram_sum_count(metrics, name, role):
    s = re.search(rf'{name}_sum\{{role="{role}"\}} ([0-9.e+-]+)', metrics)
    c = re.search(rf'{name}_count\{{role="{role}"\}} ([0-9]+)', metrics)
    if not s or not c:
        return 0.0, 0
    return float(s.group(1)), int(c.group(1))


def window_mean_ms(before, after, role):
    """Mean probe duration within the window, from two renderings of the histogram."""
    s0, c0 = histogram_sum_count(before, "globaldb_probe_duration_seconds", role)
    s1, c1 = histogram_sum_count(after, "globaldb_probe_duration_seconds", role)
    return 1000 * (s1 - s0) / (c1 - c0) if c1 > c0 else 0.0


def failures_by_reason(text):
    """globaldb_probe_failures_total summed over targets, by reason."""
    out = {}
    for m in re.finditer(
        r'^globaldb_probe_failures_total\{[^}]*reason="([^"]+)"[^}]*\} (\S+)$', text, re.M
    ):
        out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=2, help="primary+standby pairs")
    ap.add_argument("--period", type=int, default=5000, help="probe period, ms")
    ap.add_argument("--timeout", type=int, default=3000, help="probe timeout, ms")
    ap.add_argument("--window", type=int, default=60, help="measurement window, s")
    ap.add_argument("--smoke", action="store_true", help="tiny, quick run for CI")
    args = ap.parse_args()
    if args.smoke:
        args.targets, args.pairs, args.period, args.timeout, args.window = 20, 1, 1000, 1000, 5
    if args.targets < 2 * args.pairs or args.targets % 2:
        ap.error("targets must be even and at least 2 x pairs")

    writers = args.targets // 2
    per_server = -(-writers // args.pairs)  # connections per server
    root = tempfile.mkdtemp(prefix="gdb-probe-bench-")
    servers = []
    driver = None
    try:
        pairs = []
        for i in range(args.pairs):
            prim = pgenv.init_primary(root, f"p{i}")
            servers.append(prim)
            prim.sql(f"ALTER SYSTEM SET max_connections = {per_server + 20}")
            prim.stop()
            prim.start()
            stby = pgenv.make_standby(prim, root, f"s{i}")
            servers.append(stby)
            pairs.append((prim, stby))

        driver = Driver(pgenv.DEFAULT_PASSWORD)
        policy = dict(
            period=args.period, timeout=args.timeout, fail=3, succ=1, sslmode="disable", insecure=1
        )
        names = []
        t_add = time.monotonic()
        for i in range(writers):
            prim, stby = pairs[i % args.pairs]
            w, r = f"w{i}", f"r{i}"
            driver.set(
                name=w,
                kind="writer",
                host=prim.host,
                port=prim.port,
                user=prim.superuser,
                hbid=w,
                **policy,
            )
            driver.set(
                name=r,
                kind="reader",
                host=stby.host,
                port=stby.port,
                user=stby.superuser,
                hbid=w,
                lag_source=w,
                **policy,
            )
            names += [w, r]
        # Warm up: every target healthy (its first probe runs within 1 s).
        deadline = time.monotonic() + 60 + 2 * args.period / 1000
        pending = set(names)
        while pending and time.monotonic() < deadline:
            pending = {n for n in pending if driver.get(n)["health"] != "healthy"}
            if pending:
                time.sleep(0.5)
        if pending:
            print(
                f"not healthy after warm-up: {len(pending)}, e.g. "
                f"{[driver.get(n) for n in sorted(pending)[:3]]}",
                file=sys.stderr,
            )
            for srv in servers:
                print(f"{srv.name} log tail:\n{srv.log_tail(5)}", file=sys.stderr)
            return 1
        warm = time.monotonic() - t_add
        time.sleep(args.period / 1000)  # let the connect burst settle

        pid = driver.proc.pid
        st0 = driver.cmd("stats")
        m0 = driver.metrics()
        cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
        time.sleep(args.window)
        cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
        st1 = driver.cmd("stats")
        rss, hwm = proc_status(pid, "VmRSS"), proc_status(pid, "VmHWM")
        threads = proc_threads(pid)

        def stat(line, key):
            return int(re.search(rf"{key}=(\d+)", line).group(1))

        probes = stat(st1, "probes") - stat(st0, "probes")
        wakeups = stat(st1, "wakeups") - stat(st0, "wakeups")
        connects = stat(st1, "connects") - stat(st0, "connects")
        expected = args.targets * (t1 - t0) / (args.period / 1000)
        unhealthy = [n for n in names if driver.get(n)["health"] != "healthy"]
        lags = [driver.get(f"r{i}")["lag_ms"] for i in range(0, writers, max(1, writers // 50))]
        m1 = driver.metrics()
        cpu_pct = 100.0 * (cpu1 - cpu0) / (t1 - t0)
        print(
            f"targets={args.targets} servers={2 * args.pairs} period_ms={args.period} "
            f"window_s={t1 - t0:.1f} warmup_s={warm:.1f} cpu_percent={cpu_pct:.2f} "
            f"rss_kb={rss} peak_rss_kb={hwm} threads={threads} probes={probes} "
            f"expected_probes={expected:.0f} connects={connects} "
            f"wakeups_per_s={wakeups / (t1 - t0):.1f} "
            f"writer_mean_ms={window_mean_ms(m0, m1, 'writer'):.2f} "
            f"reader_mean_ms={window_mean_ms(m0, m1, 'reader'):.2f} "
            f"max_sampled_lag_ms={max(lags)} unhealthy={len(unhealthy)}"
        )
        f0, f1 = failures_by_reason(m0), failures_by_reason(m1)
        failed = {r: int(n - f0.get(r, 0)) for r, n in f1.items() if n > f0.get(r, 0)}
        print(f"failed probes in the window, by reason: {failed or 'none'}")
        if unhealthy:
            print(f"unhealthy during the window: {unhealthy[:10]}", file=sys.stderr)
            return 1
        if failed:
            print("probes of healthy servers failed", file=sys.stderr)
            return 1
        if probes < 0.95 * expected:
            print("the prober fell behind its schedule", file=sys.stderr)
            return 1
        if min(lags) < 0:
            print("a reader has no lag measurement", file=sys.stderr)
            return 1
        return 0
    finally:
        if driver:
            driver.close(timeout=60)
        for srv in reversed(servers):
            srv.destroy()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
