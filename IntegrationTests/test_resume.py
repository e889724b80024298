"""Orthanc restarts, or crashes, in the middle of an upload: the sender resumes where it
stopped."""

import pytest

import data
from harness import Upload


@pytest.mark.parametrize("how", ["restart", "crash"])
def test_upload_resumes_after_restart(start_server, how):
    server = start_server()
    files = [data.Original(p) for p in data.cd_images(["98892001"])]
    assert len(files) == 7
    upload = Upload.open(server)
    sent_before = files[:4]
    answers = {}
    for original in sent_before:
        r = upload.put(original.data)
        assert r.status_code == 201, r.text
        answers[original.sha256] = r.json()
    assert server.count_instances() == 4

    if how == "crash":
        server.kill()       # every file answered 201 must survive a crash
        server.start()
    else:
        server.restart()

    status = upload.status_json()
    assert status["state"] == "open"
    listed = {f["sha256"]: f for f in status["files"]}
    assert set(listed) == {o.sha256 for o in sent_before}
    assert status["receivedFiles"] == 4
    assert status["receivedBytes"] == sum(o.size for o in sent_before)
    for original in sent_before:
        assert listed[original.sha256]["size"] == original.size
        assert listed[original.sha256]["status"] == "stored"

    # A client that lost the answer to its last file sends it again.
    r = upload.put(sent_before[-1].data)
    assert r.status_code == 200, r.text
    assert r.json() == answers[sent_before[-1].sha256]
    assert server.count_instances() == 4

    # The client sends only what the server does not list.
    missing = [o for o in files if o.sha256 not in listed]
    assert len(missing) == 3
    for original in missing:
        r = upload.put(original.data)
        assert r.status_code == 201, r.text
    receipt = upload.complete_ok()
    assert receipt["files"] == 7
    assert receipt["bytes"] == sum(o.size for o in files)
    assert sum(s["instances"] for s in receipt["studies"]) == 7

    # Each instance exactly once.
    assert server.count_instances() == 7
    stored = server.instances_of_upload(upload.id)
    assert set(stored) == {o.sop_instance_uid for o in files}
    for original in files:
        assert server.metadata("instances", stored[original.sop_instance_uid]["ID"],
                               "InboundSha256") == original.sha256

    # And the completed upload survives a restart too.
    server.restart()
    assert upload.status_json()["state"] == "complete"
    assert upload.complete_ok() == receipt
    assert server.count_instances() == 7
