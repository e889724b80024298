"""A corpus of hostile requests against the public routes, each with the answer it must get,
on a Standalone server and on a Gateway: nothing is stored or staged, the server keeps serving
others (slow clients included), and the audit trail names the refusals without their bodies."""

import io
import json
import socket
import threading
import time

import pydicom
import pytest

import data
import harness
from gateway_support import (audit, finish, fixed_size_dicom, parse_status, raw_exchange,
                             staged_files, start, wait_for_audit)
from harness import Upload

MAX_FILE = 100000
CT = harness.read(data.CT_SMALL)
MARKER = "HOSTILE-BODY-MARKER-4711"


@pytest.fixture(scope="module", params=["Standalone", "Gateway"])
def target(request, plugin):
    s = start(plugin, inbound={"Role": request.param,
                               "Upload": {"MaxFileBytes": MAX_FILE}})
    s.role = request.param
    s.victim = Upload.open(s)          # an open upload the corpus aims at
    s.other = Upload.open(s)
    yield s
    finish(s)


# ------------------------------------------------------------------------- request makers


def raw(server, method, path, body=b"", headers=None, content_length=True):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1", "Connection: close"]
    for key, value in (headers or {}).items():
        lines.append("%s: %s" % (key, value))
    if content_length and (body or method in ("POST", "PUT")):
        lines.append("Content-Length: %d" % len(body))
    payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return raw_exchange(server.port, payload)


def open_json(text):
    body = text if isinstance(text, bytes) else text.encode("utf-8")
    return lambda s: raw(s, "POST", "/inbound/api/uploads", body,
                         {"Content-Type": "application/json"})


def open_with(**overrides):
    return open_json(json.dumps(harness.open_body(**overrides)))


def open_sender(**fields):
    return open_with(sender=harness.sender(**fields))


def put_file(payload, digest=None, token=None, headers=None, upload="victim"):
    def run(s):
        u = getattr(s, upload)
        h = {"X-Inbound-Token": u.token if token is None else token,
             "Content-Type": "application/dicom"}
        h.update(headers or {})
        if token == "":
            del h["X-Inbound-Token"]
        return raw(s, "PUT", u.path("/files/%s" % (digest or harness.sha256(payload))),
                   payload, h)
    return run


def get(path, headers=None):
    return lambda s: raw(s, "GET", path.replace("{id}", s.victim.id), b"", headers)


def call(method, path, body=b"", token=True, headers=None):
    def run(s):
        h = dict(headers or {})
        if token:
            h["X-Inbound-Token"] = s.victim.token
        return raw(s, method, path.replace("{id}", s.victim.id)
                   .replace("{sha}", harness.sha256(CT)), body, h)
    return run


def bytes_request(payload):
    return lambda s: raw_exchange(s.port, payload)


def dicom_without(*names):
    return data.make_dicom(omit=names)


def edited_dicom(edit):
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom()))
    edit(ds)
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


def broken_length():
    """A valid file whose first data element claims a length of 0xFFFFFFF0 bytes."""
    payload = bytearray(data.make_dicom())
    ds = pydicom.dcmread(io.BytesIO(bytes(payload)))
    marker = str(ds.PatientName).encode()
    at = bytes(payload).find(marker)
    assert at > 0
    # Explicit VR little endian "PN" has a 2-byte length just before the value.
    payload[at - 2:at] = b"\xf0\xff"
    return bytes(payload) + b"\0" * 16


def deep(opening, closing, depth):
    return opening * depth + closing * depth


# ------------------------------------------------------------------------- the corpus

NOT_DICOM_PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 4000
LONG = "x" * 5000

CASES = [
    # --- JSON of the open call
    ("open: not JSON", open_json("hello " + MARKER), 400, "bad-json"),
    ("open: empty body", open_json(b""), 400, "bad-json"),
    ("open: JSON null", open_json("null"), 400, "bad-json"),
    ("open: JSON array", open_json("[]"), 400, "bad-json"),
    ("open: JSON string", open_json('"sender"'), 400, "bad-json"),
    ("open: trailing garbage", open_json(json.dumps(harness.open_body()) + "xyz"), 400,
     "bad-json"),
    ("open: comments", open_json("/* c */" + json.dumps(harness.open_body())), 400, "bad-json"),
    ("open: NaN", open_json('{"sender": NaN}'), 400, "bad-json"),
    ("open: duplicate keys", open_json('{"sender": {}, "sender": {}}'), 400, "bad-json"),
    ("open: deep arrays", open_json(deep("[", "]", 20000)), 400, "bad-json"),
    ("open: deep objects", open_json('{"a":' * 10000 + "1" + "}" * 10000), 400, "bad-json"),
    ("open: deep nesting inside sender",
     open_json('{"sender": ' + '{"name":' * 500 + '"x"' + "}" * 501), 400, "bad-json"),
    ("open: 6000 keys", open_json("{" + ",".join('"k%d":0' % i for i in range(6000)) + "}"),
     400, "invalid-field"),
    ("open: invalid UTF-8", open_json(b'{"sender": {"name": "\xff\xfe", "email": "a@b.org"}}'),
     400, None),
    ("open: overlong UTF-8 slash", open_json(b'{"sender": {"name": "\xc0\xaf", "email": "a@b.org"}}'),
     400, None),
    ("open: body 100 KB (handler cap)", open_json("{" + " " * 100000 + "}"), 413, "too-large"),
    ("open: body 200 KB (filter cap)", open_json("{" + " " * 200000 + "}"), 403, ""),
    ("open: sender a string", open_with(sender="Dr. A"), 400, "invalid-field"),
    ("open: sender null", open_with(sender=None), 400, "invalid-field"),
    ("open: name missing", open_with(sender={"email": "a@b.org"}), 400, "invalid-field"),
    ("open: name blank", open_sender(name="   "), 400, "invalid-field"),
    ("open: name a number", open_sender(name=42), 400, "invalid-field"),
    ("open: name with CR LF", open_sender(name="Eve\r\nBcc: x@evil.example"), 400,
     "invalid-field"),
    ("open: name with NUL", open_sender(name="Eve\u0000"), 400, "invalid-field"),
    ("open: name with tab", open_sender(name="Eve\tX"), 400, "invalid-field"),
    ("open: name with DEL", open_sender(name="Eve\u007f"), 400, "invalid-field"),
    ("open: name with C1 control", open_sender(name="Eve\u0085"), 400, "invalid-field"),
    ("open: name with line separator", open_sender(name="Eve\u2028X"), 400, "invalid-field"),
    ("open: name overlong", open_sender(name="N" * 129), 400, "invalid-field"),
    ("open: name 5000 characters", open_sender(name=LONG), 400, "invalid-field"),
    ("open: e-mail with CR LF header", open_sender(email="a@b.org\r\nBcc: x@evil.example"),
     400, "invalid-field"),
    ("open: e-mail with LF", open_sender(email="a@b.org\nx"), 400, "invalid-field"),
    ("open: e-mail list", open_sender(email="a@b.org, c@d.org"), 400, "invalid-field"),
    ("open: e-mail in brackets", open_sender(email="<a@b.org>"), 400, "invalid-field"),
    ("open: e-mail without domain dot", open_sender(email="a@localhost"), 400, "invalid-field"),
    ("open: e-mail double at", open_sender(email="a@@b.org"), 400, "invalid-field"),
    ("open: e-mail with space", open_sender(email="a b@c.org"), 400, "invalid-field"),
    ("open: e-mail overlong", open_sender(email="a" * 250 + "@b.org"), 400, "invalid-field"),
    ("open: institution with LF", open_sender(institution="X\nY"), 400, "invalid-field"),
    ("open: phone with CR", open_sender(phone="+49\r1"), 400, "invalid-field"),
    ("open: phone overlong", open_sender(phone="1" * 41), 400, "invalid-field"),
    ("open: message with CR LF", open_with(message="a\r\nb"), 400, "invalid-field"),
    ("open: message overlong", open_with(message="m" * 2001), 400, "invalid-field"),
    ("open: recipient an e-mail", open_with(recipient="evil@attacker.example"), 400,
     "unknown-recipient"),
    ("open: recipient traversal", open_with(recipient="../neuroradiology"), 400,
     "unknown-recipient"),
    ("open: recipient a list", open_with(recipient=["neuroradiology"]), 400,
     "unknown-recipient"),
    ("open: consent missing", open_with(consent=harness.OMIT), 400, "consent-required"),
    ("open: consent as string", open_with(consent={"version": harness.PRIVACY_VERSION,
                                                   "accepted": "true"}), 400,
     "consent-required"),
    ("open: consent old version", open_with(consent={"version": "1999", "accepted": True}),
     400, "consent-required"),
    ("open: expected negative", open_with(expected={"files": -1}), 400, "invalid-field"),
    ("open: expected float", open_with(expected={"files": 1.5}), 400, "invalid-field"),
    ("open: expected a string", open_with(expected="lots"), 400, "invalid-field"),
    ("open: expected too many files", open_with(expected={"files": 10 ** 9}), 413, "too-large"),
    ("open: expected 2^63 bytes", open_json(json.dumps(harness.open_body())[:-1] +
                                            ', "expected": {"bytes": 9223372036854775807}}'),
     413, "too-large"),
    # --- files
    ("put: PNG", put_file(NOT_DICOM_PNG), 400, "not-dicom"),
    ("put: text", put_file(b"hello world " * 20), 400, "not-dicom"),
    ("put: empty body", put_file(b""), 400, "not-dicom"),
    ("put: preamble and DICM only", put_file(b"\0" * 128 + b"DICM"), 400, "invalid-dicom"),
    ("put: truncated after 1000 bytes", put_file(CT[:1000]), 400, "invalid-dicom"),
    ("put: truncated in the meta header", put_file(CT[:140]), 400, "invalid-dicom"),
    ("put: no Part 10 header", put_file(harness.read(data.NO_META)), 400, "not-dicom"),
    ("put: element length 0xFFFFFFF0", put_file(broken_length()), 400, "invalid-dicom"),
    ("put: no SOP Instance UID", put_file(dicom_without("SOPInstanceUID")), 400,
     "invalid-dicom"),
    ("put: no Study Instance UID", put_file(dicom_without("StudyInstanceUID")), 400,
     "invalid-dicom"),
    ("put: no Series Instance UID", put_file(dicom_without("SeriesInstanceUID")), 400,
     "invalid-dicom"),
    ("put: DICOMDIR", put_file(harness.read(data.CD_DICOMDIR)), 422, "dicomdir"),
    ("put: hash of another body", put_file(CT, digest=harness.sha256(b"x")), 409,
     "hash-mismatch"),
    ("put: upper-case hash", put_file(CT, digest=harness.sha256(CT).upper()), 400, "bad-hash"),
    ("put: 63-digit hash", put_file(CT, digest=harness.sha256(CT)[:63]), 400, "bad-hash"),
    ("put: 128-digit hash", put_file(CT, digest=harness.sha256(CT) * 2), 400, "bad-hash"),
    ("put: non-hex hash", put_file(CT, digest="g" * 64), 400, "bad-hash"),
    ("put: wrong token", put_file(CT, token="A" * 32), 404, "not-found"),
    ("put: no token", put_file(CT, token=""), 404, "not-found"),
    ("put: token of another upload", lambda s: put_file(CT, token=s.other.token)(s), 404,
     "not-found"),
    ("put: 4 KB token", put_file(CT, token="t" * 4096), 404, "not-found"),
    ("put: just over the file cap", put_file(b"\0" * (MAX_FILE + 1)), 413, "too-large"),
    ("put: far over the file cap (not read)",
     call("PUT", "/inbound/api/uploads/{id}/files/{sha}", b"",
          headers={"Content-Length": str(10 ** 12)}), 403, ""),
    ("put: chunked body", call("PUT", "/inbound/api/uploads/{id}/files/{sha}",
                               b"4\r\nDICM\r\n0\r\n\r\n",
                               headers={"Transfer-Encoding": "chunked"}), 403, ""),
    ("open: chunked body", lambda s: raw(s, "POST", "/inbound/api/uploads",
                                         b"2\r\n{}\r\n0\r\n\r\n",
                                         {"Transfer-Encoding": "chunked"},
                                         content_length=False), 403, ""),
    ("open: no Content-Length", lambda s: raw(s, "POST", "/inbound/api/uploads", b"",
                                              content_length=False), 403, ""),
    ("open: Content-Length not a number", lambda s: raw(
        s, "POST", "/inbound/api/uploads", b"{}", {"Content-Length": "12abc"},
        content_length=False), 403, ""),
    ("open: negative Content-Length", lambda s: raw(
        s, "POST", "/inbound/api/uploads", b"{}", {"Content-Length": "-5"},
        content_length=False), 411, None),
    # --- ids, hashes and paths
    ("path: ..%2f in the id", get("/inbound/api/uploads/..%2f..%2fsystem"), 403, ""),
    ("path: %2e%2e segments", get("/inbound/api/uploads/%2e%2e/%2e%2e/system"), 403, ""),
    ("path: NUL id", get("/inbound/api/uploads/%00"), 403, ""),
    # Orthanc cuts a path at a decoded NUL, for the filter and the route alike.
    ("path: NUL after the id", get("/inbound/api/uploads/{id}%00"), 404, "not-found"),
    ("path: NUL then ../system", get("/inbound/api/info%00/../../../system"), 200, None),
    ("path: NUL then ../patients", get("/inbound/%00/../patients"), 200, None),
    ("path: NUL then ../tools", get("/inbound/api/uploads%00/../../../tools/now"), 405, None),
    ("path: 65-character id", get("/inbound/api/uploads/" + "A" * 65), 403, ""),
    ("path: 5000-character id", get("/inbound/api/uploads/" + "A" * 5000), 403, ""),
    ("path: unknown id", get("/inbound/api/uploads/AAAAAAAAAAAA", {"X-Inbound-Token": "x"}),
     404, "not-found"),
    ("path: token in the query", get("/inbound/api/uploads/{id}?token=x"), 404, "not-found"),
    ("path: traversal in the hash", call("PUT", "/inbound/api/uploads/{id}/files/"
                                         "..%2f..%2f..%2fetc%2fpasswd", CT), 403, ""),
    ("path: dot-dot after the hash", call("PUT", "/inbound/api/uploads/{id}/files/{sha}/..",
                                          CT), 403, ""),
    ("path: NUL in the hash", lambda s: raw(
        s, "PUT", s.victim.path("/files/%s%%00.dcm" % harness.sha256(NOT_DICOM_PNG)),
        NOT_DICOM_PNG, {"X-Inbound-Token": s.victim.token}), 400, "not-dicom"),
    ("path: app ../", get("/inbound/app/../../system"), 403, ""),
    ("path: app ..%2f", get("/inbound/app/..%2f..%2fsystem"), 403, ""),
    ("path: app backslashes", get("/inbound/app/..\\..\\system"), 403, ""),
    ("path: app hidden file", get("/inbound/app/.htaccess"), 403, ""),
    ("path: app NUL", get("/inbound/app/index.html%00.png"), 200, None),
    ("path: app unknown file", get("/inbound/app/nothing-here.js"), 404, "not-found"),
    ("path: info/../../system", get("/inbound/api/info/../../system"), 403, ""),
    ("path: encoded admin", get("/%69nbound/admin/limits"), 403, ""),
    ("path: 40 KB URL", get("/inbound/api/info?" + "a=1&" * 10000), 400, None),
    # --- wrong methods
    ("method: DELETE info", call("DELETE", "/inbound/api/info"), 405, None),
    ("method: POST info", call("POST", "/inbound/api/info", b"{}"), 405, None),
    ("method: GET uploads", call("GET", "/inbound/api/uploads"), 405, None),
    ("method: PUT uploads", call("PUT", "/inbound/api/uploads", b"{}"), 405, None),
    ("method: POST upload", call("POST", "/inbound/api/uploads/{id}", b"{}"), 405, None),
    ("method: GET file", call("GET", "/inbound/api/uploads/{id}/files/{sha}"), 405, None),
    ("method: DELETE file", call("DELETE", "/inbound/api/uploads/{id}/files/{sha}"), 405, None),
    ("method: GET complete", call("GET", "/inbound/api/uploads/{id}/complete"), 405, None),
    ("method: DELETE page", call("DELETE", "/inbound/"), 405, None),
    ("method: POST asset", call("POST", "/inbound/app/index.js", b"x"), 405, None),
    ("method: PATCH", call("PATCH", "/inbound/api/info"), 400, None),
    ("method: TRACE", call("TRACE", "/inbound/api/info"), 400, None),
    ("method: CONNECT", call("CONNECT", "/inbound/api/info"), 400, None),
    # --- headers and framing
    ("header: 20 KB header", get("/inbound/api/info", {"X-Junk": "j" * 20000}), 400, None),
    ("header: 100 KB Authorization", get("/system", {"Authorization": "Basic " + "Q" * 100000}),
     400, None),
    ("header: 2 KB Authorization", get("/system", {"Authorization": "Basic " + "Q" * 2000}),
     403, ""),
    ("header: 1000 forwarded addresses",
     get("/inbound/api/info", {"X-Forwarded-For": ", ".join(["10.0.0.1"] * 1000)}), 200, None),
    ("header: garbage request line", bytes_request(b"GARBAGE\r\n\r\n"), 400, None),
    ("header: HTTP/0.9", bytes_request(b"GET /inbound/api/info\r\n\r\n"), 400, None),
    ("header: NUL in the request line",
     bytes_request(b"GET /inbound/api/info\0/x HTTP/1.1\r\nHost: x\r\n\r\n"), 400, None),
]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60, len(CASES)
    assert len({c[0] for c in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize("name,make,status,code", CASES, ids=[c[0] for c in CASES])
def test_hostile_request(target, name, make, status, code):
    got, answer = make(target)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert got == status, "%s: expected %d, got %s: %r" % (name, status, got, answer[:400])
    if code == "":
        assert body == b"", "%s: the filter's refusal has a body: %r" % (name, body[:200])
    elif code is not None:
        try:
            decoded = json.loads(body.decode("utf-8"))
        except ValueError:
            raise AssertionError("%s: not JSON: %r" % (name, answer[:400]))
        assert decoded.get("error") == code, "%s: %r" % (name, decoded)
    # Never an answer of Orthanc's own API (/system, /patients, /tools/now, ...).
    for marker in (b'"DicomAet"', b'"ApiVersion"', b"MainDicomTags", b'"IsStable"'):
        assert marker not in body, "%s: an Orthanc answer: %r" % (name, body[:300])
    if status == 200 and "NUL then" in name:
        assert b'"recipients"' in body or b"<html" in body, body[:200]


def slow_client(port, declared=50000, first=b""):
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    c.sendall(first)
    return c


def test_slow_clients_do_not_stop_others(target):
    """Bodies trickled byte by byte and headers never finished hold a connection each; the
    server goes on answering everybody else promptly."""
    s = target
    sockets = []
    stop = threading.Event()
    try:
        for i in range(8):
            sockets.append(slow_client(s.port, first=(
                "PUT %s HTTP/1.1\r\nHost: x\r\nX-Inbound-Token: %s\r\nContent-Length: 50000\r\n"
                "\r\n" % (s.victim.path("/files/%s" % ("ab" * 32)), s.victim.token)).encode()))
        for i in range(8):
            sockets.append(slow_client(s.port, first=b"GET /inbound/api/info HTTP/1.1\r\nX-A: "))

        def trickle():
            while not stop.is_set():
                for c in sockets:
                    try:
                        c.send(b"a")
                    except OSError:
                        pass
                time.sleep(0.5)
        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        time.sleep(0.5)
        for _ in range(10):
            t0 = time.monotonic()
            r = s.request("GET", "/inbound/api/info", timeout=5)
            assert r.status_code == 200
            assert time.monotonic() - t0 < 2.0
        upload = Upload.open(s)
        payload = fixed_size_dicom(900)
        assert upload.put(payload).status_code == 201
        assert upload.complete_ok()["files"] == 1
    finally:
        stop.set()
        for c in sockets:
            c.close()


def test_nothing_stored_or_staged_and_still_serving(target):
    """Runs after the corpus: only the one valid file of the slow-client test is kept."""
    s = target
    assert s.victim.status_json()["files"] == []
    assert s.other.status_json()["files"] == []
    instances = s.admin_json("GET", "/instances")
    staged = staged_files(s, opened=True)  # sealed for the inside (harness keys)
    if s.role == "Gateway":
        assert instances == [], instances
        assert len(staged) == 1, sorted(staged)
        (name, content), = staged.items()
        assert name.endswith(harness.sha256(content)), name
        assert content == fixed_size_dicom(900)
    else:
        assert staged == {}
        assert len(instances) == 1, instances
    # The server still serves a whole upload.
    upload = Upload.open(s)
    assert upload.put(CT).status_code == 201
    assert upload.complete_ok()["state"] == "complete"
    # The refusals are audited, with the address, without the refused bodies.
    wait_for_audit(s, lambda e: e.get("event") == "refused" and e.get("ip") == "127.0.0.1"
                   and str(e.get("detail", "")).startswith("400 bad-json:"))
    events = json.dumps(audit(s, limit=5000))
    assert MARKER not in events and "evil.example" not in events
