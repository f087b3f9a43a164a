"""Fixtures for the probe integration tests: the probe_driver process
(driver_client.py) and PostgreSQL servers of our own (tests/env/pgenv.py),
independent of the shared test environment because these tests stop, freeze
and blackhole them."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pgenv  # noqa: E402
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
    root = tempfile.mkdtemp(prefix="gdb-probe-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


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
