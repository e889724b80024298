"""Hostile DICOM against every role: files nested deeper than Orthanc's 100 KiB civetweb stack
survives (a 2.3 KB file 50 sequences deep killed Orthanc 1.10.1), Deflated bombs, lengths that
lie. Each is refused before anything parses it (400 invalid-dicom, 413 too-large), Orthanc
lives on, nothing is stored or staged, the refusal is audited; a malicious gateway's items
are held by the Internal, which keeps pulling the others."""

import io
import os
import threading
import time

import pydicom
import pytest

import data
import harness
import hostile_dicom as h
from fake_gateway import FakeGateway, wait_until
from gateway_support import audit, finish, refused, staged_files, start, wait_for_audit
from harness import Upload

CAP = 24                      # the default of Inbound.Upload.MaxSequenceDepth
MAX_FILE = 64 * 1024 * 1024   # Inbound.Upload.MaxFileBytes of these servers


@pytest.fixture(scope="module", params=["Standalone", "Gateway"])
def target(request, plugin):
    s = start(plugin, inbound={"Role": request.param, "Upload": {"MaxFileBytes": MAX_FILE}})
    s.role = request.param
    yield s
    finish(s)


def stored_or_staged(server):
    return server.count_instances() + len(staged_files(server))


def assert_refused(server, upload, body, status, code):
    before = stored_or_staged(server)
    r = upload.put(body)
    harness.assert_error(r, status, code)
    assert server.request("GET", "/system", auth=harness.ADMIN).status_code == 200, \
        "Orthanc died"
    assert server.running(), "Orthanc died"
    assert stored_or_staged(server) == before, "something was stored or staged"
    assert upload.status_json()["receivedFiles"] == 0
    return r


def depth_of(dicom):
    """How deep the content tree of a file made by hostile_dicom goes, and its innermost text."""
    node, depth = pydicom.dcmread(io.BytesIO(dicom)), 0
    while "ContentSequence" in node:
        node, depth = node.ContentSequence[0], depth + 1
    return depth, str(node.TextValue)


VARIANTS = {
    "explicit VR LE": lambda d: h.nested(d),
    "explicit VR LE, defined lengths": lambda d: h.nested(d, defined=True),
    "implicit VR LE": lambda d: h.nested(d, h.IMPLICIT_LE),
    "explicit VR BE, defined lengths": lambda d: h.nested(d, h.EXPLICIT_BE, defined=True),
    "UN of undefined length": lambda d: h.nested(d, vr="UN"),
    "deflated": lambda d: h.nested(d, h.DEFLATED),
}


def test_deep_files_are_refused_and_orthanc_lives(target):
    upload = Upload.open(target)
    deep50 = h.nested(50)
    assert len(deep50) < 3000
    for body in (deep50, h.nested(500), deep50, h.nested(CAP + 1)):
        r = assert_refused(target, upload, body, 400, "invalid-dicom")
        assert "nested deeper than %d levels" % CAP in r.json()["message"], r.text
    wait_for_audit(target, refused("127.0.0.1", 400, "invalid-dicom"), timeout=10)
    # The upload is still usable: a real file after the hostile ones is stored.
    assert upload.put(harness.read(data.CT_SMALL)).status_code == 201
    assert upload.complete_ok()["state"] == "complete"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_encoding_is_walked(target, variant):
    upload = Upload.open(target)
    assert_refused(target, upload, VARIANTS[variant](50), 400, "invalid-dicom")
    body = VARIANTS[variant](CAP)
    r = upload.put(body)
    assert r.status_code == 201, r.text
    if target.role == "Gateway":
        staged = staged_files(target, opened=True)  # sealed for the inside (harness keys)
        assert body in staged.values(), "the staged file is not the sent one, byte for byte"
    else:
        (instance,) = target.instances_of_upload(upload.id).values()
        assert target.metadata("instances", instance["ID"], "InboundSha256") == \
            harness.sha256(body)
        # The stored copy is the original but for the isolation elements: the same tree.
        assert depth_of(target.instance_file(instance["ID"])) == (CAP, "the deepest item")


@pytest.mark.parametrize("kind", ["element", "item", "sequence", "fragment", "unclosed"])
def test_lying_lengths_are_refused(target, kind):
    upload = Upload.open(target)
    assert_refused(target, upload, h.lying_length(kind), 400, "invalid-dicom")


@pytest.mark.parametrize("variant", sorted(h.META_CONFUSIONS))
def test_a_file_meta_group_read_otherwise_than_dcmtk_reads_it_is_refused(target, variant):
    """300 sequences nested in the encoding DCMTK reads, flat in the one a reader that took
    another transfer syntax (or group end) would walk: was a SIGSEGV of Orthanc for "twice",
    "ob", "nul" and "group-length-ul8"."""
    upload = Upload.open(target)
    assert_refused(target, upload, h.meta_confused(variant), 400, "invalid-dicom")
    assert upload.put(harness.read(data.CT_SMALL)).status_code == 201  # the upload still works


def test_a_legitimate_deflated_file_is_accepted(target):
    upload = Upload.open(target)
    for body in (h.with_pixels(bytes(range(256)) * 256, h.DEFLATED),
                 harness.read(data.test_file("image_dfl.dcm"))):
        r = upload.put(body)
        assert r.status_code == 201, r.text


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


@pytest.mark.parametrize("role", ["Standalone", "Gateway"])
def test_a_deflate_bomb_is_refused_without_inflating_it(plugin, role):
    bomb = h.deflate_bomb(300 * 1024 * 1024)
    assert len(bomb) < 400 * 1024
    server = start(plugin, inbound={"Role": role, "Upload": {"MaxFileBytes": MAX_FILE}})
    try:
        upload = Upload.open(server)
        before = vm_hwm_kib(server.process.pid)
        started = time.monotonic()
        r = assert_refused(server, upload, bomb, 413, "too-large")
        assert time.monotonic() - started < 5
        assert "inflates to more than %d bytes" % MAX_FILE in r.json()["message"], r.text
        grown = vm_hwm_kib(server.process.pid) - before
        # 300 MB inflated, 64 MB allowed: the walk inflates through a 64 KiB window.
        assert grown < 20 * 1024, "peak memory grew by %d KiB" % grown
        wait_for_audit(server, refused("127.0.0.1", 413, "too-large"), timeout=10)
    finally:
        finish(server)


def test_the_largest_setting_is_safe_end_to_end(plugin):
    """Upload.MaxSequenceDepth at its maximum (32): the deepest admitted files are stored by
    the real Orthanc, in every encoding (43 levels kill Orthanc 1.10.1)."""
    server = start(plugin, inbound={"Upload": {"MaxSequenceDepth": 32}})
    try:
        upload = Upload.open(server)
        for variant in sorted(VARIANTS):
            r = upload.put(VARIANTS[variant](32))
            assert r.status_code == 201, "%s: %s" % (variant, r.text)
            harness.assert_error(upload.put(VARIANTS[variant](33)), 400, "invalid-dicom")
        assert server.count_instances() == len(VARIANTS)
    finally:
        finish(server)


# ------------------------------------------------------------------------- a malicious gateway


def test_a_malicious_gateway_cannot_crash_or_exhaust_the_internal(plugin):
    gateway = FakeGateway()
    password = "a-long-random-secret-for-tests"
    internal = harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                         "Upload": {"MaxFileBytes": MAX_FILE}},
        orthanc={"OrthancPeers": {"dmz": {"Url": "http://127.0.0.1:%d/" % gateway.port,
                                          "Username": "inside", "Password": password}}})
    ct = harness.read(data.CT_SMALL)
    hostile = {
        "deep": gateway.add([h.nested(50), ct]),
        "very deep": gateway.add([h.nested(500, h.IMPLICIT_LE)]),
        "bomb": gateway.add([h.deflate_bomb(300 * 1024 * 1024)]),
        "lying": gateway.add([h.lying_length("element")]),
    }
    clean = gateway.add([harness.read(data.MR_SMALL)])
    try:
        internal.start()
        before = vm_hwm_kib(internal.process.pid)

        def held():
            gateways = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]
            return set(gateways[0]["held"]) >= set(hostile.values())

        wait_until(held, 60, "the hostile uploads to be held")
        # The clean upload behind them is pulled, stored and acknowledged.
        wait_until(lambda: clean in gateway.acknowledged, 60, "the clean upload")
        assert internal.admin_json("GET", "/inbound/admin/uploads/%s" % clean)["state"] == \
            "complete"
        assert len(internal.instances_of_upload(clean)) == 1
        # Orthanc lives, nothing hostile is stored or acknowledged, each is audited.
        assert internal.running()
        assert internal.request("GET", "/system", auth=harness.ADMIN).status_code == 200
        assert not set(hostile.values()) & set(gateway.acknowledged)
        assert internal.count_instances() <= 2   # the clean MR, maybe the deep upload's CT
        for upload_id in hostile.values():
            inside = internal.admin("GET", "/inbound/admin/uploads/%s" % upload_id)
            assert inside.status_code == 404 or inside.json()["state"] == "open"
        events = audit(internal)
        for name, upload_id in hostile.items():
            assert any(e["event"] == "alert-upload-held" and e["uploadId"] == upload_id
                       for e in events), name
        grown = vm_hwm_kib(internal.process.pid) - before
        assert grown < 100 * 1024, "peak memory grew by %d KiB" % grown
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


# ------------------------------------------------------------------- deflated files in parallel

SMALL_FILE = 32 * 1024 * 1024   # Upload.MaxFileBytes of the next servers
BOMB_INFLATED = 30 * 1024 * 1024
# GetBodyMemoryMultiple, doc/Configuration.md "Memory per file".
MULTIPLE = {"Standalone": 5, "Gateway": 2}


@pytest.mark.parametrize("role", ["Standalone", "Gateway"])
def test_parallel_deflated_files_are_held_to_the_memory_budget(plugin, role):
    """The body reservation counts Content-Length, but a deflated file is parsed inflated:
    before the fix, 8 files of ~30 KB inflating to 30 MB each were all parsed at once (a
    Standalone grew by ~1 GB with a budget of 160 MB). The inflated size is now reserved
    before parsing: with room for one such file, the others are refused 503 server-busy with
    Retry-After, peak memory stays within the budget, and each is stored when sent again."""
    budget = SMALL_FILE * MULTIPLE[role]
    server = start(plugin, inbound={
        "Role": role, "Upload": {"MaxFileBytes": SMALL_FILE},
        "Limits": {"MaxBytesInFlight": budget, "MaxUploadsInFlightPerClient": 16}})
    try:
        upload = Upload.open(server)
        files = [h.deflate_bomb(BOMB_INFLATED) for _ in range(8)]
        assert all(len(f) < 64 * 1024 for f in files)
        # Plain files are not affected: their memory is their Content-Length's.
        for _ in range(2):
            assert upload.put(h.with_pixels(os.urandom(256 * 1024))).status_code == 201
        assert server.admin_json("GET", "/inbound/admin/limits")["inFlight"]["growthBytes"] == 0

        seen_growth = []
        sending = threading.Event()

        def watch():
            while not sending.is_set():
                time.sleep(0.005)
            while sending.is_set():
                seen_growth.append(server.admin_json("GET", "/inbound/admin/limits")
                                   ["inFlight"]["growthBytes"])

        before = vm_hwm_kib(server.process.pid)
        barrier = threading.Barrier(len(files))
        answers = [None] * len(files)

        def send(i):
            barrier.wait()
            answers[i] = upload.put(files[i])

        watcher = threading.Thread(target=watch)
        watcher.start()
        senders = [threading.Thread(target=send, args=(i,)) for i in range(len(files))]
        sending.set()
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        sending.clear()
        watcher.join()
        grown_mib = (vm_hwm_kib(server.process.pid) - before) / 1024

        statuses = sorted(r.status_code for r in answers)
        assert set(statuses) <= {201, 503}, [(r.status_code, r.text[:200]) for r in answers]
        assert statuses.count(201) >= 1, statuses
        assert statuses.count(503) >= 1, "all parsed at once: %s" % statuses
        for r in answers:
            if r.status_code == 503:
                harness.assert_error(r, 503, "server-busy")
                assert int(r.headers["Retry-After"]) >= 1, r.headers
        # What a file takes parsed is reserved while it is held, then released.
        growth = (BOMB_INFLATED - len(files[0])) * MULTIPLE[role]
        assert max(seen_growth) >= growth * 0.9, seen_growth[-20:]
        assert max(seen_growth) <= budget, seen_growth[-20:]
        assert server.admin_json("GET", "/inbound/admin/limits")["inFlight"]["growthBytes"] == 0
        # Peak memory within the budget (plus the allocator's slack), not 8 files at once.
        assert grown_mib < budget / 2 ** 20 + 64, "peak memory grew by %d MiB" % grown_mib
        assert server.running(), "Orthanc died"

        # Sent again once the others are done (as the upload page does after Retry-After).
        for i, r in enumerate(answers):
            if r.status_code == 503:
                again = upload.put(files[i])
                assert again.status_code == 201, again.text
        assert upload.status_json()["receivedFiles"] == len(files) + 2
        assert stored_or_staged(server) == len(files) + 2
        wait_for_audit(server, refused("127.0.0.1", 503, "server-busy"), timeout=10)
    finally:
        finish(server)


def test_an_internal_pulls_deflated_files_within_its_memory_budget(plugin):
    """A compromised gateway serving deflated files that inflate big: the Internal (a
    Standalone's multiple) reserves their inflated size before parsing, pulls no more at once
    than its budget holds, and takes the others in its next rounds instead of holding the
    upload as if they were hostile."""
    gateway = FakeGateway()
    password = "a-long-random-secret-for-tests"
    budget = SMALL_FILE * MULTIPLE["Standalone"]
    internal = harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                         "Upload": {"MaxFileBytes": SMALL_FILE},
                         "Limits": {"MaxBytesInFlight": budget}},
        orthanc={"OrthancPeers": {"dmz": {"Url": "http://127.0.0.1:%d/" % gateway.port,
                                          "Username": "inside", "Password": password}}})
    files = [h.deflate_bomb(BOMB_INFLATED) for _ in range(6)]
    try:
        internal.start()
        upload_id = gateway.add(files)
        growth = []

        def pulled():
            growth.append(internal.admin_json("GET", "/inbound/admin/limits")
                          ["inFlight"]["growthBytes"])
            return upload_id in gateway.acknowledged

        wait_until(pulled, 120, "the upload to be pulled")
        # One file's inflated size at a time (the budget holds one), never two.
        one = (BOMB_INFLATED - len(files[0])) * MULTIPLE["Standalone"]
        assert max(growth) <= budget and max(growth) < 2 * one, growth
        assert internal.admin_json("GET", "/inbound/admin/uploads/%s" % upload_id)["state"] == \
            "complete"
        assert len(internal.instances_of_upload(upload_id)) == len(files)
        described = internal.admin_json("GET", "/inbound/admin/limits")
        assert described["inFlight"]["growthBytes"] == 0, described["inFlight"]
        # The puller fetches 4 items at once: some were refused for want of room, not held.
        assert described["inFlight"]["refusals"] >= 1, described["inFlight"]
        gateways = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]
        assert upload_id not in gateways[0]["held"]
        # No VmHWM bound here: over sequential rounds on new threads, glibc keeps each
        # thread arena's freed 30 MB buffers (RSS grows to ~400 MB with one file at a time).
        assert internal.running()
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()
