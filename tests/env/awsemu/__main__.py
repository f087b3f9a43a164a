"""python -m awsemu: run the emulator in the foreground until SIGTERM/SIGINT."""

import argparse
import json
import os
import signal
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="awsemu", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    ap.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    ap.add_argument("--url-file", help="write the base URL to this file once listening")
    ap.add_argument("--fast", action="store_true", help="all transition delays zero")
    ap.add_argument("--delays", help='JSON object of delays in seconds, e.g. {"cluster_create": 1}')
    args = ap.parse_args(argv)

    from . import rds_ext
    from .server import Emulator

    delays = dict(rds_ext.FAST_DELAYS if args.fast else rds_ext.DEFAULT_DELAYS)
    if args.delays:
        extra = json.loads(args.delays)
        unknown = set(extra) - set(delays)
        if unknown:
            ap.error(f"unknown delays: {', '.join(sorted(unknown))}")
        delays.update({k: float(v) for k, v in extra.items()})
    emu = Emulator(args.host, args.port, delays=delays)
    if args.url_file:
        tmp = args.url_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(emu.url + "\n")
        os.replace(tmp, args.url_file)
    print(f"awsemu: listening on {emu.url}", flush=True)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        emu.serve_forever()
    except SystemExit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
