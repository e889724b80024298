"""Request links in a Gateway + Internal pair (doc/Requests.md, "Gateways"): a request made inside
is pushed out over the peer channel and works on the gateway at once, the upload made through it
arrives inside bound to it, the gateway never holds the hospital's patient, revocations go out
and locks come back, and a gateway cannot bind an upload the Internal would not."""

import io
import json
import os
import time

import pydicom
import pytest
import requests

import data
import harness
from fake_gateway import FakeGateway, wait_until
from gateway_support import audit
from harness import Upload

PULLER = ("inside", "a-long-random-secret-for-tests")
# The hospital's patient: never on the gateway in plain text.
PATIENT = {"id": "HOSP-77123", "name": "MUSTERMANN^ERIKA", "birthDate": "19610412"}
SECRETS = [b"HOSP-77123", b"MUSTERMANN", b"ERIKA", b"Mustermann", b"Erika", b"19610412",
           b"1961-04-12"]


def make_gateway(plugin, **inbound):
    section = {"Role": "Gateway",
               "Pullers": [{"Username": PULLER[0], "Password": PULLER[1],
                            "Networks": ["127.0.0.1"]}]}
    section.update(inbound)
    return harness.OrthancServer(plugin, inbound=section).start()


def make_internal(plugin, url, public_url):
    peers = {"dmz": {"Url": url + "/", "Username": PULLER[0], "Password": PULLER[1]}}
    return harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"], "PublicUrl": public_url},
        orthanc={"OrthancPeers": peers}).start()


@pytest.fixture(scope="module")
def pair(plugin):
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, gateway.url, gateway.url)
    yield gateway, internal
    for s in (internal, gateway):
        s.stop()
        s.cleanup()


def create(internal, expected=201, **overrides):
    body = {"recipient": "neuroradiology", "patient": dict(PATIENT),
            "message": "Bitte die CT-Bilder vom Mai senden", "maxUploads": 1,
            "challenge": "birthDate"}
    body.update(overrides)
    r = internal.admin("POST", "/inbound/admin/requests", json=body)
    assert r.status_code == expected, r.text
    return r.json()


def token_of(answer):
    return answer["url"].rsplit("/inbound/r/", 1)[1]


def link(gateway, token):
    return gateway.request("GET", "/inbound/api/requests/%s" % token)


def answer_challenge(gateway, token, answer):
    return gateway.request("POST", "/inbound/api/requests/%s/challenge" % token,
                           json={"answer": answer})


def patient_dicom(index):
    """A file of the sender's CD: the patient by name and birth date, under the sender's own
    PatientID."""
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id="PRAXIS-991")))
    ds.PatientName = PATIENT["name"]
    ds.PatientBirthDate = PATIENT["birthDate"]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


def open_bound(gateway, token, ticket, expected=201):
    body = harness.open_body(request={"token": token, "ticket": ticket})
    del body["recipient"]
    r = gateway.request("POST", "/inbound/api/uploads", json=body)
    assert r.status_code == expected, r.text
    return Upload(gateway, r.json(), body) if expected == 201 else r


def request_inside(internal, request_id):
    return internal.admin_json("GET", "/inbound/admin/requests/%s" % request_id)


def wait_for_upload(server, upload_id, state, timeout=60):
    return wait_until(lambda: (lambda r: r.status_code == 200 and r.json()["state"] == state
                               and r.json())(server.admin("GET", "/inbound/admin/uploads/%s"
                                                                 % upload_id)),
                      timeout, "upload %s %s on %s" % (upload_id, state, server.url))


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def files_under(folder):
    for root, _, names in os.walk(folder):
        for name in names:
            yield os.path.join(root, name)


def test_a_request_made_inside_works_on_the_gateway_and_arrives_bound(pair):
    gateway, internal = pair
    created = create(internal)
    assert created["gateways"]["dmz"]["state"] == "pushed", created
    assert created["url"].startswith(gateway.url + "/inbound/r/")
    token = token_of(created)

    # At once on the gateway: the page, what it shows before the challenge (no patient).
    page = gateway.request("GET", "/inbound/r/%s" % token)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    shown = link(gateway, token)
    assert shown.status_code == 200, shown.text
    assert shown.json()["recipient"]["id"] == "neuroradiology"
    assert all(s.decode() not in shown.text for s in SECRETS), shown.text

    harness.assert_error(answer_challenge(gateway, token, "1961-04-13"), 403, "challenge-failed")
    passed = answer_challenge(gateway, token, "1961-04-12")
    assert passed.status_code == 200, passed.text
    assert passed.json()["expected"] == {"patientName": PATIENT["name"],
                                         "birthDate": PATIENT["birthDate"]}

    upload = open_bound(gateway, token, passed.json()["ticket"])
    for i in range(2):
        assert upload.put(patient_dicom(i)).status_code == 201
    upload.complete_ok()

    # Pulled inside, bound to the request: the hospital's patient is there.
    inside = wait_for_upload(internal, upload.id, "complete")
    assert inside["request"]["id"] == created["id"], inside
    assert inside["request"]["patient"] == PATIENT, inside
    shown_inside = request_inside(internal, created["id"])
    assert shown_inside["usedUploads"] == 1 and shown_inside["status"] == "used", shown_inside
    wait_for_upload(gateway, upload.id, "delivered")
    assert not any(e["event"] == "alert-request-unknown" for e in audit(internal))

    # The gateway held the request's record, never its patient nor the link's token (only its
    # SHA-256): not in its ledger (and its write-ahead log), its staging, its Orthanc storage
    # or its log, in any file. Stopped first, so that everything it buffers is written.
    gateway.stop_cleanly()
    gateway.start()
    gateway_files = list(files_under(gateway.workdir))
    assert any(f.endswith("ledger.sqlite") for f in gateway_files)
    for path in gateway_files:
        content = harness.read(path)
        for secret in SECRETS + [token.encode()]:
            assert secret not in content, "%r in %s" % (secret, path)
    # ... while the Internal, of course, has it.
    assert any(b"HOSP-77123" in harness.read(p) for p in files_under(internal.workdir)
               if p.endswith("ledger.sqlite") or p.endswith("ledger.sqlite-wal"))
    held = gateway.request("GET", "/inbound/peer/requests", auth=PULLER)
    assert held.status_code == 200
    (record,) = [r for r in held.json()["requests"] if r["id"] == created["id"]]
    assert record["status"] == "used" and record["usedUploads"] == 1, record


def test_a_revocation_inside_reaches_the_gateway(pair):
    gateway, internal = pair
    created = create(internal, maxUploads=3)
    token = token_of(created)
    assert link(gateway, token).status_code == 200
    r = internal.admin("DELETE", "/inbound/admin/requests/%s" % created["id"])
    assert r.status_code == 200, r.text
    assert r.json()["gateways"]["dmz"]["state"] == "pushed", r.json()
    harness.assert_error(link(gateway, token), 410, "request-revoked")
    harness.assert_error(answer_challenge(gateway, token, "19610412"), 410, "request-revoked")
    shown = request_inside(internal, created["id"])
    assert shown["status"] == "revoked" and shown["gateways"]["dmz"]["state"] == "pushed", shown


def test_a_lock_on_the_gateway_shows_inside(pair):
    gateway, internal = pair
    created = create(internal, challenge="code", maxUploads=2)
    token = token_of(created)
    for _ in range(5):  # Inbound.Requests.MaxFailures
        r = answer_challenge(gateway, token, "WRNG-CODE")
        assert r.status_code == 403, r.text
    harness.assert_error(link(gateway, token), 403, "request-locked")
    # The right code no longer helps on the gateway...
    harness.assert_error(answer_challenge(gateway, token, created["code"]), 403, "request-locked")
    # ... and the Internal learns of it at its next reading of the gateway's states.
    shown = wait_until(lambda: (lambda s: s["status"] == "locked" and s)(
        request_inside(internal, created["id"])), 40, "the lock to show inside")
    assert shown["gateways"]["dmz"]["locked"] is True, shown
    assert shown["gateways"]["dmz"]["failures"] == 5, shown
    assert any(e["event"] == "request-locked" and "dmz" in e.get("detail", "")
               for e in audit(internal))
    # Alerted inside too: a gateway often has no mail relay of its own.
    assert any(e["event"] == "alert-request-locked" and "dmz" in e.get("detail", "")
               for e in audit(internal))


def test_a_push_from_anybody_but_a_puller_is_refused(plugin):
    gateway = make_gateway(plugin, TrustedProxies=["127.0.0.1"])
    try:
        record = {"id": "REQ234567892", "tokenHash": "a" * 64, "state": "active",
                  "createdAt": iso(time.time() - 60), "expiresAt": iso(time.time() + 86400),
                  "recipient": "neuroradiology", "message": "", "language": "",
                  "maxUploads": 5, "challenge": "none", "secret": "A" * 64, "revision": 1}
        push = {"requests": [record]}
        url = gateway.url + "/inbound/peer/requests"
        for auth, headers in [(None, {}), (harness.ADMIN, {}), (("inside", "wrong"), {}),
                              (PULLER, {"X-Forwarded-For": "198.51.100.7"})]:
            r = requests.post(url, json=push, auth=auth, headers=headers, timeout=10)
            assert r.status_code in (401, 403), (auth, headers, r.status_code, r.text)
            r = requests.get(url, auth=auth, headers=headers, timeout=10)
            assert r.status_code in (401, 403), (auth, headers, r.status_code)
        held = requests.get(url, auth=PULLER, timeout=10)
        assert held.status_code == 200 and held.json() == {"requests": []}, held.text
        harness.assert_error(requests.get(gateway.url + "/inbound/api/requests/" + "t" * 43,
                                          timeout=10), 404, "not-found")

        # A puller's push is still parsed strictly: a record with the patient is refused, a
        # malformed push as a whole; nothing is stored.
        with_patient = dict(record, patient={"id": "HOSP-77123"})
        r = requests.post(url, json={"requests": [with_patient]}, auth=PULLER, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["requests"][0]["error"] == "invalid-field", r.text
        for body in (b"{", b"[]", json.dumps({"requests": [record, record]}).encode(),
                     json.dumps({"requests": [record] * 101}).encode()):
            r = requests.post(url, data=body, auth=PULLER, timeout=10)
            assert r.status_code == 400, (body[:40], r.status_code, r.text)
        r = requests.post(url, data=b"{\"requests\": [" + b" " * (1024 * 1024) + b"]}",
                          auth=PULLER, timeout=30)
        harness.assert_error(r, 413, "too-large")
        assert requests.get(url, auth=PULLER, timeout=10).json() == {"requests": []}

        # The record as an Internal pushes it is taken.
        r = requests.post(url, json=push, auth=PULLER, timeout=10)
        assert r.status_code == 200 and r.json()["requests"][0]["status"] == "active", r.text
        assert any(e["event"] == "request-received" for e in audit(gateway))
    finally:
        gateway.stop()
        gateway.cleanup()


def test_a_gateway_down_at_creation_gets_the_request_at_the_next_round(plugin):
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, gateway.url, gateway.url)
    try:
        gateway.stop()
        started = time.monotonic()
        created = create(internal)
        assert time.monotonic() - started < 15, "an admin does not wait long for a gateway"
        assert created["gateways"]["dmz"]["state"] == "pending", created
        assert request_inside(internal, created["id"])["gateways"]["dmz"]["state"] == "pending"
        time.sleep(5)
        gateway.start()  # same port, same ledger
        token = token_of(created)
        wait_until(lambda: link(gateway, token).status_code == 200, 90,
                   "the request to reach the gateway once it is back")
        wait_until(lambda: request_inside(internal, created["id"])["gateways"]["dmz"]["state"]
                   == "pushed", 30, "the Internal to see it pushed")
    finally:
        for s in (internal, gateway):
            s.stop()
            s.cleanup()


def test_a_gateway_cannot_bind_an_upload_the_internal_would_not(plugin):
    fake = FakeGateway()
    internal = harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                         "PublicUrl": "https://upload.hospital.example"},
        orthanc=fake.peer_settings())
    try:
        internal.start()
        created = create(internal, challenge="code")
        assert created["gateways"]["dmz"]["state"] == "pending"  # the fake takes no pushes

        def naming(request_id, recipient=None):
            def forge(manifest):
                manifest["request"] = request_id
                if recipient:
                    manifest["recipient"] = {"id": recipient, "name": recipient}
            return forge

        def pulled(upload_id):
            return wait_until(lambda: (lambda r: r.status_code == 200 and
                                       r.json()["state"] == "complete" and r.json())(
                internal.admin("GET", "/inbound/admin/uploads/%s" % upload_id)), 60,
                "upload %s inside" % upload_id)

        def alerts():
            return [e for e in audit(internal) if e["event"] == "alert-request-unknown"]

        # For another recipient than the request's: not bound.
        other = fake.add([data.make_dicom("FAKE-1")], forge=naming(created["id"], "trauma"))
        assert not pulled(other).get("request"), pulled(other)
        assert len(alerts()) == 1 and other in alerts()[0]["detail"]
        # The request's own: bound; it has one use.
        first = fake.add([data.make_dicom("FAKE-2")], forge=naming(created["id"]))
        assert pulled(first)["request"]["id"] == created["id"]
        # Used up: the next one naming it is an ordinary upload, with an alert.
        second = fake.add([data.make_dicom("FAKE-3")], forge=naming(created["id"]))
        assert not pulled(second).get("request"), pulled(second)
        # A request the Internal does not hold.
        third = fake.add([data.make_dicom("FAKE-4")], forge=naming("ZZZZZZZZZZZZ"))
        assert not pulled(third).get("request"), pulled(third)
        details = [e["detail"] for e in alerts()]
        assert any(second in d and "used" in d for d in details), details
        assert any(third in d and "ZZZZZZZZZZZZ" in d for d in details), details
        # A revoked request: an upload the gateway says opened after the revocation.
        revoked = create(internal, challenge="code", maxUploads=5)
        assert internal.admin("DELETE", "/inbound/admin/requests/%s"
                              % revoked["id"]).status_code == 200
        time.sleep(1.1)
        late = fake.add([data.make_dicom("FAKE-5")], forge=naming(revoked["id"]))
        assert not pulled(late).get("request"), pulled(late)
        assert request_inside(internal, created["id"])["usedUploads"] == 1
        assert request_inside(internal, revoked["id"])["usedUploads"] == 0
        assert len(alerts()) == 4, [e["detail"] for e in alerts()]
        # Not a request id at all: the manifest breaks a rule, the upload is held.
        held = fake.add([data.make_dicom("FAKE-6")], forge=naming("../../admin"))
        wait_until(lambda: held in internal.admin_json("GET", "/inbound/admin/gateways")[
            "gateways"][0]["held"], 60, "the upload to be held")
        assert internal.admin("GET", "/inbound/admin/uploads/%s" % held).status_code == 404
        assert internal.running()
    finally:
        internal.stop()
        internal.cleanup()
        fake.stop()


def test_an_internal_taking_request_uploads_only_holds_every_other(plugin):
    fake = FakeGateway()
    internal = harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"], "OpenUploads": False,
                         "PublicUrl": "https://upload.hospital.example"},
        orthanc=fake.peer_settings())
    try:
        internal.start()
        created = create(internal, challenge="code", maxUploads=1)
        bound = fake.add([data.make_dicom("ONLY-1")],
                         forge=lambda m: m.update(request=created["id"]))
        plain = fake.add([data.make_dicom("ONLY-2")])
        used_up = fake.add([data.make_dicom("ONLY-3")],
                           forge=lambda m: m.update(request=created["id"]))
        wait_until(lambda: {plain, used_up} <= set(internal.admin_json(
            "GET", "/inbound/admin/gateways")["gateways"][0]["held"]), 60,
            "the unbound uploads to be held")
        r = internal.admin("GET", "/inbound/admin/uploads/%s" % bound)
        assert r.status_code == 200 and r.json()["request"]["id"] == created["id"], r.text
        for upload_id in (plain, used_up):
            assert internal.admin("GET", "/inbound/admin/uploads/%s" % upload_id).status_code == 404
            assert upload_id not in fake.acknowledged
        assert bound in fake.acknowledged
        held = [e["detail"] for e in audit(internal) if e["event"] == "alert-upload-held"]
        assert any(plain in d and "OpenUploads" in d for d in held), held
        assert internal.running()
    finally:
        internal.stop()
        internal.cleanup()
        fake.stop()
