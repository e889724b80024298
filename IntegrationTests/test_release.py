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
RECONCILED = checks.CHANGED_BY_ISOLATION | {PATIENT_NAME, PATIENT_BIRTH_DATE}
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
