"""Assertions shared by the tests: what an admin would check on the stored data."""

import io
import json
import re

import pydicom
from pydicom.tag import Tag

PATIENT_ID = Tag(0x0010, 0x0020)
ISSUER_OF_PATIENT_ID = Tag(0x0010, 0x0021)
CHANGED_BY_ISOLATION = {PATIENT_ID, ISSUER_OF_PATIENT_ID}
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def isolated_patient_id(upload_id, original_patient_id, prefix="INB-"):
    return ("%s%s-%s" % (prefix, upload_id, original_patient_id))[:64]


def assert_iso_time(value, what):
    assert isinstance(value, str) and ISO_TIME.match(value), "%s is not an ISO 8601 time: %r" % (
        what, value)


def assert_put_answer(answer, original, upload_id):
    """The body of a 201/200 answer to PUT .../files/{sha256}."""
    assert answer["sha256"] == original.sha256, answer
    assert answer["size"] == original.size, answer
    assert answer["sopInstanceUid"] == original.sop_instance_uid, answer
    assert answer["studyInstanceUid"] == original.study_instance_uid, answer
    assert answer["seriesInstanceUid"] == original.series_instance_uid, answer
    assert answer["patientId"] == isolated_patient_id(upload_id, original.patient_id), answer


def _elements(ds):
    return {elem.tag: elem for elem in ds if elem.tag.element != 0x0000}


def assert_same_dicom_but_patient(original, stored_bytes, upload_id):
    """The stored file is the original except for PatientID and IssuerOfPatientID, which put it
    into the namespace of the upload; transfer syntax and every other element are kept."""
    stored = pydicom.dcmread(io.BytesIO(stored_bytes))
    where = repr(original)
    assert str(stored.file_meta.TransferSyntaxUID) == original.transfer_syntax, where
    assert str(stored.PatientID) == isolated_patient_id(upload_id, original.patient_id), where
    issuer = str(stored.get("IssuerOfPatientID", ""))
    assert upload_id in issuer, "%s: IssuerOfPatientID %r does not name the upload" % (
        where, issuer)

    before = _elements(original.ds)
    after = _elements(stored)
    missing = sorted(t for t in before if t not in after and t not in CHANGED_BY_ISOLATION)
    added = sorted(t for t in after if t not in before and t not in CHANGED_BY_ISOLATION)
    changed = sorted(t for t in before if t in after and t not in CHANGED_BY_ISOLATION
                     and before[t].value != after[t].value)
    assert not missing, "%s: elements lost in storage: %s" % (where, missing)
    assert not added, "%s: elements added in storage: %s" % (where, added)
    assert not changed, "%s: elements changed in storage: %s" % (
        where, ["%s %r -> %r" % (t, str(before[t].value)[:80], str(after[t].value)[:80])
                for t in changed])


def assert_instance_metadata(server, orthanc_id, original, upload_id):
    assert server.metadata("instances", orthanc_id, "InboundUpload") == upload_id
    assert server.metadata("instances", orthanc_id, "InboundOriginalPatientID") == \
        original.patient_id
    assert server.metadata("instances", orthanc_id, "InboundSha256") == original.sha256
    assert server.metadata("instances", orthanc_id, "TransferSyntax") == original.transfer_syntax


def assert_study_metadata(server, study_orthanc_id, upload, original_patient_id):
    assert server.metadata("studies", study_orthanc_id, "InboundUpload") == upload.id
    assert server.metadata("studies", study_orthanc_id, "InboundOriginalPatientID") == \
        original_patient_id
    raw = server.metadata("studies", study_orthanc_id, "InboundSender")
    assert raw is not None, "study %s has no InboundSender metadata" % study_orthanc_id
    info = json.loads(raw)
    sent = upload.body["sender"]
    for key in ("name", "email", "institution", "phone"):
        assert info["sender"][key] == sent[key], info
    recipient = info["recipient"]
    recipient_id = recipient["id"] if isinstance(recipient, dict) else recipient
    assert recipient_id == upload.body["recipient"], info
    assert info["message"] == upload.body["message"], info
    assert info["consent"]["version"] == upload.body["consent"]["version"], info
    assert info["consent"]["accepted"] is True, info
    assert info["clientIp"] == "127.0.0.1", info
    assert_iso_time(info["receivedAt"], "InboundSender.receivedAt")


def status_files(upload):
    """sha256 -> entry of the upload's status."""
    return {f["sha256"]: f for f in upload.status_json()["files"]}
