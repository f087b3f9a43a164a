#!/usr/bin/env python3
"""Heap per probe connection: plain, TLS, and TLS with a CA bundle.

One PostgreSQL 15 with TLS (a CA of the benchmark's own), one probe_driver
(the prober on libpq, one malloc arena as in the controller). For each mode,
N reader targets each log in (SCRAM; over TLS with channel binding), read,
and keep their connection idle; the driver's heap in use (mallinfo2) before
the targets and once all are healthy, divided by N, is the cost of one
target with its idle connection. Each mode runs in a driver process of its
own, so that each starts from its own baseline.

    GDB_PROBE_DRIVER=build/tests/probe/probe_driver \\
      ~/.cache/globaldb-controller/venv/bin/python3 tests/bench/probe/bench_conn_heap.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests", "env"))
sys.path.insert(0, os.path.join(SRC, "tests", "probe"))

import pgenv  # noqa: E402
from driver_client import Driver  # noqa: E402
from tlscerts import enable_tls, make_ca, make_server_cert  # noqa: E402


def heap(d):
    reply = d.cmd("heap")
    assert reply.startswith("heap bytes="), reply
    return int(reply.split("=", 1)[1])


def measure(d, srv, mode, n, ca):
    extra = {
        "plain": dict(sslmode="disable", insecure=1),
        "tls": dict(sslmode="require"),
        "tls+ca": dict(sslmode="verify-full", sslrootcert=ca),
    }[mode]
    base = heap(d)
    names = [f"{mode}-{i}" for i in range(n)]
    for name in names:
        d.set(
            name=name,
            kind="reader",
            host=srv.host,
            port=srv.port,
            user=srv.superuser,
            period=5000,
            timeout=3000,
            fail=3,
            succ=1,
            **extra,
        )
    deadline = time.monotonic() + 120
    for name in names:
        d.wait_verdict(
            name, lambda v: v["health"] == "healthy", timeout=deadline - time.monotonic()
        )
    time.sleep(0.5)  # every probe idle again (period 5 s: none starts meanwhile)
    used = heap(d) - base
    return used / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--big-bundle",
        action="store_true",
        help="append Debian's CA bundle (~140 certificates; RDS's global bundle has ~120)",
    )
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="gdb-conn-heap-")
    srv = pgenv.init_primary(root, "heap")
    try:
        srv.sql(f"ALTER SYSTEM SET max_connections = {args.connections + 20}")
        srv.stop()
        srv.start()
        certs = os.path.join(root, "certs")
        os.makedirs(certs)
        make_ca(certs, "ca")
        make_server_cert(certs)
        enable_tls(srv, certs, pgenv.SERVICE_USER)
        bundle = os.path.join(certs, "ca.crt")
        if args.big_bundle:
            bundle = os.path.join(certs, "bundle.crt")
            with open(bundle, "w") as out:
                for part in (os.path.join(certs, "ca.crt"), "/etc/ssl/certs/ca-certificates.crt"):
                    with open(part) as f:
                        out.write(f.read())
        with open(bundle) as f:
            ncerts = f.read().count("BEGIN CERTIFICATE")
        print(
            f"{args.connections} idle connections per mode, heap per target, "
            f"CA bundle of {ncerts} certificates"
        )
        for r in range(args.rounds):
            for mode in ("plain", "tls", "tls+ca"):
                d = Driver(pgenv.DEFAULT_PASSWORD)  # a fresh process per mode: its own baseline
                try:
                    per = measure(d, srv, mode, args.connections, bundle)
                finally:
                    d.close()
                print(f"round {r + 1} {mode:7s} {per / 1024:8.1f} KiB")
                sys.stdout.flush()
    finally:
        srv.destroy()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
