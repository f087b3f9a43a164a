"""manifests/overlays/namespaced (one controller per tenant) against the real
kube-apiserver of the shared test environment: it builds to namespaced objects
only, its Role grants what the cluster-wide RBAC grants and nothing more, it
applies (server-side dry run, then for real), and its ServiceAccount's token
may act in its own namespace and nowhere else."""

import json
import os
import secrets

import pytest

from kubectl_env import ENV, MANIFESTS, build, kubectl

OVERLAY = os.path.join(MANIFESTS, "overlays", "namespaced")


def rule_set(rules):
    return {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def tenant_kustomization(tmp_path, ns):
    """The overlay as a team applies it, with its namespace set to theirs."""
    d = tmp_path / "tenant"
    d.mkdir()
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {ns}\nresources:\n- {os.path.relpath(OVERLAY, d)}\n"
    )
    return str(d)


def test_overlay_has_no_cluster_wide_object():
    objs = build(OVERLAY)
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == [
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ], kinds
    assert {o["metadata"]["namespace"] for o in objs} == {"globaldb-tenant"}
    rb = next(o for o in objs if o["kind"] == "RoleBinding")
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "globaldb-controller",
    }
    assert rb["subjects"] == [
        {"kind": "ServiceAccount", "name": "globaldb-controller", "namespace": "globaldb-tenant"}
    ]


def test_overlay_watches_the_namespace_it_runs_in():
    d = next(o for o in build(OVERLAY) if o["kind"] == "Deployment")
    (c,) = d["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["GLOBALDB_WATCH_NAMESPACE"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    # The rest of the Deployment is the cluster-wide one's.
    base = next(o for o in build(MANIFESTS) if o["kind"] == "Deployment")
    (bc,) = base["spec"]["template"]["spec"]["containers"]
    assert c["args"] == bc["args"] and c["securityContext"] == bc["securityContext"]


def test_role_grants_what_the_cluster_wide_rbac_grants():
    """One Role = the ClusterRole + the Lease Role + the secret reader, no more, no less."""
    base = build(MANIFESTS)
    want = set()
    for kind, name in (
        ("ClusterRole", "globaldb-controller"),
        ("Role", "globaldb-controller-leader-election"),
        ("ClusterRole", "globaldb-controller-secret-reader"),
    ):
        (o,) = [o for o in base if o["kind"] == kind and o["metadata"]["name"] == name]
        want |= rule_set(o["rules"])
    # Namespaces are cluster-scoped: a Role cannot grant reading them, so the
    # tenant controller cannot see a Namespace's allow-restarts-from opt-in and
    # restarts only in its own namespace (docs/deploy.md). Nodes too: a tenant
    # controller with the guard names its region with --region.
    want = {r for r in want if r[1] not in ("namespaces", "nodes")}
    (role,) = [o for o in build(OVERLAY) if o["kind"] == "Role"]
    assert rule_set(role["rules"]) == want


@pytest.fixture
def tenant_ns():
    ns = "tenant-" + secrets.token_hex(4)
    kubectl("create", "namespace", ns)
    yield ns
    kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_overlay_applies_with_server_side_dry_run(tmp_path, tenant_ns):
    r = kubectl("apply", "-k", tenant_kustomization(tmp_path, tenant_ns), "--dry-run=server")
    for obj in (
        "serviceaccount/globaldb-controller",
        "role.rbac.authorization.k8s.io/globaldb-controller",
        "rolebinding.rbac.authorization.k8s.io/globaldb-controller",
        "deployment.apps/globaldb-controller",
        "service/globaldb-controller-metrics",
        "networkpolicy.networking.k8s.io/globaldb-controller",
        "poddisruptionbudget.policy/globaldb-controller",
    ):
        assert obj in r.stdout, r.stdout


def test_tenant_token_acts_in_its_namespace_only(tmp_path, tenant_ns):
    kubectl("apply", "-k", tenant_kustomization(tmp_path, tenant_ns))
    token = kubectl(
        "-n", tenant_ns, "create", "token", "globaldb-controller", "--duration=10m"
    ).stdout.strip()
    kc = tmp_path / "tenant.kubeconfig"
    kc.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "t",
                "clusters": [
                    {
                        "name": "t",
                        "cluster": {
                            "server": ENV["apiserver_url"],
                            "certificate-authority": ENV["ca_file"],
                        },
                    }
                ],
                "users": [{"name": "t", "user": {"token": token}}],
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
            }
        )
    )

    def can_i(verb, resource, ns):
        args = ["auth", "can-i", verb, resource]
        args += ["-n", ns] if ns else ["--all-namespaces"]
        r = kubectl(*args, kubeconfig=str(kc), check=False)
        assert r.stdout.strip() in ("yes", "no"), r.stdout + r.stderr
        return r.stdout.strip() == "yes"

    mine = [
        ("list", "globaldatabases.globaldb.io"),
        ("watch", "globaldatabases.globaldb.io"),
        ("patch", "globaldatabases.globaldb.io/status"),
        ("create", "events.events.k8s.io"),
        ("patch", "deployments.apps"),
        ("get", "secrets"),
        ("get", "configmaps"),
        ("update", "leases.coordination.k8s.io"),
    ]
    for verb, res in mine:
        assert can_i(verb, res, tenant_ns), (verb, res)
        assert not can_i(verb, res, "globaldb-system"), (verb, res, "another namespace")
    assert not can_i("list", "globaldatabases.globaldb.io", None)
    for verb, res in (
        ("list", "secrets"),
        ("delete", "deployments.apps"),
        ("delete", "leases.coordination.k8s.io"),
    ):
        assert not can_i(verb, res, tenant_ns), (verb, res)


def test_overlay_network_policy_still_guards_the_controller():
    """The tenant's controller pods get the same ingress rule: metrics from the
    monitoring namespace only; the kubelet (always allowed) for the probes."""
    objs = build(OVERLAY)
    (p,) = [o for o in objs if o["kind"] == "NetworkPolicy"]
    (d,) = [o for o in objs if o["kind"] == "Deployment"]
    assert p["spec"]["podSelector"] == d["spec"]["selector"]
    (rule,) = p["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": "metrics"}]
