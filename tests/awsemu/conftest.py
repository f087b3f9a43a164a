"""Shared fixtures for the emulator suites: import paths and temp roots."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_DIR = os.path.normpath(os.path.join(HERE, "..", "env"))
if ENV_DIR not in sys.path:
    sys.path.insert(0, ENV_DIR)

import json
import subprocess
import time
import urllib.request

import pytest

REGIONS = ("us-east-1", "us-west-2")


def wait_for(cond, timeout=30, interval=0.05, what="condition"):
    """Poll cond() until it returns a truthy value; that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


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

    def get(self, path):
        return self._req("GET", path)

    def post(self, path, body=None):
        return self._req("POST", path, body or {})

    def reset(self):
        return self.post("/reset")

    def delays(self, **d):
        return self.post("/config", {"delays": d})

    def outage(self, region, mode, pg="freeze", services=None):
        body = {"region": region, "mode": mode, "pg": pg}
        if services:
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
    python = sys.executable
    url_file = tmp_path_factory.mktemp("awsemu") / "url"
    log = open(url_file.with_name("awsemu.log"), "w")
    env = dict(os.environ)
    env["PYTHONPATH"] = ENV_DIR + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [python, "-m", "awsemu", "--fast", "--url-file", str(url_file)],
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
        assert proc.poll() is None, open(url_file.with_name("awsemu.log")).read()
        yield Admin(url_file.read_text().strip())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def admin(emulator):
    emulator.reset()
    emulator.delays(
        **{
            k: 0
            for k in (
                "cluster_create",
                "cluster_modify",
                "cluster_promote",
                "failover_pending",
                "failover_run",
                "failover_finish",
                "resync",
            )
        }
    )
    yield emulator
    errors = emulator.errors()
    emulator.reset()
    assert errors == [], f"emulator background errors: {errors}"


@pytest.fixture
def aws(admin):
    """aws(service, region, **config) -> a boto3 client pointed at the emulator."""
    import boto3
    from botocore.config import Config

    def make(service, region="us-east-1", retries=1, read_timeout=30):
        cfg = Config(
            retries={"total_max_attempts": retries, "mode": "standard"},
            read_timeout=read_timeout,
            connect_timeout=5,
        )
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=admin.url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="not-a-secret",
            config=cfg,
        )

    return make


@pytest.fixture
def pg_root():
    """A directory for PostgreSQL servers, outside pytest's basetemp.

    As root, the servers' files belong to the postgres user, who must be able
    to traverse every parent directory; pytest takes group/other permissions
    off /tmp/pytest-of-<user> whenever any pytest session starts, which would
    lock that user out of servers still running.
    """
    import shutil
    import tempfile

    root = tempfile.mkdtemp(prefix="awsemu-pg-")
    yield root
    shutil.rmtree(root, ignore_errors=True)
