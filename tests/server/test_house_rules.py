"""The house rules a newcomer relies on (CONTRIBUTING.md): every module of
pkg/ (a public header) has its test file, tests/<pkg>/test_<module>*, and no C
file grows past ~800 lines unless its header comment says why ("Size:")."""

import os
import subprocess

SOURCE = os.environ.get("GDB_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
MAX_LINES = 850  # "about 800": a file may breathe past it before it needs a reason
# Headers without code of their own: the package's umbrella, a ban list tested by name.
NO_CODE = {"pkg/kube/kube.h"}
ALSO_TESTED_AS = {"pkg/base/banned.h": "tests/base/test_banned.cmake"}


def tracked(pattern):
    out = subprocess.run(
        ["git", "-C", SOURCE, "ls-files", "-z", pattern], capture_output=True, check=True
    ).stdout
    return sorted(p for p in out.decode().split("\0") if p)


def test_every_module_has_its_test_file():
    missing = []
    for header in tracked("pkg/*.h"):
        if header.endswith("_int.h") or header in NO_CODE:
            continue
        pkg = os.path.basename(os.path.dirname(header))
        module = os.path.basename(header)[: -len(".h")]
        tests = os.path.join(SOURCE, "tests", pkg)
        names = os.listdir(tests) if os.path.isdir(tests) else []
        found = [
            n for n in names if n.startswith(f"test_{module}.") or n.startswith(f"test_{module}_")
        ]
        if not found and header not in ALSO_TESTED_AS:
            missing.append(f"{header}: no tests/{pkg}/test_{module}.c")
    assert not missing, "\n".join(missing)


def test_a_long_file_says_why():
    long = []
    for path in tracked("*.c"):
        with open(os.path.join(SOURCE, path), errors="replace") as f:
            text = f.read()
        head = text[:3000]
        if text.count("\n") > MAX_LINES and "Size:" not in head:
            long.append(f"{path}: {text.count(chr(10))} lines, no 'Size:' note in its header")
    assert not long, "\n".join(long)
