"""A loopback TCP proxy that can partition the path it carries.

    proxy = TcpProxy(upstream_port).start()     # listens on 127.0.0.1:proxy.port
    proxy.set_mode("blackhole")                 # or "reset", then "forward" again
    proxy.stop()

Modes:
- forward: every accepted connection gets its own connection to the upstream
  and bytes are copied both ways.
- blackhole: what a network partition that drops packets looks like to the
  client. New connections are accepted (the kernel completes the handshake)
  and held without an upstream; existing ones stop moving bytes in either
  direction, and nothing is closed, so a client learns about it only from its
  own deadline. When the mode goes back to forward, held connections get their
  upstream and stalled ones carry on, like a healed network.
- reset: what a middlebox that rejects the path looks like. Existing
  connections are reset (RST to the client: SO_LINGER 0), new ones are
  accepted and reset at once.

Only 127.0.0.1 is ever bound or connected to. One thread accepts; each
connection has one thread that copies both directions with select(). Every
method may be called from any thread.
"""

from __future__ import annotations

import select
import socket
import struct
import threading

HOST = "127.0.0.1"
MODES = ("forward", "blackhole", "reset")
_TICK = 0.05  # how often an idle or stalled connection looks at the mode


def _rst_close(sock):
    """Close with an RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class TcpProxy:
    def __init__(self, upstream_port, upstream_host=HOST):
        if upstream_host != HOST:
            raise ValueError("the proxy forwards to loopback only")
        self.upstream = (upstream_host, int(upstream_port))
        self._lock = threading.Lock()
        self._mode = "forward"
        self._mode_changed = threading.Condition(self._lock)
        self._conns = set()
        self._threads = []
        self._stopping = False
        self.accepted = 0  # connections accepted, in any mode
        self.resets = 0  # connections reset by the proxy
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((HOST, 0))
        self._lsock.listen(64)
        self.port = self._lsock.getsockname()[1]

    # -- control -------------------------------------------------------------

    def start(self):
        t = threading.Thread(target=self._accept_loop, name=f"tcpproxy-{self.port}", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    @property
    def mode(self):
        with self._lock:
            return self._mode

    def set_mode(self, mode):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        with self._lock:
            self._mode = mode
            self._mode_changed.notify_all()

    def stop(self):
        with self._lock:
            self._stopping = True
            self._mode_changed.notify_all()
        try:
            self._lsock.close()
        except OSError:
            pass
        for t in list(self._threads):
            t.join(timeout=5)

    # -- work ----------------------------------------------------------------

    def _accept_loop(self):
        while True:
            with self._lock:
                if self._stopping:
                    return
            try:
                r, _, _ = select.select([self._lsock], [], [], _TICK * 4)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                client, _ = self._lsock.accept()
            except OSError:
                continue
            with self._lock:
                self.accepted += 1
                if self._mode == "reset":
                    self.resets += 1
                    _rst_close(client)
                    continue
                t = threading.Thread(
                    target=self._serve,
                    args=(client,),
                    daemon=True,
                    name=f"tcpproxy-{self.port}-conn",
                )
                self._threads = [x for x in self._threads if x.is_alive()]
                self._threads.append(t)
            t.start()

    def _wait_forward(self):
        """Hold while blackholed; the mode to act on, or None when stopping."""
        with self._lock:
            while self._mode == "blackhole" and not self._stopping:
                self._mode_changed.wait(_TICK)
            return None if self._stopping else self._mode

    def _serve(self, client):
        upstream = None
        try:
            mode = self._wait_forward()
            if mode != "forward":
                if mode == "reset":
                    with self._lock:
                        self.resets += 1
                    _rst_close(client)
                    client = None
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _rst_close(client)
                client = None
                return
            upstream.settimeout(None)
            self._pump(client, upstream)
        finally:
            for s in (client, upstream):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def _pump(self, client, upstream):
        peer = {client: upstream, upstream: client}
        while True:
            mode = self._wait_forward()
            if mode is None:
                return
            if mode == "reset":
                with self._lock:
                    self.resets += 1
                _rst_close(client)
                return
            try:
                r, _, _ = select.select([client, upstream], [], [], _TICK)
            except (OSError, ValueError):
                return
            if self.mode != "forward":
                continue  # partitioned while waiting: move nothing
            for s in r:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    return  # either side closed: close both (FIN)
                try:
                    peer[s].sendall(data)
                except OSError:
                    return
