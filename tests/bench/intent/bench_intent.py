#!/usr/bin/env python3
"""Intent latency and chain latency over N planned switchovers ("flips").

Each flip patches spec.primaryRegion of an adopted GlobalDatabase (to the
region that is not the writer) with the merge patch `kubectl patch --type
merge` sends, on a kept-alive admin connection to kube-apiserver (kubectl's
own start-up, about 100 ms here, would otherwise dominate), and reads from the
emulator's call log when SwitchoverGlobalCluster arrived:
  - intent latency = call arrival - PATCH response received (the object is
    stored by then; the controller's watch may see it a little before the
    response reaches us, so a sample can be slightly negative), and
    call arrival - PATCH request sent (an upper bound);
and for the same operation the chain that follows the writer moving:
  - writer observed: the controller's WriterMoved Event (its eventTime, or
    series.lastObservedTime once the Event repeats; µs resolution),
  - Route 53 change sent: the first ChangeResourceRecordSets arrival after it,
  - last workload restarted: the arrival of the Deployment's pod-template
    change on a `kubectl get -w` of the Deployment (an upper bound by the
    watch delivery; restartedAt itself is the operation's stamp, not the
    moment of the restart).
A flip starts only after the previous switchover finished and the resource
is Ready again (the emulator runs in fast mode: zero transition delays).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import EAST, WEST, percentile, wait_for  # noqa: E402


def events_since(w, reason, t_min, note=None):
    """Times of the reason's Events at or after t_min - 1 s; with note, only
    those whose note contains it (so that an Event of the flip before, which
    names the other region, is never taken for this flip's)."""
    out = []
    for e in w.events():
        if e["reason"] != reason or (note and note not in (e.get("note") or "")):
            continue
        t = harness.parse_time(
            (e.get("series") or {}).get("lastObservedTime")
            or e.get("eventTime")
            or e["metadata"]["creationTimestamp"]
        )
        if t >= t_min - 1:
            out.append(t)
    return sorted(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="2 flips (CI)")
    ap.add_argument("--flips", type=int, default=100)
    ap.add_argument(
        "--budget",
        type=float,
        default=0,
        help="stop starting new flips after this many seconds (0: no limit)",
    )
    ap.add_argument("--json", help="write the raw samples here")
    a = ap.parse_args()
    if a.smoke:
        a.flips = 2

    b = harness.Bench()
    samples = []
    watch = None
    try:
        b.start_emulator()
        w = b.make_world()
        w.kubectl.apply(w.gdb_manifest())
        b.start_controller()
        b.controller.wait_ready()
        w.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        w.wait_condition("PrimaryHealthy", "True", timeout=60)
        api = harness.Api(b.testenv)
        path = f"/apis/globaldb.io/v1alpha1/namespaces/{w.ns}/globaldatabases/orders"
        watch = harness.Watch(
            b.testenv["kubectl"],
            b.testenv["kubeconfig"],
            "-n",
            w.ns,
            "deployment",
            "orders-api",
            "-o",
            'jsonpath={.metadata.generation}{"\\n"}',
        )
        load0 = harness.load_avg()
        t_begin = time.monotonic()
        current = EAST
        for i in range(a.flips):
            if a.budget and time.monotonic() - t_begin > a.budget:
                break
            target = WEST if current == EAST else EAST
            since = b.last_seq()
            t0, t1 = api.merge_patch(path, {"spec": {"primaryRegion": target}})
            sw = wait_for(
                lambda: [c for c in b.admin.calls(action="SwitchoverGlobalCluster", since=since)],
                timeout=60,
                interval=0.05,
                what="SwitchoverGlobalCluster",
            )
            t_call = sw[0]["time"]

            def done():
                s = w.status()
                last = s.get("lastOperation") or {}
                assert s.get("currentPrimaryRegion") == target, s.get("currentPrimaryRegion")
                assert last.get("type") == "Switchover" and last.get("result") == "Succeeded", last
                cnd = [c for c in s.get("conditions", []) if c["type"] == "Ready"]
                assert cnd and cnd[0]["status"] == "True", cnd
                return s

            wait_for(done, timeout=120, interval=0.2, what=f"flip {i + 1} to finish")
            # The next switchover needs every member connected again.
            wait_for(
                lambda: (
                    w.sync_status(
                        "orders-global",
                        current,
                        "orders-east" if current == EAST else "orders-west",
                    )
                    == "connected"
                ),
                timeout=60,
                what="the old primary to be connected",
            )
            calls = b.admin.calls(since=since)
            moved = events_since(w, "WriterMoved", t0, note=f"the writer is in {target}")
            restarting = events_since(w, "RestartingWorkloads", t0)
            dns = [c["time"] for c in calls if c["action"] == "ChangeResourceRecordSets"]
            gens = [t for t, line in watch.lines if t >= t0]
            s = {
                "flip": i + 1,
                "to": target,
                "patch_sent": t0,
                "patch_answered": t1,
                "switchover_call": t_call,
                "failed_calls": len([c for c in calls if c["error"]]),
            }
            if moved and dns:
                s["writer_moved_event"] = moved[-1]
                s["dns_change_call"] = (
                    min(d for d in dns if d >= moved[-1] - 0.001)
                    if any(d >= moved[-1] - 0.001 for d in dns)
                    else None
                )
            if restarting:
                s["restarting_event"] = restarting[-1]
            if gens:
                s["deployment_changed"] = gens[-1]
            samples.append(s)
            current = target
            print(
                f"flip {i + 1:3d} -> {target}: patch->call "
                f"{1000 * (t_call - t0):7.1f} ms from PATCH sent, "
                f"{1000 * (t_call - t1):7.1f} ms from PATCH answered",
                flush=True,
            )

        n = len(samples)
        assert n > 0, "no flip finished"
        lat0 = [1000 * (s["switchover_call"] - s["patch_sent"]) for s in samples]
        lat1 = [1000 * (s["switchover_call"] - s["patch_answered"]) for s in samples]
        print(
            f"\n{n} flips in {time.monotonic() - t_begin:.0f} s; load average before: {load0}, "
            f"after: {harness.load_avg()}"
        )
        print(
            f"intent latency from PATCH sent: p50 {percentile(lat0, 50):.1f} ms, "
            f"p99 {percentile(lat0, 99):.1f} ms, max {max(lat0):.1f} ms"
        )
        print(
            f"intent latency from PATCH answered: p50 {percentile(lat1, 50):.1f} ms, "
            f"p99 {percentile(lat1, 99):.1f} ms, max {max(lat1):.1f} ms"
        )
        missing = [s["flip"] for s in samples if not s.get("writer_moved_event")]
        if missing:
            # The controller's Event spam filter (a burst, then one Event per
            # 2 s per object) drops some when flips come faster than that.
            print(
                f"no WriterMoved Event for {len(missing)} flips (dropped by the spam "
                f"filter): {missing}"
            )
        chain_dns = [
            1000 * (s["dns_change_call"] - s["writer_moved_event"])
            for s in samples
            if s.get("dns_change_call") and s.get("writer_moved_event")
        ]
        chain_rs = [
            1000 * (s["restarting_event"] - s["writer_moved_event"])
            for s in samples
            if s.get("restarting_event") and s.get("writer_moved_event")
        ]
        if chain_dns:
            print(
                f"chain: WriterMoved event -> ChangeResourceRecordSets arrives "
                f"({len(chain_dns)}): p50 {percentile(chain_dns, 50):.1f} ms, "
                f"p99 {percentile(chain_dns, 99):.1f} ms, max {max(chain_dns):.1f} ms"
            )
        if chain_rs:
            print(
                f"chain: WriterMoved event -> RestartingWorkloads event "
                f"({len(chain_rs)}): p50 {percentile(chain_rs, 50):.1f} ms, "
                f"p99 {percentile(chain_rs, 99):.1f} ms, max {max(chain_rs):.1f} ms"
            )
        rs = [
            1000 * (s["deployment_changed"] - s["writer_moved_event"])
            for s in samples
            if s.get("deployment_changed") and s.get("writer_moved_event")
        ]
        if rs:
            print(
                f"chain: WriterMoved event -> Deployment restarted (watch) "
                f"({len(rs)}): p50 {percentile(rs, 50):.1f} ms, "
                f"p99 {percentile(rs, 99):.1f} ms, max {max(rs):.1f} ms"
            )
        if a.json:
            with open(a.json, "w") as f:
                json.dump(samples, f, indent=1)
    finally:
        if watch is not None:
            watch.close()
        b.close()


if __name__ == "__main__":
    main()
