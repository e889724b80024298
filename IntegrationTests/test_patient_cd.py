"""A real patient CD uploaded file by file, as the upload page does it: isolation, metadata,
receipt, and the hospital's own patients left untouched."""

import pytest

import checks
import data
import harness
from harness import Upload, assert_error


@pytest.fixture(scope="module")
def cd():
    originals = [data.Original(p) for p in data.cd_images()]
    # What the CD holds, read with pydicom: the test relies on it.
    assert len(originals) == 31
    assert {o.patient_id for o in originals} == {"77654033", "98890234"}
    assert len(data.studies_of(originals)) == 6
    assert {str(o.ds.Modality) for o in originals} == {"CT", "MR", "CR"}
    assert len({o.sop_instance_uid for o in originals}) == 31
    return originals


def test_patient_cd_upload(server, cd):
    dicomdir = harness.read(data.CD_DICOMDIR)
    before = server.all_instances()
    upload = Upload.open(server)

    # The page sends every file of the folder the sender picked, DICOMDIR included.
    r = upload.put(dicomdir)
    assert_error(r, 422, "dicomdir")
    answers = {}
    for original in cd:
        r = upload.put(original.data)
        assert r.status_code == 201, "%s: %d %s" % (original.path, r.status_code, r.text)
        checks.assert_put_answer(r.json(), original, upload.id)
        answers[original.sha256] = r.json()

    status = upload.status_json()
    assert status["id"] == upload.id
    assert status["state"] == "open"
    assert status["receivedFiles"] == 31
    assert status["receivedBytes"] == sum(o.size for o in cd)
    listed = {f["sha256"]: f for f in status["files"]}
    assert set(listed) == {o.sha256 for o in cd}, "the DICOMDIR must not be listed as received"
    for original in cd:
        assert listed[original.sha256]["size"] == original.size
        assert listed[original.sha256]["status"] == "stored"

    # Every image stored, the DICOMDIR not.
    after = server.all_instances()
    assert before <= after
    new = after - before
    assert len(new) == 31

    # One isolated patient per original PatientID, holding exactly the new instances.
    patients = server.patients_of_upload(upload.id)
    by_patient_id = {p["MainDicomTags"]["PatientID"]: p for p in patients}
    assert set(by_patient_id) == {checks.seen_isolated_patient_id(upload.id, pid)
                                  for pid in ("77654033", "98890234")}
    assert len(by_patient_id) == 2
    stored = server.instances_of_upload(upload.id)
    assert {i["ID"] for i in stored.values()} == new
    assert set(stored) == {o.sop_instance_uid for o in cd}

    for original in cd:
        instance = stored[original.sop_instance_uid]
        checks.assert_instance_metadata(server, instance["ID"], original, upload.id)
        stored_bytes = server.instance_file(instance["ID"])
        checks.assert_same_dicom_but_patient(original, stored_bytes, upload.id)
        tags = server.admin_json("GET", "/instances/%s/simplified-tags" % instance["ID"])
        for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality"):
            assert tags[name] == str(original.ds.get(name)), (original.path, name)
        assert tags["PatientName"] == str(original.ds.PatientName), original.path
        assert tags["PatientID"] == answers[original.sha256]["patientId"]

    expected_studies = data.studies_of(cd)
    for uid, expected in expected_studies.items():
        found = server.find("Study", {"StudyInstanceUID": uid,
                                      "PatientID": checks.seen_isolated_patient_id(
                                          upload.id, expected["patientId"])})
        assert len(found) == 1, uid
        checks.assert_study_metadata(server, found[0], upload, expected["patientId"])

    # The receipt.
    receipt = upload.complete_ok()
    assert receipt["id"] == upload.id
    assert receipt["state"] == "complete"
    checks.assert_iso_time(receipt["completedAt"], "completedAt")
    assert receipt["files"] == 31
    assert receipt["bytes"] == sum(o.size for o in cd)
    assert (receipt["recipient"]["id"], receipt["recipient"]["name"]) == \
        ("neuroradiology", "Neuroradiology")
    assert isinstance(receipt["receiptCode"], str) and receipt["receiptCode"]
    studies = {s["studyInstanceUid"]: s for s in receipt["studies"]}
    assert len(receipt["studies"]) == 6
    assert set(studies) == set(expected_studies)
    for uid, expected in expected_studies.items():
        s = studies[uid]
        assert s["instances"] == expected["instances"], (uid, s)
        assert set(s["modalities"]) == expected["modalities"], (uid, s)
        assert s["studyDate"] == expected["studyDate"], (uid, s)
        assert s["description"] == expected["description"], (uid, s)
    assert "hospital.example" not in repr(receipt), "the receipt shows a recipient's e-mail"

    # Completing again answers the same receipt.
    assert upload.complete_ok() == receipt
    assert server.all_instances() == after


def test_pre_existing_patient_is_untouched(server, cd):
    """The hospital already holds patient 77654033; a sender uploads the same patient's CD
    (including two files the hospital already has, with the same UIDs)."""
    same_patient = [o for o in cd if o.patient_id == "77654033"]
    assert len(same_patient) == 7
    native_files = [same_patient[0], same_patient[-1]]
    native_ids = []
    for original in native_files:
        r = server.admin("POST", "/instances", data=original.data)
        assert r.status_code == 200, r.text
        native_ids.append(r.json()["ID"])
    patient = server.admin_json("GET", "/instances/%s/patient" % native_ids[0])
    patient_orthanc_id = patient["ID"]
    assert patient["MainDicomTags"]["PatientID"] == "77654033"

    def snapshot():
        p = server.admin_json("GET", "/patients/%s" % patient_orthanc_id)
        p.pop("IsStable", None)
        instances = sorted(i["ID"] for i in
                           server.admin_json("GET", "/patients/%s/instances" % patient_orthanc_id))
        files = {i: server.instance_file(i) for i in instances}
        metadata = {i: server.admin_json("GET", "/instances/%s/metadata?expand" % i)
                    for i in instances}
        return p, instances, files, metadata

    before = snapshot()
    assert before[1] == sorted(native_ids)
    assert before[2][native_ids[0]] == native_files[0].data

    upload = Upload.open(server)
    for original in same_patient:
        r = upload.put(original.data)
        assert r.status_code == 201, r.text
        assert r.json()["patientId"] != "77654033"
    upload.complete_ok()

    after = snapshot()
    assert after[0] == before[0], "the patient resource changed"
    assert after[1] == before[1], "the patient's instances changed"
    assert after[2] == before[2], "the patient's files changed"
    assert after[3] == before[3], "the patient's metadata changed"
    for i in native_ids:
        assert server.metadata("instances", i, "InboundUpload") is None

    # The upload went to a patient of its own.
    uploaded = server.patients_of_upload(upload.id)
    assert len(uploaded) == 1
    assert uploaded[0]["ID"] != patient_orthanc_id
    assert uploaded[0]["MainDicomTags"]["PatientID"] == \
        checks.isolated_patient_id(upload.id, "77654033")
    assert len(server.instances_of_upload(upload.id)) == 7
    # Natively, PatientID 77654033 still designates exactly the hospital's patient.
    assert server.find("Patient", {"PatientID": "77654033"}) == [patient_orthanc_id]


def test_same_files_in_two_uploads_are_two_patients(server, cd):
    files = [o for o in cd if o.patient_id == "77654033" and "/CR" in o.path]
    assert len(files) == 3
    before = server.count_instances()
    uploads = []
    for _ in range(2):
        upload = Upload.open(server)
        for original in files:
            r = upload.put(original.data)
            assert r.status_code == 201, r.text
        upload.complete_ok()
        uploads.append(upload)
    assert uploads[0].id != uploads[1].id

    assert server.count_instances() == before + 6
    patients = [server.patients_of_upload(u.id) for u in uploads]
    assert all(len(p) == 1 for p in patients)
    assert patients[0][0]["ID"] != patients[1][0]["ID"]
    assert patients[0][0]["MainDicomTags"]["PatientID"] != \
        patients[1][0]["MainDicomTags"]["PatientID"]
    instances = [server.instances_of_upload(u.id) for u in uploads]
    assert set(instances[0]) == set(instances[1]) == {o.sop_instance_uid for o in files}
    assert not ({i["ID"] for i in instances[0].values()} &
                {i["ID"] for i in instances[1].values()})


def test_two_different_files_with_one_sop_instance_uid(server):
    """Two different files carrying the same SOP Instance UID in one upload (here the same
    image in two transfer syntaxes): whatever is answered, every file acknowledged as stored
    is in the archive byte for byte, and the receipt counts only what the archive holds."""
    first = data.Original(data.MR_SMALL)
    second = data.Original(data.test_file("MR_small_implicit.dcm"))
    assert first.sop_instance_uid == second.sop_instance_uid and first.sha256 != second.sha256
    upload = Upload.open(server)
    assert upload.put(first.data).status_code == 201
    r = upload.put(second.data)
    assert r.status_code == 409 and r.json()["error"] == "duplicate-instance", r.text
    acknowledged = [first] + ([second] if r.status_code == 201 else [])

    stored = server.instances_of_upload(upload.id)
    hashes = {server.metadata("instances", i["ID"], "InboundSha256") for i in stored.values()}
    for original in acknowledged:
        assert original.sha256 in hashes, "%s was answered 201 but is not in the archive" % (
            original.path)
    for i in stored.values():
        digest = server.metadata("instances", i["ID"], "InboundSha256")
        kept = [o for o in acknowledged if o.sha256 == digest]
        assert kept, "an instance holds a file the sender was not told about"
        checks.assert_same_dicom_but_patient(kept[0], server.instance_file(i["ID"]), upload.id)
    receipt = upload.complete_ok()
    assert sum(s["instances"] for s in receipt["studies"]) == len(stored)
    assert receipt["files"] == len(acknowledged)
