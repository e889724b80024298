"""Request links from both sides: staff create them (admin routes), a sender opens one, answers
its challenge and uploads through it (public routes). Shared by the request-link tests."""

import os
import sqlite3

import harness

PATIENT = {"id": "HOSP-4711", "name": "MUSTERFRAU^ERIKA", "birthDate": "1964-08-12"}
# Every form in which the patient could leak into a public answer before the challenge.
PATIENT_TRACES = ("HOSP-4711", "MUSTERFRAU", "ERIKA", "Musterfrau", "Erika", "19640812",
                  "1964-08-12", "12.08.1964")


def create(server, expected=201, **fields):
    """POST /inbound/admin/requests; with expected 201: (answer, token of its link)."""
    body = {"recipient": "neuroradiology", "patient": dict(PATIENT),
            "message": "Please send the CT of May", "maxUploads": 1}
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not harness.OMIT}
    r = server.admin("POST", "/inbound/admin/requests", json=body)
    assert r.status_code == expected, "create request: %d %s" % (r.status_code, r.text[:500])
    if expected != 201:
        return r
    answer = r.json()
    return answer, token_of(answer["url"])


def token_of(url):
    prefix, _, token = url.rpartition("/inbound/r/")
    assert prefix and token, url
    return token


def show(server, request_id):
    return server.admin_json("GET", "/inbound/admin/requests/%s" % request_id)


def describe(server, token, **kwargs):
    return server.request("GET", "/inbound/api/requests/%s" % token, **kwargs)


def challenge(server, token, answer, **kwargs):
    return server.request("POST", "/inbound/api/requests/%s/challenge" % token,
                          json={"answer": answer}, **kwargs)


def ticket_of(server, token, answer="19640812"):
    r = challenge(server, token, answer)
    assert r.status_code == 200, "challenge: %d %s" % (r.status_code, r.text[:500])
    return r.json()["ticket"]


def open_bound(server, token, ticket, **overrides):
    """POST /inbound/api/uploads through the link (no recipient): the raw answer."""
    overrides.setdefault("recipient", harness.OMIT)
    body = harness.open_body(request={"token": token, "ticket": ticket}, **overrides)
    return server.request("POST", "/inbound/api/uploads", json=body)


def upload_of(server, response):
    assert response.status_code == 201, "open: %d %s" % (response.status_code, response.text[:500])
    return harness.Upload(server, response.json(), None)


def audit(server, prefix="request"):
    events = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 1000})["events"]
    return [e for e in events if e["event"].startswith(prefix) or
            e["event"].startswith("alert-" + prefix)]


def ledger(server):
    return os.path.join(server.storage, "inbound", "ledger.sqlite")


def set_in_ledger(server, sql, *parameters):
    """Changes the stopped server's ledger (times in the past instead of waiting for days)."""
    with sqlite3.connect(ledger(server)) as db:
        changed = db.execute(sql, parameters).rowcount
    assert changed > 0, sql
