"""Fixtures for the emulator suites: the emulator process and its admin API
(tests/support/awsemu_fixture.py), boto3 clients, and temp roots."""

import functools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_DIR = os.path.normpath(os.path.join(HERE, "..", "env"))
SUPPORT_DIR = os.path.normpath(os.path.join(HERE, "..", "support"))
for _d in (ENV_DIR, SUPPORT_DIR):
    if _d not in sys.path:
        sys.path.insert(0, _d)

import pytest  # noqa: E402

import awsemu_fixture  # noqa: E402
import waiting  # noqa: E402
from awsemu_fixture import DELAY_KEYS, Admin  # noqa: E402,F401
from scratch import pg_scratch_dir  # noqa: E402

REGIONS = ("us-east-1", "us-west-2")

# These suites poll fast: the emulator answers in milliseconds.
wait_for = functools.partial(waiting.wait_for, timeout=30, interval=0.05)

# The shared fixture, under the name the tests ask for.
emulator = awsemu_fixture.emulator


@pytest.fixture
def admin(emulator):
    emulator.reset()
    emulator.delays(**{k: 0 for k in DELAY_KEYS})
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
    """A directory for PostgreSQL servers, outside pytest's basetemp (see scratch.py)."""
    with pg_scratch_dir("awsemu-pg-") as root:
        yield root
