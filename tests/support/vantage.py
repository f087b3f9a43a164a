"""One controller's vantage point: its own network path to AWS and to PostgreSQL,
which a test can cut per region while another controller's path stays whole.

    v = Vantage("west", emulator.url, pg_ports={"us-east-1": [5501, 5502], ...})
    env AWS_ENDPOINT_URL=v.url           # the controller's AWS traffic
    v.cut("us-east-1")                   # partition this vantage point from us-east-1
    v.heal("us-east-1")
    v.close()

- AWS: a loopback HTTP proxy in front of the emulator. A call signed for a cut
  region (SigV4 credential scope, any service: RDS, DynamoDB, ...) is held
  without an answer until the client gives up or the cut heals, then the
  connection is closed, as a partition that drops packets looks to a client.
  Every other call is forwarded as it is; the emulator's call log sees it as
  usual (tell the controllers apart by their access keys: the log's caller).
- PostgreSQL: the emulator reports each bound server's port in
  DescribeDBClusters (cluster Port) and DescribeDBInstances (Endpoint.Port),
  which is where the controller probes. The proxy rewrites each such port in
  the answers to the port of this vantage point's own TcpProxy
  (tcpproxy.py) to that server, so a cut region's servers are blackholed for
  this controller only. The servers keep replicating to each other directly.

Thread-safety: every method may be called from any thread.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse

from httpfwd import ForwardingHandler, start_server
from tcpproxy import TcpProxy

_REGION_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/[^/,\s]+/aws4_request")
_PORT_RE = re.compile(rb"<Port>(\d+)</Port>")
HOLD_MAX_SECONDS = 300


class Vantage:
    def __init__(self, name, upstream_url, pg_ports):
        """pg_ports: {region: [port, ...]} of the servers bound in the emulator."""
        u = urllib.parse.urlsplit(upstream_url)
        self.name = name
        self.up_host, self.up_port = u.hostname, u.port
        self.lock = threading.Lock()
        self.cut_regions = set()
        self.held = 0  # AWS calls held by a cut, in total
        self.pg = {}  # real port -> (region, TcpProxy)
        for region, ports in pg_ports.items():
            for port in ports:
                self.pg[int(port)] = (region, TcpProxy(int(port)).start())
        self.port_map = {str(p).encode(): str(tp.port).encode() for p, (_, tp) in self.pg.items()}
        v = self

        class Handler(ForwardingHandler):
            up_host, up_port, up_timeout = v.up_host, v.up_port, HOLD_MAX_SECONDS

            def forward(self, body):
                m = _REGION_RE.search(self.headers.get("Authorization") or "")
                region = m.group(1) if m else None
                if region and v.is_cut(region):
                    v._hold(region)
                    self.close_connection = True
                    return None
                return self.relay(body, rewrite=v.rewrite)

        self.server = start_server(Handler, f"vantage-{name}")
        self.url = self.server.url

    # -- control -------------------------------------------------------------

    def cut(self, region):
        """Partition this vantage point from region: its AWS endpoints and its servers."""
        with self.lock:
            self.cut_regions.add(region)
        for r, tp in self.pg.values():
            if r == region:
                tp.set_mode("blackhole")

    def heal(self, region=None):
        """End the cut of region (of every region without one)."""
        with self.lock:
            regions = set(self.cut_regions) if region is None else {region}
            self.cut_regions -= regions
        for r, tp in self.pg.values():
            if r in regions:
                tp.set_mode("forward")

    def is_cut(self, region):
        with self.lock:
            return region in self.cut_regions

    def pg_port(self, real_port):
        """This vantage point's port for a server."""
        return self.pg[int(real_port)][1].port

    def close(self):
        self.heal()
        self.server.shutdown()
        self.server.server_close()
        for _, tp in self.pg.values():
            tp.stop()

    # -- internals -----------------------------------------------------------

    def rewrite(self, data):
        if not self.port_map or b"<Port>" not in data:
            return data
        return _PORT_RE.sub(
            lambda m: b"<Port>" + self.port_map.get(m.group(1), m.group(1)) + b"</Port>", data
        )

    def _hold(self, region):
        with self.lock:
            self.held += 1
        deadline = time.monotonic() + HOLD_MAX_SECONDS
        while self.is_cut(region) and time.monotonic() < deadline:
            time.sleep(0.05)
