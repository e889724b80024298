"""Path tricks through the shipped nginx site (Resources/Nginx/inbound-site.conf).
Over 500 lines: the tests of one defence, the proxy's path rules, over every variant of a path.

Nginx picks a location from its own reading of the path, Orthanc's civetweb reads the same path
another way ("\\" as "/", %5C and %2F decoded, "admin." as "admin", "...." dropped, nothing cut at
"#"). Every such path, and every variant of it, is refused by the proxy with 400 bad-path, with and
without the admin's password, before Orthanc sees it; method faking (_method,
X-HTTP-Method-Override) is refused on every route, multipart bodies and X-File-* headers on the
public and peer routes. The routes that people use keep working through the same site.

Requests go through a raw TLS socket: requests and urllib would normalise the paths."""

import base64
import html.parser
import http.server
import json
import os
import re
import threading

import pytest

import data
import harness
from gateway_support import finish, start
from harness import ADMIN, Upload
from proxy import NginxProxy

ADMIN_NET = "127.0.0.1"
PEER_NET = "127.0.0.9"
INTERNET = "127.0.0.2"
WRONG = (ADMIN[0], "not-the-password-of-the-admin")
CT = harness.read(data.CT_SMALL)


# --------------------------------------------------------------------------- raw HTTP


class Answer:
    def __init__(self, raw):
        self.raw = raw
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        assert match, "not an HTTP answer: %r" % raw[:200]
        self.status = int(match.group(1))
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), value.strip())
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = dechunk(body)
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "%d %r" % (self.status, self.raw[:300])


def dechunk(body):
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def send(proxy, method, target, source=INTERNET, auth=None, headers=(), body=b""):
    """One request written byte for byte (target as is), on its own TLS connection."""
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target.encode("latin-1")),
             b"Host: localhost:%d" % proxy.port, b"Connection: close"]
    if auth:
        lines.append(b"Authorization: Basic " + base64.b64encode(("%s:%s" % auth).encode()))
    for header in headers:
        lines.append(header.encode("latin-1"))
    if body or method in ("POST", "PUT"):
        lines.append(b"Content-Length: %d" % len(body))
    with proxy.tls_socket(source=source, timeout=30) as s:
        s.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    return Answer(raw)


def assert_refused(answer, code, status=400):
    """A refusal of the proxy itself: the status, JSON {"error": code, "message"}."""
    assert answer.status == status, answer
    assert answer.headers.get("content-type") == "application/json", answer
    body = answer.json()
    assert body["error"] == code and body["message"], body


def assert_refused_path(answer):
    # nginx's own parser refuses a few of them first (%00): a 400 of its own, also before Orthanc.
    if answer.status == 400 and b"<center>nginx</center>" in answer.body:
        return
    assert_refused(answer, "bad-path")


# Distinct client addresses (outside the admin and peer networks), so that nginx's per-address
# request limit never answers in place of the rule under test.
_next_address = [0]


def new_address():
    n = _next_address[0]
    _next_address[0] += 1
    return "127.0.%d.%d" % (20 + n // 250, 2 + n % 250)


# --------------------------------------------------------------------------- the bypasses

# Prefixes that nginx reads as a path under the open /inbound/ location and civetweb reduces
# to nothing (then the target follows, e.g. "/system"): each a way to climb out of /inbound/.
CLIMBS = {
    "backslash": "/inbound/x\\..\\..",
    "backslash-after-slash": "/inbound/x/..\\..",
    "encoded-backslash": "/inbound/x%5C..%5C..",
    "encoded-backslash-lower": "/inbound/x%5c..%5c..",
    "encoded-backslash-and-dots": "/inbound/x%5C%2E%2E%5C%2e%2e",
    "double-encoded-backslash": "/inbound/x%255C..%255C..",
    "double-encoded-dots": "/inbound/x/%252E%252E/%252e%252e",
    "encoded-dots": "/inbound/x/%2E%2E/%2e%2e",
    "half-encoded-dots": "/inbound/x/.%2E/%2E.",
    "encoded-slash": "/inbound/x%2F..%2F..",
    "encoded-slash-lower": "/inbound/x%2f..%2f..",
    "fragment": "/inbound/#/../..",
    "fragment-in-segment": "/inbound/x#y/../..",
    "encoded-fragment": "/inbound/x%23/../..",
    "encoded-question-mark": "/inbound/x%3F/../..",
    "semicolon": "/inbound/x;/../..",
    "encoded-semicolon": "/inbound/x%3B/../..",
    "dot-segments": "/inbound/x/../..",
    "dot-segment-dot": "/inbound/./..",
    "many-dots": "/inbound/..../..",
    "trailing-dots": "/inbound/x../..",
    "empty-segment": "/inbound//..",
    "overlong-utf8-dots": "/inbound/x/%C0%AE%C0%AE/%C0%AE%C0%AE",
    "overlong-utf8-slash": "/inbound/x%C0%AF..%C0%AF..",
    "utf8-fullwidth-dots": "/inbound/x/%EF%BC%8E%EF%BC%8E",
    "nul": "/inbound/x%00/../..",
    "tab": "/inbound/x%09/../..",
    "newline": "/inbound/x%0A/../..",
    "raw-8-bit": "/inbound/x\xc0\xae\xc0\xae/../..",
    "malformed-escape": "/inbound/x%G0/../..",
    "truncated-escape": "/inbound/x%5/../..",
    "del": "/inbound/x%7F/../..",
    "raw-tab": "/inbound/x\t/../..",
    "absolute-form": "http://localhost/inbound/x\\..\\..",
    "absolute-form-other-host": "https://elsewhere.example/inbound/x%5C..%5C..",
}

# Ways to spell a segment so that civetweb reads "admin" (or "peer") and nginx does not.
NAMES = {
    "trailing-dot": "{}.",
    "trailing-dots": "{}..",
    "many-trailing-dots": "{}....",
    "encoded-trailing-dot": "{}%2E",
    "encoded-trailing-dot-lower": "{}%2e",
    "trailing-backslash": "{}\\",
    "trailing-encoded-backslash": "{}%5C",
    "trailing-semicolon": "{};",
    "trailing-fragment": "{}#",
    "dot-segment-before": "./{}",
    "many-dots-before": "..../{}",
    "climb-back": "x/../{}",
    "backslash-climb-back": "x\\..\\{}",
    "empty-segment-before": "/{}",
}

# The admin-class targets: (name, method, path, body). "@UPLOAD@" is a real upload's id.
TARGETS = [
    ("admin-uploads", "GET", "/inbound/admin/uploads", b""),
    ("admin-delete-upload", "DELETE", "/inbound/admin/uploads/@UPLOAD@", b""),
    ("admin-ban-everyone", "POST", "/inbound/admin/bans",
     json.dumps({"entry": "0.0.0.0/0"}).encode()),
    ("system", "GET", "/system", b""),
    ("execute-script", "POST", "/tools/execute-script", b"print('proxy-bypass')"),
    ("instances", "GET", "/instances", b""),
    ("store-instance", "POST", "/instances", CT),
    ("peer-outbox", "GET", "/inbound/peer/outbox", b""),
]


def bypasses():
    """(id, method, raw target, body) for every target and every trick that fits it."""
    cases = []
    for name, method, path, body in TARGETS:
        for climb, prefix in CLIMBS.items():
            cases.append(("%s-%s" % (name, climb), method, prefix + path, body))
        match = re.match(r"^/inbound/(admin|peer)(/.*)$", path)
        if match:
            for spelling, pattern in NAMES.items():
                cases.append(("%s-name-%s" % (name, spelling), method,
                              "/inbound/" + pattern.replace("{}", match.group(1)) + match.group(2),
                              body))
        # The target itself, spelt with a trick in its last segment.
        for suffix, label in ((".", "final-dot"), ("..", "final-dots"), ("%2E", "final-encoded-dot"),
                              ("\\", "final-backslash"), ("%5C", "final-encoded-backslash"),
                              ("/.", "final-dot-segment"), ("//", "final-empty-segment")):
            cases.append(("%s-%s" % (name, label), method, path + suffix, body))
    return cases


BYPASSES = bypasses()


@pytest.fixture(scope="module")
def backend(plugin):
    s = start(plugin, inbound={"TrustedProxies": ["127.0.0.1"]})
    s.victim = Upload.open(s)
    assert s.victim.put(CT).status_code == 201
    yield s
    finish(s)


@pytest.fixture(scope="module")
def site(backend):
    p = NginxProxy(backend.port, admin_nets=ADMIN_NET, peer_nets=PEER_NET).start()
    yield p
    p.cleanup()


def state_of(server):
    return {"instances": sorted(server.admin_json("GET", "/instances")),
            "bans": server.admin_json("GET", "/inbound/admin/limits")["bans"],
            "uploads": sorted(u["id"] for u in server.admin_uploads())}


@pytest.mark.parametrize("case", BYPASSES, ids=[c[0] for c in BYPASSES])
def test_path_tricks_are_refused_by_the_proxy(backend, site, case):
    name, method, target, body = case
    target = target.replace("@UPLOAD@", backend.victim.id)
    before = state_of(backend)
    for source in (INTERNET, ADMIN_NET, PEER_NET):
        for auth in (None, WRONG, ADMIN):
            answer = send(site, method, target, source=new_address()
                          if source == INTERNET else source, auth=auth, body=body)
            assert_refused_path(answer)
    assert state_of(backend) == before
    assert backend.running()


def test_the_reported_bypasses_are_refused(backend, site):
    """The three paths of the report, from the Internet with the admin's password."""
    for target in ("/inbound/x\\..\\..\\system", "/inbound/x%5C..%5Cadmin/uploads",
                   "/inbound/..../admin/uploads"):
        for auth in (None, ADMIN):
            answer = send(site, "GET", target, source=new_address(), auth=auth)
            assert_refused(answer, "bad-path")
            assert b"ApiVersion" not in answer.body and b"uploads" not in answer.body


def test_refusals_are_json_whatever_the_extension(backend, site):
    for target in ("/inbound/x\\..\\..\\app/explorer.html", "/inbound/admin./ui/admin.js",
                   "/inbound/x%5C..%5C..%5Capp/libs/jquery.min.css"):
        assert_refused(send(site, "GET", target, source=new_address()), "bad-path")


def test_a_leading_double_slash_is_read_alike_by_both(backend, site):
    """What an Orthanc peer sends when its base URL ends in "/" (the Internal role's puller):
    nginx and civetweb both merge the slashes, so the location nginx picks is Orthanc's route."""
    answer = send(site, "GET", "//inbound/api/info", source=new_address())
    assert answer.status == 200 and answer.json()["recipients"], answer
    for path in ("//inbound/admin/uploads", "///system", "//inbound/peer/outbox"):
        answer = send(site, "GET", path, source=new_address(), auth=ADMIN)
        assert answer.status == 403 and b"<center>nginx</center>" in answer.body, answer
    answer = send(site, "GET", "//inbound/admin/uploads", source=ADMIN_NET, auth=ADMIN)
    assert answer.status == 200 and "uploads" in answer.json(), answer
    answer = send(site, "GET", "//inbound/peer/outbox", source=PEER_NET)
    assert answer.status in (401, 403) and b"<center>nginx" not in answer.body, answer


def test_the_query_string_may_hold_what_the_path_may_not(backend, site):
    """The rule reads the path only: arguments keep their escapes, dots and slashes."""
    answer = send(site, "GET", "/inbound/api/info?x=..%2F..%5C%2E%2E/./", source=new_address())
    assert answer.status == 200 and answer.json()["recipients"], answer
    answer = send(site, "GET", "/inbound/admin/limits?client=1.2.3.4", source=ADMIN_NET,
                  auth=ADMIN)
    assert answer.status == 200, answer
    # Escaped argument names are not method faking (jQuery's cache breaker "_" neither).
    answer = send(site, "GET", "/patients?expand&_=1700000000&a%5B%5D=1", source=ADMIN_NET,
                  auth=ADMIN)
    assert answer.status == 200, answer


# --------------------------------------------------------------------------- method faking

OVERRIDE_ARGUMENTS = ["_method=DELETE", "_METHOD=DELETE", "_Method=delete", "a=1&_method=DELETE",
                      "a=1;_method=DELETE", "_method", "_method=", "%5Fmethod=DELETE",
                      "%5fmethod=DELETE", "_%6Dethod=DELETE", "%5F%6D%65%74%68%6F%64=DELETE",
                      "x_method=DELETE", "expand&_method=DELETE"]
OVERRIDE_HEADERS = ["X-HTTP-Method-Override: DELETE", "x-http-method-override: DELETE",
                    "X-HTTP-METHOD-OVERRIDE: PUT", "X-HTTP-Method: DELETE",
                    "X-Method-Override: DELETE", "X-HTTP-Method-Override: GET"]


@pytest.mark.parametrize("argument", OVERRIDE_ARGUMENTS)
def test_method_argument_is_refused_on_every_route(backend, site, argument):
    before = state_of(backend)
    victim = "/inbound/admin/uploads/%s" % backend.victim.id
    for method, path, source, auth in [("GET", victim, ADMIN_NET, ADMIN),
                                       ("GET", "/patients", ADMIN_NET, ADMIN),
                                       ("GET", "/inbound/api/info", new_address(), None),
                                       ("POST", victim + "/release", ADMIN_NET, ADMIN),
                                       ("GET", "/inbound/peer/outbox", PEER_NET, None)]:
        answer = send(site, method, "%s?%s" % (path, argument), source=source, auth=auth,
                      body=b"{}" if method == "POST" else b"")
        assert_refused(answer, "method-override")
    assert state_of(backend) == before


@pytest.mark.parametrize("header", OVERRIDE_HEADERS)
def test_method_override_headers_are_refused_on_every_route(backend, site, header):
    before = state_of(backend)
    victim = "/inbound/admin/uploads/%s" % backend.victim.id
    for method, path, source, auth in [("GET", victim, ADMIN_NET, ADMIN),
                                       ("POST", victim, ADMIN_NET, ADMIN),
                                       ("POST", "/tools/find", ADMIN_NET, ADMIN),
                                       ("GET", "/inbound/api/info", new_address(), None),
                                       ("POST", "/inbound/api/uploads", new_address(), None),
                                       ("GET", "/inbound/peer/outbox", PEER_NET, None)]:
        answer = send(site, method, path, source=source, auth=auth, headers=[header],
                      body=b"{}" if method == "POST" else b"")
        assert_refused(answer, "method-override")
    assert state_of(backend) == before


def test_an_empty_override_header_before_a_real_one_does_not_pass(backend, site):
    """nginx sees the first copy of a header; Orthanc would take the first too, but the site
    removes every copy anyway: the request keeps its own method."""
    victim = "/inbound/admin/uploads/%s" % backend.victim.id
    answer = send(site, "GET", victim, source=ADMIN_NET, auth=ADMIN,
                  headers=["X-HTTP-Method-Override:", "X-HTTP-Method-Override: DELETE"])
    assert answer.status in (200, 400), answer
    assert backend.victim.id in state_of(backend)["uploads"]


# --------------------------------------------------------------------------- multipart

MULTIPART_BODY = (b"--xyz\r\nContent-Disposition: form-data; name=\"files[]\"; filename=\"a.dcm\""
                  b"\r\nContent-Type: application/dicom\r\n\r\n" + CT[:2000] + b"\r\n--xyz--\r\n")
MULTIPART = {
    "form-data": (["Content-Type: multipart/form-data; boundary=xyz"], 415),
    "form-data-with-file-headers": (["Content-Type: multipart/form-data; boundary=xyz",
                                     "X-File-Name: a.dcm", "X-File-Size: 100000000",
                                     "X-Requested-With: XMLHttpRequest"], 415),
    "mixed-case": (["Content-Type: Multipart/Form-Data; boundary=xyz"], 415),
    "other-multipart": (["Content-Type: multipart/mixed; boundary=xyz"], 415),
    "file-name-only": (["Content-Type: application/octet-stream", "X-File-Name: a.dcm"], 400),
    "file-size-only": (["Content-Type: application/octet-stream", "X-File-Size: 100"], 400),
    "file-headers-lower-case": (["x-file-name: a.dcm", "x-file-size: 100"], 400),
}


@pytest.mark.parametrize("variant", sorted(MULTIPART))
def test_multipart_and_file_headers_are_refused_on_public_and_peer_routes(backend, site,
                                                                          variant):
    headers, status = MULTIPART[variant]
    before = state_of(backend)
    token = "X-Inbound-Token: %s" % backend.victim.token
    for method, path, source, extra in [
            ("POST", "/inbound/api/uploads", new_address(), []),
            ("POST", "/inbound/api/uploads/%s/complete" % backend.victim.id, new_address(),
             [token]),
            ("PUT", "/inbound/api/uploads/%s/files/%s" % (backend.victim.id, "a" * 64),
             new_address(), [token]),
            ("POST", "/inbound/", new_address(), []),
            ("POST", "/inbound/peer/outbox/%s/ack" % backend.victim.id, PEER_NET, []),
            ("POST", "/inbound/api/uploads", ADMIN_NET, [])]:
        answer = send(site, method, path, source=source, headers=headers + extra,
                      body=MULTIPART_BODY)
        assert_refused(answer, "multipart-refused", status)
    assert state_of(backend) == before
    assert backend.victim.status_json()["state"] == "open"


def test_orthanc_explorer_upload_form_still_works_from_the_admin_network(backend, site):
    """The admin routes keep multipart: Orthanc Explorer's upload form posts one."""
    other = data.Original(data.MR_SMALL)
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"files[]\"; filename=\"mr.dcm\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + other.data + b"\r\n--xyz--\r\n")
    answer = send(site, "POST", "/instances", source=ADMIN_NET, auth=ADMIN, body=body,
                  headers=["Content-Type: multipart/form-data; boundary=xyz",
                           "X-Requested-With: XMLHttpRequest"])
    assert answer.status == 200, answer
    found = backend.find("Instance", {"SOPInstanceUID": other.sop_instance_uid})
    assert len(found) == 1, found
    backend.admin("DELETE", "/instances/%s" % found[0])


# --------------------------------------------------------------------------- what still works


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("src", "href") and value and not re.match(r"^(https?:|data:|#|mailto:)",
                                                                 value):
                self.links.append(value)


def assets_of(page_path, body):
    parser = Links()
    parser.feed(body.decode("utf-8", "replace"))
    base = page_path.rsplit("/", 1)[0] + "/"
    out = []
    for link in parser.links:
        link = link.split("#")[0]
        if not link:
            continue
        path = link if link.startswith("/") else base + link
        while "/../" in path:
            path = re.sub(r"[^/]+/\.\./", "", path, count=1)
        path = path.replace("/./", "/")
        out.append(path)
    return out


def test_the_upload_page_and_an_upload_work_from_the_internet(backend, site):
    source = new_address()
    page = send(site, "GET", "/inbound/", source=source)
    assert page.status == 200 and b"<html" in page.body.lower(), page
    assets = assets_of("/inbound/", page.body)
    assert assets, "no assets found in the upload page"
    for path in assets:
        answer = send(site, "GET", path, source=source)
        assert answer.status == 200, (path, answer)

    class FromInternet:
        def request(self, method, path, **kwargs):
            return site.request(method, path, source=source, **kwargs)

    upload = Upload.open(FromInternet())
    original = data.Original(data.CT_SMALL)
    assert upload.put(original.data).status_code == 201
    assert upload.complete_ok()["files"] == 1
    stored = backend.instances_of_upload(upload.id)
    assert list(stored) == [original.sop_instance_uid]


def test_orthanc_explorer_and_its_rest_calls_work_from_the_admin_network(backend, site):
    page = send(site, "GET", "/app/explorer.html", source=ADMIN_NET, auth=ADMIN)
    assert page.status == 200, page
    for path in assets_of("/app/explorer.html", page.body):
        answer = send(site, "GET", path, source=ADMIN_NET, auth=ADMIN)
        assert answer.status == 200, (path, answer)
    (patient,) = backend.patients_of_upload(backend.victim.id)
    (instance,) = backend.admin_json("GET", "/patients/%s/instances" % patient["ID"])
    xhr = ["X-Requested-With: XMLHttpRequest"]
    for method, path, body in [
            ("GET", "/patients/%s" % patient["ID"], b""),
            ("GET", "/patients?expand", b""),
            ("GET", "/instances/%s/simplified-tags" % instance["ID"], b""),
            ("GET", "/instances/%s/content/0010-0020" % instance["ID"], b""),
            ("POST", "/tools/find", json.dumps({"Level": "Patient", "Query": {}}).encode()),
            ("GET", "/system", b"")]:
        answer = send(site, method, path, source=ADMIN_NET, auth=ADMIN, headers=xhr, body=body)
        assert answer.status == 200, (method, path, answer)
    answer = send(site, "GET", "/instances/%s/file" % instance["ID"], source=ADMIN_NET,
                  auth=ADMIN)
    assert answer.status == 200 and answer.body == backend.instance_file(instance["ID"])
    assert answer.body[128:132] == b"DICM"


def test_the_admin_page_works_from_the_admin_network(backend, site):
    page = send(site, "GET", "/inbound/admin/ui/", source=ADMIN_NET, auth=ADMIN)
    assert page.status == 200 and b"admin.js" in page.body, page
    for path in assets_of("/inbound/admin/ui/", page.body):
        answer = send(site, "GET", path, source=ADMIN_NET, auth=ADMIN)
        assert answer.status == 200, (path, answer)
    answer = send(site, "GET", "/inbound/admin/uploads/%s" % backend.victim.id,
                  source=ADMIN_NET, auth=ADMIN)
    assert answer.status == 200 and answer.json()["state"] == "open", answer


def test_the_peer_routes_reach_the_plugin_from_the_peer_network(backend, site):
    """Not refused by the proxy: the plugin answers (and asks for the puller's credentials)."""
    for path in ("/inbound/peer/outbox", "/inbound/peer/outbox?wait=1",
                 "/inbound/peer/outbox/%s" % backend.victim.id):
        answer = send(site, "GET", path, source=PEER_NET)
        assert answer.status in (401, 403), answer
        assert b"bad-path" not in answer.body and b"<center>nginx" not in answer.body, answer


# --------------------------------------------------------------------------- what Orthanc gets


class Recorder(http.server.ThreadingHTTPServer):
    """A stand-in for Orthanc behind the site: answers 200 to everything, keeps what came."""

    daemon_threads = True

    def __init__(self):
        self.seen = []
        super().__init__(("127.0.0.1", 0), RecorderHandler)


class RecorderHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path, dict(self.headers.items()),
                                 self.headers.get_all("X-HTTP-Method-Override") or []))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def recorded():
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    p = NginxProxy(server.server_address[1], admin_nets=ADMIN_NET, peer_nets=PEER_NET).start()
    yield p, server
    p.cleanup()
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_no_trick_reaches_the_upstream(recorded):
    """Behind the site, a server that answers everything: not one of the tricks reaches it,
    from the admin network with the password either (where nginx would let anything by)."""
    site, upstream = recorded
    for name, method, target, body in BYPASSES:
        target = target.replace("@UPLOAD@", "A" * 12)
        assert_refused_path(send(site, method, target, source=ADMIN_NET, auth=ADMIN, body=body))
    for argument in OVERRIDE_ARGUMENTS:
        assert_refused(send(site, "GET", "/system?" + argument, source=ADMIN_NET, auth=ADMIN),
                       "method-override")
    assert upstream.seen == [], upstream.seen[:5]
    # The same server sees the ordinary requests: the rule above is not an empty pipe.
    assert send(site, "GET", "/system", source=ADMIN_NET, auth=ADMIN).status == 200
    assert any(path == "/system" for _, path, _, _ in upstream.seen), upstream.seen


def test_the_upstream_gets_the_host_with_its_port_and_no_override(recorded):
    site, upstream = recorded
    del upstream.seen[:]
    answer = send(site, "GET", "/inbound/api/info", source=new_address(),
                  headers=["X-HTTP-Method-Override:", "X-HTTP-Method-Override: DELETE"])
    assert answer.status in (200, 400), answer
    answer = send(site, "GET", "/system", source=ADMIN_NET, auth=ADMIN)
    assert answer.status == 200, answer
    seen = [s for s in upstream.seen if s[1] in ("/inbound/api/info", "/system",
                                                  "/inbound/auth")]
    assert seen, upstream.seen
    for method, path, headers, overrides in seen:
        assert headers["Host"] == "localhost:%d" % site.port, (path, headers)
        assert overrides == [], (path, headers)
        assert not any(h.lower() in ("x-http-method", "x-method-override") for h in headers)
    # The login check (nginx's auth_request) gets the port too.
    assert any(path == "/inbound/auth" for _, path, _, _ in seen), seen


def test_a_request_without_host_gets_the_server_name(recorded):
    site, upstream = recorded
    del upstream.seen[:]
    with site.tls_socket(source=new_address()) as s:
        s.sendall(b"GET /inbound/api/info HTTP/1.0\r\n\r\n")
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    assert Answer(raw).status == 200, raw[:300]
    assert upstream.seen[-1][2]["Host"] == "localhost", upstream.seen[-1]


def test_request_link_tokens_are_masked_in_the_access_log(recorded):
    """A request link's token is the key to it: the site's access log writes the link, the
    page's calls and a Referer holding one with the token masked; the plugin still gets it."""
    site, upstream = recorded
    del upstream.seen[:]
    tokens = ["Tk%02d" % i + base64.urlsafe_b64encode(bytes([i]) * 30).decode().rstrip("=")
              for i in range(4)]
    calls = [("GET", "/inbound/r/%s" % tokens[0], []),
             ("GET", "/inbound/api/requests/%s?lang=de" % tokens[1], []),
             ("POST", "/inbound/api/requests/%s/challenge" % tokens[2],
              ["Content-Type: application/json"]),
             ("GET", "/inbound/app/app.js",
              ["Referer: https://localhost:%d/inbound/r/%s" % (site.port, tokens[3])])]
    for method, target, headers in calls:
        body = b'{"answer":""}' if method == "POST" else b""
        assert send(site, method, target, headers=headers, body=body).status == 200
    seen = [path for _, path, _, _ in upstream.seen]
    for token in tokens[:3]:
        assert any(token in path for path in seen), seen
    with open(os.path.join(site.workdir, "access.log"), encoding="utf-8",
              errors="replace") as f:
        log = f.read()
    for token in tokens:
        assert token not in log, log[-2000:]
    for masked in ("GET /inbound/r/- ", "GET /inbound/api/requests/-?lang=de ",
                   "POST /inbound/api/requests/-/challenge ",
                   '"https://localhost:%d/inbound/r/-"' % site.port):
        assert masked in log, log[-2000:]
    # Other paths are written as they are.
    assert "GET /inbound/app/app.js " in log
