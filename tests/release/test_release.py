"""`make release`: what a user installs (install.yaml, for one version) and what
a security scanner reads (the SBOM of the static binary)."""

import json
import os
import re
import subprocess

import pytest

SRC = os.environ["GDB_SOURCE_DIR"]
BUILD = os.environ["GDB_BINARY_DIR"]
BIN = os.environ["GDB_CONTROLLER_BIN"]
with open(os.environ["GDB_TESTENV_STATE"]) as _f:
    ENV = json.load(_f)
VERSION = "0.9.1"

# Everything linked into the controller: hack/build-deps' three, the Debian
# -dev packages' archives, and the C library.
LINKED = {"curl", "libmicrohttpd", "postgresql-15", "openssl", "jansson", "libyaml", "glibc"}
# A function of each that the controller calls, so it is linked in.
EVIDENCE = {
    "curl": "curl_easy_perform",
    "libmicrohttpd": "MHD_start_daemon",
    "postgresql-15": "PQconnectStartParams",
    "openssl": "SSL_CTX_new",
    "jansson": "json_loads",
    "libyaml": "yaml_parser_initialize",
    "glibc": "__libc_start_main",
}
DEBIAN_DEV = {
    "openssl": "libssl-dev",
    "jansson": "libjansson-dev",
    "libyaml": "libyaml-dev",
    "glibc": "libc6-dev",
}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    r = subprocess.run(
        [
            "make",
            "-C",
            SRC,
            "--no-print-directory",
            "release",
            f"DIST={d}",
            f"BUILD={BUILD}",
            f"VERSION={VERSION}",
            f"ARM64_BUILD={d}/no-arm64",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def test_install_yaml_is_one_version_and_applies(dist):
    text = (dist / "install.yaml").read_text()
    images = re.findall(r"image: (\S+)", text)
    assert images and all(i == f"globaldb-controller:{VERSION}" for i in images), images
    assert "kind: CustomResourceDefinition" in text
    r = subprocess.run(
        [
            ENV["kubectl"],
            "--kubeconfig",
            ENV["kubeconfig"],
            "apply",
            "--dry-run=server",
            "-f",
            str(dist / "install.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    for obj in (
        "customresourcedefinition.apiextensions.k8s.io/globaldatabases.globaldb.io",
        "namespace/globaldb-system",
        "deployment.apps/globaldb-controller",
        "clusterrole.rbac.authorization.k8s.io/globaldb-controller",
    ):
        assert obj in r.stdout, r.stdout


def test_helm_chart_is_packaged_when_the_tree_has_it(dist):
    charts = sorted(p.name for p in dist.glob("*.tgz"))
    if os.path.exists(os.path.join(SRC, "charts", "globaldb-controller", "Chart.yaml")):
        assert charts == [f"globaldb-controller-{VERSION}.tgz"]
    else:
        assert charts == []


def dpkg_source_version(pkg):
    # The host's package: with dpkg's multiarch, arm64's may be installed too.
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout
    return subprocess.run(
        ["dpkg-query", "-W", "-f=${source:Version}", f"{pkg}:{arch.strip()}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_sbom_lists_every_linked_library_for_a_scanner(dist):
    doc = json.loads((dist / "sbom-linux-amd64.spdx.json").read_text())
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0"
    assert doc["documentNamespace"].startswith("https://")
    pkgs = {p["name"]: p for p in doc["packages"]}
    assert pkgs["globaldb-controller"]["versionInfo"] == VERSION
    assert set(pkgs) - {"globaldb-controller"} == LINKED
    links = {
        r["relatedSpdxElement"]
        for r in doc["relationships"]
        if r["relationshipType"] == "STATIC_LINK"
    }
    for name in LINKED:
        p = pkgs[name]
        assert p["SPDXID"] in links, name
        assert p["versionInfo"] and p["licenseDeclared"] not in ("", "NOASSERTION"), p
        purls = [r["referenceLocator"] for r in p["externalRefs"] if r["referenceType"] == "purl"]
        version = p["versionInfo"].replace("+", "%2B")
        assert purls == [f"pkg:deb/debian/{name}@{version}?arch=source&distro=bookworm"], purls
    # The versions are what dpkg and hack/build-deps say is on this machine.
    for name, dev in DEBIAN_DEV.items():
        assert pkgs[name]["versionInfo"] == dpkg_source_version(dev), name
    with open(
        os.path.join(
            os.environ.get("GLOBALDB_CACHE", os.path.expanduser("~/.cache/globaldb-controller")),
            "deps",
            "VERSIONS",
        )
    ) as f:
        built = dict(line.strip().split("=", 1) for line in f if "=" in line)
    for name in ("curl", "libmicrohttpd", "postgresql-15"):
        assert pkgs[name]["versionInfo"] == built[name]
    # And the binary carries each of them: a function it defines, and the
    # version strings libcurl and OpenSSL compile in.
    defined = {
        ln.split()[-1]
        for ln in subprocess.run(
            ["nm", BIN], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        if len(ln.split()) == 3 and ln.split()[1] in "TtWw"
    }
    for name, symbol in EVIDENCE.items():
        assert symbol in defined, f"{symbol} ({name}) is not in the binary"
    strings = subprocess.run(
        ["strings", BIN], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert pkgs["curl"]["versionInfo"].split("-")[0] in strings
    openssl = "OpenSSL " + pkgs["openssl"]["versionInfo"].split("-")[0] + " "
    assert any(s.startswith(openssl) for s in strings), openssl
