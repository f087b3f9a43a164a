"""The globaldb-controller binary running against the shared test
environment's kube-apiserver as its own ServiceAccount (the RBAC of
manifests/rbac): endpoints, environment variables, logs, leader election and
shutdown on signals. Each test watches a fresh, empty namespace, so the
controller never acts on another test's GlobalDatabases."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid

import pytest

from cmdutil import BIN, Controller, clean_env, get

with open(os.environ["GDB_TESTENV_STATE"]) as _f:
    ENV = json.load(_f)
SA_NS = ENV["controller_serviceaccount"]["namespace"]


def kubectl(*args, check=True):
    r = subprocess.run(
        [ENV["kubectl"], "--kubeconfig", ENV["kubeconfig"], *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not check or r.returncode == 0, r.stderr
    return r


@pytest.fixture
def ns():
    name = f"cmd-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    return name


@pytest.fixture
def base_args(ns):
    return [f"--kubeconfig={ENV['controller_kubeconfig']}", f"--namespace={ns}"]


def test_endpoints_serve_probes_and_metrics_then_sigterm_exits_0(base_args):
    with Controller(*base_args) as c:
        ports = c.ports()
        health, metrics = ports["/healthz,/readyz"], ports["/metrics"]
        assert health != metrics
        assert get(health, "/healthz") == (200, "text/plain; charset=utf-8", "ok")
        status, _, body = get(health, "/readyz?verbose")
        assert status == 200, body
        assert "[+]controller-started ok\n" in body and "[+]informer-sync ok\n" in body
        status, ctype, body = get(metrics, "/metrics")
        assert status == 200 and "version=0.0.4" in ctype
        assert "# TYPE globaldb_build_info gauge\n" in body
        # What a support question needs: the version, commit and linked libraries.
        assert re.search(
            r'^globaldb_build_info\{version="\d+\.\d+\.\d+",commit="(?:[0-9a-f]{7,}|unknown)",'
            r'libcurl="\d+\.\d+\.\d+",openssl="3\.\d+\.\d+",libpq="15\.\d+"\} 1$',
            body,
            re.M,
        ), body
        # The process_* metrics every exporter has, with plausible values.
        for m in ("process_cpu_seconds_total", "process_open_fds", "process_max_fds"):
            assert re.search(rf"^{m} \d", body, re.M), m
        rss = float(re.search(r"^process_resident_memory_bytes (\S+)$", body, re.M)[1])
        assert 1 << 20 < rss < 1 << 30
        started = float(re.search(r"^process_start_time_seconds (\S+)$", body, re.M)[1])
        assert abs(started - time.time()) < 600
        assert get(metrics, "/healthz")[0] == 404
        assert get(health, "/metrics")[0] == 404

        start = time.monotonic()
        assert c.stop(signal.SIGTERM) == 0
        assert time.monotonic() - start < 30
        c.wait_for("stopped")
        assert any(r["msg"] == "shutting down" and r["signal"] == "SIGTERM" for r in c.log)


def test_sigint_also_shuts_down_cleanly(base_args):
    with Controller(*base_args) as c:
        c.ports()
        assert c.stop(signal.SIGINT) == 0


def test_environment_variables_configure_and_flags_win(ns):
    env = clean_env(
        GLOBALDB_KUBECONFIG=ENV["controller_kubeconfig"],
        GLOBALDB_NAMESPACE="default",
        GLOBALDB_CONCURRENCY="7",
        GLOBALDB_LOG_LEVEL="debug",
        GLOBALDB_METRICS_BIND_ADDRESS="0",
        GLOBALDB_HEALTH_PROBE_BIND_ADDRESS="127.0.0.1:0",
    )
    with Controller(f"--namespace={ns}", "--concurrency=3", env=env, loopback=False) as c:
        rec = c.wait_for("starting globaldb-controller")
        assert rec["namespace"] == ns  # the flag beat the variable
        assert rec["concurrency"] == "3"
        assert rec["kubeconfig"] == ENV["controller_kubeconfig"]  # from GLOBALDB_KUBECONFIG
        ports = c.ports()
        assert list(ports) == ["/healthz,/readyz"]  # metrics disabled with "0"
        assert any(r["level"] == "debug" for r in c.log)  # GLOBALDB_LOG_LEVEL took effect
        assert c.stop(signal.SIGTERM) == 0


def test_one_address_for_both_serves_everything(base_args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"127.0.0.1:{port}"
    with Controller(
        *base_args,
        f"--metrics-bind-address={addr}",
        f"--health-probe-bind-address={addr}",
        loopback=False,
    ) as c:
        assert c.ports() == {"/metrics,/healthz,/readyz": port}
        assert get(port, "/metrics")[0] == 200
        assert get(port, "/readyz")[0] == 200
        assert c.stop(signal.SIGTERM) == 0


def test_leader_takes_the_lease_and_releases_it_on_sigterm(base_args):
    lease = f"cmd-test-{uuid.uuid4().hex[:8]}"
    env = clean_env(POD_NAMESPACE=SA_NS)
    with Controller(*base_args, "--leader-elect", f"--leader-election-id={lease}", env=env) as c:
        rec = c.wait_for("starting globaldb-controller")
        assert rec["leader_election_namespace"] == SA_NS  # from POD_NAMESPACE
        c.ports()
        deadline = time.monotonic() + 30
        holder = ""
        while time.monotonic() < deadline and not holder:
            r = kubectl("-n", SA_NS, "get", "lease", lease, "-o", "json", check=False)
            if r.returncode == 0:
                holder = json.loads(r.stdout)["spec"].get("holderIdentity", "")
            if not holder:
                time.sleep(0.2)
        assert holder, "the controller never took the Lease"

        start = time.monotonic()
        assert c.stop(signal.SIGTERM) == 0
        assert time.monotonic() - start < 30
    spec = json.loads(kubectl("-n", SA_NS, "get", "lease", lease, "-o", "json").stdout)["spec"]
    assert not spec.get("holderIdentity"), spec  # released, so the standby need not wait it out


def test_text_logs_are_one_line_per_event(base_args):
    p = subprocess.Popen(
        [BIN, *base_args, "--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0"],
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        first = p.stderr.readline()
        assert re.match(
            r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info starting globaldb-controller ", first
        )
        assert "concurrency=2" in first
        for line in p.stderr:
            assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) ", line), line
            if " info started" in line:
                break
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
