"""Big files in parts on a real Standalone (doc/Api.md, "Files in parts"), Upload.PartBytes 1 MiB:
a 40 MiB multi-frame file sent in parts lands in the archive as the same file sent whole; parts
resume after a restart; missing, damaged, misplaced and late parts; parts removed with their
upload; the 413 cases."""

import hashlib
import io
import os
import random

import pydicom
import pytest

import checks
import conftest
import data
from harness import Upload, assert_error

MiB = 1024 * 1024
PART = MiB
PARTS = {"Upload": {"PartBytes": PART, "MaxFileBytes": 64 * MiB,
                    "MaxBytesPerUpload": 1024 * MiB}}


def multiframe(path, patient_id, frames):
    """A multi-frame file of "frames" frames of 256 KiB of random pixels at "path"."""
    return data.multiframe(str(path), patient_id, frames)


def split(content, part=PART):
    return [content[i:i + part] for i in range(0, len(content), part)]


def put_part(upload, sha, n, body, part_sha=None, token=None):
    headers = upload.headers(token)
    headers["X-Inbound-Part-Sha256"] = part_sha or hashlib.sha256(body).hexdigest()
    headers["Content-Type"] = "application/octet-stream"
    return upload.server.request("PUT", upload.path("/files/%s/parts/%s" % (sha, n)), data=body,
                                 headers=headers)


def assemble(upload, sha, count):
    return upload.server.request("POST", upload.path("/files/%s/assemble" % sha),
                                 json={"parts": count}, headers=upload.headers())


def send_parts(upload, sha, pieces, only=None):
    for n in (range(len(pieces)) if only is None else only):
        r = put_part(upload, sha, n, pieces[n])
        assert r.status_code == 201, "part %d: %d %s" % (n, r.status_code, r.text[:300])


def part_files(server, upload_id=None):
    """Every file under the parts folder of the server's DataDirectory (of one upload)."""
    found = []
    for folder, _, files in os.walk(server.workdir):
        segments = folder.split(os.sep)
        if "parts" in segments and (upload_id is None or upload_id in segments):
            found += [os.path.join(folder, f) for f in files]
    return found


def partial(upload):
    return upload.status_json()["partialFiles"]


@pytest.fixture(scope="module")
def server(plugin):
    s = conftest._start(plugin, inbound=PARTS)
    yield s
    conftest._cleanup(s, check=True)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return multiframe(tmp_path_factory.mktemp("big") / "CINE.dcm", "BIG-1", 160)


def test_a_big_file_in_parts_is_archived_as_the_same_file_sent_whole(server, big):
    assert big.size > 40 * MiB
    info = server.request("GET", "/inbound/api/info").json()
    assert info["limits"]["partBytes"] == PART
    pieces = split(big.data)
    assert len(pieces) == 41

    upload = Upload.open(server)
    assert upload.answer["limits"]["partBytes"] == PART
    order = list(range(len(pieces)))
    random.Random(7).shuffle(order)
    send_parts(upload, big.sha256, pieces, order[:20])
    listed = partial(upload)
    assert [(p["sha256"], sorted(p["parts"]), p["bytes"]) for p in listed] == [
        (big.sha256, sorted(order[:20]), sum(len(pieces[n]) for n in order[:20]))]
    send_parts(upload, big.sha256, pieces, order[20:])
    # A part sent again (a page that lost the answer): 200, nothing counted twice.
    again = put_part(upload, big.sha256, order[3], pieces[order[3]])
    assert again.status_code == 200, again.text
    assert again.json()["stored"] is False

    r = assemble(upload, big.sha256, len(pieces))
    assert r.status_code == 201, r.text
    checks.assert_put_answer(r.json(), big, upload.id)
    assert partial(upload) == []
    assert part_files(server, upload.id) == []
    # Asked again, and a part late: the stored file, nothing stored twice.
    r = assemble(upload, big.sha256, len(pieces))
    assert r.status_code == 200, r.text
    late = put_part(upload, big.sha256, 0, pieces[0])
    assert late.status_code == 200 and late.json()["stored"] is True, late.text
    receipt = upload.complete_ok()
    assert (receipt["files"], receipt["bytes"]) == (1, big.size)

    # Its twin, sent whole in another upload: the archive holds the same file but the patient.
    twin = Upload.open(server)
    checks.assert_put_answer(twin.put_ok(big.data), big, twin.id)
    stored = {}
    for u in (upload, twin):
        items = server.admin_upload(u.id)["items"]
        assert [(i["sha256"], i["size"]) for i in items] == [(big.sha256, big.size)]
        orthanc_id = items[0]["orthancId"]
        assert server.metadata("instances", orthanc_id, "InboundSha256") == big.sha256
        stored[u.id] = server.instance_file(orthanc_id)
        checks.assert_same_dicom_but_patient(big, stored[u.id], u.id)
    in_parts = pydicom.dcmread(io.BytesIO(stored[upload.id]))
    whole = pydicom.dcmread(io.BytesIO(stored[twin.id]))
    assert in_parts.PixelData == whole.PixelData == big.ds.PixelData
    assert len(stored[upload.id]) == len(stored[twin.id])
    assert server.admin_json("GET", "/statistics")["CountInstances"] == 2


def test_parts_resume_after_a_restart_and_missing_ones_are_named(start_server, tmp_path):
    server = start_server(inbound=PARTS)
    original = multiframe(tmp_path / "a.dcm", "RESUME-1", 40)  # 10 MiB: 11 parts
    pieces = split(original.data)
    upload = Upload.open(server)
    send_parts(upload, original.sha256, pieces, [n for n in range(len(pieces)) if n not in (3, 7)])

    server.restart()  # a Standalone keeps its parts: the page resumes where it stopped
    listed = partial(upload)
    assert len(listed) == 1 and listed[0]["sha256"] == original.sha256
    assert 3 not in listed[0]["parts"] and 7 not in listed[0]["parts"]
    assert len(listed[0]["parts"]) == len(pieces) - 2

    body = assert_error(assemble(upload, original.sha256, len(pieces)), 409, "parts-missing")
    assert body["missing"] == [3, 7], body
    assert len(partial(upload)[0]["parts"]) == len(pieces) - 2  # nothing dropped

    # The page sends what the status lacks, and a part it had sent already.
    for n in (3, 7):
        assert put_part(upload, original.sha256, n, pieces[n]).status_code == 201
    assert put_part(upload, original.sha256, 0, pieces[0]).status_code == 200
    r = assemble(upload, original.sha256, len(pieces))
    assert r.status_code == 201, r.text
    stored = server.instance_file(server.admin_upload(upload.id)["items"][0]["orthancId"])
    checks.assert_same_dicom_but_patient(original, stored, upload.id)
    assert part_files(server) == []


def test_damaged_and_misplaced_parts_are_refused(server, tmp_path):
    original = multiframe(tmp_path / "b.dcm", "DAMAGED-1", 12)  # 3 MiB: 4 parts
    pieces = split(original.data)
    upload = Upload.open(server)

    # Damaged on the way: the body is not its header's hash; nothing kept.
    damaged = bytearray(pieces[0])
    damaged[1000] ^= 0x01
    r = put_part(upload, original.sha256, 0, bytes(damaged), hashlib.sha256(pieces[0]).hexdigest())
    assert_error(r, 409, "hash-mismatch")
    assert partial(upload) == []
    for header in ("x", "A" * 64, "0" * 63, "zz" * 32):
        assert_error(put_part(upload, original.sha256, 0, pieces[0], part_sha=header),
                     400, "bad-part")
    headers = upload.headers()  # no part hash at all
    r = server.request("PUT", upload.path("/files/%s/parts/0" % original.sha256), data=pieces[0],
                       headers=headers)
    assert_error(r, 400, "bad-part")
    for n in ("x", "01", "1a", "99999999999"):
        assert_error(put_part(upload, original.sha256, n, pieces[0]), 400, "bad-part")
    assert_error(put_part(upload, "ab" * 31, 0, pieces[0]), 400, "bad-hash")
    assert_error(put_part(upload, original.sha256, 0, pieces[0], token="wrong-token"),
                 404, "not-found")
    assert partial(upload) == []

    # Damaged on the disk after it was received: the whole file's hash fails, the parts go.
    send_parts(upload, original.sha256, pieces)
    [victim] = [f for f in part_files(server, upload.id) if f.endswith(os.sep + "2")]
    with open(victim, "r+b") as f:
        f.seek(4096)
        f.write(b"\xff\x00\xff")
    assert_error(assemble(upload, original.sha256, len(pieces)), 409, "hash-mismatch")
    assert partial(upload) == [] and part_files(server, upload.id) == []

    # Parts in the wrong places (1 and 2 swapped): same sizes, another file.
    swapped = [pieces[0], pieces[2], pieces[1], pieces[3]]
    send_parts(upload, original.sha256, swapped)
    assert_error(assemble(upload, original.sha256, len(pieces)), 409, "hash-mismatch")
    assert part_files(server, upload.id) == []

    # Only the last part may be short: no part after a short one, no second short one.
    send_parts(upload, original.sha256, [pieces[0], pieces[1][:1000]])
    assert_error(put_part(upload, original.sha256, 2, pieces[2]), 400, "bad-part")
    assert_error(put_part(upload, original.sha256, 0, pieces[0][:10]), 400, "bad-part")
    assert_error(assemble(upload, original.sha256, len(pieces)), 409, "parts-missing")
    assert put_part(upload, original.sha256, 1, pieces[1]).status_code == 201  # the right one
    send_parts(upload, original.sha256, pieces, [2, 3])
    assert assemble(upload, original.sha256, len(pieces)).status_code == 201

    # Bytes that are no DICOM: refused as a whole file would be, parts dropped.
    junk = os.urandom(2 * PART + 10)
    junk_sha = hashlib.sha256(junk).hexdigest()
    send_parts(upload, junk_sha, split(junk))
    assert_error(assemble(upload, junk_sha, 3), 400, "not-dicom")
    assert part_files(server, upload.id) == []
    assert server.admin_upload(upload.id)["files"] == 1
    assert server.request("GET", "/inbound/api/info").status_code == 200


def test_no_part_after_the_upload_and_parts_go_with_it(server, tmp_path):
    original = multiframe(tmp_path / "c.dcm", "CLOSED-1", 8)  # 2 MiB: 3 parts
    pieces = split(original.data)
    small = data.Original(data.cd_images(["98892001"])[0])

    completed = Upload.open(server)
    completed.put_ok(small.data)
    send_parts(completed, original.sha256, pieces, [0, 1])
    assert part_files(server, completed.id)
    completed.complete_ok()
    assert part_files(server, completed.id) == []  # never assembled: not part of the upload
    assert_error(put_part(completed, original.sha256, 2, pieces[2]), 409, "upload-closed")
    assert_error(assemble(completed, original.sha256, 3), 409, "upload-closed")
    assert part_files(server, completed.id) == []

    cancelled = Upload.open(server)
    send_parts(cancelled, original.sha256, pieces)
    assert cancelled.cancel().status_code == 200
    assert part_files(server, cancelled.id) == []
    assert_error(put_part(cancelled, original.sha256, 0, pieces[0]), 409, "upload-closed")

    deleted = Upload.open(server)
    send_parts(deleted, original.sha256, pieces, [1])
    assert server.admin("DELETE", "/inbound/admin/uploads/%s" % deleted.id,
                        headers={"X-Requested-With": "XMLHttpRequest"}).status_code == 200
    assert part_files(server, deleted.id) == []


def test_at_most_eight_files_hold_parts_at_once(server):
    upload = Upload.open(server)
    part = os.urandom(100)
    shas = [hashlib.sha256(bytes([i]) * 64).hexdigest() for i in range(9)]
    for sha in shas[:8]:
        assert put_part(upload, sha, 0, part).status_code == 201
    body = assert_error(put_part(upload, shas[8], 0, part), 409, "too-many-partial-files")
    assert "8" in body["message"], body
    assert len(partial(upload)) == 8
    assert put_part(upload, shas[0], 0, part).status_code == 200  # the files held go on
    assert_error(assemble(upload, shas[0], 1), 409, "hash-mismatch")  # 100 random bytes: dropped
    assert put_part(upload, shas[8], 0, part).status_code == 201
    assert upload.cancel().status_code == 200
    assert part_files(server, upload.id) == []


def test_too_large_parts_and_files(start_server, tmp_path):
    server = start_server(inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 3 * PART - 100,
                                              "MaxBytesPerUpload": 5 * PART}})
    original = multiframe(tmp_path / "d.dcm", "LARGE-1", 12)  # 3 MiB and a header
    pieces = split(original.data)
    upload = Upload.open(server)
    # A part over PartBytes; a part that starts beyond MaxFileBytes.
    assert_error(put_part(upload, original.sha256, 0, original.data[:PART + 1]), 413, "too-large")
    assert_error(put_part(upload, original.sha256, 3, pieces[3]), 413, "too-large")
    # More parts than MaxFileBytes allows.
    assert_error(assemble(upload, original.sha256, 4), 400, "bad-part")
    # Parts that make more than MaxFileBytes: refused, dropped.
    send_parts(upload, original.sha256, pieces, [0, 1, 2])
    assert_error(assemble(upload, original.sha256, 3), 413, "too-large")
    assert part_files(server, upload.id) == []
    # Parts held count in the upload's bytes (MaxBytesPerUpload 5 parts).
    filler = os.urandom(PART)
    for n in range(3):
        assert put_part(upload, "a" * 64, n, filler).status_code == 201
        if n < 2:
            assert put_part(upload, "b" * 64, n, filler).status_code == 201
    assert_error(put_part(upload, "c" * 64, 0, filler), 413, "too-large")
    assert server.count_instances() == 0


def test_a_whole_put_over_512_mib_is_told_to_send_parts(start_server):
    server = start_server(inbound={"Upload": {"PartBytes": 64 * MiB, "MaxFileBytes": 1024 * MiB,
                                              "MaxBytesPerUpload": 2048 * MiB}})
    upload = Upload.open(server)
    body = b"\0" * (512 * MiB + 1)
    body = assert_error(upload.put(body), 413, "too-large")
    assert "in parts" in body["message"], body
    assert server.count_instances() == 0
    assert server.request("GET", "/inbound/api/info").status_code == 200
