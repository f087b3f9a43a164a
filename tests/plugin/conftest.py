"""Plugin fixtures: the end-to-end world (tests/e2e/conftest.py) reused as is,
plus `kubectl globaldb` run the way a user runs it: kubectl itself, finding
the plugin binary on PATH."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_CONFTEST = os.path.join(HERE, "..", "e2e", "conftest.py")

if "e2e_conftest" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("e2e_conftest", E2E_CONFTEST)
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["e2e_conftest"] = _mod
    _spec.loader.exec_module(_mod)

# pytest finds fixtures among this module's names.
from e2e_conftest import (  # noqa: E402,F401
    EAST,
    WEST,
    Gdb,
    Kubectl,
    World,
    controller,
    controller_bin,
    emulator,
    kubectl,
    testenv,
    wait_for,
    world,
)


def plugin_bin_path():
    return os.environ.get("GDB_PLUGIN_BIN") or os.path.join(
        os.environ.get("GDB_BINARY_DIR", os.path.join(HERE, "..", "..", "build")),
        "cmd",
        "kubectl-globaldb",
        "kubectl-globaldb",
    )


class Plugin:
    """`kubectl globaldb ARGS` in the world's namespace; returns the CompletedProcess.

    kubectl looks for plugins by the words before the first flag, so the
    flags come after `globaldb`, as a user types them."""

    def __init__(self, kc, ns, binary):
        self.kubectl = kc
        self.ns = ns
        self.env = dict(os.environ)
        self.env["PATH"] = os.path.dirname(binary) + os.pathsep + self.env.get("PATH", "")

    def __call__(self, *args, timeout=60):
        r = subprocess.run(
            [
                self.kubectl.bin,
                "globaldb",
                *args,
                "--kubeconfig",
                self.kubectl.kubeconfig,
                "-n",
                self.ns,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )
        print(f"\n$ kubectl globaldb {' '.join(args)}  (exit {r.returncode})\n{r.stdout}{r.stderr}")
        return r


@pytest.fixture
def plugin(world, kubectl):  # noqa: F811 (fixtures named as imported)
    b = plugin_bin_path()
    if not os.access(b, os.X_OK):
        pytest.fail(f"plugin binary {b} is not built")
    return Plugin(kubectl, world.ns, b)
