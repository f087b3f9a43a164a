"""The real helm and kubectl CLIs on charts/globaldb-controller: render with
values, read the objects, find them by kind and name."""

import atexit
import json
import os
import shutil
import subprocess
import tempfile

import yaml

SRC = os.environ.get("GDB_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
CHART = os.path.join(SRC, "charts", "globaldb-controller")
RELEASE, NAMESPACE = "globaldb-controller", "globaldb-system"


def _bin_dir(script):
    out = subprocess.run(
        [os.path.join(SRC, "hack", script)], check=True, stdout=subprocess.PIPE, text=True
    )
    return out.stdout.strip().splitlines()[-1]


HELM = os.path.join(_bin_dir("build-helm"), "helm")
KUBECTL = os.path.join(_bin_dir("build-k8s-bins"), "kubectl")

# helm keeps its config, cache and data under these: the tests touch nothing
# of the user's.
_HOME = tempfile.mkdtemp(prefix="gdb-helm-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
HELM_ENV = {
    **os.environ,
    "HELM_CONFIG_HOME": os.path.join(_HOME, "config"),
    "HELM_CACHE_HOME": os.path.join(_HOME, "cache"),
    "HELM_DATA_HOME": os.path.join(_HOME, "data"),
}


def helm(*args, kubeconfig=None, check=True, timeout=120):
    argv = [HELM, *args]
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=HELM_ENV)
    if check:
        assert r.returncode == 0, f"helm {' '.join(args)} failed:\n{r.stderr}"
    return r


def values_file(values):
    """A values file for helm's -f (JSON is YAML)."""
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, dir=_HOME)
    json.dump(values, f)
    f.close()
    return f.name


def template_text(values=None, release=RELEASE, namespace=NAMESPACE, crds=True, check=True):
    args = ["template", release, CHART, "--namespace", namespace]
    if crds:
        args.append("--include-crds")
    if values:
        args += ["-f", values_file(values)]
    return helm(*args, check=check)


def render(values=None, **kw):
    """The chart's objects for these values, as dicts."""
    return [o for o in yaml.safe_load_all(template_text(values, **kw).stdout) if o]


def kustomize(path=None):
    """The objects of `kubectl kustomize manifests` (or of another kustomization)."""
    r = subprocess.run(
        [KUBECTL, "kustomize", path or os.path.join(SRC, "manifests")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return [o for o in yaml.safe_load_all(r.stdout) if o]


def find(objs, kind, name=None, namespace=None):
    """The one object of this kind (and name, and namespace)."""
    got = [
        o
        for o in objs
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert len(got) == 1, f"{len(got)} {kind} {name or ''} in {[ids(o) for o in objs]}"
    return got[0]


def ids(o):
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def container(deployment):
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c
