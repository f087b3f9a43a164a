"""manifests/components/metrics-auth and rbac/metrics-reader.yaml against the
real kube-apiserver: the component turns --metrics-auth on and grants the
controller exactly TokenReview and SubjectAccessReview creation; the reader
ClusterRole grants nothing but GET /metrics; both apply (server-side dry run)."""

import os


from kubectl_env import MANIFESTS, build, kubectl

COMPONENT = os.path.join(MANIFESTS, "components", "metrics-auth")


def with_component(tmp_path):
    """manifests/ plus the component, as a user's kustomization would say it."""
    d = tmp_path / "k"
    d.mkdir()
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n- {os.path.relpath(MANIFESTS, d)}\n"
        f"components:\n- {os.path.relpath(COMPONENT, d)}\n"
    )
    return str(d)


def controller_env(objs):
    (d,) = [o for o in objs if o["kind"] == "Deployment"]
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def test_metrics_auth_is_off_in_the_shipped_manifests():
    objs = build(MANIFESTS)
    assert "GLOBALDB_METRICS_AUTH" not in controller_env(objs)
    (d,) = [o for o in objs if o["kind"] == "Deployment"]
    assert not any(
        "metrics-auth" in a for a in d["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    assert not [o for o in objs if o["metadata"]["name"] == "globaldb-controller-metrics-auth"]


def test_component_turns_it_on_with_exactly_the_review_rights(tmp_path):
    objs = build(with_component(tmp_path))
    assert controller_env(objs)["GLOBALDB_METRICS_AUTH"] == "true"
    (role,) = [
        o
        for o in objs
        if o["kind"] == "ClusterRole"
        and o["metadata"]["name"] == "globaldb-controller-metrics-auth"
    ]
    assert role["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["tokenreviews"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["subjectaccessreviews"],
            "verbs": ["create"],
        },
    ]
    (binding,) = [
        o
        for o in objs
        if o["kind"] == "ClusterRoleBinding"
        and o["metadata"]["name"] == "globaldb-controller-metrics-auth"
    ]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "globaldb-controller", "namespace": "globaldb-system"}
    ]


def test_metrics_reader_grants_only_get_on_metrics():
    (reader,) = [
        o for o in build(MANIFESTS) if o["metadata"]["name"] == "globaldb-controller-metrics-reader"
    ]
    assert reader["kind"] == "ClusterRole"
    assert reader["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]


def test_component_applies_with_server_side_dry_run(tmp_path):
    r = kubectl("apply", "-k", with_component(tmp_path), "--dry-run=server")
    for obj in (
        "clusterrole.rbac.authorization.k8s.io/globaldb-controller-metrics-auth",
        "clusterrolebinding.rbac.authorization.k8s.io/globaldb-controller-metrics-auth",
        "clusterrole.rbac.authorization.k8s.io/globaldb-controller-metrics-reader",
        "deployment.apps/globaldb-controller",
    ):
        assert obj in r.stdout, r.stdout
