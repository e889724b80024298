"""Opening an upload: every bad field gets a 400 with its code, and nothing is created."""

import json

import pytest

import checks
import harness
from harness import OMIT, assert_error

MARK = "Validation Probe"


def body_with(sender=None, **overrides):
    body = harness.open_body(**overrides)
    body["sender"]["name"] = MARK
    if sender:
        for key, value in sender.items():
            if value is OMIT:
                body["sender"].pop(key, None)
            else:
                body["sender"][key] = value
    return body


CASES = [
    # (case, body, error code, word the message names)
    ("missing e-mail", body_with(sender={"email": OMIT}), "invalid-field", "email"),
    ("empty e-mail", body_with(sender={"email": ""}), "invalid-field", "email"),
    ("missing name", body_with(sender={"name": OMIT}), "invalid-field", "name"),
    ("CRLF in name", body_with(sender={"name": MARK + "\r\nBcc: x@evil.example"}),
     "invalid-field", "name"),
    ("LF in institution", body_with(sender={"institution": "Clinic\nInjected"}),
     "invalid-field", "institution"),
    ("control character in phone", body_with(sender={"phone": "+49\x07251"}),
     "invalid-field", "phone"),
    ("name too long", body_with(sender={"name": "N" * 129}), "invalid-field", "name"),
    ("message too long", body_with(message="m" * 2001), "invalid-field", "message"),
    ("e-mail without @", body_with(sender={"email": "not-an-address"}), "invalid-field",
     "email"),
    ("e-mail with two @", body_with(sender={"email": "a@b@example.org"}), "invalid-field",
     "email"),
    ("e-mail with a space", body_with(sender={"email": "a b@example.org"}), "invalid-field",
     "email"),
    ("e-mail without domain", body_with(sender={"email": "someone@"}), "invalid-field",
     "email"),
    ("e-mail with CRLF", body_with(sender={"email": "a@example.org\r\nBcc: b@example.org"}),
     "invalid-field", "email"),
    ("e-mail as a number", body_with(sender={"email": 42}), "invalid-field", "email"),
    ("missing sender", harness.open_body(sender=OMIT), "invalid-field", "sender"),
    ("consent not accepted", body_with(consent={"version": harness.PRIVACY_VERSION,
                                                "accepted": False}), "consent-required", None),
    ("consent accepted as a string", body_with(consent={"version": harness.PRIVACY_VERSION,
                                                        "accepted": "true"}),
     "consent-required", None),
    ("wrong consent version", body_with(consent={"version": "2025-01", "accepted": True}),
     "consent-required", None),
    ("missing consent", body_with(consent=OMIT), "consent-required", None),
    ("expected bytes beyond 64 bits", body_with(expected={"bytes": 12297829382473033845}),
     "invalid-field", "expected"),
    ("unknown recipient", body_with(recipient="cardiology"), "unknown-recipient", None),
    ("recipient given as an e-mail address",
     body_with(recipient="neuro@hospital.example"), "unknown-recipient", None),
]


def count_uploads(server):
    uploads = server.admin_uploads(limit=10000)
    return len(uploads), [u for u in uploads if u["sender"]["name"].startswith(MARK)]


@pytest.mark.parametrize("case,body,code,field", CASES, ids=[c[0] for c in CASES])
def test_bad_field_is_refused(server, case, body, code, field):
    count, probes = count_uploads(server)
    r = server.request("POST", "/inbound/api/uploads", json=body)
    error = assert_error(r, 400, code)
    if field:
        assert field in error["message"].lower(), error
    assert count_uploads(server) == (count, probes)
    assert probes == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\"text\"",
                                 b"\xff\xfe{}"])
def test_bad_json_is_refused(server, raw):
    count, _ = count_uploads(server)
    r = server.request("POST", "/inbound/api/uploads", data=raw,
                       headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad-json")
    assert count_uploads(server)[0] == count


def test_a_valid_body_is_accepted(server):
    """The reference for the cases above: the same body without the defect is accepted."""
    count, _ = count_uploads(server)
    body = body_with(sender={"name": MARK + " accepted"})
    r = server.request("POST", "/inbound/api/uploads", json=body)
    assert r.status_code == 201, r.text
    answer = r.json()
    checks.assert_iso_time(answer["expiresAt"], "expiresAt")
    assert answer["limits"]["maxFileBytes"] == 536870912
    new_count, probes = count_uploads(server)
    assert new_count == count + 1
    assert [p["id"] for p in probes] == [answer["id"]]
    # Without the optional fields as well.
    minimal = {"sender": {"name": "Minimal Sender", "email": "m@example.org"},
               "consent": {"version": harness.PRIVACY_VERSION, "accepted": True}}
    r = server.request("POST", "/inbound/api/uploads", json=minimal)
    assert r.status_code == 201, r.text


def test_non_ascii_text_is_kept(server):
    """Names and messages in other scripts are accepted and kept as written; the length caps
    count characters, not bytes."""
    sender = {"name": "Dr. Jürgen Müller-Łukasiewicz", "email": "j.mueller@klinik.example",
              "institution": "Universitätsklinikum Münster — Radiologie",
              "phone": "+49 251 83-0"}
    message = "Bitte um Befundung. Κείμενο. Текст. 文本."
    # As a browser sends it: UTF-8, not \u escapes.
    raw = json.dumps(harness.open_body(sender=sender, message=message), ensure_ascii=False)
    r = server.request("POST", "/inbound/api/uploads", data=raw.encode("utf-8"),
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    upload = harness.Upload(server, r.json(), harness.open_body(sender=sender, message=message))
    shown = server.admin_upload(upload.id)
    assert shown["sender"]["name"] == sender["name"]
    assert shown["sender"]["institution"] == sender["institution"]
    assert shown["message"] == message

    longest = harness.open_body(sender=dict(sender, name="ü" * 128))
    r = server.request("POST", "/inbound/api/uploads", json=longest)
    assert r.status_code == 201, r.text
    too_long = harness.open_body(sender=dict(sender, name="ü" * 129))
    assert_error(server.request("POST", "/inbound/api/uploads", json=too_long), 400,
                 "invalid-field")
