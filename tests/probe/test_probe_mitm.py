"""A man in the middle gets nothing from the probes' default configuration.

A TLS server of the test's own on loopback plays the attacker of review F1: it
answers the SSLRequest, completes TLS with a self-signed certificate (as any
host on the path can), and asks for a cleartext password, an MD5 hash, SCRAM
without channel binding, or lets the probe in without a password and offers
to answer its heartbeat. With the default sslMode (require) and no
allowInsecurePassword, the probe must send no password message and must never
report the writer healthy. With the opt-in, the same server does get the
password: the test can see a leak when there is one."""

from __future__ import annotations

import os
import socket
import ssl
import struct
import tempfile
import threading

import pytest

from tlscerts import make_ca

SECRET = "S3cret-probe-pw-for-mitm"
SSL_REQUEST = 80877103


def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class Mitm:
    """Accepts every connection, terminates TLS and plays `mode`:
    cleartext, md5, scram (SCRAM-SHA-256 without -PLUS) or trust."""

    def __init__(self, certfile, keyfile, mode):
        self.mode = mode
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.sessions = []  # per connection: {"startup": bytes, "after": [(type, body)], "raw": bytes}
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        self.lsock.close()
        self.thread.join(5)

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        rec = {"startup": b"", "after": [], "raw": b"", "tls": False}
        with self.lock:
            self.sessions.append(rec)
        try:
            conn.settimeout(5)
            n, code = struct.unpack("!II", _recv_exact(conn, 8))
            if n != 8 or code != SSL_REQUEST:
                return
            conn.sendall(b"S")
            conn = self.ctx.wrap_socket(conn, server_side=True)
            rec["tls"] = True
            (n,) = struct.unpack("!I", _recv_exact(conn, 4))
            rec["startup"] = _recv_exact(conn, n - 4)
            if self.mode == "cleartext":
                conn.sendall(_msg(b"R", struct.pack("!I", 3)))
            elif self.mode == "md5":
                conn.sendall(_msg(b"R", struct.pack("!I", 5) + b"salt"))
            elif self.mode == "scram":
                conn.sendall(_msg(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256\0\0"))
            elif self.mode == "iterations":
                # SCRAM with channel binding, as libpq wants, then a huge iteration count.
                conn.sendall(_msg(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256-PLUS\0\0"))
                kind = conn.recv(1)
                body = _recv_exact(conn, struct.unpack("!I", _recv_exact(conn, 4))[0] - 4)
                rec["after"].append((kind, body))
                nonce = body.split(b"r=", 1)[1]
                first = b"r=" + nonce + b"srv,s=c2FsdHNhbHQ=,i=10000000"
                conn.sendall(_msg(b"R", struct.pack("!I", 11) + first))
            else:  # trust: in without a password, then answer anything "healthy"
                conn.sendall(
                    _msg(b"R", struct.pack("!I", 0))
                    + _msg(b"K", struct.pack("!II", 4242, 4242))
                    + _msg(b"Z", b"I")
                )
            # Everything the client sends from now on.
            while True:
                head = conn.recv(1)
                if not head:
                    return
                head += _recv_exact(conn, 4)
                kind, n = head[:1], struct.unpack("!I", head[1:5])[0]
                body = _recv_exact(conn, n - 4)
                rec["raw"] += head + body
                rec["after"].append((kind, body))
                if self.mode in ("cleartext", "md5") and kind == b"p":
                    conn.sendall(_msg(b"R", struct.pack("!I", 0)) + _msg(b"Z", b"I"))
                if kind in (b"Q", b"S"):  # pretend the heartbeat worked
                    conn.sendall(
                        _msg(b"C", b"INSERT 0 1\0") + _msg(b"Z", b"I")
                        if kind == b"Q"
                        else _msg(b"Z", b"I")
                    )
        except (OSError, EOFError, ssl.SSLError, struct.error):
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def snapshot(self):
        with self.lock:
            return [dict(s) for s in self.sessions]


@pytest.fixture(scope="module")
def attacker_cert():
    d = tempfile.mkdtemp(prefix="gdb-mitm-")
    yield make_ca(d, "attacker")


def _mitm_target(name, port, **extra):
    kw = dict(
        name=name,
        kind="writer",
        host="127.0.0.1",
        port=port,
        user="probe",
        period=500,
        timeout=500,
        fail=1,
        succ=1,
    )
    kw.update(extra)
    return kw


@pytest.mark.parametrize("mode", ["cleartext", "md5", "scram", "trust"])
def test_default_gives_a_mitm_no_password_and_no_healthy_writer(driver, attacker_cert, mode):
    mitm = Mitm(*attacker_cert, mode)
    try:
        d = driver(password=SECRET)
        # No sslmode: the default (require), no allowInsecurePassword.
        d.set(**_mitm_target("mitm", mitm.port))
        ev = d.wait_event("mitm", "unhealthy")
        assert ev["reason"] == "insecure_auth", ev
        # Several attempts, every one refused the same way.
        d.wait_verdict("mitm", lambda v: v["probes"] >= 3)
        v = d.get("mitm")
        assert v["reason"] == "insecure_auth" and v["health"] == "unhealthy", v
        assert all(e["health"] != "healthy" for e in d.events if e["name"] == "mitm")
        sessions = [s for s in mitm.snapshot() if s["tls"]]
        assert len(sessions) >= 3, sessions
        for s in sessions:
            # It saw who was logging in, but no password message and no query.
            assert b"probe" in s["startup"]
            kinds = {k for k, _ in s["after"]}
            assert not kinds & {b"p", b"Q", b"P"}, (mode, kinds)
            assert SECRET.encode() not in s["raw"]
        out = d.logs() + d.metrics()
        assert SECRET not in out
    finally:
        mitm.close()


def test_allow_insecure_password_does_hand_a_mitm_the_password(driver, attacker_cert):
    # What the opt-in means, and proof that the test above would see a leak.
    mitm = Mitm(*attacker_cert, "cleartext")
    try:
        d = driver(password=SECRET)
        d.set(**_mitm_target("optin", mitm.port, sslmode="require", insecure=1))
        d.wait_verdict("optin", lambda v: v["probes"] >= 1)
        leaked = [s for s in mitm.snapshot() if (b"p", SECRET.encode() + b"\0") in s["after"]]
        assert leaked, mitm.snapshot()
    finally:
        mitm.close()


def test_verify_full_refuses_the_mitm_at_the_handshake(driver, attacker_cert):
    mitm = Mitm(*attacker_cert, "cleartext")
    ca_dir = tempfile.mkdtemp(prefix="gdb-mitm-ca-")
    try:
        ca_crt, _ = make_ca(ca_dir, "ca")
        d = driver(password=SECRET)
        # Even with insecure logins allowed, verify-full never gets as far as a login.
        d.set(
            **_mitm_target("vf", mitm.port, sslmode="verify-full", sslrootcert=ca_crt, insecure=1)
        )
        ev = d.wait_event("vf", "unhealthy")
        assert ev["reason"] == "tls", ev
        for s in mitm.snapshot():
            assert s["startup"] == b"" and not s["after"], s
    finally:
        mitm.close()
        for f in os.listdir(ca_dir):
            os.unlink(os.path.join(ca_dir, f))
        os.rmdir(ca_dir)


def test_a_huge_scram_iteration_count_is_refused_before_the_key_is_derived(driver, attacker_cert):
    # 10,000,000 iterations: 27 s of the prober's one thread in libpq (docs/benchmarks.md).
    mitm = Mitm(*attacker_cert, "iterations")
    try:
        d = driver(password=SECRET)
        d.set(**_mitm_target("iter", mitm.port, timeout=1000, period=1000))
        ev = d.wait_event("iter", "unhealthy")
        assert ev["reason"] == "insecure_auth", ev
        v = d.get("iter")
        assert v["duration_ms"] < 1000, v  # refused, not derived and not timed out
        d.wait_verdict("iter", lambda v: v["probes"] >= 2)
        for s in mitm.snapshot():
            # The client-first message went out; no proof ever came back.
            assert len([k for k, _ in s["after"] if k == b"p"]) <= 1, s["after"]
            assert SECRET.encode() not in s["raw"]
    finally:
        mitm.close()
