"""Chaos fixtures: the end-to-end world (tests/e2e/conftest.py) reused as is,
plus what breaking things needs.

CI runs a representative subset of every chaos test; GDB_CHAOS_FULL=1 (as
`make chaos` sets it) runs the full sweep. `full_sweep()` tells a test which.
"""

from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_CONFTEST = os.path.join(HERE, "..", "e2e", "conftest.py")

_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E_CONFTEST)
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

# pytest finds fixtures among this module's names.
from e2e_conftest import (  # noqa: E402,F401
    DELAY_KEYS,
    EAST,
    WEST,
    Admin,
    Controller,
    Gdb,
    Kubectl,
    World,
    controller,
    controller_bin,
    cut_connection,
    emulator,
    kubectl,
    metric_value,
    testenv,
    wait_for,
    world,
)

# A Lease short enough that a replacement for a killed leader acts within
# seconds (the defaults are 15 s / 10 s / 2 s).
FAST_LEASE = (
    "--leader-election-lease-duration=3s",
    "--leader-election-renew-deadline=2s",
    "--leader-election-retry-period=500ms",
)


def full_sweep():
    return os.environ.get("GDB_CHAOS_FULL") == "1"
