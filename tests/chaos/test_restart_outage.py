"""An unplanned failover that a controller restart cannot stop, and a
data-loss window that is never smaller than the writes actually lost.

The primary region goes dark the way a regional outage looks from outside:
its RDS API answers 503 and its PostgreSQL is frozen (SIGSTOP: connections
hang, nothing is refused). Meanwhile an application-like thread commits rows
into the writer without pause and records, for each acknowledged COMMIT, its
sequence number and when the acknowledgement arrived.

- `restart`: the controller is SIGKILLed inside the detection window (after it
  recorded the first failed write probe, before it decided anything) and a new
  one takes the Lease.
- `restart-at-outage`: killed the moment the outage begins, before it could
  record anything: the successor's own first failed probe is all it has, and
  the bound includes the restart. Nothing it needs comes from the dark region: it probes
  the writer at the endpoint the status recorded and bounds the lag from the
  heartbeat evidence (its predecessor's writerFailingSince, the heartbeat row
  on the secondary). It must decide within a bound computed from the probe
  settings, not a fixed sleep: Lease takeover + failureThreshold+2 periods +
  one timeout + 15 s for a process start on a loaded machine.
- `steady`: the same outage without the kill.

Both then check what the user is told about the loss: lastOperation's
dataLossWindowSeconds (and the DataLossWindow Event) must be at least the
window measured from the rows: newest acknowledged-but-lost write's
acknowledgement time minus the newest surviving write's, and never 0 — the
writer may always have acknowledged something after the last heartbeat.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from conftest import EAST, WEST, cut_connection, wait_for
from killlib import Fleet, StatusWatch, assert_no_duplicate_mutations, print_log_tails
from waiting import region_row, wait_lag_measured

PERIOD, TIMEOUT, THRESHOLD = 2, 1, 5
LEASE = 3  # FAST_LEASE's lease duration
DECIDE_BOUND = LEASE + (THRESHOLD + 2) * PERIOD + TIMEOUT + 15


class LossWriter(threading.Thread):
    """Commits one row at a time into the writer's cluster endpoint and
    records (seq, acknowledgement time) for every COMMIT that returned."""

    def __init__(self, port, password):
        super().__init__(daemon=True, name="loss-writer")
        self.port, self.password = port, password
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}  # seq -> time.time() when the COMMIT was acknowledged
        self.failed = 0

    def run(self):
        conn, seq = None, 0
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(
                        host="127.0.0.1",
                        port=self.port,
                        user="postgres",
                        password=self.password,
                        dbname="postgres",
                        autocommit=True,
                        connect_timeout=2,
                    )
                seq += 1
                # A frozen server leaves the socket open: cut it, as a client timeout would.
                cut = threading.Timer(2, cut_connection, (conn,))
                cut.start()
                try:
                    conn.execute("INSERT INTO loss_writes (seq) VALUES (%s)", (seq,))
                finally:
                    cut.cancel()
                with self.lock:
                    self.acked[seq] = time.time()
            except Exception:
                with self.lock:
                    self.failed += 1
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = None
                self.stop.wait(0.2)
                continue
            self.stop.wait(0.01)

    def snapshot(self):
        with self.lock:
            return dict(self.acked)


def measured_loss(acked, surviving):
    """(lost seqs, newest lost ack - newest surviving ack in seconds)."""
    lost = sorted(s for s in acked if s not in surviving)
    kept = [acked[s] for s in acked if s in surviving]
    if not lost:
        return lost, 0.0
    newest_lost = max(acked[s] for s in lost)
    newest_kept = max(kept) if kept else min(acked.values())
    return lost, newest_lost - newest_kept


@pytest.mark.parametrize("case", ["restart", "restart-at-outage", "steady"])
def test_unplanned_failover_with_an_honest_loss_window(
    case, world, emulator, kubectl, testenv, controller_bin, tmp_path
):
    fleet = Fleet(controller_bin, testenv, emulator, world.ns, str(tmp_path))
    watch = StatusWatch(testenv, world.ns)
    watch.start()
    writer = None
    passed = False
    try:
        first = fleet.start()
        kubectl.apply(
            world.gdb_manifest(
                healthCheck={
                    "periodSeconds": PERIOD,
                    "timeoutSeconds": TIMEOUT,
                    "failureThreshold": THRESHOLD,
                },
                failover={"method": "DetachAndPromote"},
            )
        )
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        with world.connect(EAST, "orders-east") as conn:
            conn.execute("CREATE TABLE loss_writes (seq bigint PRIMARY KEY)")
        wait_lag_measured(world, WEST)
        writer = LossWriter(world.cluster(EAST, "orders-east")["Port"], world.password)
        writer.start()
        wait_for(lambda: len(writer.snapshot()) >= 50, timeout=30, what="50 acknowledged writes")
        since = max(c["seq"] for c in emulator.calls())

        emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
        t_outage = time.monotonic()
        if case.startswith("restart"):
            # Kill once the controller recorded a failed write probe, and in any
            # case (THRESHOLD - 2) periods into the outage: the decision needs
            # THRESHOLD failures, the last ending no earlier than
            # (THRESHOLD - 1) periods + one timeout after the outage began.
            latest = t_outage + (THRESHOLD - 2) * PERIOD
            if case == "restart":
                wait_for(
                    lambda: (
                        region_row(watch.status, EAST).get("consecutiveFailures", 0) >= 1
                        or time.monotonic() >= latest
                    ),
                    timeout=30,
                    interval=0.05,
                    what="a recorded failure",
                )
            Fleet.kill(first)
            st = world.status()
            print(
                f"killed {time.monotonic() - t_outage:.1f}s into the outage, "
                f"east row {region_row(st, EAST)}"
            )
            assert not (st.get("operation") or {}).get("type"), (
                f"the controller decided before the kill; scenario not reached: {st['operation']}"
            )
            t_start = time.monotonic()
            fleet.start(wait_ready=False)

            def decided():
                s = world.status()
                return "Failover" in (
                    (s.get("operation") or {}).get("type"),
                    (s.get("lastOperation") or {}).get("type"),
                )

            wait_for(
                decided,
                timeout=DECIDE_BOUND,
                interval=0.2,
                what=f"the restarted controller to decide a failover (bound {DECIDE_BOUND}s)",
            )
            print(f"decided {time.monotonic() - t_start:.1f}s after the restart")

        def finished():
            last = watch.last_operation("Failover")
            assert last, f"no finished failover yet (operation at {watch.current_step()})"
            return last

        last = wait_for(finished, timeout=180, interval=0.2, what="the failover to finish")
        print(f"failover finished {time.monotonic() - t_outage:.1f}s after the outage began")
        writer.stop.set()
        writer.join(timeout=10)
        assert last["result"] == "Succeeded", last
        assert last["sourceRegion"] == EAST and last["targetRegion"] == WEST, last
        assert world.status()["currentPrimaryRegion"] == WEST
        calls = [c for c in emulator.calls() if c["seq"] > since]
        detaches = [
            c
            for c in calls
            if c["action"] == "RemoveFromGlobalCluster" and 200 <= (c["status"] or 0) < 300
        ]
        assert [c["region"] for c in detaches] == [WEST], detaches
        assert_no_duplicate_mutations(calls)

        # -- the data-loss window against the rows actually lost --------------
        acked = writer.snapshot()
        with world.connect(WEST, "orders-west") as conn:
            surviving = {r[0] for r in conn.execute("SELECT seq FROM loss_writes")}
        lost, loss_s = measured_loss(acked, surviving)
        window = last.get("dataLossWindowSeconds")
        print(
            f"{len(acked)} writes acknowledged, {len(lost)} lost {lost[:10]}; "
            f"measured loss window {loss_s:.3f}s, reported {window}s"
        )
        assert window is not None and window >= 1, last
        assert window >= loss_s, (window, loss_s, lost)
        events = [e for e in world.events() if e["reason"] == "DataLossWindow"]
        assert any(f"last {window}s" in e.get("note", "") for e in events), events
        passed = True
    finally:
        if writer is not None:
            writer.stop.set()
        watch.close()
        rcs, leaks = fleet.close(world)
        if not passed:
            print(f"watch: {watch.describe()}")
            print_log_tails(fleet)
    assert not leaks, f"a controller log contains a secret: {leaks}"
    assert all(rc == 0 for rc in rcs.values()), f"exit codes after SIGTERM: {rcs}"
