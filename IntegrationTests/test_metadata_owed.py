"""The Orthanc metadata of a stored file are written just after its answer (doc/Ledger.md,
"Metadata owed"): a reader of Orthanc's REST API still finds them right after the answer, a
complete upload has all of them, and what an Orthanc stopped in between owed is written at its
next start."""

import hashlib
import os
import sqlite3
import time

import checks
import data
import harness
from harness import Upload
from mail_support import metric


def orthanc_instance_id(answer):
    """Orthanc's id of the stored instance, from the file's answer: the SHA-1 of its
    PatientID, StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID (Orthanc's hasher)."""
    key = "|".join(answer[k] for k in ("patientId", "studyInstanceUid", "seriesInstanceUid",
                                       "sopInstanceUid"))
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
    return "-".join(digest[i:i + 8] for i in range(0, 40, 8))


def cd_files(n):
    files = [data.Original(p) for p in data.cd_images()][:n]
    assert len(files) == n
    return files


def upload_of(server, files):
    """An open upload to which "files" were sent, each answered 201."""
    upload = Upload.open(server)
    for original in files:
        r = upload.put(original.data)
        assert r.status_code == 201, r.text
    return upload


def run_ledger_sql(server, sql):
    """Runs one statement on the server's ledger while Orthanc is stopped."""
    if server.ledger_database is not None:
        # The ledger's tables live in the schema "inbound" (doc/Ledger.md, PostgreSQL).
        server.ledger_database.query("SET search_path TO inbound; " + sql)
        return
    with sqlite3.connect(os.path.join(server.storage, "inbound", "ledger.sqlite")) as db:
        db.execute(sql)


def test_a_reader_finds_the_metadata_of_each_file_right_after_its_answer(server):
    files = cd_files(25)
    upload = Upload.open(server)
    for original in files:
        r = upload.put(original.data)
        assert r.status_code == 201, r.text
        instance = orthanc_instance_id(r.json())
        # At once, before anything else: Orthanc's REST API waits for what was answered.
        assert server.metadata("instances", instance, "InboundSha256") == original.sha256
        assert server.metadata("instances", instance, "InboundUpload") == upload.id

    upload.complete_ok()
    stored = server.instances_of_upload(upload.id)
    assert len(stored) == len(files)
    by_sop = {o.ds.SOPInstanceUID: o for o in files}
    studies = set()
    for sop, instance in stored.items():
        original = by_sop[sop]
        checks.assert_instance_metadata(server, instance["ID"], original, upload.id)
        study = server.admin_json("GET", "/instances/%s/study" % instance["ID"])["ID"]
        studies.add((study, original.patient_id))
    for study, patient_id in studies:
        checks.assert_study_metadata(server, study, upload, patient_id)


def test_what_a_stopped_orthanc_owed_is_written_at_its_next_start(start_server):
    server = start_server()
    files = cd_files(4)
    upload = upload_of(server, files)
    upload.complete_ok()
    assert metric(server, "inbound_metadata_owed") == 0
    stored = server.instances_of_upload(upload.id)
    assert len(stored) == len(files)
    by_sop = {o.ds.SOPInstanceUID: o for o in files}
    # As if Orthanc had stopped between the files' answers and their metadata: the metadata
    # are not in Orthanc, the ledger says they are owed. Two were recorded a minute ago (left
    # over); two just now, as another Orthanc sharing the ledger records a file it is storing:
    # those are not taken for left-overs before 30 s.
    sops = sorted(stored)
    old, young = sops[:2], sops[2:]
    for sop in sops:
        orthanc_id = stored[sop]["ID"]
        for name in ("InboundSha256", "InboundUpload", "InboundOriginalPatientID"):
            r = server.admin("DELETE", "/instances/%s/metadata/%s" % (orthanc_id, name))
            assert r.status_code == 200, r.text
        assert server.metadata("instances", orthanc_id, "InboundSha256") is None
    server.stop()
    now_ms = int(time.time() * 1000)
    run_ledger_sql(server, "UPDATE items SET annotated = 0, stored_at = %d WHERE sop_uid IN (%s)"
                   % (now_ms - 60000, ", ".join("'%s'" % s for s in old)))
    run_ledger_sql(server, "UPDATE items SET annotated = 0, stored_at = %d WHERE sop_uid IN (%s)"
                   % (now_ms, ", ".join("'%s'" % s for s in young)))
    server.start()

    def written(sop):
        return server.metadata("instances", stored[sop]["ID"], "InboundSha256") is not None

    deadline = time.monotonic() + 20
    while not all(written(s) for s in old) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(written(s) for s in old), "left-overs still owed after 20 s"
    elapsed_ms = int(time.time() * 1000) - now_ms
    assert elapsed_ms < 25000, "too slow to see the young items before they age: %d ms" % elapsed_ms
    assert not any(written(s) for s in young)
    assert metric(server, "inbound_metadata_owed") == 2

    deadline = time.monotonic() + 60
    while metric(server, "inbound_metadata_owed") != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert metric(server, "inbound_metadata_owed") == 0
    assert int(time.time() * 1000) - now_ms >= 30000  # not taken before their 30 s
    for sop in sops:
        checks.assert_instance_metadata(server, stored[sop]["ID"], by_sop[sop], upload.id)


def test_a_cancelled_upload_leaves_nothing_owed_behind(start_server):
    server = start_server()
    upload = upload_of(server, cd_files(3))
    assert upload.cancel().status_code == 200
    assert not server.instances_of_upload(upload.id)
    # No metadata written on instances that are gone, no error logged for them.
    time.sleep(1)
    assert "metadata of stored files" not in server.log_tail(400)
