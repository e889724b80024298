"""The partners view of the admin page in a real browser (Browser/partners.test.mjs): what an
admin sees of a partner that sent a STOW-RS request, of one that never called and of a silent
one, a partner's recent uploads linking to the upload, and a token made in the page, shown
once, whose SHA-256 is the hash shown; the server kept nothing of it."""

import hashlib
import json
import uuid

import pytest
import requests

import data
import harness
import test_browser
from gateway_support import audit
from test_browser import run_browser_test

node_packages = test_browser.node_packages  # the fixture: npm ci of Browser/

TOKEN = "Br7_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def stow(server, token, files):
    boundary = uuid.uuid4().hex
    body = b"".join(b"--%s\r\nContent-Type: application/dicom\r\n\r\n%s\r\n" % (
        boundary.encode(), f) for f in files) + b"--%s--" % boundary.encode()
    return requests.post(server.url + "/inbound/dicom-web/studies", data=body, timeout=60, headers={
        "Authorization": "Bearer " + token,
        "Content-Type": 'multipart/related; type="application/dicom"; boundary=' + boundary})


@pytest.mark.usefixtures("node_packages")
def test_partners_in_the_admin_page_in_chromium(start_server, tmp_path):
    recipient = harness.RECIPIENTS[0]["Id"]
    server = start_server(inbound={"Partners": [
        {"Id": "clinic-a", "Name": "Clinic A", "Institution": "Clinic A Radiology",
         "TokenSha256": sha(TOKEN), "Recipient": recipient, "Networks": ["127.0.0.0/8"]},
        {"Id": "clinic-b", "Name": "Clinic B", "TokenSha256": sha("Zz" + TOKEN[2:]),
         "Recipient": recipient, "Enabled": False},
        # Silent 0.36 s after the start: the badge shows.
        {"Id": "clinic-s", "Name": "Clinic S", "TokenSha256": sha("Ss" + TOKEN[2:]),
         "Recipient": recipient, "Limits": {"SilenceAlertHours": 0.0001}}]})
    study = "1.2.826.0.1.3680043.8.498.77"
    files = [data.make_dicom(patient_id="PARTNER-BROWSER", study_uid=study) for _ in range(2)]
    r = stow(server, TOKEN, files)
    assert r.status_code == 200, r.text[:300]
    assert stow(server, TOKEN, [b"no DICOM here"]).status_code in (400, 409)
    [upload] = server.admin_json("GET", "/inbound/admin/partners/clinic-a")["uploads"]

    result_file = tmp_path / "result.json"
    fixture = {
        "admin": "%s:%s" % harness.ADMIN,
        "called": {"id": "clinic-a", "name": "Clinic A", "institution": "Clinic A Radiology",
                   "recipient": recipient, "instances": 2, "requests": 2, "failures": 1,
                   "upload": upload["id"]},
        "never": {"id": "clinic-b", "name": "Clinic B"},
        "silent": {"id": "clinic-s", "name": "Clinic S"},
        "result": str(result_file),
    }
    run_browser_test("partners.test.mjs", {
        "INBOUND_URL": server.url + "/inbound/", "INBOUND_PARTNER_FIXTURE": json.dumps(fixture)})

    # The token the page showed is the one the server made: its SHA-256 is the hash shown,
    # and the server kept nothing of it but a hash prefix in the audit trail.
    result = json.loads(result_file.read_text())
    assert sha(result["token"]) == result["tokenSha256"]
    events = audit(server)
    made = [e for e in events if e["event"] == "partner-token-made"]
    assert len(made) == 2, made
    assert any(result["tokenSha256"][:8] in e["detail"] for e in made)
    assert result["token"] not in json.dumps(events)
    assert result["tokenSha256"] not in json.dumps(events)
    assert result["token"] not in server.log_tail(5000)
    # Not configured yet: the token opens nothing.
    assert stow(server, result["token"], files).status_code == 403
