"""The prober against real PostgreSQL 15: a stopped server, a frozen one
(SIGSTOP: it accepts and never answers), replication lag on a standby whose
replay is paused, read-only and authentication failures, TLS."""

from __future__ import annotations

import os
import time

import pytest

import pgenv
from conftest import now_ms, target_words
from tlscerts import enable_tls, make_ca, make_server_cert

PERIOD, TIMEOUT, FAIL, SUCC = 1000, 1000, 3, 2
DETECT_MS = FAIL * PERIOD + TIMEOUT + 1000
RECOVER_MS = SUCC * PERIOD + TIMEOUT + 1000


@pytest.fixture(scope="module")
def primary(pgroot):
    srv = pgenv.init_primary(pgroot, "primary")
    yield srv
    srv.destroy()


@pytest.fixture(scope="module")
def standby(pgroot, primary):
    srv = pgenv.make_standby(primary, pgroot, "standby")
    yield srv
    srv.destroy()


def test_a_stopped_server_is_detected_and_so_is_its_return(primary, driver):
    d = driver()
    d.set(**target_words(primary, "w"))
    d.set(**target_words(primary, "r", kind="reader"))
    d.wait_event("w", "healthy")
    d.wait_event("r", "healthy")

    primary.stop("fast")
    t0 = now_ms()
    try:
        for name in ("w", "r"):
            ev = d.wait_event(name, "unhealthy", after_ms=t0, timeout=DETECT_MS / 1000 + 5)
            print(f"{name}: unhealthy after {ev['mono_ms'] - t0} ms (bound {DETECT_MS})")
            assert ev["mono_ms"] - t0 <= DETECT_MS, (name, ev["mono_ms"] - t0)
            assert ev["reason"] == "connect", ev
    finally:
        primary.start()
    t1 = now_ms()
    for name in ("w", "r"):
        ev = d.wait_event(name, "healthy", after_ms=t1, timeout=RECOVER_MS / 1000 + 5)
        print(f"{name}: healthy again after {ev['mono_ms'] - t1} ms (bound {RECOVER_MS})")
        assert ev["mono_ms"] - t1 <= RECOVER_MS, (name, ev["mono_ms"] - t1)
    # One notification per change, no more: healthy, unhealthy, healthy.
    health = [e["health"] for e in d.events if e["name"] == "w" and int(e["changes"]) & 1]
    assert health == ["healthy", "unhealthy", "healthy"], health
    v = d.get("w")
    assert v["fails"] == 0 and v["succs"] >= SUCC
    assert v["reason"] == "connect"  # the last failure's class is kept after recovery


def test_a_frozen_server_times_out_within_the_deadline(primary, driver):
    d = driver()
    d.set(**target_words(primary, "w"))
    d.set(**target_words(primary, "r", kind="reader"))
    d.wait_event("w", "healthy")
    d.wait_event("r", "healthy")

    primary.freeze()
    t0 = now_ms()
    try:
        for name in ("w", "r"):
            ev = d.wait_event(name, "unhealthy", after_ms=t0, timeout=DETECT_MS / 1000 + 5)
            print(f"{name}: unhealthy after {ev['mono_ms'] - t0} ms (bound {DETECT_MS})")
            assert ev["mono_ms"] - t0 <= DETECT_MS, (name, ev["mono_ms"] - t0)
            assert ev["reason"] == "timeout", ev
        # No probe outlived its deadline while the server hung.
        for name in ("w", "r"):
            v = d.get(name)
            assert v["duration_ms"] <= TIMEOUT + 100, v
        # The evidence a data-loss bound is made of: the writer's last
        # acknowledged heartbeat, and when its failures began (after it, and
        # no later than the failed probe's deadline).
        v = d.get("w")
        assert 0 < v["written_ms"] < v["failing_since_ms"], v
        assert v["failing_since_ms"] - v["written_ms"] <= PERIOD + TIMEOUT + 1000, v
    finally:
        primary.thaw()
    t1 = now_ms()
    for name in ("w", "r"):
        ev = d.wait_event(name, "healthy", after_ms=t1, timeout=RECOVER_MS / 1000 + 5)
        print(f"{name}: healthy again after {ev['mono_ms'] - t1} ms (bound {RECOVER_MS})")
        assert ev["mono_ms"] - t1 <= RECOVER_MS, (name, ev["mono_ms"] - t1)


def test_lag_grows_while_replay_is_paused_and_returns_to_zero(primary, standby, driver):
    d = driver()
    d.set(**target_words(primary, "lag-w", period=500, timeout=500, hbid="lagtest"))
    d.set(
        **target_words(
            standby,
            "lag-r",
            kind="reader",
            period=500,
            timeout=500,
            hbid="lagtest",
            lag_source="lag-w",
            ns="shop",
            db_name="orders",
            region="us-west-2",
        )
    )
    d.wait_verdict("lag-r", lambda v: 0 <= v["lag_ms"] < 1000, timeout=20)

    standby.sql("SELECT pg_wal_replay_pause()")
    t0 = now_ms()
    try:
        # Sample the lag for 4 s: it follows the time since the pause, give or
        # take the two probe periods and the write that was in flight.
        samples = []
        while now_ms() - t0 < 4000:
            v = d.get("lag-r")
            samples.append((now_ms() - t0, v["lag_ms"]))
            time.sleep(0.25)
        for since, lag in samples:
            if since >= 1500:
                assert since - 1500 <= lag <= since + 600, samples
        print(f"lag samples (ms since pause, lag ms): {samples}")
        assert samples[-1][1] >= 2500, samples
        # The writer keeps writing: its seq is ahead of what the standby shows,
        # and so is the time its newest acknowledged heartbeat was written.
        w, r = d.get("lag-w"), d.get("lag-r")
        assert w["seq"] > r["seq"]
        assert w["written_ms"] - r["written_ms"] >= 2000, (w, r)
        assert w["failing_since_ms"] == 0 and r["failing_since_ms"] == 0, (w, r)
        # Lag notifications were pushed as the lag grew.
        d.wait_event("lag-r", after_ms=t0, pred=lambda e: e["lag_ms"] >= 1000, timeout=1)
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    t1 = now_ms()
    v = d.wait_verdict("lag-r", lambda v: 0 <= v["lag_ms"] < 600, timeout=5)
    print(f"lag {v['lag_ms']} ms, {now_ms() - t1} ms after resume")
    assert now_ms() - t1 < 3000
    assert v["health"] == "healthy"
    # Labelled with the database and region it measures, as alerts name them.
    assert (
        'globaldb_replication_lag_seconds{namespace="shop",name="orders",region="us-west-2"}'
        in d.metrics()
    )


NEVER = 2**63 - 1  # PROBE_UPSTREAM_NEVER


def test_a_reader_says_how_long_ago_its_secondary_heard_the_primary(primary, standby, driver):
    """The reader's second statement, aurora_global_db_status() (pgenv's emulation, fed by
    the primary's replication clock): fresh while the primary stamps, ageing once it stops,
    never when the standby has no stamp, unknown on a server without the function. The
    reader stays healthy throughout: its heartbeat read answered."""
    primary.sql("DELETE FROM aurora_emu.replication_clock")
    d = driver()
    d.set(**target_words(standby, "up-r", kind="reader", period=500, timeout=500, hbid="uptest"))
    d.wait_verdict(
        "up-r", lambda v: v["upstream_ms"] == NEVER and v["health"] == "healthy", timeout=20
    )

    pgenv.stamp_replication_clock(primary)
    d.wait_verdict("up-r", lambda v: 0 <= v["upstream_ms"] < 1500, timeout=10)
    t0 = now_ms()
    # No stamp since: the age follows the time since the last one, give or take a period.
    d.wait_verdict("up-r", lambda v: v["upstream_ms"] >= 3000, timeout=10)
    assert now_ms() - t0 >= 1500
    pgenv.stamp_replication_clock(primary)
    d.wait_verdict("up-r", lambda v: 0 <= v["upstream_ms"] < 1500, timeout=10)

    primary.sql("DROP FUNCTION public.aurora_global_db_status()")
    try:
        v = d.wait_verdict("up-r", lambda v: v["upstream_ms"] == -1 and v["ok"] == 1, timeout=10)
        assert v["health"] == "healthy" and v["reason"] == "none", v
    finally:
        pgenv.install_aurora_status(primary)
    d.wait_verdict("up-r", lambda v: v["upstream_ms"] >= 0, timeout=10)


def test_a_writer_probe_on_a_standby_fails_as_read_only(standby, driver):
    d = driver()
    d.set(**target_words(standby, "wrong-writer", fail=1))
    ev = d.wait_event("wrong-writer", "unhealthy")
    assert ev["reason"] == "read_only"
    assert d.get("wrong-writer")["sqlstate"] == "25006"


def test_a_users_own_writer_statement_is_run(primary, driver):
    primary.sql("CREATE TABLE IF NOT EXISTS probe_custom (n int)")
    d = driver()
    d.set(
        **target_words(primary, "custom", statement="INSERT%20INTO%20probe_custom%20VALUES%20(1)")
    )
    d.wait_event("custom", "healthy")
    assert primary.sql("SELECT count(*) FROM probe_custom")[0][0] >= 2


def test_a_wrong_password_is_an_auth_failure_and_is_never_printed(primary, driver):
    wrong = "Wr0ng-secret-value-7"
    d = driver(password=wrong)
    d.set(**target_words(primary, "auth", fail=1))
    ev = d.wait_event("auth", "unhealthy")
    assert ev["reason"] == "auth"
    v = d.get("auth")
    # The server's SQLSTATE (invalid_password) is passed on; its message is not.
    assert v["sqlstate"] == "28P01"
    out = "\n".join(d.stdout_text) + d.metrics() + d.logs()
    assert wrong not in out
    assert pgenv.DEFAULT_PASSWORD not in out
    assert "password=" not in out


def test_tls_is_required_by_default(primary, driver):
    # The test servers run without TLS: the default sslmode must refuse them.
    d = driver()
    d.set(**target_words(primary, "default-tls", sslmode=None, fail=1))
    ev = d.wait_event("default-tls", "unhealthy")
    assert ev["reason"] == "tls"


def test_verify_full_accepts_the_right_ca_and_refuses_another(pgroot, driver):
    srv = pgenv.init_primary(pgroot, "tls")
    try:
        certs = os.path.join(pgroot, "certs")
        os.makedirs(certs, exist_ok=True)
        make_ca(certs, "ca")
        make_ca(certs, "other-ca")
        make_server_cert(certs)
        enable_tls(srv, certs, pgenv.SERVICE_USER)

        d = driver()
        d.set(
            **target_words(
                srv, "tls-ok", sslmode="verify-full", sslrootcert=os.path.join(certs, "ca.crt")
            )
        )
        d.set(
            **target_words(
                srv,
                "tls-bad",
                sslmode="verify-full",
                fail=1,
                sslrootcert=os.path.join(certs, "other-ca.crt"),
            )
        )
        d.set(**target_words(srv, "tls-default", sslmode=None))
        d.wait_event("tls-ok", "healthy")
        d.wait_event("tls-default", "healthy")
        ev = d.wait_event("tls-bad", "unhealthy")
        assert ev["reason"] == "tls"
        ssl_in_use = srv.sql(
            "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity "
            "USING (pid) WHERE application_name = 'globaldb-controller'"
        )
        assert ssl_in_use[0][0] is True
    finally:
        srv.destroy()


def test_sessions_carry_statement_and_lock_timeouts_below_the_probe_timeout(primary, driver):
    # timeout=1000: statement_timeout 800 ms, lock_timeout 500 ms (policy.h),
    # so a heartbeat write the probe gave up on ends on the server as well.
    check = (
        "DO $$BEGIN IF current_setting('statement_timeout') <> '800ms' "
        "OR current_setting('lock_timeout') <> '500ms' "
        "THEN RAISE EXCEPTION 'wrong timeouts'; END IF; END$$"
    )
    d = driver()
    d.set(**target_words(primary, "timeouts", fail=1, statement=check.replace(" ", "%20")))
    ev = d.wait_event("timeouts", "healthy")
    assert ev["reason"] == "ok", ev


class NoticeFlood:
    """A server (plain TCP, no password) that answers any statement with an
    endless stream of NoticeResponse messages: review F4's flood."""

    def __init__(self):
        import socket
        import struct
        import threading

        self._struct = struct
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.sent = 0
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _msg(self, kind, body):
        return kind + self._struct.pack("!I", len(body) + 4) + body

    def _serve(self):
        import threading

        while not self.stop:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        pack = self._struct.pack
        notice = self._msg(b"N", b"SWARNING\0C01000\0Mflood\0\0")
        batch = notice * 4096
        try:
            n = self._struct.unpack("!I", conn.recv(4))[0]
            conn.recv(n - 4)
            conn.sendall(
                self._msg(b"R", pack("!I", 0))
                + self._msg(b"K", pack("!II", 1, 1))
                + self._msg(b"Z", b"I")
            )
            conn.recv(65536)  # the statement
            while not self.stop:
                conn.sendall(batch)
                self.sent += len(batch)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop = True
        self.lsock.close()


def test_a_notice_flood_cannot_delay_another_targets_verdict(primary, driver):
    flood = NoticeFlood()
    try:
        d = driver()
        d.set(**target_words(primary, "steady", period=500, timeout=500, fail=1, succ=1))
        d.wait_event("steady", "healthy")
        before = d.get("steady")["probes"]
        d.set(
            name="flood",
            kind="writer",
            host="127.0.0.1",
            port=flood.port,
            user="probe",
            sslmode="disable",
            insecure=1,
            period=500,
            timeout=500,
            fail=1,
            succ=1,
        )
        ev = d.wait_event("flood", "unhealthy", timeout=10)
        assert ev["reason"] == "timeout", ev
        # Several flooded probes later, the steady target never missed its deadline.
        d.wait_verdict("flood", lambda v: v["probes"] >= 6, timeout=20)
        assert flood.sent > 10_000_000, flood.sent  # the flood really ran
        v = d.get("flood")
        assert v["duration_ms"] <= 500 + 100, v
        s = d.get("steady")
        assert s["probes"] >= before + 6, s
        assert s["health"] == "healthy" and s["fails"] == 0, s
        assert all(e["health"] == "healthy" for e in d.events if e["name"] == "steady")
    finally:
        flood.close()
