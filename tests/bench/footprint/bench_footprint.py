#!/usr/bin/env python3
"""Footprint of the controller: start to first reconcile, idle RSS and CPU.

One GlobalDatabase (adopting orders-global: two regions, probes every
--period s) is created before the controller starts. The benchmark execs the
controller and measures:
  - exec -> /readyz 200 (polled every 10 ms),
  - exec -> first AWS call arriving at the emulator (its call log),
  - exec -> Ready=True (the first status write that says the adoption is done,
    polled every 50 ms with kubectl: an upper bound),
then, once adopted, RSS (VmRSS, and VmHWM the peak) and CPU (utime+stime of
/proc/PID/stat over wall time) over an idle window of --window s.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="5 s window (CI)")
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--period", type=int, default=5)
    a = ap.parse_args()
    if a.smoke:
        a.window = 5.0

    b = harness.Bench()
    try:
        b.start_emulator()
        w = b.make_world()
        man = w.gdb_manifest(
            healthCheck={"periodSeconds": a.period, "timeoutSeconds": min(3, a.period - 1) or 1}
        )
        w.kubectl.apply(man)
        since = b.last_seq()
        load = harness.load_avg()
        t_exec = b.start_controller()
        c = b.controller
        t_ready = None

        def readyz():
            assert c.proc.poll() is None, "controller exited:\n" + c.log_text()[-3000:]
            try:
                return c.get(c.health_port, "/readyz")[0] == 200
            except OSError:
                return False

        wait_for(readyz, timeout=60, interval=0.01, what="/readyz")
        t_ready = time.time()
        first = wait_for(
            lambda: [x for x in b.admin.calls() if x["seq"] > since],
            timeout=60,
            interval=0.02,
            what="the first AWS call",
        )
        t_first_call = min(x["time"] for x in first)
        first_action = min(first, key=lambda x: x["seq"])["action"]

        def adopted():
            cnd = w.condition("Ready")
            return cnd and cnd["status"] == "True"

        wait_for(adopted, timeout=90, interval=0.05, what="Ready=True")
        t_adopted = time.time()
        w.wait_condition("PrimaryHealthy", "True", timeout=60)

        pid = c.proc.pid
        hz = os.sysconf("SC_CLK_TCK")
        time.sleep(a.period)  # let one probe round settle before the window
        c0, t0 = cpu_ticks(pid), time.monotonic()
        rss = []
        end = t0 + a.window
        while time.monotonic() < end:
            rss.append(int(proc_status(pid)["VmRSS"].split()[0]))
            time.sleep(1.0)
        c1, t1 = cpu_ticks(pid), time.monotonic()
        st = proc_status(pid)
        cpu = (c1 - c0) / hz / (t1 - t0) * 100
        assert c.proc.poll() is None, "the controller exited during the window"
        print(f"load average at start: {load}; at end: {harness.load_avg()}")
        print(f"exec -> /readyz 200:            {1000 * (t_ready - t_exec):8.1f} ms")
        print(f"exec -> first AWS call ({first_action}): {1000 * (t_first_call - t_exec):8.1f} ms")
        print(f"exec -> Ready=True observed:     {1000 * (t_adopted - t_exec):8.1f} ms")
        print(f"idle window {a.window:.0f} s (1 GlobalDatabase, probes every {a.period} s):")
        print(
            f"  RSS min/max: {min(rss) / 1024:.1f} / {max(rss) / 1024:.1f} MiB; "
            f"peak (VmHWM): {int(st['VmHWM'].split()[0]) / 1024:.1f} MiB; "
            f"threads: {st['Threads']}"
        )
        print(f"  CPU: {cpu:.2f} % of one core")
    finally:
        b.close()


if __name__ == "__main__":
    main()
