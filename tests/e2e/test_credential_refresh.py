"""The credential endpoint hangs while a failover runs: the failover proceeds.

The controller takes its AWS keys from a container-credentials endpoint (the
emulator's, as EKS Pod Identity or ECS would serve them) that hands out keys
living TTL seconds; the controller refreshes them halfway to expiry, in the
background. The endpoint then hangs every request. The refresh that falls due
hangs and fails, again and again, while the keys it already holds are still
valid: an unplanned failover run in that time must complete, and no AWS call
may be refused for want of credentials (before the background refresh, every
call in the last 15 minutes of the keys' life fetched new ones under one lock,
waited for the endpoint's timeouts, and was refused in the last 10 minutes).
"""

import time

from conftest import EAST, WEST, Controller, metric_value, wait_for
from test_failover import wait_last_operation

# Long enough that a failover fits between the refresh falling due (TTL/2)
# and expiry on a loaded machine (it took 12 s after the outage on 2 busy
# cores), short enough for the tier's budget: the test waits TTL/2 for the
# refresh to fall due.
TTL = 120


def creds_state(emulator):
    return emulator.get("/container-credentials/config")["containerCredentials"]


def refused_calls(metrics):
    """AWS calls the client gave up on because the provider had no credentials."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("globaldb_aws_requests_total{") and 'code="credentials"' in line
    )


def test_a_failover_proceeds_while_the_credential_endpoint_hangs(
    world, controller_bin, testenv, emulator, tmp_path
):
    emulator.post("/container-credentials/config", {"mode": "ok", "ttlSeconds": TTL})
    c = Controller(
        controller_bin,
        testenv,
        emulator,
        world.ns,
        str(tmp_path),
        aws_env={
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": emulator.url + "/_awsemu/container-credentials"
        },
    )
    try:
        c.wait_ready()
        world.kubectl.apply(world.gdb_manifest(failover={"method": "Managed"}))
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        assert creds_state(emulator)["served"] >= 1, "the controller never fetched keys"
        wait_for(
            lambda: (
                next(r for r in world.status()["regions"] if r["name"] == WEST).get(
                    "replicationLagSeconds"
                )
                is not None
            ),
            timeout=30,
            what="a measured replication lag for us-west-2",
        )
        # From here on no fetch gets keys. The last keys served expire TTL after
        # they were fetched; their refresh falls due TTL/2 after.
        emulator.post("/container-credentials/config", {"mode": "hang"})
        t_hang = time.monotonic()
        served = creds_state(emulator)["served"]
        since = max(x["seq"] for x in emulator.calls())

        # The refresh is due and hangs: the keys have about TTL/2 left.
        wait_for(
            lambda: creds_state(emulator)["held"] >= 1,
            timeout=TTL,
            what="a credential refresh to hang",
        )
        t0 = time.monotonic()
        emulator.outage(EAST, "5xx", pg="freeze", services=["rds"])
        last = wait_last_operation(world, "Failover", timeout=TTL / 2)
        took = time.monotonic() - t0
        assert last["result"] == "Succeeded", last
        assert world.status()["currentPrimaryRegion"] == WEST
        st = creds_state(emulator)
        assert st["served"] == served, f"the endpoint handed out keys during the hang: {st}"
        print(
            f"\nfailover done {took:.1f}s after the outage, "
            f"{time.monotonic() - t_hang:.1f}s into the credential endpoint's hang; "
            f"credential requests held: {st['held']}"
        )

        failovers = [x for x in emulator.calls() if x["seq"] > since]
        assert any(x["action"] == "FailoverGlobalCluster" and x["status"] == 200 for x in failovers)
        m = c.metrics()
        assert refused_calls(m) == 0, "an AWS call was refused for want of credentials"
        failed = metric_value(
            m, "globaldb_aws_credential_refreshes_total", source="container", result="error"
        )
        assert failed and failed >= 1, "no failed refresh was counted"

        # The endpoint recovers: the controller fetches new keys in the background.
        emulator.post("/container-credentials/config", {"mode": "ok"})
        wait_for(
            lambda: creds_state(emulator)["served"] > served,
            timeout=120,  # the refresher's backoff has reached about a minute
            what="new keys after the endpoint recovered",
        )
        emulator.outage(EAST, "off")
    finally:
        emulator.post("/container-credentials/config", {"mode": "ok"})
        rc = c.stop()
        text = open(c.log_path).read()
        print("\n---- controller log (tail) ----\n" + text[-6000:])
        assert rc == 0, f"controller exited with {rc} after SIGTERM"
