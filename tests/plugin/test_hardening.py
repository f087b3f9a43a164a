"""The plugin binary is hardened as the controller is (tests/server/test_hardening.py):
it parses what the apiserver and a kubeconfig's exec plugins send it."""

import os

from elf import hardening

BIN = os.environ["GDB_PLUGIN_BIN"]


def test_plugin_is_static_pie_with_relro_now_and_no_executable_stack():
    h = hardening(BIN)
    assert h["static"], "the plugin loads a shared library or needs a loader"
    assert h["pie"], "not position independent: ASLR cannot move it"
    assert h["relro"] and h["bind_now"], "relocations stay writable after start"
    assert h["nx_stack"], "the stack is executable"


def test_plugin_has_stack_canaries_and_checked_glibc_calls():
    h = hardening(BIN)
    assert h["stack_protector"], "built without -fstack-protector-strong"
    assert h["fortify"] >= 5, f"only {h['fortify']} checked glibc calls: _FORTIFY_SOURCE off?"
