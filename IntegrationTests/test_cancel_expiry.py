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
    assert server.count_instances() == 1
    assert server.admin_upload(idle.id)["state"] == "expired"

    assert done.status_json()["state"] == "complete"
    assert len(server.instances_of_upload(done.id)) == 1
