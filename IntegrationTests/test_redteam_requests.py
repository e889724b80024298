"""Red team of request links on a real Standalone Orthanc.
Over 500 lines: one feature's red team against one shared server, each attack with its variants.

An anonymous Internet client (guessed tokens and tickets, bursts of guesses, guesses spread over
addresses, odd answers, hostile JSON, side doors around requests-only mode), a sender holding a
valid link (cancelling for more uses, fields it must not set, the hospital's PatientID), and an
admin's browser driven by another site (forged writes, the link's address, what staff typed
shown in the link mail, the proxy's logs).
The gateway adversary is in test_redteam_requests_gateway.py."""

import json
import os
import random
import socket
import string
import time

import pytest
import requests

import data
import harness
import mail_support
from harness import assert_error
from request_links import (PATIENT, PATIENT_TRACES, audit, challenge, create, describe,
                           open_bound, show, ticket_of, upload_of)

MAX_FAILURES = 3
URLSAFE = string.ascii_letters + string.digits + "-_"


@pytest.fixture(scope="module")
def server(plugin):
    import conftest
    s = conftest._start(plugin, inbound={"Requests": {"MaxFailures": MAX_FAILURES},
                                         "TrustedProxies": ["127.0.0.1"]},
                        orthanc={"DicomModalities": {"pacs": ["PACS", "127.0.0.1", 1]}})
    yield s
    conftest._cleanup(s, check=True)


def random_token():
    return "".join(random.choice(URLSAFE) for _ in range(43))


def from_address(address):
    return {"X-Forwarded-For": address}


def request_events(server, request_id, event):
    return [e for e in audit(server) if e["event"] == event and request_id in e["detail"]]


def assert_nothing_of_the_patient(response):
    for trace in PATIENT_TRACES:
        assert trace not in response.text, (trace, response.text[:300])


def burst(server, path, bodies):
    """Every body POSTed to "path" on its own connection, all released at the same instant
    (each request's last byte held back until every connection has sent the rest): the
    closest a client gets to racing the server. Returns the raw answers."""
    held = []
    for body in bodies:
        payload = json.dumps(body).encode()
        raw = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, len(payload))
               ).encode() + payload
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        connection.sendall(raw[:-1])
        held.append((connection, raw[-1:]))
    time.sleep(0.3)
    for connection, last in held:
        connection.sendall(last)
    answers = []
    for connection, _ in held:
        chunks = []
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        connection.close()
        answers.append(b"".join(chunks))
    return answers


# --------------------------------------------------------------------------- anonymous client


def test_guessed_tokens_and_tickets_open_nothing(server):
    before = len(server.admin_uploads())
    answer, token = create(server, maxUploads=2)
    for _ in range(40):
        guess = random_token()
        assert_error(describe(server, guess), 404, "not-found")
        assert_error(challenge(server, guess, PATIENT["birthDate"]), 404, "not-found")
        assert_error(open_bound(server, guess, random_token()), 404, "not-found")
        # The right token with a guessed ticket, or its own token as the ticket.
        assert_error(open_bound(server, token, guess), 403, "challenge-required")
    assert_error(open_bound(server, token, token), 403, "challenge-required")
    # Guesses at other links are no wrong answers to this one, and open no upload.
    shown = show(server, answer["id"])
    assert shown["failures"] == 0 and shown["usedUploads"] == 0 and shown["status"] == "active"
    assert len(server.admin_uploads()) == before
    assert describe(server, token).status_code == 200


def test_a_dead_link_says_why_and_nothing_else(server):
    # Unknown (404) and revoked / used / locked (410, 403) are told apart: acceptable, a token
    # has 256 bits and only its holder learns its status. The answer holds nothing more.
    revoked, revoked_token = create(server)
    server.admin_json("DELETE", "/inbound/admin/requests/%s" % revoked["id"])
    used, used_token = create(server)
    upload_of(server, open_bound(server, used_token, ticket_of(server, used_token)))
    locked, locked_token = create(server)
    for attempt in range(MAX_FAILURES):
        challenge(server, locked_token, "1999-01-0%d" % (attempt + 1))
    for token, status, code in [(random_token(), 404, "not-found"),
                                (revoked_token, 410, "request-revoked"),
                                (used_token, 410, "request-used"),
                                (locked_token, 403, "request-locked")]:
        for r in (describe(server, token), challenge(server, token, "1964-08-12")):
            body = assert_error(r, status, code)
            assert set(body) == {"error", "message"}, body
            assert_nothing_of_the_patient(r)
            assert "Please send the CT" not in r.text and "neuroradiology" not in r.text


def test_guesses_sent_at_once_get_no_more_tries_than_max_failures(server):
    # A link's holder who does not know the answer sends many guesses on parallel
    # connections, all arriving together: each must be judged against the count the ones
    # before it raised. A right answer among them resets the count (by design), so: never more
    # than MaxFailures - 1 wrong answers judged before it, never more than MaxFailures after,
    # and nothing judged once the link is locked.
    for _ in range(6):
        answer, token = create(server)
        bodies = [{"answer": "1999-01-%02d" % (i % 28 + 1)} for i in range(47)]
        bodies.insert(random.randrange(48), {"answer": "1964-08-12"})
        answers = burst(server, "/inbound/api/requests/%s/challenge" % token, bodies)
        opened = [a for a in answers if a.startswith(b"HTTP/1.1 200")]
        judged = sorted((e for e in audit(server) if answer["id"] in e["detail"] and e["event"]
                         in ("request-challenge-failed", "request-challenge-passed")),
                        key=lambda e: e["id"])
        sequence = "".join("P" if e["event"].endswith("passed") else "F" for e in judged)
        assert sequence.count("P") == len(opened) <= 1, (sequence, len(opened))
        before, _, after = sequence.partition("P") if opened else ("", "", sequence)
        assert len(before) <= MAX_FAILURES - 1 and len(after) <= MAX_FAILURES, sequence
        shown = show(server, answer["id"])
        assert shown["failures"] == len(after), (sequence, shown)
        assert shown["status"] == ("locked" if len(after) == MAX_FAILURES else "active"), \
            (sequence, shown)
        # What the wrong answers were told matches: each a failure or the lock, never the
        # patient.
        for raw in answers:
            if not raw.startswith(b"HTTP/1.1 200"):
                assert raw.startswith(b"HTTP/1.1 403"), raw[:100]
                assert b"MUSTERFRAU" not in raw
    assert server.running()


def test_one_guess_from_each_of_many_addresses_still_locks_the_link(server):
    answer, token = create(server)
    for i in range(MAX_FAILURES - 1):
        body = assert_error(challenge(server, token, "1999-02-0%d" % (i + 1),
                                      headers=from_address("198.51.100.%d" % (i + 1))),
                            403, "challenge-failed")
        assert body["remainingAttempts"] == MAX_FAILURES - 1 - i
    assert_error(challenge(server, token, "1999-02-09", headers=from_address("198.51.100.9")),
                 403, "request-locked")
    # The right answer, from a fresh address, comes too late.
    r = challenge(server, token, "1964-08-12", headers=from_address("192.0.2.200"))
    assert_error(r, 403, "request-locked")
    assert_nothing_of_the_patient(r)
    ips = {e["ip"] for e in request_events(server, answer["id"], "request-challenge-failed")}
    assert ips == {"198.51.100.1", "198.51.100.2", "198.51.100.9"}, ips


ODD_BIRTH_DATES = [
    # (what, answer, counted as a wrong answer)
    ("full-width digits", "\uff11\uff19\uff16\uff14-\uff10\uff18-\uff11\uff12", True),
    ("Arabic-Indic digits", "\u0661\u0669\u0666\u0664\u0660\u0668\u0661\u0662", True),
    ("Unicode hyphens", "1964\u201008\u201012", True),
    ("a combining mark", "1964081\u03012", True),
    ("a leading plus", "+964-08-12", True),
    ("a time appended", "1964-08-12T00:00", True),
    ("another order", "12.08.1964", True),
    ("single-digit month", "1964-8-12", True),
    ("NUL after the date", "1964-08-12\u0000", False),
    ("a line break after", "19640812\n", False),
    ("longer than 64 characters", "19640812" + " " * 60, False),
]


@pytest.mark.parametrize("what,answer,counted", ODD_BIRTH_DATES,
                         ids=[c[0] for c in ODD_BIRTH_DATES])
def test_a_birth_date_in_an_odd_form_never_opens_the_link(server, what, answer, counted):
    created, token = create(server)
    r = challenge(server, token, answer)
    if counted:
        assert_error(r, 403, "challenge-failed")
    else:
        assert_error(r, 400, "invalid-field")  # a broken client, not a guess
    assert_nothing_of_the_patient(r)
    assert show(server, created["id"])["failures"] == (1 if counted else 0)
    assert challenge(server, token, "1964-08-12").status_code == 200  # the real one still does


def test_a_code_in_look_alike_letters_never_opens_the_link(server):
    created, token = create(server, challenge="code", patient=harness.OMIT)
    code = created["code"].replace("-", "")
    # Full-width forms, and Cyrillic letters that look like Latin ones.
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    cyrillic = code.translate(str.maketrans("ABCEHKMPTX", "\u0410\u0412\u0421\u0415\u041d"
                                                          "\u041a\u041c\u0420\u0422\u0425"))
    guesses = [full_width] + ([cyrillic] if cyrillic != code else [])
    for guess in guesses:
        assert_error(challenge(server, token, guess), 403, "challenge-failed")
    assert challenge(server, token, code.lower()).status_code == 200


def test_a_refusal_by_the_filter_keeps_no_token(server):
    # A banned address that follows a link is refused before any handler: that refusal, audited
    # with its path, must not keep the token either.
    created, token = create(server)
    server.admin_json("POST", "/inbound/admin/bans", expected=201,
                      json={"entry": "203.0.113.66", "seconds": 600})
    banned = from_address("203.0.113.66")
    for path in ("/inbound/r/%s" % token, "/inbound/api/requests/%s" % token):
        assert server.request("GET", path, headers=banned).status_code == 403
    assert server.request("POST", "/inbound/api/requests/%s/challenge" % token, headers=banned,
                          json={"answer": "1964-08-12"}).status_code == 403
    time.sleep(2.5)  # refusals are written to the audit trail once a second
    events = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 1000})["events"]
    refused = [e for e in events if e["ip"] == "203.0.113.66" and e["event"] == "refused"]
    assert refused, events[:5]
    for event in events:
        assert token not in json.dumps(event), event
    assert show(server, created["id"])["failures"] == 0


def deep(depth):
    return "[" * depth + "]" * depth


HOSTILE_BODIES = [
    # (what, body) within each route's size cap: depth (civetweb threads have 100 KiB of
    # stack), width, numbers and escapes a parser might choke on
    ("deep arrays", lambda cap: '{"answer": %s}' % deep(cap // 2 - 8)),
    ("deep objects", lambda cap: '{"a":' * (cap // 6) + "1" + "}" * (cap // 6)),
    ("many members", lambda cap: "{" + ",".join('"k%d": 1' % i for i in range(cap // 12)) + "}"),
    ("huge number", lambda cap: '{"answer": 1e999999, "maxUploads": 1e999999}'),
    ("escaped NULs", lambda cap: '{"answer": "%s"}' % ("\\u0000" * (cap // 8))),
    ("lone surrogate", lambda cap: '{"answer": "\\ud800", "recipient": "\\udfff"}'),
    ("duplicate members", lambda cap: '{"answer": "x", "answer": "1964-08-12"}'),
]


@pytest.mark.parametrize("what,make", HOSTILE_BODIES, ids=[c[0] for c in HOSTILE_BODIES])
def test_hostile_json_on_every_new_route_is_refused_and_changes_nothing(server, what, make):
    created, token = create(server)
    listed = len(server.admin_json("GET", "/inbound/admin/requests")["requests"])
    uploads = len(server.admin_uploads())
    json_type = {"Content-Type": "application/json"}
    for method, path, cap, admin in [
            ("POST", "/inbound/api/requests/%s/challenge" % token, 4 * 1024, False),
            ("POST", "/inbound/admin/requests", 64 * 1024, True),
            ("POST", "/inbound/api/uploads", 64 * 1024, False)]:
        body = make(cap)
        send = server.admin if admin else server.request
        r = send(method, path, data=body.encode(), headers=json_type)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
        assert r.json()["error"] in ("bad-json", "invalid-field", "too-large",
                                     "unknown-recipient", "consent-required"), r.text[:200]
    assert server.running()
    shown = show(server, created["id"])
    assert shown["failures"] == 0 and shown["status"] == "active"
    assert len(server.admin_json("GET", "/inbound/admin/requests")["requests"]) == listed
    assert len(server.admin_uploads()) == uploads


def test_requests_only_mode_has_no_side_door(start_server):
    server = start_server(inbound={"OpenUploads": False})
    created, token = create(server, maxUploads=2)
    other, other_token = create(server)
    ticket = ticket_of(server, token)
    revoked, revoked_token = create(server)
    revoked_ticket = ticket_of(server, revoked_token)
    server.admin_json("DELETE", "/inbound/admin/requests/%s" % revoked["id"])
    ct = harness.read(data.CT_SMALL)

    def opening(**fields):
        return server.request("POST", "/inbound/api/uploads", json=harness.open_body(**fields))

    assert_error(opening(), 403, "requests-only")
    assert_error(opening(request=None), 403, "requests-only")
    assert_error(opening(request={}), 400, "invalid-field")
    assert_error(opening(request={"token": revoked_token, "ticket": revoked_ticket}), 410,
                 "request-revoked")
    assert_error(opening(request={"token": other_token, "ticket": ticket}), 403,
                 "challenge-required")
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                       headers={"X-HTTP-Method-Override": "PUT"})
    assert r.status_code in (400, 403), r.status_code
    # The machine door (DICOMweb partners: none configured), Orthanc's own REST API and the
    # upload routes with made-up ids take nothing from an anonymous client either.
    stow = server.request("POST", "/inbound/dicom-web/studies", data=ct,
                          headers={"Content-Type": "multipart/related; type=\"application/dicom\""})
    assert stow.status_code in (401, 403), stow.status_code
    assert server.request("POST", "/instances", data=ct).status_code == 403
    made_up = "ABCDEFGHJKLM"
    r = server.request("PUT", "/inbound/api/uploads/%s/files/%s" % (made_up, harness.sha256(ct)),
                       data=ct, headers={"X-Inbound-Token": random_token(),
                                         "Content-Type": "application/dicom"})
    assert r.status_code == 404, r.status_code
    assert server.admin_uploads() == []
    assert server.count_instances() == 0
    # The link still works, and only it.
    upload = upload_of(server, open_bound(server, token, ticket))
    upload.put_ok(ct)
    upload.complete_ok()
    assert [u["id"] for u in server.admin_uploads()] == [upload.id]
    assert show(server, other["id"])["usedUploads"] == 0


# --------------------------------------------------------------------------- sender with a link


def test_cancelling_never_lets_a_link_bring_in_more_than_its_uses(server):
    created, token = create(server, maxUploads=1)
    ticket = ticket_of(server, token)
    files = [data.Original(p) for p in data.cd_images(["98892001"])][:2]
    instances_before = server.count_instances()
    for _ in range(3):
        attempt = upload_of(server, open_bound(server, token, ticket))
        attempt.put_ok(files[0].data)
        assert attempt.cancel().status_code == 200
        # What an abandoned attempt sent is gone with it: the use comes back, nothing stays.
        assert server.instances_of_upload(attempt.id) == {}
    assert server.count_instances() == instances_before
    kept = upload_of(server, open_bound(server, token, ticket))
    for original in files:
        kept.put_ok(original.data)
    kept.complete_ok()
    # A finished upload cannot be cancelled to win its use back.
    assert kept.cancel().status_code in (409, 410)
    assert_error(open_bound(server, token, ticket), 410, "request-used")
    assert server.count_instances() == instances_before + len(files)
    shown = show(server, created["id"])
    assert shown["usedUploads"] == 1 and shown["status"] == "used"


def test_a_sender_cannot_set_what_the_request_decides(server):
    created, token = create(server, maxUploads=5)
    other, _ = create(server, patient={"id": "OTHER-1", "name": "ROE^RICHARD",
                                       "birthDate": "19811124"}, forwardTo="pacs")
    ticket = ticket_of(server, token)
    # The open body's other members are ignored (the page of an older or newer version may
    # send some): none names another request, patient or destination.
    for field, value in [("requestId", other["id"]), ("patient", {"id": "OTHER-1"}),
                         ("forwardTo", "pacs"), ("requestPatient", {"id": "OTHER-1"})]:
        body = harness.open_body(request={"token": token, "ticket": ticket}, recipient=harness.OMIT)
        body[field] = value
        upload = upload_of(server, server.request("POST", "/inbound/api/uploads", json=body))
        bound = server.admin_upload(upload.id)["request"]
        assert bound["id"] == created["id"] and bound["forwardTo"] is None, bound
        assert bound["patient"]["id"] == PATIENT["id"], bound
    before = len(server.admin_uploads())
    assert_error(open_bound(server, token, ticket, recipient="trauma"), 400, "invalid-field")
    assert len(server.admin_uploads()) == before
    assert show(server, other["id"])["usedUploads"] == 0


def test_the_hospitals_patient_id_never_reaches_the_sender(server):
    # After the challenge the sender knows whom the hospital expects (name, birth date), never
    # the hospital's own PatientID: not in the challenge's answer, the upload's status, the
    # receipt, nor anything the page gets.
    created, token = create(server, maxUploads=2)
    passed = challenge(server, token, "1964-08-12")
    assert passed.status_code == 200
    upload = upload_of(server, open_bound(server, token, passed.json()["ticket"]))
    upload.put_ok(data.Original(data.cd_images(["98892001"])[0]).data)
    answers = [passed, describe(server, token), upload.status(), upload.complete(),
               upload.status(), server.request("GET", "/inbound/r/%s" % token),
               server.request("GET", "/inbound/api/info")]
    for r in answers:
        assert r.status_code == 200, r.text[:200]
        assert PATIENT["id"] not in r.text, r.text[:300]
    assert server.admin_upload(upload.id)["request"]["patient"]["id"] == PATIENT["id"]


def test_forward_to_needs_a_birth_date(server):
    # With no birth date the verdict is by name alone ("not-requested"): any other patient of
    # the same name would go to the PACS under the hospital's PatientID on arrival.
    listed = len(server.admin_json("GET", "/inbound/admin/requests")["requests"])
    r = server.admin("POST", "/inbound/admin/requests", json={
        "recipient": "neuroradiology", "challenge": "code", "forwardTo": "pacs",
        "patient": {"id": PATIENT["id"], "name": PATIENT["name"]}})
    body = assert_error(r, 400, "invalid-field")
    assert "birthDate" in body["message"]
    assert len(server.admin_json("GET", "/inbound/admin/requests")["requests"]) == listed


# --------------------------------------------------------------------------- admin's browser


FORGED_WRITES = [
    # (what, method, headers, body): what a page of another site can make a browser send
    ("text/plain form", "POST", {"Content-Type": "text/plain", "Origin": "https://evil.example"},
     '{"recipient": "neuroradiology", "challenge": "code"}'),
    ("urlencoded form, no Origin", "POST",
     {"Content-Type": "application/x-www-form-urlencoded"}, "recipient=neuroradiology"),
    ("Origin null", "POST", {"Content-Type": "text/plain", "Origin": "null"},
     '{"recipient": "neuroradiology", "challenge": "code"}'),
    ("same host, other scheme", "POST",
     {"Content-Type": "application/json", "Origin": "https://127.0.0.1:{port}"},
     '{"recipient": "neuroradiology", "challenge": "code"}'),
    ("same address, other port", "POST",
     {"Content-Type": "application/json", "Origin": "http://127.0.0.1:1"},
     '{"recipient": "neuroradiology", "challenge": "code"}'),
    ("origin with user info", "POST",
     {"Content-Type": "application/json", "Origin": "http://evil.example@127.0.0.1:{port}"},
     '{"recipient": "neuroradiology", "challenge": "code"}'),
]


@pytest.mark.parametrize("what,method,headers,body", FORGED_WRITES,
                         ids=[c[0] for c in FORGED_WRITES])
def test_another_site_cannot_create_requests_through_an_admins_browser(server, what, method,
                                                                       headers, body):
    listed = len(server.admin_json("GET", "/inbound/admin/requests")["requests"])
    headers = {k: v.replace("{port}", str(server.port)) for k, v in headers.items()}
    r = requests.request(method, server.url + "/inbound/admin/requests", data=body,
                         headers=headers, auth=harness.ADMIN, timeout=30)
    assert_error(r, 403, "cross-site")
    assert len(server.admin_json("GET", "/inbound/admin/requests")["requests"]) == listed


def test_another_site_cannot_revoke_nor_read_requests(server):
    created, token = create(server)
    url = server.url + "/inbound/admin/requests/%s" % created["id"]
    evil = {"Origin": "https://evil.example"}
    assert_error(requests.delete(url, headers=evil, auth=harness.ADMIN, timeout=30), 403,
                 "cross-site")
    # Faking the method: refused on every route, even with the admin's header (the filter
    # answers some with its plain 403, a POST on this route is 405: none revokes).
    assert_error(requests.post(url, auth=harness.ADMIN, timeout=30, headers={
        "X-HTTP-Method-Override": "DELETE", "X-Requested-With": "XMLHttpRequest"}), 400,
        "method-override")
    for extra in ({"X-Method-Override": "DELETE"}, {"X-HTTP-Method": "DELETE"}):
        r = requests.post(url, headers=dict(extra, **{"X-Requested-With": "XMLHttpRequest"}),
                          auth=harness.ADMIN, timeout=30)
        assert r.status_code in (400, 403), (extra, r.status_code)
    r = requests.post(url + "?_method=DELETE", headers={"X-Requested-With": "XMLHttpRequest"},
                      auth=harness.ADMIN, timeout=30)
    assert r.status_code in (400, 405), r.status_code
    assert_error(requests.get(url + "?_method=DELETE", auth=harness.ADMIN, timeout=30), 400,
                 "method-override")
    # No CORS: a page of another site never reads what the browser fetched for it.
    for method in ("OPTIONS", "GET"):
        r = requests.request(method, url, auth=harness.ADMIN, timeout=30, headers=dict(
            evil, **{"Access-Control-Request-Method": "DELETE",
                     "Access-Control-Request-Headers": "x-requested-with"}))
        assert not [h for h in r.headers if h.lower().startswith("access-control-")], r.headers
    listing = server.admin("GET", "/inbound/admin/requests")
    assert listing.headers["X-Content-Type-Options"] == "nosniff"
    assert listing.headers["Cache-Control"] == "no-store"
    assert show(server, created["id"])["status"] == "active"
    assert describe(server, token).status_code == 200


def test_the_link_is_not_made_from_forwarded_headers(server):
    # No PublicUrl: the link follows the admin page's Origin; headers a client can add (or a
    # proxy passes on) do not move it elsewhere.
    headers = {"Origin": server.url, "X-Forwarded-Host": "evil.example",
               "Forwarded": "host=evil.example;proto=https", "X-Original-URL": "https://evil.example/"}
    r = requests.post(server.url + "/inbound/admin/requests", auth=harness.ADMIN, timeout=30,
                      headers=headers, json={"recipient": "neuroradiology", "challenge": "code"})
    assert r.status_code == 201, r.text
    assert r.json()["url"].startswith(server.url + "/inbound/r/"), r.json()["url"]
    # A Host that is no plain address makes no link at all.
    r = requests.post(server.url + "/inbound/admin/requests", auth=harness.ADMIN, timeout=30,
                      headers={"X-Requested-With": "XMLHttpRequest",
                               "Host": "evil.example/@x\"<"},
                      json={"recipient": "neuroradiology", "challenge": "code"})
    assert r.status_code in (400, 409), (r.status_code, r.text)


def test_the_proxys_error_log_keeps_no_token_while_orthanc_is_down(start_server):
    # nginx writes the request line of every failed upstream call to its error log (level
    # "error", on by default): a sender following a link while Orthanc restarts must not leave
    # the link there, as the access log does not.
    from proxy import NginxProxy
    server = start_server()
    created, token = create(server)
    proxy = NginxProxy(server.port).start()
    try:
        server.stop()
        for path in ("/inbound/r/%s" % token, "/inbound/api/requests/%s" % token):
            assert proxy.request("GET", path).status_code in (502, 503, 504)
        server.start()
        assert proxy.request("GET", "/inbound/api/requests/%s" % token).status_code == 200
        time.sleep(0.5)
        for name in ("error.log", "access.log"):
            with open(os.path.join(proxy.workdir, name), encoding="utf-8", errors="replace") as f:
                assert token not in f.read(), name
    finally:
        proxy.cleanup()


def test_the_page_of_a_link_never_sends_its_token_elsewhere(server):
    created, token = create(server)
    for path in ("/inbound/r/%s" % token, "/inbound/r/%s?next=https://evil.example/" % token):
        r = server.request("GET", path)
        assert r.status_code == 200
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert "evil.example" not in r.text
    for path in ("/inbound/r/%s/" % token, "/inbound/r/%s/..%%2F..%%2Fadmin" % token,
                 "//evil.example/inbound/r/%s" % token):
        r = server.request("GET", path)
        assert r.status_code in (403, 404), (path, r.status_code)
        assert "Location" not in r.headers, r.headers


def test_what_staff_typed_cannot_inject_into_the_link_mail(start_server, tmp_path):
    sink = mail_support.SmtpSink(str(tmp_path / "sink")).start()
    try:
        server = start_server(inbound={"Smtp": {"Host": "127.0.0.1", "Port": sink.port,
                                                "Security": "None", "Timeout": 10,
                                                "From": "Inbound <inbound@hospital.example>"},
                                       "Notifications": {"RetryInterval": 1}})
        for name in ("Dr.\r\nBcc: spy@evil.example", "Dr.\u0085Bcc: spy@evil.example",
                     "Dr.\u2028X"):
            assert_error(create(server, 400, sender={"name": name, "email": "dr@clinic.example"}),
                         400, "invalid-field")
        for email in ("dr@clinic.example\r\nBcc: spy@evil.example", "dr@clinic.example, spy@evil.example",
                      "dr@clinic.example>, <spy@evil.example", "Dr <dr@clinic.example>"):
            assert_error(create(server, 400, sender={"email": email}), 400, "invalid-field")
        created, token = create(
            server, sender={"name": 'Dr. "X" <spy@evil.example>, =?utf-8?q?Y?= <b>',
                            "email": "dr@clinic.example"},
            message='<script>alert(1)</script><a href="https://evil.example">CT</a> & more')
        assert created["mailed"] is True
        sink.wait_for(1, what="the link mail")
        [mail] = [m for m in sink.mails() if "dr@clinic.example" in m.rcpt_tos]
        assert mail.rcpt_tos == ["dr@clinic.example"]
        assert mail.addresses("To") == ["dr@clinic.example"]
        assert not mail.headers("Bcc") and not mail.headers("Cc")
        html = mail.html
        assert "<script>" not in html and 'href="https://evil.example"' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;b&gt;" in html or "&lt;B&gt;" in html
        assert "<script>alert(1)</script>" in mail.text  # plain text keeps it as written
        for trace in PATIENT_TRACES:
            assert trace not in mail.everything(), trace
    finally:
        sink.stop()
