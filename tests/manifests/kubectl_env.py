"""What the manifests tests against the real kube-apiserver share: the shared
test environment's state (ENV), the source tree (SRC, MANIFESTS), kubectl
against it, and a kustomization built into its objects."""

import json
import os
import subprocess

import yaml

SRC = os.environ["GDB_SOURCE_DIR"]
MANIFESTS = os.path.join(SRC, "manifests")
with open(os.environ["GDB_TESTENV_STATE"]) as _f:
    ENV = json.load(_f)


def kubectl(*args, kubeconfig=None, check=True, input=None):
    """kubectl with the admin kubeconfig (or kubeconfig); asserts success when check."""
    r = subprocess.run(
        [ENV["kubectl"], "--kubeconfig", kubeconfig or ENV["kubeconfig"], *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=input,
    )
    if check:
        assert r.returncode == 0, r.stderr
    return r


def build(path):
    """The objects `kubectl kustomize path` renders."""
    return [d for d in yaml.safe_load_all(kubectl("kustomize", path).stdout) if d]
