"""An HTTP/1.1 forwarding proxy on loopback for tests that stand between a
controller and the AWS emulator: each request is read whole, sent upstream,
and the answer relayed with its status and headers (hop-by-hop headers
dropped, Content-Length recomputed).

    class Handler(ForwardingHandler):
        def forward(self, body):          # override to observe or cut
            return self.relay(body, rewrite=None)   # -> the upstream status or None

    server = start_server(Handler, "name")   # server.url, server.shutdown()

A failed upstream exchange closes the client's connection, as a broken
network would.
"""

import http.client
import http.server
import socketserver
import threading

HOP_BY_HOP = ("connection", "keep-alive", "transfer-encoding", "content-length")


class ForwardingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    up_host = "127.0.0.1"
    up_port = 0
    up_timeout = 150

    def log_message(self, *a):
        pass

    def relay(self, body, rewrite=None):
        """Sends the request upstream and relays the answer (its body through rewrite)."""
        up = http.client.HTTPConnection(self.up_host, self.up_port, timeout=self.up_timeout)
        try:
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("connection", "keep-alive")
            }
            up.request(self.command, self.path, body=body or None, headers=headers)
            r = up.getresponse()
            data = r.read()
            if rewrite:
                data = rewrite(data)
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return r.status
        except (OSError, http.client.HTTPException):
            self.close_connection = True
            return None
        finally:
            up.close()

    def forward(self, body):
        return self.relay(body)

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.forward(self.rfile.read(n) if n else b"")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def start_server(handler, name):
    """Serves handler on a free loopback port in a daemon thread; .url names it."""
    server = _Server(("127.0.0.1", 0), handler)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
    return server
