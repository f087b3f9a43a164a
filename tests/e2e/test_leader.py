"""Two replicas, one leader: only the Lease holder reconciles; when it stops
(SIGTERM, as in a rolling update) it releases the Lease, the standby takes
over within seconds and carries on — here, with a switchover.
"""

import json

from conftest import WEST, Controller, metric_value, wait_for


def holder(kubectl, lease):
    out = kubectl.json("-n", "globaldb-system", "get", "lease", lease)
    return out["spec"].get("holderIdentity") or ""


def test_only_the_leader_reconciles_and_the_standby_takes_over(
    world, controller, controller_bin, testenv, emulator, kubectl, tmp_path
):
    lease = "globaldb-e2e-" + world.ns
    wait_for(
        lambda: holder(kubectl, lease).startswith("e2e-controller_"),
        timeout=30,
        what="the first replica to lead",
    )
    (tmp_path / "standby").mkdir()
    standby = Controller(controller_bin, testenv, emulator, world.ns, str(tmp_path / "standby"))
    try:
        standby.wait_ready()  # caches and HTTP run on every replica
        world.kubectl.apply(world.gdb_manifest())
        world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
        assert controller.reconciles() > 0
        assert standby.reconciles() == 0, "the standby must not reconcile"
        assert metric_value(standby.metrics(), "leader_election_master_status") in (0, None)

        first = holder(kubectl, lease)
        assert controller.stop() == 0
        wait_for(
            lambda: holder(kubectl, lease) not in ("", first),
            timeout=30,
            what="the standby to take the Lease",
        )
        kubectl(
            "-n",
            world.ns,
            "patch",
            "globaldatabase",
            "orders",
            "--type",
            "merge",
            "-p",
            json.dumps({"spec": {"primaryRegion": WEST}}),
        )

        def switched():
            s = world.status()
            last = s.get("lastOperation") or {}
            assert last.get("type") == "Switchover" and last.get("result") == "Succeeded", last
            return s

        st = wait_for(switched, timeout=120, interval=0.5, what="the new leader's switchover")
        assert st["currentPrimaryRegion"] == WEST
        assert standby.reconciles() > 0
        assert world.password not in standby.log_text()
        assert standby.aws_secret not in standby.log_text()
    finally:
        assert standby.stop() == 0
