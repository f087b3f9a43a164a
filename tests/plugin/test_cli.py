"""The plugin's command line without an apiserver: help, usage errors and a
kubeconfig that cannot be read, each with its documented exit code and a
message that says what to fix. Never a crash."""

import os
import subprocess

from waiting import HANG_GUARD_S

BIN = os.environ["GDB_PLUGIN_BIN"]


def run(*args):
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = "/nonexistent-home"
    return subprocess.run(
        [BIN, *args], capture_output=True, text=True, timeout=HANG_GUARD_S, env=env
    )


def test_help_lists_every_verb_and_exit_code():
    r = run("--help")
    assert r.returncode == 0
    for verb in (
        "status",
        "history",
        "switchover",
        "approve-failover",
        "approve-fallback",
        "pause",
        "resume",
    ):
        assert f"kubectl globaldb {verb} NAME" in r.stdout, verb
    for code in ("0  done", "1  error", "2  usage", "3  refused", "4  switchover --wait"):
        assert code in r.stdout, code


def test_usage_errors_exit_2_before_any_request():
    cases = {
        ("status",): "status needs the name of a GlobalDatabase",
        ("bogus", "orders"): "unknown verb bogus",
        ("switchover", "orders"): "switchover needs --to REGION",
        ("status", "orders", "--to", "us-west-2"): "--to is for switchover",
        ("switchover", "orders", "--to", "x", "--wait=soon"): "--wait wants a duration",
        ("status", "orders", "-n"): "flag -n needs a value",
        ("status", "orders", "--frobnicate"): "unknown flag --frobnicate",
        ("status", "a", "b"): "unexpected argument b",
    }
    for args, msg in cases.items():
        r = run(*args)
        assert r.returncode == 2 and msg in r.stderr, (args, r.returncode, r.stderr)


def test_an_unreadable_kubeconfig_is_named():
    r = run("status", "orders", "--kubeconfig", "/nonexistent/config")
    assert r.returncode == 1
    assert "/nonexistent/config" in r.stderr and "No such file" in r.stderr, r.stderr


def test_a_name_that_reads_like_help_is_a_name():
    r = run("status", "help", "--kubeconfig", "/nonexistent/config")
    assert r.returncode == 1 and "Usage" not in r.stdout, r


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: a
contexts:
- name: a
  context: {cluster: c, user: u, namespace: shop}
- name: b
  context: {cluster: c, user: u, namespace: other}
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: not-a-secret}
"""


def test_context_and_namespace_are_chosen_as_kubectl_chooses_them(tmp_path):
    """The context's namespace, another context's, then -n over both. Port 1
    refuses the connection, so the error names where the plugin looked."""
    kc = tmp_path / "config"
    kc.write_text(KUBECONFIG)
    cases = {
        (): "shop/orders",
        ("--context", "b"): "other/orders",
        ("--context=b", "-n", "x"): "x/orders",
        ("--namespace=y",): "y/orders",
    }
    for flags, where in cases.items():
        r = run("status", "orders", "--kubeconfig", str(kc), *flags)
        assert r.returncode == 1, (flags, r.stderr)
        assert f"cannot read globaldatabase {where}" in r.stderr, (flags, r.stderr)
        assert "not-a-secret" not in r.stderr
    r = run("status", "orders", "--kubeconfig", str(kc), "--context", "nope")
    assert r.returncode == 1 and 'no context named "nope"' in r.stderr, r.stderr
