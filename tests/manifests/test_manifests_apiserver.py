"""manifests/ against the real kube-apiserver of the shared test environment:
the kustomization applies (server-side dry run) and the controller's own
ServiceAccount token has exactly the access the RBAC files grant."""

import os

import pytest

from kubectl_env import ENV, SRC, kubectl


def test_kustomization_applies_with_server_side_dry_run():
    r = kubectl("apply", "-k", os.path.join(SRC, "manifests"), "--dry-run=server")
    for obj in (
        "namespace/globaldb-system",
        "customresourcedefinition.apiextensions.k8s.io/globaldatabases.globaldb.io",
        "serviceaccount/globaldb-controller",
        "clusterrole.rbac.authorization.k8s.io/globaldb-controller",
        "rolebinding.rbac.authorization.k8s.io/globaldb-controller-leader-election",
        "deployment.apps/globaldb-controller",
        "service/globaldb-controller-metrics",
        "poddisruptionbudget.policy/globaldb-controller",
    ):
        assert obj in r.stdout, r.stdout


def can_i(verb, resource, namespace=None):
    args = ["auth", "can-i", verb, resource]
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    r = kubectl(*args, kubeconfig=ENV["controller_kubeconfig"], check=False)
    assert r.stdout.strip() in ("yes", "no"), r.stdout + r.stderr
    return r.stdout.strip() == "yes"


ALLOWED = [
    ("list", "globaldatabases.globaldb.io", None),
    ("watch", "globaldatabases.globaldb.io", None),
    ("update", "globaldatabases.globaldb.io", "team-a"),
    ("patch", "globaldatabases.globaldb.io/status", "team-a"),
    ("update", "globaldatabases.globaldb.io/finalizers", "team-a"),
    ("create", "events.events.k8s.io", "team-a"),
    ("patch", "deployments.apps", "team-a"),
    ("get", "statefulsets.apps", "team-a"),
    ("create", "leases.coordination.k8s.io", "globaldb-system"),
    ("update", "leases.coordination.k8s.io", "globaldb-system"),
    ("get", "namespaces", None),  # the allow-restarts-from annotation
    ("get", "nodes", None),  # the guard's region label (--region empty)
]
DENIED = [
    ("create", "globaldatabases.globaldb.io", "team-a"),
    ("delete", "globaldatabases.globaldb.io", "team-a"),
    ("get", "secrets", "team-a"),  # only where a RoleBinding grants it
    ("list", "secrets", "globaldb-system"),
    ("delete", "deployments.apps", "team-a"),
    ("create", "deployments.apps", "team-a"),
    ("list", "pods", "team-a"),
    ("create", "leases.coordination.k8s.io", "team-a"),
    ("delete", "leases.coordination.k8s.io", "globaldb-system"),
    ("create", "events", "team-a"),  # core events: the controller uses events.k8s.io
    ("update", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("list", "namespaces", None),
    ("update", "namespaces", None),
    ("list", "nodes", None),
]


@pytest.mark.parametrize("verb, resource, ns", ALLOWED)
def test_controller_token_may(verb, resource, ns):
    assert can_i(verb, resource, ns)


@pytest.mark.parametrize("verb, resource, ns", DENIED)
def test_controller_token_may_not(verb, resource, ns):
    assert not can_i(verb, resource, ns)
