#!/usr/bin/env python3
"""One SPIN verification of the protocol model (model/, docs/protocol.md).

spin -a generates the verifier pan.c, gcc compiles it, ./pan searches the
whole state space, all in a fresh temporary directory. --expect clean passes
when pan reports "errors: 0" over a complete search; --expect counterexample
passes when pan finds one (a model of the old behaviour must still show its
defect) and prints the trail's summary. On an unexpected result the trail is
printed too. A missing spin or gcc is a failure, never a skip.

  run_spin.py --model model/failover.pml --mode safety --expect clean -D F_EXT=0
  run_spin.py --model model/old_restart.pml --mode outage_ends --expect counterexample
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, cwd, timeout):
    p = subprocess.run(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return p.returncode, p.stdout


def trail(spin, cwd, model, defines, full):
    """The counterexample: the model's MSC lines (what happened), or every step."""
    _, out = run([spin, "-t", "-g", "-l", "-p"] + defines + [model], cwd, 120)
    if full:
        return out
    keep = [
        line.strip()
        for line in out.splitlines()
        if "MSC:" in line
        and "printf" not in line
        or "START OF CYCLE" in line
        or "assertion violated" in line
        or "text of failed assertion" in line
    ]
    return "\n".join(keep)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", required=True, help="the .pml file to check")
    ap.add_argument(
        "--mode",
        required=True,
        help="safety (assertions only) or the name of an ltl property (liveness)",
    )
    ap.add_argument("--expect", required=True, choices=["clean", "counterexample"])
    ap.add_argument(
        "-D",
        dest="defines",
        action="append",
        default=[],
        help="NAME[=VALUE] for the model's preprocessor",
    )
    ap.add_argument("--depth", type=int, default=1000000, help="pan -m")
    ap.add_argument("--workdir", default=None, help="where the temporary directory goes")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    spin = os.environ.get("GDB_SPIN") or shutil.which("spin")
    if not spin or not os.path.exists(spin):
        fail(
            "spin is not installed; the model tier needs it: apt-get install -y spin "
            "(listed in hack/apt-packages.txt)"
        )
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        fail("no C compiler (gcc) to build SPIN's verifier")

    model = os.path.abspath(args.model)
    if not os.path.isfile(model):
        fail(f"no such model: {model}")
    defines = [f"-D{d}" for d in args.defines]
    liveness = args.mode != "safety"

    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="spin-", dir=args.workdir)
    try:
        # The model and what it includes, copied: spin writes pan.* and the trail
        # next to the model.
        src = os.path.dirname(model)
        for name in os.listdir(src):
            if name.endswith(".pml"):
                shutil.copy(os.path.join(src, name), tmp)
        name = os.path.basename(model)
        label = f"{name} {args.mode} {' '.join(args.defines)}".strip()
        t0 = time.monotonic()

        rc, out = run([spin, "-a"] + defines + [name], tmp, 120)
        if rc != 0 or not os.path.exists(os.path.join(tmp, "pan.c")):
            fail(f"spin -a {label}:\n{out}")
        cflags = ["-O2", "-w"]
        cflags += ["-DNFAIR=3"] if liveness else ["-DSAFETY", "-DNOCLAIM"]
        rc, out = run([cc] + cflags + ["-o", "pan", "pan.c"], tmp, 300)
        if rc != 0:
            fail(f"compiling pan.c ({' '.join(cflags)}):\n{out}")
        pan = ["./pan", f"-m{args.depth}"]
        pan += ["-a", "-f", "-N", args.mode] if liveness else []
        rc, out = run(pan, tmp, 1800)
        secs = time.monotonic() - t0

        m = re.search(r"errors: (\d+)", out)
        if not m:
            fail(f"pan printed no error count ({' '.join(pan)}):\n{out}")
        errors = int(m.group(1))
        stored = re.search(r"(\d+) states, stored", out)
        summary = (
            f"{label}: errors {errors}, {stored.group(1) if stored else '?'} states, {secs:.1f} s"
        )
        incomplete = "max search depth too small" in out or "Search not completed" in out

        if args.expect == "clean":
            if errors:
                print(out)
                print("--- counterexample (spin -t):")
                print(trail(spin, tmp, name, defines, full=True))
                fail(f"{summary}: the shipped protocol violates a property")
            if incomplete:
                print(out)
                fail(f"{summary}: the search did not complete; raise --depth")
            print(f"PASS {summary}: no counterexample over the whole state space")
            return
        if not errors:
            print(out)
            fail(
                f"{summary}: the old behaviour's counterexample was not found; "
                "the model no longer shows the defect it keeps as a regression"
            )
        print(f"PASS {summary}: counterexample found, as expected. What happened:")
        print(trail(spin, tmp, name, defines, full=False))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
