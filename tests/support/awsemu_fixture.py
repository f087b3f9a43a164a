"""The AWS emulator (moto + our global-database extension, tests/env/awsemu)
as a session fixture, and its /_awsemu admin API. The end-to-end, chaos and
emulator suites share it: their conftest.py imports `emulator` from here, so
pytest finds the fixture under its usual name."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from waiting import wait_for

ENV_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "env"))

# Every simulated Aurora delay (emulator.delays(**{k: 0 for k in DELAY_KEYS}) zeroes them).
DELAY_KEYS = (
    "cluster_create",
    "cluster_modify",
    "cluster_promote",
    "failover_pending",
    "failover_run",
    "failover_finish",
    "resync",
)


class Admin:
    """The emulator's /_awsemu admin API."""

    def __init__(self, url):
        self.url = url

    def _req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + "/_awsemu" + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    def post(self, path, body=None):
        return self._req("POST", path, body or {})

    def get(self, path):
        return self._req("GET", path)

    def reset(self):
        return self.post("/reset")

    def delays(self, **d):
        return self.post("/config", {"delays": d})

    def outage(self, region, mode, pg="freeze", services=None):
        body = {"region": region, "mode": mode, "pg": pg}
        if services is not None:
            body["services"] = services
        return self.post("/outage", body)

    def calls(self, **filters):
        q = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.get("/calls" + (f"?{q}" if q else ""))["calls"]

    def bind(self, region, cluster_id, writer, reader=None):
        return self.post(
            "/bind",
            {
                "region": region,
                "dbClusterIdentifier": cluster_id,
                "writer": writer.to_dict(),
                "reader": reader.to_dict() if reader else None,
            },
        )

    def errors(self):
        return self.get("/errors")["errors"]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """One emulator process (python -m awsemu --fast) for the session."""
    d = tmp_path_factory.mktemp("awsemu")
    url_file = d / "url"
    log = open(d / "awsemu.log", "w")
    env = dict(os.environ)
    env["PYTHONPATH"] = ENV_DIR + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "awsemu", "--fast", "--url-file", str(url_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        wait_for(
            lambda: url_file.exists() or proc.poll() is not None,
            timeout=60,
            what="the emulator to listen",
        )
        assert proc.poll() is None, (d / "awsemu.log").read_text()
        yield Admin(url_file.read_text().strip())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
