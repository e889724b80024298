"""Assertions shared by the tests: what an admin would check on the stored data."""

import io
import json
import re

import pydicom
from pydicom.tag import Tag

PATIENT_ID = Tag(0x0010, 0x0020)
ISSUER_OF_PATIENT_ID = Tag(0x0010, 0x0021)
ISSUER_QUALIFIERS = Tag(0x0010, 0x0024)
ORIGINAL_ATTRIBUTES = Tag(0x0400, 0x0561)
CHANGED_BY_ISOLATION = {PATIENT_ID, ISSUER_OF_PATIENT_ID, ISSUER_QUALIFIERS, ORIGINAL_ATTRIBUTES}
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def isolated_patient_id(upload_id, original_patient_id, prefix="INB-", k=1):
    """The rule of doc/Architecture.md, "Isolated PatientIDs":
    <prefix><upload id>-<k>[-<readable>], at most 64 characters; k is the ordinal of the
    PatientID (as sent) among the upload's PatientIDs."""
    base = "%s%s-%d" % (prefix, upload_id, k)
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", original_patient_id or "")
    if not readable or len(base) + 1 >= 64:
        return base
    return (base + "-" + readable)[:64]


# Per upload, the ordinal seen for each original PatientID and back: the checks below fail
# if two PatientIDs of one upload ever get one ordinal, or one PatientID two.
_ordinals = {}


def seen_isolated_patient_id(upload_id, original_patient_id, prefix="INB-"):
    """The isolated PatientID of a PatientID already checked in this upload (its k as seen)."""
    by_original, _ = _ordinals.get((prefix, upload_id), ({}, {}))
    assert original_patient_id in by_original, (upload_id, original_patient_id)
    return isolated_patient_id(upload_id, original_patient_id, prefix,
                               by_original[original_patient_id])


def assert_isolated(value, upload_id, original_patient_id, prefix="INB-"):
    """"value" is the isolated PatientID of "original_patient_id" in this upload (its k
    consistent with every other check of the upload); returns k."""
    match = re.match(r"^%s%s-([1-9][0-9]*)(-|$)" % (re.escape(prefix), re.escape(upload_id)),
                     value or "")
    assert match, "%r is not an isolated PatientID of upload %s" % (value, upload_id)
    k = int(match.group(1))
    assert value == isolated_patient_id(upload_id, original_patient_id, prefix, k), (
        value, original_patient_id)
    by_original, by_k = _ordinals.setdefault((prefix, upload_id), ({}, {}))
    assert by_original.setdefault(original_patient_id, k) == k, (upload_id, original_patient_id)
    assert by_k.setdefault(k, original_patient_id) == original_patient_id, (upload_id, k)
    return k


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
    assert_isolated(answer["patientId"], upload_id, original.patient_id)


def _elements(ds):
    return {elem.tag: elem for elem in ds if elem.tag.element != 0x0000}


def assert_same_dicom_but_patient(original, stored_bytes, upload_id):
    """The stored file is the original except for PatientID and IssuerOfPatientID, which put it
    into the namespace of the upload; transfer syntax and every other element are kept."""
    stored = pydicom.dcmread(io.BytesIO(stored_bytes))
    where = repr(original)
    assert str(stored.file_meta.TransferSyntaxUID) == original.transfer_syntax, where
    assert_isolated(str(stored.PatientID), upload_id, original.patient_id)
    issuer = str(stored.get("IssuerOfPatientID", ""))
    assert issuer == "ORTHANC-INBOUND " + upload_id, "%s: IssuerOfPatientID %r" % (where, issuer)
    assert ISSUER_QUALIFIERS not in stored, where
    assert_original_attributes(original.ds, stored, where)

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


def assert_original_attributes(sent, stored, where):
    """OriginalAttributesSequence (PS3.3 C.12.1): the sender's items kept, one new item last
    with the sender's PatientID, IssuerOfPatientID (zero length when absent) and issuer
    qualifiers exactly as sent."""
    before = list(sent.get("OriginalAttributesSequence", []))
    after = list(stored.get("OriginalAttributesSequence", []))
    assert len(after) == len(before) + 1, where
    for a, b in zip(before, after):
        assert a == b, where
    item = after[-1]
    assert item.ModifyingSystem == "ORTHANC-INBOUND", where
    assert item.ReasonForTheAttributeModification == "COERCE", where
    assert re.match(r"^\d{14}\.\d{6}\+0000$", str(item.AttributeModificationDateTime)), where
    assert "SourceOfPreviousValues" in item, where
    assert len(item.ModifiedAttributesSequence) == 1, where
    previous = item.ModifiedAttributesSequence[0]
    for tag in (PATIENT_ID, ISSUER_OF_PATIENT_ID):
        assert tag in previous, (where, tag)
        raw = sent.get(tag)
        expected = raw.value if raw is not None else None
        got = previous[tag].value
        assert (got or None) == (expected or None), (where, tag, got, expected)
    if ISSUER_QUALIFIERS in sent:
        assert previous[ISSUER_QUALIFIERS].value == sent[ISSUER_QUALIFIERS].value, where
    else:
        assert ISSUER_QUALIFIERS not in previous, where


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
