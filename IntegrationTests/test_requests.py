"""Request links against a real Standalone Orthanc: create, link, challenge, lockout, bound
uploads and their use count, expiry, revocation, requests-only mode and the admin side."""

import os
import sqlite3
import threading
import time

import pytest
import requests

import data
import harness
import mail_support
from harness import assert_error
from request_links import (PATIENT, PATIENT_TRACES, audit, challenge, create, describe, ledger,
                           open_bound, set_in_ledger, show, ticket_of, upload_of)

MAX_FAILURES = 3


@pytest.fixture(scope="module")
def server(plugin):
    import conftest
    s = conftest._start(plugin, inbound={"Requests": {"MaxFailures": MAX_FAILURES}})
    yield s
    conftest._cleanup(s, check=True)


def cd_files(folder="98892001", count=2):
    files = [data.Original(p) for p in data.cd_images([folder])][:count]
    assert len(files) == count
    return files


def assert_no_patient(response):
    for trace in PATIENT_TRACES:
        assert trace not in response.text, (trace, response.text[:500])


def test_the_whole_flow_from_link_to_a_bound_upload(server):
    answer, token = create(server, maxUploads=2)
    assert set(answer) == {"id", "url", "expiresAt", "mailed"}, answer  # no code: birthDate
    # No Inbound.PublicUrl: a Standalone makes the link from the address the admin used.
    assert answer["url"] == "%s/inbound/r/%s" % (server.url, token)
    assert answer["mailed"] is False

    page = server.request("GET", "/inbound/r/%s" % token)
    assert page.status_code == 200
    assert '<head>\n<base href="../">' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "base-uri 'self'" in page.headers["Content-Security-Policy"]
    # The page's assets resolve under /inbound/ with that base.
    assert server.request("GET", "/inbound/app/app.js").status_code == 200

    r = describe(server, token)
    assert r.status_code == 200, r.text
    assert r.json() == {"recipient": {"id": "neuroradiology", "name": "Neuroradiology"},
                        "message": "Please send the CT of May", "expiresAt": answer["expiresAt"],
                        "challenge": "birthDate", "remainingUploads": 2, "language": ""}
    assert_no_patient(r)

    wrong = assert_error(challenge(server, token, "1964-08-13"), 403, "challenge-failed")
    assert wrong["remainingAttempts"] == MAX_FAILURES - 1
    assert_no_patient(server.request("POST", "/inbound/api/requests/%s/challenge" % token,
                                     json={"answer": "19640813"}))
    r = challenge(server, token, "1964-08-12")  # either form of the date
    assert r.status_code == 200, r.text
    right = r.json()
    assert right["expected"] == {"patientName": "MUSTERFRAU^ERIKA", "birthDate": "19640812"}
    assert set(right) == {"ticket", "ticketExpiresAt", "expected"}

    upload = upload_of(server, open_bound(server, token, right["ticket"], message="my own note"))
    files = cd_files()
    for original in files:
        upload.put_ok(original.data)
    receipt = upload.complete_ok()
    assert receipt["recipient"] == {"id": "neuroradiology", "name": "Neuroradiology"}
    assert len(server.instances_of_upload(upload.id)) == len(files)

    admin_view = server.admin_upload(upload.id)
    assert admin_view["recipient"]["id"] == "neuroradiology"
    assert admin_view["message"] == "my own note"  # the sender's, not the hospital's
    assert admin_view["request"]["id"] == answer["id"]
    assert admin_view["request"]["patient"] == {"id": "HOSP-4711", "name": "MUSTERFRAU^ERIKA",
                                                "birthDate": "19640812"}
    assert admin_view["request"]["forwardTo"] is None
    shown = show(server, answer["id"])
    assert shown["status"] == "active" and shown["usedUploads"] == 1
    assert shown["remainingUploads"] == 1 and shown["failures"] == 0  # reset by the right one
    assert [u["id"] for u in shown["uploads"]] == [upload.id]
    assert shown["uploads"][0]["state"] == "complete"
    assert shown["uploads"][0]["files"] == len(files)
    events = [e["event"] for e in audit(server) if answer["id"] in e["detail"]]
    assert events[:4] == ["request-created", "request-challenge-failed",
                          "request-challenge-failed", "request-challenge-passed"], events
    # The audit names the request, never the patient.
    for event in audit(server):
        for trace in PATIENT_TRACES:
            assert trace not in event["detail"], event


def test_code_and_no_challenge(server):
    answer, token = create(server, challenge="code", patient=harness.OMIT)
    code = answer["code"]
    assert len(code) == 9 and code[4] == "-", code
    assert describe(server, token).json()["challenge"] == "code"
    assert_error(challenge(server, token, "ABCD-EFGH"), 403, "challenge-failed")
    r = challenge(server, token, " " + code.replace("-", "").lower() + " ")
    assert r.status_code == 200, r.text
    assert r.json()["expected"] == {"patientName": "", "birthDate": ""}
    assert "code" not in show(server, answer["id"])  # shown once, never stored

    # A birth date given without a challenge named: the birth date is asked.
    answer, token = create(server, challenge=harness.OMIT)
    assert describe(server, token).json()["challenge"] == "birthDate"

    answer, token = create(server, challenge="none")
    r = challenge(server, token, "")
    assert r.status_code == 200, r.text
    assert r.json()["expected"]["patientName"] == "MUSTERFRAU^ERIKA"
    upload_of(server, open_bound(server, token, r.json()["ticket"]))


def test_wrong_answers_lock_the_request_for_good(server):
    answer, token = create(server)
    early = ticket_of(server, token)  # a ticket from before the lock
    for attempt in range(1, MAX_FAILURES):
        body = assert_error(challenge(server, token, "1999-01-0%d" % attempt), 403,
                            "challenge-failed")
        assert body["remainingAttempts"] == MAX_FAILURES - attempt
    assert_error(challenge(server, token, "not a date"), 403, "request-locked")
    # Locked stays locked, the right answer included, and so does everything else.
    assert_error(challenge(server, token, "1964-08-12"), 403, "request-locked")
    assert_error(describe(server, token), 403, "request-locked")
    assert_error(open_bound(server, token, early), 403, "request-locked")
    shown = show(server, answer["id"])
    assert shown["status"] == "locked" and shown["failures"] == MAX_FAILURES
    assert shown["usedUploads"] == 0
    events = [e for e in audit(server) if answer["id"] in e["detail"]]
    assert [e["event"] for e in events].count("request-locked") == 1
    assert [e["event"] for e in events].count("alert-request-locked") == 1
    assert all(e["ip"] == "127.0.0.1" for e in events if e["event"].endswith("locked"))


def test_the_lock_alert_is_mailed_and_answers_count_as_failed_logins(start_server, tmp_path):
    sink = mail_support.SmtpSink(str(tmp_path / "sink"))
    sink.start()
    try:
        server = start_server(inbound={
            "TrustedProxies": ["127.0.0.1"],
            "Requests": {"MaxFailures": 2},
            "AutoBan": {"FailedLogins": 3, "FailedLoginWindow": 3600, "BanSeconds": 600},
            "Smtp": {"Host": "127.0.0.1", "Port": sink.port, "Security": "None",
                     "From": "Orthanc Inbound <inbound@hospital.example>", "Timeout": 10},
            "Notifications": {"AdminEmails": ["pacs-admin@hospital.example"],
                              "MailRecipient": False, "RetryInterval": 1}})
        answer, token = create(server)
        guesser = {"X-Forwarded-For": "203.0.113.7"}
        assert_error(challenge(server, token, "1999-01-01", headers=guesser), 403,
                     "challenge-failed")
        assert_error(challenge(server, token, "1999-01-02", headers=guesser), 403,
                     "request-locked")
        [mail] = sink.wait_for(1, what="the alert")
        assert mail.rcpt_tos == ["pacs-admin@hospital.example"]
        text = mail.message.get_body(preferencelist=("plain",)).get_content()
        assert "request-locked" in text and answer["id"] in text and "203.0.113.7" in text
        for trace in PATIENT_TRACES:
            assert trace not in text

        # Guessing other links goes on counting for the address, like wrong passwords.
        _, other = create(server)
        assert_error(challenge(server, other, "1999-01-03", headers=guesser), 403,
                     "challenge-failed")
        r = server.request("GET", "/inbound/api/info", headers=guesser)
        assert r.status_code == 403 and not r.content  # banned: the filter's plain 403
        # Somebody else still gets in.
        assert challenge(server, other, "1964-08-12").status_code == 200
    finally:
        sink.stop()


def test_uses_are_counted_and_a_cancelled_attempt_gives_its_use_back(server):
    answer, token = create(server, maxUploads=2)
    ticket = ticket_of(server, token)
    first = upload_of(server, open_bound(server, token, ticket))
    second = upload_of(server, open_bound(server, token, ticket))
    assert_error(open_bound(server, token, ticket), 410, "request-used")
    assert_error(describe(server, token), 410, "request-used")
    assert_error(challenge(server, token, "1964-08-12"), 410, "request-used")
    assert show(server, answer["id"])["status"] == "used"

    assert second.cancel().status_code == 200
    assert describe(server, token).json()["remainingUploads"] == 1
    third = upload_of(server, open_bound(server, token, ticket))
    assert_error(open_bound(server, token, ticket), 410, "request-used")
    shown = show(server, answer["id"])
    assert shown["usedUploads"] == 2
    assert {u["id"]: u["state"] for u in shown["uploads"]} == {
        first.id: "open", second.id: "cancelled", third.id: "open"}


def test_two_opens_racing_for_the_last_use_one_wins(server):
    for _ in range(3):
        answer, token = create(server, maxUploads=2)
        ticket = ticket_of(server, token)
        upload_of(server, open_bound(server, token, ticket))
        barrier = threading.Barrier(6)
        results = []

        def race():
            barrier.wait()
            results.append(open_bound(server, token, ticket))

        threads = [threading.Thread(target=race) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status_code for r in results)
        assert statuses == [201, 410, 410, 410, 410, 410], [r.text for r in results]
        assert all(r.json()["error"] == "request-used" for r in results if r.status_code == 410)
        shown = show(server, answer["id"])
        assert shown["usedUploads"] == 2 and len(shown["uploads"]) == 2


def test_expired_links_and_tickets(start_server):
    server = start_server()
    old, old_token = create(server, expiresInDays=1)
    old_ticket = ticket_of(server, old_token)
    fresh, fresh_token = create(server, expiresInDays=1)
    stale_ticket = ticket_of(server, fresh_token)
    # Days later: the request's expiry, and a ticket's, are in the past (the ledger's clock
    # is the server's; the times are moved instead of waiting).
    server.stop()
    past = int((time.time() - 60) * 1000)
    set_in_ledger(server, "UPDATE requests SET expires_at = ? WHERE id = ?", past, old["id"])
    set_in_ledger(server, "UPDATE request_tickets SET expires_at = ? WHERE request_id = ?",
                  past, fresh["id"])
    server.start()

    assert_error(describe(server, old_token), 410, "request-expired")
    assert_error(challenge(server, old_token, "1964-08-12"), 410, "request-expired")
    assert_error(open_bound(server, old_token, old_ticket), 410, "request-expired")
    assert show(server, old["id"])["status"] == "expired"

    assert_error(open_bound(server, fresh_token, stale_ticket), 403, "challenge-required")
    upload_of(server, open_bound(server, fresh_token, ticket_of(server, fresh_token)))
    assert [u["request"]["id"] for u in server.admin_uploads()] == [fresh["id"]]


def test_revoked_links_are_gone(server):
    answer, token = create(server, maxUploads=3)
    ticket = ticket_of(server, token)
    kept = upload_of(server, open_bound(server, token, ticket))
    r = server.admin("DELETE", "/inbound/admin/requests/%s" % answer["id"])
    assert r.status_code == 200 and r.json() == {"id": answer["id"], "status": "revoked"}
    assert_error(describe(server, token), 410, "request-revoked")
    assert_error(challenge(server, token, "1964-08-12"), 410, "request-revoked")
    assert_error(open_bound(server, token, ticket), 410, "request-revoked")
    # Revoking again answers the same; an upload opened before goes on.
    r = server.admin("DELETE", "/inbound/admin/requests/%s" % answer["id"])
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert kept.put(cd_files(count=1)[0].data).status_code == 201
    assert show(server, answer["id"])["status"] == "revoked"
    assert_error(server.admin("DELETE", "/inbound/admin/requests/NOSUCHREQ234"), 404,
                 "not-found")
    events = [e["event"] for e in audit(server) if answer["id"] in e["detail"]]
    assert events.count("request-revoked") == 1


def test_a_ticket_opens_only_its_own_request(server):
    a, token_a = create(server)
    b, token_b = create(server)
    ticket_a = ticket_of(server, token_a)
    before = len(server.admin_uploads())
    assert_error(open_bound(server, token_b, ticket_a), 403, "challenge-required")
    assert_error(open_bound(server, token_b, "x" * 43), 403, "challenge-required")
    assert_error(open_bound(server, "y" * 43, ticket_a), 404, "not-found")
    # The request's recipient, or none: another is refused.
    assert_error(open_bound(server, token_a, ticket_a, recipient="trauma"), 400, "invalid-field")
    assert len(server.admin_uploads()) == before
    upload_of(server, open_bound(server, token_a, ticket_a, recipient="neuroradiology"))
    assert show(server, b["id"])["usedUploads"] == 0


def test_requests_only_mode(start_server):
    server = start_server(inbound={"OpenUploads": False})
    assert server.request("GET", "/inbound/api/info").json()["openUploads"] is False
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body())
    body = assert_error(r, 403, "requests-only")
    assert "link" in body["message"]
    assert server.admin_uploads() == []
    answer, token = create(server)
    upload = upload_of(server, open_bound(server, token, ticket_of(server, token)))
    upload.put_ok(cd_files(count=1)[0].data)
    upload.complete_ok()
    assert [u["id"] for u in server.admin_uploads()] == [upload.id]


def test_open_uploads_stay_open_by_default(server):
    assert server.request("GET", "/inbound/api/info").json()["openUploads"] is True
    assert "request" not in server.admin_upload(harness.Upload.open(server).id)


def test_admin_routes_need_credentials_and_the_same_origin(server):
    listed = len(server.admin_json("GET", "/inbound/admin/requests")["requests"])
    body = {"recipient": "neuroradiology", "challenge": "code"}
    url = server.url + "/inbound/admin/requests"
    for auth in (None, ("admin", "wrong password"), ("nobody", "x")):
        assert requests.get(url, auth=auth).status_code == 403
        assert requests.post(url, json=body, auth=auth,
                             headers={"X-Requested-With": "XMLHttpRequest"}).status_code == 403
    # A page of another site cannot make an admin's browser create or revoke a request.
    assert_error(requests.post(url, json=body, auth=harness.ADMIN), 403, "cross-site")
    assert_error(requests.post(url, json=body, auth=harness.ADMIN,
                               headers={"Origin": "https://evil.example"}), 403, "cross-site")
    answer, token = create(server)
    for headers in ({}, {"Origin": "https://evil.example"}):
        assert_error(requests.delete(url + "/" + answer["id"], auth=harness.ADMIN,
                                     headers=headers), 403, "cross-site")
    assert len(server.admin_json("GET", "/inbound/admin/requests")["requests"]) == listed + 1
    assert show(server, answer["id"])["status"] == "active"
    # The site's own origin is accepted without the header (the admin page).
    r = requests.post(url, json=body, auth=harness.ADMIN, headers={"Origin": server.url})
    assert r.status_code == 201, r.text
    assert r.json()["url"].startswith(server.url + "/inbound/r/")
    listed_now = server.admin_json("GET", "/inbound/admin/requests", params={"limit": 1})
    assert [q["id"] for q in listed_now["requests"]] == [r.json()["id"]]  # newest first
    assert listed_now["requests"][0]["createdBy"] == "admin"


def test_a_public_url_makes_the_links(start_server):
    server = start_server(inbound={"PublicUrl": "https://upload.hospital.example/"})
    answer, token = create(server)
    assert answer["url"] == "https://upload.hospital.example/inbound/r/" + token


def test_no_patient_data_in_any_public_answer_before_the_challenge(server):
    answer, token = create(server, sender={"name": "Dr. Sender", "email": "dr@clinic.example"})
    answers = [server.request("GET", "/inbound/r/%s" % token), describe(server, token),
               challenge(server, token, "1964-08-11"), challenge(server, token, "garbage"),
               server.request("POST", "/inbound/api/requests/%s/challenge" % token, data="{"),
               server.request("GET", "/inbound/api/info"),
               open_bound(server, token, "z" * 43)]
    for r in answers:
        assert_no_patient(r)
        assert "dr@clinic.example" not in r.text
    assert show(server, answer["id"])["patient"]["id"] == PATIENT["id"]


def test_a_link_token_never_reaches_the_audit_trail_or_the_log(start_server):
    """Refusals are audited with their path: the token of a request link in that path (a
    revoked link, a wrong answer, a locked or expired one, a forged token) is masked, so that
    neither the ledger's files nor Orthanc's log ever hold a token that works."""
    server = start_server()
    revoked, revoked_token = create(server)
    assert server.admin("DELETE", "/inbound/admin/requests/%s" % revoked["id"]).status_code == 200
    wrong, wrong_token = create(server)
    forged = "F" * 43
    assert_error(describe(server, revoked_token), 410, "request-revoked")
    assert_error(challenge(server, revoked_token, "1964-08-12"), 410, "request-revoked")
    assert challenge(server, wrong_token, "1999-01-01").status_code == 403
    assert describe(server, forged).status_code == 404
    assert server.request("GET", "/inbound/r/%s/x" % forged).status_code in (400, 403, 404)
    server.stop()  # the refusals are flushed to the ledger
    server.start()
    details = " ".join(e["detail"] for e in server.admin_json(
        "GET", "/inbound/admin/audit", params={"limit": 1000})["events"])
    assert "/inbound/api/requests/-" in details, details[-2000:]
    server.stop()
    for token in (revoked_token, wrong_token, forged):
        assert token not in details
        for folder, _, files in os.walk(server.workdir):
            for name in files:
                with open(os.path.join(folder, name), "rb") as f:
                    assert token.encode() not in f.read(), os.path.join(folder, name)
    server.start()


def test_requests_expired_long_ago_and_spent_tickets_are_swept(start_server):
    """The sweep forgets tickets past their time, and requests expired for longer than the
    audit trail is kept (Audit.RetentionDays) that no upload names; the others stay."""
    server = start_server(inbound={"Upload": {"ExpiryCheckInterval": 1}})
    unused, unused_token = create(server, expiresInDays=1)
    ticket_of(server, unused_token)
    used, used_token = create(server, expiresInDays=1)
    upload_of(server, open_bound(server, used_token, ticket_of(server, used_token)))
    recent, _ = create(server, expiresInDays=1)
    server.stop()
    long_ago = int((time.time() - 91 * 86400) * 1000)
    for request in (unused, used):
        set_in_ledger(server, "UPDATE requests SET expires_at = ? WHERE id = ?", long_ago,
                      request["id"])
    set_in_ledger(server, "UPDATE request_tickets SET expires_at = ?", long_ago)
    server.start()
    deadline = time.time() + 20
    while time.time() < deadline:
        listed = [r["id"] for r in server.admin_json("GET", "/inbound/admin/requests")["requests"]]
        if unused["id"] not in listed:
            break
        time.sleep(0.5)
    assert sorted(listed) == sorted([used["id"], recent["id"]])
    assert show(server, used["id"])["status"] == "expired"
    server.stop()
    with sqlite3.connect(ledger(server)) as db:
        assert db.execute("SELECT COUNT(*) FROM request_tickets").fetchone()[0] == 0
    server.start()
