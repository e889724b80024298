"""Red team of what a partner with a valid token sends past the door (doc/Security.md "Partner
sites"): parts that are not DICOM, a DICOMDIR, a study other than the route's, parts over the cap,
endless streams, broken framing, huge part headers, many tiny parts, hostile DICOM (the same
verdicts as a browser's PUT), header injection, and writing into another partner's or a browser's
upload. Each: the STOW-RS status and FailureReason, nothing else stored, memory within what the
stream reserved (VmHWM), the server alive."""

import json
import socket
import time

import pytest

import data
import hostile_dicom
from gateway_support import audit
from harness import Upload, read, sha256
from partner_attack_support import (BOUNDARY, ROUTE, STOW, TOKEN_A, TOKEN_D, multipart,
                                     partner, passes_the_door, reasons, referenced, snapshot,
                                     stow, vm_hwm_kib)

MAX_FILE = 2 * 1024 * 1024   # Upload.MaxFileBytes here, so the partners' MaxFileBytes
SLACK = 2 * 1024 * 1024      # StowReader::kSlack
RESERVED = 64 * 1024 * 1024  # LimitsGuard::kPartnerPartBytes: what a chunked stream reserves

C000, C409, C010, A700, DICOMDIR = 0xC000, 0xC409, 0xC010, 0xA700, 0x0122


@pytest.fixture(scope="module")
def clinic(plugin):
    import conftest
    s = conftest._start(plugin, inbound={
        "Partners": [partner("clinic-a", TOKEN_A), partner("clinic-d", TOKEN_D)],
        "Upload": {"MaxFileBytes": MAX_FILE},
        "PartnerLimits": {"QuietSeconds": 3600}})
    yield s
    conftest._cleanup(s, check=True)


def post(server, parts=None, body=None, token=TOKEN_A, study=None, chunked=True, **kwargs):
    """Sends a STOW-RS request; returns (status, headers, answer JSON or None)."""
    if body is None:
        body = multipart(parts)
    path = ROUTE + ("/" + study if study else "")
    status, headers, raw_answer = stow(server, token=token, body=body, path=path,
                                       chunked=chunked, timeout=120, **kwargs)
    try:
        answer = json.loads(raw_answer) if raw_answer else None
    except ValueError:
        answer = None
    return status, headers, answer


def dicom(study=None, patient="RT-1"):
    return data.make_dicom(patient_id=patient, study_uid=study)


def uid_of(dicom_bytes):
    import io
    import pydicom
    return str(pydicom.dcmread(io.BytesIO(dicom_bytes)).SOPInstanceUID)


def assert_nothing_stored(server, before):
    assert snapshot(server) == before
    assert server.running() and passes_the_door(server)


# ------------------------------------------------------------------------- parts refused


NOT_DICOM = {
    "text-as-dicom": ("Content-Type: application/dicom", b"hello, not a DICOM file"),
    "dicom-as-text": ("Content-Type: text/plain", data.make_dicom(patient_id="RT-TXT")),
    "dicom-json": ("Content-Type: application/dicom+json", b'{"00100010": {"vr": "PN"}}'),
    "no-content-type": ("Content-Length: 9", b"not dicom"),
    "nested-multipart": (
        "Content-Type: multipart/related; type=\"application/dicom\"; boundary=inner",
        multipart([data.make_dicom(patient_id="RT-NEST")], boundary="inner")),
    "multipart-as-dicom": ("Content-Type: application/dicom",
                           multipart([data.make_dicom(patient_id="RT-NEST2")], boundary="inner")),
    "truncated-dicom": ("Content-Type: application/dicom", read(data.MR_TRUNCATED)),
    "html": ("Content-Type: application/dicom", b"<html><script>alert(1)</script></html>"),
}


@pytest.mark.parametrize("case", sorted(NOT_DICOM))
def test_a_part_that_is_not_dicom_fails_c000(clinic, case):
    before = snapshot(clinic)
    status, headers, answer = post(clinic, [NOT_DICOM[case]])
    assert status == 400, (case, status, answer)
    assert headers["content-type"] == "application/dicom+json"
    assert reasons(answer) == [C000] and referenced(answer) == [], answer
    assert_nothing_stored(clinic, before)


def test_a_dicomdir_fails_0122(clinic):
    before = snapshot(clinic)
    status, _, answer = post(clinic, [read(data.CD_DICOMDIR)])
    assert status == 400, (status, answer)
    assert reasons(answer) == [DICOMDIR], answer
    assert_nothing_stored(clinic, before)


def test_a_part_of_another_study_than_the_routes_fails_c409(clinic):
    before = snapshot(clinic)
    other = dicom(study="1.2.826.0.1.3680043.8.498.4242")
    status, _, answer = post(clinic, [other], study="1.2.826.0.1.3680043.8.498.4243")
    assert status == 409, (status, answer)
    assert reasons(answer) == [C409], answer
    failed = answer["00081198"]["Value"][0]
    assert failed["00081155"]["Value"] == [uid_of(other)]
    assert_nothing_stored(clinic, before)
    # One part of the route's study and one not: 202, only the first stored.
    study = "1.2.826.0.1.3680043.8.498.4244"
    good = dicom(study=study)
    status, _, answer = post(clinic, [good, other], study=study)
    assert status == 202, (status, answer)
    assert referenced(answer) == [uid_of(good)] and reasons(answer) == [C409], answer
    assert len(snapshot(clinic)[0]) == len(before[0]) + 1


@pytest.mark.parametrize("body, chunked", [(b"", False), (b"", True),
                                           (b"--%s--" % BOUNDARY.encode(), True),
                                           (b"\r\n\r\n--%s--\r\n" % BOUNDARY.encode(), False)],
                         ids=["empty", "empty-chunked", "only-the-end", "preamble-and-end"])
def test_a_request_without_parts_is_400_no_instances(clinic, body, chunked):
    before = snapshot(clinic)
    status, headers, answer = post(clinic, body=body, chunked=chunked)
    assert status == 400 and answer == {"error": "no-instances", "message": answer["message"]}, \
        (status, answer)
    assert_nothing_stored(clinic, before)


@pytest.mark.parametrize("content_type", [
    'multipart/related; type="application/dicom"',                      # no boundary
    'multipart/related; type="application/dicom"; boundary=',
    'multipart/related; type="application/dicom"; boundary=""',
    'multipart/related; type="application/dicom"; boundary=' + "b" * 201,
    'multipart/related; type="application/dicom"; boundary="a\x01b"',
    'multipart/related; type="application/dicom"; boundary="ends with space "',
    'multipart/related; boundary=x; type="application/dicom+json"; type="application/dicom"',
])
def test_a_stow_type_without_a_usable_boundary_is_415(clinic, content_type):
    before = snapshot(clinic)
    status, headers, _ = stow(clinic, body=multipart([dicom()]), content_type=content_type,
                              chunked=True)
    # The door lets a multipart/related of DICOM through; the reader refuses what it cannot use.
    assert status in (400, 403, 415), (content_type, status)  # 400: civetweb or no part found
    if status == 415:
        assert headers.get("x-inbound-error") == "unsupported-media-type", headers
    assert_nothing_stored(clinic, before)


# ------------------------------------------------------------------------- framing


def test_garbage_between_parts_stops_the_request(clinic):
    first, second = dicom(patient="RT-G1"), dicom(patient="RT-G2")
    before = snapshot(clinic)
    # With Content-Length as Orthanc's DICOMweb client sends them (else "garbage" would just
    # be the end of the first part's bytes).
    with_length = [("Content-Type: application/dicom\r\nContent-Length: %d" % len(d), d)
                   for d in (first, second)]
    body = multipart(with_length[:1], end=False) + b"garbage\r\n" + multipart(with_length[1:])
    status, headers, answer = post(clinic, body=body)
    assert status == 400 and headers.get("x-inbound-error") == "invalid-multipart", \
        (status, headers, answer)
    assert referenced(answer) == [uid_of(first)], answer  # stored before the garbage
    assert len(snapshot(clinic)[0]) == len(before[0]) + 1
    assert clinic.find("Instance", {"SOPInstanceUID": uid_of(second)}) == []


# How many bytes of the body's end never come: the closing "--" only (the last part's bytes all
# came), part of the delimiter, the CRLF before it, and into the last part's bytes.
@pytest.mark.parametrize("cut", [2, 4, 9, 11, 12, 500])
def test_an_unterminated_last_part_is_not_stored(clinic, cut):
    first, last = dicom(patient="RT-U1"), dicom(patient="RT-U2")
    before = snapshot(clinic)
    body = multipart([first, last])[:-cut]
    complete = cut <= len("--")  # the delimiter itself came: the last part is whole
    status, headers, answer = post(clinic, body=body)
    assert status == 400 and headers.get("x-inbound-error") == "truncated", (status, answer)
    stored = clinic.find("Instance", {"SOPInstanceUID": uid_of(last)}) != []
    if not complete:
        assert uid_of(last) not in referenced(answer) and not stored
    # The answer lists exactly what was stored (a sender resends the whole request).
    assert (uid_of(last) in referenced(answer)) == stored
    assert len(snapshot(clinic)[0]) <= len(before[0]) + 2


def test_a_huge_part_header_block_is_cut_at_the_cap(clinic):
    before = snapshot(clinic)
    hwm = vm_hwm_kib(clinic)
    head = b"--%s\r\nContent-Type: application/dicom\r\nX-Pad: " % BOUNDARY.encode()
    body = head + b"a" * (3 * MAX_FILE)  # no end of the header block, ever
    status, headers, answer = post(clinic, body=body + b"\r\n\r\n" + dicom() + b"\r\n--%s--"
                                   % BOUNDARY.encode())
    assert status == 413 and headers.get("x-inbound-error") == "too-large", (status, answer)
    assert (vm_hwm_kib(clinic) - hwm) * 1024 < RESERVED
    assert_nothing_stored(clinic, before)


def test_many_part_headers_are_read_within_the_cap(clinic):
    """A part with 100,000 header lines (under the cap in bytes) is read like any part."""
    hwm = vm_hwm_kib(clinic)
    part = dicom(patient="RT-HDR")
    headers = "Content-Type: application/dicom\r\n" + "\r\n".join(
        "X-H%d: v" % i for i in range(100000))
    status, _, answer = post(clinic, [(headers, part)])
    assert status == 200 and referenced(answer) == [uid_of(part)], (status, answer)
    assert (vm_hwm_kib(clinic) - hwm) * 1024 < RESERVED
    assert clinic.running()


# ------------------------------------------------------------------------- sizes and memory


def send_endless(server, head, megabytes, token=TOKEN_A):
    """A chunked request: "head", then "megabytes" MiB of zeros in 64 KiB chunks, then the end
    of the body without any closing delimiter. Returns (status, headers)."""
    c = socket.create_connection(("127.0.0.1", server.port), timeout=120)
    c.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
               % (ROUTE, token, STOW)).encode())
    c.sendall(b"%x\r\n%s\r\n" % (len(head), head))
    block = b"\0" * 65536
    for _ in range(megabytes * 16):
        c.sendall(b"10000\r\n" + block + b"\r\n")
    c.sendall(b"0\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        got = c.recv(65536)
        if not got:
            break
        answer += got
    c.close()
    lines = answer.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    found = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split(" ")[1]), found


def test_an_endless_part_is_cut_at_the_cap_with_memory_flat(clinic):
    before = snapshot(clinic)
    hwm = vm_hwm_kib(clinic)
    head = b"--%s\r\nContent-Type: application/dicom\r\n\r\n" % BOUNDARY.encode()
    status, headers = send_endless(clinic, head, 48)
    assert status == 413 and headers.get("x-inbound-error") == "too-large", (status, headers)
    assert (vm_hwm_kib(clinic) - hwm) * 1024 < RESERVED
    assert_nothing_stored(clinic, before)


def test_an_endless_stream_without_any_boundary_is_cut_too(clinic):
    before = snapshot(clinic)
    hwm = vm_hwm_kib(clinic)
    status, headers = send_endless(clinic, b"no boundary here", 48)
    assert status in (400, 413), (status, headers)
    assert (vm_hwm_kib(clinic) - hwm) * 1024 < RESERVED
    assert_nothing_stored(clinic, before)


def test_a_part_over_max_file_bytes_fails_a700(clinic):
    before = snapshot(clinic)
    big = data.make_dicom(patient_id="RT-BIG", rows=1024, columns=1100)  # ~2.2 MB
    assert MAX_FILE < len(big) < MAX_FILE + SLACK
    status, _, answer = post(clinic, [big])
    assert status in (409, 413), (status, answer)
    assert reasons(answer) == [A700], answer
    assert_nothing_stored(clinic, before)


def test_many_tiny_parts_stay_within_the_streams_memory(clinic):
    """100,000 parts of a few bytes: each leaves a result and an answer item. The memory this
    takes must stay within what the stream reserved, however many parts are sent."""
    before = snapshot(clinic)
    hwm = vm_hwm_kib(clinic)
    tiny = ("Content-Type: text/plain", b"x")
    status, headers, answer = post(clinic, [tiny] * 100000)
    # At most the partner's MaxFilesPerUpload parts are read (Upload's default here: 20000).
    assert status == 413 and headers.get("x-inbound-error") == "too-many-parts", (status, headers)
    assert len(reasons(answer)) <= 20000
    assert (vm_hwm_kib(clinic) - hwm) * 1024 < RESERVED, "a request's parts are not bounded"
    assert_nothing_stored(clinic, before)


def test_a_big_part_stays_within_what_its_stream_reserved(start_server):
    """A part under a large MaxFileBytes, sent chunked: Orthanc's peak memory grows by no more
    than what the stream holds in Limits.MaxBytesInFlight while it is read."""
    s = start_server(inbound={"Partners": [partner("clinic-a", TOKEN_A)],
                              "Upload": {"MaxFileBytes": 256 * 1024 * 1024}})
    c = socket.create_connection(("127.0.0.1", s.port), timeout=120)
    c.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
               % (ROUTE, TOKEN_A, STOW)).encode())
    head = b"--%s\r\nContent-Type: application/dicom\r\n\r\n" % BOUNDARY.encode()
    c.sendall(b"%x\r\n%s\r\n" % (len(head), head))
    hwm = vm_hwm_kib(s)
    block = b"\0" * 65536
    reserved = 0
    for i in range(100 * 16):  # 100 MiB
        c.sendall(b"10000\r\n" + block + b"\r\n")
        if i % 160 == 159:
            held = s.admin_json("GET", "/inbound/admin/limits")["inFlight"]
            reserved = max(reserved, held["bytes"] + held["growthBytes"])
    end = b"\r\n--%s--" % BOUNDARY.encode()
    c.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(end), end))
    answer = c.recv(65536)
    c.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]  # zeros: not DICOM (C000)
    grown = (vm_hwm_kib(s) - hwm) * 1024
    assert grown <= reserved + 16 * 1024 * 1024, \
        "peak memory grew %d MiB, the stream held %d MiB" % (grown >> 20, reserved >> 20)
    assert s.admin_json("GET", "/instances") == []


# ------------------------------------------------------------------------- hostile DICOM


def put_verdict(server, upload, body):
    """A browser's PUT of the file: "stored" or its error code."""
    r = upload.put(body)
    return "stored" if r.status_code in (200, 201) else r.json()["error"]


STOW_OF_PUT = {"stored": None, "invalid-dicom": C000, "not-dicom": C000, "too-large": A700,
               "dicomdir": DICOMDIR, "malware": C010}


def hostile_corpus():
    files = dict(hostile_dicom.seeds())
    files["mr-truncated"] = read(data.MR_TRUNCATED)
    files["no-meta"] = read(data.NO_META)
    files["ct-small"] = read(data.CT_SMALL)
    files["dicomdir"] = read(data.CD_DICOMDIR)
    files["empty-ish"] = b"\0" * 132
    return files


def test_hostile_dicom_through_stow_gets_the_verdicts_of_a_browsers_put(clinic):
    upload = Upload.open(clinic)
    corpus = hostile_corpus()
    for name in sorted(corpus):
        body = corpus[name]
        verdict = put_verdict(clinic, upload, body)
        status, _, answer = post(clinic, [body])
        expected = STOW_OF_PUT[verdict]
        if expected is None:
            assert status == 200 and len(referenced(answer)) == 1, (name, status, answer)
        else:
            assert reasons(answer) == [expected], (name, verdict, answer)
        assert clinic.running(), name
    assert passes_the_door(clinic)


# ------------------------------------------------------------------------- injection


def test_part_headers_are_never_echoed_logged_or_stored(clinic):
    marker = "RTINJ%d" % int(time.time() * 1000)
    part = dicom(patient="RT-INJ")
    headers = "\r\n".join([
        "Content-Type: application/dicom; name=\"%s\"; x=\"\\\"<script>\"" % marker,
        "Content-Disposition: attachment; filename=\"../../%s.dcm\"" % marker,
        "Content-Description: %s\x1b[31m red" % marker,
        "Content-Location: http://%s.example/" % marker,
        "X-%s: %s" % (marker, marker)])
    status, _, answer = post(clinic, [(headers, part), ("X-Only: %s" % marker, b"no type")])
    assert status == 202, (status, answer)
    assert marker not in json.dumps(answer)
    assert marker not in json.dumps(audit(clinic))
    uploads = clinic.admin_json("GET", "/inbound/admin/uploads")["uploads"]
    assert marker not in json.dumps(uploads)
    for u in uploads:
        assert marker not in json.dumps(clinic.admin_upload(u["id"]))
    with open(clinic.log_path, "rb") as f:
        assert marker.encode() not in f.read()


# ------------------------------------------------------------------------- whose upload


def test_a_partner_never_writes_into_another_partners_or_a_browsers_upload(clinic):
    study = "1.2.826.0.1.3680043.8.498.777"
    browser = Upload.open(clinic)
    browser_file = dicom(study=study, patient="RT-WHO-B")
    assert browser.put(browser_file).status_code == 201
    a_file, d_file = dicom(study=study, patient="RT-WHO-A"), dicom(study=study, patient="RT-WHO-D")
    assert post(clinic, [a_file], study=study)[0] == 200
    assert post(clinic, [d_file], study=study, token=TOKEN_D)[0] == 200
    # Each partner's part went to an upload of its own; the browser's holds its file only.
    assert [f["sha256"] for f in browser.status_json()["files"]] == [sha256(browser_file)]
    owners = {}
    for u in clinic.admin_json("GET", "/inbound/admin/uploads")["uploads"]:
        detail = clinic.admin_upload(u["id"])
        for item in detail.get("items", []):
            owners.setdefault(item["sha256"], set()).add((u["id"], detail["sender"]["name"]))
    (a_owner,), (d_owner,) = owners[sha256(a_file)], owners[sha256(d_file)]
    assert a_owner[1] == "Clinic A" and d_owner[1] == "Clinic D", owners
    assert a_owner[0] != d_owner[0] and browser.id not in (a_owner[0], d_owner[0])
    for pid, owner in (("clinic-a", a_owner), ("clinic-d", d_owner)):
        listed = [u["id"] for u in clinic.admin_json(
            "GET", "/inbound/admin/partners/%s" % pid).get("uploads", [])]
        assert owner[0] in listed, (pid, listed)


# ------------------------------------------------------------------------- malware


@pytest.fixture(scope="module")
def scanned(plugin, tmp_path_factory):
    """A Standalone that scans with a real clamd (a signature database of the test's own)."""
    import conftest
    from clamd_support import Clamd
    clamd = Clamd(str(tmp_path_factory.mktemp("clamd"))).start()
    s = conftest._start(plugin, inbound={
        "Partners": [partner("clinic-a", TOKEN_A)],
        "Scan": {"Clamd": clamd.address, "Timeout": 5, "RetryAfter": 7},
        "Upload": {"MaxFileBytes": 1024 * 1024}})
    yield s
    conftest._cleanup(s, check=True)
    clamd.stop()


def test_a_malware_part_fails_c010_is_kept_nowhere_and_alerts(scanned):
    from clamd_support import MARKER, MARKER_FOUND, WHOLE_FILE, dicom_with
    before = snapshot(scanned)
    clean, infected = dicom_with(b"", patient_id="RT-CLEAN"), dicom_with(MARKER,
                                                                         patient_id="RT-MAL")
    status, _, answer = post(scanned, [clean, infected, WHOLE_FILE])
    assert status == 202, (status, answer)
    assert referenced(answer) == [uid_of(clean)], answer
    assert sorted(reasons(answer)) == [C010, C010], answer
    assert MARKER_FOUND not in json.dumps(answer)  # what was found is for the admins only
    assert len(snapshot(scanned)[0]) == len(before[0]) + 1
    assert scanned.find("Patient", {"PatientID": "*RT-MAL*"}) == []
    from gateway_support import wait_for_audit
    alerts = wait_for_audit(scanned, lambda e: e.get("event") == "alert-malware"
                            and sha256(infected) in (e.get("detail") or ""), what="alert-malware")
    assert MARKER_FOUND in alerts[0]["detail"]


def test_a_scanner_that_never_answers_fails_closed_with_a704(plugin, tmp_path):
    from clamd_support import MuteClamd, dicom_with
    mute = MuteClamd(str(tmp_path))
    import conftest
    s = conftest._start(plugin, inbound={
        "Partners": [partner("clinic-a", TOKEN_A)],
        "Scan": {"Clamd": mute.address, "Timeout": 2, "RetryAfter": 7}})
    try:
        started = time.monotonic()
        status, headers, answer = post(s, [dicom_with(b"", patient_id="RT-MUTE")])
        assert status == 503 and reasons(answer) == [0xA704], (status, answer)
        assert headers.get("retry-after") == "7", headers
        assert time.monotonic() - started < 15
        assert s.admin_json("GET", "/instances") == []
    finally:
        conftest._cleanup(s, check=True)
        mute.stop()
