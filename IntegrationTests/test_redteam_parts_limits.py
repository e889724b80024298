"""Red-team attacks on the limits of big files in parts (doc/Api.md, "Files in parts"): filling
the disk with parts never assembled (MaxBytesPerUpload, the daily byte quotas, the data
monitor, the expiry of the upload), assemblies the memory budget can never hold, whole-file
PUTs above 512 MiB. Each is refused with its status and JSON error code, leaves no part on
disk and Orthanc alive."""

import hashlib
import socket
import time

import data
import harness
from gateway_support import finish, start, xff
from harness import Upload
from redteam_parts_support import PART, assemble, assert_alive, part_files, put_part

TRUSTED = {"TrustedProxies": ["127.0.0.1"]}


def chunk(seed, size=PART):
    """"size" bytes that differ by seed (each part of each file is its own)."""
    block = harness.sha256(b"%d" % seed).encode()
    return (block * (size // len(block) + 1))[:size]


def test_parts_of_many_files_stop_at_max_bytes_per_upload(plugin):
    server = start(plugin, inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 4 * PART,
                                               "MaxBytesPerUpload": 6 * PART}})
    try:
        upload = Upload.open(server)
        written = 0
        refused = None
        for f in range(4):  # 4 files of 2 parts: 8 MiB > 6 MiB
            sha256 = harness.sha256(b"file %d" % f)
            for n in range(2):
                r = put_part(server, upload, sha256, n, chunk(10 * f + n))
                if r.status_code != 201:
                    refused = r
                    break
                written += 1
            if refused is not None:
                break
        assert written == 6, written
        harness.assert_error(refused, 413, "too-large")
        # The same part again is no new byte; a whole file does not fit either.
        sha256 = harness.sha256(b"file 0")
        assert put_part(server, upload, sha256, 0, chunk(0)).status_code == 200
        assert sum(f["bytes"] for f in upload.status_json()["partialFiles"]) == 6 * PART
        assert len(part_files(server, upload)) == 6
        assert upload.cancel().status_code == 200
        assert part_files(server, upload) == []
        assert_alive(server)
    finally:
        finish(server)


def test_parts_count_in_the_daily_byte_quota_of_the_address(plugin):
    server = start(plugin, inbound=harness.merge(TRUSTED, {
        "Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART},
        "Quotas": {"BytesPerClientPerDay": 3 * PART}}))
    try:
        r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                           headers=xff("198.51.100.7"))
        assert r.status_code == 201, r.text
        upload = Upload(server, r.json(), {})
        sha256 = harness.sha256(b"quota file")
        answers = [put_part(server, upload, sha256, n, chunk(n),
                            headers=xff("198.51.100.7")) for n in range(4)]
        assert [a.status_code for a in answers[:3]] == [201, 201, 201], \
            [a.text for a in answers]
        harness.assert_error(answers[3], 503, "quota-exceeded")
        assert answers[3].headers.get("Retry-After")
        # A part never assembled still counts: a new upload from there gets no byte in.
        r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                           headers=xff("198.51.100.7"))
        if r.status_code == 201:
            other = Upload(server, r.json(), {})
            harness.assert_error(put_part(server, other, sha256, 0, b"x",
                                          headers=xff("198.51.100.7")), 503, "quota-exceeded")
        # Another address is not affected.
        r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                           headers=xff("198.51.100.8"))
        assert r.status_code == 201
        assert len(part_files(server, upload)) == 3
        upload.cancel()
        assert part_files(server, upload) == []
    finally:
        finish(server)


def monitor_state(server):
    return server.admin_json("GET", "/inbound/admin/limits")["dataMonitor"]["state"]


def test_the_data_monitor_counts_parts_and_stops_them(plugin):
    server = start(plugin, inbound={
        "Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART},
        "DataMonitor": {"StopBytesPerDay": 2 * PART + PART // 2, "CheckInterval": 1}})
    try:
        upload = Upload.open(server)
        sha256 = harness.sha256(b"monitored")
        for n in range(3):  # parts never assembled: 3 MiB received today
            assert put_part(server, upload, sha256, n, chunk(n)).status_code == 201
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and monitor_state(server) != "stopped":
            time.sleep(0.2)
        assert monitor_state(server) == "stopped"
        r = put_part(server, upload, sha256, 3, chunk(3))
        harness.assert_error(r, 507, "storage-full")
        assert r.headers.get("Retry-After")
        assert len(part_files(server, upload)) == 3
        assert_alive(server)
        upload.cancel()
        assert part_files(server, upload) == []
    finally:
        finish(server)


def test_low_free_space_refuses_the_first_part(plugin):
    server = start(plugin, inbound={
        "Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART},
        "DataMonitor": {"WarnFreeBytes": 10 ** 15, "StopFreeBytes": 10 ** 15,
                        "CheckInterval": 1}})
    try:
        assert server.admin_json("POST", "/inbound/admin/limits/lift")["lifted"] is True
        upload = Upload.open(server)  # opened under the lift, which an admin takes back:
        server.restart()              # the stop holds again from the first request
        sha256 = harness.sha256(b"no room")
        harness.assert_error(put_part(server, upload, sha256, 0, chunk(0)), 507, "storage-full")
        assert part_files(server, upload) == []
    finally:
        finish(server)


def test_parts_of_an_upload_left_alone_go_when_it_expires(plugin):
    server = start(plugin, inbound={"Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART,
                                               "OpenTimeout": 3, "ExpiryCheckInterval": 1}})
    try:
        upload = Upload.open(server)
        sha256 = harness.sha256(b"left alone")
        assert put_part(server, upload, sha256, 0, chunk(1)).status_code == 201
        # A part keeps the upload alive (it is activity)...
        for n in range(1, 4):
            time.sleep(1.2)
            assert put_part(server, upload, sha256, n, chunk(n + 1)).status_code == 201
        assert upload.status_json()["state"] == "open"
        # ...and once nothing comes, the upload expires with its parts.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and part_files(server, upload):
            time.sleep(0.3)
        assert part_files(server, upload) == [], "parts of an expired upload stay on disk"
        harness.assert_error(put_part(server, upload, sha256, 4, b"late"), 409, "upload-closed")
        harness.assert_error(assemble(server, upload, sha256, 5), 409, "upload-closed")
        assert part_files(server, upload) == []
        assert server.instances_of_upload(upload.id) == {}
    finally:
        finish(server)


def test_an_assembly_the_memory_budget_can_never_hold_is_refused(plugin):
    """A Standalone needs 3 times the file to rewrite and store it: 2.7 GiB for a file of
    912 MiB, and the budget is 2.5 GiB (the smallest allowed: 5 whole bodies of 512 MiB)."""
    part = 16 * PART
    server = start(plugin, inbound={
        "Upload": {"PartBytes": part, "MaxFileBytes": 1024 * PART,
                   "MaxBytesPerUpload": 1024 * PART},
        "Limits": {"MaxBytesInFlight": 5 * 512 * PART}})
    try:
        upload = Upload.open(server)
        pieces = [chunk(n, part) for n in range(57)]  # 912 MiB
        whole = hashlib.sha256()
        for piece in pieces:
            whole.update(piece)
        sha256 = whole.hexdigest()
        for n, piece in enumerate(pieces):
            assert put_part(server, upload, sha256, n, piece).status_code == 201
        del pieces
        harness.assert_error(assemble(server, upload, sha256, 57), 413, "too-large")
        assert server.instances_of_upload(upload.id) == {}
        assert part_files(server, upload) == [], "parts of a file that can never be stored stay"
        assert server.admin_json("GET", "/inbound/admin/limits")["inFlight"]["bytes"] == 0
        assert_alive(server)
    finally:
        finish(server)


def raw_put_head(server, upload, sha256, length):
    return ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Inbound-Token: %s\r\n"
            "Content-Type: application/dicom\r\nContent-Length: %d\r\n\r\n" % (
                upload.path("/files/%s" % sha256), upload.token, length)).encode()


def test_a_whole_put_above_512_mib_is_refused_and_told_to_use_parts(plugin):
    server = start(plugin, inbound={"Upload": {"MaxFileBytes": 2048 * PART,
                                               "MaxBytesPerUpload": 2048 * PART}})
    try:
        upload = Upload.open(server)
        sha256 = "0" * 64
        # Far above (more than twice 512 MiB): refused before a byte of the body is read.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as c:
            c.sendall(raw_put_head(server, upload, sha256, 1536 * PART))
            c.sendall(b"\0" * 65536)
            answer = c.recv(65536)
        assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
        # Just above 512 MiB: read, then 413 with the way out.
        body = b"\0" * (512 * PART + 1)
        r = server.request("PUT", upload.path("/files/%s" % harness.sha256(body)), data=body,
                           headers={"X-Inbound-Token": upload.token,
                                    "Content-Type": "application/dicom"})
        del body
        error = harness.assert_error(r, 413, "too-large")
        assert "part" in error["message"], error
        assert upload.status_json()["receivedFiles"] == 0
        assert_alive(server)
    finally:
        finish(server)


def slow_part(port, upload, sha256, n, declared, sent, address):
    """Starts a part PUT of "declared" bytes, sends "sent" of them and keeps the socket open."""
    head = ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Inbound-Token: %s\r\n"
            "X-Inbound-Part-Sha256: %s\r\nContent-Length: %d\r\nX-Forwarded-For: %s\r\n\r\n" % (
                upload.path("/files/%s/parts/%d" % (sha256, n)), upload.token, "0" * 64,
                declared, address)).encode()
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    c.sendall(head + b"\0" * sent)
    return c


def test_slow_part_bodies_hold_one_slot_of_their_client_only(plugin):
    """Slowloris on part bodies: a client's parts trickling in take its own slot (and their
    memory's share of the server's), not the server; an abandoned one lapses."""
    server = start(plugin, inbound=harness.merge(TRUSTED, {
        "Upload": {"PartBytes": PART, "MaxFileBytes": 16 * PART},
        "Limits": {"MaxUploadsInFlightPerClient": 1, "BodyTimeout": 2}}))
    try:
        slow, other = "203.0.113.60", "203.0.113.61"
        upload = open_as(server, slow)
        sha256 = harness.sha256(b"slow file")
        sockets = [slow_part(server.port, upload, sha256, 0, PART, 100, slow)]
        time.sleep(0.3)
        r = put_part(server, upload, sha256, 1, chunk(1), headers=xff(slow))
        assert r.status_code == 403 and r.content == b"", (r.status_code, r.text[:200])
        # Another client goes on.
        other_upload = open_as(server, other)
        assert put_part(server, other_upload, sha256, 0, chunk(0),
                        headers=xff(other)).status_code == 201
        # The abandoned body frees its slot after Limits.BodyTimeout.
        sockets[0].close()
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline:
            status = put_part(server, upload, sha256, 1, chunk(1), headers=xff(slow)).status_code
            if status == 201:
                break
            time.sleep(0.5)
        assert status == 201, status
        assert len(part_files(server, upload)) == 1
        assert_alive(server)
    finally:
        finish(server)


def open_as(server, address):
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                       headers=xff(address))
    assert r.status_code == 201, r.text
    return Upload(server, r.json(), {})


def test_many_parts_and_assemblies_at_once_stay_within_the_memory_budget(plugin):
    """24 parts of 4 MiB and 6 assemblies of 16 MiB files at once: what does not fit the
    budget (80 MiB) is refused for now (403 before the body is read; 503 server-busy with
    Retry-After for an assembly), the peak memory of Orthanc grows by about the budget, and
    every file gets in once asked again."""
    from partner_attack_support import vm_hwm_kib
    import threading
    part = 4 * PART
    server = start(plugin, inbound={
        "Upload": {"PartBytes": part, "MaxFileBytes": 16 * PART},
        "Limits": {"MaxBytesInFlight": 80 * PART}})
    try:
        upload = Upload.open(server)
        files = [data.make_dicom(patient_id="MEM-%d" % i, rows=4000, columns=2048)
                 for i in range(6)]  # 15.6 MiB: 4 parts
        assert all(3 * part < len(f) <= 4 * part for f in files)
        before = vm_hwm_kib(server)

        def send(i):
            f = files[i // 4]
            n = i % 4
            return put_part(server, upload, harness.sha256(f), n, f[n * part:(n + 1) * part])
        answers = [None] * 24
        threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, send(i)))
                   for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {201, 403}, statuses
        # Every part gets in when sent again (one at a time).
        for i, a in enumerate(answers):
            if a.status_code != 201:
                assert send(i).status_code == 201
        results = [None] * 6
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, assemble(
            server, upload, harness.sha256(files[i]), 4))) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        for r in results:
            if r.status_code == 503:
                harness.assert_error(r, 503, "server-busy")
                assert r.headers.get("Retry-After")
            else:
                assert r.status_code == 201, r.text
        grown_mib = (vm_hwm_kib(server) - before) / 1024
        assert grown_mib < 2 * 80, "peak memory grew by %.0f MiB" % grown_mib
        for i, r in enumerate(results):
            if r.status_code == 503:
                deadline = time.monotonic() + 60
                while r.status_code == 503 and time.monotonic() < deadline:
                    time.sleep(1)
                    r = assemble(server, upload, harness.sha256(files[i]), 4)
                assert r.status_code == 201, r.text
        assert len(server.instances_of_upload(upload.id)) == 6
        assert part_files(server, upload) == []
        assert server.admin_json("GET", "/inbound/admin/limits")["inFlight"]["bytes"] == 0
    finally:
        finish(server)
