#!/usr/bin/env python3
"""Detection -> action: from the primary region becoming unreachable to the
failover call arriving at the AWS endpoint.

Each run: the adopted GlobalDatabase is Ready with its writer in us-east-1,
healthy write probes and a measured replication lag; then the emulator's
outage on us-east-1 starts (RDS answers 503, the region's PostgreSQL servers
are frozen with SIGSTOP so probes hang until their timeout). t0 is the
moment the outage request was sent (its answer comes once the servers are
frozen; both are printed). The action is the first FailoverGlobalCluster
(--method Managed) or RemoveFromGlobalCluster (DetachAndPromote) call in the
emulator's call log after t0; the latency is its arrival time - t0. Then the
outage ends and, before the next run, the benchmark waits for the
controller's fallback to bring the writer home (a switchover back, since the
spec still names us-east-1). The emulator runs in fast mode (zero transition delays).

The target is the later of the detection window (threshold x period + timeout)
and the secondaries' silence (10 s without hearing the primary, seen at the
next read probe: 10 + period), plus 1 s.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import EAST, WEST, percentile, wait_for  # noqa: E402

ACTION = {"Managed": "FailoverGlobalCluster", "DetachAndPromote": "RemoveFromGlobalCluster"}
# A secondary must not have heard the primary for this long (GDB_PRIMARY_SILENT_MS).
SILENT_S = 10


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="1 run (CI)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument(
        "--budget",
        type=float,
        default=0,
        help="stop starting new runs after this many seconds (0: no limit)",
    )
    ap.add_argument("--period", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1)
    ap.add_argument("--threshold", type=int, default=3)
    ap.add_argument("--method", choices=sorted(ACTION), default="Managed")
    ap.add_argument("--json", help="write the raw samples here")
    a = ap.parse_args()
    if a.smoke:
        a.runs = 1

    b = harness.Bench()
    samples = []
    stuck = None
    try:
        b.start_emulator()
        w = b.make_world()
        w.kubectl.apply(
            w.gdb_manifest(
                healthCheck={
                    "periodSeconds": a.period,
                    "timeoutSeconds": a.timeout,
                    "failureThreshold": a.threshold,
                },
                failover={"method": a.method, "cooldownSeconds": 0},
            )
        )
        b.start_controller()
        b.controller.wait_ready()
        load0 = harness.load_avg()
        t_begin = time.monotonic()
        action = ACTION[a.method]
        for i in range(a.runs):
            if a.budget and time.monotonic() - t_begin > a.budget:
                break
            w.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=300)
            w.wait_condition("PrimaryHealthy", "True", timeout=120)
            wait_for(
                lambda: (
                    next(r for r in w.status()["regions"] if r["name"] == WEST).get(
                        "replicationLagSeconds"
                    )
                    is not None
                ),
                timeout=60,
                what="a measured replication lag for us-west-2",
            )
            since = b.last_seq()
            t0 = time.time()
            b.admin.outage(EAST, "5xx", pg="freeze", services=["rds"])
            t0b = time.time()
            calls = wait_for(
                lambda: b.admin.calls(action=action, since=since),
                timeout=120,
                interval=0.05,
                what=action,
            )
            lat = calls[0]["time"] - t0
            samples.append(
                {
                    "run": i + 1,
                    "outage_sent": t0,
                    "outage_answered": t0b,
                    "action_call": calls[0]["time"],
                    "latency": lat,
                }
            )
            print(
                f"run {i + 1:2d}: {action} arrived {lat:6.3f} s after the outage began "
                f"(outage request took {1000 * (t0b - t0):.0f} ms)",
                flush=True,
            )

            def failed_over():
                s = w.status()
                last = s.get("lastOperation") or {}
                assert last.get("type") == "Failover" and last.get("result"), last
                return last

            last = wait_for(failed_over, timeout=120, interval=0.3, what="the failover to end")
            assert last["result"] == "Succeeded", last
            b.admin.outage(EAST, "off")
            if i + 1 == a.runs:
                break  # no next run to bring the writer home for

            def home():
                s = w.status()
                last = s.get("lastOperation") or {}
                assert s.get("currentPrimaryRegion") == EAST, s.get("currentPrimaryRegion")
                assert last.get("type") == "Switchover" and last.get("result") == "Succeeded", last
                return s

            try:
                wait_for(home, timeout=300, interval=0.5, what="the writer back in us-east-1")
            except AssertionError as e:
                # Keep the runs measured so far, and the evidence of what held the fallback.
                stuck = f"run {i + 1}: the recovery did not finish: {e}"
                st = w.status()
                print(
                    f"\n{stuck}\nstatus.operation: {json.dumps(st.get('operation'))}\n"
                    f"conditions: {json.dumps(st.get('conditions'))}\n"
                    "global clusters: "
                    + json.dumps(
                        w.rds[WEST].describe_global_clusters()["GlobalClusters"], default=str
                    )
                    + "\n"
                    f"emulator errors: {b.admin.errors()}\n"
                    "controller log (tail):\n" + b.controller.log_text()[-8000:],
                    flush=True,
                )
                break

        n = len(samples)
        assert n > 0, "no run finished"
        lats = [s["latency"] for s in samples]
        bound = max(a.threshold * a.period + a.timeout, SILENT_S + a.period) + 1
        print(
            f"\n{n} runs in {time.monotonic() - t_begin:.0f} s; period {a.period} s, "
            f"timeout {a.timeout} s, failureThreshold {a.threshold}, method {a.method}; "
            f"load average before: {load0}, after: {harness.load_avg()}"
        )
        print(
            f"detection -> {action}: p50 {percentile(lats, 50):.2f} s, "
            f"p95 {percentile(lats, 95):.2f} s, min {min(lats):.2f} s, max {max(lats):.2f} s "
            f"(target: <= max(threshold x period + timeout, {SILENT_S} + period) + 1 = {bound} s)"
        )
        if a.json:
            with open(a.json, "w") as f:
                json.dump(samples, f, indent=1)
        errors = b.admin.errors()
        assert errors == [], f"emulator background errors: {errors}"
        assert stuck is None, stuck
    finally:
        b.close()


if __name__ == "__main__":
    main()
