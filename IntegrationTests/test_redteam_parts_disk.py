"""Red-team attack on the disk of a server with files in parts (doc/Api.md, "Files in parts"):
one token writing one-byte parts of thousands of files (each a folder and a file on disk, an
inode each, a line in the status) for a few bytes of quota. At most 8 files of an upload hold
parts at once (409 too-many-partial-files), and only the last part of a file may be short (a
short part n fixes the count: parts above n and a second short part are 400 bad-part)."""

import hashlib

import data
import harness
from gateway_support import finish, start
from harness import Upload
from redteam_parts_support import PART, assemble, part_files, put_part, send_in_parts

MAX_PARTIAL = 8


def sha(i):
    return hashlib.sha256(b"file %d" % i).hexdigest()


def test_an_upload_holds_parts_of_eight_files_at_most(plugin):
    server = start(plugin, inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART}})
    try:
        upload = Upload.open(server)
        for i in range(MAX_PARTIAL):
            assert put_part(server, upload, sha(i), 0, b"%d" % i).status_code == 201
        for i in range(MAX_PARTIAL, MAX_PARTIAL + 20):
            harness.assert_error(put_part(server, upload, sha(i), 0, b"%d" % i), 409,
                                 "too-many-partial-files")
        # More parts of a file that holds some already are fine (here: the same short part).
        assert put_part(server, upload, sha(0), 0, b"0").status_code == 200
        status = upload.status_json()
        assert len(status["partialFiles"]) == MAX_PARTIAL, status
        assert len(part_files(server, upload)) == MAX_PARTIAL
        # Once a file is done (refused as not DICOM: its parts go), another may start.
        harness.assert_error(assemble(server, upload, sha(0), 1), 409, "hash-mismatch")
        assert put_part(server, upload, sha(100), 0, b"100").status_code == 201
        upload.cancel()
        assert part_files(server, upload) == []
    finally:
        finish(server)


def test_files_left_to_send_bound_the_partial_files(plugin):
    """MaxFilesPerUpload 3, 2 stored: one more file may hold parts."""
    server = start(plugin, inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART,
                                               "MaxFilesPerUpload": 3}})
    try:
        upload = Upload.open(server)
        for path in (data.CT_SMALL, data.MR_SMALL):
            assert upload.put(harness.read(path)).status_code == 201
        assert put_part(server, upload, sha(1), 0, b"1").status_code == 201
        r = put_part(server, upload, sha(2), 0, b"2")
        assert r.status_code in (409, 413), r.text
        assert r.json()["error"] in ("too-many-partial-files", "too-large"), r.text
        assert len(part_files(server, upload)) == 1
        upload.cancel()
    finally:
        finish(server)


def test_only_the_last_part_of_a_file_may_be_short(plugin):
    server = start(plugin, inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART}})
    try:
        upload = Upload.open(server)
        f = sha(1)
        assert put_part(server, upload, f, 3, b"the end").status_code == 201
        # Part 3 is short: the file has 4 parts; nothing above, no second short part.
        harness.assert_error(put_part(server, upload, f, 4, b"x" * PART), 400, "bad-part")
        harness.assert_error(put_part(server, upload, f, 7, b"y"), 400, "bad-part")
        harness.assert_error(put_part(server, upload, f, 1, b"short too"), 400, "bad-part")
        # Parts of the right size below it are fine.
        assert put_part(server, upload, f, 0, b"z" * PART).status_code == 201
        assert upload.status_json()["partialFiles"][0]["parts"] == [0, 3]
        assert len(part_files(server, upload)) == 2
        upload.cancel()

        # A real file in parts still goes through.
        upload = Upload.open(server)
        payload = data.make_dicom(patient_id="LAST-SHORT", rows=1024, columns=1200)
        assert send_in_parts(server, upload, payload).status_code == 201
        assert part_files(server, upload) == []
    finally:
        finish(server)


def test_parallel_first_parts_of_many_files_get_eight_in(plugin):
    """20 files started at the same moment: the bound holds under the race."""
    import threading
    server = start(plugin, inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART}})
    try:
        upload = Upload.open(server)
        answers = [None] * 20
        barrier = threading.Barrier(20)

        def send(i):
            barrier.wait()
            answers[i] = put_part(server, upload, sha(i), 0, b"p" * PART)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(201) == MAX_PARTIAL, statuses
        for a in answers:
            if a.status_code != 201:
                harness.assert_error(a, 409, "too-many-partial-files")
        assert len(upload.status_json()["partialFiles"]) == MAX_PARTIAL
        assert len(part_files(server, upload)) == MAX_PARTIAL
        upload.cancel()
    finally:
        finish(server)


def test_parallel_parts_stop_at_max_bytes_per_upload(plugin):
    """20 parts of 1 MiB at the same moment into an upload of 6 MiB at most."""
    import threading
    server = start(plugin, inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 5 * PART,
                                               "MaxBytesPerUpload": 6 * PART}})
    try:
        upload = Upload.open(server)
        answers = [None] * 20
        barrier = threading.Barrier(20)

        def send(i):
            barrier.wait()
            answers[i] = put_part(server, upload, sha(i % 4), i // 4, bytes([i]) * PART)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        created = [a for a in answers if a.status_code == 201]
        assert len(created) <= 6, [a.status_code for a in answers]
        for a in answers:
            if a.status_code != 201:
                harness.assert_error(a, 413, "too-large")
        held = sum(f["bytes"] for f in upload.status_json()["partialFiles"])
        assert held <= 6 * PART, held
        upload.cancel()
    finally:
        finish(server)
