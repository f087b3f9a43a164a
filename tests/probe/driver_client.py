"""A client for tests/probe/probe_driver (its line protocol is documented
there): used by the probe integration tests and the probe benchmark."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time


def now_ms() -> int:
    """CLOCK_MONOTONIC in milliseconds: the clock of the driver's events."""
    return int(time.monotonic() * 1000)


def _parse(line: str) -> dict:
    out = {}
    for word in line.split()[1:]:
        k, _, v = word.partition("=")
        out[k] = v
    return out


class Driver:
    """probe_driver with its line protocol (see tests/probe/probe_driver.c)."""

    def __init__(self, password: str, prefix=(), workdir=None):
        exe = os.environ.get("GDB_PROBE_DRIVER")
        if not exe:
            raise RuntimeError("GDB_PROBE_DRIVER is not set: run through ctest")
        env = dict(os.environ, GDB_PROBE_PASSWORD=password)
        self.password = password
        self.stderr_path = os.path.join(
            workdir or tempfile.gettempdir(), f"probe-driver-{os.getpid()}-{id(self)}.log"
        )
        self._stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(
            list(prefix) + [exe],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            env=env,
        )
        self.events = []
        self.replies = []
        self.cond = threading.Condition()
        self.stdout_text = []
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self.cond:
                self.stdout_text.append(line)
                if line.startswith("event "):
                    ev = _parse(line)
                    ev["mono_ms"] = int(ev["mono_ms"])
                    ev["lag_ms"] = int(ev["lag_ms"])
                    self.events.append(ev)
                else:
                    self.replies.append(line)
                self.cond.notify_all()
        with self.cond:
            self.replies.append(None)
            self.cond.notify_all()

    def cmd(self, line: str, timeout=10.0, multiline=False) -> str:
        with self.cond:
            self.replies.clear()
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.replies and (not multiline or self.replies[-1] in ("end", None)):
                    if multiline:
                        out = "\n".join(r for r in self.replies if r is not None)
                    else:
                        out = self.replies[0]
                    self.replies.clear()
                    if out is None:
                        raise RuntimeError("probe_driver exited")
                    return out
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply to {line.split()[0]!r}")
                self.cond.wait(left)

    def set(self, **kw):
        words = " ".join(f"{k}={v}" for k, v in kw.items())
        reply = self.cmd("set " + words)
        assert reply == "ok", reply

    def get(self, name) -> dict:
        reply = self.cmd("get " + name)
        assert reply.startswith("verdict "), reply
        v = _parse(reply)
        for k in (
            "fails",
            "succs",
            "probes",
            "ok",
            "lag_ms",
            "seq",
            "duration_ms",
            "written_ms",
            "failing_since_ms",
            "upstream_ms",
        ):
            v[k] = int(v[k])
        return v

    def metrics(self) -> str:
        return self.cmd("metrics", multiline=True)

    def wait_event(self, name, health=None, after_ms=0, timeout=15.0, pred=None) -> dict:
        """The first event for name at or after after_ms with that health."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if ev["name"] != name or ev["mono_ms"] < after_ms:
                        continue
                    if health and ev["health"] != health:
                        continue
                    if pred and not pred(ev):
                        continue
                    return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {health or ''} event for {name} within {timeout}s; "
                        f"events: {[e for e in self.events if e['name'] == name]}"
                    )
                self.cond.wait(left)

    def wait_verdict(self, name, pred, timeout=15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            v = self.get(name)
            if pred(v):
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"verdict of {name} never matched: {v}")
            time.sleep(0.05)

    def logs(self) -> str:
        self._stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def close(self, timeout=10.0) -> float:
        """Quits the driver; returns how long quitting took (seconds). Idempotent."""
        if self.closed:
            return 0.0
        self.closed = True
        t0 = time.monotonic()
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        elapsed = time.monotonic() - t0
        self.reader.join(5)
        self._stderr.close()
        os.unlink(self.stderr_path)
        assert self.proc.returncode == 0, f"probe_driver exited {self.proc.returncode}"
        return elapsed
