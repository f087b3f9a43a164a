#!/usr/bin/env python3
"""What a server's SCRAM iteration count costs the prober's one thread.

libpq 15 takes any iteration count from 1 to INT_MAX that a server's SCRAM
server-first message names, and derives the key on the calling thread. A TLS
server of the benchmark's own (self-signed: what any host on the path can
be under sslMode require) offers SCRAM-SHA-256-PLUS, names i=N, and times
the gap between its server-first message and the client's answer: the time
the prober's thread spent in PBKDF2 and nothing else.

    GDB_PROBE_DRIVER=build/tests/probe/probe_driver \\
      ~/.cache/globaldb-controller/venv/bin/python3 tests/bench/probe/bench_scram_iterations.py
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests", "probe"))

from driver_client import Driver  # noqa: E402
from tlscerts import make_ca  # noqa: E402


def msg(kind, body):
    return kind + struct.pack("!I", len(body) + 4) + body


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def read_msg(s):
    head = recv_exact(s, 5)
    return head[:1], recv_exact(s, struct.unpack("!I", head[1:])[0] - 4)


class ScramServer:
    def __init__(self, cert, key, iterations):
        self.iterations = iterations
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.gaps = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            try:
                self.session(conn)
            except (OSError, EOFError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def session(self, conn):
        recv_exact(conn, 8)  # SSLRequest
        conn.sendall(b"S")
        conn = self.ctx.wrap_socket(conn, server_side=True)
        n = struct.unpack("!I", recv_exact(conn, 4))[0]
        recv_exact(conn, n - 4)  # StartupMessage
        conn.sendall(msg(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256-PLUS\0\0"))
        _, body = read_msg(conn)  # SASLInitialResponse
        first = body[body.index(b"\0") + 5 :].decode()
        nonce = first.split("r=", 1)[1]
        salt = base64.b64encode(b"0123456789abcdef").decode()
        server_first = f"r={nonce}srv,s={salt},i={self.iterations}".encode()
        conn.sendall(msg(b"R", struct.pack("!I", 11) + server_first))
        t0 = time.monotonic()
        read_msg(conn)  # the client's proof, once PBKDF2 is done
        self.gaps.append(time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", default="4096,100000,1000000,10000000")
    ap.add_argument("--logins", type=int, default=3)
    args = ap.parse_args()
    d0 = tempfile.mkdtemp(prefix="gdb-scram-")
    cert, key = make_ca(d0, "server")
    print("iterations  PBKDF2 on the prober thread (median of logins)")
    for it in (int(x) for x in args.iterations.split(",")):
        srv = ScramServer(cert, key, it)
        d = Driver("probe-password")
        try:
            d.set(
                name="scram",
                kind="reader",
                host="127.0.0.1",
                port=srv.port,
                user="probe",
                period=max(1000, it // 1000),
                timeout=max(1000, it // 1000),
                fail=1,
                succ=1,
            )
            deadline = time.monotonic() + 60 + it / 100000
            while len(srv.gaps) < args.logins and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            d.close(timeout=60)
            srv.lsock.close()
        gaps = sorted(srv.gaps)
        med = gaps[len(gaps) // 2] if gaps else float("nan")
        print(f"{it:>10}  {med * 1000:10.1f} ms  ({len(gaps)} logins)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
