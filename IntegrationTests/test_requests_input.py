"""Request links, hostile or broken input: every new route answers bad bodies, types, sizes and
unknown fields with a 4xx JSON error, creates nothing and keeps the server alive."""

import json

import pytest

import harness
from harness import OMIT, assert_error
from request_links import challenge, open_bound, ticket_of
import request_links

PATIENT = {"id": "P-1", "name": "DOE^JANE", "birthDate": "19800131"}


def create(server):
    return request_links.create(server, patient=dict(PATIENT))


def base(**fields):
    body = {"recipient": "neuroradiology", "patient": dict(PATIENT)}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not OMIT}


CREATE_CASES = [
    # (case, body, status, code)
    ("not JSON", "{", 400, "bad-json"),
    ("a list", [], 400, "bad-json"),
    ("JSON with trailing garbage", '{"recipient": "neuroradiology"} x', 400, "bad-json"),
    ("no recipient", base(recipient=OMIT), 400, "unknown-recipient"),
    ("unknown recipient", base(recipient="nobody"), 400, "unknown-recipient"),
    ("recipient a number", base(recipient=7), 400, "unknown-recipient"),
    ("unknown member", base(patientId="P-1"), 400, "invalid-field"),
    ("patient a string", base(patient="P-1"), 400, "invalid-field"),
    ("unknown patient member", base(patient=dict(PATIENT, sex="F")), 400, "invalid-field"),
    ("patient id a number", base(patient=dict(PATIENT, id=5)), 400, "invalid-field"),
    ("patient id too long", base(patient=dict(PATIENT, id="P" * 65)), 400, "invalid-field"),
    ("backslash in the PatientID", base(patient=dict(PATIENT, id="A\\B")), 400, "invalid-field"),
    ("CR LF in the name", base(patient=dict(PATIENT, name="DOE\r\nX")), 400, "invalid-field"),
    ("birth date of another form", base(patient=dict(PATIENT, birthDate="31.01.1980")), 400,
     "invalid-field"),
    ("month 13", base(patient=dict(PATIENT, birthDate="19801301")), 400, "invalid-field"),
    ("birthDate challenge without a birth date",
     base(patient={"id": "P-1", "name": "DOE^JANE"}, challenge="birthDate"), 400,
     "invalid-field"),
    ("birthDate challenge without a PatientID",
     base(patient={"name": "DOE^JANE", "birthDate": "19800131"}), 400, "invalid-field"),
    ("unknown challenge", base(challenge="password"), 400, "invalid-field"),
    ("challenge a list", base(challenge=["code"]), 400, "invalid-field"),
    ("expiry 0 days", base(expiresInDays=0), 400, "invalid-field"),
    ("expiry over MaxExpiryDays", base(expiresInDays=91), 400, "invalid-field"),
    ("expiry a string", base(expiresInDays="3"), 400, "invalid-field"),
    ("expiry a fraction", base(expiresInDays=1.5), 400, "invalid-field"),
    ("expiry beyond 64 bits", '{"recipient": "neuroradiology", "challenge": "code", '
                              '"expiresInDays": 99999999999999999999999}', 400, "invalid-field"),
    ("expiry negative", base(expiresInDays=-1), 400, "invalid-field"),
    ("no uploads", base(maxUploads=0), 400, "invalid-field"),
    ("more uploads than Requests.MaxUploads", base(maxUploads=21), 400, "invalid-field"),
    ("uploads a bool", base(maxUploads=True), 400, "invalid-field"),
    ("language of no page", base(language="fr"), 400, "invalid-field"),
    ("sender a string", base(sender="dr@clinic.example"), 400, "invalid-field"),
    ("sender e-mail not an address", base(sender={"email": "not-an-address"}), 400,
     "invalid-field"),
    ("unknown sender member", base(sender={"phone": "1"}), 400, "invalid-field"),
    ("message too long", base(message="m" * 2001), 400, "invalid-field"),
    ("message with a control character", base(message="a\x07b"), 400, "invalid-field"),
    ("forwardTo not a modality", base(forwardTo="nowhere"), 400, "unknown-modality"),
    ("forwardTo without a PatientID",
     base(patient={"name": "X"}, challenge="code", forwardTo="pacs"), 400, "invalid-field"),
    ("forwardTo without a birth date",
     base(patient={"id": "H-1", "name": "DOE^JANE"}, challenge="code", forwardTo="pacs"), 400,
     "invalid-field"),
    ("forwardTo without a name",
     base(patient={"id": "H-1", "birthDate": "19800102"}, forwardTo="pacs"), 400,
     "invalid-field"),
    ("body over 64 KiB", base(message="m" * 70000), 413, "too-large"),
]


@pytest.mark.parametrize("case,body,status,code", CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
def test_a_bad_request_for_images_creates_nothing(server, case, body, status, code):
    before = server.admin_json("GET", "/inbound/admin/requests")["requests"]
    data = body if isinstance(body, str) else json.dumps(body)
    r = server.admin("POST", "/inbound/admin/requests", data=data,
                     headers={"Content-Type": "application/json"})
    assert_error(r, status, code)
    assert server.admin_json("GET", "/inbound/admin/requests")["requests"] == before
    assert server.request("GET", "/inbound/api/info").status_code == 200


CHALLENGE_CASES = [
    ("not JSON", "answer=19800131", 400, "bad-json"),
    ("a string", '"19800131"', 400, "bad-json"),
    ("no answer", "{}", 400, "invalid-field"),
    ("answer null", '{"answer": null}', 400, "invalid-field"),
    ("answer a number", '{"answer": 19800131}', 400, "invalid-field"),
    ("answer a list", '{"answer": ["19800131"]}', 400, "invalid-field"),
    ("answer too long", json.dumps({"answer": "1" * 65}), 400, "invalid-field"),
    ("answer with a control character", '{"answer": "1980\\u00000131"}', 400, "invalid-field"),
    ("unknown member", '{"answer": "19800131", "admin": true}', 400, "invalid-field"),
    ("body over 4 KiB", json.dumps({"answer": "1", "pad": "x" * 5000}), 413, "too-large"),
]


@pytest.mark.parametrize("case,body,status,code", CHALLENGE_CASES,
                         ids=[c[0] for c in CHALLENGE_CASES])
def test_a_bad_answer_body_is_no_wrong_answer(server, case, body, status, code):
    answer, token = create(server)
    r = server.request("POST", "/inbound/api/requests/%s/challenge" % token, data=body,
                       headers={"Content-Type": "application/json"})
    assert_error(r, status, code)
    # Not counted against the request: a broken client does not lock the sender out.
    shown = server.admin_json("GET", "/inbound/admin/requests/%s" % answer["id"])
    assert shown["failures"] == 0 and shown["status"] == "active"


TOKEN = "A" * 43
OPEN_CASES = [
    ("request a string", TOKEN, "request"),
    ("request a list", [TOKEN, TOKEN], "request"),
    ("no ticket", {"token": TOKEN}, "request.ticket"),
    ("no token", {"ticket": TOKEN}, "request.token"),
    ("token a number", {"token": 5, "ticket": TOKEN}, "request.token"),
    ("token too short", {"token": "A" * 15, "ticket": TOKEN}, "request.token"),
    ("token too long", {"token": "A" * 129, "ticket": TOKEN}, "request.token"),
    ("token with a slash", {"token": "A" * 20 + "/..", "ticket": TOKEN}, "request.token"),
    ("ticket with a space", {"token": TOKEN, "ticket": "A" * 20 + " B"}, "request.ticket"),
    ("unknown member", {"token": TOKEN, "ticket": TOKEN, "id": "X"}, "request.id"),
]


@pytest.mark.parametrize("case,link,field", OPEN_CASES, ids=[c[0] for c in OPEN_CASES])
def test_a_bad_request_link_in_an_open_is_refused(server, case, link, field):
    before = len(server.admin_uploads())
    r = server.request("POST", "/inbound/api/uploads",
                       json=harness.open_body(request=link, recipient=OMIT))
    body = assert_error(r, 400, "invalid-field")
    assert field in body["message"]
    assert len(server.admin_uploads()) == before


@pytest.mark.parametrize("path", ["/inbound/r/%s", "/inbound/api/requests/%s",
                                  "/inbound/api/requests/%s/challenge"])
@pytest.mark.parametrize("token", ["short", "A" * 129, "A" * 20 + ".B", "A" * 20 + "%2F..",
                                   "A" * 20 + "%20B"])
def test_a_token_of_another_syntax_is_not_a_public_route(server, path, token):
    # The filter matches public parameters strictly: anything else is admin-class, closed to
    # an anonymous client with its plain 403.
    for method in ("GET", "POST"):
        r = server.request(method, path % token, json={"answer": ""})
        assert r.status_code == 403, (method, path % token, r.status_code)


def test_unknown_tokens_and_ids_are_not_found(server):
    assert_error(server.request("GET", "/inbound/api/requests/" + "Q" * 43), 404, "not-found")
    assert_error(challenge(server, "Q" * 43, "19800131"), 404, "not-found")
    # The page itself answers any token: the page asks the API, which says what is wrong.
    assert server.request("GET", "/inbound/r/" + "Q" * 43).status_code == 200
    assert_error(server.admin("GET", "/inbound/admin/requests/NOSUCHREQ234"), 404, "not-found")
    assert_error(server.admin("GET", "/inbound/admin/requests/bad!id"), 404, "not-found")
    assert_error(server.admin("GET", "/inbound/admin/requests", params={"limit": "0"}), 400,
                 "invalid-argument")
    assert_error(server.admin("GET", "/inbound/admin/requests", params={"limit": "x"}), 400,
                 "invalid-argument")


@pytest.mark.parametrize("method,path", [
    ("PUT", "/inbound/admin/requests"), ("DELETE", "/inbound/admin/requests"),
    ("POST", "/inbound/admin/requests/NOSUCHREQ234"), ("PUT", "/inbound/r/" + TOKEN),
    ("DELETE", "/inbound/api/requests/" + TOKEN), ("GET", "/inbound/api/requests/%s/challenge" % TOKEN)])
def test_other_methods_are_not_allowed(server, method, path):
    r = server.admin(method, path) if "/admin/" in path else server.request(method, path)
    assert r.status_code == 405, (method, path, r.status_code, r.text[:200])


def test_a_ticket_is_not_a_token_and_the_reverse(server):
    answer, token = create(server)
    ticket = ticket_of(server, token, "19800131")
    assert_error(server.request("GET", "/inbound/api/requests/" + ticket), 404, "not-found")
    assert_error(open_bound(server, ticket, token), 404, "not-found")
    assert server.admin_json("GET", "/inbound/admin/requests/%s" % answer["id"])["usedUploads"] == 0
