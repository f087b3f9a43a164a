"""Helpers for running the globaldb-controller binary in tests: a clean
environment, one-shot runs, and a running controller whose JSON log lines are
read as they come. GDB_CONTROLLER_BIN names the binary; GDB_CONTROLLER_EMULATOR,
when set, the program that runs it (qemu-aarch64-static for the arm64 build)."""

import json
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request

from waiting import HANG_GUARD_S

BIN = os.environ["GDB_CONTROLLER_BIN"]
EMULATOR = os.environ.get("GDB_CONTROLLER_EMULATOR", "").split()

# Nothing the controller does in these tests may reach real AWS: endpoints on a
# closed loopback port, static dummy keys (so the credential chain never asks
# IMDS), metadata off.
AWS_SAFE = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "AKIDTESTONLY",
    "AWS_SECRET_ACCESS_KEY": "test-only",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_REGION": "us-east-1",
}


def clean_env(**extra):
    """The test's environment without anything that configures the controller."""
    drop = ("GLOBALDB_", "AWS_", "KUBERNETES_SERVICE_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and k not in ("POD_NAMESPACE", "KUBECONFIG")
    }
    env.update(AWS_SAFE)
    env.update(extra)
    return env


def run(*args, env=None):
    return subprocess.run(
        [*EMULATOR, BIN, *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env=env or clean_env(),
    )


class Controller:
    """A running controller whose stderr is read line by line, as JSON."""

    def __init__(self, *args, env=None, loopback=True, argv0=None):
        ports = (
            ["--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0"]
            if loopback
            else []
        )
        self.proc = subprocess.Popen(
            [*EMULATOR, *(argv0 or [BIN]), "--log-format=json", *ports, *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env or clean_env(),
        )
        self.lines = queue.Queue()
        self.log = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, msg, deadline_s=90):
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

    def stop(self, sig):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=HANG_GUARD_S)
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
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=HANG_GUARD_S) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()
