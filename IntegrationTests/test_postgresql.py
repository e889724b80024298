"""The Internal role on PostgreSQL (Debian's orthanc-postgresql 4.0 against a real PostgreSQL
server started here), from the shipped samples: a patient CD sent to the gateway is pulled in,
stored isolated with the sender's metadata, and is really in PostgreSQL (read back with psql);
it is released, reconciled, to a real PACS; the internal Orthanc killed with -9 comes back on
the same database with everything, and pulls the next upload.

Two set-ups a hospital would run: the index in PostgreSQL and the files on disk (what Orthanc's
documentation recommends), and both index and files in PostgreSQL."""

import json
import os
import time

import pytest
from pydicom.tag import Tag

import checks
import data
import gateway_support
import postgres
from pacs import Pacs
from samples import SampleServer
from test_pull import send, wait_for_upload
from test_release import RECONCILED, assert_same_but, wait_for_forwards

# The metadata the samples declare (UserMetadata), as numbers in Orthanc's database.
UPLOAD, SENDER, ORIGINAL_PATIENT_ID, SHA256 = 4201, 4202, 4203, 4204
DICOM_ATTACHMENT = 1  # Orthanc's FileContentType_Dicom
# The hospital's identity of each patient of the CD, chosen at release.
HOSPITAL = {
    "77654033": {"id": "HOSP-000771", "name": "Doe^John", "birthDate": "19650412"},
    "98890234": {"id": "HOSP-000989", "name": "Roe^Jane", "birthDate": "19800229"},
}
PATIENT_ID = Tag(0x0010, 0x0020)


@pytest.fixture(scope="module")
def postgresql():
    """A PostgreSQL server for the module; None when it or the plugins are not installed (the
    test then fails, naming the Debian packages: this is no optional part to skip)."""
    if postgres.missing_packages():
        yield None
        return
    server = postgres.PostgreSQL()
    try:
        server.start()
    except BaseException:
        print(server.log_tail())
        server.cleanup()
        raise
    yield server
    server.cleanup()


@pytest.mark.parametrize("storage", ["files-on-disk", "files-in-postgresql"])
def test_the_internal_role_on_postgresql(plugin, postgresql, tmp_path, storage):
    problems = postgres.missing_packages()
    if problems:
        pytest.fail("PostgreSQL for Orthanc is not installed:\n  " + "\n  ".join(problems),
                    pytrace=False)
    in_database = storage == "files-in-postgresql"
    name = "orthanc_" + ("full" if in_database else "index")
    database = postgresql.create_database(name, name, "a-password-for-" + name)
    section, pg_plugins = postgres.orthanc_settings(database, storage=in_database)

    pacs = Pacs(str(tmp_path / "pacs"))
    gateway = SampleServer(plugin, "Gateway.json")
    # As in test_pull.test_the_shipped_samples_work_together: the gateway is reached without
    # nginx, the inside answers loopback only and has no DICOM port; the PACS is storescp here.
    internal = SampleServer(plugin, "Internal.json", settings={
        "RemoteAccessAllowed": False,
        "DicomServerEnabled": False, "DicomModalities.pacs": pacs.modality(),
        "PostgreSQL": section, "Plugins": [plugin] + pg_plugins})
    servers = [internal, gateway]
    try:
        pacs.start()
        gateway.start()
        internal.settings["OrthancPeers.dmz.Url"] = gateway.url + "/"
        internal.start()
        run(database, gateway, internal, pacs, in_database)
        for s in servers:
            s.stop_cleanly()
    except BaseException:
        for s in servers:
            print(s.log_tail(80))
        print(postgresql.log_tail())
        raise
    finally:
        for s in servers:
            s.cleanup()
        pacs.stop()


def run(database, gateway, internal, pacs, in_database):
    started = time.monotonic()
    originals = {}
    for path in data.cd_images():
        o = data.Original(path)
        originals[o.sha256] = o

    # The patient CD, sent to the gateway, pulled in and stored isolated with its metadata.
    upload = send(gateway, [o.path for o in originals.values()])
    inside = wait_for_upload(internal, upload.id, "complete")
    assert inside["files"] == len(originals)
    wait_for_upload(gateway, upload.id, "delivered")
    stored = assert_stored(internal, upload, originals)
    print("pulled and checked in %.1f s" % (time.monotonic() - started))

    # ... and really in PostgreSQL: Orthanc's index (and files) read back with psql.
    assert_in_postgresql(database, internal, upload, originals, stored, in_database)

    # Released to the PACS, each patient with the hospital's identity.
    release(internal, upload, pacs, originals)
    print("released in %.1f s" % (time.monotonic() - started))
    # The reconciled copies were removed again, from PostgreSQL too.
    assert int(database.scalar("SELECT count(*) FROM resources WHERE resourcetype = %d"
                               % postgres.INSTANCE)) == len(originals)

    # kill -9, and back on the same database: everything is there, and the next upload comes in.
    internal.kill()
    internal.start()
    again = internal.admin_upload(upload.id)
    assert again["state"] == "complete" and again["files"] == len(originals), again
    assert {uid: i["ID"] for uid, i in internal.instances_of_upload(upload.id).items()} == \
        {uid: i["ID"] for uid, i in stored.items()}
    assert_metadata(internal, upload, originals, stored)
    assert all(f["state"] == "done" for f in internal.admin_json(
        "GET", "/inbound/admin/forwards", params={"upload": upload.id})["forwards"])

    # The whole CD again (a second upload, its own namespace), and kill -9 once PostgreSQL
    # holds its first instances, in the middle of the pull where the timing allows: afterwards
    # every file of it is inside exactly once.
    second = send(gateway, [o.path for o in originals.values()])
    instances_of = ("SELECT count(*) FROM metadata m JOIN resources r ON r.internalid = m.id "
                    "WHERE m.type = %d AND m.value = '%s' AND r.resourcetype = %d"
                    % (UPLOAD, second.id, postgres.INSTANCE))
    deadline = time.monotonic() + 30
    while int(database.scalar(instances_of)) == 0:
        assert time.monotonic() < deadline, "the second upload never reached PostgreSQL"
        time.sleep(0.02)
    internal.kill()
    in_postgresql = int(database.scalar(instances_of))
    print("killed with %d of %d instances of the second upload in PostgreSQL"
          % (in_postgresql, len(originals)))
    internal.start()
    # Killed while it was parsing or storing an item (most likely, with PostgreSQL that
    # slow): the crash guard holds the upload with an alert instead of parsing the item
    # again at every start; an admin releases it and the pull resumes where it stopped.
    gateways = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]
    if second.id in gateways[0]["held"]:
        alerts = [e for e in gateway_support.audit(internal)
                  if e["event"] == "alert-upload-held" and e["uploadId"] == second.id]
        assert alerts and "stopped while processing" in alerts[-1]["detail"], alerts
        r = internal.admin("POST", "/inbound/admin/gateways/dmz/held/%s/retry" % second.id)
        assert r.status_code == 200, r.text
        print("held after the kill, released by the admin route")
    assert wait_for_upload(internal, second.id, "complete")["files"] == len(originals)
    wait_for_upload(gateway, second.id, "delivered")
    second_stored = assert_stored(internal, second, originals)
    rows = database.query(instances_of.replace("count(*)", "r.publicid"))
    assert sorted(r[0] for r in rows) == sorted(i["ID"] for i in second_stored.values())
    assert internal.count_instances() == 2 * len(originals)
    print("restarted and pulled again in %.1f s" % (time.monotonic() - started))


def assert_stored(internal, upload, originals):
    """Every file of the upload stored once, isolated, byte for byte but for the isolation,
    with the sender's metadata. Returns SOPInstanceUID -> Orthanc instance."""
    stored = internal.instances_of_upload(upload.id)
    assert len(stored) == len(originals)
    digests = set()
    for instance in stored.values():
        digest = internal.metadata("instances", instance["ID"], "InboundSha256")
        assert digest in originals, digest
        digests.add(digest)
        original = originals[digest]
        checks.assert_same_dicom_but_patient(original, internal.instance_file(instance["ID"]),
                                             upload.id)
    assert digests == set(originals)
    assert_metadata(internal, upload, originals, stored)
    return stored


def studies_of(internal, upload, originals):
    """Orthanc study id -> original PatientID, for every study of the upload (each isolated
    PatientID as the checks of the stored files saw it)."""
    by_isolated = {checks.seen_isolated_patient_id(upload.id, o.patient_id): o.patient_id
                   for o in originals.values()}
    studies = {}
    for patient in internal.patients_of_upload(upload.id):
        isolated = patient["MainDicomTags"]["PatientID"]
        assert isolated in by_isolated, isolated
        for study in patient["Studies"]:
            studies[study] = by_isolated[isolated]
    return studies


def assert_metadata(internal, upload, originals, stored):
    by_sop = {o.sop_instance_uid: o for o in originals.values()}
    for uid, instance in stored.items():
        checks.assert_instance_metadata(internal, instance["ID"], by_sop[uid], upload.id)
    studies = studies_of(internal, upload, originals)
    assert len(studies) == len({o.study_instance_uid for o in originals.values()})
    for study, patient_id in studies.items():
        checks.assert_study_metadata(internal, study, upload, patient_id)


def assert_in_postgresql(database, internal, upload, originals, stored, in_database):
    instances = {i["ID"]: uid for uid, i in stored.items()}
    by_sop = {o.sop_instance_uid: o for o in originals.values()}

    # The resources and the isolated PatientIDs are in Orthanc's tables in PostgreSQL.
    counts = dict(database.query("SELECT resourcetype, count(*) FROM resources GROUP BY 1"))
    statistics = internal.admin_json("GET", "/statistics")
    assert int(counts[str(postgres.INSTANCE)]) == statistics["CountInstances"] == len(originals)
    assert int(counts[str(postgres.STUDY)]) == statistics["CountStudies"]
    assert int(counts[str(postgres.PATIENT)]) == statistics["CountPatients"] == 2
    patient_ids = {r[0] for r in database.query(
        "SELECT d.value FROM dicomidentifiers d JOIN resources r ON r.internalid = d.id "
        "WHERE r.resourcetype = %d AND d.taggroup = %d AND d.tagelement = %d"
        % (postgres.PATIENT, PATIENT_ID.group, PATIENT_ID.element))}
    assert patient_ids == {checks.seen_isolated_patient_id(upload.id, o.patient_id)
                           for o in originals.values()}

    # The plugin's metadata (4201..4204) are rows of Orthanc's metadata table.
    rows = database.query(
        "SELECT r.publicid, r.resourcetype, m.type, m.value FROM metadata m "
        "JOIN resources r ON r.internalid = m.id WHERE m.type BETWEEN 4201 AND 4204")
    metadata = {(r[0], int(r[2])): r[3] for r in rows}
    for orthanc_id, uid in instances.items():
        o = by_sop[uid]
        assert metadata[(orthanc_id, UPLOAD)] == upload.id
        assert metadata[(orthanc_id, SHA256)] == o.sha256
        assert metadata[(orthanc_id, ORIGINAL_PATIENT_ID)] == o.patient_id
    studies = set(studies_of(internal, upload, originals))
    assert {r[0] for r in rows if int(r[1]) == postgres.STUDY} == studies
    for study in studies:
        assert metadata[(study, UPLOAD)] == upload.id
        sender = json.loads(metadata[(study, SENDER)])
        assert sender["sender"]["email"] == upload.body["sender"]["email"]
        assert sender["message"] == upload.body["message"]

    # Orthanc keeps no SQLite index of its own; the files are where the set-up puts them.
    assert not os.path.exists(os.path.join(internal.storage, "index"))
    attachments = {r[0]: r[1] for r in database.query(
        "SELECT r.publicid, a.uuid FROM attachedfiles a JOIN resources r ON r.internalid = a.id "
        "WHERE r.resourcetype = %d AND a.filetype = %d" % (postgres.INSTANCE, DICOM_ATTACHMENT))}
    assert set(attachments) == set(instances)
    on_disk = [os.path.join(d, f) for d, _, files in os.walk(internal.storage) for f in files]
    if in_database:
        uuids = ",".join("'%s'" % u for u in attachments.values())
        assert int(database.scalar(
            "SELECT count(*) FROM storagearea WHERE type = %d AND uuid IN (%s)"
            % (DICOM_ATTACHMENT, uuids))) == len(instances)
        # The large objects hold the stored files: the same bytes Orthanc serves.
        some = next(iter(instances))
        size = int(database.scalar(
            "SELECT sum(length(lo_get(content))) FROM storagearea WHERE uuid = '%s'"
            % attachments[some]))
        assert size == len(internal.instance_file(some))
        assert on_disk == [], on_disk
    else:
        assert database.scalar("SELECT to_regclass('storagearea') IS NULL") == "t"
        for uuid in attachments.values():
            path = os.path.join(internal.storage, uuid[0:2], uuid[2:4], uuid)
            assert os.path.isfile(path), path


def release(internal, upload, pacs, originals):
    """Each isolated patient's studies released with the hospital's identity of that patient."""
    path = "/inbound/admin/uploads/%s/release" % upload.id
    for patient in internal.patients_of_upload(upload.id):
        original_id = internal.metadata("studies", patient["Studies"][0], "InboundOriginalPatientID")
        answer = internal.admin("POST", path, json={
            "modality": "pacs", "studies": patient["Studies"], "patient": HOSPITAL[original_id]})
        assert answer.status_code == 202, answer.text
    done = wait_for_forwards(internal, upload.id, lambda f: f["state"] == "done", timeout=60)
    assert len(done) == len({o.study_instance_uid for o in originals.values()}), done

    received = pacs.wait_for(len(originals))
    assert len(received) == len(originals)
    by_sop = {o.sop_instance_uid: o for o in originals.values()}
    for r in received:
        original = by_sop[str(r.SOPInstanceUID)]
        hospital = HOSPITAL[original.patient_id]
        assert str(r.PatientID) == hospital["id"]
        assert str(r.PatientName) == hospital["name"]
        assert str(r.PatientBirthDate) == hospital["birthDate"]
        assert "IssuerOfPatientID" not in r
        assert_same_but(original, r, RECONCILED)
    for hospital in HOSPITAL.values():
        assert internal.find("Patient", {"PatientID": hospital["id"]}) == []
