"""`make demo-helm` (hack/demo-helm) end to end, non-interactively, as a
newcomer would run it on a prepared machine: it exits 0, its output shows the
release deployed and the GlobalDatabase Ready, and nothing it started is left
listening."""

import os
import re
import socket
import subprocess

from helmutil import SRC


def test_demo_helm_installs_the_chart_and_makes_a_globaldatabase_ready():
    env = {**os.environ, "GDB_DEMO_SKIP_INSTALL": "1", "GDB_SOURCE_DIR": SRC}
    r = subprocess.run(
        [os.path.join(SRC, "hack", "demo-helm")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=400,
        stdin=subprocess.DEVNULL,
    )
    out = r.stdout
    print(out)
    assert r.returncode == 0, f"hack/demo-helm exited {r.returncode}"
    # helm install's own report, then `helm list`: the release is deployed.
    assert "STATUS: deployed" in out
    listing = out.split("$ helm list", 1)[1].split("\n$ ", 1)[0]
    assert re.search(
        r"^\s+globaldb-controller\s+globaldb-system\s+1\s+.*\sdeployed\s", listing, re.M
    ), listing
    # `kubectl get globaldatabase`: orders, Ready True; and the condition itself.
    gets = out.split("get globaldatabase", 1)[1].split("\n$ ", 1)[0]
    assert re.search(r"^\s+orders\s+us-east-1\s+us-east-1\s+True\b", gets, re.M), gets
    assert "status=True reason=WriterInDesiredRegion" in out
    # The honest note: a local process, not a pod.
    assert "no kubelet" in out
    # Nothing left listening: the demo's kube-apiserver is gone.
    m = re.search(r"kube-apiserver at https://127\.0\.0\.1:(\d+)", out)
    assert m, "the demo did not say where its kube-apiserver was"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(m.group(1)))) != 0, "kube-apiserver still listening"
