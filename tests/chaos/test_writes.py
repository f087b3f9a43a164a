"""Continuous writes during 20 planned switchovers: 0 committed rows lost.

An application-like writer thread inserts rows without pause (a 20 ms think
time), each in its own committed transaction and with its own sequence number,
always into the current writer, and records every row whose COMMIT was
acknowledged. It follows the writer the way an application without a fixed
address would: it keeps its connection while writes succeed; after any error
it reconnects to the writer RDS names (DescribeGlobalClusters: the member with
IsWriter, then that cluster's Endpoint/Port from DescribeDBClusters). The
world does configure the Route 53 CNAME the controller maintains, but every
emulated cluster's Endpoint is `localhost` and only the port tells the
regions apart, so the CNAME cannot lead a client to the writer here.

Meanwhile the test moves the writer back and forth with `kubectl patch
spec.primaryRegion`, each time waiting for status.lastOperation to be a
Succeeded Switchover to that region and for the writer thread to have
committed on the new writer. At the end every acknowledged row must be on the
final writer, and on the secondary and both readers once they caught up. From
the call log: exactly one accepted SwitchoverGlobalCluster per switchover, and
no failover or detach at all.

Printed: rows acknowledged, failed attempts, per-switchover duration and
write-unavailability window (the longest gap between two acknowledged commits
that overlaps the switchover), with p50 and max.

CI and the full sweep both run all 20 switchovers (about 3 minutes here).
The full sweep (GDB_CHAOS_FULL=1) adds a second test: the owner changes their
mind, flipping spec.primaryRegion to us-west-2 and back after 0 to 4 s, eight
times under the same writer; the writer must end in us-east-1 with every
acknowledged row, and no operation may have issued its switchover twice.
"""

import json
import statistics
import threading
import time

import psycopg

from conftest import EAST, WEST, cut_connection, full_sweep, wait_for
from e2e_conftest import aws_client

SWITCHOVERS = 20
CLUSTER = {EAST: "orders-east", WEST: "orders-west"}


class AppWriter(threading.Thread):
    """Writes rows to whichever cluster RDS names as the writer."""

    def __init__(self, admin, password):
        super().__init__(daemon=True, name="app-writer")
        self.rds = {r: aws_client(admin, "rds", r) for r in (EAST, WEST)}
        self.password = password
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.next_seq = 1
        self.acked = []  # (seq, monotonic time of the acknowledged COMMIT, region)
        self.failed = 0  # attempts that raised: connect, insert or discovery
        self.reconnects = 0

    def find_writer(self):
        g = self.rds[WEST].describe_global_clusters(GlobalClusterIdentifier="orders-global")[
            "GlobalClusters"
        ][0]
        arn = next(m["DBClusterArn"] for m in g["GlobalClusterMembers"] if m["IsWriter"])
        region, cid = arn.split(":")[3], arn.split(":")[-1]
        c = self.rds[region].describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"][0]
        return region, c["Port"]

    def run(self):
        conn, region = None, None
        while not self.stop.is_set():
            try:
                if conn is None:
                    region, port = self.find_writer()
                    conn = psycopg.connect(
                        host="127.0.0.1",
                        port=port,
                        user="postgres",
                        password=self.password,
                        dbname="postgres",
                        autocommit=True,
                        connect_timeout=3,
                    )
                    conn.execute("SET statement_timeout = 3000")
                    with self.lock:
                        self.reconnects += 1
                seq = self.next_seq
                self.next_seq += 1
                # A server that stops answering leaves the socket open: cut it
                # after 4 s, as a client-side timeout would.
                cut = threading.Timer(4, cut_connection, (conn,))
                cut.start()
                try:
                    conn.execute(
                        "INSERT INTO chaos_writes (seq, region) VALUES (%s, %s)", (seq, region)
                    )
                finally:
                    cut.cancel()
                with self.lock:
                    self.acked.append((seq, time.monotonic(), region))
            except Exception:
                with self.lock:
                    self.failed += 1
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = None
                self.stop.wait(0.05)
                continue
            self.stop.wait(0.02)
        if conn is not None:
            conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.acked), self.failed

    def acked_in(self, region, after):
        with self.lock:
            return any(t > after and r == region for _, t, r in self.acked)


def longest_gap(ack_times, start, end):
    """The longest gap between consecutive acks that overlaps [start, end]."""
    before = [t for t in ack_times if t <= start]
    inside = [t for t in ack_times if start < t <= end]
    after = [t for t in ack_times if t > end]
    seq = before[-1:] + inside + after[:1]
    gaps = [b - a for a, b in zip(seq, seq[1:])]
    return max(gaps) if gaps else end - start


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def adopt_and_create_table(world, kubectl):
    kubectl.apply(world.gdb_manifest())
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    with world.connect(EAST, CLUSTER[EAST]) as conn:
        conn.execute(
            "CREATE TABLE chaos_writes (seq bigint PRIMARY KEY, region text NOT NULL, "
            "committed timestamptz NOT NULL DEFAULT clock_timestamp())"
        )


def patch_primary(world, kubectl, region):
    kubectl(
        "-n",
        world.ns,
        "patch",
        "globaldatabase",
        "orders",
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"primaryRegion": region}}),
    )


MOVES = ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster")


def test_no_acked_row_lost_over_switchovers(world, emulator, kubectl, controller):
    adopt_and_create_table(world, kubectl)
    seq0 = max(c["seq"] for c in emulator.calls())

    app = AppWriter(emulator, world.password)
    app.start()
    t_begin = time.monotonic()
    rows = []
    try:
        wait_for(lambda: len(app.snapshot()[0]) >= 50, timeout=30, what="the writer to write")
        for i in range(SWITCHOVERS):
            target = WEST if i % 2 == 0 else EAST
            t0 = time.monotonic()
            patch_primary(world, kubectl, target)

            def switched():
                st = world.status()
                last = st.get("lastOperation") or {}
                assert (last.get("type"), last.get("targetRegion")) == ("Switchover", target), last
                assert last.get("result") == "Succeeded", last
                assert st.get("currentPrimaryRegion") == target, st
                return last

            wait_for(switched, timeout=120, interval=0.25, what=f"switchover {i + 1} to {target}")
            t_done = time.monotonic()
            wait_for(
                lambda: app.acked_in(target, t_done),
                timeout=60,
                what=f"a write acknowledged by the new writer in {target}",
            )
            t_writing = time.monotonic()
            calls = emulator.calls(since=seq0)
            seq0 = max([seq0] + [c["seq"] for c in calls])
            moves = [c for c in calls if c["action"] in MOVES]
            accepted = [c for c in moves if c["status"] == 200]
            assert [(c["action"], c["region"]) for c in accepted] == [
                ("SwitchoverGlobalCluster", WEST if target == EAST else EAST)
            ], moves
            rows.append(
                {
                    "n": i + 1,
                    "target": target,
                    "seconds": t_done - t0,
                    "calls_rejected": len(moves) - len(accepted),
                    "start": t0,
                    "end": t_writing,
                }
            )
    finally:
        app.stop.set()
        app.join(timeout=30)
    total = time.monotonic() - t_begin
    acked, failed = app.snapshot()
    times = [t for _, t, _ in acked]
    for i, r in enumerate(rows):
        r["gap"] = longest_gap(times, r["start"], r["end"])
        # Never two writers: once the new writer acknowledged a row, the old one
        # acknowledges none until the next switchover starts.
        until = rows[i + 1]["start"] if i + 1 < len(rows) else float("inf")
        first_new = min(t for _, t, reg in acked if reg == r["target"] and t > r["start"])
        late = [s for s, t, reg in acked if reg != r["target"] and first_new < t < until]
        assert not late, (
            f"switchover {r['n']}: the old writer acknowledged {late[:10]} "
            "after the new one took writes"
        )

    final = EAST if SWITCHOVERS % 2 == 0 else WEST
    assert world.status()["currentPrimaryRegion"] == final
    assert world.writer_region("orders-global") == final
    acked_seqs = {s for s, _, _ in acked}

    def present(server):
        return {r[0] for r in server.sql("SELECT seq FROM chaos_writes")}

    with world.connect(final, CLUSTER[final]) as conn:
        on_writer = {r[0] for r in conn.execute("SELECT seq FROM chaos_writes")}
    lost = sorted(acked_seqs - on_writer)
    unacked_present = len(on_writer - acked_seqs)

    print(
        f"\n{'#':>3} {'to':<10} {'switchover s':>12} {'unavailable s':>13} {'rejected calls':>14}"
    )
    for r in rows:
        print(
            f"{r['n']:>3} {r['target']:<10} {r['seconds']:>12.1f} {r['gap']:>13.2f} "
            f"{r['calls_rejected']:>14}"
        )
    gaps = [r["gap"] for r in rows]
    durs = [r["seconds"] for r in rows]
    print(
        f"switchovers: {len(rows)} in {total:.0f}s; duration p50 {statistics.median(durs):.1f}s "
        f"max {max(durs):.1f}s; write unavailability p50 {pct(gaps, 0.5):.2f}s "
        f"p90 {pct(gaps, 0.9):.2f}s max {max(gaps):.2f}s"
    )
    print(
        f"rows acknowledged {len(acked)}, failed attempts {failed}, reconnects {app.reconnects}, "
        f"committed but unacknowledged {unacked_present}, lost {len(lost)}"
    )
    assert len(rows) == SWITCHOVERS
    assert not lost, f"{len(lost)} acknowledged rows are missing on the writer: {lost[:20]}"

    # The secondary and both readers hold them too once they caught up.
    for name in ("east-w", "east-r", "west-w", "west-r"):
        srv = world.servers[name]
        wait_for(
            lambda: acked_seqs <= present(srv),
            timeout=60,
            interval=0.5,
            what=f"every acknowledged row on {name}",
        )


if full_sweep():

    def test_no_acked_row_lost_when_the_intent_flips(world, emulator, kubectl, controller):
        adopt_and_create_table(world, kubectl)
        seq0 = max(c["seq"] for c in emulator.calls())
        app = AppWriter(emulator, world.password)
        app.start()
        try:
            wait_for(lambda: len(app.snapshot()[0]) >= 50, timeout=30, what="the writer to write")
            for i, delay in enumerate((0, 0.2, 0.5, 1, 1.5, 2, 3, 4)):
                patch_primary(world, kubectl, WEST)
                time.sleep(delay)  # how long the owner took to change their mind
                patch_primary(world, kubectl, EAST)

                def settled():
                    st = world.status()
                    assert not st.get("operation"), st.get("operation")
                    assert st.get("currentPrimaryRegion") == EAST, st
                    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
                    assert ready["status"] == "True", ready
                    return st

                st = wait_for(
                    settled, timeout=180, interval=0.5, what=f"flip {i + 1} to settle in {EAST}"
                )
                calls = emulator.calls(since=seq0)
                seq0 = max([seq0] + [c["seq"] for c in calls])
                moves = [c for c in calls if c["action"] in MOVES and c["status"] == 200]
                # Either nothing moved (cancelled before the call) or there and back:
                # one accepted call per operation, never two to the same target.
                regions = [(c["action"], c["region"]) for c in moves]
                assert regions in (
                    [],
                    [("SwitchoverGlobalCluster", EAST), ("SwitchoverGlobalCluster", WEST)],
                ), moves
                last = st.get("lastOperation") or {}
                print(
                    f"flip {i + 1} after {delay}s: {len(moves)} switchover call(s), "
                    f"last operation {last.get('type')} to {last.get('targetRegion')} "
                    f"{last.get('result')}"
                )
        finally:
            app.stop.set()
            app.join(timeout=30)
        acked, failed = app.snapshot()
        assert world.writer_region("orders-global") == EAST
        with world.connect(EAST, CLUSTER[EAST]) as conn:
            on_writer = {r[0] for r in conn.execute("SELECT seq FROM chaos_writes")}
        lost = sorted({s for s, _, _ in acked} - on_writer)
        print(
            f"intent flips: rows acknowledged {len(acked)}, failed attempts {failed}, "
            f"lost {len(lost)}"
        )
        assert not lost, f"{len(lost)} acknowledged rows are missing: {lost[:20]}"
