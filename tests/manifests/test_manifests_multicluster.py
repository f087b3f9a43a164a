"""deploy/multicluster (a controller in each region's Kubernetes
cluster, sharing decisions through the guard table) against the real
kube-apiserver of the shared test environment: each region's overlay is the
cluster-wide install plus the flags that name its region and the guard, it
applies (server-side dry run), the binary accepts those flags, and the Argo
CD ApplicationSet and Flux Kustomizations point at overlays that exist."""

import os
import re
import subprocess

import pytest
import yaml

from kubectl_env import MANIFESTS, SRC, build, kubectl

MULTI = os.path.join(SRC, "deploy", "multicluster")
REGIONS = sorted(
    d for d in os.listdir(MULTI) if os.path.isfile(os.path.join(MULTI, d, "kustomization.yaml"))
)


def controller_args(objs):
    d = next(o for o in objs if o["kind"] == "Deployment")
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return c["args"]


def flag(args, name):
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) == 1, (name, args)
    return values[0]


def test_three_regions_share_one_guard():
    assert REGIONS == ["us-east-1", "us-east-2", "us-west-2"]
    tables = set()
    for region in REGIONS:
        args = controller_args(build(os.path.join(MULTI, region)))
        assert flag(args, "region") == region
        tables.add(flag(args, "guard-table"))
        replicas = flag(args, "guard-regions").split(",")
        # Its own replica first, and all three, so that losing any one region
        # leaves each controller two replicas to try.
        assert replicas[0] == region and sorted(replicas) == REGIONS, replicas
    assert len(tables) == 1


@pytest.mark.parametrize("region", REGIONS)
def test_overlay_is_the_cluster_wide_install_plus_the_guard(region):
    objs = build(os.path.join(MULTI, region))
    base = build(MANIFESTS)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objs) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in base
    )
    extra = [a for a in controller_args(objs) if a not in controller_args(base)]
    assert sorted(a.split("=")[0] for a in extra) == [
        "--guard-regions",
        "--guard-table",
        "--region",
    ]
    kubectl(
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        input=kubectl("kustomize", os.path.join(MULTI, region)).stdout,
    )


def test_the_binary_accepts_the_overlay_flags():
    """A flag the binary does not know would crash-loop every region's controller."""
    binary = os.environ["GDB_CONTROLLER_BIN"]
    args = controller_args(build(os.path.join(MULTI, REGIONS[0])))
    r = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    for name in ("region", "guard-table", "guard-regions"):
        assert f"--{name}" in r.stdout


def test_gitops_sources_point_at_the_overlays():
    with open(os.path.join(MULTI, "applicationset.yaml")) as f:
        appsets = [d for d in yaml.safe_load_all(f) if d]
    controller = next(a for a in appsets if a["metadata"]["name"] == "globaldb-controller")
    (gen,) = controller["spec"]["generators"]
    labelled = gen["clusters"]["selector"]["matchExpressions"][0]["values"]
    assert sorted(labelled) == REGIONS
    path = controller["spec"]["template"]["spec"]["source"]["path"]
    for region in labelled:
        rendered = re.sub(r"\{\{[^}]*\}\}", region, path)
        assert os.path.isfile(os.path.join(SRC, rendered, "kustomization.yaml")), rendered
    with open(os.path.join(MULTI, "flux-kustomizations.yaml")) as f:
        flux = [d for d in yaml.safe_load_all(f) if d]
    ctl = next(k for k in flux if k["metadata"]["name"] == "globaldb-controller")
    assert os.path.isfile(os.path.join(SRC, ctl["spec"]["path"], "kustomization.yaml"))
    dbs = next(k for k in flux if k["metadata"]["name"] == "globaldatabases")
    assert dbs["spec"]["dependsOn"] == [{"name": "globaldb-controller"}]
