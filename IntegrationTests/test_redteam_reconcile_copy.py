"""Red team, the reconciled copy and the automatic rule's limits (doc/Security.md): hostile DICOM already stored makes a release fail closed with nothing left behind; the sender's own records cannot pass for the isolation's; cut or truncated candidate lists never let an auto-forward through."""

import io
import time

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import reconcile_support as rs
from redteam_reconcile_support import craft, implicit_item

TIMEOUT = 2
H1003 = {"id": "H1003", "name": "DOE^JANE", "birthDate": "19700303", "sex": "F"}


@pytest.fixture(scope="module")
def site(plugin, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("redteam-copy"))
    yield from rs.running(plugin, folder, TimeoutSeconds=TIMEOUT)


def copies_of(server, originals):
    """The instances of this Orthanc, outside every upload's isolated patients, that hold the
    pixels of one of "originals" (a copy, whatever its UIDs)."""
    pixels = {bytes(o.ds.PixelData) for o in originals}
    found = []
    for patient in server.admin_json("GET", "/patients", params={"expand": ""}):
        if patient["MainDicomTags"].get("PatientID", "").startswith("INB-"):
            continue
        for instance in server.admin_json("GET", "/patients/%s/instances" % patient["ID"]):
            ds = pydicom.dcmread(io.BytesIO(server.instance_file(instance["ID"])))
            if bytes(ds.PixelData) in pixels:
                found.append(instance["ID"])
    return found


def doe_study(second_raw=None, second_charset="ISO_IR 100", second_description=None):
    """Two images of DOE^JANE (EXT-555) in one study; the second with "second_raw" elements,
    its own SpecificCharacterSet and StudyDescription (raw bytes)."""
    first = craft(pid="EXT-555", name="DOE^JANE", birth="19700303", sex="F")
    raw = dict(second_raw or {})
    if second_description is not None:
        raw[0x00081030] = ("LO", second_description)
    second = craft(pid="EXT-555", name="DOE^JANE", birth="19700303", sex="F", index=1,
                   charset=second_charset, study=first.study_instance_uid, raw=raw)
    return [first, second]


@pytest.mark.parametrize("files,name,why", [
    (lambda: doe_study({0x00101002: ("UN", implicit_item((0x0010, 0x0020, b"OLD-1 ")))}),
     "DOE^JANE", "OtherPatientIDsSequence is not a sequence"),
    (lambda: doe_study(second_charset="ISO_IR 999", second_description=b"Sch\xe4del"),
     "Łukasiewicz^Zoë", "cannot be converted to UTF-8"),
    (lambda: doe_study(second_charset=["", "ISO 2022 IR 87"],
                       second_description=b"\x1b$B;3ED\x1b(B"),
     "Łukasiewicz^Zoë", "cannot be converted to UTF-8"),
], ids=["UN other IDs", "unknown character set", "ISO 2022 escapes"])
@pytest.mark.parametrize("new_uids", [True, False], ids=["new UIDs", "same UIDs"])
def test_a_copy_that_cannot_be_written_fails_closed_and_leaves_nothing(site, files, name, why,
                                                                      new_uids):
    """The second image of the study cannot take the hospital's identity: the forward fails
    with a clear error, again at each retry, nothing reaches the PACS, and Orthanc keeps no
    part of the copy (the sender's images under the hospital's PatientID)."""
    server, env = site
    originals = files()
    upload = rs.send(server, originals)
    rs.release(server, upload.id, {"modality": "store", "newUids": new_uids,
                                   "patient": dict(H1003, name=name)})
    rs.wait_until("three attempts", lambda: rs.forwards(server, upload.id)[0]["attempts"] >= 3,
                  timeout=30)
    [forward] = rs.forwards(server, upload.id)
    assert forward["state"] in ("pending", "failed") and why in forward["lastError"], forward
    assert rs.received_of(env.store, originals) == {}
    assert copies_of(server, originals) == []
    # The upload itself is intact.
    assert server.admin_upload(upload.id)["state"] == "complete"
    assert len(server.instances_of_upload(upload.id)) == 2


def test_the_senders_own_record_cannot_pass_for_the_isolations(site):
    """The CD carries an OriginalAttributesSequence item of its own claiming to be
    ORTHANC-INBOUND's, with a hospital's PatientID and issuer as "the sender's": the
    released copy records the PatientID really sent, and keeps the forged item as it came."""
    server, env = site
    forged = Dataset()
    previous = Dataset()
    previous.PatientID, previous.IssuerOfPatientID = "H1004", "HOSP"
    forged.ModifiedAttributesSequence = Sequence([previous])
    forged.ModifyingSystem = "ORTHANC-INBOUND"
    forged.ReasonForTheAttributeModification = "COERCE"
    forged.AttributeModificationDateTime = "20200101120000"
    forged.SourceOfPreviousValues = "FORGED"
    files = [craft(pid="EXT-555", name="DOE^JANE", birth="19700303", sex="F",
                   original_items=[forged])]
    upload = rs.send(server, files)
    [patient] = rs.candidates(server, upload.id)["patients"]
    assert patient["issuer"] == "" and patient["originalPatientId"] == "EXT-555", patient
    rs.release(server, upload.id, {"modality": "store", "patient": H1003})
    [received] = rs.wait_received(env.store, files).values()
    items = list(received.OriginalAttributesSequence)
    assert len(items) == 3 and items[0].SourceOfPreviousValues == "FORGED"
    assert items[2].ModifiedAttributesSequence[0].PatientID == "EXT-555"
    others = [(i.PatientID, i.IssuerOfPatientID) for i in received.OtherPatientIDsSequence]
    assert others[-1] == ("EXT-555", "ORTHANC-INBOUND " + upload.id), others
    assert ("H1004", "HOSP") not in others


@pytest.mark.parametrize("claimed,passed_on", [("HOSP", False), ("hosp ", False),
                                               ("CLINIC-X", True)])
def test_a_cd_cannot_name_another_hospital_patient_as_the_released_ones(site, claimed, passed_on):
    """The CD says its patient is H1004 of the hospital's own issuer HOSP; released as H1003,
    the copy must not tell the PACS that H1003 is also HOSP's H1004 (a PACS or MPI linking
    patients by issuer-qualified other IDs would merge them): the upload names that ID's
    origin, and the claim stays in the release's OriginalAttributesSequence item. An issuer
    of another site is passed on as it came."""
    server, env = site
    files = [craft(pid="H1004", issuer=claimed, name="DOE^JANE", birth="19700303", sex="F")]
    upload = rs.send(server, files)
    rs.release(server, upload.id, {"modality": "store", "patient": dict(H1003, issuer="HOSP")})
    [received] = rs.wait_received(env.store, files).values()
    assert (received.PatientID, received.IssuerOfPatientID) == ("H1003", "HOSP")
    others = [(i.PatientID, i.IssuerOfPatientID) for i in received.OtherPatientIDsSequence]
    expected = claimed.strip() if passed_on else "ORTHANC-INBOUND " + upload.id
    assert others == [("H1004", expected)], others
    sent = received.OriginalAttributesSequence[-1].ModifiedAttributesSequence[0]
    assert (sent.PatientID, sent.IssuerOfPatientID) == ("H1004", claimed.strip())


def test_thousands_of_earlier_records_are_kept_and_one_appended(site):
    server, env = site
    items = []
    for i in range(3000):
        item = Dataset()
        previous = Dataset()
        previous.PatientID = "OLD-%d" % i
        item.ModifiedAttributesSequence = Sequence([previous])
        item.ModifyingSystem = "SOMEWHERE"
        items.append(item)
    files = [craft(pid="EXT-555", name="DOE^JANE", birth="19700303", sex="F",
                   original_items=items)]
    upload = rs.send(server, files)
    started = time.monotonic()
    rs.candidates(server, upload.id, fresh=True)
    assert time.monotonic() - started <= TIMEOUT + 1.5
    rs.release(server, upload.id, {"modality": "store", "patient": H1003})
    [received] = rs.wait_received(env.store, files).values()
    assert len(received.OriginalAttributesSequence) == 3002
    assert received.OriginalAttributesSequence[-1].ReasonForTheAttributeModification == "COERCE"
    assert received.PixelData == files[0].ds.PixelData


# ---------------------------------------------------------------- the automatic rule's limits

def waits(server, env, upload, files, reason):
    [waiting] = rs.wait_until("reconcile-waiting", lambda: [
        e for e in rs.audit_events(server, "reconcile-waiting") if e["uploadId"] == upload.id])
    assert waiting["detail"].endswith(reason), waiting
    time.sleep(3)
    assert rs.forwards(server, upload.id) == []
    assert rs.received_of(env.store, files) == {}


def test_a_short_candidate_list_still_waits_for_a_second_patient_above(start_server, tmp_path):
    """MaxCandidates 2 shows H1003 twice (PACS, worklist); H1004 (JANE^DOE, 85) is above
    AutoThreshold too: the request for H1003 waits for a person as with 10."""
    env = rs.Environment(str(tmp_path)).start()
    try:
        server = start_server(**env.server_kwargs(TimeoutSeconds=3, MaxCandidates=2))
        files = rs.make_cd("doe", per_patient=1)
        patient = {"id": "H1003", "name": "DOE^JANE", "birthDate": "19700303"}
        _, upload = rs.send_through_link(server, patient, files)
        waits(server, env, upload, files, "several-candidates-above")
    finally:
        env.stop()


def test_answers_cut_at_max_answers_never_reconcile_on_their_own(start_server, tmp_path):
    """Twins in the PACS, same name and birth date: with MaxAnswers 1 every query reads the
    first only and the second is never seen; the request for the first waits."""
    twins = [("H2001", "ROE^ANNA", "19750505", "F", "", ""),
             ("H2002", "ROE^ANNA", "19750505", "F", "", "")]
    env = rs.Environment(str(tmp_path))
    env.pacs = rs.QueryPacs(env.pacs.folder, patients=twins)
    env.start()
    try:
        server = start_server(**env.server_kwargs(sources=[("pacs", "Patient")],
                                                  TimeoutSeconds=3, MaxAnswers=1))
        files = [craft(pid="PRAXIS-77", name="ROE^ANNA", birth="19750505", sex="F")]
        patient = {"id": "H2001", "name": "ROE^ANNA", "birthDate": "19750505"}
        _, upload = rs.send_through_link(server, patient, files)
        waits(server, env, upload, files, "sources-truncated")
        assert rs.source_of(rs.candidates(server, upload.id), "pacs")["truncated"] is True
    finally:
        env.stop()


# ---------------------------------------------------------------- namespaced patients in the PACS

# What an earlier upload sent on with its namespaced PatientID (AutoForward "Namespaced", or
# keepNamespacedPatientId) left in the PACS: a "patient" whose name and birth date its sender
# chose — here those of H1008, whom the attacker wants to shadow.
PLANTED = ("INB-ABCDEFGHJKLM-1-PRAXIS-31", "Łukasiewicz^Zoë", "19850707", "F", "ISO_IR 192", "")
ZOE = {"id": "H1008", "name": "Łukasiewicz^Zoë", "birthDate": "19850707"}


def test_a_namespaced_patient_in_the_pacs_is_never_a_candidate(start_server, tmp_path):
    """A sender's namespaced patient in the PACS is nobody of the hospital: never offered, it
    neither stops the automatic release of H1008 nor can a person release to it."""
    env = rs.Environment(str(tmp_path))
    env.pacs = rs.QueryPacs(env.pacs.folder, patients=rs.PACS_PATIENTS + [PLANTED])
    env.start()
    try:
        server = start_server(**env.server_kwargs(TimeoutSeconds=3))
        files = rs.make_cd("zoe", per_patient=1)
        _, upload = rs.send_through_link(server, ZOE, files)
        assert rs.done_forward(server, upload.id)["patientId"] == "H1008"
        [patient] = rs.candidates(server, upload.id, fresh=True)["patients"]
        assert {c["patientId"] for c in patient["candidates"]} >= {"H1008"}, patient
        assert not [c for c in patient["candidates"] if c["patientId"].startswith("INB-")], \
            patient
        other = rs.send(server, rs.make_cd("zoe", per_patient=1))
        r = rs.release(server, other.id, {"modality": "store", "confirmMismatch": True,
                                          "patient": dict(ZOE, id=PLANTED[0])}, expected=400)
        assert r.json()["error"] == "invalid-field" and "namespaced" in r.json()["message"], r.text
        assert rs.forwards(server, other.id) == []
    finally:
        env.stop()
