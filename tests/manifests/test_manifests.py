"""manifests/ read as files: the security settings, the least-privilege RBAC
and the IAM policy a reviewer would check, without a cluster."""

import json
import os

import yaml

SRC = os.environ.get("GDB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
MANIFESTS = os.path.join(SRC, "manifests")


def objects():
    with open(os.path.join(MANIFESTS, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    out = []
    for res in kust["resources"]:
        path = os.path.join(MANIFESTS, res)
        if os.path.isdir(path):  # a kustomize base such as ../crds
            with open(os.path.join(path, "Kustomization")) as f:
                files = [os.path.join(path, r) for r in yaml.safe_load(f)["resources"]]
        else:
            files = [path]
        for name in files:
            with open(name) as f:
                out += [d for d in yaml.safe_load_all(f) if d]
    return out


def one(kind, name=None):
    found = [
        o
        for o in objects()
        if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, (kind, name, found)
    return found[0]


def rules(kind, name):
    return one(kind, name)["rules"]


def test_every_rbac_file_is_in_the_kustomization():
    with open(os.path.join(MANIFESTS, "kustomization.yaml")) as f:
        listed = yaml.safe_load(f)["resources"]
    for f in os.listdir(os.path.join(MANIFESTS, "rbac")):
        assert f"rbac/{f}" in listed


def test_the_crd_comes_from_crds_not_a_copy():
    with open(os.path.join(SRC, "crds", "globaldb.io_globaldatabases.yaml")) as f:
        assert one("CustomResourceDefinition", "globaldatabases.globaldb.io") == yaml.safe_load(f)


def test_deployment_is_locked_down_and_highly_available():
    d = one("Deployment", "globaldb-controller")
    spec = d["spec"]["template"]["spec"]
    assert d["spec"]["replicas"] == 2
    assert spec["serviceAccountName"] == "globaldb-controller"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65532
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [c] = spec["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "--leader-elect" in c["args"]
    assert "--health-probe-bind-address=:8081" in c["args"]
    assert "--metrics-bind-address=:8080" in c["args"]
    # The allowlists: each tenant its own secrets and parameters, nothing else by default.
    assert "--allowed-secrets=globaldb/{namespace}/*" in c["args"]
    assert "--allowed-ssm-prefixes=/globaldb/{namespace}" in c["args"]
    assert "--allowed-probe-hosts=" in c["args"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}
    assert {
        "name": "POD_NAMESPACE",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    } in c["env"]
    # The pod never borrows the node's IAM identity unless the operator says so.
    assert {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"} in c["env"]
    # The controller's shutdown deadline (25 s) fits in the grace period.
    assert spec["terminationGracePeriodSeconds"] >= 30


def test_network_policy_admits_only_the_monitoring_namespace_to_metrics():
    p = one("NetworkPolicy", "globaldb-controller")
    spec = p["spec"]
    assert spec["podSelector"] == one("Deployment")["spec"]["selector"]
    assert spec["policyTypes"] == ["Ingress"]
    # One rule: the metrics port, from the monitoring namespace. Nothing reaches
    # the health port but the kubelet on the pod's own node (always allowed).
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": "metrics"}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]


def test_metrics_service_targets_the_metrics_port():
    s = one("Service", "globaldb-controller-metrics")
    assert s["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert s["spec"]["selector"] == one("Deployment")["spec"]["selector"]["matchLabels"]


def test_rbac_has_no_wildcards_and_only_the_needed_verbs():
    granted = {}
    for kind, name in (
        ("ClusterRole", "globaldb-controller"),
        ("Role", "globaldb-controller-leader-election"),
        ("ClusterRole", "globaldb-controller-secret-reader"),
    ):
        for r in rules(kind, name):
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in r[field], (name, r)
            for g in r["apiGroups"]:
                for res in r["resources"]:
                    granted.setdefault((name, g, res), set()).update(r["verbs"])
    assert granted == {
        ("globaldb-controller", "globaldb.io", "globaldatabases"): {
            "get",
            "list",
            "watch",
            "update",
            "patch",
        },
        ("globaldb-controller", "globaldb.io", "globaldatabases/status"): {
            "get",
            "update",
            "patch",
        },
        ("globaldb-controller", "globaldb.io", "globaldatabases/finalizers"): {"update"},
        ("globaldb-controller", "events.k8s.io", "events"): {"create", "patch"},
        ("globaldb-controller", "apps", "deployments"): {"get", "patch"},
        ("globaldb-controller", "apps", "statefulsets"): {"get", "patch"},
        ("globaldb-controller", "", "namespaces"): {"get"},
        ("globaldb-controller", "", "nodes"): {"get"},
        ("globaldb-controller-leader-election", "coordination.k8s.io", "leases"): {
            "get",
            "create",
            "update",
        },
        ("globaldb-controller-secret-reader", "", "secrets"): {"get"},
        ("globaldb-controller-secret-reader", "", "configmaps"): {"get"},
    }


def test_secret_reader_is_not_bound_cluster_wide():
    for o in objects():
        if o["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            assert o["roleRef"]["name"] != "globaldb-controller-secret-reader"


def test_bindings_name_the_controller_service_account():
    sa = one("ServiceAccount")
    subject = {
        "kind": "ServiceAccount",
        "name": sa["metadata"]["name"],
        "namespace": sa["metadata"]["namespace"],
    }
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        assert one(kind)["subjects"] == [subject]
    assert one("RoleBinding")["metadata"]["namespace"] == "globaldb-system"


def test_iam_policy_grants_exactly_the_calls_the_controller_makes():
    with open(os.path.join(MANIFESTS, "iam-policy.json")) as f:
        policy = json.load(f)
    actions = set()
    for st in policy["Statement"]:
        if st["Effect"] == "Deny":  # narrows what an Allow grants (ownership, below)
            continue
        assert st["Effect"] == "Allow"
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        for a in acts:
            assert "*" not in a, a
        actions.update(acts)
    assert actions == {
        "rds:DescribeGlobalClusters",
        "rds:DescribeDBClusters",
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusterSnapshots",
        "rds:SwitchoverGlobalCluster",
        "rds:FailoverGlobalCluster",
        "rds:RemoveFromGlobalCluster",
        "rds:CreateGlobalCluster",
        "rds:DeleteGlobalCluster",
        "rds:CreateDBCluster",
        "rds:ModifyDBCluster",
        "rds:DeleteDBCluster",
        "rds:CreateDBInstance",
        "rds:DeleteDBInstance",
        "rds:CopyDBClusterSnapshot",
        "rds:AddTagsToResource",
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "route53:GetChange",
        "ecs:UpdateService",
        "ecs:DescribeServices",
        "ssm:GetParameter",
        "ssm:PutParameter",
        "secretsmanager:GetSecretValue",
        "kms:DescribeKey",
        "kms:CreateGrant",
        "kms:Decrypt",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    # The guard's table only (--guard-table; docs/deploy.md).
    (guard,) = [st for st in policy["Statement"] if st.get("Sid") == "TwoControllerGuard"]
    assert guard["Resource"] == "arn:aws:dynamodb:*:*:table/globaldb-guard"
    # KMS only through the services that need it.
    for st in policy["Statement"]:
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if any(a.startswith("kms:") for a in acts):
            assert "kms:ViaService" in st["Condition"]["StringLike"]


def test_iam_policy_changes_rds_only_where_owner_tags_say_so():
    """docs/deploy.md, "Ownership in IAM": every RDS call that changes a cluster or a
    global cluster needs the owner tags on it (aws:ResourceTag) or in the request
    (aws:RequestTag); only snapshots and instances, which have no owner tags of their
    own, are granted without; and no owner tag is ever overwritten."""
    with open(os.path.join(MANIFESTS, "iam-policy.json")) as f:
        policy = json.load(f)
    owner = "globaldb.io/owner"
    unconditioned_ok = ("cluster-snapshot:", ":db:")
    for st in policy["Statement"]:
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        changes = [a for a in acts if a.startswith("rds:") and not a.startswith("rds:Describe")]
        if not changes or st["Effect"] != "Allow":
            continue
        nulls = st.get("Condition", {}).get("Null", {})
        tagged = nulls.get(f"aws:ResourceTag/{owner}") == "false" or (
            nulls.get(f"aws:RequestTag/{owner}") == "false"
        )
        if not tagged:
            assert all(any(k in r for k in unconditioned_ok) for r in res), st["Sid"]
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert [(d["Action"], d["Condition"]) for d in deny] == [
        ("rds:AddTagsToResource", {"Null": {f"aws:ResourceTag/{owner}": "false"}})
    ]
