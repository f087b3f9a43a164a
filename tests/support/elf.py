"""What the ELF headers of a built binary say about its hardening, read with
binutils' readelf and nm (the same tools a security review would use)."""

import subprocess


def _run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def hardening(path, symbols=True):
    """A dict of facts about the binary at path: pie, static, relro, bind_now,
    nx_stack, and (with symbols, for an unstripped binary) stack_protector and
    fortify (the number of glibc's checked __*_chk functions it calls)."""
    header = _run("readelf", "-hlW", path)
    dynamic = _run("readelf", "-dW", path)
    stack = [ln for ln in header.splitlines() if ln.split()[:1] == ["GNU_STACK"]]
    facts = {
        "pie": "DYN (" in header and "PIE" in dynamic,
        "static": "program interpreter" not in header and "(NEEDED)" not in dynamic,
        "relro": any(ln.split()[:1] == ["GNU_RELRO"] for ln in header.splitlines()),
        "bind_now": "BIND_NOW" in dynamic or " NOW" in dynamic,
        "nx_stack": bool(stack) and "E" not in stack[0].split()[-2],
    }
    if symbols:
        names = {ln.split()[-1] for ln in _run("nm", path).splitlines() if ln.strip()}
        facts["stack_protector"] = "__stack_chk_fail" in names
        facts["fortify"] = sum(1 for n in names if n.startswith("__") and n.endswith("_chk"))
    return facts
