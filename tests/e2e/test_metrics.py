"""What Prometheus scrapes from a running controller, as the alerts and the
dashboard use it.

A GlobalDatabase is adopted and switched over; along the way the scrape
must say which database and region each series is about (namespace, name,
region, role), show the operation while it runs and count it when it ends,
drop what no longer holds (the old writer's series, the finished operation),
pass `promtool check metrics`, and hold every metric the PrometheusRule and
the Grafana dashboard query (manifests/monitoring/).
"""

import os
import re
import subprocess
import sys

from conftest import EAST, SOURCE_DIR, WEST, metric_value, wait_for

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "alerts"))
from test_alerts import dashboard_exprs, metric_names, rule_spec  # noqa: E402


def promtool():
    out = subprocess.run(
        [os.path.join(SOURCE_DIR, "hack", "build-promtool")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return os.path.join(out.stdout.strip().splitlines()[-1], "promtool")


def families(text):
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def series(text, metric):
    """{frozenset(labels): value} of one metric."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and m.group(1) == metric:
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[labels] = float(m.group(3))
    return out


def test_metrics_name_the_database_follow_a_switchover_and_pass_promtool(
    world, controller, emulator
):
    ns = world.ns
    world.kubectl.apply(world.gdb_manifest())
    world.wait_condition("Ready", "True", "WriterInDesiredRegion", timeout=90)
    db = dict(namespace=ns, name="orders")

    def settled_in(region, other):
        m = controller.metrics()
        assert metric_value(m, "globaldb_current_primary_info", region=region, **db) == 1
        assert metric_value(m, "globaldb_current_primary_info", region=other, **db) is None
        assert metric_value(m, "globaldb_probe_healthy", region=region, role="writer", **db) == 1
        assert metric_value(m, "globaldb_probe_healthy", region=other, role="writer", **db) is None
        assert metric_value(m, "globaldb_probe_healthy", region=other, role="reader", **db) == 1
        assert metric_value(m, "globaldb_replication_lag_seconds", region=other, **db) is not None
        assert metric_value(m, "globaldb_condition", type="Ready", status="True", **db) == 1
        assert metric_value(m, "globaldb_condition", type="Ready", status="False", **db) == 0
        assert not series(m, "globaldb_operation_in_progress")
        assert not series(m, "globaldb_operation_start_time_seconds")
        return m

    m = wait_for(lambda: settled_in(EAST, WEST), timeout=60, what="metrics of the adopted db")
    assert metric_value(m, "globaldb_data_loss_budget_seconds", **db) == 30

    # The exposition as Prometheus parses it, and everything the alerts and
    # the dashboard query.
    p = subprocess.run(
        [promtool(), "check", "metrics"],
        input=m,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert p.returncode == 0, p.stdout
    used = set()
    for g in rule_spec()["groups"]:
        for r in g["rules"]:
            used |= metric_names(r["expr"])
    for e in dashboard_exprs()[1]:
        used |= metric_names(e)
    missing = used - families(m)
    assert not missing, (
        f"the alerts or the dashboard query what the controller does not export: {missing}"
    )

    # A switchover slow enough to be seen in flight: the operation and its
    # step are series while it runs.
    emulator.delays(failover_pending=2, failover_run=4, failover_finish=2)
    gdb = world.named("orders")
    mark = gdb.op_mark()
    gdb.patch_spec(primaryRegion=WEST)

    def in_flight():
        m = controller.metrics()
        running = series(m, "globaldb_operation_in_progress")
        assert running, "no operation in flight yet"
        (labels,) = running
        assert dict(labels)["type"] == "Switchover" and dict(labels)["namespace"] == ns
        assert metric_value(m, "globaldb_operation_start_time_seconds", type="Switchover", **db)
        return dict(labels)["step"]

    step = wait_for(in_flight, timeout=60, interval=0.1, what="the switchover in the metrics")
    print(f"seen in flight at step {step}")
    gdb.wait_operation("Switchover", mark, timeout=120)

    m = wait_for(lambda: settled_in(WEST, EAST), timeout=60, what="metrics after the switchover")
    assert (
        metric_value(m, "globaldb_operations_total", type="Switchover", result="Succeeded", **db)
        == 1
    )
    assert (
        metric_value(m, "globaldb_operation_step_duration_seconds_count", operation="Switchover")
        >= 1
    )

    # The log says which object and which reconcile each line belongs to, with
    # controller-runtime's keys.
    planned = [line for line in controller.log_text().splitlines() if " info planned " in line]
    assert planned, "no 'planned' line in the controller log"
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    for line in planned:
        assert re.search(rf" namespace={ns} name=orders reconcileID={uuid} ", line), line
    ids = {re.search(r"reconcileID=(\S+)", line)[1] for line in planned}
    assert len(ids) == len(planned), "two reconciles shared a reconcileID"
