"""Fixtures for the probe integration tests: the probe_driver process
(driver_client.py) and PostgreSQL servers of our own (tests/env/pgenv.py),
independent of the shared test environment because these tests stop, freeze
and blackhole them."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
SUPPORT_DIR = os.path.normpath(os.path.join(HERE, "..", "support"))
if SUPPORT_DIR not in sys.path:
    sys.path.insert(0, SUPPORT_DIR)

import pgenv  # noqa: E402
from scratch import pg_scratch_dir  # noqa: E402
from driver_client import Driver, now_ms  # noqa: E402,F401


def target_words(
    srv, name, kind="writer", period=1000, timeout=1000, fail=3, succ=2, sslmode="disable", **extra
):
    """Keyword arguments of Driver.set for a target on server srv. The test
    servers speak plain TCP, so sslmode="disable" comes with insecure=1 (the
    opt-in to authentication without TLS) unless the caller says otherwise."""
    kw = dict(
        name=name,
        kind=kind,
        host=srv.host,
        port=srv.port,
        user=srv.superuser,
        period=period,
        timeout=timeout,
        fail=fail,
        succ=succ,
    )
    if sslmode is not None:
        kw["sslmode"] = sslmode
    if sslmode == "disable":
        kw.setdefault("insecure", 1)
    kw.update(extra)
    return kw


@pytest.fixture(scope="module")
def pgroot():
    with pg_scratch_dir("gdb-probe-") as root:
        yield root


@pytest.fixture
def driver(request):
    drivers = []

    def make(password=pgenv.DEFAULT_PASSWORD, prefix=()):
        d = Driver(password, prefix=prefix)
        drivers.append(d)
        return d

    yield make
    for d in drivers:
        d.close()
