"""charts/globaldb-controller offline, with the real helm and kubectl: the
generated files are current, helm lint passes, each value does what
values.yaml says, and the default render does not drift from manifests/."""

import filecmp
import json
import os
import subprocess
import sys

import pytest
import yaml
from helmutil import (
    CHART,
    NAMESPACE,
    SRC,
    container,
    find,
    helm,
    ids,
    kustomize,
    render,
    template_text,
)

CRD = "globaldatabases.globaldb.io"


def test_generated_files_are_up_to_date():
    r = subprocess.run(
        [sys.executable, os.path.join(SRC, "hack", "gen-chart"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_charts_crd_is_the_repository_crd_byte_for_byte():
    src = sorted(f for f in os.listdir(os.path.join(SRC, "crds")) if f.endswith(".yaml"))
    chart = sorted(os.listdir(os.path.join(CHART, "crds")))
    assert src == chart
    for f in src:
        assert filecmp.cmp(
            os.path.join(SRC, "crds", f), os.path.join(CHART, "crds", f), shallow=False
        ), f"charts/globaldb-controller/crds/{f} differs from crds/{f}: run hack/gen-chart"


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["--set", "watchNamespace=team-a", "--set", "rbac.namespaced=true"],
        [
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "dashboard.enabled=true",
        ],
    ],
    ids=["defaults", "namespaced", "monitoring"],
)
def test_helm_lint_strict_passes(sets):
    r = helm("lint", "--strict", CHART, *sets, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 chart(s) failed" in r.stdout


def test_defaults_render_the_objects_of_a_cluster_wide_install():
    objs = render()
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objs)
    assert kinds == sorted(
        [
            ("CustomResourceDefinition", CRD),
            ("ServiceAccount", "globaldb-controller"),
            ("ClusterRole", "globaldb-controller"),
            ("ClusterRoleBinding", "globaldb-controller"),
            ("ClusterRole", "globaldb-controller-metrics-reader"),
            ("Role", "globaldb-controller-leader-election"),
            ("RoleBinding", "globaldb-controller-leader-election"),
            ("ClusterRole", "globaldb-controller-secret-reader"),
            ("Deployment", "globaldb-controller"),
            ("PodDisruptionBudget", "globaldb-controller"),
            ("Service", "globaldb-controller-metrics"),
            ("NetworkPolicy", "globaldb-controller"),
        ]
    )
    # Secrets are never readable cluster-wide: no binding of the secret reader.
    assert not [o for o in objs if o["kind"] == "RoleBinding" and "secret" in str(o["roleRef"])]
    args = container(find(objs, "Deployment"))["args"]
    assert not [a for a in args if a.startswith("--namespace")]


def test_irsa_role_arn_becomes_the_service_account_annotation():
    arn = "arn:aws:iam::111122223333:role/globaldb-controller"
    sa = find(render({"serviceAccount": {"irsaRoleArn": arn}}), "ServiceAccount")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn}
    # Without it (EKS Pod Identity) the account carries no annotation.
    assert "annotations" not in find(render(), "ServiceAccount")["metadata"]


def test_a_release_name_without_the_chart_name_prefixes_every_object():
    objs = render(release="prod")
    names = {o["metadata"]["name"] for o in objs if o["kind"] != "CustomResourceDefinition"}
    assert all(n.startswith("prod-globaldb-controller") for n in names), names
    crb = find(objs, "ClusterRoleBinding")
    assert crb["subjects"] == [
        {"kind": "ServiceAccount", "name": "prod-globaldb-controller", "namespace": NAMESPACE}
    ]


SECRET_RULE = {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get"]}


def test_namespaced_rbac_is_the_cluster_role_as_a_role_in_the_watched_namespace():
    cluster = find(render(), "ClusterRole", "globaldb-controller")
    objs = render(
        {
            "watchNamespace": "team-a",
            "rbac": {"namespaced": True, "secretReaderNamespaces": ["team-a"]},
        }
    )
    assert not [o for o in objs if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = find(objs, "Role", "globaldb-controller", "team-a")
    # The cluster-wide rules but reading Namespaces and Nodes (cluster-scoped: a Role cannot
    # grant it), and get on Secrets and ConfigMaps in that namespace.
    namespaced = [r for r in cluster["rules"] if r["resources"] not in (["namespaces"], ["nodes"])]
    assert role["rules"] == namespaced + [SECRET_RULE]
    rb = find(objs, "RoleBinding", "globaldb-controller", "team-a")
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "globaldb-controller",
    }
    assert rb["subjects"][0]["namespace"] == NAMESPACE
    # The Lease stays in the release namespace.
    find(objs, "Role", "globaldb-controller-leader-election", NAMESPACE)
    # Nothing is granted anywhere else.
    assert {o["metadata"].get("namespace") for o in objs if "Role" in o["kind"]} == {
        "team-a",
        NAMESPACE,
    }
    assert "--watch-namespace=team-a" in container(find(objs, "Deployment"))["args"]


def test_namespaced_rbac_matches_the_namespaced_overlay_when_it_exists():
    """manifests/overlays/namespaced (one Role in the tenant's own namespace)
    grants exactly what the chart grants with watchNamespace = the release
    namespace and rbac.namespaced."""
    overlay = os.path.join(SRC, "manifests", "overlays", "namespaced")
    if not os.path.isdir(overlay):
        pytest.skip("manifests/overlays/namespaced is not in this tree")
    objs = render({"watchNamespace": NAMESPACE, "rbac": {"namespaced": True}})
    kust = kustomize(overlay)
    tenant = {o["metadata"]["namespace"] for o in kust if o["kind"] == "Role"}

    def grants(objs, ns):
        return {
            (g, r, v)
            for o in objs
            if o["kind"] == "Role" and o["metadata"]["namespace"] == ns
            for rule in o["rules"]
            for g in rule["apiGroups"]
            for r in rule["resources"]
            for v in rule["verbs"]
        }

    assert len(tenant) == 1
    assert grants(objs, NAMESPACE) == grants(kust, tenant.pop())
    assert not [o for o in kust if o["kind"].startswith("Cluster")]


def test_secret_reader_namespaces_get_a_role_binding_each_and_nothing_more():
    objs = render({"rbac": {"secretReaderNamespaces": ["team-a", "team-b"]}})
    rbs = [
        o for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["name"].endswith("-secrets")
    ]
    assert sorted(o["metadata"]["namespace"] for o in rbs) == ["team-a", "team-b"]
    for rb in rbs:
        assert rb["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "globaldb-controller-secret-reader",
        }


@pytest.mark.parametrize(
    "values, words",
    [
        ({"rbac": {"namespaced": True}}, "rbac.namespaced=true needs watchNamespace"),
        ({"leaderElection": {"enabled": False}}, "replicaCount > 1 needs leaderElection"),
        (
            {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
            "serviceMonitor.enabled needs metrics.service.enabled",
        ),
        (
            {"watchNamespace": "a", "rbac": {"namespaced": True, "secretReaderNamespaces": ["b"]}},
            "rbac.secretReaderNamespaces names b, but with rbac.namespaced=true",
        ),
        (
            {"serviceAccount": {"create": False}},
            "serviceAccount.name is required when serviceAccount.create is false",
        ),
    ],
)
def test_values_that_cannot_work_fail_the_render_with_a_reason(values, words):
    r = template_text(values, check=False)
    assert r.returncode != 0
    assert words in r.stderr, r.stderr


def test_one_replica_may_run_without_leader_election():
    objs = render({"replicaCount": 1, "leaderElection": {"enabled": False}})
    assert "--leader-elect" not in container(find(objs, "Deployment"))["args"]
    assert not [o for o in objs if "leader-election" in o["metadata"]["name"]]


def test_monitoring_objects_scrape_the_metrics_service_and_keep_the_alert_templates():
    objs = render(
        {
            "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
            "prometheusRule": {"enabled": True},
            "dashboard": {"enabled": True},
        }
    )
    svc = find(objs, "Service")
    sm = find(objs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "prom"
    for k, v in sm["spec"]["selector"]["matchLabels"].items():
        assert svc["metadata"]["labels"][k] == v
    assert sm["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"]
    rule = find(objs, "PrometheusRule")
    with open(os.path.join(CHART, "files", "prometheus-rules.yaml")) as f:
        assert rule["spec"] == yaml.safe_load(f)
    # Prometheus's own templates reach Prometheus, not helm's template engine.
    assert "{{ $labels." in json.dumps(rule["spec"])
    board = find(objs, "ConfigMap", "globaldb-controller-dashboard")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    with open(os.path.join(CHART, "files", "dashboard.json")) as f:
        assert json.loads(board["data"]["globaldb-controller.json"]) == json.load(f)
    # Off by default.
    kinds = {o["kind"] for o in render()}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "ConfigMap"}


# --- drift: the chart's default render against `kubectl kustomize manifests` ---


@pytest.fixture(scope="module")
def both():
    return render(), kustomize()


def test_drift_every_manifest_object_has_its_chart_counterpart(both):
    chart, kust = both
    have = {(o["kind"], o["metadata"]["name"]) for o in chart}
    # The chart leaves the namespace to `helm install --create-namespace`.
    missing = [ids(o) for o in kust if o["kind"] != "Namespace"]
    missing = [i for i in missing if (i[0], i[2]) not in have]
    assert missing == [], "manifests/ has objects the chart lacks"


def test_drift_the_crd_is_the_same(both):
    chart, kust = both
    assert find(chart, "CustomResourceDefinition") == find(kust, "CustomResourceDefinition")


def test_drift_rbac_rules_and_bindings_are_the_same(both):
    chart, kust = both
    for kind in ("ClusterRole", "Role"):
        for k in [o for o in kust if o["kind"] == kind]:
            c = find(chart, kind, k["metadata"]["name"])
            assert c["rules"] == k["rules"], k["metadata"]["name"]
            assert c["metadata"].get("namespace") == k["metadata"].get("namespace")
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for k in [o for o in kust if o["kind"] == kind]:
            c = find(chart, kind, k["metadata"]["name"])
            assert c["roleRef"] == k["roleRef"] and c["subjects"] == k["subjects"]


def test_drift_the_deployment_runs_the_same_container_the_same_way(both):
    chart, kust = both
    c, k = find(chart, "Deployment"), find(kust, "Deployment")
    for key in ("replicas", "strategy", "revisionHistoryLimit"):
        assert c["spec"][key] == k["spec"][key], key
    cpod, kpod = c["spec"]["template"]["spec"], k["spec"]["template"]["spec"]
    for key in ("securityContext", "terminationGracePeriodSeconds", "serviceAccountName"):
        assert cpod[key] == kpod[key], key
    cc, kc = container(c), container(k)
    for key in (
        "image",
        "args",
        "env",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
    ):
        assert cc[key] == kc[key], key
    # The same scheduling rules, each selecting its own pods.
    for pod, dep in ((cpod, c), (kpod, k)):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert term[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        for sel in (
            term[0]["podAffinityTerm"]["labelSelector"]["matchLabels"],
            pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"],
            dep["spec"]["selector"]["matchLabels"],
        ):
            assert sel.items() <= labels.items()
    strip = [
        {k: v for k, v in t.items() if k != "labelSelector"}
        for t in cpod["topologySpreadConstraints"]
    ]
    kstrip = [
        {k: v for k, v in t.items() if k != "labelSelector"}
        for t in kpod["topologySpreadConstraints"]
    ]
    assert strip == kstrip


def test_drift_network_policy_service_and_pdb_are_the_same(both):
    chart, kust = both
    c, k = find(chart, "NetworkPolicy"), find(kust, "NetworkPolicy")
    assert c["spec"]["policyTypes"] == k["spec"]["policyTypes"]
    assert c["spec"]["ingress"] == k["spec"]["ingress"]
    pods = find(chart, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert c["spec"]["podSelector"]["matchLabels"].items() <= pods.items()
    assert find(chart, "Service")["spec"]["ports"] == find(kust, "Service")["spec"]["ports"]
    assert (
        find(chart, "PodDisruptionBudget")["spec"]["maxUnavailable"]
        == find(kust, "PodDisruptionBudget")["spec"]["maxUnavailable"]
    )
