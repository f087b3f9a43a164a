"""The GlobalDatabase CRD against a real kube-apiserver, driven with kubectl.

The shared environment installs every YAML in crds/ at start; these tests check
what users meet: the API is served and Established, `kubectl explain` reads
well, the example applies, defaults are filled, printer columns show, and bad
manifests are rejected by the API server with a message naming the field.
"""

import glob
import json
import os
import subprocess
import uuid

import pytest
import yaml

with open(os.environ["GDB_TESTENV_STATE"]) as f:
    STATE = json.load(f)
SOURCE = os.environ.get("GDB_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
CRD_FILE = os.path.join(SOURCE, "crds", "globaldb.io_globaldatabases.yaml")
EXAMPLE = os.path.join(SOURCE, "crds", "examples", "globaldatabase.yaml")
TOOL = os.path.join(os.environ.get("GDB_BINARY_DIR", ""), "tests", "globaldb", "gdb-validate")
RICH = os.path.join(SOURCE, "tests", "globaldb", "corpus", "example-with-status.json")
INVALID = sorted(glob.glob(os.path.join(SOURCE, "tests", "globaldb", "invalid", "*.yaml")))

MINIMAL = """
apiVersion: globaldb.io/v1alpha1
kind: GlobalDatabase
metadata: {name: %s}
spec:
  globalClusterIdentifier: orders-global
  primaryRegion: us-east-1
  regions:
  - {name: us-east-1, dbClusterIdentifier: orders-east}
  - {name: us-west-2, dbClusterIdentifier: orders-west}
  healthCheck:
    credentialsSecretRef: {name: orders-probe}
"""


def kubectl(*args, input=None, check=True):
    return subprocess.run(
        [STATE["kubectl"], f"--kubeconfig={STATE['kubeconfig']}", *args],
        input=input,
        text=True,
        capture_output=True,
        check=check,
        timeout=60,
    )


@pytest.fixture(scope="module")
def ns():
    name = "gdb-crd-" + uuid.uuid4().hex[:8]
    kubectl("create", "namespace", name)
    return name


def test_crd_is_established_with_its_names():
    crd = json.loads(kubectl("get", "crd", "globaldatabases.globaldb.io", "-o", "json").stdout)
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds.get("Established") == "True"
    assert conds.get("NamesAccepted") == "True"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == ["gdb"]
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    # `kubectl get gdb` resolves the short name through discovery.
    assert kubectl("get", "gdb", "-A").returncode == 0


def _walk(schema, path):
    if path and not schema.get("description") and path != ".metadata":
        yield path
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")


def test_every_field_has_a_description():
    with open(CRD_FILE) as f:
        crd = yaml.safe_load(f)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    missing = list(_walk(schema, ""))
    assert missing == [], f"fields without a description: {missing}"


@pytest.mark.parametrize(
    "path,words",
    [
        (
            "globaldatabase.spec.failover",
            ["When and how the writer moves", "maxDataLossSeconds", "enum: Automatic, Manual"],
        ),
        ("globaldatabase.spec.failover.maxDataLossSeconds", ["data-loss budget", "unknown"]),
        ("gdb.spec.primaryRegion", ["planned switchover"]),
        ("gdb.spec.regions.template", ["never applied"]),
        ("gdb.spec.deletionPolicy", ["Retain (the default) never touches AWS"]),
        ("gdb.status.operation", ["write-ahead record"]),
        ("gdb.status.lastOperation.dataLossWindowSeconds", ["may be lost"]),
    ],
)
def test_kubectl_explain_reads_well(path, words):
    out = kubectl("explain", path).stdout
    for w in words:
        assert w in " ".join(out.split()), f"{path}: {w!r} not in:\n{out}"


def test_example_applies_as_written(ns):
    kubectl("-n", ns, "apply", "-f", EXAMPLE)
    obj = json.loads(kubectl("-n", ns, "get", "gdb", "orders", "-o", "json").stdout)
    with open(EXAMPLE) as f:
        want = yaml.safe_load(f)["spec"]
    _assert_contains(obj["spec"], want, "spec")


def _assert_contains(got, want, path):
    """Everything the example says is kept as written (defaults may add fields)."""
    if isinstance(want, dict):
        for k, v in want.items():
            assert k in got, f"{path}.{k} was dropped"
            _assert_contains(got[k], v, f"{path}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{path} has {len(got)} items"
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_contains(g, w, f"{path}[{i}]")
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def test_defaults_are_filled(ns):
    kubectl("-n", ns, "apply", "-f", "-", input=MINIMAL % "minimal")
    spec = json.loads(kubectl("-n", ns, "get", "gdb", "minimal", "-o", "json").stdout)["spec"]
    assert spec["failover"] == {
        "mode": "Automatic",
        "method": "Auto",
        "maxDataLossSeconds": 30,
        "confirmation": "ControlPlane",
        "inRegionGraceSeconds": 120,
        "cooldownSeconds": 900,
    }
    assert spec["fallback"] == {"mode": "Automatic"}
    hc = spec["healthCheck"]
    assert (
        hc["periodSeconds"],
        hc["timeoutSeconds"],
        hc["failureThreshold"],
        hc["successThreshold"],
        hc["database"],
        hc["sslMode"],
    ) == (5, 3, 3, 1, "postgres", "require")
    assert hc["credentialsSecretRef"] == {
        "name": "orders-probe",
        "usernameKey": "username",
        "passwordKey": "password",
    }
    assert spec["deletionPolicy"] == "Retain"


def test_printer_columns_show_desired_current_ready_lag(ns):
    kubectl("-n", ns, "apply", "-f", "-", input=MINIMAL % "columns")
    status = {
        "status": {
            "currentPrimaryRegion": "us-west-2",
            "maxReplicationLagSeconds": 2,
            "operation": {
                "type": "Switchover",
                "method": "Switchover",
                "step": "WaitSwitchover",
                "targetRegion": "us-east-1",
                "sourceRegion": "us-west-2",
            },
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "OperationInProgress",
                    "message": "switching over",
                    "lastTransitionTime": "2026-11-27T04:00:00Z",
                }
            ],
        }
    }
    kubectl(
        "-n",
        ns,
        "patch",
        "gdb",
        "columns",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    lines = kubectl("-n", ns, "get", "gdb", "columns").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "LAG", "AGE"]
    assert lines[1].split()[:5] == ["columns", "us-east-1", "us-west-2", "False", "2"]
    wide = kubectl("-n", ns, "get", "gdb", "columns", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "LAG", "OPERATION", "AGE"]
    assert wide[1].split()[5] == "WaitSwitchover"


def test_status_is_a_subresource(ns):
    """A spec change through the status endpoint is ignored; a status change through the main one too."""
    kubectl("-n", ns, "apply", "-f", "-", input=MINIMAL % "subresource")
    kubectl(
        "-n",
        ns,
        "patch",
        "gdb",
        "subresource",
        "--type=merge",
        "-p",
        json.dumps({"status": {"currentPrimaryRegion": "us-west-2"}}),
    )
    obj = json.loads(kubectl("-n", ns, "get", "gdb", "subresource", "-o", "json").stdout)
    assert "currentPrimaryRegion" not in obj.get("status", {})
    kubectl(
        "-n",
        ns,
        "patch",
        "gdb",
        "subresource",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"primaryRegion": "us-west-2"}}),
    )
    obj = json.loads(kubectl("-n", ns, "get", "gdb", "subresource", "-o", "json").stdout)
    assert obj["spec"]["primaryRegion"] == "us-east-1"


def test_schema_keeps_every_status_field_the_controller_writes(ns):
    """The C encoder's output survives the API server's schema (nothing pruned, nothing rejected)."""
    with open(RICH) as f:
        obj = json.load(f)
    enc = subprocess.run(
        [TOOL, "--status"],
        input=json.dumps(obj),
        text=True,
        capture_output=True,
        check=True,
        timeout=10,
    ).stdout
    status = json.loads(enc)
    assert status["operation"]["step"] and status["lastOperation"]["steps"]
    kubectl("-n", ns, "apply", "-f", "-", input=MINIMAL % "rich")
    kubectl(
        "-n",
        ns,
        "patch",
        "gdb",
        "rich",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    stored = json.loads(kubectl("-n", ns, "get", "gdb", "rich", "-o", "json").stdout)["status"]
    assert stored == status


def test_status_rejects_unknown_roles(ns):
    kubectl("-n", ns, "apply", "-f", "-", input=MINIMAL % "badstatus")
    r = kubectl(
        "-n",
        ns,
        "patch",
        "gdb",
        "badstatus",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"regions": [{"name": "us-east-1", "role": "Boss"}]}}),
        check=False,
    )
    assert r.returncode != 0 and "status.regions[0].role" in r.stderr


def test_global_cluster_identifier_is_immutable(ns):
    kubectl("-n", ns, "apply", "-f", "-", input=MINIMAL % "immutable")
    r = kubectl(
        "-n",
        ns,
        "patch",
        "gdb",
        "immutable",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"globalClusterIdentifier": "orders-global-2"}}),
        check=False,
    )
    assert r.returncode != 0
    assert "spec.globalClusterIdentifier" in r.stderr and "immutable" in r.stderr
    # Flipping the primary, the everyday edit, is allowed.
    kubectl(
        "-n",
        ns,
        "patch",
        "gdb",
        "immutable",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"primaryRegion": "us-west-2"}}),
    )


def test_at_least_thirty_invalid_manifests():
    assert len(INVALID) >= 30


@pytest.mark.parametrize("path", INVALID, ids=[os.path.basename(p)[:-5] for p in INVALID])
def test_invalid_manifest_is_rejected_naming_the_field(ns, path):
    with open(path) as f:
        text = f.read()
    expect = [
        line[len("# expect: ") :] for line in text.splitlines() if line.startswith("# expect: ")
    ]
    assert expect, f"{path} has no '# expect:' line"
    name = yaml.safe_load(text)["metadata"]["name"]
    r = kubectl("-n", ns, "apply", "-f", path, check=False)
    assert r.returncode != 0, f"{path} was accepted"
    assert "invalid" in r.stderr or "strict decoding error" in r.stderr, r.stderr
    assert expect[0] in r.stderr, f"{path}: {expect[0]!r} not in {r.stderr!r}"
    gone = kubectl("-n", ns, "get", "gdb", name, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
