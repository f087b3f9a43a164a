"""The controller binary is hardened: it parses what AWS, the apiserver and
PostgreSQL send it. Read from its ELF headers, as a security review would."""

import os

from elf import hardening

BIN = os.environ["GDB_CONTROLLER_BIN"]


def test_binary_is_static_pie_with_relro_now_and_no_executable_stack():
    h = hardening(BIN)
    assert h["static"], "the binary loads a shared library or needs a loader"
    assert h["pie"], "not position independent: ASLR cannot move it"
    assert h["relro"] and h["bind_now"], "relocations stay writable after start"
    assert h["nx_stack"], "the stack is executable"


def test_binary_has_stack_canaries_and_checked_glibc_calls():
    h = hardening(BIN)
    assert h["stack_protector"], "built without -fstack-protector-strong"
    # _FORTIFY_SOURCE=3 turns memcpy, snprintf, read, ... into their checked forms.
    assert h["fortify"] >= 5, f"only {h['fortify']} checked glibc calls: _FORTIFY_SOURCE off?"
