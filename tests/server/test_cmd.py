"""The globaldb-controller binary as a user runs it: flags, environment
variables, endpoints, logs and signals. GDB_CONTROLLER_BIN names the binary."""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

BIN = os.environ["GDB_CONTROLLER_BIN"]
FLAGS = ["kubeconfig", "namespace", "leader-elect", "leader-election-namespace",
         "leader-election-id", "metrics-bind-address", "health-probe-bind-address",
         "concurrency", "log-level", "log-format"]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GLOBALDB_") and k != "POD_NAMESPACE"}
    env.update(extra)
    return env


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=20,
                          env=env or clean_env())


class Controller:
    """A running controller whose stderr is read line by line, as JSON."""

    def __init__(self, *args, env=None, loopback=True):
        ports = ["--metrics-bind-address=127.0.0.1:0",
                 "--health-probe-bind-address=127.0.0.1:0"] if loopback else []
        self.proc = subprocess.Popen(
            [BIN, "--log-format=json", *ports, *args],
            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env or clean_env())
        self.lines = queue.Queue()
        self.log = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, msg, deadline_s=10):
        """The next log record with this msg, every line before it kept in self.log."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            rec = json.loads(line)
            self.log.append(rec)
            if rec["msg"] == msg:
                return rec
        raise AssertionError(f"no {msg!r} in log: {self.log}")

    def ports(self):
        """Waits for start-up and returns {endpoints: port}."""
        self.wait_for("started")
        return {r["endpoints"]: int(r["port"]) for r in self.log if r["msg"] == "serving http"}

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


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


@pytest.mark.parametrize("args, complaint", [
    (["--bogus"], "unknown flag: --bogus"),
    (["--kube=x"], "unknown flag: --kube"),          # no abbreviations
    (["--namespace"], "flag needs an argument: --namespace"),
    (["--concurrency=0"], "invalid value for --concurrency"),
    (["--concurrency", "ten"], "invalid value for --concurrency"),
    (["--log-format=xml"], "invalid value for --log-format"),
    (["--log-level=loud"], "invalid value for --log-level"),
    (["--leader-elect=maybe"], "invalid value for --leader-elect"),
    (["--metrics-bind-address=8080"], "invalid value for --metrics-bind-address"),
    (["--namespace=Not_A_Namespace"], "invalid value for --namespace"),
    (["--leader-election-id=bad..id"], "invalid value for --leader-election-id"),
    (["--kubeconfig=/nonexistent/kubeconfig"], "invalid value for --kubeconfig"),
    (["extra"], "unexpected argument: extra"),
    (["--leader-elect"], "--leader-elect needs --leader-election-namespace"),
])
def test_bad_flags_exit_2_with_a_message(args, complaint):
    r = run(*args)
    assert r.returncode == 2
    assert complaint in r.stderr
    assert "--help" in r.stderr
    assert r.stdout == ""


def test_bad_environment_variable_is_named():
    r = run(env=clean_env(GLOBALDB_CONCURRENCY="-3"))
    assert r.returncode == 2
    assert "GLOBALDB_CONCURRENCY (--concurrency)" in r.stderr


def test_endpoints_serve_probes_and_metrics_then_sigterm_exits_0():
    with Controller() as c:
        ports = c.ports()
        health, metrics = ports["/healthz,/readyz"], ports["/metrics"]
        assert health != metrics
        assert get(health, "/healthz") == (200, "text/plain; charset=utf-8", "ok")
        status, _, body = get(health, "/readyz?verbose")
        assert status == 200 and "[+]controller-started ok\n" in body
        status, ctype, body = get(metrics, "/metrics")
        assert status == 200 and "version=0.0.4" in ctype
        assert "# TYPE globaldb_build_info gauge\n" in body
        assert re.search(r'^globaldb_build_info\{version="\d+\.\d+\.\d+"\} 1$', body, re.M)
        assert get(metrics, "/healthz")[0] == 404
        assert get(health, "/metrics")[0] == 404

        start = time.monotonic()
        assert c.stop(signal.SIGTERM) == 0
        assert time.monotonic() - start < 30
        c.wait_for("stopped")
        assert any(r["msg"] == "shutting down" and r["signal"] == "SIGTERM" for r in c.log)


def test_sigint_also_shuts_down_cleanly():
    with Controller() as c:
        c.ports()
        assert c.stop(signal.SIGINT) == 0


def test_environment_variables_configure_and_flags_win():
    env = clean_env(GLOBALDB_NAMESPACE="team-a", GLOBALDB_CONCURRENCY="7",
                    GLOBALDB_LOG_LEVEL="debug", GLOBALDB_METRICS_BIND_ADDRESS="0",
                    GLOBALDB_HEALTH_PROBE_BIND_ADDRESS="127.0.0.1:0",
                    GLOBALDB_LEADER_ELECT="true", POD_NAMESPACE="globaldb-system")
    with Controller("--concurrency=3", env=env, loopback=False) as c:
        rec = c.wait_for("starting globaldb-controller")
        assert rec["namespace"] == "team-a"
        assert rec["concurrency"] == "3"                      # the flag beat the variable
        assert rec["leader_elect"] == "true"
        assert rec["leader_election_namespace"] == "globaldb-system"   # from POD_NAMESPACE
        assert rec["leader_election_lease"] == "globaldb-controller.globaldb.io"
        ports = c.ports()
        assert list(ports) == ["/healthz,/readyz"]             # metrics disabled with "0"
        assert any(r["level"] == "debug" for r in c.log)       # GLOBALDB_LOG_LEVEL took effect
        assert c.stop() == 0


def test_one_address_for_both_serves_everything():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"127.0.0.1:{port}"
    with Controller(f"--metrics-bind-address={addr}", f"--health-probe-bind-address={addr}") as c:
        assert c.ports() == {"/metrics,/healthz,/readyz": port}
        assert get(port, "/metrics")[0] == 200
        assert get(port, "/readyz")[0] == 200
        assert c.stop() == 0


def test_a_busy_port_fails_start_up_with_status_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with Controller(f"--health-probe-bind-address=127.0.0.1:{port}") as c:
            assert c.proc.wait(timeout=10) == 1
            rec = c.wait_for("cannot serve http")
            assert rec["error"] == "address already in use"


def test_text_logs_are_one_line_per_event():
    p = subprocess.Popen([BIN, "--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0"],
                         stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        first = p.stderr.readline()
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info starting globaldb-controller ", first)
        assert "namespace=(all)" in first
        while "started" not in p.stderr.readline():
            pass
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
