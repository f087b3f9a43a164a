"""The container image, built by hack/docker-build and inspected without a
container runtime (crun cannot run containers on these machines): the image
is mounted with `podman image mount` and its binary run with chroot as the
image's own non-root user."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest
from elf import hardening

SRC = os.environ.get("GDB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
with open(os.path.join(SRC, "CMakeLists.txt")) as _f:
    VERSION = re.search(r"project\(globaldb-controller VERSION ([0-9.]+)", _f.read()).group(1)
IMAGE = f"globaldb-controller:{VERSION}"
BIN = "/usr/local/bin/globaldb-controller"
UID = 65532
LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/lib64",
)


def sh(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kw).stdout


@pytest.fixture(scope="module")
def image():
    assert os.geteuid() == 0, (
        "the image test needs root: podman build with chroot isolation, chroot"
    )
    start = time.monotonic()
    r = subprocess.run(
        [os.path.join(SRC, "hack", "docker-build")],
        env=dict(os.environ, IMAGE=IMAGE),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    print(f"\nhack/docker-build took {time.monotonic() - start:.0f} s")
    [info] = json.loads(sh("podman", "image", "inspect", IMAGE))
    print(f"image {IMAGE}: {info['Size'] / 1e6:.1f} MB ({info['Size']} bytes)")
    return info


@pytest.fixture(scope="module")
def root(image):
    mnt = sh("podman", "image", "mount", IMAGE).strip()
    yield mnt
    subprocess.run(["podman", "image", "unmount", IMAGE], capture_output=True)


def chroot(root, *args, **kw):
    return subprocess.run(
        ["chroot", f"--userspec={UID}:{UID}", root, *args],
        capture_output=True,
        text=True,
        timeout=30,
        **kw,
    )


def test_image_config_runs_as_fixed_non_root_user_with_oci_labels(image):
    cfg = image["Config"]
    assert cfg["User"] == f"{UID}:{UID}"
    assert cfg["Entrypoint"] == [BIN]
    assert set(cfg["ExposedPorts"]) == {"8080/tcp", "8081/tcp"}
    labels = image["Labels"]
    assert labels["org.opencontainers.image.title"] == "globaldb-controller"
    assert labels["org.opencontainers.image.version"] == VERSION
    assert re.fullmatch(r"[0-9a-f]{12}|unknown", labels["org.opencontainers.image.revision"])
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", labels["org.opencontainers.image.created"]
    )


def test_version_runs_as_the_image_user(root):
    r = chroot(root, BIN, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"globaldb-controller {VERSION}\n"
    with open(os.path.join(root, "etc", "passwd")) as f:
        assert f"nonroot:x:{UID}:{UID}:" in f.read()


def test_binary_is_static_and_needs_no_loader(root):
    # No interpreter and no NEEDED entry: nothing in the image is loaded but the binary.
    hdr = sh("readelf", "-l", "-d", root + BIN)
    assert "program interpreter" not in hdr, hdr
    assert "(NEEDED)" not in hdr, hdr
    for d in LIB_DIRS:
        assert not os.path.isdir(root + d) or not os.listdir(root + d), d


def test_binary_in_the_image_is_hardened(root):
    # The shipped binary may be stripped: its headers still tell PIE, RELRO and NX.
    h = hardening(root + BIN, symbols=False)
    assert h == {"pie": True, "static": True, "relro": True, "bind_now": True, "nx_stack": True}, h


def test_image_holds_the_binary_its_ca_bundle_and_licences_only(root):
    allowed = re.compile(
        r"^(usr/local/bin/globaldb-controller|usr/share/doc/[^/]+/copyright|"
        r"etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt))$"
    )
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            files.append(os.path.relpath(os.path.join(d, n), root))
    assert files
    extra = [f for f in files if not allowed.match(f)]
    assert not extra, extra
    for tool in ("bin/sh", "usr/bin/bash", "usr/bin/apt", "usr/bin/dpkg"):
        assert not os.path.lexists(os.path.join(root, tool)), tool
    # The licence of every library linked into the binary travels with it.
    docs = {f.split("/")[3] for f in files if f.startswith("usr/share/doc/")}
    assert {
        "curl",
        "libmicrohttpd",
        "libssl-dev",
        "libjansson-dev",
        "libyaml-dev",
        "libc6-dev",
        "ca-certificates",
    } <= docs, docs
    # libcurl was built to read this bundle (hack/build-deps): it is there, and holds certificates.
    with open(os.path.join(root, "etc/ssl/certs/ca-certificates.crt")) as f:
        assert f.read().count("BEGIN CERTIFICATE") > 100


def kubeconfig_volume(tmp_path):
    """A directory like a mounted Secret: the controller ServiceAccount's
    kubeconfig with its CA beside it, readable by the image's user only."""
    with open(os.environ["GDB_TESTENV_STATE"]) as f:
        env = json.load(f)
    with open(env["controller_kubeconfig"]) as f:
        cfg = json.load(f)
    d = tmp_path / "volume"
    d.mkdir()
    for c in cfg["clusters"]:
        c["cluster"]["certificate-authority"] = "/tmp/ca.crt"
    (d / "ca.crt").write_bytes(open(env["ca_file"], "rb").read())
    (d / "kubeconfig").write_text(json.dumps(cfg))
    for p in (d, d / "ca.crt", d / "kubeconfig"):
        os.chown(p, UID, UID)
        os.chmod(p, 0o700 if p == d else 0o600)
    ns = f"image-{os.getpid()}-{int(time.time())}"
    subprocess.run(
        [env["kubectl"], "--kubeconfig", env["kubeconfig"], "create", "namespace", ns],
        check=True,
        capture_output=True,
    )
    return d, ns


def test_controller_serves_from_the_read_only_image(root, tmp_path):
    # The mounted image is read-only: serving from it proves no root-fs writes are needed.
    with pytest.raises(OSError):
        open(os.path.join(root, "probe-write"), "w").close()
    volume, ns = kubeconfig_volume(tmp_path)
    # As a pod gets its Secret volume: bind-mounted over the image's /tmp in a
    # private mount namespace, then the binary runs chrooted as UID 65532. It
    # watches an empty namespace and every AWS endpoint points at a closed
    # loopback port, so it acts on nothing.
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "AKIDTESTONLY",
        "AWS_SECRET_ACCESS_KEY": "test-only",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
    }
    p = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'v=$1 r=$2 b=$3; shift 3; mount --bind "$v" "$r/tmp" && '
            f'exec chroot --userspec={UID}:{UID} "$r" "$b" "$@"',
            "sh",
            str(volume),
            root,
            BIN,
            "--log-format=json",
            "--kubeconfig=/tmp/kubeconfig",
            f"--namespace={ns}",
            "--metrics-bind-address=127.0.0.1:0",
            "--health-probe-bind-address=127.0.0.1:0",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ports, log = {}, []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = p.stderr.readline()
            assert line, f"controller exited early: {log}"
            assert line.startswith("{"), line
            rec = json.loads(line)
            log.append(rec)
            if rec["msg"] == "serving http":
                ports[rec["endpoints"]] = int(rec["port"])
            if rec["msg"] == "started":
                break
        with urllib.request.urlopen(
            f"http://127.0.0.1:{ports['/healthz,/readyz']}/readyz?verbose", timeout=5
        ) as r:
            body = r.read().decode()
            assert r.status == 200 and "[+]informer-sync ok" in body, body
        with urllib.request.urlopen(
            f"http://127.0.0.1:{ports['/metrics']}/metrics", timeout=5
        ) as r:
            assert b"globaldb_build_info" in r.read()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
