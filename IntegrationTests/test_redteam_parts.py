"""Red-team attacks of a sender (and of anybody on the Internet) on big files in parts
(doc/Api.md, "Files in parts"), on a Standalone: malformed part numbers and hashes, parts over
their size, parts without the token or of a closed upload, assemblies that cannot be whole,
hostile DICOM that only the assembled file shows, assemblies that race each other, the
cancel or the completion. Each is answered 4xx with its JSON error code, stores nothing,
leaves no part or assembled file behind, and Orthanc lives on."""

import os
import threading

import pytest

import data
import gateway_support
import harness
import hostile_dicom as h
from harness import Upload
from redteam_parts_support import (PART, assemble, assert_alive, assert_left_nothing,
                                   padded_hostile, part_files, put_part, send_in_parts,
                                   send_parts, split)

MAX_FILE = 200 * PART  # Upload.MaxFileBytes of the module's server: at most 200 parts


@pytest.fixture(scope="module")
def server(plugin):
    s = gateway_support.start(plugin, inbound={"Upload": {
        "PartBytes": PART, "MaxFileBytes": MAX_FILE, "MaxBytesPerUpload": MAX_FILE}})
    yield s
    gateway_support.finish(s)


def big_dicom(patient_id):
    """A real DICOM file of 3 parts (2.3 MiB)."""
    payload = data.make_dicom(patient_id=patient_id, rows=1024, columns=1200)
    assert 2 * PART < len(payload) < 3 * PART
    return payload


# ------------------------------------------------------------------ the part PUT itself


@pytest.mark.parametrize("n, status, code", [
    ("01", 400, "bad-part"), ("00", 400, "bad-part"), ("abc", 400, "bad-part"),
    ("1e3", 400, "bad-part"), ("0x1", 400, "bad-part"), ("99999999999", 400, "bad-part"),
    ("18446744073709551617", 400, "bad-part"),
    ("200", 413, "too-large"), ("4294967296", 413, "too-large"),
    # Not even the route: refused by the access filter, unread.
    ("-1", 403, None), ("+1", 403, None), ("%C3%A9", 403, None), ("%2e%2e", 403, None),
    ("..%2f..%2fledger.sqlite", 403, None), ("1%2f..", 403, None),
])
def test_a_part_number_that_is_no_part_is_refused(server, n, status, code):
    upload = Upload.open(server)
    sha256 = harness.sha256(b"the file")
    r = put_part(server, upload, sha256, n, b"a part")
    if code is None:
        assert r.status_code == status, r.text
    else:
        harness.assert_error(r, status, code)
    assert_left_nothing(server, upload)


def test_the_highest_part_number_is_accepted(server):
    """The bound of the previous test is exact: 200 parts of 1 MiB make MaxFileBytes."""
    upload = Upload.open(server)
    r = put_part(server, upload, harness.sha256(b"x"), "199", b"the last part")
    assert r.status_code == 201, r.text
    upload.cancel()
    assert part_files(server, upload) == []


def test_a_part_whose_hashes_are_not_exact_is_refused(server):
    upload = Upload.open(server)
    body = b"part bytes of a big file"
    sha256 = harness.sha256(b"the whole file")
    cases = [
        (dict(part_sha256=harness.sha256(body).upper()), 400, "bad-part"),
        (dict(part_sha256=False), 400, "bad-part"),
        (dict(part_sha256=harness.sha256(body)[:63]), 400, "bad-part"),
        (dict(part_sha256=harness.sha256(body) + "0"), 400, "bad-part"),
        (dict(part_sha256=harness.sha256(body + b"!")), 409, "hash-mismatch"),
    ]
    for kwargs, status, code in cases:
        harness.assert_error(put_part(server, upload, sha256, 0, body, **kwargs), status, code)
    for route_hash in (sha256.upper(), sha256[:63], "g" * 64):
        harness.assert_error(put_part(server, upload, route_hash, 0, body), 400, "bad-hash")
    harness.assert_error(put_part(server, upload, sha256, 0, b""), 400, "bad-part")
    assert_left_nothing(server, upload)


def test_a_part_over_part_bytes_is_refused_with_or_without_a_length(server):
    upload = Upload.open(server)
    sha256 = harness.sha256(b"whole")
    over = b"\x11" * (PART + 1)
    harness.assert_error(put_part(server, upload, sha256, 0, over), 413, "too-large")
    # Twice the cap: refused before it is read.
    r = put_part(server, upload, sha256, 0, b"\x11" * (2 * PART + 1))
    assert r.status_code == 403, r.text
    # A body without a length (chunked) is refused unread as on every public route.
    head = ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Inbound-Token: %s\r\n"
            "X-Inbound-Part-Sha256: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (
                upload.path("/files/%s/parts/0" % sha256), upload.token,
                harness.sha256(over))).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in split(over, 64 * 1024)) + b"0\r\n\r\n"
    status, _ = gateway_support.raw_exchange(server.port, head + chunks)
    assert status == 403
    # A length that lies (says less than is sent) gives a part of the length said, or nothing.
    head = ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Inbound-Token: %s\r\n"
            "X-Inbound-Part-Sha256: %s\r\nContent-Length: 10\r\nConnection: close\r\n\r\n" % (
                upload.path("/files/%s/parts/0" % sha256), upload.token,
                harness.sha256(over[:10]))).encode()
    status, _ = gateway_support.raw_exchange(server.port, head + over)
    assert status in (201, 400, 413), status
    upload.cancel()
    assert part_files(server, upload) == []
    assert_alive(server)


def test_parts_need_the_token_of_their_own_upload(server):
    upload = Upload.open(server)
    other = Upload.open(server)
    body = b"a part"
    sha256 = harness.sha256(b"whole")
    for token in ("", "x" * 43, other.token, upload.token[:-1]):
        r = put_part(server, upload, sha256, 0, body, token=token)
        assert r.status_code == 404, r.text
        r = assemble(server, upload, sha256, 1, token=token)
        assert r.status_code == 404, r.text
    r = put_part(server, Upload(server, {"id": "A" * 12, "token": upload.token}, {}),
                 sha256, 0, body)
    assert r.status_code == 404
    assert_left_nothing(server, upload)
    assert_left_nothing(server, other)


@pytest.mark.parametrize("close", ["complete", "cancel"])
def test_parts_of_a_closed_upload_are_refused_and_its_parts_go(server, close):
    upload = Upload.open(server)
    assert upload.put(harness.read(data.CT_SMALL)).status_code == 201
    payload = big_dicom("CLOSED-%s" % close)
    sha256 = harness.sha256(payload)
    pieces = split(payload)
    assert put_part(server, upload, sha256, 0, pieces[0]).status_code == 201
    assert part_files(server), "the part is not on disk"
    r = upload.complete() if close == "complete" else upload.cancel()
    assert r.status_code == 200, r.text
    assert part_files(server, upload) == [], "parts of a closed upload stay on disk"
    harness.assert_error(put_part(server, upload, sha256, 1, pieces[1]), 409, "upload-closed")
    harness.assert_error(assemble(server, upload, sha256, 3), 409, "upload-closed")
    assert part_files(server, upload) == []
    assert_alive(server)


# ------------------------------------------------------------------------- the assembly


@pytest.mark.parametrize("body, status, code", [
    (b'{"parts": 0}', 400, "bad-part"), (b'{"parts": 201}', 400, "bad-part"),
    (b'{"parts": 4294967297}', 400, "bad-part"), (b'{"parts": -1}', 400, "invalid-field"),
    (b'{"parts": "3"}', 400, "invalid-field"), (b'{"parts": 2.5}', 400, "invalid-field"),
    (b'{"parts": 1e400}', 400, None), (b'{"parts": null}', 400, "bad-part"),
    (b'{"parts": 3, "sha256": "x"}', 400, "invalid-field"), (b'{}', 400, None),
    (b'[3]', 400, "bad-json"), (b'', 400, "bad-json"), (b'{"parts": 3', 400, "bad-json"),
    (b'{"parts": 3, "parts": 1}', 400, None),
])
def test_an_assembly_must_name_its_count(server, body, status, code):
    upload = Upload.open(server)
    payload = big_dicom("COUNT")
    sha256 = harness.sha256(payload)
    send_parts(server, upload, payload)
    r = assemble(server, upload, sha256, None, body=body)
    if code is None:
        assert r.status_code == status, r.text
        assert r.json()["error"], r.text
    else:
        harness.assert_error(r, status, code)
    assert server.instances_of_upload(upload.id) == {}
    # The parts stay for a right request.
    assert upload.status_json()["partialFiles"][0]["parts"] == [0, 1, 2]
    assert assemble(server, upload, sha256, 3).status_code == 201
    assert part_files(server, upload) == []


def test_missing_parts_are_named_a_hundred_at_most(server):
    upload = Upload.open(server)
    sha256 = harness.sha256(b"a file of 200 parts")
    assert put_part(server, upload, sha256, 1, b"\x22" * PART).status_code == 201
    body = harness.assert_error(assemble(server, upload, sha256, 200), 409, "parts-missing")
    assert body["missing"] == [0] + list(range(2, 101)), body["missing"]
    upload.cancel()
    assert part_files(server, upload) == []


@pytest.mark.parametrize("sizes", [
    (PART - 1, PART, 10),        # a short part that is not the last
    (PART, 10, 10),              # the last is fine, the middle short
    (10, PART),                  # a short first part, then a whole one
])
def test_parts_that_do_not_make_a_file_are_refused(server, sizes):
    """Only the last part may be short: refused when the part comes (a short part fixes the
    count) or at the latest when the file is assembled; nothing is stored either way."""
    upload = Upload.open(server)
    sha256 = harness.sha256(b"sizes %r" % (sizes,))
    refused = None
    for n, size in enumerate(sizes):
        r = put_part(server, upload, sha256, n, os.urandom(size))
        if r.status_code != 201:
            refused = r
            break
    if refused is None:
        refused = assemble(server, upload, sha256, len(sizes))
    harness.assert_error(refused, 400, "bad-part")
    assert server.instances_of_upload(upload.id) == {}
    upload.cancel()
    assert part_files(server, upload) == []
    assert_alive(server)


def test_parts_counted_short_are_not_the_named_file(server):
    """Three whole parts assembled as two: the bytes are not the file named."""
    upload = Upload.open(server)
    sha256 = harness.sha256(b"three parts")
    for n in range(3):
        assert put_part(server, upload, sha256, n, os.urandom(PART)).status_code == 201
    harness.assert_error(assemble(server, upload, sha256, 2), 409, "hash-mismatch")
    assert_left_nothing(server, upload)


def test_parts_of_another_file_are_dropped_at_assembly(server):
    upload = Upload.open(server)
    real = big_dicom("REAL")
    claimed = harness.sha256(big_dicom("CLAIMED"))
    count = send_parts(server, upload, real, sha256=claimed)
    harness.assert_error(assemble(server, upload, claimed, count), 409, "hash-mismatch")
    assert_left_nothing(server, upload)
    # The sender starts again with the right name: stored.
    assert send_in_parts(server, upload, real).status_code == 201
    assert part_files(server, upload) == []


def test_bytes_that_are_no_dicom_are_refused_once_assembled(server):
    upload = Upload.open(server)
    payload = os.urandom(2 * PART + 5)
    harness.assert_error(send_in_parts(server, upload, payload), 400, "not-dicom")
    assert_left_nothing(server, upload)


HOSTILE_TAILS = {
    "nested 50 deep": lambda e: h.nested_sequences(e, 50),
    "nested 500 deep, UN": lambda e: h.nested_sequences(e, 500, vr="UN"),
    "a 4 GB text": lambda e: e.element(h.TEXT_VALUE, "UT", b"short", length=0xFFFFFFF0),
    "sequences never closed": lambda e: (e.element(h.CONTENT_SEQUENCE, "SQ", b"",
                                                   length=h.UNDEFINED) +
                                         e.tag(0xFFFE, 0xE000) + b"\xff\xff\xff\xff") * 10,
}


@pytest.mark.parametrize("tail", sorted(HOSTILE_TAILS))
def test_hostile_dicom_behind_the_first_part_is_refused(server, tail):
    """What makes the file hostile lies in its second part: no check of a part alone sees it."""
    upload = Upload.open(server)
    payload = padded_hostile(HOSTILE_TAILS[tail](h.Encoder()))
    assert len(payload) > PART
    r = send_in_parts(server, upload, payload)
    harness.assert_error(r, 400, "invalid-dicom")
    assert_left_nothing(server, upload)


def test_a_length_that_runs_over_the_file_end_is_refused(server):
    """The padding's length says more than the file holds: it ends in the middle of part 2."""
    upload = Upload.open(server)
    payload = padded_hostile(b"")
    position = payload.index(b"OB\0\0", 300)
    payload = payload[:position + 4] + (len(payload)).to_bytes(4, "little") + \
        payload[position + 8:]
    harness.assert_error(send_in_parts(server, upload, payload), 400, "invalid-dicom")
    assert_left_nothing(server, upload)


def test_a_deflate_bomb_in_parts_is_refused(server):
    """Inflates to 300 MiB, MaxFileBytes is 200 MiB."""
    upload = Upload.open(server)
    bomb = h.deflate_bomb(300 * PART)
    assert len(bomb) < PART
    harness.assert_error(send_in_parts(server, upload, bomb), 413, "too-large")
    assert_left_nothing(server, upload)


def test_a_dicomdir_in_parts_is_refused_as_a_whole_one_is(server):
    upload = Upload.open(server)
    dicomdir = harness.read(os.path.join(data.test_file("dicomdirtests"), "DICOMDIR"))
    whole = upload.put(dicomdir)
    parts = send_in_parts(server, upload, dicomdir)
    assert parts.status_code == whole.status_code, (whole.text, parts.text)
    if whole.status_code >= 400:
        assert parts.json()["error"] == whole.json()["error"]
    assert part_files(server, upload) == []
    assert_alive(server)


def test_a_polyglot_in_parts_is_stored_with_a_zero_preamble_and_audited(server):
    """CVE-2019-11687 on the new path: a Windows executable's header as the preamble of a
    file sent in parts is never stored, and the admins see it in the audit."""
    from test_polyglot import ZEROS, pe_preamble
    upload = Upload.open(server)
    made = big_dicom("POLYGLOT-PARTS")
    payload = pe_preamble() + made[128:]
    assert send_in_parts(server, upload, payload).status_code == 201
    (instance,) = server.instances_of_upload(upload.id).values()
    stored = server.instance_file(instance["ID"])
    assert stored[:128] == ZEROS and stored[128:132] == b"DICM"
    assert b"PE\0\0" not in stored[:512]
    sha256 = harness.sha256(payload)
    events = [e for e in gateway_support.audit(server)
              if e["event"] == "file-preamble" and e["uploadId"] == upload.id]
    assert [e["detail"] for e in events] == [
        "preamble starts with MZ (Windows executable); file SHA-256 %s" % sha256], events
    assert part_files(server, upload) == []


def test_a_second_file_of_the_same_instance_in_parts_is_refused(server):
    """The same SOP Instance UID with other bytes, in parts after the first went whole."""
    upload = Upload.open(server)
    first = big_dicom("SAME-INSTANCE")
    assert upload.put(first).status_code == 201
    second = first[:-1] + bytes([first[-1] ^ 1])  # one pixel byte differs
    r = send_in_parts(server, upload, second)
    harness.assert_error(r, 409, "duplicate-instance")
    assert len(server.instances_of_upload(upload.id)) == 1
    assert upload.status_json()["receivedFiles"] == 1
    assert part_files(server, upload) == []


# ---------------------------------------------------------------------- races


def run_together(calls):
    """Runs the calls at once; their answers (or exceptions) in order."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i):
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_assemblies_of_one_file_at_once_store_it_once(server):
    upload = Upload.open(server)
    payload = data.make_dicom(patient_id="RACE", rows=2048, columns=2048)  # 8 MiB, 9 parts
    sha256 = harness.sha256(payload)
    count = send_parts(server, upload, payload)
    answers = run_together([lambda: assemble(server, upload, sha256, count) for _ in range(6)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, [(a.status_code, a.text[:200]) for a in answers]
    for a in answers:
        if a.status_code == 503:
            harness.assert_error(a, 503, "server-busy")
            assert a.headers.get("Retry-After")
        else:
            assert a.status_code in (200, 201), a.text
    assert len(server.instances_of_upload(upload.id)) == 1
    # The late ones, asking again, hear that it is stored.
    r = assemble(server, upload, sha256, count)
    assert r.status_code == 200 and r.json()["sha256"] == sha256, r.text
    r = put_part(server, upload, sha256, 0, split(payload)[0])
    assert r.status_code == 200 and r.json()["stored"] is True, r.text
    assert upload.status_json()["partialFiles"] == []
    assert part_files(server, upload) == []


@pytest.mark.parametrize("other", ["cancel", "delete", "complete", "parts"])
def test_an_assembly_racing_the_upload_leaves_it_consistent(server, other):
    upload = Upload.open(server)
    assert upload.put(harness.read(data.CT_SMALL)).status_code == 201
    payload = data.make_dicom(patient_id="RACE-%s" % other, rows=2048, columns=2048)
    sha256 = harness.sha256(payload)
    count = send_parts(server, upload, payload)
    pieces = split(payload)
    calls = [lambda: assemble(server, upload, sha256, count)]
    if other == "cancel":
        calls.append(upload.cancel)
    elif other == "delete":  # by an admin
        calls.append(lambda: server.admin("DELETE", "/inbound/admin/uploads/%s" % upload.id))
    elif other == "complete":
        calls.append(upload.complete)
    else:  # the same parts again, and one with other bytes
        calls += [lambda: put_part(server, upload, sha256, 1, pieces[1]),
                  lambda: put_part(server, upload, sha256, 2, os.urandom(PART))]
    answers = run_together(calls)
    assert not any(isinstance(a, Exception) for a in answers), answers
    status = server.admin_upload(upload.id)
    stored = server.instances_of_upload(upload.id)
    if other == "delete":
        assert answers[1].status_code == 200, answers[1].text
        assert status["state"] == "deleted" and stored == {}, (status["state"], stored)
        assert part_files(server, upload) == []
        assert_alive(server)
        return
    status = upload.status_json()
    if other == "cancel":
        assert answers[1].status_code == 200, answers[1].text
        assert status["state"] == "cancelled" and stored == {}, (status, stored)
    elif other == "complete":
        assert answers[1].status_code == 200, answers[1].text
        # The receipt counts exactly what is stored.
        assert status["receivedFiles"] == len(stored), (status, stored)
        assert answers[0].status_code in (201, 409), answers[0].text
    else:
        assert answers[0].status_code in (201, 409, 503), answers[0].text
        assert status["receivedFiles"] == len(stored)
        upload.cancel()
    assert part_files(server, upload) == [] or status["state"] == "open"
    upload.cancel()
    assert part_files(server, upload) == []
    assert_alive(server)


def test_parts_after_the_file_is_stored_write_nothing(server):
    upload = Upload.open(server)
    payload = big_dicom("AFTER")
    assert send_in_parts(server, upload, payload).status_code == 201
    sha256 = harness.sha256(payload)
    for n, piece in enumerate(split(payload)):
        r = put_part(server, upload, sha256, n, piece)
        assert r.status_code == 200 and r.json()["stored"] is True, r.text
    # Other bytes under a stored file's name: nothing written either.
    r = put_part(server, upload, sha256, 0, b"other bytes")
    assert r.status_code == 200 and r.json()["stored"] is True, r.text
    assert part_files(server, upload) == []
    assert len(server.instances_of_upload(upload.id)) == 1
    # The same file whole: already stored.
    assert upload.put(payload).status_code == 200


# ------------------------------------------------------------- a page of another site


def test_a_page_of_another_site_cannot_send_or_assemble_parts(server):
    """The token travels in a header of its own: a browser asks first (CORS preflight), and
    nothing allows another origin; without the token, an assembly a page could send as a
    simple request (text/plain) finds nothing."""
    upload = Upload.open(server)
    payload = big_dicom("CROSS-SITE")
    sha256 = harness.sha256(payload)
    count = send_parts(server, upload, payload)
    evil = {"Origin": "https://evil.example"}
    for path, method in ((upload.path("/files/%s/parts/0" % sha256), "PUT"),
                         (upload.path("/files/%s/assemble" % sha256), "POST")):
        r = server.request("OPTIONS", path, headers=dict(evil, **{
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "x-inbound-token,x-inbound-part-sha256"}))
        assert not any(k.lower().startswith("access-control-allow") for k in r.headers), \
            dict(r.headers)
    r = server.request("POST", upload.path("/files/%s/assemble" % sha256),
                       data=b'{"parts": %d}' % count,
                       headers=dict(evil, **{"Content-Type": "text/plain"}))
    assert r.status_code == 404, r.text
    assert not any(k.lower().startswith("access-control-allow") for k in r.headers)
    assert server.instances_of_upload(upload.id) == {}
    assert upload.status_json()["partialFiles"][0]["parts"] == list(range(count))
    upload.cancel()
    assert part_files(server, upload) == []


def test_a_file_stored_whole_drops_its_parts(server):
    """A page that sent a part, then the whole file (another try, another page): the parts of
    a stored file hold no slot, no byte of the upload's budget and no line of the status."""
    upload = Upload.open(server)
    payload = big_dicom("WHOLE-AFTER-PARTS")
    sha256 = harness.sha256(payload)
    assert put_part(server, upload, sha256, 0, split(payload)[0]).status_code == 201
    assert upload.put(payload).status_code == 201
    status = upload.status_json()
    assert status["partialFiles"] == [] and status["receivedFiles"] == 1, status
    assert part_files(server, upload) == []
