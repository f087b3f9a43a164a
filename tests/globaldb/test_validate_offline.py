"""Defense in depth: the controller's own validation rejects every invalid manifest.

An API server without CEL (or an object stored before a rule existed) would let
these through; the controller must then refuse to act and name the same field.
Runs the gdb-validate program built from pkg/globaldb; no cluster needed.
"""

import glob
import json
import os
import subprocess

import pytest
import yaml

from waiting import HANG_GUARD_S

SOURCE = os.environ["GDB_SOURCE_DIR"]
TOOL = os.path.join(os.environ["GDB_BINARY_DIR"], "tests", "globaldb", "gdb-validate")
INVALID = sorted(glob.glob(os.path.join(SOURCE, "tests", "globaldb", "invalid", "*.yaml")))
# Only the API server can reject these: the controller ignores fields it does not know.
SERVER_ONLY = {"57-unknown-field"}


def validate(obj):
    r = subprocess.run(
        [TOOL], input=json.dumps(obj), text=True, capture_output=True, timeout=HANG_GUARD_S
    )
    return r.returncode, r.stdout.strip()


def test_the_example_is_valid():
    with open(os.path.join(SOURCE, "crds", "examples", "globaldatabase.yaml")) as f:
        assert validate(yaml.safe_load(f)) == (0, "ok")


@pytest.mark.parametrize("path", INVALID, ids=[os.path.basename(p)[:-5] for p in INVALID])
def test_controller_rejects_invalid_manifest(path):
    name = os.path.basename(path)[:-5]
    with open(path) as f:
        text = f.read()
    expect = [
        line[len("# expect: ") :] for line in text.splitlines() if line.startswith("# expect: ")
    ][0]
    field = expect.split(":")[0]
    rc, msg = validate(yaml.safe_load(text))
    if name in SERVER_ONLY:
        assert rc == 0
        return
    assert rc == 1, f"{name} passed the controller's validation"
    assert msg.startswith(field) or field in msg, f"{name}: {msg!r} does not name {field}"
