"""The prober when packets vanish: PostgreSQL and the probes run in a network
namespace this module creates, where nftables drops the server's packets
(no RST, no ICMP) and, for the name-resolution case, the DNS queries.

Needs root (ip netns, nft); fails, never skips, without it. Touches nothing
outside its own namespace, except /etc/netns/<ns>/resolv.conf, the file
`ip netns exec` mounts over /etc/resolv.conf inside that namespace only; it
is removed afterwards, as is the namespace.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess

import pytest

import pgenv
from conftest import now_ms, target_words

CLONE_NEWNET = 0x40000000
PERIOD, TIMEOUT, FAIL, SUCC = 1000, 1000, 3, 2
DETECT_MS = FAIL * PERIOD + TIMEOUT + 1000
RECOVER_MS = SUCC * PERIOD + TIMEOUT + 1000
TABLE = "gdbprobe"

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _nft(*args):
    subprocess.run(["nft", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0:
        pytest.fail("test_probe_netns needs root (ip netns, nft); CI runs it as root")
    name = f"gdbprobe-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    orig = os.open("/proc/self/ns/net", os.O_RDONLY)
    nsfd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(nsfd)  # this thread, and every process it starts from now on
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        _nft("add", "table", "inet", TABLE)
        _nft(
            "add",
            "chain",
            "inet",
            TABLE,
            "input",
            "{ type filter hook input priority 0; policy accept; }",
        )
        yield name
    finally:
        _setns(orig)
        os.close(nsfd)
        os.close(orig)
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="module")
def server(netns, pgroot):
    srv = pgenv.init_primary(pgroot, "netns-primary")
    yield srv
    srv.destroy()


def _drop(*match):
    """Adds a drop rule for loopback packets matching match; returns its handle."""
    out = subprocess.run(
        [
            "nft",
            "--echo",
            "--handle",
            "add",
            "rule",
            "inet",
            TABLE,
            "input",
            "iifname",
            "lo",
            *match,
            "drop",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.rsplit("# handle", 1)[1].split()[0]


def _undrop(handle):
    _nft("delete", "rule", "inet", TABLE, "input", "handle", handle)


def test_blackholed_server_is_detected_within_the_deadlines(server, driver):
    d = driver()
    d.set(**target_words(server, "bh-w"))
    d.set(**target_words(server, "bh-r", kind="reader"))
    d.wait_event("bh-w", "healthy")
    d.wait_event("bh-r", "healthy")

    rules = [_drop("tcp", "dport", str(server.port)), _drop("tcp", "sport", str(server.port))]
    t0 = now_ms()
    try:
        for name in ("bh-w", "bh-r"):
            ev = d.wait_event(name, "unhealthy", after_ms=t0, timeout=DETECT_MS / 1000 + 5)
            print(f"{name}: unhealthy after {ev['mono_ms'] - t0} ms (bound {DETECT_MS})")
            assert ev["mono_ms"] - t0 <= DETECT_MS, (name, ev["mono_ms"] - t0)
            assert ev["reason"] == "timeout", ev
            assert d.get(name)["duration_ms"] <= TIMEOUT + 100
    finally:
        for h in rules:
            _undrop(h)
    t1 = now_ms()
    for name in ("bh-w", "bh-r"):
        ev = d.wait_event(name, "healthy", after_ms=t1, timeout=RECOVER_MS / 1000 + 5)
        print(f"{name}: healthy again after {ev['mono_ms'] - t1} ms (bound {RECOVER_MS})")
        assert ev["mono_ms"] - t1 <= RECOVER_MS, (name, ev["mono_ms"] - t1)


def test_hung_name_resolution_neither_outlives_the_deadline_nor_stalls_others(
    netns, server, driver
):
    # Inside the namespace, names resolve through 127.0.0.1:53, whose packets
    # are dropped: getaddrinfo() hangs for timeout x attempts = 10 s.
    etc_dir = f"/etc/netns/{netns}"
    created_parent = not os.path.isdir("/etc/netns")
    os.makedirs(etc_dir)
    rules = []
    try:
        with open(os.path.join(etc_dir, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:5 attempts:2\n")
        rules = [_drop("udp", "dport", "53"), _drop("tcp", "dport", "53")]
        d = driver(prefix=["ip", "netns", "exec", netns])
        t0 = now_ms()
        d.set(**target_words(server, "by-ip", fail=2))
        d.set(**target_words(server, "by-name", fail=2, host="db.gdb-probe.test"))
        ev = d.wait_event("by-name", "unhealthy", timeout=10)
        assert ev["reason"] == "resolve", ev
        assert ev["mono_ms"] - t0 <= 2 * PERIOD + TIMEOUT + 1000
        v = d.get("by-name")
        assert v["duration_ms"] <= TIMEOUT + 100, v
        # The target with an address kept its one-per-period schedule meanwhile.
        d.wait_event("by-ip", "healthy", timeout=1)
        elapsed = now_ms() - t0
        v = d.get("by-ip")
        assert v["health"] == "healthy" and v["fails"] == 0, v
        assert v["probes"] >= elapsed // PERIOD - 1, (v, elapsed)
        # Quitting does not wait for the resolver threads stuck in getaddrinfo().
        assert d.close() < 3.0
    finally:
        for h in rules:
            _undrop(h)
        shutil.rmtree(etc_dir, ignore_errors=True)
        if created_parent:
            shutil.rmtree("/etc/netns", ignore_errors=True)
