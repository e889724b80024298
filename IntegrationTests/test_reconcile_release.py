"""A release with a chosen hospital identity (doc/Reconciliation.md), checked with pydicom in what
a real PACS (storescp) received: the coerced identity, the sender's values in
OriginalAttributesSequence and OtherPatientIDsSequence, the pixels and the other text unchanged."""

import pytest
from pydicom.tag import Tag

import reconcile_support as rs
from harness import assert_error

CONFIGURED_ISSUER = "HOSP-MAIN"
CLERK = ("clerk", "clerk-secret-8Hq2Lm5Vx9")  # a second admin: the audit names who released
COERCED = {Tag(0x0008, 0x0005), Tag(0x0008, 0x0050), Tag(0x0010, 0x0010), Tag(0x0010, 0x0020),
           Tag(0x0010, 0x0021), Tag(0x0010, 0x0030), Tag(0x0010, 0x0040), Tag(0x0010, 0x1002),
           Tag(0x0010, 0x0024), Tag(0x0400, 0x0561)}
UIDS = {Tag(0x0002, 0x0003), Tag(0x0008, 0x0018), Tag(0x0020, 0x000D), Tag(0x0020, 0x000E)}


@pytest.fixture(scope="module")
def site(plugin, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("reconcile-release"))
    yield from rs.running(plugin, folder, TimeoutSeconds=3, IssuerOfPatientID=CONFIGURED_ISSUER,
                          orthanc={"RegisteredUsers": {CLERK[0]: CLERK[1]}})


def assert_same_but(original, received, changed):
    """Every element of the sent file arrived with the same value (as pydicom decodes it,
    whatever the character set), except "changed"."""
    before = {e.tag: e for e in original.ds if e.tag.element != 0}
    after = {e.tag: e for e in received if e.tag.element != 0}
    lost = sorted(t for t in before if t not in after and t not in changed)
    differ = sorted(t for t in before if t in after and t not in changed
                    and before[t].value != after[t].value)
    assert not lost and not differ, (lost, differ)


def release_item(received):
    """The two OriginalAttributesSequence items: the isolation's, and the release's."""
    items = list(received.OriginalAttributesSequence)
    assert len(items) == 2, items
    for item in items:
        assert item.ModifyingSystem == "ORTHANC-INBOUND"
        assert item.ReasonForTheAttributeModification == "COERCE"
        assert len(str(item.AttributeModificationDateTime)) >= 14
    return items


def released_detail(server, upload_id):
    events = [e for e in rs.audit_events(server, "release-requested") if e["uploadId"] == upload_id]
    assert len(events) == 1, events
    return events[0]["detail"]


def test_release_coerces_the_identity_and_keeps_the_values_as_sent(site):
    server, env = site
    files = rs.make_cd("doe")
    upload = rs.send(server, files)
    answer = rs.candidates(server, upload.id)
    chosen = rs.patient_of(answer, "EXT-555")["candidates"][0]
    assert (chosen["source"], chosen["patientId"], chosen["score"]) == ("pacs", "H1003", 100)

    path = "/inbound/admin/uploads/%s/release" % upload.id
    r = server.request("POST", path, auth=CLERK, json={
        "modality": "store",
        "patient": {"id": "H1003", "issuer": "HOSP", "name": "Doe^Jane", "birthDate": "19700303",
                    "sex": "F"},
        "accessionNumber": "A2026-001",
        "candidate": {"source": chosen["source"], "score": chosen["score"]}})
    assert r.status_code == 202, r.text
    done = rs.done_forward(server, upload.id)
    assert done["patientId"] == "H1003" and done["origin"] == "admin", done

    for original, r in rs.arrived(env.store, files):
        assert rs.identity(r) == ("H1003", "HOSP", "Doe^Jane", "19700303", "F")
        assert r.AccessionNumber == "A2026-001"
        assert "IssuerOfPatientIDQualifiersSequence" not in r
        assert r.SOPInstanceUID == original.sop_instance_uid  # no new UIDs asked for
        assert r.StudyInstanceUID == original.study_instance_uid
        assert r.PixelData == original.ds.PixelData
        assert r.StudyDescription == "Schädel nativ"
        assert_same_but(original, r, COERCED)

        isolation, coercion = release_item(r)
        [before_isolation] = isolation.ModifiedAttributesSequence
        assert (before_isolation.PatientID, before_isolation.IssuerOfPatientID) == (
            "EXT-555", "CLINIC-X")
        [before] = coercion.ModifiedAttributesSequence
        assert (before.PatientID, before.IssuerOfPatientID, str(before.PatientName),
                before.AccessionNumber) == ("EXT-555", "CLINIC-X", "DOE^JANE", "CLIN-0042")
        for name in ("PatientBirthDate", "PatientSex"):  # unchanged: absent or as sent
            if name in before:
                assert before.get(name) == original.ds.get(name), name

        other = [(i.PatientID, i.IssuerOfPatientID, i.TypeOfPatientID)
                 for i in r.OtherPatientIDsSequence]
        assert other == [("CLINIC-X-OLD-1", "CLINIC-X-OLD", "TEXT"),
                         ("EXT-555", "CLINIC-X", "TEXT")], other

    detail = released_detail(server, upload.id)
    for part in ("store", "as PatientID H1003", "issuer HOSP", "accession A2026-001",
                 "by clerk", "candidate pacs score 100"):
        assert part in detail, (part, detail)
    assert "mismatch confirmed" not in detail
    # The isolated copy stays as it was; the hospital's PatientID is not in this Orthanc.
    assert len(server.instances_of_upload(upload.id)) == len(files)
    assert server.find("Patient", {"PatientID": "H1003"}) == []


def test_a_name_outside_latin1_into_a_latin1_cd_with_new_uids(site):
    server, env = site
    files = rs.make_cd("zoe")
    assert files[0].ds.SpecificCharacterSet == "ISO_IR 100"
    assert "Schädel nativ".encode("latin-1") in files[0].data
    upload = rs.send(server, files)
    # No issuer given: Reconciliation.IssuerOfPatientID.
    rs.release(server, upload.id, {
        "modality": "store", "newUids": True,
        "patient": {"id": "H1008", "name": "Łukasiewicz^Zoë", "birthDate": "19850707",
                    "sex": "F"}})
    received = rs.wait_received(env.store, files)
    sent_uids = {o.sop_instance_uid for o in files} | {o.study_instance_uid for o in files} | {
        o.series_instance_uid for o in files}
    for original in files:
        r = received[bytes(original.ds.PixelData)]
        assert rs.identity(r) == ("H1008", CONFIGURED_ISSUER, "Łukasiewicz^Zoë", "19850707", "F")
        assert r.AccessionNumber == "CLIN-0100"  # none given: as sent
        # The whole file is UTF-8 now: the other text still reads right.
        assert r.SpecificCharacterSet == "ISO_IR 192"
        assert r.StudyDescription == "Schädel nativ"
        assert r.PixelData == original.ds.PixelData
        assert not {r.SOPInstanceUID, r.StudyInstanceUID, r.SeriesInstanceUID} & sent_uids
        assert_same_but(original, r, COERCED | UIDS)
        isolation, coercion = release_item(r)
        [before] = coercion.ModifiedAttributesSequence
        assert str(before.PatientName) == "Lukasiewicz^Zoë" and before.PatientID == "PRAXIS-31"
        assert not before.get("IssuerOfPatientID")  # the sender named none
        [added] = r.OtherPatientIDsSequence
        assert (added.PatientID, added.IssuerOfPatientID, added.TypeOfPatientID) == (
            "PRAXIS-31", "ORTHANC-INBOUND %s" % upload.id, "TEXT")
    detail = released_detail(server, upload.id)
    assert "as PatientID H1008 (issuer %s)" % CONFIGURED_ISSUER in detail, detail
    assert "candidate" not in detail, detail  # none was named


@pytest.mark.parametrize("patient,what", [
    ({"id": "H1009", "name": "DOE^JANE", "birthDate": "19650612", "sex": "F"}, "birth date"),
    ({"id": "H1003", "name": "DOE^JANE", "birthDate": "19700303", "sex": "M"}, "sex"),
])
def test_a_mismatch_needs_a_confirmation(site, patient, what):
    server, env = site
    files = rs.make_cd("doe", per_patient=1)
    upload = rs.send(server, files)
    body = {"modality": "store", "patient": dict(patient, issuer="HOSP"),
            "candidate": {"source": "pacs", "score": 15}}
    error = assert_error(rs.release(server, upload.id, body, expected=409),
                         409, "confirmation-required")
    assert what in error["message"], error
    assert rs.forwards(server, upload.id) == []
    assert [e for e in rs.audit_events(server, "release-requested")
            if e["uploadId"] == upload.id] == []

    rs.release(server, upload.id, dict(body, confirmMismatch=True))
    [r] = rs.wait_received(env.store, files).values()
    assert (r.PatientID, r.PatientBirthDate, r.PatientSex) == (
        patient["id"], patient["birthDate"], patient["sex"])
    [before] = release_item(r)[1].ModifiedAttributesSequence
    field = "PatientBirthDate" if what == "birth date" else "PatientSex"
    assert before.get(field) == files[0].ds.get(field), before
    detail = released_detail(server, upload.id)
    assert detail.endswith("mismatch confirmed") and "candidate pacs score 15" in detail, detail


def test_an_ambiguous_patient_needs_a_confirmation(site):
    server, env = site
    files = rs.make_cd("jurgen", per_patient=1)
    upload = rs.send(server, files)
    jurgen = rs.patient_of(rs.candidates(server, upload.id), "PRAXIS-50")
    assert jurgen["ambiguous"] is True, jurgen  # H1001 and H1007, both 90
    assert {"H1001", "H1007"} <= {c["patientId"] for c in jurgen["candidates"] if c["fits"]}
    body = {"modality": "store", "patient": {"id": "H1007", "name": "MULLER^JURGEN",
                                             "birthDate": "19600101", "sex": "M"}}
    assert_error(rs.release(server, upload.id, body, expected=409), 409, "confirmation-required")
    rs.release(server, upload.id, dict(body, confirmMismatch=True))
    [r] = rs.wait_received(env.store, files).values()
    assert (r.PatientID, str(r.PatientName)) == ("H1007", "MULLER^JURGEN")


@pytest.mark.parametrize("field,value", [
    ("sex", "X"), ("sex", "male"), ("issuer", "I" * 65), ("issuer", "bad\\issuer"),
    ("issuer", "ctrl\x01"),
])
def test_release_fields_are_checked(site, field, value):
    server, env = site
    upload = rs.send(server, rs.make_cd("roe", per_patient=1))
    patient = {"id": "H9999", "name": "Roe^Richard", "birthDate": "19811124", field: value}
    assert_error(rs.release(server, upload.id, {"modality": "store", "patient": patient},
                            expected=400), 400, "invalid-field")
    assert rs.forwards(server, upload.id) == []


@pytest.mark.parametrize("value", ["A" * 17, "ACC\\2", "ACC\x07"])
def test_release_accession_is_checked(site, value):
    server, env = site
    upload = rs.send(server, rs.make_cd("roe", per_patient=1))
    body = {"modality": "store", "accessionNumber": value,
            "patient": {"id": "H9999", "name": "Roe^Richard", "birthDate": "19811124"}}
    assert_error(rs.release(server, upload.id, body, expected=400), 400, "invalid-field")
    assert rs.forwards(server, upload.id) == []
