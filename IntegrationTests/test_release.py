"""Release to the PACS and auto-forward, checked where the hospital sees them: the instances
a real PACS (DCMTK's storescp) received, the admin routes, the audit trail, Orthanc's own
content. A study never reaches the PACS with its namespaced PatientID unless chosen."""

import time

import pytest
from pydicom.tag import Tag

import checks
import data
import harness
from harness import Upload, assert_error
from pacs import Pacs

HOSPITAL = {"id": "HOSP-000123", "name": "Doe^Jane", "birthDate": "19700131"}
PATIENT_NAME = Tag(0x0010, 0x0010)
PATIENT_BIRTH_DATE = Tag(0x0010, 0x0030)
PATIENT_SEX = Tag(0x0010, 0x0040)
ACCESSION_NUMBER = Tag(0x0008, 0x0050)
SPECIFIC_CHARACTER_SET = Tag(0x0008, 0x0005)
OTHER_PATIENT_IDS = Tag(0x0010, 0x1002)
RECONCILED = checks.CHANGED_BY_ISOLATION | {PATIENT_NAME, PATIENT_BIRTH_DATE, OTHER_PATIENT_IDS}
FAST_RETRIES = {"RetryInterval": 1, "MaxRetryInterval": 2}


@pytest.fixture
def pacs(tmp_path):
    made = Pacs(str(tmp_path / "pacs"))
    yield made
    made.stop()


@pytest.fixture(scope="module")
def one_study():
    """The study of the patient CD with the most images."""
    originals = [data.Original(p) for p in data.cd_images()]
    by_study = {}
    for o in originals:
        by_study.setdefault(o.study_instance_uid, []).append(o)
    return max(by_study.values(), key=len)


def start(start_server, pacs, **inbound):
    section = {"Forwarding": FAST_RETRIES}
    section.update(inbound)
    return start_server(inbound=section,
                        orthanc={"DicomModalities": {"pacs": pacs.modality()}})


def send(server, originals, **overrides):
    upload = Upload.open(server, **overrides)
    for o in originals:
        upload.put_ok(o.data)
    upload.complete_ok()
    return upload


def forwards(server, upload_id):
    return server.admin_json("GET", "/inbound/admin/forwards",
                             params={"upload": upload_id})["forwards"]


def wait_for_forwards(server, upload_id, predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        current = forwards(server, upload_id)
        if current and all(predicate(f) for f in current):
            return current
        time.sleep(0.3)
    raise AssertionError("forwards of %s: %s" % (upload_id, forwards(server, upload_id)))


def assert_same_but(original, received, changed):
    """Every element of the sender's file arrived unchanged, except "changed"."""
    before = {e.tag: e for e in original.ds if e.tag.element != 0}
    after = {e.tag: e for e in received if e.tag.element != 0}
    lost = sorted(t for t in before if t not in after and t not in changed)
    differ = sorted(t for t in before if t in after and t not in changed
                    and before[t].value != after[t].value)
    assert not lost and not differ, (original, lost, differ)


def assert_coerced(original, received, upload_id, changed):
    """The copy the PACS received keeps what the sender sent (doc/Reconciliation.md, "The
    released copy"): the sender's OriginalAttributesSequence items, the isolation's item, then
    one more item with the sender's PatientID and issuer as sent and, as sent, every other
    attribute the release changed ("changed": tags); the sender's PatientID as another ID of
    the patient; the pixel data byte for byte."""
    sent = list(original.ds.get("OriginalAttributesSequence", []))
    items = list(received.get("OriginalAttributesSequence", []))
    assert len(items) == len(sent) + 2, (original, len(items))
    for a, b in zip(sent, items):
        assert a == b, original
    isolation, release = items[-2], items[-1]
    assert isolation.ModifyingSystem == "ORTHANC-INBOUND", original
    assert str(isolation.ModifiedAttributesSequence[0].PatientID) == original.patient_id
    assert release.ModifyingSystem == "ORTHANC-INBOUND", original
    assert release.ReasonForTheAttributeModification == "COERCE", original
    assert str(release.SourceOfPreviousValues) == str(isolation.SourceOfPreviousValues)
    assert str(release.AttributeModificationDateTime) > \
        str(isolation.AttributeModificationDateTime), original
    [previous] = release.ModifiedAttributesSequence
    assert str(previous.PatientID) == original.patient_id, original
    assert str(previous.get("IssuerOfPatientID", "")) == \
        str(original.ds.get("IssuerOfPatientID", "")), original
    for tag in changed:
        assert tag in previous, (original, tag)
        assert str(previous[tag].value) == str(original.ds[tag].value if tag in original.ds
                                               else ""), (original, tag)
    for tag in {PATIENT_NAME, PATIENT_BIRTH_DATE, PATIENT_SEX, ACCESSION_NUMBER} - set(changed):
        assert tag not in previous, (original, tag)

    others = list(received.get("OtherPatientIDsSequence", []))
    assert others[:-1] == list(original.ds.get("OtherPatientIDsSequence", [])), original
    assert str(others[-1].PatientID) == original.patient_id, original
    assert str(others[-1].IssuerOfPatientID) == \
        (str(original.ds.get("IssuerOfPatientID", "")) or "ORTHANC-INBOUND " + upload_id)
    assert others[-1].TypeOfPatientID == "TEXT", original
    assert received.PixelData == original.ds.PixelData, original


def test_release_reconciled_reaches_the_pacs(start_server, pacs, one_study):
    pacs.start()
    server = start(start_server, pacs)
    upload = send(server, one_study)
    release = "/inbound/admin/uploads/%s/release" % upload.id

    # Without the hospital's PatientID, nothing leaves.
    assert_error(server.admin("POST", release, json={"modality": "pacs"}),
                 400, "reconciliation-required")
    assert_error(server.admin("POST", release, json={"modality": "elsewhere", "patient": HOSPITAL}),
                 400, "unknown-modality")
    assert_error(server.admin("POST", release, json={"modality": "pacs", "patient":
                                                     dict(HOSPITAL, birthDate="31.01.1970")}),
                 400, "invalid-field")
    assert_error(server.admin("POST", "/inbound/admin/uploads/NOSUCHUPLOAD/release",
                              json={"modality": "pacs", "patient": HOSPITAL}), 404, "not-found")
    assert forwards(server, upload.id) == []
    time.sleep(1)
    assert pacs.received() == []

    # Released with the hospital's identity.
    answer = server.admin("POST", release, json={"modality": "pacs", "patient": HOSPITAL})
    assert answer.status_code == 202, answer.text
    [queued] = answer.json()["forwards"]
    assert queued["modality"] == "pacs" and queued["patientId"] == HOSPITAL["id"], queued
    [done] = wait_for_forwards(server, upload.id, lambda f: f["state"] == "done")
    assert done["attempts"] == 1 and done["origin"] == "admin", done

    received = pacs.wait_for(len(one_study))
    assert len(received) == len(one_study)
    by_sop = {str(r.SOPInstanceUID): r for r in received}
    for original in one_study:
        r = by_sop[original.sop_instance_uid]
        assert str(r.PatientID) == HOSPITAL["id"]
        assert str(r.PatientName) == HOSPITAL["name"]
        assert str(r.PatientBirthDate) == HOSPITAL["birthDate"]
        assert "IssuerOfPatientID" not in r
        assert_same_but(original, r, RECONCILED)
        # The sender's name and (empty) birth date were changed: recorded as sent.
        assert_coerced(original, r, upload.id, [PATIENT_NAME, PATIENT_BIRTH_DATE])

    # The isolated study stays as it was; the reconciled copy left only for the PACS.
    assert len(server.instances_of_upload(upload.id)) == len(one_study)
    assert server.find("Patient", {"PatientID": HOSPITAL["id"]}) == []

    # The study's sender panel lists the release; the audit trail has it.
    study = server.find("Study", {"PatientID": "INB-%s-*" % upload.id})
    assert len(study) == 1
    panel = server.admin_json("GET", "/inbound/admin/studies/%s" % study[0])
    assert panel["uploadId"] == upload.id and panel["sender"]["name"] == harness.sender()["name"]
    assert panel["instances"] == panel["verifiedInstances"] == len(one_study)
    assert [f["state"] for f in panel["forwards"]] == ["done"]
    events = [e["event"] for e in server.admin_json("GET", "/inbound/admin/audit")["events"]]
    assert "release-requested" in events and "upload-forwarded" in events


def test_release_of_a_whole_identity_confirmed_into_a_latin1_file(start_server, pacs,
                                                                  one_study):
    """A hospital name the sender's character set (ISO_IR 100) cannot hold, a sex that
    contradicts the one sent, an accession number, the configured issuer: refused until
    confirmed, then the copy is UTF-8 with every letter, the sender's values recorded."""
    pacs.start()
    server = start(start_server, pacs, Reconciliation={"IssuerOfPatientID": "HOSPITAL-A"})
    originals = one_study[:2]
    assert {str(o.ds.SpecificCharacterSet) for o in originals} == {"ISO_IR 100"}
    assert {str(o.ds.PatientSex) for o in originals} == {"M"}
    upload = send(server, originals)
    release = "/inbound/admin/uploads/%s/release" % upload.id
    body = {"modality": "pacs", "accessionNumber": "ACC-9",
            "patient": {"id": "H1008", "name": "Łukasiewicz^Zoë", "sex": "F"},
            "candidate": {"source": "pacs", "score": 72}}

    answer = server.admin("POST", release, json=body)
    assert_error(answer, 409, "confirmation-required")
    assert "sex" in answer.json()["message"] and "Zo" not in answer.json()["message"]
    for bad in ({"sex": "X"}, {"issuer": "A\\B"}, {"ssn": "1"}):
        wrong = dict(body, patient=dict(body["patient"], **bad))
        assert_error(server.admin("POST", release, json=wrong), 400, "invalid-field")
    assert_error(server.admin("POST", release, json=dict(body, accessionNumber="X" * 17)),
                 400, "invalid-field")
    assert forwards(server, upload.id) == []

    answer = server.admin("POST", release, json=dict(body, confirmMismatch=True))
    assert answer.status_code == 202, answer.text
    [queued] = answer.json()["forwards"]
    assert (queued["issuer"], queued["sex"], queued["accessionNumber"]) == \
        ("HOSPITAL-A", "F", "ACC-9"), queued
    assert queued["candidate"] == {"source": "pacs", "score": 72} and queued["confirmedMismatch"]
    wait_for_forwards(server, upload.id, lambda f: f["state"] == "done")

    received = {str(r.SOPInstanceUID): r for r in pacs.wait_for(len(originals))}
    for original in originals:
        r = received[original.sop_instance_uid]
        assert r.SpecificCharacterSet == "ISO_IR 192"
        assert str(r.PatientName) == "Łukasiewicz^Zoë"
        assert (str(r.PatientID), str(r.IssuerOfPatientID)) == ("H1008", "HOSPITAL-A")
        assert (str(r.PatientSex), str(r.AccessionNumber)) == ("F", "ACC-9")
        # Every other text reads the same after the conversion to UTF-8.
        assert_same_but(original, r, RECONCILED | {SPECIFIC_CHARACTER_SET, PATIENT_SEX,
                                                   ACCESSION_NUMBER})
        assert_coerced(original, r, upload.id, [PATIENT_NAME, PATIENT_SEX, ACCESSION_NUMBER])

    [event] = [e for e in server.admin_json("GET", "/inbound/admin/audit")["events"]
               if e["event"] == "release-requested"]
    assert event["detail"] == ("1 studies to pacs as PatientID H1008 (issuer HOSPITAL-A), "
                               "accession ACC-9 by admin; candidate pacs score 72; "
                               "mismatch confirmed"), event


def test_release_keeping_the_namespaced_patient_id_is_explicit(start_server, pacs, one_study):
    pacs.start()
    server = start(start_server, pacs)
    upload = send(server, one_study[:2])
    answer = server.admin("POST", "/inbound/admin/uploads/%s/release" % upload.id,
                          json={"modality": "pacs", "keepNamespacedPatientId": True})
    assert answer.status_code == 202, answer.text
    wait_for_forwards(server, upload.id, lambda f: f["state"] == "done")
    for r in pacs.wait_for(2):
        assert str(r.PatientID) == checks.isolated_patient_id(upload.id, one_study[0].patient_id)


def test_release_with_new_uids(start_server, pacs, one_study):
    pacs.start()
    server = start(start_server, pacs)
    upload = send(server, one_study[:2])
    answer = server.admin("POST", "/inbound/admin/uploads/%s/release" % upload.id,
                          json={"modality": "pacs", "patient": HOSPITAL, "newUids": True})
    assert answer.status_code == 202, answer.text
    wait_for_forwards(server, upload.id, lambda f: f["state"] == "done")
    received = pacs.wait_for(2)
    sent = {o.sop_instance_uid for o in one_study[:2]}
    assert not sent & {str(r.SOPInstanceUID) for r in received}
    assert {str(r.PatientID) for r in received} == {HOSPITAL["id"]}


def test_auto_forward_waits_for_a_pacs_that_is_down(start_server, pacs, one_study):
    server = start(start_server, pacs, AutoForward=[
        {"Recipient": "neuroradiology", "Modality": "pacs", "PatientID": "Namespaced"}])
    upload = send(server, one_study[:3])
    other = send(server, one_study[3:4], recipient="trauma")

    # The PACS is down: the forward waits, with the reason, and is tried again.
    waiting = wait_for_forwards(server, upload.id,
                                lambda f: f["state"] == "pending" and f["lastError"])
    assert waiting[0]["origin"] == "rule", waiting
    pacs.start()
    wait_for_forwards(server, upload.id, lambda f: f["state"] == "done")
    received = pacs.wait_for(3)
    assert {str(r.SOPInstanceUID) for r in received} == {o.sop_instance_uid for o in one_study[:3]}
    assert {str(r.PatientID) for r in received} == {
        checks.isolated_patient_id(upload.id, one_study[0].patient_id)}
    # No rule for the other recipient: nothing sent without a click.
    assert forwards(server, other.id) == []
    metrics = server.admin("GET", "/tools/metrics-prometheus").text
    assert "inbound_forwards_done 1" in metrics, metrics


def test_forward_given_up_alerts_and_can_be_retried(start_server, pacs, one_study):
    server = start(start_server, pacs, Forwarding={"RetryInterval": 1, "MaxRetryInterval": 1,
                                                    "GiveUpAfter": 3})
    upload = send(server, one_study[:1])
    server.admin("POST", "/inbound/admin/uploads/%s/release" % upload.id,
                 json={"modality": "pacs", "patient": HOSPITAL})
    [failed] = wait_for_forwards(server, upload.id, lambda f: f["state"] == "failed")
    events = server.admin_json("GET", "/inbound/admin/audit")["events"]
    assert any(e["event"] == "alert-forward-failed" for e in events)
    pacs.start()
    retried = server.admin("POST", "/inbound/admin/forwards/%d/retry" % failed["id"])
    assert retried.status_code == 200, retried.text
    wait_for_forwards(server, upload.id, lambda f: f["state"] == "done")
    assert str(pacs.wait_for(1)[0].PatientID) == HOSPITAL["id"]
    assert_error(server.admin("POST", "/inbound/admin/forwards/%d/retry" % failed["id"]),
                 404, "not-found")


def test_study_panel_only_for_received_studies(start_server, pacs, one_study):
    server = start(start_server, pacs)
    answer = server.admin("POST", "/instances", data=one_study[0].data)
    assert answer.status_code == 200, answer.text
    assert_error(server.admin("GET", "/inbound/admin/studies/%s" % answer.json()["ParentStudy"]),
                 404, "not-found")
    assert server.request("GET", "/inbound/admin/studies/%s" % answer.json()["ParentStudy"]) \
        .status_code in (401, 403)
