"""Red team of the partner STOW-RS door and stream (doc/Security.md "Partner sites"): the four
adversaries (an anonymous client, a partner with a valid token, a compromised gateway, a page an
admin opens) against a real Orthanc with the plugin. Each attack: its status and error code,
nothing stored (Orthanc's /instances and the admin's upload list unchanged), the server alive.
The door's basic refusals are in test_partner_door.py and not repeated here; what a partner sends
past the door (parts, streams, uploads) is in test_partner_attacks_stream.py."""

import hashlib
import os
import socket
import subprocess
import threading
import time

import pytest

from gateway_support import audit, wait_for_audit
from harness import Upload
from partner_attack_support import (BODY, BOUNDARY, MAX_UNCHUNKED, PARTNERS, REVOKED, ROUTE,
                                     STOW, TOKEN_A, TOKEN_C, TOKEN_D, partner, passes_the_door,
                                     raw, sha, snapshot, stow, vm_hwm_kib,
                                     assert_refused_and_nothing_stored)

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def token_plugin(tmp_path_factory):
    """A test plugin that hands out Orthanc's own REST API tokens (fact F6: such a Bearer token
    skips every incoming filter, so the STOW-RS handler must not rely on the filter)."""
    target = str(tmp_path_factory.mktemp("plugin") / "libRedteamToken.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wall", "-Werror", "-o", target,
                    os.path.join(HERE, "token_plugin.c")], check=True)
    return target


@pytest.fixture(scope="module")
def site(plugin, token_plugin):
    import conftest
    s = conftest._start(
        plugin,
        inbound={"Partners": PARTNERS, "TrustedProxies": ["127.0.0.1/32"],
                 "PartnerLimits": {"MaxUnchunkedBytes": MAX_UNCHUNKED, "MaxStreams": 2,
                                   "MaxStreamsTotal": 3}},
        orthanc={"Plugins": [plugin, token_plugin]})
    yield s
    conftest._cleanup(s, check=True)


# ------------------------------------------------------------------------- anonymous: tokens


JUNK_TOKENS = {
    "very-long": "Bearer " + "A" * 20000,
    "just-over-256": "Bearer " + "A" * 257,
    "short": "Bearer " + TOKEN_A[:15],
    "unicode": ("Bearer " + TOKEN_A[:-1]).encode() + "\u00f6".encode("utf-8"),
    "latin1": ("Bearer " + TOKEN_A[:-1]).encode() + b"\xf6",
    "no-space": "Bearer" + TOKEN_A,
    "double-space": "Bearer  " + TOKEN_A,
    "basic-scheme": "Basic " + TOKEN_A,
    "two-tokens": "Bearer %s, Bearer %s" % (TOKEN_D, TOKEN_A),
    "token-with-padding": "Bearer " + TOKEN_A + "==",
    "stored-hash-as-token": "Bearer " + sha(TOKEN_A),
    "another-partners-hash": "Bearer " + sha(TOKEN_D),
    "control-char": ("Bearer " + TOKEN_A[:20]).encode() + b"\x01" + TOKEN_A[21:].encode(),
    "empty": "Bearer ",
    "scheme-only": "Bearer",
}


@pytest.mark.parametrize("case", sorted(JUNK_TOKENS))
def test_junk_bearer_tokens_are_refused(site, case):
    before = snapshot(site)
    status, _, _ = stow(site, token=None, extra=[("Authorization", JUNK_TOKENS[case])])
    # A header over civetweb's request size is refused by civetweb itself (431/413/400).
    allowed = (403, 400, 413, 431) if case == "very-long" else (403, 400)
    assert status in allowed, (case, status)
    assert snapshot(site) == before
    assert site.running() and passes_the_door(site)


def test_the_token_scheme_is_case_insensitive_but_the_token_is_not(site):
    assert passes_the_door(site)
    status, _, _ = stow(site, token=None, extra=[("Authorization", "bEaReR " + TOKEN_A)])
    assert status != 403
    status, _, _ = stow(site, token=None, extra=[("Authorization", "Bearer " + TOKEN_A.swapcase())])
    assert status == 403


def test_token_guessing_locks_the_address_out(start_server):
    """Wrong tokens count as failed logins: after AutoBan.FailedLogins, the guessing address is
    banned, even with a right token; other addresses are not."""
    s = start_server(inbound={"Partners": [partner("clinic-d", TOKEN_D)],
                              "TrustedProxies": ["127.0.0.1/32"],
                              "AutoBan": {"FailedLogins": 3, "Refusals": 0}})
    guesser = [("X-Forwarded-For", "203.0.113.7")]
    other = [("X-Forwarded-For", "203.0.113.8")]
    for i in range(3):
        assert stow(s, token=TOKEN_D[:-2] + "x%d" % i, extra=guesser)[0] == 403
    wait_for_audit(s, lambda e: e.get("ip") == "203.0.113.7" and "ban" in (e.get("event") or ""),
                   what="a ban of the guessing address")
    assert stow(s, token=TOKEN_D, extra=guesser)[0] == 403  # banned: the right token too
    status, headers, _ = stow(s, token=TOKEN_D, extra=other)
    assert status != 403 and headers["content-type"].startswith("application/"), status
    assert s.admin_json("GET", "/instances") == []


# ------------------------------------------------------------------------- networks


@pytest.mark.parametrize("case, token, forwarded, passes", [
    # TrustedProxies is loopback: X-Forwarded-For names the client.
    ("in-c-network", TOKEN_C, "198.51.100.20", True),           # the control: C from its network
    ("c-from-elsewhere", TOKEN_C, "203.0.113.5", False),
    ("spoofed-left-hop", TOKEN_C, "198.51.100.20, 203.0.113.5", False),  # nearest untrusted hop
    ("a-outside", TOKEN_A, "203.0.113.5", False),
    ("a-inside", TOKEN_A, "192.0.2.44", True),
    ("garbage-forwarded", TOKEN_C, "198.51.100.20 <script>", False),
])
def test_a_partner_token_counts_only_from_its_networks(site, case, token, forwarded, passes):
    before = snapshot(site)
    status, headers, _ = stow(site, token=token, extra=[("X-Forwarded-For", forwarded)])
    if passes:
        assert status != 403 and headers["content-type"].startswith("application/"), (case, status)
    else:
        assert status == 403, (case, status)
        assert snapshot(site) == before
    if not passes:
        wait_for_audit(site, lambda e: "partner-network" in (e.get("detail") or "")
                       or "partner-bad-token" in (e.get("detail") or ""), what="refusal")


def test_a_revoked_partner_is_refused_from_everywhere(site):
    before = snapshot(site)
    for forwarded in ("127.0.0.1", "192.0.2.5", "198.51.100.3"):
        status, _, _ = stow(site, token=REVOKED, extra=[("X-Forwarded-For", forwarded)])
        assert status == 403, forwarded
    assert snapshot(site) == before
    wait_for_audit(site, lambda e: "partner-revoked" in (e.get("detail") or ""), what="revoked")


# ------------------------------------------------------------------------- the token elsewhere


# (method, path, body, content type): routes where the token must give no more than nothing.
ELSEWHERE = [
    ("POST", "/inbound/admin/partners/token", b"{}", "application/json"),
    ("GET", "/inbound/admin/partners", b"", None),
    ("GET", "/inbound/admin/audit", b"", None),
    ("DELETE", "/inbound/admin/bans/127.0.0.1", b"", None),
    ("GET", "/inbound/admin/limits", b"", None),
    ("GET", "/system", b"", None),
    ("POST", "/tools/find", b'{"Level":"Patient","Query":{}}', "application/json"),
    ("POST", "/instances", BODY, STOW),
    ("GET", "/inbound/peer/outbox/x/manifest", b"", None),
    ("POST", "/inbound/peer/requests", b"{}", "application/json"),
    ("GET", "/redteam/plugin-token", b"", None),
    ("POST", "/dicom-web/studies", BODY, STOW),
    ("GET", "/inbound/dicom-web/studies", b"", None),
    ("POST", "/inbound/dicom-web/studies/1.2.3/series", BODY, STOW),
    ("POST", "/inbound/dicom-web/studies/1.2.3%2f..%2f..%2fadmin", BODY, STOW),
]


@pytest.mark.parametrize("method, path, body, content_type", ELSEWHERE)
def test_the_token_opens_no_other_route(site, method, path, body, content_type):
    before = snapshot(site)
    headers = [("Content-Type", content_type)] if content_type else []
    headers.append(("Content-Length", str(len(body))))
    anonymous, _, _ = raw(site, method, path, headers, body)
    with_token, _, answer = raw(site, method, path,
                                headers + [("Authorization", "Bearer " + TOKEN_A)], body)
    assert anonymous in (403, 404, 405), (path, anonymous)
    assert with_token == anonymous, (path, with_token, answer[:200])
    assert snapshot(site) == before


def test_the_token_gives_a_browser_upload_nothing_more(site):
    """On the public upload routes the token is ignored: an upload it opens is an ordinary
    anonymous one, and it does not stand in for the upload's own token."""
    import requests
    bearer = {"Authorization": "Bearer " + TOKEN_A}
    upload = Upload.open(site)
    r = site.request("POST", "/inbound/api/uploads", headers=bearer,
                     json=dict(upload.body))
    assert r.status_code == 201, r.text
    other = site.admin_upload(r.json()["id"])
    assert not other.get("partner") and not other.get("partnerId"), other
    before = snapshot(site)
    data = b"\0" * 132
    url = site.url + upload.path("/files/%s" % hashlib.sha256(data).hexdigest())
    for headers in ({}, bearer):
        headers = dict(headers, **{"Content-Type": "application/dicom"})
        put = requests.put(url, data=data, headers=headers, timeout=10)
        done = requests.post(site.url + upload.path("/complete"), headers=headers, timeout=10)
        if not headers.get("Authorization"):
            anonymous = (put.status_code, done.status_code)
    assert anonymous[0] >= 400 and anonymous[1] >= 400, anonymous
    assert (put.status_code, done.status_code) == anonymous
    assert snapshot(site) == before
    assert upload.status_json()["state"] == "open"


# ------------------------------------------------------------------------- Orthanc's own tokens


def test_an_orthanc_plugin_token_skips_the_filter_but_not_the_stow_handler(site):
    """Fact F6: Orthanc grants a Bearer token made by any plugin without asking the filter. On
    the partner route the handler checks the header itself: such a token stores nothing."""
    r = site.admin("GET", "/redteam/plugin-token")
    assert r.status_code == 200, r.text
    assert r.text.startswith("Bearer ")
    plugin_token = r.text[len("Bearer "):].strip()
    assert plugin_token
    # The control: Orthanc grants it on its own routes without the filter.
    assert raw(site, "GET", "/system", [("Authorization", r.text)])[0] == 200
    before = snapshot(site)
    for chunked in (False, True):
        for path in (ROUTE, ROUTE + "/1.2.3"):
            status, headers, body = stow(site, token=plugin_token, path=path, chunked=chunked)
            assert status == 403, (path, chunked, status, body[:200])
            assert headers["content-type"].startswith("application/json"), headers
            assert b'"forbidden"' in body, body
    assert snapshot(site) == before
    limits = site.admin_json("GET", "/inbound/admin/limits")
    assert limits["inFlight"]["bytes"] == 0, limits["inFlight"]
    assert passes_the_door(site)


# ------------------------------------------------------------------------- content types


@pytest.mark.parametrize("content_type", [
    "text/plain",
    "multipart/mixed; boundary=" + BOUNDARY,
    "multipart/related; boundary=" + BOUNDARY,                               # no type
    'multipart/related; type="application/dicom+json"; boundary=' + BOUNDARY,
    'multipart/related; type="application/dicom+xml"; boundary=' + BOUNDARY,
    'multipart/related; type="application/octet-stream"; boundary=' + BOUNDARY,
    'multipart/form-data; type="application/dicom"; boundary=' + BOUNDARY,
    'MULTIPART/FORM-DATA; boundary=' + BOUNDARY,
    'multipart/relatedx; type="application/dicom"; boundary=' + BOUNDARY,
    "application/dicom",
])
@pytest.mark.parametrize("chunked", [False, True])
def test_only_a_stow_body_passes_the_door(site, content_type, chunked):
    before = snapshot(site)
    status, _, _ = stow(site, content_type=content_type, chunked=chunked)
    assert_refused_and_nothing_stored(site, before, status)


def test_x_file_headers_do_not_turn_a_stow_request_into_orthancs_upload(site):
    before = snapshot(site)
    status, headers, _ = stow(site, extra=[("X-File-Name", "a.dcm"), ("X-File-Size", "9"),
                                           ("X-Requested-With", "XMLHttpRequest")])
    # Either the handler's answer or a refusal, never Orthanc's own upload (200 empty).
    assert status == 403 or headers["content-type"].startswith("application/"), status
    assert snapshot(site) == before


# ------------------------------------------------------------------------- body sizes


def test_a_content_length_over_the_cap_is_refused_before_the_body(site):
    """The refusal comes without a byte of the body: a partner cannot make Orthanc allocate the
    body it announces (fact F3)."""
    before = snapshot(site)
    hwm = vm_hwm_kib(site)
    started = time.monotonic()
    status, _, _ = raw(site, "POST", ROUTE, [("Content-Type", STOW),
                                             ("Authorization", "Bearer " + TOKEN_A),
                                             ("Content-Length", str(10 ** 12))], b"", timeout=10)
    assert status == 403
    assert time.monotonic() - started < 5
    assert vm_hwm_kib(site) - hwm < 32 * 1024
    wait_for_audit(site, lambda e: "partner-too-large" in (e.get("detail") or ""),
                   what="partner-too-large")
    assert snapshot(site) == before


@pytest.mark.parametrize("transfer_encoding", ["chunked", "identity", "gzip, chunked",
                                               "Chunked"])
def test_transfer_encoding_does_not_lift_the_cap_of_a_content_length(site, transfer_encoding):
    """Orthanc reads a body by its Content-Length whenever there is one, whatever
    Transfer-Encoding says (HttpServer.cpp ReadBodyToStream): a request with both is capped by
    its Content-Length like any other, before Orthanc allocates it."""
    before = snapshot(site)
    hwm = vm_hwm_kib(site)
    started = time.monotonic()
    status, _, _ = raw(site, "POST", ROUTE, [("Content-Type", STOW),
                                             ("Authorization", "Bearer " + TOKEN_A),
                                             ("Transfer-Encoding", transfer_encoding),
                                             ("Content-Length", str(512 * 1024 * 1024))],
                       b"5\r\nhello\r\n0\r\n\r\n", timeout=8)
    assert status in (400, 403, 411, 501), status
    assert time.monotonic() - started < 5
    assert vm_hwm_kib(site) - hwm < 32 * 1024, "Orthanc allocated the announced body"
    assert snapshot(site) == before
    assert passes_the_door(site)


# ------------------------------------------------------------------------- streams and threads


def open_stream(server, token=TOKEN_A, forwarded=None):
    """A chunked STOW-RS request whose body has begun and not ended."""
    c = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n" % (ROUTE, token, STOW))
    if forwarded:
        head += "X-Forwarded-For: %s\r\n" % forwarded
    c.sendall(head.encode() + b"\r\n" + b"%x\r\n%s\r\n" % (10, BODY[:10]))
    return c


def finish_stream(c):
    rest = BODY[10:]
    c.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
    answer = b""
    while b"\r\n\r\n" not in answer:
        got = c.recv(65536)
        if not got:
            break
        answer += got
    c.close()
    return int(answer.split(b" ")[1])


def test_max_streams_total_bounds_all_partners_together(site):
    """clinic-a holds its 2 streams, clinic-d one: the total (3) is reached, so clinic-d's second
    is refused though its own cap (2) is not; once clinic-a's end, clinic-d gets in."""
    a1, a2 = open_stream(site), open_stream(site)
    d1 = open_stream(site, TOKEN_D)
    try:
        time.sleep(0.5)
        assert stow(site, token=TOKEN_A)[0] == 403  # clinic-a's own cap
        assert stow(site, token=TOKEN_D)[0] == 403  # the total
        wait_for_audit(site, lambda e: "partner-busy" in (e.get("detail") or ""),
                       what="partner-busy")
    finally:
        statuses = [finish_stream(c) for c in (a1, a2, d1)]
    assert 403 not in statuses, statuses
    assert passes_the_door(site, TOKEN_D) and passes_the_door(site, TOKEN_A)
    assert site.admin_json("GET", "/inbound/admin/limits")["inFlight"]["bytes"] == 0


def test_a_partner_sending_request_after_request_is_never_busy(start_server):
    """The stream's slot is free once its answer is sent: a partner that sends its next request
    as soon as it has read an answer (MaxStreams 1) is never refused partner-busy."""
    s = start_server(inbound={"Partners": [partner("clinic-a", TOKEN_A)],
                              "PartnerLimits": {"MaxStreams": 1, "MaxStreamsTotal": 1}})
    statuses = [stow(s, chunked=(i % 2 == 1))[0] for i in range(60)]
    assert 403 not in statuses, statuses
    assert s.admin_json("GET", "/inbound/admin/limits")["inFlight"]["bytes"] == 0


def test_a_silent_stream_is_cut_by_the_http_timeout_and_frees_its_slot(start_server):
    """Slowloris: a partner's stream that stops sending holds a thread only until Orthanc's
    HttpRequestTimeout (per read); its stream slot and reservation are then freed. A stream that
    trickles under the timeout keeps its slot: MaxStreams is what bounds it, and another partner
    still gets in."""
    s = start_server(inbound={"Partners": [partner("clinic-a", TOKEN_A),
                                           partner("clinic-d", TOKEN_D)],
                              "PartnerLimits": {"MaxStreams": 1, "MaxStreamsTotal": 2}},
                     orthanc={"HttpRequestTimeout": 2})
    silent = open_stream(s)
    time.sleep(0.5)
    assert stow(s, token=TOKEN_A)[0] == 403  # its one slot is taken
    stop = threading.Event()

    def trickle(c):
        while not stop.wait(0.5):
            try:
                c.sendall(b"1\r\n \r\n")
            except OSError:
                return

    trickler = open_stream(s, TOKEN_D)
    worker = threading.Thread(target=trickle, args=(trickler,), daemon=True)
    worker.start()
    try:
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not passes_the_door(s, TOKEN_A):
            seen.append(stow(s, token=TOKEN_A)[0])
            time.sleep(0.5)
        assert passes_the_door(s, TOKEN_A), ("the silent stream was never cut", seen)
        assert stow(s, token=TOKEN_D)[0] == 403  # the trickling one still holds clinic-d's slot
    finally:
        stop.set()
        worker.join()
        trickler.close()
        silent.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and \
            s.admin_json("GET", "/inbound/admin/limits")["inFlight"]["bytes"] != 0:
        time.sleep(0.5)
    assert s.admin_json("GET", "/inbound/admin/limits")["inFlight"]["bytes"] == 0
    assert passes_the_door(s, TOKEN_D)
    assert s.admin_json("GET", "/instances") == []


# ------------------------------------------------------------------------- a page an admin opens


TOKEN_ROUTE = "/inbound/admin/partners/token"


def minted(server):
    return [e for e in audit(server) if e.get("event") == "partner-token-made"]


@pytest.mark.parametrize("case, headers", [
    ("foreign-origin", [("Origin", "https://evil.example")]),
    ("null-origin", [("Origin", "null")]),
    ("no-origin-no-header", []),
    ("look-alike-origin", [("Origin", "http://127.0.0.1.evil.example")]),
    ("form-post", [("Origin", "https://evil.example"),
                   ("Content-Type", "application/x-www-form-urlencoded")]),
    ("wrong-header-value", [("X-Requested-With", "fetch")]),
])
def test_the_token_route_refuses_a_cross_site_write(site, case, headers):
    """A page of another site, opened by a logged-in admin, cannot make a partner token: the
    browser sends the admin's credentials but cannot add X-Requested-With without CORS."""
    before = len(minted(site))
    status, answer_headers, body = raw(site, "POST", TOKEN_ROUTE, [
        ("Authorization", basic_admin()), ("Content-Length", "2")] + headers, b"{}")
    assert status == 403, (case, status, body[:200])
    assert b"token" not in body.lower() or b"cross-site" in body, body[:200]
    assert "access-control-allow-origin" not in answer_headers
    time.sleep(1.2)  # audit batches
    assert len(minted(site)) == before


def test_the_token_route_makes_nothing_on_a_get_or_an_override(site):
    before = len(minted(site))
    # A link or an image (GET) is all a page needs for "?_method=POST": Orthanc would turn it
    # into a POST.
    for method, path in (("GET", TOKEN_ROUTE), ("GET", TOKEN_ROUTE + "?_method=POST"),
                         ("GET", TOKEN_ROUTE + "?_method=post"), ("PUT", TOKEN_ROUTE),
                         ("DELETE", TOKEN_ROUTE)):
        status, _, body = raw(site, method, path, [("Authorization", basic_admin()),
                                                   ("X-Requested-With", "XMLHttpRequest"),
                                                   ("Content-Length", "0")])
        assert status != 201 and b"tokenSha256" not in body, (method, path, status, body[:200])
    time.sleep(1.2)
    assert len(minted(site)) == before


def test_the_token_route_only_from_admin_networks_and_a_preflight_opens_nothing(site):
    status, _, _ = raw(site, "POST", TOKEN_ROUTE, [
        ("Authorization", basic_admin()), ("X-Requested-With", "XMLHttpRequest"),
        ("X-Forwarded-For", "203.0.113.9"), ("Content-Length", "0")])
    assert status == 403
    status, headers, _ = raw(site, "OPTIONS", TOKEN_ROUTE, [
        ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "x-requested-with, authorization")])
    assert "access-control-allow-origin" not in headers and \
        "access-control-allow-headers" not in headers, (status, headers)


def test_a_token_made_by_the_admin_is_shown_once_and_opens_nothing_yet(site):
    import json
    status, headers, body = raw(site, "POST", TOKEN_ROUTE, [
        ("Authorization", basic_admin()), ("X-Requested-With", "XMLHttpRequest"),
        ("Content-Length", "0")])
    assert status == 201, body[:300]
    made = json.loads(body)
    assert hashlib.sha256(made["token"].encode()).hexdigest() == made["tokenSha256"]
    assert "no-store" in headers.get("cache-control", "")
    assert "access-control-allow-origin" not in headers
    # Not configured yet: the door does not know it.
    assert stow(site, token=made["token"])[0] == 403
    events = wait_for_audit(site, lambda e: e.get("event") == "partner-token-made",
                            what="partner-token-made")
    assert made["tokenSha256"][:8] in json.dumps(events)
    assert made["token"] not in json.dumps(audit(site))
    with open(site.log_path, "rb") as f:
        assert made["token"].encode() not in f.read()


def basic_admin():
    import base64
    from harness import ADMIN
    return "Basic " + base64.b64encode(("%s:%s" % ADMIN).encode()).decode()
