"""Retries, wrong tokens and hostile or broken files: each gets its answer and leaves
nothing behind."""

import os

import pytest

import checks
import data
import harness
from harness import Upload, assert_error


@pytest.fixture
def mr_small():
    return data.Original(data.MR_SMALL)


@pytest.fixture
def ct_small():
    return data.Original(data.CT_SMALL)


def assert_nothing_new(server, upload, instances_before, received_before, sha=None):
    assert server.all_instances() == instances_before, "something was stored"
    status = upload.status_json()
    assert status["receivedFiles"] == received_before
    if sha is not None:
        assert sha not in {f["sha256"] for f in status["files"]}, "the refused file is listed"


def test_retry_is_idempotent(server, mr_small):
    upload = Upload.open(server)
    before = server.count_instances()
    first = upload.put(mr_small.data)
    assert first.status_code == 201, first.text
    checks.assert_put_answer(first.json(), mr_small, upload.id)
    assert server.count_instances() == before + 1

    second = upload.put(mr_small.data)
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert server.count_instances() == before + 1

    status = upload.status_json()
    assert [f["sha256"] for f in status["files"]] == [mr_small.sha256]
    assert status["receivedFiles"] == 1
    assert status["receivedBytes"] == mr_small.size
    assert len(server.instances_of_upload(upload.id)) == 1


def test_wrong_or_missing_token_is_not_found(server, mr_small, ct_small):
    upload = Upload.open(server)
    other = Upload.open(server)
    assert upload.put(mr_small.data).status_code == 201
    before = server.all_instances()
    last = upload.token[-1]
    wrong_tokens = ["", "not-the-token", other.token, upload.token + "x",
                    upload.token[:-1] + ("0" if last != "0" else "1")]

    for token in wrong_tokens:
        assert_error(upload.status(token=token), 404, "not-found")
        assert_error(upload.put(ct_small.data, token=token), 404, "not-found")
        assert_error(upload.complete(token=token), 404, "not-found")
        assert_error(upload.cancel(token=token), 404, "not-found")
    # No header at all.
    r = server.request("GET", upload.path())
    assert_error(r, 404, "not-found")
    r = server.request("PUT", upload.path("/files/%s" % ct_small.sha256), data=ct_small.data,
                       headers={"Content-Type": "application/dicom"})
    assert_error(r, 404, "not-found")
    # An upload that does not exist, asked with a valid token of another upload.
    r = server.request("GET", "/inbound/api/uploads/%s" % ("0" * len(upload.id)),
                       headers=upload.headers())
    assert_error(r, 404, "not-found")

    assert server.all_instances() == before
    status = upload.status_json()
    assert status["state"] == "open"
    assert [f["sha256"] for f in status["files"]] == [mr_small.sha256]


def test_completed_upload_refuses_files(server, mr_small, ct_small):
    upload = Upload.open(server)
    assert upload.put(mr_small.data).status_code == 201
    upload.complete_ok()
    before = server.all_instances()
    assert_error(upload.put(ct_small.data), 409, "upload-closed")
    # A retry of a file it already holds may be answered as before, or refused; either way
    # nothing is stored.
    r = upload.put(mr_small.data)
    assert r.status_code in (200, 409), r.text
    if r.status_code == 409:
        assert_error(r, 409, "upload-closed")
    assert server.all_instances() == before
    status = upload.status_json()
    assert status["state"] == "complete"
    assert [f["sha256"] for f in status["files"]] == [mr_small.sha256]


def test_complete_without_files_is_refused(server):
    upload = Upload.open(server)
    assert_error(upload.complete(), 409, "empty-upload")
    assert upload.status_json()["state"] == "open"


@pytest.mark.parametrize("name,body", [
    ("text", b"Hello, this is not a DICOM file at all.\n" * 10),
    ("png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2),
    ("short", b"DICM"),
    ("empty", b""),
    ("dicom without Part 10 header", None),
])
def test_not_dicom_is_refused(server, mr_small, name, body):
    if body is None:
        body = harness.read(data.NO_META)
    upload = Upload.open(server)
    assert upload.put(mr_small.data).status_code == 201
    before = server.all_instances()
    assert_error(upload.put(body), 400, "not-dicom")
    assert_nothing_new(server, upload, before, 1, harness.sha256(body))


@pytest.mark.parametrize("name", ["MR_truncated.dcm", "rtplan_truncated.dcm", "no SeriesInstanceUID",
                                  "no SOPInstanceUID", "no StudyInstanceUID", "header only"])
def test_invalid_dicom_is_refused(server, mr_small, name):
    if name.endswith(".dcm"):
        body = harness.read(data.test_file(name))
    elif name == "header only":
        body = mr_small.data[:200]
    else:
        body = data.make_dicom(omit=[name.split()[1]])
    upload = Upload.open(server)
    assert upload.put(mr_small.data).status_code == 201
    before = server.all_instances()
    assert_error(upload.put(body), 400, "invalid-dicom")
    assert_nothing_new(server, upload, before, 1, harness.sha256(body))


def test_hash_mismatch_is_refused(server, mr_small, ct_small):
    upload = Upload.open(server)
    before = server.all_instances()
    # The body of one file under the hash of another.
    assert_error(upload.put(mr_small.data, digest=ct_small.sha256), 409, "hash-mismatch")
    # One bit flipped in transit.
    damaged = bytearray(mr_small.data)
    damaged[-10] ^= 0x01
    assert_error(upload.put(bytes(damaged), digest=mr_small.sha256), 409, "hash-mismatch")
    assert_nothing_new(server, upload, before, 0)
    assert upload.status_json()["files"] == []
    # The right file under its right hash is still welcome afterwards.
    assert upload.put(mr_small.data).status_code == 201


@pytest.mark.parametrize("digest", ["abc", "0" * 63, "0" * 65, "g" * 64, "upper"])
def test_bad_hash_in_route_is_refused(server, mr_small, digest):
    if digest == "upper":
        digest = mr_small.sha256.upper()
    upload = Upload.open(server)
    before = server.all_instances()
    assert_error(upload.put(mr_small.data, digest=digest), 400, "bad-hash")
    assert_nothing_new(server, upload, before, 0)


def test_file_over_the_per_file_cap(start_server):
    server = start_server(inbound={"Upload": {"MaxFileBytes": 100000}})
    big = data.make_dicom(rows=256, columns=256)          # 128 KiB of pixels
    small = data.Original(data.CT_SMALL)                  # 39 KB
    assert len(big) > 100000 > small.size

    info = server.request("GET", "/inbound/api/info").json()
    assert info["limits"]["maxFileBytes"] == 100000
    upload = Upload.open(server)
    assert upload.answer["limits"]["maxFileBytes"] == 100000

    assert_error(upload.put(big), 413, "too-large")
    assert server.count_instances() == 0
    status = upload.status_json()
    assert status["files"] == [] and status["receivedFiles"] == 0

    # A file under the cap is stored as usual.
    r = upload.put(small.data)
    assert r.status_code == 201, r.text
    assert server.count_instances() == 1


def test_upload_over_the_per_upload_caps(start_server):
    files = [data.Original(p) for p in data.cd_images(["98892001"])][:3]
    cap = files[0].size + files[1].size + 100
    assert files[2].size > 100
    server = start_server(inbound={"Upload": {"MaxFilesPerUpload": 3, "MaxFileBytes": cap,
                                              "MaxBytesPerUpload": cap}})
    # Announced sizes over the caps are refused when the upload is opened.
    r = server.request("POST", "/inbound/api/uploads",
                       json=harness.open_body(expected={"files": 4, "bytes": 1000}))
    assert_error(r, 413, "too-large")
    r = server.request("POST", "/inbound/api/uploads",
                       json=harness.open_body(expected={"files": 1, "bytes": cap + 1}))
    assert_error(r, 413, "too-large")

    # Bytes: the third file would take the upload over the cap.
    upload = Upload.open(server)
    for original in files[:2]:
        assert upload.put(original.data).status_code == 201
    assert_error(upload.put(files[2].data), 413, "too-large")
    assert server.count_instances() == 2
    status = upload.status_json()
    assert status["receivedFiles"] == 2
    assert files[2].sha256 not in {f["sha256"] for f in status["files"]}
    # A retry of a file already received is still answered.
    assert upload.put(files[0].data).status_code == 200
    assert upload.complete_ok()["files"] == 2

    # Files: the fourth small file is one too many.
    small = [data.make_dicom(patient_id="SMALL") for _ in range(4)]
    upload = Upload.open(server)
    for body in small[:3]:
        assert upload.put(body).status_code == 201
    assert_error(upload.put(small[3]), 413, "too-large")
    assert server.count_instances() == 5
    assert upload.status_json()["receivedFiles"] == 3


def test_long_patient_id_is_cut_to_64_characters(server):
    original_id = "P" * 40 + "-0123456789-abcdefghij"
    body = data.make_dicom(patient_id=original_id)
    original = data.Original(data=body)
    upload = Upload.open(server)
    r = upload.put(body)
    assert r.status_code == 201, r.text
    isolated = r.json()["patientId"]
    assert len(isolated) == 64
    assert isolated == ("INB-%s-1-%s" % (upload.id, original_id))[:64]
    (instance,) = server.instances_of_upload(upload.id).values()
    assert server.admin_json("GET", "/instances/%s/simplified-tags" % instance["ID"])[
        "PatientID"] == isolated
    checks.assert_instance_metadata(server, instance["ID"], original, upload.id)


@pytest.mark.parametrize("name", ["DICOMDIR", "DICOMDIR-bigEnd", "DICOMDIR-implicit",
                                  "DICOMDIR-nooffset", "DICOMDIR-reordered",
                                  "DICOMDIR-nopatient", "DICOMDIR-empty.dcm"])
def test_dicomdir_is_not_stored(server, name):
    body = harness.read(os.path.join(data.CD, name))
    upload = Upload.open(server)
    before = server.all_instances()
    assert_error(upload.put(body), 422, "dicomdir")
    assert_nothing_new(server, upload, before, 0, harness.sha256(body))
