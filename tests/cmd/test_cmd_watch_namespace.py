"""--watch-namespace and its old name --namespace, on the command line and in
the environment: which namespace the controller says it works in."""

import pytest
from cmdutil import Controller, clean_env, run


def started_namespace(*args, tmp_path, **env):
    # No kubeconfig anywhere: start-up stops after the configuration is logged.
    with Controller(*args, env=clean_env(HOME=str(tmp_path), **env)) as c:
        rec = c.wait_for("starting globaldb-controller")
        c.proc.wait(timeout=20)
        return rec["namespace"]


@pytest.mark.parametrize(
    "args, env, want",
    [
        ((), {}, "(all)"),
        (("--watch-namespace=team-a",), {}, "team-a"),
        (("--namespace", "team-a"), {}, "team-a"),
        ((), {"GLOBALDB_WATCH_NAMESPACE": "team-a"}, "team-a"),
        ((), {"GLOBALDB_NAMESPACE": "team-a"}, "team-a"),
        # The command line wins over either variable, whichever name it uses.
        (("--namespace=team-a",), {"GLOBALDB_WATCH_NAMESPACE": "team-b"}, "team-a"),
        (("--watch-namespace=team-a",), {"GLOBALDB_NAMESPACE": "team-b"}, "team-a"),
        # Of the two variables, the new name wins.
        ((), {"GLOBALDB_NAMESPACE": "team-b", "GLOBALDB_WATCH_NAMESPACE": "team-a"}, "team-a"),
    ],
)
def test_watch_namespace_sources(args, env, want, tmp_path):
    assert started_namespace(*args, tmp_path=tmp_path, **env) == want


def test_bad_watch_namespace_is_a_usage_error():
    r = run("--watch-namespace=Team_A")
    assert r.returncode == 2
    assert "invalid value for --watch-namespace: Team_A is not a valid namespace name" in r.stderr
    r = run(env=clean_env(GLOBALDB_WATCH_NAMESPACE="-x"))
    assert r.returncode == 2 and "GLOBALDB_WATCH_NAMESPACE (--watch-namespace)" in r.stderr


def test_help_names_the_flag():
    out = run("--help").stdout
    assert "--watch-namespace=name" in out and "GLOBALDB_WATCH_NAMESPACE" in out
