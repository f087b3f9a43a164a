"""pgenv: primary + streaming standby on loopback, promotion, rejoin."""

import time

import pytest

import pgenv


def make_pair(root):
    primary = pgenv.init_primary(root, "p")
    standby = pgenv.make_standby(primary, root, "s")
    return primary, standby


@pytest.fixture
def pair(pg_root):
    """A primary and its standby that the test may promote, kill or rewind."""
    p, s = make_pair(pg_root)
    yield p, s
    for srv in (s, p):
        srv.destroy()


@pytest.fixture(scope="module")
def shared_pair():
    """A primary and its standby for tests that leave them as they found them."""
    import shutil
    import tempfile

    root = tempfile.mkdtemp(prefix="awsemu-pg-")
    p, s = make_pair(root)
    yield p, s
    for srv in (s, p):
        srv.destroy()
    shutil.rmtree(root, ignore_errors=True)


def count(srv):
    return srv.sql("SELECT count(*) FROM t")[0][0]


def test_write_on_primary_is_read_on_standby(shared_pair):
    primary, standby = shared_pair
    assert not primary.in_recovery()
    assert standby.in_recovery()
    primary.sql("CREATE TABLE w (id int primary key)")
    primary.sql("INSERT INTO w SELECT generate_series(1, 100)")
    lsn = primary.current_lsn()
    standby.wait_replayed(lsn)
    assert standby.sql("SELECT count(*) FROM w")[0][0] == 100
    with pytest.raises(Exception, match="read-only"):
        standby.sql("INSERT INTO w VALUES (1000)")


def test_listens_on_loopback_with_password_auth(shared_pair):
    import psycopg

    primary, _ = shared_pair
    assert primary.sql("SHOW listen_addresses") == [("127.0.0.1",)]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(primary.dsn(password="wrong")).close()


def test_promote_then_old_primary_rejoins_as_standby(pair):
    primary, standby = pair
    primary.sql("CREATE TABLE t (id int primary key)")
    primary.sql("INSERT INTO t SELECT generate_series(1, 10)")
    standby.wait_replayed(primary.current_lsn())
    primary.kill()  # an unclean end, as an outage
    standby.promote()
    assert not standby.in_recovery()
    standby.sql("INSERT INTO t VALUES (11)")
    pgenv.rejoin_as_standby(primary, standby)
    assert primary.in_recovery()
    primary.wait_replayed(standby.current_lsn())
    assert count(primary) == 11


def test_diverged_primary_is_rewound(pair):
    primary, standby = pair
    primary.sql("CREATE TABLE t (id int primary key)")
    standby.wait_replayed(primary.current_lsn())
    primary.freeze()
    standby.promote()
    primary.thaw()
    primary.sql("INSERT INTO t VALUES (999)")  # a write the new primary never sees
    standby.sql("INSERT INTO t VALUES (1)")
    pgenv.rejoin_as_standby(primary, standby)
    primary.wait_replayed(standby.current_lsn())
    assert primary.sql("SELECT id FROM t ORDER BY id") == [(1,)]


def test_freeze_holds_connections_and_thaw_releases(shared_pair):
    import psycopg

    primary, _ = shared_pair
    primary.freeze()
    t0 = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(primary.dsn() + " connect_timeout=2").close()
    assert time.monotonic() - t0 >= 1.5
    primary.thaw()
    assert primary.sql("SELECT 1") == [(1,)]


def test_a_port_taken_after_it_was_chosen_is_chosen_again(pg_root, monkeypatch):
    import socket

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    choices = [taken]
    real = pgenv.free_port
    monkeypatch.setattr(pgenv, "free_port", lambda: choices.pop() if choices else real())
    srv = pgenv.init_primary(pg_root, "p")
    try:
        assert srv.port != taken
        assert srv.sql("SHOW port") == [(str(srv.port),)]
    finally:
        srv.destroy()
        squatter.close()
