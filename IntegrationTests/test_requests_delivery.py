"""What happens around a bound upload, against a real Orthanc, a real SMTP server
(Resources/Scripts/smtp-sink.py) and a real PACS (DCMTK's storescp): the link mail, the patient
check on arrival, forwardTo under the hospital's identity, the recipient's mail, a person's
release of an upload whose patient differs; on a Standalone and on a Gateway + Internal pair."""

import base64
import glob
import io
import os
import re
import time

import pydicom
import pytest
from pydicom.uid import generate_uid

import data
from mail_support import SmtpSink, notifications, wait_for_notifications
from pacs import Pacs
from request_links import audit, create, describe, open_bound, show, ticket_of, upload_of
from test_requests_gateway import PULLER

FROM = "Orthanc Inbound <inbound@hospital.example>"
NEURO = "neuro@hospital.example"
PRAXIS = "praxis@clinic.example"
# The hospital's patient as staff typed it; the practice's files say "MÜLLER^ZOË" in Latin-1.
HOSPITAL = {"id": "HOSP-0815", "name": "Muller^Zoe", "birthDate": "1970-01-31"}
SENT_NAME = "MÜLLER^ZOË"
OTHER_NAME = "Roe^Richard"
OTHER_TRACES = ("Roe", "Richard", "19811124")


@pytest.fixture(scope="module")
def site(plugin, tmp_path_factory):
    """One Standalone with an SMTP sink and a PACS in DicomModalities; stopped by pid."""
    import conftest
    folder = tmp_path_factory.mktemp("delivery")
    sink = SmtpSink(str(folder / "sink")).start()
    pacs = Pacs(str(folder / "pacs")).start()
    server = None
    try:
        server = conftest._start(plugin, inbound={
            "Smtp": {"Host": "127.0.0.1", "Port": sink.port, "Security": "None", "From": FROM,
                     "Timeout": 10},
            "Notifications": {"RetryInterval": 1, "MaxRetryInterval": 2},
            "Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 2},
        }, orthanc={"DicomModalities": {"pacs": pacs.modality()}})
        yield server, sink, pacs
    finally:
        if server is not None:
            conftest._cleanup(server, check=True)
        pacs.stop()
        sink.stop()


def patient_files(name, birth_date, count=2):
    """Files of the patient CD as another practice would send them: the patient "name" (in
    Latin-1, ISO_IR 100) born "birth_date", the practice's own PatientID, new UIDs (so that
    each test's files are told apart at the PACS). Returns [(bytes, dataset)]."""
    study, series = generate_uid(), {}
    made = []
    for path in data.cd_images(["98892001"])[:count]:
        ds = pydicom.dcmread(path)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientName = name
        ds.PatientBirthDate = birth_date
        ds.PatientID = "PRAXIS-77"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series.setdefault(str(ds.SeriesInstanceUID), generate_uid())
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        out = io.BytesIO()
        ds.save_as(out, write_like_original=False)
        made.append((out.getvalue(), ds))
    assert len(made) == count
    assert name.encode("latin-1") in made[0][0]  # the bytes a Latin-1 system writes
    return made


def send_through(server, token, ticket, files):
    upload = upload_of(server, open_bound(server, token, ticket))
    for raw, _ in files:
        upload.put_ok(raw)
    upload.complete_ok()
    return upload


def forwards(server, upload_id):
    return server.admin_json("GET", "/inbound/admin/forwards",
                             params={"upload": upload_id})["forwards"]


def wait_until(what, probe, timeout=30.0):
    deadline = time.time() + timeout
    value = probe()
    while not value and time.time() < deadline:
        time.sleep(0.2)
        value = probe()
    assert value, "%s not within %.0f s" % (what, timeout)
    return value


def mails_to(sink, address):
    return [m for m in sink.mails() if address in m.rcpt_tos]


def received_at(pacs, files):
    """What the PACS holds of "files", by SOP Instance UID."""
    wanted = {str(ds.SOPInstanceUID) for _, ds in files}
    return {str(r.SOPInstanceUID): r for r in pacs.received() if str(r.SOPInstanceUID) in wanted}


def holds_token(blob, token):
    """Whether "blob" holds "token" in plain text or inside base64 (a mail's MIME parts, lines
    wrapped), at any of the three alignments."""
    flat = blob.replace(b"\r\n", b"")
    if token.encode() in flat:
        return True
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + token.encode())
        if encoded[4 if offset else 0:-4] in flat:
            return True
    return False


def ledger_bytes(server):
    """Every byte of the ledger's files (database, write-ahead log) as they are on disk."""
    content = b""
    for path in glob.glob(os.path.join(server.storage, "inbound", "ledger.sqlite*")):
        with open(path, "rb") as f:
            content += f.read()
    return content


def test_the_link_mail_reaches_the_sender_opens_the_page_and_never_holds_the_code(site):
    server, sink, _ = site
    answer, token = create(server, challenge="code", language="de", patient=HOSPITAL,
                           sender={"name": "Dr. Praxis", "email": PRAXIS},
                           message="Bitte die MRT vom Mai", maxUploads=2)
    assert answer["mailed"] is True, answer
    code = answer["code"]

    [mail] = wait_until("the link mail", lambda: mails_to(sink, PRAXIS))
    assert mail.rcpt_tos == [PRAXIS]
    assert mail.addresses("To") == [PRAXIS]
    assert mail.subject == "[Test Hospital] Neuroradiology bittet Sie um Bilder"
    assert "Bitte die MRT vom Mai" in mail.text and "2 Sendungen" in mail.text
    assert "Der Code steht nicht in dieser E-Mail" in mail.text
    # The link in the mail (text and html) is the one staff got, and it works.
    links = set(re.findall(r"http://[^\s\"<>]+/inbound/r/[A-Za-z0-9_-]+", mail.everything()))
    assert links == {answer["url"]}, links
    page = server.request("GET", answer["url"][len(server.url):])
    assert page.status_code == 200 and '<base href="../">' in page.text
    r = describe(server, token)
    assert r.status_code == 200, r.text
    assert r.json()["challenge"] == "code" and r.json()["remainingUploads"] == 2
    # Never the code, in any spelling; never the patient.
    everything = mail.everything()
    for form in (code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()):
        assert form not in everything, form
    for trace in ("HOSP-0815", "Muller", "Zoe", "19700131", "1970-01-31"):
        assert trace not in everything, trace

    # Delivered: the queue keeps that it was sent, and the link is gone from the ledger's
    # files; the audit trail never held it.
    wait_for_notifications(server, lambda a: any(
        n["kind"] == "request-link" and n["target"] == PRAXIS and n["state"] == "delivered"
        for n in a["notifications"]))
    assert holds_token(mail.raw, token)  # as the mail travels: the check below can see it
    wait_until("the link gone from the ledger's files",
               lambda: not holds_token(ledger_bytes(server), token), timeout=10)
    for event in audit(server, ""):
        assert token not in event["detail"] and code not in event["detail"], event


def test_no_link_mail_without_an_address_nor_once_its_request_is_revoked(site):
    server, sink, _ = site
    answer, _ = create(server, patient=HOSPITAL)
    assert answer["mailed"] is False
    answer, _ = create(server, patient=HOSPITAL, sender={"name": "Dr. Praxis", "email": ""})
    assert answer["mailed"] is False

    # The relay is down: the link mail waits in the queue; staff revoke the request meanwhile.
    late = "late@clinic.example"
    sink.stop()
    try:
        answer, token = create(server, patient=HOSPITAL, sender={"name": "Dr. Late", "email": late})
        assert answer["mailed"] is True
        assert holds_token(ledger_bytes(server), token)  # queued, waiting for the relay
        revoked = server.admin("DELETE", "/inbound/admin/requests/%s" % answer["id"])
        assert revoked.status_code == 200, revoked.text

        def cancelled_mails(answer):
            return [n for n in answer["notifications"]
                    if n["target"] == late and n["state"] == "failed"]
        [cancelled] = cancelled_mails(wait_for_notifications(server, cancelled_mails,
                                                             what="the cancelled link mail"))
        assert cancelled["kind"] == "request-link" and "revoked" in cancelled["lastError"]
        wait_until("the link gone from the ledger's files",
                   lambda: not holds_token(ledger_bytes(server), token), timeout=10)
    finally:
        sink.start()
    time.sleep(3)  # several retry intervals: nothing goes out any more
    assert mails_to(sink, late) == []
    assert [n for n in notifications(server)["notifications"] if n["target"] == late][0]["state"] \
        == "failed"


def test_a_matching_upload_reaches_the_pacs_once_under_the_hospitals_identity(site):
    server, sink, pacs = site
    answer, token = create(server, patient=HOSPITAL, forwardTo="pacs")
    files = patient_files(SENT_NAME, "19700131")
    upload = send_through(server, token, ticket_of(server, token, "1970-01-31"), files)

    done = wait_until("the request's forward done", lambda: [
        f for f in forwards(server, upload.id) if f["state"] == "done"], timeout=60)
    assert len(done) == 1, done  # one study
    assert done[0]["origin"] == "request" and done[0]["modality"] == "pacs"
    assert done[0]["requestedBy"] == "request %s" % answer["id"]
    assert done[0]["patientId"] == "HOSP-0815"
    # Sent because the reconciliation assistant found the request's patient, and no other,
    # beyond doubt: with no Sources configured, the request's own data decide.
    assert done[0]["candidate"]["source"] == "request" and done[0]["candidate"]["score"] >= 80
    [auto] = [e for e in audit(server, "auto-forward") if e["uploadId"] == upload.id]
    assert "; candidate request score" in auto["detail"], auto

    received = wait_until("both files at the PACS",
                          lambda: len(received_at(pacs, files)) == 2 and received_at(pacs, files))
    for raw, original in files:
        r = received[str(original.SOPInstanceUID)]
        assert str(r.PatientID) == "HOSP-0815"
        assert str(r.PatientName) == "Muller^Zoe"
        assert str(r.PatientBirthDate) == "19700131"
        assert "IssuerOfPatientID" not in r
        assert r.PixelData == original.PixelData  # the images themselves unchanged
        assert str(r.StudyInstanceUID) == str(original.StudyInstanceUID)
        # The sender's PatientID and name as sent stay in the copy.
        release = r.OriginalAttributesSequence[-1]
        assert release.ReasonForTheAttributeModification == "COERCE"
        assert str(release.ModifiedAttributesSequence[0].PatientID) == "PRAXIS-77"
        assert str(release.ModifiedAttributesSequence[0].PatientName) == SENT_NAME
        assert str(r.OtherPatientIDsSequence[-1].PatientID) == "PRAXIS-77"

    view = server.admin_upload(upload.id)
    assert view["request"]["id"] == answer["id"]
    assert view["request"]["matched"] is True
    assert view["request"]["forwardTo"] == "pacs"
    assert not [e for e in audit(server, "request-mismatch") if e["uploadId"] == upload.id]

    # The recipient's mail names the request and says that the patient is the expected one.
    [mail] = wait_until("the recipient's mail", lambda: [
        m for m in mails_to(sink, NEURO) if upload.id in m.header("X-Inbound-Upload")])
    assert "(request %s)" % answer["id"] in mail.subject
    assert "images you requested (request %s)" % answer["id"] in mail.text
    assert "The patient in the files is the one of the request." in mail.text
    assert "being sent to pacs" in mail.text
    for trace in ("HOSP-0815", "Muller", "MÜLLER", "19700131"):  # IncludePatientData is off
        assert trace not in mail.everything(), trace

    # Exactly once, also after a restart.
    server.restart()
    time.sleep(2)
    assert len(forwards(server, upload.id)) == 1
    assert len(received_at(pacs, files)) == 2


def test_another_patient_waits_is_audited_then_a_person_releases_it(site):
    server, sink, pacs = site
    answer, token = create(server, patient=HOSPITAL, forwardTo="pacs")
    files = patient_files(OTHER_NAME, "19811124")
    upload = send_through(server, token, ticket_of(server, token, "19700131"), files)

    [mismatch] = wait_until("request-mismatch", lambda: [
        e for e in audit(server, "request-mismatch") if e["uploadId"] == upload.id])
    assert answer["id"] in mismatch["detail"]
    for trace in OTHER_TRACES + ("HOSP-0815", "Muller"):
        assert trace not in mismatch["detail"], mismatch
    [mail] = wait_until("the recipient's mail", lambda: [
        m for m in mails_to(sink, NEURO) if upload.id in m.header("X-Inbound-Upload")])
    assert "patient differs" in mail.subject
    assert "differs from the one of the request" in mail.text
    assert "being sent to" not in mail.text

    time.sleep(2)  # the forwarder has had its rounds
    assert forwards(server, upload.id) == []
    assert received_at(pacs, files) == {}
    assert server.admin_upload(upload.id)["request"]["matched"] is False

    assert not [e for e in audit(server, "reconcile-waiting") if e["uploadId"] == upload.id]

    # A person releases it with the request's patient (as the release dialog offers it): the
    # birth date differs from the one sent, so the plugin asks for a confirmation first; then
    # it reaches the PACS under the hospital's identity.
    patient = show(server, answer["id"])["patient"]
    assert patient == {"id": "HOSP-0815", "name": "Muller^Zoe", "birthDate": "19700131"}
    release = "/inbound/admin/uploads/%s/release" % upload.id
    r = server.admin("POST", release, json={"modality": "pacs", "patient": patient})
    assert r.status_code == 409 and r.json()["error"] == "confirmation-required", r.text
    for trace in OTHER_TRACES + ("19700131",):
        assert trace not in r.text
    assert forwards(server, upload.id) == []
    r = server.admin("POST", release, json={"modality": "pacs", "patient": patient,
                                            "confirmMismatch": True})
    assert r.status_code == 202, r.text
    received = wait_until("both files at the PACS",
                          lambda: len(received_at(pacs, files)) == 2 and received_at(pacs, files),
                          timeout=60)
    for raw, original in files:
        got = received[str(original.SOPInstanceUID)]
        assert (str(got.PatientID), str(got.PatientName), str(got.PatientBirthDate)) == (
            "HOSP-0815", "Muller^Zoe", "19700131")
        assert got.PixelData == original.PixelData
    [done] = wait_until("the release done", lambda: [
        f for f in forwards(server, upload.id) if f["state"] == "done"])
    assert done["origin"] == "admin" and len(forwards(server, upload.id)) == 1
    assert done["confirmedMismatch"] is True


def test_a_second_hospital_patient_of_that_name_and_birth_date_stops_forward_to(site):
    """The request's patient matches, but this Orthanc also holds another hospital patient
    with the same name and birth date: no identity is beyond doubt, so forwardTo sends nothing
    and the audit trail says why; a person decides."""
    server, sink, pacs = site
    [(raw, twin)] = patient_files("MULLER^ZOE", "19700131", count=1)
    twin.PatientID = "HOSP-9999"
    out = io.BytesIO()
    twin.save_as(out, write_like_original=False)
    stored = server.admin("POST", "/instances", data=out.getvalue())
    assert stored.status_code == 200, stored.text
    try:
        answer, token = create(server, patient=HOSPITAL, forwardTo="pacs")
        files = patient_files(SENT_NAME, "19700131")
        upload = send_through(server, token, ticket_of(server, token, "1970-01-31"), files)
        [waiting] = wait_until("reconcile-waiting", lambda: [
            e for e in audit(server, "reconcile-waiting") if e["uploadId"] == upload.id],
            timeout=30)
        assert waiting["detail"] == "request %s to pacs: several-candidates-above" % answer["id"]
        time.sleep(2)  # the forwarder has had its rounds
        assert forwards(server, upload.id) == []
        assert received_at(pacs, files) == {}
        assert server.admin_upload(upload.id)["request"]["matched"] is True
    finally:
        server.admin("DELETE", "/patients/%s" % stored.json()["ParentPatient"])


def test_on_an_internal_pulled_uploads_are_judged_and_a_matching_one_forwarded(start_server,
                                                                              tmp_path):
    pacs = Pacs(str(tmp_path / "pacs")).start()
    try:
        gateway = start_server(inbound={"Role": "Gateway", "Pullers": [
            {"Username": PULLER[0], "Password": PULLER[1], "Networks": ["127.0.0.1"]}]})
        peers = {"dmz": {"Url": gateway.url + "/", "Username": PULLER[0], "Password": PULLER[1]}}
        internal = start_server(inbound={
            "Role": "Internal", "Gateways": ["dmz"], "PublicUrl": gateway.url,
            "Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 2}},
            orthanc={"OrthancPeers": peers, "DicomModalities": {"pacs": pacs.modality()}})
        answer, token = create(internal, patient=HOSPITAL, forwardTo="pacs", maxUploads=2)
        ticket = ticket_of(gateway, token, "1970-01-31")  # the sender is on the gateway
        matching = patient_files(SENT_NAME, "19700131")
        other = patient_files(OTHER_NAME, "19811124")
        first = send_through(gateway, token, ticket, matching)
        second = send_through(gateway, token, ticket, other)

        # Pulled inside and judged there: the matching one goes to the PACS as the hospital's.
        done = wait_until("the forward done inside", lambda: [
            f for f in forwards(internal, first.id) if f["state"] == "done"], timeout=90)
        assert done[0]["origin"] == "request" and len(forwards(internal, first.id)) == 1
        received = wait_until("the files at the PACS", lambda: len(
            received_at(pacs, matching)) == 2 and received_at(pacs, matching))
        for raw, original in matching:
            got = received[str(original.SOPInstanceUID)]
            assert (str(got.PatientID), str(got.PatientName), str(got.PatientBirthDate)) == (
                "HOSP-0815", "Muller^Zoe", "19700131")
            assert got.PixelData == original.PixelData
        assert internal.admin_upload(first.id)["request"]["matched"] is True

        # The other patient: audited inside, not sent.
        wait_until("request-mismatch inside", lambda: [
            e for e in audit(internal, "request-mismatch") if e["uploadId"] == second.id],
            timeout=90)
        assert internal.admin_upload(second.id)["request"]["matched"] is False
        time.sleep(2)
        assert forwards(internal, second.id) == [] and received_at(pacs, other) == {}
        # The gateway judges nothing: it has no patient to compare with.
        assert not [e for e in audit(gateway, "request-mismatch")]
    finally:
        pacs.stop()
