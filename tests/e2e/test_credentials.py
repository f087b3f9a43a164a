"""A rotated probe password: the probes follow the Secret, and nothing fails over.

The controller keeps the probe credentials for minutes (re-reading a Secret
per object per reconcile would load the apiserver at scale), so it must
re-read them as soon as the database refuses them: a rotated password then
costs one failure threshold of probes, not the cache's lifetime, and the
primary region's healthy RDS API keeps the failed writes from looking like an
outage meanwhile.
"""

import time

from conftest import EAST, wait_for

MOVERS = {"FailoverGlobalCluster", "RemoveFromGlobalCluster", "SwitchoverGlobalCluster"}


def auth_failures(controller):
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in controller.metrics().splitlines()
        if line.startswith("globaldb_probe_failures_total{") and 'reason="auth"' in line
    )


def test_rotated_password_is_picked_up_without_a_failover(world, controller, emulator, kubectl):
    east = world.servers["east-w"]
    east.sql("CREATE ROLE prober LOGIN SUPERUSER PASSWORD 'first-secret-1'")
    kubectl(
        "-n",
        world.ns,
        "create",
        "secret",
        "generic",
        "pg-rotating",
        "--from-literal=username=prober",
        "--from-literal=password=first-secret-1",
    )
    world.kubectl.apply(
        world.gdb_manifest(healthCheck={"credentialsSecretRef": {"name": "pg-rotating"}})
    )
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    world.wait_condition("PrimaryHealthy", "True", "WriterProbesSucceeding", timeout=30)
    since = max(c["seq"] for c in emulator.calls())
    refused = auth_failures(controller)  # a standby may refuse a login before the role reaches it

    # Rotate as an operator would: the database first, then the Secret; then
    # every session of the old password ends, so the probes must log in again.
    east.sql("ALTER ROLE prober PASSWORD 'second-secret-2'")
    kubectl("-n", world.ns, "delete", "secret", "pg-rotating")
    kubectl(
        "-n",
        world.ns,
        "create",
        "secret",
        "generic",
        "pg-rotating",
        "--from-literal=username=prober",
        "--from-literal=password=second-secret-2",
    )
    t0 = time.monotonic()
    for s in world.servers.values():
        s.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'prober'")

    # The old password is refused: a probe fails up to its threshold, which
    # makes the controller re-read the Secret at once for every probe of the
    # object, and the next login works. Without that re-read the probes would
    # keep failing until the credential cache expired (5 min).
    def failures():
        return {r["name"]: r.get("consecutiveFailures", 0) for r in world.status()["regions"]}

    wait_for(
        lambda: auth_failures(controller) > refused and any(failures().values()),
        timeout=30,
        what="a refused login to reach the status",
    )

    def recovered():
        f = failures()
        assert not any(f.values()), f"consecutive failures {f}"
        return True

    wait_for(recovered, timeout=30, what="every probe to log in with the new password")
    took = time.monotonic() - t0
    print(f"probes healthy again {took:.1f}s after the rotation")
    assert took < 60, "the probes waited for the credential cache (5 min) to expire"
    world.wait_condition("PrimaryHealthy", "True", "WriterProbesSucceeding", timeout=30)
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=30)
    assert world.status()["currentPrimaryRegion"] == EAST
    moved = [c for c in emulator.calls() if c["seq"] > since and c["action"] in MOVERS]
    assert not moved, f"a rotated password caused {moved}"
    assert "first-secret-1" not in controller.log_text()
    assert "second-secret-2" not in controller.log_text()


def test_a_wrong_password_is_a_configuration_error_never_a_failover(
    world, controller, emulator, kubectl
):
    # confirmation None trusts the probes alone: were a refused login counted
    # as a failed write, the writer would be failed over within a threshold.
    user = world.servers["east-w"].superuser
    kubectl(
        "-n",
        world.ns,
        "create",
        "secret",
        "generic",
        "pg-wrong",
        f"--from-literal=username={user}",
        "--from-literal=password=wrong-password-3",
    )
    since = max((c["seq"] for c in emulator.calls()), default=0)
    refused = auth_failures(controller)
    world.kubectl.apply(
        world.gdb_manifest(
            healthCheck={"credentialsSecretRef": {"name": "pg-wrong"}},
            failover={"confirmation": "None"},
        )
    )
    c = world.wait_condition("Degraded", "True", "ProbeLoginRefused", timeout=90)
    assert "28P01" in c["message"], c
    assert "wrong-password-3" not in c["message"]
    # Two failure thresholds (3) of refused logins, and still nothing moved.
    wait_for(
        lambda: auth_failures(controller) >= refused + 6,
        timeout=60,
        what="two failure thresholds of refused logins",
    )
    assert world.condition("PrimaryHealthy")["status"] != "False", world.condition("PrimaryHealthy")
    moved = [c for c in emulator.calls() if c["seq"] > since and c["action"] in MOVERS]
    assert not moved, f"a wrong password caused {moved}"
    assert "wrong-password-3" not in controller.log_text()


def test_a_ca_bundle_is_read_from_a_configmap_and_a_missing_one_is_named(
    world, controller, kubectl
):
    import os
    import subprocess
    import tempfile

    # The servers speak plain TCP (sslMode disable, opt-in), so libpq does not use the
    # bundle here: what is shown is the read path — the spec, RBAC, the ConfigMap.
    world.kubectl.apply(
        world.gdb_manifest(healthCheck={"caBundleRef": {"kind": "ConfigMap", "name": "pg-ca"}})
    )
    c = world.wait_condition("Ready", "False", "ProbeCredentialsUnavailable", timeout=90)
    assert f"ConfigMap {world.ns}/pg-ca does not exist" in c["message"], c

    d = tempfile.mkdtemp(prefix="gdb-e2e-ca-")
    crt = os.path.join(d, "ca.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "2", "-subj", "/CN=e2e-ca", "-keyout", os.path.join(d, "ca.key")]
        + ["-out", crt],
        check=True,
        capture_output=True,
    )
    kubectl("-n", world.ns, "create", "configmap", "pg-wrong-key", f"--from-file=other={crt}")
    world.kubectl.apply(world.gdb_manifest(healthCheck={"caBundleRef": {"name": "pg-wrong-key"}}))
    wait_for(
        lambda: "has no key ca.crt" in world.condition("Ready")["message"],
        timeout=90,
        what="the missing key to be named",
    )
    kubectl("-n", world.ns, "create", "configmap", "pg-ca", f"--from-file=ca.crt={crt}")
    world.kubectl.apply(world.gdb_manifest(healthCheck={"caBundleRef": {"name": "pg-ca"}}))
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    # A changed caBundleRef is read at once, not when the credentials are next refreshed (5 min).
    world.kubectl.apply(world.gdb_manifest(healthCheck={"caBundleRef": {"name": "pg-ca-next"}}))
    c = world.wait_condition("Ready", "False", "ProbeCredentialsUnavailable", timeout=30)
    assert "pg-ca-next does not exist" in c["message"], c
