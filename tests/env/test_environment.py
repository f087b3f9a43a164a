"""The test environment itself: real Kubernetes and real PostgreSQL streaming replication.

These guard what every integration and end-to-end test stands on.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import pgenv  # noqa: E402
import testenv  # noqa: E402
from waiting import wait_for  # noqa: E402

with open(os.environ["GDB_TESTENV_STATE"]) as f:
    STATE = json.load(f)

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: probes.envtest.globaldb.io
spec:
  group: envtest.globaldb.io
  names: {kind: Probe, plural: probes, singular: probe}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
"""


def kubectl(*args, input=None, kubeconfig=None, check=True):
    return subprocess.run(
        [STATE["kubectl"], f"--kubeconfig={kubeconfig or STATE['kubeconfig']}", *args],
        input=input,
        text=True,
        capture_output=True,
        check=check,
        timeout=60,
    )


def test_server_reports_the_pinned_kubernetes_version():
    v = json.loads(kubectl("version", "-o", "json").stdout)
    assert v["serverVersion"]["gitVersion"] == "v1.34.4"
    # kubectl is the pinned build, or one on the PATH within kubectl's one-minor skew.
    assert abs(int(v["clientVersion"]["minor"].rstrip("+")) - 34) <= 1


def test_custom_resource_applied_watched_and_read_back():
    kubectl("apply", "-f", "-", input=WIDGET_CRD)
    kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "crd/probes.envtest.globaldb.io"
    )
    kubectl("create", "namespace", "envtest-crd")

    # Start a watch first, then create the object: the watch must report it.
    watch = subprocess.Popen(
        [
            STATE["kubectl"],
            f"--kubeconfig={STATE['kubeconfig']}",
            "-n",
            "envtest-crd",
            "get",
            "probes",
            "--watch",
            "--output-watch-events",
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    events = []
    reader = threading.Thread(
        target=lambda: [events.append(line) for line in watch.stdout], daemon=True
    )
    reader.start()
    try:
        # Whether the object lands before or after the watch starts, kubectl reports it
        # as ADDED (from its initial list or from the watch).
        manifest = "apiVersion: envtest.globaldb.io/v1\nkind: Probe\nmetadata: {name: p1}\nspec: {size: 3}\n"
        kubectl("-n", "envtest-crd", "apply", "-f", "-", input=manifest)
        wait_for(
            lambda: '"ADDED"' in "".join(events) and '"p1"' in "".join(events),
            what="the ADDED event from kubectl get --watch",
        )
    finally:
        watch.terminate()
        watch.wait(timeout=10)
    got = json.loads(kubectl("-n", "envtest-crd", "get", "probe", "p1", "-o", "json").stdout)
    assert got["spec"]["size"] == 3
    assert got["metadata"]["resourceVersion"]

    # The schema is enforced by the server.
    bad = kubectl(
        "-n",
        "envtest-crd",
        "apply",
        "-f",
        "-",
        check=False,
        input="apiVersion: envtest.globaldb.io/v1\nkind: Probe\nmetadata: {name: p2}\nspec: {size: 0}\n",
    )
    assert bad.returncode != 0
    assert "spec.size" in bad.stderr


def test_crds_from_the_repository_are_established():
    crds = json.loads(kubectl("get", "crd", "-o", "json").stdout)["items"]
    established = {
        c["metadata"]["name"]
        for c in crds
        if any(
            x["type"] == "Established" and x["status"] == "True"
            for x in c.get("status", {}).get("conditions", [])
        )
    }
    for name in STATE.get("crds", []):
        with open(os.path.join(os.environ["GDB_SOURCE_DIR"], "crds", name)) as f:
            text = f.read()
        if "kind: CustomResourceDefinition" in text:
            crd_name = [
                ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("  name:")
            ][0]
            assert crd_name in established


def test_controller_identity_is_a_service_account_with_a_bound_token():
    who = json.loads(
        kubectl("auth", "whoami", "-o", "json", kubeconfig=STATE["controller_kubeconfig"]).stdout
    )
    assert (
        who["status"]["userInfo"]["username"]
        == "system:serviceaccount:globaldb-system:globaldb-controller"
    )
    # RBAC is on: the controller may not read secrets cluster-wide.
    denied = kubectl("get", "secrets", "-A", kubeconfig=STATE["controller_kubeconfig"], check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def server(region, role):
    d = STATE["postgres"][region][role]
    s = pgenv.PgServer(
        d["name"], os.path.dirname(d["datadir"]), d["port"], d["user"], d["password"]
    )
    return s


def test_postgres_runs_in_every_region_of_the_environment():
    want = list(testenv.REGIONS)
    if len(STATE["regions"]) == 3:
        want.append(testenv.THIRD_REGION)
    assert sorted(STATE["postgres"]) == sorted(want) == sorted(STATE["regions"])


# Every region the environment was started with (--regions 3 adds eu-west-1).
@pytest.mark.parametrize("region", STATE["regions"])
def test_postgres_write_on_primary_read_on_standby_then_promote(region):
    primary, standby = server(region, "primary"), server(region, "standby")
    assert not primary.in_recovery()
    assert standby.in_recovery()

    primary.sql("CREATE TABLE IF NOT EXISTS envtest_rows (id int primary key, region text)")
    primary.sql(
        "INSERT INTO envtest_rows VALUES (1, %s) ON CONFLICT (id) DO NOTHING", params=(region,)
    )
    standby.wait_replayed(primary.current_lsn())
    assert standby.sql("SELECT region FROM envtest_rows WHERE id = 1") == [(region,)]

    # A write on the standby is refused while it is a standby.
    with pytest.raises(Exception, match="read-only"):
        standby.sql("INSERT INTO envtest_rows VALUES (2, 'standby')")

    standby.promote()
    assert not standby.in_recovery()
    standby.sql("INSERT INTO envtest_rows VALUES (2, 'promoted')")
    assert standby.sql("SELECT count(*) FROM envtest_rows") == [(2,)]

    # Put the environment back as it was: the promoted server follows the primary again.
    pgenv.rejoin_as_standby(standby, primary)
    assert standby.in_recovery()
    primary.sql("DROP TABLE envtest_rows")
    standby.wait_replayed(primary.current_lsn())
    assert standby.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'envtest_rows'") == [(0,)]


def _etcd_with_ports_taken(tmp_path, monkeypatch, taken_attempts):
    """start_etcd where the first taken_attempts pairs of "free" ports are
    already bound by someone else, as when another process wins the race."""
    holders = []
    real_free_port = pgenv.free_port
    calls = {"n": 0}

    def racy_free_port():
        calls["n"] += 1
        if calls["n"] > 2 * taken_attempts:
            return real_free_port()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        holders.append(s)
        return s.getsockname()[1]

    monkeypatch.setattr(pgenv, "free_port", racy_free_port)
    st = {"dir": str(tmp_path), "bin_dir": STATE["bin_dir"]}
    return st, holders


def test_etcd_start_survives_a_port_taken_in_between(tmp_path, monkeypatch, capsys):
    st, holders = _etcd_with_ports_taken(tmp_path, monkeypatch, taken_attempts=1)
    try:
        testenv.start_etcd(st, save=lambda: None)
        with urllib.request.urlopen(st["etcd_url"] + "/health", timeout=5) as r:
            assert json.loads(r.read())["health"] == "true"
        assert "trying new ports" in capsys.readouterr().err
    finally:
        testenv.stop_process(st.get("etcd_pid"))
        for s in holders:
            s.close()


def test_etcd_that_cannot_start_fails_fast_with_its_own_words(tmp_path, monkeypatch):
    st, holders = _etcd_with_ports_taken(tmp_path, monkeypatch, taken_attempts=2)
    t0 = time.monotonic()
    try:
        with pytest.raises(testenv.TestEnvError, match="address already in use"):
            testenv.start_etcd(st, save=lambda: None, attempts=2)
        # Not the 90 s start-up timeout: an exited etcd is seen at once.
        assert time.monotonic() - t0 < testenv.START_TIMEOUT / 2
    finally:
        testenv.stop_process(st.get("etcd_pid"))
        for s in holders:
            s.close()
