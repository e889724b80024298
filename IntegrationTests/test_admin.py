"""The admin routes: list, show, delete, audit."""

import time

import pytest

import checks
import data
import harness
from harness import Upload, assert_error


@pytest.fixture(scope="module")
def completed(server):
    """An upload of two files of one study, completed."""
    files = [data.Original(p) for p in data.cd_images(["77654033"]) if "/CT2/" in p][:2]
    assert len(files) == 2 and files[0].study_instance_uid == files[1].study_instance_uid
    upload = Upload.open(server, recipient="trauma", message="Two CT slices, please review")
    for original in files:
        r = upload.put(original.data)
        assert r.status_code == 201, r.text
    receipt = upload.complete_ok()
    return upload, files, receipt


def recipient_id(value):
    return value["id"] if isinstance(value, dict) else value


def test_admin_list(server, completed):
    upload, files, receipt = completed
    still_open = Upload.open(server, recipient=harness.OMIT)
    uploads = server.admin_uploads()
    by_id = {u["id"]: u for u in uploads}
    assert {upload.id, still_open.id} <= set(by_id)

    u = by_id[upload.id]
    assert u["state"] == "complete"
    checks.assert_iso_time(u["createdAt"], "createdAt")
    assert u["completedAt"] == receipt["completedAt"]
    for key in ("name", "email", "institution", "phone"):
        assert u["sender"][key] == upload.body["sender"][key]
    assert recipient_id(u["recipient"]) == "trauma"
    assert u["message"] == "Two CT slices, please review"
    assert u["files"] == 2
    assert u["bytes"] == sum(o.size for o in files)
    assert len(u["studies"]) == 1
    study = u["studies"][0]
    assert study["studyInstanceUid"] == files[0].study_instance_uid
    orthanc_study = server.admin_json("GET", "/studies/%s" % study["orthancId"])
    assert orthanc_study["MainDicomTags"]["StudyInstanceUID"] == files[0].study_instance_uid
    assert orthanc_study["PatientMainDicomTags"]["PatientID"] == \
        checks.isolated_patient_id(upload.id, "77654033")

    o = by_id[still_open.id]
    assert o["state"] == "open"
    assert o["completedAt"] in (None, "")
    assert o["recipient"] in (None, "")
    assert o["files"] == 0 and o["studies"] == []

    # Filtered by state.
    complete_only = server.admin_uploads(state="complete")
    assert upload.id in {x["id"] for x in complete_only}
    assert still_open.id not in {x["id"] for x in complete_only}
    assert all(x["state"] == "complete" for x in complete_only)
    assert len(server.admin_uploads(limit=1)) == 1

    # Since a time: the uploads created at or after it.
    recent = server.admin_uploads(since=u["createdAt"])
    assert upload.id in {x["id"] for x in recent}
    assert all(x["createdAt"] >= u["createdAt"] for x in recent)
    assert server.admin_uploads(since="2099-01-01T00:00:00Z") == []


def test_admin_show(server, completed):
    upload, files, receipt = completed
    u = server.admin_upload(upload.id)
    assert u["id"] == upload.id and u["state"] == "complete"
    assert u["files"] == 2
    items = {i["sha256"]: i for i in u["items"]}
    assert set(items) == {o.sha256 for o in files}
    for original in files:
        item = items[original.sha256]
        assert item["size"] == original.size
        assert item["sopInstanceUid"] == original.sop_instance_uid
        instance = server.admin_json("GET", "/instances/%s" % item["orthancId"])
        assert instance["MainDicomTags"]["SOPInstanceUID"] == original.sop_instance_uid
        assert server.metadata("instances", item["orthancId"], "InboundSha256") == \
            original.sha256

    history = u["history"]
    for entry in history:
        checks.assert_iso_time(entry["time"], "history time")
        assert isinstance(entry["event"], str) and entry["event"]
        assert "detail" in entry
    events = [e["event"] for e in history]
    assert [e for e in events if "open" in e or "creat" in e], events
    assert len([e for e in events if "stored" in e]) == 2, events
    assert [e for e in events if "complet" in e], events
    assert [e["time"] for e in history] == sorted(e["time"] for e in history)


def test_admin_unknown_upload(server):
    assert_error(server.admin("GET", "/inbound/admin/uploads/no-such-upload"), 404, "not-found")
    assert_error(server.admin("DELETE", "/inbound/admin/uploads/no-such-upload"), 404,
                 "not-found")


def test_admin_delete_removes_the_study(server):
    files = [data.Original(p) for p in data.cd_images(["77654033"]) if "/CR" in p]
    upload = Upload.open(server)
    for original in files:
        assert upload.put(original.data).status_code == 201
    upload.complete_ok()
    u = server.admin_upload(upload.id)
    studies = [s["orthancId"] for s in u["studies"]]
    instances = [i["orthancId"] for i in u["items"]]
    assert len(instances) == 3 and studies
    before = server.all_instances()
    for study in studies:
        assert server.admin("GET", "/studies/%s" % study).status_code == 200

    r = server.admin("DELETE", "/inbound/admin/uploads/%s" % upload.id)
    assert r.status_code == 200, r.text

    for study in studies:
        assert server.admin("GET", "/studies/%s" % study).status_code == 404
    for instance in instances:
        assert server.admin("GET", "/instances/%s" % instance).status_code == 404
    assert server.all_instances() == before - set(instances)
    assert server.patients_of_upload(upload.id) == []
    assert server.admin_upload(upload.id)["state"] == "deleted"
    # The sender can no longer add to it.
    assert_error(upload.put(data.Original(data.CT_SMALL).data), 409, "upload-closed")
    assert server.all_instances() == before - set(instances)

    history = [e["event"] for e in server.admin_upload(upload.id)["history"]]
    assert [e for e in history if "delet" in e or "removed" in e], history


def test_admin_audit(server, completed):
    upload, files, receipt = completed
    events = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 1000})["events"]
    assert events
    for e in events:
        for key in ("id", "time", "event", "uploadId", "ip", "detail"):
            assert key in e, e
        checks.assert_iso_time(e["time"], "audit time")
    assert [e["time"] for e in events] == sorted(e["time"] for e in events), "not newest last"
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)

    mine = [e for e in events if e["uploadId"] == upload.id]
    names = [e["event"] for e in mine]
    assert [n for n in names if "open" in n or "creat" in n], names
    assert len([n for n in names if "stored" in n]) == 2, names
    assert [n for n in names if "complet" in n], names
    assert all(e["ip"] == "127.0.0.1" for e in mine if "stored" in e["event"]), mine

    last_two = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 2})["events"]
    assert [e["id"] for e in last_two] == ids[-2:]

    since = events[-3]["time"]
    recent = server.admin_json("GET", "/inbound/admin/audit",
                               params={"since": since, "limit": 1000})["events"]
    assert recent and all(e["time"] >= since for e in recent)
    assert [e["id"] for e in recent] == [e["id"] for e in events if e["time"] >= since]


def test_refusals_are_audited(server):
    """Every refusal of the public side leaves an audit entry (doc/Architecture.md, fact 2:
    default deny). Refusals may reach the audit trail a moment later: wait a few seconds for
    them."""
    def events_after(last_id):
        return [e for e in server.admin_json("GET", "/inbound/admin/audit",
                                             params={"limit": 10000})["events"]
                if e["id"] > last_id]

    def wait_for(last_id, predicate, what):
        deadline = time.monotonic() + 5
        while True:
            found = [e for e in events_after(last_id) if predicate(e)]
            if found or time.monotonic() > deadline:
                assert found, "no audit entry for %s: %s" % (what, events_after(last_id))
                return found[0]
            time.sleep(0.2)

    def last_id():
        events = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 1})["events"]
        return events[-1]["id"] if events else 0

    start = last_id()
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(recipient="nobody"))
    assert_error(r, 400, "unknown-recipient")
    event = wait_for(start, lambda e: "unknown-recipient" in e["event"] + " " + str(e["detail"]),
                     "the refused upload")
    assert event["ip"] == "127.0.0.1"

    upload = Upload.open(server)
    start = last_id()
    assert_error(upload.put(b"not a DICOM file" * 20), 400, "not-dicom")
    event = wait_for(start, lambda e: "not-dicom" in e["event"] + " " + str(e["detail"]),
                     "the refused file")
    assert upload.id in (event["uploadId"] or "") + " " + str(event["detail"]), event
    assert event["ip"] == "127.0.0.1"


def test_receipt_without_recipient(server):
    upload = Upload.open(server, recipient=harness.OMIT)
    assert upload.put(data.Original(data.CT_SMALL).data).status_code == 201
    receipt = upload.complete_ok()
    assert receipt["recipient"] is None
    assert server.admin_upload(upload.id)["recipient"] in (None, "")
