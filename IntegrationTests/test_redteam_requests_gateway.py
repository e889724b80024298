"""Red team of request links, the compromised DMZ gateway: an Internal trusts a gateway no more
than the Internet. What the Internal pushes out holds nothing a gateway must not keep; states a
gateway makes up cannot undo a revocation, change the uses counted inside or invent requests; a
gateway cannot get an upload auto-forwarded to the PACS under the hospital's PatientID by dating
it before a revocation or an expiry; requests-only mode holds inside too; the Internal itself
answers no public request route. The gateway is the test's own (fake_gateway.py)."""

import hashlib
import io
import json
import time

import pydicom
import pytest

import data
import harness
from fake_gateway import FakeGateway, wait_until
from gateway_support import audit
from pacs import Pacs
from request_links import set_in_ledger

PATIENT = {"id": "HOSP-55120", "name": "MUSTERMANN^ERIKA", "birthDate": "19610412"}
SENDER = {"name": "Dr. Praxis Beispiel", "email": "praxis@clinic.example"}
PUSHED_MEMBERS = {"id", "tokenHash", "state", "createdAt", "expiresAt", "recipient", "message",
                  "language", "maxUploads", "challenge", "secret", "revision"}


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def start_internal(plugin, fake, inbound=None, orthanc=None):
    section = {"Role": "Internal", "Gateways": ["dmz"],
               "PublicUrl": "https://upload.hospital.example"}
    section.update(inbound or {})
    settings = fake.peer_settings()
    settings.update(orthanc or {})
    return harness.OrthancServer(plugin, inbound=section, orthanc=settings).start()


@pytest.fixture
def fake():
    gateway = FakeGateway()
    yield gateway
    gateway.stop()


@pytest.fixture
def internals():
    started = []
    yield started
    for server in started:
        server.stop()
        server.cleanup()


def create(internal, **overrides):
    body = {"recipient": "neuroradiology", "patient": dict(PATIENT), "maxUploads": 1,
            "message": "Bitte die CT-Bilder vom Mai senden", "challenge": "birthDate"}
    body.update(overrides)
    return internal.admin_json("POST", "/inbound/admin/requests", expected=201, json=body)


def show(internal, request_id):
    return internal.admin_json("GET", "/inbound/admin/requests/%s" % request_id)


def patient_file(name=PATIENT["name"], birth_date=PATIENT["birthDate"]):
    """A file of the sender's CD: the request's patient by name and birth date."""
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id="PRAXIS-991")))
    ds.PatientName = name
    ds.PatientBirthDate = birth_date
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


def naming(request_id, created_at=None):
    def forge(manifest):
        manifest["request"] = request_id
        if created_at is not None:
            manifest["createdAt"] = iso(created_at)
    return forge


def holding_every_push(fake):
    """The fake answers pushes and states as a gateway that stored every record pushed."""
    def states():
        latest = {}
        for push in list(fake.pushes):
            for r in push["requests"]:
                latest[r["id"]] = {"id": r["id"], "revision": r["revision"], "status": r["state"],
                                   "usedUploads": 0, "failures": 0, "lockedAt": None}
        return {"requests": list(latest.values())}
    fake.take_pushes = True
    fake.request_states = states
    return fake


def pulled(internal, upload_id, timeout=60):
    return wait_until(lambda: (lambda r: r.status_code == 200 and
                               r.json()["state"] in ("complete", "delivered") and r.json())(
        internal.admin("GET", "/inbound/admin/uploads/%s" % upload_id)), timeout,
        "upload %s inside" % upload_id)


def test_the_push_holds_nothing_a_gateway_must_not_keep(plugin, fake, internals):
    holding_every_push(fake)
    internal = start_internal(plugin, fake,
                              orthanc={"DicomModalities": {"pacs": ["PACS", "127.0.0.1", 1]}})
    internals.append(internal)
    created = create(internal, sender=dict(SENDER), forwardTo="pacs", language="de",
                     maxUploads=2)
    assert created["gateways"]["dmz"]["state"] == "pushed", created
    internal.admin_json("DELETE", "/inbound/admin/requests/%s" % created["id"])
    token = created["url"].rsplit("/", 1)[1]
    records = [r for push in fake.pushes for r in push["requests"]]
    assert [r["state"] for r in records if r["id"] == created["id"]] == ["active", "revoked"]
    for record in records:
        assert set(record) == PUSHED_MEMBERS, sorted(record)
        assert record["tokenHash"] == hashlib.sha256(token.encode()).hexdigest()
    pushed = json.dumps(fake.pushes)
    for secret in [PATIENT["id"], "MUSTERMANN", "ERIKA", PATIENT["birthDate"], "1961-04-12",
                   SENDER["name"], SENDER["email"], "pacs", "admin", token]:
        assert secret.lower() not in pushed.lower(), secret


def test_made_up_states_cannot_undo_what_the_inside_decided(plugin, fake, internals):
    holding_every_push(fake)
    internal = start_internal(plugin, fake)
    internals.append(internal)
    revoked = create(internal)
    internal.admin_json("DELETE", "/inbound/admin/requests/%s" % revoked["id"])
    active = create(internal, maxUploads=2)
    withdrawn = create(internal)
    locked = create(internal)
    listed = len(internal.admin_json("GET", "/inbound/admin/requests")["requests"])

    def state(request_id, status, used=0, failures=0, locked_at=None, revision=1000):
        return {"id": request_id, "revision": revision, "status": status, "usedUploads": used,
                "failures": failures, "lockedAt": locked_at}

    fake.request_states = lambda: {"requests": [
        state(revoked["id"], "active"),                          # un-revoked?
        state(active["id"], "used", used=2, failures=999999),    # its uses taken?
        state(withdrawn["id"], "revoked"),                       # revoked from outside?
        state("ZZZZZZZZZZZZ", "active"), state("ZZZZZZZZZZZY", "locked", locked_at=iso(time.time())),
        # A lock: trusted by design (a guesser must not get MaxFailures on each gateway); a
        # gateway can only ever stop a request this way, and it is audited with its name.
        state(locked["id"], "locked", failures=5, locked_at=iso(time.time() - 5))]}
    shown = wait_until(lambda: (lambda s: s["status"] == "locked" and s)(
        show(internal, locked["id"])), 45, "the gateway's lock to be read")
    assert shown["gateways"]["dmz"]["locked"] is True
    assert any(e["event"] == "request-locked" and locked["id"] in e["detail"] and
               "dmz" in e["detail"] for e in audit(internal))

    assert show(internal, revoked["id"])["status"] == "revoked"
    inside = show(internal, active["id"])
    assert inside["status"] == "active" and inside["usedUploads"] == 0, inside
    assert inside["remainingUploads"] == 2 and inside["failures"] == 0, inside
    assert show(internal, withdrawn["id"])["status"] == "active"
    assert len(internal.admin_json("GET", "/inbound/admin/requests")["requests"]) == listed
    harness.assert_error(internal.admin("GET", "/inbound/admin/requests/ZZZZZZZZZZZZ"), 404,
                         "not-found")
    assert internal.running()


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_backdated_upload_is_not_forwarded_to_the_pacs(plugin, fake, internals, tmp_path,
                                                         how):
    # The gateway dates an upload before the revocation (or the expiry) it learnt of: the
    # binding's time checks take the gateway's word, so it may stay bound, but it must never
    # go to the PACS under the hospital's PatientID without a person looking at it.
    pacs = Pacs(str(tmp_path / "pacs")).start()
    try:
        internal = start_internal(plugin, fake, orthanc={"DicomModalities": {"pacs": pacs.modality()}},
                                  inbound={"Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 2}})
        internals.append(internal)
        made = time.time()
        created = create(internal, forwardTo="pacs", maxUploads=3, expiresInDays=1)
        if how == "revoked":
            time.sleep(1.5)
            internal.admin_json("DELETE", "/inbound/admin/requests/%s" % created["id"])
            opened = made - 60
        else:
            internal.stop()
            set_in_ledger(internal, "UPDATE requests SET expires_at = ? WHERE id = ?",
                          int((made - 60) * 1000), created["id"])
            internal.start()
            opened = made - 120
        upload = fake.add([patient_file(), patient_file()], forge=naming(created["id"], opened))
        view = pulled(internal, upload)
        if view.get("request"):
            # Bound: wait for the verdict on its patients, made in the same round as a forward.
            view = wait_until(lambda: (lambda v: v["request"]["matched"] is not None and v)(
                internal.admin_upload(upload)), 30, "the patient verdict")
        time.sleep(3)
        forwards = internal.admin_json("GET", "/inbound/admin/forwards",
                                       params={"upload": upload})["forwards"]
        assert forwards == [], forwards
        assert pacs.received() == []
    finally:
        pacs.stop()


def test_requests_only_inside_takes_no_unbound_upload_from_a_gateway(plugin, fake, internals):
    internal = start_internal(plugin, fake, inbound={"OpenUploads": False})
    internals.append(internal)
    created = create(internal, challenge="code", maxUploads=2)
    plain = fake.add([data.make_dicom("OPEN-1")])
    unknown = fake.add([data.make_dicom("OPEN-2")], forge=naming("ZZZZZZZZZZZZ"))
    bound = fake.add([patient_file()], forge=naming(created["id"]))
    # The upload that names the Internal's own request arrives, bound (the puller works) ...
    assert pulled(internal, bound)["request"]["id"] == created["id"]
    time.sleep(3)
    # ... the others, which no request link opened, do not enter the archive.
    for upload_id in (plain, unknown):
        r = internal.admin("GET", "/inbound/admin/uploads/%s" % upload_id)
        assert r.status_code == 404 or r.json()["state"] not in ("complete", "delivered"), \
            r.text[:300]
    assert [u["id"] for u in internal.admin_uploads()] == [bound]
    assert internal.count_instances() == 1


def test_the_internal_answers_no_public_request_route(plugin, fake, internals):
    internal = start_internal(plugin, fake)
    internals.append(internal)
    created = create(internal, maxUploads=2)
    token = created["url"].rsplit("/", 1)[1]
    answers = [internal.request("GET", "/inbound/r/%s" % token),
               internal.request("GET", "/inbound/api/requests/%s" % token),
               internal.request("POST", "/inbound/api/requests/%s/challenge" % token,
                                json={"answer": "1961-04-12"}),
               internal.request("POST", "/inbound/api/uploads", json=harness.open_body(
                   request={"token": token, "ticket": token}, recipient=harness.OMIT))]
    for r in answers:
        assert r.status_code in (401, 403, 404), (r.url, r.status_code)
        for trace in (PATIENT["id"], "MUSTERMANN", PATIENT["birthDate"]):
            assert trace not in r.text
    shown = show(internal, created["id"])
    assert shown["failures"] == 0 and shown["usedUploads"] == 0 and shown["status"] == "active"
    assert internal.admin_uploads() == []
