"""The emulator's HTTP front: moto's WSGI app behind a small middleware.

The middleware, in order, for every request:
1. /_awsemu/... is the admin API (JSON; see docs/awsemu.md) and never reaches moto;
   GET /_awsemu/container-credentials is a container-credentials endpoint
   (what AWS_CONTAINER_CREDENTIALS_FULL_URI names: EKS Pod Identity, ECS)
   handing out short-lived keys, which can be made to hang or fail.
2. The service, region, protocol and action are read from the request: the
   SigV4 credential scope (Authorization header or X-Amz-Credential query),
   X-Amz-Target for JSON services, the Action form field for query services,
   method + path for Route 53.
3. A region outage that covers the call answers it as an outage does: hang
   (hold the request until the client gives up or the outage ends, then close
   the connection), 5xx (503 ServiceUnavailable) or reset (close the
   connection without a response).
4. Throttling injection answers a chosen fraction of calls with HTTP 400
   Throttling (query and REST-XML protocols) / ThrottlingException (JSON).
   It may wait for a trigger: armed only once a call of a named action has
   succeeded (optionally only in that call's region), as when everyone fails
   over into one region right after a detach.
5. DynamoDB calls on a multi-Region strongly consistent table (ddb_ext) are
   served from the table's one copy whichever replica region they name, or
   refused when the region set has lost its quorum.
6. Otherwise moto answers, under the extension's lock.
Every call, answered or not, is appended to the call log with its parameters
and its caller (the access key id of the SigV4 credential);
values whose names look secret (password, secret, token, ...) are replaced
by "***" before they are stored.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import select
import socket
import threading
import time
import uuid
from urllib.parse import parse_qs, parse_qsl

from werkzeug.serving import make_server

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

import pgenv

from . import ddb_ext, rds_ext
from .rds_ext import EXT

CALL_LOG_MAX = 20000
HANG_MAX_SECONDS = 900
# The container-credentials endpoint: mode ok|hang|5xx; counts of requests,
# of answers with keys, and of requests held by a hang.
CREDS_DEFAULT = {"mode": "ok", "ttlSeconds": 3600, "requests": 0, "served": 0, "held": 0}
_SECRET_RE = re.compile(r"password|secret|token|credential|signature|privatekey", re.I)
_CRED_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
_HOST_REGION_RE = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com")

_JSON_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonSSM": "ssm",
    "secretsmanager": "secretsmanager",
    "DynamoDB_20120810": "dynamodb",
}

_ROUTE53_ROUTES = [
    ("POST", re.compile(r"^/2013-04-01/hostedzone/[^/]+/rrset/?$"), "ChangeResourceRecordSets"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/[^/]+/rrset/?$"), "ListResourceRecordSets"),
    ("GET", re.compile(r"^/2013-04-01/change/[^/]+$"), "GetChange"),
    ("POST", re.compile(r"^/2013-04-01/hostedzone/?$"), "CreateHostedZone"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/?$"), "ListHostedZones"),
    ("GET", re.compile(r"^/2013-04-01/hostedzonesbyname/?$"), "ListHostedZonesByName"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/[^/]+$"), "GetHostedZone"),
    ("DELETE", re.compile(r"^/2013-04-01/hostedzone/[^/]+$"), "DeleteHostedZone"),
]

_ROUTE53_NS = "https://route53.amazonaws.com/doc/2013-04-01/"


def scrub(value, key=""):
    """A copy of value with secret-looking fields replaced by ***."""
    if key and _SECRET_RE.search(key):
        return "***"
    if isinstance(value, dict):
        return {k: scrub(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, key) for v in value]
    return value


class Call:
    """What the middleware learned about one request."""

    def __init__(self, environ, body):
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO", "/")
        self.query = environ.get("QUERY_STRING", "")
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        self.content_type = environ.get("CONTENT_TYPE", "")
        auth = headers.get("authorization", "")
        m = _CRED_RE.search(auth) or _CRED_RE.search(
            "Credential=" + (parse_qs(self.query).get("X-Amz-Credential", [""])[0])
        )
        self.caller = m.group(1) if m else None
        self.region = m.group(3) if m else None
        self.service = m.group(4) if m else None
        if self.region is None:
            hm = _HOST_REGION_RE.search(headers.get("host", ""))
            self.region = hm.group(1) if hm else None
        target = headers.get("x-amz-target", "")
        self.params = {}
        self.action = None
        if target:
            self.protocol = "json"
            prefix, _, self.action = target.rpartition(".")
            self.service = self.service or _JSON_PREFIXES.get(prefix, prefix.lower())
            try:
                self.params = json.loads(body or b"{}")
            except ValueError:
                self.params = {}
        elif "x-www-form-urlencoded" in self.content_type or (
            self.method == "GET" and "Action=" in self.query
        ):
            self.protocol = "query"
            raw = body.decode("utf-8", "replace") if body else self.query
            pairs = parse_qsl(raw, keep_blank_values=True)
            self.params = {k: v for k, v in pairs if k not in ("Action", "Version")}
            self.action = dict(pairs).get("Action")
            if self.service is None and self.action:
                self.service = "sts"
        else:
            self.protocol = "rest-xml"
            for method, rx, name in _ROUTE53_ROUTES:
                if method == self.method and rx.match(self.path):
                    self.action = name
                    break
            if self.action is None:
                self.action = f"{self.method} {self.path}"
            if self.query:
                self.params = dict(parse_qsl(self.query))
            if body:
                self.params["body"] = body.decode("utf-8", "replace")[:4000]
        self.params = scrub(self.params)


def _error_response(call, status, code, message):
    """(status line, headers, body) of an AWS error in call's protocol."""
    rid = str(uuid.uuid4())
    reason = {400: "Bad Request", 503: "Service Unavailable"}.get(status, "Error")
    if call.protocol == "json":
        # DynamoDB (JSON 1.0) names its errors with the service's namespace.
        ddb = call.service == "dynamodb"
        body = json.dumps(
            {"__type": (ddb_ext.NS if ddb else "") + code, "message": message}
        ).encode()
        headers = [
            ("Content-Type", f"application/x-amz-json-1.{0 if ddb else 1}"),
            ("x-amzn-RequestId", rid),
            ("x-amzn-ErrorType", code),
        ]
    else:
        kind = "Sender" if status < 500 else "Receiver"
        ns = f' xmlns="{_ROUTE53_NS}"' if call.protocol == "rest-xml" else ""
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse{ns}><Error>'
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    headers.append(("Content-Length", str(len(body))))
    return f"{status} {reason}", headers, body


def _drop_connection(environ):
    """Close the client connection without an HTTP response."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _client_gone(environ):
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if r:
            return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
    return False


def _ddb_backend(region):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)][region]


def _rewrite_region(environ, region, home):
    """Make moto serve the call from home's backend (the MRSC table's one copy)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    environ["HTTP_AUTHORIZATION"] = auth.replace(f"/{region}/dynamodb/", f"/{home}/dynamodb/")
    ua = environ.get("HTTP_USER_AGENT", "")
    environ["HTTP_USER_AGENT"] = ua.replace(f"region/{region}", f"region/{home}")


class Middleware:
    """WSGI app: the admin API, the call log and the fault injection around moto."""

    def __init__(self, moto_app):
        self.moto_app = moto_app
        self.calls = []
        self.seq = itertools.count(1)
        self.log_lock = threading.Lock()
        self.throttle = None
        self.rng = random.Random()
        # Opt-in cache of Describe answers (seconds; 0 = off): moto spends
        # about 10 ms of one core per cluster serializing, which makes a
        # thousand-resource benchmark measure moto. Any other call clears it.
        self.describe_ttl = 0.0
        self.describe_cache = {}
        self.creds = dict(CREDS_DEFAULT)
        self.mrsc = ddb_ext.Mrsc()

    # -- WSGI ----------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/_awsemu/container-credentials" and environ.get("REQUEST_METHOD") == "GET":
            return self.container_credentials(environ, start_response)
        if path.startswith("/_awsemu/"):
            return self.admin(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            self.reset_state()
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        call = Call(environ, body)
        entry = self.log(call)
        outage = EXT.outages.get(call.region) if call.region else None
        if outage and (not outage.get("services") or call.service in outage["services"]):
            entry["injected"] = f"outage:{outage['mode']}"
            return self.outage_answer(call, outage, environ, start_response, entry)
        if self.should_throttle(call):
            entry["injected"] = "throttle"
            code = "ThrottlingException" if call.protocol == "json" else "Throttling"
            status, headers, out = _error_response(call, 400, code, "Rate exceeded")
            entry["status"], entry["error"] = 400, code
            start_response(status, headers)
            return [out]
        if call.service == "dynamodb":
            return self.dynamodb(call, environ, start_response, entry)
        cacheable = (
            self.describe_ttl > 0
            and call.action is not None
            and call.action.startswith(("Describe", "List", "Get"))
        )
        key = (call.service, call.region, call.action, call.query, body)
        if not cacheable:
            self.describe_cache.clear()
        else:
            hit = self.describe_cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.describe_ttl:
                entry["status"], entry["error"], entry["cached"] = hit[1], None, True
                start_response(hit[2], hit[3])
                return [hit[4]]
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            captured["line"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        with EXT.lock:
            chunks = list(self.moto_app(environ, capture))
        out = b"".join(chunks)
        if cacheable and captured.get("status") == 200:
            self.describe_cache[key] = (
                time.monotonic(),
                200,
                captured["line"],
                captured["headers"],
                out,
            )
        self.finish(call, entry, captured.get("status"), out)
        return [out]

    def finish(self, call, entry, status, out):
        """Record a moto answer in the call log; arm a waiting throttle."""
        entry["status"] = status
        self.arm_throttle(call, status)
        if status and status >= 400:
            m = re.search(rb"<Code>([^<]+)</Code>", out) or re.search(
                rb'"__type":\s*"([^"]+)"', out
            )
            entry["error"] = m.group(1).decode().rpartition("#")[2] if m else None

    def dynamodb(self, call, environ, start_response, entry):
        """A DynamoDB call: MRSC tables are one table in every replica region."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            captured["line"], captured["headers"] = status, headers

        with EXT.lock:
            try:
                if call.action == "UpdateTable" and (
                    call.params.get("ReplicaUpdates")
                    or call.params.get("GlobalTableWitnessUpdates")
                ):
                    out = self.mrsc.update_table(call.region, call.params, _ddb_backend)
                    captured["status"], captured["line"] = 200, "200 OK"
                    captured["headers"] = [("Content-Type", "application/x-amz-json-1.0")]
                    home = call.region
                else:
                    if call.action == "DeleteTable":
                        self.mrsc.refuse_delete(call.region, call.params)
                    home = self.mrsc.route(call.region, call.action, call.params, EXT.outages)
                    if home is not None and home != call.region:
                        _rewrite_region(environ, call.region, home)
                    out = b"".join(self.moto_app(environ, capture))
                    out = self.mrsc.decorate(call.region, out, call.action, home)
            except ddb_ext.DdbError as e:
                status, headers, out = _error_response(call, e.status, e.code, e.message)
                entry["status"], entry["error"] = e.status, e.code
                start_response(status, headers)
                return [out]
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(out))))
        self.finish(call, entry, captured["status"], out)
        start_response(captured["line"], headers)
        return [out]

    def outage_answer(self, call, outage, environ, start_response, entry):
        mode = outage["mode"]
        if mode == "5xx":
            status, headers, out = _error_response(
                call, 503, "ServiceUnavailable", "Service is unavailable. Please try again later."
            )
            entry["status"], entry["error"] = 503, "ServiceUnavailable"
            start_response(status, headers)
            return [out]
        if mode == "hang":
            deadline = time.monotonic() + HANG_MAX_SECONDS
            while (
                EXT.outages.get(call.region) is outage
                and not _client_gone(environ)
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
        _drop_connection(environ)
        entry["status"] = None
        # Werkzeug treats a ConnectionError from the app as a dropped client
        # and writes nothing more.
        raise ConnectionAbortedError("awsemu: region outage")

    def container_credentials(self, environ, start_response):
        """Answer a credentials fetch as the configured mode says (see docs/awsemu.md)."""
        with self.log_lock:
            st = self.creds
            st["requests"] += 1
            mode = st["mode"]
        if mode == "hang":
            with self.log_lock:
                st["held"] += 1
            deadline = time.monotonic() + HANG_MAX_SECONDS
            while (
                self.creds is st
                and st["mode"] == "hang"
                and not _client_gone(environ)
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            _drop_connection(environ)
            raise ConnectionAbortedError("awsemu: credentials endpoint hangs")
        if mode == "5xx":
            out = b'{"code": "ServiceUnavailable", "message": "try again"}'
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [out]
        with self.log_lock:
            st["served"] += 1
            n = st["served"]
        expires = time.time() + st["ttlSeconds"]
        out = json.dumps(
            {
                "AccessKeyId": f"ASIAEMU{n:09d}",
                "SecretAccessKey": uuid.uuid4().hex,
                "Token": uuid.uuid4().hex,
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
            }
        ).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
        )
        return [out]

    def arm_throttle(self, call, status):
        """Arm a throttle that waits for a successful call of its trigger action."""
        t = self.throttle
        if not t or t["armed"] or call.action != t["after"] or status != 200:
            return
        with self.log_lock:
            if t.get("afterSameRegion"):
                t["regions"] = [call.region]
            t["armed"] = True

    def should_throttle(self, call):
        t = self.throttle
        if not t or t["fraction"] <= 0 or not t["armed"]:
            return False
        if t.get("services") and call.service not in t["services"]:
            return False
        if t.get("regions") and call.region not in t["regions"]:
            return False
        if t.get("actions") and call.action not in t["actions"]:
            return False
        with self.log_lock:
            if t.get("remaining") is not None:
                if t["remaining"] <= 0:
                    return False
            hit = self.rng.random() < t["fraction"]
            if hit and t.get("remaining") is not None:
                t["remaining"] -= 1
            return hit

    def log(self, call):
        entry = {
            "seq": next(self.seq),
            "time": time.time(),
            "timeRFC3339": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
            "service": call.service,
            "region": call.region,
            "action": call.action,
            "caller": call.caller,
            "protocol": call.protocol,
            "params": call.params,
            "status": None,
            "error": None,
            "injected": None,
        }
        with self.log_lock:
            self.calls.append(entry)
            if len(self.calls) > CALL_LOG_MAX:
                del self.calls[: len(self.calls) - CALL_LOG_MAX]
        return entry

    def reset_state(self):
        """Forget extension state (moto's own reset clears its backends)."""
        EXT.reset()
        with EXT.lock:
            EXT.outages.clear()
            EXT.bindings.clear()
            EXT.switchover_sync_timeout = 60.0
            self.mrsc.reset()
        self.throttle = None
        self.describe_ttl = 0.0
        self.describe_cache.clear()
        with self.log_lock:
            self.calls.clear()
            self.creds = dict(CREDS_DEFAULT)

    # -- admin API -------------------------------------------------------------

    def admin(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")[len("/_awsemu") :].rstrip("/") or "/"
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
            status, payload = self.route(method, path, query, body)
        except (ValueError, KeyError, TypeError) as e:
            status, payload = 400, {"error": f"{type(e).__name__}: {e}"}
        except pgenv.PgEnvError as e:
            status, payload = 500, {"error": str(e)}
        out = json.dumps(payload, default=str).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(out)))],
        )
        return [out]

    def route(self, method, path, query, body):
        if path == "/health":
            return 200, {"ok": True}
        if path == "/config":
            if method == "POST":
                delays = body.get("delays", {})
                if delays == "fast":
                    delays = rds_ext.FAST_DELAYS
                elif delays == "default":
                    delays = rds_ext.DEFAULT_DELAYS
                for k, v in delays.items():
                    if k not in rds_ext.DEFAULT_DELAYS:
                        raise KeyError(f"unknown delay {k}")
                    if float(v) < 0:
                        raise ValueError(f"negative delay {k}")
                cache = body.get("describeCacheSeconds")
                if cache is not None:
                    if float(cache) < 0:
                        raise ValueError("describeCacheSeconds must not be negative")
                    self.describe_ttl = float(cache)
                    self.describe_cache.clear()
                timeout = body.get("switchoverSyncTimeout")
                if timeout is not None and float(timeout) <= 0:
                    raise ValueError("switchoverSyncTimeout must be positive")
                with EXT.lock:
                    EXT.delays.update({k: float(v) for k, v in delays.items()})
                    if timeout is not None:
                        EXT.switchover_sync_timeout = float(timeout)
            return 200, {
                "delays": EXT.delays,
                "switchoverSyncTimeout": EXT.switchover_sync_timeout,
                "describeCacheSeconds": self.describe_ttl,
            }
        if path == "/container-credentials/config":
            if method == "POST":
                mode = body.get("mode", self.creds["mode"])
                if mode not in ("ok", "hang", "5xx"):
                    raise ValueError(f"bad credentials mode {mode!r}")
                ttl = int(body.get("ttlSeconds", self.creds["ttlSeconds"]))
                if ttl <= 0:
                    raise ValueError("ttlSeconds must be positive")
                with self.log_lock:
                    self.creds["mode"], self.creds["ttlSeconds"] = mode, ttl
            with self.log_lock:
                return 200, {"containerCredentials": dict(self.creds)}
        if path == "/calls":
            if method == "DELETE":
                with self.log_lock:
                    self.calls.clear()
                return 200, {"calls": []}
            since = int(query.get("since", 0))
            with self.log_lock:
                calls = [c for c in self.calls if c["seq"] > since]
            for k in ("action", "region", "service"):
                if k in query:
                    calls = [c for c in calls if c[k] == query[k]]
            return 200, {"calls": calls}
        if path == "/calls/reset" and method == "POST":
            with self.log_lock:
                self.calls.clear()
            return 200, {"calls": []}
        if path == "/outage":
            if method == "POST":
                region, mode = body["region"], body.get("mode", "5xx")
                if mode not in ("hang", "5xx", "reset", "off"):
                    raise ValueError(f"bad outage mode {mode!r}")
                EXT.set_outage(
                    region, mode, pg=body.get("pg", "freeze"), services=body.get("services")
                )
            return 200, {"outages": EXT.outages}
        if path == "/throttle":
            if method == "POST":
                fraction = float(body.get("fraction", 0))
                if not 0 <= fraction <= 1:
                    raise ValueError("fraction must be within [0, 1]")
                if "seed" in body:
                    self.rng.seed(body["seed"])
                after = body.get("after")
                if after is not None and not isinstance(after, str):
                    raise ValueError("after must be an action name")
                self.throttle = {
                    "fraction": fraction,
                    "services": body.get("services"),
                    "regions": body.get("regions"),
                    "actions": body.get("actions"),
                    "remaining": body.get("count"),
                    "after": after,
                    "afterSameRegion": bool(body.get("afterSameRegion")),
                    "armed": after is None,
                }
            return 200, {"throttle": self.throttle}
        if path == "/replication" and method == "POST":
            n = EXT.set_replication(body["region"], bool(body.get("paused")))
            return 200, {"region": body["region"], "paused": bool(body.get("paused")), "servers": n}
        if path == "/bind" and method == "POST":
            writer = pgenv.server_from_dict(body["writer"])
            reader = pgenv.server_from_dict(body["reader"]) if body.get("reader") else None
            b = EXT.bind(body["region"], body["dbClusterIdentifier"], writer, reader)
            self.describe_cache.clear()  # endpoints and ports changed
            return 200, b.to_dict()
        if path == "/unbind" and method == "POST":
            self.describe_cache.clear()
            return 200, {"removed": EXT.unbind(body["region"], body["dbClusterIdentifier"])}
        if path == "/bindings":
            with EXT.lock:
                return 200, {"bindings": [b.to_dict() for b in EXT.bindings.values()]}
        if path == "/dynamodb/mrsc":
            with EXT.lock:
                return 200, {"tables": [g.to_dict() for g in self.mrsc.groups.values()]}
        if path == "/lag":
            return 200, {"lag": EXT.lag()}
        if path == "/errors":
            with EXT.lock:
                return 200, {"errors": list(EXT.errors)}
        if path == "/reset" and method == "POST":
            from moto.core.base_backend import BackendDict

            self.reset_state()
            with EXT.lock:
                BackendDict.reset()
            return 200, {"reset": True}
        return 404, {"error": f"no admin route {method} {path}"}


class Emulator:
    """moto + the extension on 127.0.0.1, served from a background thread."""

    def __init__(self, host="127.0.0.1", port=0, delays=None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator binds to loopback only")
        rds_ext.install()
        if delays is not None:
            EXT.delays.update(delays)
        self.app = Middleware(DomainDispatcherApplication(create_backend_app))
        self.server = make_server(
            host, port, self.app, threaded=True, request_handler=MotoRequestHandler
        )
        self.host, self.port = self.server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.thread = None

    def start(self):
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="awsemu-http", daemon=True
        )
        self.thread.start()
        return self

    def serve_forever(self):
        self.server.serve_forever()

    def stop(self):
        self.server.shutdown()
        if self.thread is not None:
            self.thread.join()
