"""The probe against a real PostgreSQL 15 in each authentication mode, over
TLS with a CA of the test's own: SCRAM with channel binding (the default),
SCRAM without TLS, MD5 and trust (each only with allowInsecurePassword),
and a wrong password (an auth failure with the server's SQLSTATE)."""

from __future__ import annotations

import hashlib
import os

import pytest

import pgenv
from conftest import target_words
from tlscerts import enable_tls, make_ca, make_server_cert

PW = pgenv.DEFAULT_PASSWORD

HBA = """# written by tests/probe/test_probe_auth.py
local all all trust
hostssl all trust_user 127.0.0.1/32 trust
hostssl all md5_user 127.0.0.1/32 md5
host all all 127.0.0.1/32 scram-sha-256
"""


@pytest.fixture(scope="module")
def server(pgroot):
    srv = pgenv.init_primary(pgroot, "auth")
    try:
        certs = os.path.join(pgroot, "auth-certs")
        os.makedirs(certs, exist_ok=True)
        make_ca(certs, "ca")
        make_ca(certs, "other-ca")
        make_server_cert(certs)
        enable_tls(srv, certs, pgenv.SERVICE_USER)
        md5 = "md5" + hashlib.md5((PW + "md5_user").encode()).hexdigest()
        srv.sql(f"CREATE ROLE md5_user LOGIN PASSWORD '{md5}'")
        srv.sql(f"CREATE ROLE scram_user LOGIN PASSWORD '{PW}'")
        srv.sql("CREATE ROLE trust_user LOGIN")
        with open(os.path.join(srv.datadir, "pg_hba.conf"), "w") as f:
            f.write(HBA)
        srv.sql("SELECT pg_reload_conf()")
        srv.ca = os.path.join(certs, "ca.crt")
        srv.other_ca = os.path.join(certs, "other-ca.crt")
        yield srv
    finally:
        srv.destroy()


def reader(srv, name, user, **extra):
    # A reader logs in and reads the heartbeat table; a missing table is still healthy.
    return target_words(srv, name, kind="reader", user=user, fail=1, succ=1, **extra)


def test_scram_with_channel_binding_is_the_default_and_works(server, driver):
    d = driver()
    d.set(**reader(server, "scram-plus", "scram_user", sslmode=None))
    d.set(
        **reader(
            server, "scram-plus-vf", "scram_user", sslmode="verify-full", sslrootcert=server.ca
        )
    )
    # The CA as the controller passes caBundleRef: an in-memory file, /proc/self/fd/N.
    d.set(
        **reader(
            server,
            "scram-plus-vf-mem",
            "scram_user",
            sslmode="verify-full",
            sslrootcert_mem=server.ca,
        )
    )
    d.wait_event("scram-plus", "healthy")
    d.wait_event("scram-plus-vf", "healthy")
    d.wait_event("scram-plus-vf-mem", "healthy")
    rows = server.sql(
        "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
        "WHERE usename = 'scram_user'"
    )
    assert rows[0][0] is True


def test_scram_without_tls_only_with_the_opt_in(server, driver):
    d = driver()
    d.set(**reader(server, "scram-plain", "scram_user", sslmode="disable", insecure=1))
    d.set(**reader(server, "scram-prefer", "scram_user", sslmode="prefer"))
    d.wait_event("scram-plain", "healthy")
    d.wait_event("scram-prefer", "healthy")  # the server offers TLS: bound as with require


@pytest.mark.parametrize("user", ["md5_user", "trust_user"])
def test_md5_and_trust_are_refused_by_default_and_work_with_the_opt_in(server, driver, user):
    d = driver()
    d.set(**reader(server, "default", user, sslmode=None))
    d.set(**reader(server, "opt-in", user, sslmode="require", insecure=1))
    ev = d.wait_event("default", "unhealthy")
    assert ev["reason"] == "insecure_auth", ev
    assert d.get("default")["sqlstate"] == "-"  # no server refusal: the probe refused
    d.wait_event("opt-in", "healthy")


def test_a_wrong_password_is_auth_with_the_servers_sqlstate(server, driver):
    d = driver(password="not-the-password")
    d.set(**reader(server, "wrong", "scram_user", sslmode=None))
    ev = d.wait_event("wrong", "unhealthy")
    assert ev["reason"] == "auth", ev
    assert d.get("wrong")["sqlstate"] == "28P01"


def test_too_many_connections_is_unavailable_with_its_sqlstate(server, driver):
    # CONNECTION LIMIT 0: the server refuses the session with 53300, as a full server does.
    server.sql(f"CREATE ROLE limited_user LOGIN PASSWORD '{PW}' CONNECTION LIMIT 0")
    d = driver()
    d.set(**reader(server, "full", "limited_user", sslmode=None))
    ev = d.wait_event("full", "unhealthy")
    assert ev["reason"] == "unavailable", ev
    assert d.get("full")["sqlstate"] == "53300"


def test_a_ca_bundle_in_memory_refuses_a_certificate_of_another_ca(server, driver):
    d = driver()
    d.set(
        **reader(
            server, "other", "scram_user", sslmode="verify-ca", sslrootcert_mem=server.other_ca
        )
    )
    d.set(
        **reader(
            server,
            "require-other",
            "scram_user",
            sslmode="require",
            sslrootcert_mem=server.other_ca,
        )
    )
    ev = d.wait_event("other", "unhealthy")
    assert ev["reason"] == "tls", ev
    # require with a CA bundle given checks the chain too (libpq's rule).
    ev = d.wait_event("require-other", "unhealthy")
    assert ev["reason"] == "tls", ev
