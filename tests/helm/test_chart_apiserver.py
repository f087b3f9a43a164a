"""The rendered chart against the real kube-apiserver of the shared test
environment: `helm template | kubectl apply --dry-run=server` for the value
sets users pick. The server runs its schema validation, defaulting and
admission on every object, without keeping any.

ServiceMonitor and PrometheusRule are left out: their CRDs (the Prometheus
Operator's) are not installed on the test apiserver, so test_chart.py checks
them offline only."""

import json
import os
import secrets
import subprocess

import pytest
from helmutil import template_text

with open(os.environ["GDB_TESTENV_STATE"]) as _f:
    ENV = json.load(_f)


def kubectl(*args, input=None, check=True):
    r = subprocess.run(
        [ENV["kubectl"], "--kubeconfig", ENV["kubeconfig"], *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def team_ns():
    ns = "helm-dry-" + secrets.token_hex(4)
    kubectl("create", "namespace", ns)
    yield ns
    kubectl("delete", "namespace", ns, "--wait=false")


def dry_run(values):
    rendered = template_text(values).stdout
    return kubectl("apply", "--dry-run=server", "-f", "-", input=rendered).stdout


def test_defaults_apply_with_server_side_dry_run():
    out = dry_run(None)
    for obj in (
        "customresourcedefinition.apiextensions.k8s.io/globaldatabases.globaldb.io",
        "serviceaccount/globaldb-controller",
        "clusterrole.rbac.authorization.k8s.io/globaldb-controller",
        "clusterrolebinding.rbac.authorization.k8s.io/globaldb-controller",
        "role.rbac.authorization.k8s.io/globaldb-controller-leader-election",
        "clusterrole.rbac.authorization.k8s.io/globaldb-controller-secret-reader",
        "deployment.apps/globaldb-controller",
        "service/globaldb-controller-metrics",
        "poddisruptionbudget.policy/globaldb-controller",
        "networkpolicy.networking.k8s.io/globaldb-controller",
    ):
        assert obj in out, out


def test_namespaced_rbac_applies(team_ns):
    out = dry_run(
        {
            "watchNamespace": team_ns,
            "rbac": {"namespaced": True, "secretReaderNamespaces": [team_ns]},
            "serviceAccount": {"irsaRoleArn": "arn:aws:iam::111122223333:role/gdb"},
        }
    )
    for obj in (
        "role.rbac.authorization.k8s.io/globaldb-controller ",
        "rolebinding.rbac.authorization.k8s.io/globaldb-controller ",
        "role.rbac.authorization.k8s.io/globaldb-controller-leader-election",
    ):
        assert obj in out, out
    assert "clusterrole" not in out


def test_dashboard_and_custom_scheduling_apply(team_ns):
    out = dry_run(
        {
            "dashboard": {"enabled": True},
            "replicaCount": 3,
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
            "podAnnotations": {"example.com/owner": "platform"},
            "extraArgs": ["--concurrency=4"],
            "extraEnv": [{"name": "GLOBALDB_LOG_LEVEL", "value": "info"}],
            "priorityClassName": "",
            "rbac": {"secretReaderNamespaces": [team_ns]},
        }
    )
    assert "configmap/globaldb-controller-dashboard" in out, out
    assert "rolebinding.rbac.authorization.k8s.io/globaldb-controller-secrets" in out, out
