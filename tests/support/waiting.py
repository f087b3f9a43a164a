"""Waiting for a condition: the one way the Python tests poll, and the waits
the end-to-end and chaos tests share (a measured replication lag, rows that
reached a region).

Tests wait for what they need to see, never for a fixed time: on a loaded
2-core CI machine every fixed sleep is either too long or, one day, too short.
"""

import time

# A subprocess's deadline in a test catches a hang, not slowness. Under a
# sanitizer, at a low priority, beside a compile on a 2-core machine, a program
# that takes 0.6 s alone took over 30 s (the TSan sweep of session 11), so the
# guard is minutes, and a test that means to check speed is a benchmark.
HANG_GUARD_S = 300


def wait_for(cond, timeout=60, interval=0.2, what="condition"):
    """Poll cond() until it returns a truthy value; return that value.

    cond may raise (an assert that explains what it saw, or a lookup that cannot
    succeed yet): the exception is retried, and the last one is named when the
    wait times out."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # cond may assert to explain itself, or not be able to yet
            last_exc = e
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}"
                + (f": {last_exc}" if last_exc else "")
            )
        time.sleep(interval)


def hold(seconds, check, what):
    """check() must hold at every look for seconds: asserting that something does not
    happen (a call that must not come) has no event to await. what names it in the
    failure."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from e
        if time.monotonic() >= deadline:
            return
        time.sleep(0.5)


def region_row(status, region):
    """The entry of status.regions[] named region ({} when there is none)."""
    return next((r for r in status.get("regions", []) if r["name"] == region), {})


def lag_seconds(world, region):
    """The replication lag the controller reports for region now, or None."""
    return region_row(world.status(), region).get("replicationLagSeconds")


def wait_lag_measured(world, region, timeout=30):
    """Wait until the controller reports a measured replication lag for region
    (the probes have read the writer's heartbeat there)."""
    wait_for(
        lambda: lag_seconds(world, region) is not None,
        timeout=timeout,
        what=f"a measured replication lag for {region}",
    )


def wait_rows(world, region, cluster_id, tag, n, timeout=30):
    """Wait until n rows tagged tag are readable on cluster_id in region."""
    wait_for(
        lambda: world.count_rows(region, cluster_id, tag) == n,
        timeout=timeout,
        what=f"{n} rows {tag} to replicate to {region}",
    )
