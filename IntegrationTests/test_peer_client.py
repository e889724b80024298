"""The Internal's own client to its gateways.
Over 500 lines: the tests of one feature, the peer client, against the hostile servers they need.

It reaches an "OrthancPeers" entry as Orthanc would (credentials, HttpHeaders, CA) but follows no
redirect, cuts off oversize answers and refuses an untrusted certificate (issue 14)."""

import base64
import gzip
import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import data
import gateway_support
import harness
from harness import Upload

PULLER = ("inside", "a-long-random-secret-for-tests")
HEADER = ("X-Inbound-Test-Token", "token-from-httpheaders")
MIB = 1024 * 1024
JSON_CAP = 32 * MIB  # the largest cap the puller sets on outbox listings and manifests


class Recorder:
    """An HTTP server that answers every request with "handler(request)" and records each."""

    def __init__(self, handler, tls_context=None):
        self.requests = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length", 0) or 0)
                body = self.rfile.read(length) if length else b""
                # Orthanc's peer URLs give "//inbound/..."; the route is the same.
                path = "/" + self.path.lstrip("/")
                with recorder.lock:
                    recorder.requests.append({"method": self.command, "path": path,
                                              "headers": dict(self.headers.items()),
                                              "body": body})
                handler(self, path, body)

            do_GET = handle_one
            do_POST = handle_one
            do_PUT = handle_one
            do_DELETE = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, scheme="http"):
        return "%s://127.0.0.1:%d/" % (scheme, self.port)

    def seen(self, predicate=lambda r: True):
        with self.lock:
            return [r for r in self.requests if predicate(r)]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def answer(request, status, body=b"", headers=()):
    request.send_response(status)
    for key, value in headers:
        request.send_header(key, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def route_of(path):
    """outbox, manifest, item, ack or requests (the request links' sync): the peer route of a
    path (doc/Api.md, "Peer routes")."""
    parts = path.split("?")[0].rstrip("/").split("/")
    if parts[1:] == ["inbound", "peer", "requests"]:
        return "requests"
    if parts[1:4] != ["inbound", "peer", "outbox"]:
        return None
    if len(parts) == 4:
        return "outbox"
    if len(parts) == 5:
        return "manifest"
    if len(parts) == 6 and parts[5] == "ack":
        return "ack"
    if len(parts) == 7 and parts[5] == "items":
        return "item"
    return None


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def gateway_status(internal, name):
    gateways = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]
    return [g for g in gateways if g["name"] == name][0]


def troubles(status):
    """What the Internal counted against a gateway: failed calls, or answers refused as bad
    data (a redirect, an oversize answer)."""
    return status["failures"] + status.get("badData", {}).get("count", 0)


def make_real_gateway(plugin):
    return gateway_support.start(plugin, inbound={
        "Role": "Gateway",
        "Pullers": [{"Username": PULLER[0], "Password": PULLER[1], "Networks": ["127.0.0.1"]}]})


def send_upload(gateway):
    upload = Upload.open(gateway)
    assert upload.put(harness.read(data.CT_SMALL)).status_code == 201
    upload.complete_ok()
    return upload


def make_internal(plugin, peers, **orthanc):
    return gateway_support.start(
        plugin, inbound={"Role": "Internal", "Gateways": sorted(peers)},
        orthanc=dict(orthanc, OrthancPeers=peers))


def peer_entry(url, simple=False):
    if simple:
        return [url, PULLER[0], PULLER[1]]
    return {"Url": url, "Username": PULLER[0], "Password": PULLER[1],
            "HttpHeaders": {HEADER[0]: HEADER[1]}}


class Relay:
    """A gateway in the middle: relays the peer routes to a real gateway, but answers
    "redirected" routes with a redirect to "target" instead."""

    def __init__(self, real, redirected=(), status=302, target=None):
        def handle(request, path, body):
            route = route_of(path)
            if route in redirected:
                return answer(request, status, b"moved",
                              [("Location", target.url() + path.lstrip("/"))])
            forwarded = {k: v for k, v in request.headers.items()
                         if k.lower() in ("authorization", "content-type")}
            r = requests.request(request.command, real.url + path, headers=forwarded, data=body,
                                 timeout=90)
            answer(request, r.status_code, r.content,
                   [("Content-Type", r.headers.get("Content-Type", "application/json"))])

        self.recorder = Recorder(handle)


# ------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("route,status", [("outbox", 302), ("manifest", 302), ("item", 302),
                                          ("item", 301), ("item", 303), ("item", 308),
                                          ("ack", 307)])
def test_a_gateway_redirect_is_never_followed(plugin, route, status):
    target = Recorder(lambda request, path, body: answer(request, 200, b'{"uploads": []}'))
    real = make_real_gateway(plugin)
    relay = Relay(real, redirected=(route,), status=status, target=target).recorder
    internal = None
    try:
        upload = send_upload(real)
        internal = make_internal(plugin, {"dmz": peer_entry(relay.url())})
        # Each try is answered with the redirect (the puller may hold the upload after one).
        wait_until(lambda: relay.seen(lambda r: route_of(r["path"]) == route), 60,
                   "a request to the redirected %s route" % route)
        time.sleep(3)
        assert target.seen() == [], "the redirect target was called: %s" % target.seen()
        assert internal.running()
        status_inside = gateway_status(internal, "dmz")
        assert troubles(status_inside) >= 1, status_inside
        assert status_inside["delivered"] == 0
        # Nothing acknowledged: the gateway keeps the upload.
        assert real.admin_upload(upload.id)["state"] == "complete"
        if route != "ack":
            assert internal.count_instances() == 0
        assert internal.admin("GET", "/system").status_code == 200
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        relay.stop()
        target.stop()
        gateway_support.finish(real)


def test_without_redirect_the_same_relay_delivers_with_credentials_and_headers(plugin):
    """The control of the redirect tests: the same relay, nothing redirected, delivers; and
    the entry's credentials and HttpHeaders reach the gateway on every route."""
    real = make_real_gateway(plugin)
    relay = Relay(real).recorder
    internal = None
    try:
        upload = send_upload(real)
        internal = make_internal(plugin, {"dmz": peer_entry(relay.url())})
        wait_until(lambda: real.admin_upload(upload.id)["state"] == "delivered", 60,
                   "the upload to be delivered")
        assert len(internal.instances_of_upload(upload.id)) == 1
        expected = "Basic " + base64.b64encode(("%s:%s" % PULLER).encode()).decode()
        seen = relay.seen()
        assert {route_of(r["path"]) for r in seen} >= {"outbox", "manifest", "item", "ack"}
        for r in seen:
            assert r["headers"].get("Authorization") == expected, r
            assert r["headers"].get(HEADER[0]) == HEADER[1], r
            # No compressed answers asked for, no cookies sent.
            assert "Accept-Encoding" not in r["headers"], r
            assert "Cookie" not in r["headers"], r
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        relay.stop()
        gateway_support.finish(real)


def test_the_array_form_of_an_entry_sends_its_credentials(plugin):
    expected = "Basic " + base64.b64encode(("%s:%s" % PULLER).encode()).decode()
    fake = Recorder(lambda request, path, body: answer(request, 200, b'{"uploads": []}'))
    internal = None
    try:
        internal = make_internal(plugin, {"dmz": peer_entry(fake.url(), simple=True)})
        wait_until(lambda: fake.seen(lambda r: route_of(r["path"]) == "outbox"), 20,
                   "a pull from the Internal")
        # Every call of the Internal, the pull's and the request links' sync, sends them.
        for r in fake.seen():
            assert route_of(r["path"]) in ("outbox", "requests"), r["path"]
            assert r["headers"].get("Authorization") == expected
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        fake.stop()


# ------------------------------------------------------------------------- oversize answers


class Flood:
    """A gateway whose outbox (or manifest) answer is "size" bytes, with or without a
    Content-Length; it records how much it could write before the client hung up."""

    UPLOAD_ID = "ABCDEFGHJKLM"

    def __init__(self, route, size, announce):
        self.sent = []     # bytes written by each flooded answer when it ended
        self.closed = []   # whether the client closed the connection before the end
        flood = self

        def handle(request, path, body):
            if route_of(path) != route:
                if route_of(path) == "outbox":
                    listing = {"uploads": [{"id": flood.UPLOAD_ID, "completedAt":
                                            "2026-01-01T00:00:00Z", "files": 1, "bytes": 10}]}
                    return answer(request, 200, json.dumps(listing).encode())
                return answer(request, 404, b'{"error": "not-found"}')
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            if announce:
                request.send_header("Content-Length", str(size))
            else:
                request.send_header("Connection", "close")
                request.close_connection = True
            request.end_headers()
            chunk = b'{"uploads": [' + b" " * (MIB - 13)
            written, closed = 0, False
            try:
                while written < size:
                    request.wfile.write(chunk)
                    written += len(chunk)
                    chunk = b" " * MIB
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            flood.sent.append(written)
            flood.closed.append(closed)

        self.recorder = Recorder(handle)


def vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (field, pid))


@pytest.mark.parametrize("route", ["outbox", "manifest"])
@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "no-length"])
def test_an_oversize_answer_is_cut_off_without_being_buffered(plugin, route, announce):
    size = 512 * MIB
    flood = Flood(route, size, announce)
    internal = None
    try:
        internal = make_internal(plugin, {"dmz": peer_entry(flood.recorder.url())})
        pid = internal.process.pid
        before = vm_kib(pid, "VmHWM")
        wait_until(lambda: flood.sent, 60, "a flooded answer to end")
        # The client hung up long before the end, each time.
        assert all(flood.closed), (flood.sent, flood.closed)
        for written in flood.sent:
            if announce:
                # Refused on the announced length: not even the cap is read (what was
                # written sits in the sockets' buffers).
                assert written < JSON_CAP, flood.sent
            else:
                # Read up to the cap, then dropped.
                assert written < JSON_CAP + 24 * MIB, flood.sent
        # Memory never held the answer: at most the cap, not 512 MiB.
        grown = vm_kib(pid, "VmHWM") - before
        assert grown < (JSON_CAP + 48 * MIB) // 1024, "peak memory grew by %d KiB" % grown
        assert internal.running()
        status = gateway_status(internal, "dmz")
        assert troubles(status) >= 1 and status["delivered"] == 0, status
        assert internal.count_instances() == 0
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        flood.recorder.stop()


class Trickle:
    """A relay to a real gateway whose item answers come at "rate" bytes a second."""

    def __init__(self, real, rate):
        self.started = []  # monotonic times at which an item answer began
        self.ended = []    # ... and at which the client hung up
        trickle = self

        def handle(request, path, body):
            forwarded = {k: v for k, v in request.headers.items()
                         if k.lower() in ("authorization", "content-type")}
            r = requests.request(request.command, real.url + path, headers=forwarded, data=body,
                                 timeout=90)
            if route_of(path) != "item" or r.status_code != 200:
                return answer(request, r.status_code, r.content,
                              [("Content-Type", r.headers.get("Content-Type", "application/json"))])
            request.send_response(200)
            request.send_header("Content-Length", str(len(r.content)))
            request.end_headers()
            trickle.started.append(time.monotonic())
            try:
                for i in range(0, len(r.content), rate):
                    request.wfile.write(r.content[i:i + rate])
                    request.wfile.flush()
                    time.sleep(1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            trickle.ended.append(time.monotonic())

        self.recorder = Recorder(handle)


def test_a_gateway_trickling_an_item_is_dropped_long_before_the_timeout(plugin):
    """100 bytes a second would hold the puller's thread for the item's whole timeout (120 s)
    and, for a bigger file, for ever; under 1 KiB/s for 30 s the client hangs up."""
    real = make_real_gateway(plugin)
    trickle = Trickle(real, 100)
    internal = None
    try:
        upload = send_upload(real)
        internal = make_internal(plugin, {"dmz": peer_entry(trickle.recorder.url())})
        wait_until(lambda: trickle.ended, 75, "the client to hang up on the trickle")
        assert trickle.ended[0] - trickle.started[0] < 45, (trickle.started, trickle.ended)
        assert internal.running()
        assert internal.count_instances() == 0
        assert real.admin_upload(upload.id)["state"] == "complete"
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        trickle.recorder.stop()
        gateway_support.finish(real)


def test_stopping_the_internal_interrupts_a_pull_in_progress(plugin):
    real = make_real_gateway(plugin)
    trickle = Trickle(real, 100)
    internal = None
    try:
        send_upload(real)
        internal = make_internal(plugin, {"dmz": peer_entry(trickle.recorder.url())})
        wait_until(lambda: trickle.started, 30, "an item answer to begin")
        time.sleep(1)
        started = time.monotonic()
        stopping, internal = internal, None
        gateway_support.finish(stopping)  # SIGTERM; fails if Orthanc had to be killed
        assert time.monotonic() - started < 10
        wait_until(lambda: trickle.ended, 5, "the connection to close")
    finally:
        if internal is not None:
            internal.cleanup()
        trickle.recorder.stop()
        gateway_support.finish(real)


def test_a_compressed_answer_is_not_inflated(plugin):
    """No Accept-Encoding is sent and a gzip answer is not decoded: a small compressed body
    cannot inflate past the cap. The listing is not understood, so no manifest is asked for."""
    listing = json.dumps({"uploads": [{"id": Flood.UPLOAD_ID, "completedAt":
                                       "2026-01-01T00:00:00Z", "files": 1, "bytes": 10}]})

    def handle(request, path, body):
        if route_of(path) == "outbox":
            return answer(request, 200, gzip.compress(listing.encode()),
                          [("Content-Type", "application/json"), ("Content-Encoding", "gzip")])
        return answer(request, 404, b'{"error": "not-found"}')

    fake = Recorder(handle)
    internal = None
    try:
        internal = make_internal(plugin, {"dmz": peer_entry(fake.url())})
        wait_until(lambda: troubles(gateway_status(internal, "dmz")) >= 1, 30,
                   "the listing to be refused")
        # The listing, and the request links' sync; never a manifest.
        assert {route_of(r["path"]) for r in fake.seen()} <= {"outbox", "requests"}
        assert all("Accept-Encoding" not in r["headers"] for r in fake.seen())
        assert internal.running()
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        fake.stop()


# ------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "gateway.crt"), str(folder / "gateway.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def https_recorder(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return Recorder(lambda request, path, body: answer(request, 200, b'{"uploads": []}'),
                    tls_context=context)


def test_a_self_signed_gateway_is_refused_when_verification_is_on(plugin, self_signed):
    cert, key = self_signed
    fake = https_recorder(cert, key)
    internal = None
    try:
        internal = make_internal(plugin, {"dmz": peer_entry(fake.url("https"))},
                                 HttpsCACertificates="/etc/ssl/certs/ca-certificates.crt")
        wait_until(lambda: gateway_status(internal, "dmz")["failures"] >= 2, 30,
                   "two failed contacts")
        assert fake.seen() == [], "a request went through: %s" % fake.seen()
        assert gateway_status(internal, "dmz")["lastContact"] is None
        assert internal.running()
        assert "certificate" in internal.log_tail().lower()
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        fake.stop()


def test_the_same_gateway_is_reached_with_its_certificate_as_ca(plugin, self_signed):
    cert, key = self_signed
    fake = https_recorder(cert, key)
    internal = None
    try:
        internal = make_internal(plugin, {"dmz": peer_entry(fake.url("https"))},
                                 HttpsCACertificates=cert)
        wait_until(lambda: fake.seen(lambda r: route_of(r["path"]) == "outbox"), 30,
                   "a pull over HTTPS")
        for r in fake.seen():
            assert r["headers"].get(HEADER[0]) == HEADER[1], r["path"]
        wait_until(lambda: gateway_status(internal, "dmz")["lastContact"], 10, "a contact")
    finally:
        if internal is not None:
            gateway_support.finish(internal)
        fake.stop()


# ------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("orthanc,expected", [
    ({"OrthancPeers": {"other": ["http://127.0.0.1:9/"]}},
     "\"Inbound.Gateways\": \"dmz\" is not an entry of Orthanc's \"OrthancPeers\""),
    ({"OrthancPeers": {"dmz": ["http://127.0.0.1:9/", "inside"]}}, "password is not provided"),
    ({"OrthancPeers": {"dmz": {"Url": "ftp://127.0.0.1:9/"}}}, "http:// or https://"),
    ({"OrthancPeers": {"dmz": {"Url": "http://127.0.0.1:9/", "HttpHeaders": {"A": 1}}}},
     "HttpHeaders"),
    ({"OrthancPeers": {"dmz": ["https://127.0.0.1:9/"]}}, "HttpsCACertificates"),
    ({"OrthancPeers": {"dmz": ["http://127.0.0.1:9/"]}, "OrthancPeersInDatabase": True},
     "OrthancPeersInDatabase"),
])
def test_a_missing_or_malformed_entry_stops_start_up_with_a_clear_message(plugin, orthanc,
                                                                         expected):
    server = harness.OrthancServer(plugin, inbound={"Role": "Internal", "Gateways": ["dmz"]},
                                   orthanc=orthanc, startup_timeout=15)
    try:
        with pytest.raises(harness.ServerError) as e:
            server.start()
        assert expected in str(e.value), str(e.value)[-2000:]
    finally:
        server.cleanup()
