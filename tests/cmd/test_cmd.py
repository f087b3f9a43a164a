"""The globaldb-controller binary before it reaches Kubernetes: flags,
environment variables and start-up failures (no cluster needed)."""

import re
import socket

import pytest

from cmdutil import Controller, clean_env, run
from waiting import HANG_GUARD_S

FLAGS = [
    "kubeconfig",
    "namespace",
    "leader-elect",
    "leader-election-namespace",
    "leader-election-id",
    "leader-election-lease-duration",
    "leader-election-renew-deadline",
    "leader-election-retry-period",
    "metrics-bind-address",
    "health-probe-bind-address",
    "concurrency",
    "log-level",
    "log-format",
    "allowed-secrets",
    "allowed-probe-hosts",
    "allowed-route53-zones",
    "allowed-ssm-prefixes",
    "allowed-ecs-clusters",
]


def test_help_lists_every_flag_and_its_environment_variable():
    r = run("--help")
    assert r.returncode == 0
    for flag in FLAGS:
        assert f"--{flag}" in r.stdout
        assert "GLOBALDB_" + flag.upper().replace("-", "_") in r.stdout
    assert "default :8080" in r.stdout and "default :8081" in r.stdout
    assert r.stderr == ""


def test_version_prints_the_version():
    r = run("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"globaldb-controller \d+\.\d+\.\d+\n", r.stdout)


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--bogus"], "unknown flag: --bogus"),
        (["--kube=x"], "unknown flag: --kube"),  # no abbreviations
        (["--namespace"], "flag needs an argument: --namespace"),
        (["--concurrency=0"], "invalid value for --concurrency"),
        (["--concurrency", "ten"], "invalid value for --concurrency"),
        (["--log-format=xml"], "invalid value for --log-format"),
        (["--log-level=loud"], "invalid value for --log-level"),
        (["--leader-elect=maybe"], "invalid value for --leader-elect"),
        (["--metrics-bind-address=8080"], "invalid value for --metrics-bind-address"),
        (["--namespace=Not_A_Namespace"], "invalid value for --namespace"),
        (["--leader-election-id=bad..id"], "invalid value for --leader-election-id"),
        (
            ["--leader-election-lease-duration=15"],
            "invalid value for --leader-election-lease-duration",
        ),
        (["--leader-election-lease-duration=1500ms"], "not a whole number of seconds"),
        (
            ["--leader-election-retry-period=-2s"],
            "invalid value for --leader-election-retry-period",
        ),
        (["--leader-election-lease-duration=10s"], "lease duration > renew deadline"),
        (["--leader-election-renew-deadline=2s"], "renew deadline > 1.2 x retry period"),
        (["--kubeconfig=/nonexistent/kubeconfig"], "invalid value for --kubeconfig"),
        (["extra"], "unexpected argument: extra"),
        (["--leader-elect"], "--leader-elect needs --leader-election-namespace"),
        (["--allowed-secrets=orders/*,,billing/*"], "invalid value for --allowed-secrets"),
        (["--allowed-route53-zones=Z1 Z2"], "invalid value for --allowed-route53-zones"),
        (["--allowed-ssm-prefixes=/a*/b"], "'*' may only end an entry"),
        # One AWS call (15 s) and the guard's margin (10 s) must fit in the lease.
        (["--guard-lease-duration=20s"], "not a duration of at least 30000ms"),
    ],
)
def test_bad_flags_exit_2_with_a_message(args, complaint):
    r = run(*args)
    assert r.returncode == 2
    assert complaint in r.stderr
    assert "--help" in r.stderr
    assert r.stdout == ""


def test_bad_allowlist_variable_is_named():
    r = run(env=clean_env(GLOBALDB_ALLOWED_ECS_CLUSTERS="a,"))
    assert r.returncode == 2
    assert "GLOBALDB_ALLOWED_ECS_CLUSTERS (--allowed-ecs-clusters)" in r.stderr


def test_bad_environment_variable_is_named():
    r = run(env=clean_env(GLOBALDB_CONCURRENCY="-3"))
    assert r.returncode == 2
    assert "GLOBALDB_CONCURRENCY (--concurrency)" in r.stderr


def test_a_busy_port_fails_start_up_with_status_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with Controller(f"--health-probe-bind-address=127.0.0.1:{port}") as c:
            assert c.proc.wait(timeout=HANG_GUARD_S) == 1
            rec = c.wait_for("cannot serve http")
            assert rec["error"] == "address already in use"


def test_no_kubernetes_config_fails_start_up_with_status_1(tmp_path):
    # Not in a pod, no $KUBECONFIG, no ~/.kube/config: nothing to connect to.
    with Controller(env=clean_env(HOME=str(tmp_path))) as c:
        assert c.proc.wait(timeout=HANG_GUARD_S) == 1
        c.wait_for("start-up failed")
        assert not any(r["msg"] == "started" for r in c.log)
