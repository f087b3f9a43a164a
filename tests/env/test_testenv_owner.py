"""Two ctest runs in one build directory share one testenv state file. The
second run's testenv_up must fail and say why, and its testenv_down must leave
the first run's environment alone; an environment whose owner is gone is
cleaned up as before. No environment is started: the state files here name a
directory and owners only."""

import json
import os
import subprocess
import sys

import pytest

from waiting import HANG_GUARD_S

TESTENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testenv.py")


def run_testenv(*args):
    return subprocess.run(
        [sys.executable, TESTENV, *args], capture_output=True, text=True, timeout=HANG_GUARD_S
    )


@pytest.fixture
def other_owner():
    """A running process that is not this test: the first ctest run."""
    p = subprocess.Popen(["sleep", "600"])
    yield p
    p.kill()
    p.wait()


def write_state(tmp_path, **fields):
    env_dir = tmp_path / "gdb-testenv-x"
    env_dir.mkdir()
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"dir": str(env_dir), "pids": {}, **fields}))
    return state, env_dir


def test_second_up_is_refused_and_names_the_owner(tmp_path, other_owner):
    state, env_dir = write_state(tmp_path, owner_pid=other_owner.pid)
    r = run_testenv("up", "--state", str(state))
    assert r.returncode == 1, r
    assert f"environment of process {other_owner.pid}, which still runs" in r.stderr
    assert "use another build directory" in r.stderr
    assert state.exists() and env_dir.exists(), "the running environment was touched"


def test_second_down_leaves_the_running_environment(tmp_path, other_owner):
    state, env_dir = write_state(tmp_path, owner_pid=other_owner.pid)
    r = run_testenv("down", "--state", str(state), "--only-mine")
    assert r.returncode == 0, r
    assert f"left alone: {state} is the environment of process {other_owner.pid}" in r.stderr
    assert state.exists() and env_dir.exists()


def test_an_environment_whose_owner_is_gone_is_cleaned(tmp_path, other_owner):
    state, env_dir = write_state(tmp_path, owner_pid=other_owner.pid)
    other_owner.kill()
    other_owner.wait()
    r = run_testenv("down", "--state", str(state), "--only-mine")
    assert r.returncode == 0 and "environment down" in r.stderr, r
    assert not state.exists() and not env_dir.exists()


def test_an_environment_whose_watchdog_is_gone_is_cleaned(tmp_path, other_owner):
    """The owner's pid may be reused; a recorded watchdog that is gone says the
    environment went with its owner."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    state, env_dir = write_state(tmp_path, owner_pid=other_owner.pid, watchdog_pid=gone.pid)
    r = run_testenv("down", "--state", str(state), "--only-mine")
    assert r.returncode == 0 and "environment down" in r.stderr, r
    assert not state.exists() and not env_dir.exists()


def test_down_without_only_mine_still_ends_any_environment(tmp_path, other_owner):
    """`hack/testenv down` from another shell is how a developer ends an
    environment: unchanged."""
    state, env_dir = write_state(tmp_path, owner_pid=other_owner.pid)
    r = run_testenv("down", "--state", str(state))
    assert r.returncode == 0, r
    assert not state.exists() and not env_dir.exists()
