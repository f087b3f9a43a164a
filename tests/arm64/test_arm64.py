"""globaldb-controller for arm64 (aarch64): cross-built with Debian's cross
toolchain, a static-pie AArch64 executable that starts under qemu, and the
unit tier's Check programs, the fuzz corpora and the command-line tests
passing under qemu-aarch64-static.

GDB_ARM64_TESTS, when set, is a ctest -R regex: the subset CI runs (the whole
unit tier under qemu is `make arm64-test`)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from elf import hardening

SRC = os.environ["GDB_SOURCE_DIR"]
BUILD = os.environ["GDB_ARM64_BUILD"]
SUBSET = os.environ.get("GDB_ARM64_TESTS", "")
QEMU = shutil.which("qemu-aarch64-static")
BIN = os.path.join(BUILD, "cmd", "globaldb-controller", "globaldb-controller")
CACHE = os.environ.get("GLOBALDB_CACHE", os.path.expanduser("~/.cache/globaldb-controller"))


def run(*args, timeout=3000):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(args)}:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


@pytest.fixture(scope="module")
def built():
    assert QEMU, "qemu-aarch64-static missing: run hack/install-deps --arm64"
    assert shutil.which("aarch64-linux-gnu-gcc"), "no cross compiler: hack/install-deps --arm64"
    run(os.path.join(SRC, "hack", "build-deps"), "--arch", "arm64")
    run(
        "cmake",
        "-S",
        SRC,
        "-B",
        BUILD,
        "-G",
        "Ninja",
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
        f"-DCMAKE_TOOLCHAIN_FILE={SRC}/cmake/aarch64-linux-gnu.cmake",
    )
    run("cmake", "--build", BUILD)
    return BUILD


def test_controller_is_a_static_pie_aarch64_executable(built):
    header = run("readelf", "-hW", BIN).stdout
    assert re.search(r"Machine:\s+AArch64", header), header
    h = hardening(BIN, symbols=False)
    assert h["static"], "the arm64 binary needs a loader or a shared library"
    assert h["pie"], "the arm64 binary is not position independent"
    assert h["relro"] and h["bind_now"] and h["nx_stack"]


def test_controller_starts_under_qemu(built):
    r = run(QEMU, BIN, "--version", timeout=120)
    assert "0." in r.stdout or "0." in r.stderr
    # A bad flag is refused with a clear message, not a crash.
    r = subprocess.run([QEMU, BIN, "--no-such-flag"], capture_output=True, text=True, timeout=120)
    assert r.returncode not in (0, -11, -6) and "no-such-flag" in r.stderr


def test_unit_check_programs_and_fuzz_corpora_pass_under_qemu(built):
    label = "^(unit|fuzz)$"
    listing = run("ctest", "--test-dir", built, "-N", "-L", label).stdout
    names = re.findall(r"Test\s+#\d+: (\S+)", listing)
    assert names, listing
    # Every unit and fuzz-corpus test registered in the cross build is a C
    # program (the pytest tiers are not registered there), and ctest runs it
    # through qemu.
    args = ["ctest", "--test-dir", built, "-L", label, "--output-on-failure"]
    if SUBSET:
        args += ["-R", SUBSET]
    r = subprocess.run(args, capture_output=True, text=True, timeout=3000)
    print(r.stdout[-3000:])
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    ran = re.search(r"(\d+)% tests passed, 0 tests failed out of (\d+)", r.stdout)
    assert ran and int(ran.group(2)) > 0, r.stdout
    if not SUBSET:
        assert int(ran.group(2)) == len(names)


def test_sbom_names_the_arm64_libraries(built):
    """hack/sbom on build-arm64: the arm64 archives it linked, with the
    versions of the cross-built prefix and of dpkg's arm64 packages."""
    doc = json.loads(run(os.path.join(SRC, "hack", "sbom"), "--build-dir", built).stdout)
    assert doc["name"].endswith("-linux-arm64")
    pkgs = {p["name"]: p for p in doc["packages"]}
    assert set(pkgs) == {
        "globaldb-controller",
        "curl",
        "libmicrohttpd",
        "postgresql-15",
        "openssl",
        "jansson",
        "libyaml",
        "glibc",
    }
    with open(os.path.join(CACHE, "deps-arm64", "VERSIONS")) as f:
        versions = dict(line.strip().split("=", 1) for line in f if "=" in line)
    for name in ("curl", "libmicrohttpd", "postgresql-15"):
        assert pkgs[name]["versionInfo"] == versions[name]
    for name, dev in (
        ("openssl", "libssl-dev"),
        ("jansson", "libjansson-dev"),
        ("libyaml", "libyaml-dev"),
    ):
        assert f"{dev}:arm64" in pkgs[name]["comment"], pkgs[name]["comment"]
    assert "libc6-dev-arm64-cross" in pkgs["glibc"]["comment"]
    assert re.fullmatch(r"2\.\d+-\d+\S*", pkgs["glibc"]["versionInfo"]), pkgs["glibc"][
        "versionInfo"
    ]


def test_cli_tests_pass_against_the_arm64_binary_under_qemu(built):
    """tests/cmd's flag and start-up tests (ctest cmd_cli, cmd_watch_namespace),
    run against the arm64 controller through qemu."""
    env = dict(os.environ)
    env.update(
        GDB_CONTROLLER_BIN=BIN,
        GDB_CONTROLLER_EMULATOR=QEMU,
        PYTHONPATH=f"{SRC}/tests/env:{SRC}/tests/support",
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/cmd/test_cmd.py",
            "tests/cmd/test_cmd_watch_namespace.py",
        ],
        cwd=SRC,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert re.search(r"\d+ passed", r.stdout) and "skipped" not in r.stdout, r.stdout[-2000:]
