"""A sender cancels, or walks away: what the upload stored is removed."""

import time

import data
from harness import Upload, assert_error


def cd_files(n, folder="98892001"):
    files = [data.Original(p) for p in data.cd_images([folder])][:n]
    assert len(files) == n
    return files


def wait_for_state(upload, state, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = upload.status_json()["state"]
        if last == state:
            return
        time.sleep(0.25)
    raise AssertionError("upload %s still %r after %.0f s, expected %r"
                         % (upload.id, last, timeout, state))


def test_cancel_removes_stored_data(server):
    files = cd_files(3)
    kept = Upload.open(server)
    assert kept.put(files[0].data).status_code == 201
    before = server.all_instances()

    upload = Upload.open(server)
    for original in files:
        assert upload.put(original.data).status_code == 201
    assert len(server.all_instances() - before) == 3
    assert len(server.patients_of_upload(upload.id)) == 1

    r = upload.cancel()
    assert r.status_code == 200, r.text
    assert r.json()["id"] == upload.id
    assert r.json()["state"] == "cancelled"

    assert server.all_instances() == before
    assert server.patients_of_upload(upload.id) == []
    assert server.admin_upload(upload.id)["state"] == "cancelled"
    assert_error(upload.put(files[1].data), 409, "upload-closed")
    assert_error(upload.complete(), 409, "upload-closed")
    assert server.all_instances() == before
    # Another upload of the same files is untouched.
    assert kept.status_json()["receivedFiles"] == 1
    assert len(server.instances_of_upload(kept.id)) == 1


def test_cancel_of_a_complete_upload_is_refused(server):
    (original,) = cd_files(1, "77654033")
    upload = Upload.open(server)
    assert upload.put(original.data).status_code == 201
    upload.complete_ok()
    before = server.all_instances()
    assert_error(upload.cancel(), 409, "upload-closed")
    assert server.all_instances() == before
    assert upload.status_json()["state"] == "complete"
    assert len(server.instances_of_upload(upload.id)) == 1


def test_idle_upload_expires(start_server):
    server = start_server(inbound={"Upload": {"OpenTimeout": 2, "ExpiryCheckInterval": 1}})
    files = cd_files(3)
    # A completed upload is not subject to expiry.
    done = Upload.open(server)
    assert done.put(files[2].data).status_code == 201
    done.complete_ok()

    idle = Upload.open(server)
    for original in files[:2]:
        assert idle.put(original.data).status_code == 201
    assert server.count_instances() == 3
    assert len(server.instances_of_upload(idle.id)) == 2

    wait_for_state(idle, "expired", timeout=15)

    assert len(server.instances_of_upload(idle.id)) == 0
    assert server.patients_of_upload(idle.id) == []
    assert server.count_instances() == 1
    assert_error(idle.put(files[2].data), 409, "upload-closed")
    assert_error(idle.complete(), 409, "upload-closed")
    assert_error(idle.cancel(), 409, "upload-closed")
    assert server.count_instances() == 1
    assert server.admin_upload(idle.id)["state"] == "expired"

    assert done.status_json()["state"] == "complete"
    assert len(server.instances_of_upload(done.id)) == 1


def test_activity_keeps_an_upload_open(start_server):
    server = start_server(inbound={"Upload": {"OpenTimeout": 3, "ExpiryCheckInterval": 1}})
    upload = Upload.open(server)
    # One new file a second for six seconds: never idle for three.
    for i in range(6):
        r = upload.put(data.make_dicom(patient_id="ACTIVE"))
        assert r.status_code == 201, "file %d: %d %s" % (i, r.status_code, r.text)
        time.sleep(1)
    assert upload.status_json()["state"] == "open"
    assert upload.complete_ok()["files"] == 6
    assert server.count_instances() == 6


def test_upload_idle_while_orthanc_was_down_expires(start_server):
    server = start_server(inbound={"Upload": {"OpenTimeout": 3, "ExpiryCheckInterval": 1}})
    upload = Upload.open(server)
    assert upload.put(cd_files(1)[0].data).status_code == 201
    server.stop()
    time.sleep(4)
    server.start()
    wait_for_state(upload, "expired", timeout=10)
    assert server.count_instances() == 0
    assert server.patients_of_upload(upload.id) == []


def test_admin_delete_of_an_open_upload(server):
    files = cd_files(2, "98892003")
    upload = Upload.open(server)
    assert upload.put(files[0].data).status_code == 201
    before = server.all_instances()
    r = server.admin("DELETE", "/inbound/admin/uploads/%s" % upload.id)
    assert r.status_code == 200, r.text
    assert len(before - server.all_instances()) == 1
    assert server.patients_of_upload(upload.id) == []
    assert server.admin_upload(upload.id)["state"] == "deleted"
    assert_error(upload.put(files[1].data), 409, "upload-closed")
    assert_error(upload.complete(), 409, "upload-closed")
    assert len(before - server.all_instances()) == 1
