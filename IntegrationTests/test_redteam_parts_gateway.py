"""Red-team checks of big files in parts on a sealing Gateway at rest (doc/Api.md, "Files in
parts"; doc/Security.md): whoever reads the gateway's disk (a thief, a backup, an attacker who
took the DMZ host) finds no plain text of a sender in the parts, in a big staged item, nor
after the gateway was killed in the middle of an assembly."""

import os
import threading
import time

import pytest

import data
import gateway_support
import harness
from clamd_support import MARKER, Clamd, dicom_with
from harness import Upload
from redteam_parts_support import (PART, assemble, data_directory, files_containing,
                                   part_files, put_part, send_in_parts, send_parts, split)

TRACE = "REDTEAM-PARTS-MARKER-4711"


def sealing_gateway(plugin, **upload):
    settings = {"PartBytes": PART, "MaxFileBytes": 512 * PART, "MaxBytesPerUpload": 512 * PART}
    settings.update(upload)
    return gateway_support.start(plugin, inbound={"Role": "Gateway", "Upload": settings})


def marked_dicom(rows, columns):
    """A real DICOM file whose PatientID is TRACE, pixels a repeated pattern."""
    payload = data.make_dicom(patient_id=TRACE, rows=rows, columns=columns)
    assert payload.count(TRACE.encode()) == 1
    return payload


def traces(server):
    """Files of the gateway's data directory that hold the marker in plain text."""
    return files_containing(data_directory(server), TRACE.encode())


def test_parts_and_a_big_staged_item_hold_no_plain_text(plugin):
    gateway = sealing_gateway(plugin)
    try:
        upload = Upload.open(gateway)
        payload = marked_dicom(1024, 1200)  # 3 parts
        sha256 = harness.sha256(payload)
        pieces = split(payload)
        for n, piece in enumerate(pieces):
            assert put_part(gateway, upload, sha256, n, piece).status_code == 201
        on_disk = part_files(gateway, upload)
        assert len(on_disk) == 3, on_disk
        assert traces(gateway) == [], "a part holds the sender's plain text"
        for path, piece in zip(on_disk, pieces):
            stored = harness.read(path)
            assert piece[:4096] not in stored and len(stored) > len(piece), path
        # The status a sender asks for shows the plain size, nothing else.
        partial = upload.status_json()["partialFiles"]
        assert partial == [{"sha256": sha256, "parts": [0, 1, 2], "bytes": len(payload)}]

        r = assemble(gateway, upload, sha256, 3)
        assert r.status_code == 201, r.text
        assert part_files(gateway, upload) == []
        staged = gateway_support.staged_files(gateway)
        (name,) = [k for k in staged if k.endswith(sha256)]
        assert staged[name].startswith(b"INBPART1"), staged[name][:16]
        assert traces(gateway) == [], "the staged item holds the sender's plain text"
    finally:
        gateway_support.finish(gateway)


def test_parts_of_an_earlier_process_are_gone_after_a_restart(plugin):
    """Their key lived in the memory of the process that wrote them."""
    gateway = sealing_gateway(plugin)
    try:
        upload = Upload.open(gateway)
        payload = marked_dicom(1024, 1200)
        sha256 = harness.sha256(payload)
        assert put_part(gateway, upload, sha256, 0, split(payload)[0]).status_code == 201
        gateway.restart()
        assert part_files(gateway, upload) == []
        assert upload.status_json()["partialFiles"] == []
        # The sender starts the file again, and it is staged sealed.
        assert send_parts(gateway, upload, payload) == 3
        assert assemble(gateway, upload, sha256, 3).status_code == 201
        assert traces(gateway) == []
    finally:
        gateway_support.finish(gateway)


@pytest.mark.parametrize("moment", ["assembling", "sealing"])
def test_a_gateway_killed_while_assembling_leaves_no_plain_text(plugin, moment):
    """kill -9 while the assembled file (plain text) exists, or while its envelopes are being
    written to the staging folder: after the restart no file of the data directory holds the
    sender's plain text, and no part, assembled or half-staged file is left."""
    gateway = sealing_gateway(plugin)
    try:
        upload = Upload.open(gateway)
        payload = marked_dicom(8192, 8192)  # 128 MiB, 129 parts
        sha256 = harness.sha256(payload)
        count = send_parts(gateway, upload, payload)
        del payload
        if moment == "assembling":
            folder = os.path.join(data_directory(gateway), "parts", upload.id, sha256)
            prefix = "assembled"
        else:
            folder = os.path.join(data_directory(gateway), "staging", upload.id)
            prefix = sha256
        answer = []
        thread = threading.Thread(
            target=lambda: answer.append(_quietly(lambda: assemble(gateway, upload, sha256,
                                                                   count))))
        thread.start()
        deadline = time.monotonic() + 60
        seen = False
        while time.monotonic() < deadline and not seen:
            try:
                seen = any(name.startswith(prefix) for name in os.listdir(folder))
            except FileNotFoundError:
                pass
            time.sleep(0.005)
        assert seen, "no assembled file seen (the assembly was done already: %s)" % answer
        gateway.kill()
        thread.join(60)
        gateway.start()
        assert part_files(gateway) == []
        assert gateway_support.staged_files(gateway) == {}, "a half-staged item is left"
        assert traces(gateway) == [], "plain text left after the crash"
        status = upload.status_json()
        assert status["partialFiles"] == [] and status["receivedFiles"] == 0, status
    finally:
        gateway_support.finish(gateway)


def _quietly(call):
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - the server was killed under the request
        return e


# ------------------------------------------------------------------------------ malware


@pytest.fixture(scope="module")
def clamd(tmp_path_factory):
    c = Clamd(str(tmp_path_factory.mktemp("clamd")), stream_max_length="8M").start()
    yield c
    c.stop()


@pytest.mark.parametrize("role", ["Standalone", "Gateway"])
def test_malware_split_over_parts_is_found_in_the_assembled_file(plugin, clamd, role):
    """The signature's bytes straddle the boundary of parts 0 and 1 (no part alone holds them),
    or lie in the last part: the assembled file is scanned, 422 malware, nothing kept."""
    server = gateway_support.start(plugin, inbound={
        "Role": role, "Scan": {"Clamd": clamd.address, "Timeout": 10},
        "Upload": {"PartBytes": PART, "MaxFileBytes": 8 * PART}})
    try:
        straddling = dicom_with(MARKER, size=PART + len(MARKER) // 2)
        assert MARKER not in straddling[:PART] and MARKER not in straddling[PART:]
        at_the_end = dicom_with(MARKER, size=2 * PART + 4000, patient_id="SCAN-2")
        clean = dicom_with(b"", size=2 * PART + 4000, patient_id="SCAN-3")
        upload = Upload.open(server)
        for infected in (straddling, at_the_end):
            r = send_in_parts(server, upload, infected)
            harness.assert_error(r, 422, "malware")
            assert part_files(server, upload) == []
        assert send_in_parts(server, upload, clean).status_code == 201
        status = upload.status_json()
        assert status["receivedFiles"] == 1 and status["partialFiles"] == [], status
        if role == "Gateway":
            assert len(gateway_support.staged_files(server)) == 1
        else:
            assert len(server.instances_of_upload(upload.id)) == 1
        alerts = [e for e in gateway_support.audit(server) if e.get("event") == "alert-malware"]
        assert len(alerts) == 2, alerts
    finally:
        gateway_support.finish(server)


def test_hostile_dicom_in_parts_is_refused_by_a_sealing_gateway(plugin):
    """What makes each file hostile lies behind its first part; the gateway checks the
    assembled file as it checks a whole one: nothing staged, no part left."""
    import hostile_dicom as h
    from redteam_parts_support import assert_left_nothing, padded_hostile
    gateway = sealing_gateway(plugin)
    try:
        upload = Upload.open(gateway)
        e = h.Encoder()
        for tail in (h.nested_sequences(e, 50), h.nested_sequences(e, 300, vr="UN"),
                     e.element(h.TEXT_VALUE, "UT", b"short", length=0xFFFFFFF0)):
            payload = padded_hostile(tail, patient_id=TRACE)
            harness.assert_error(send_in_parts(gateway, upload, payload), 400, "invalid-dicom")
        assert gateway_support.staged_files(gateway) == {}
        assert_left_nothing(gateway, upload)
        assert traces(gateway) == []
    finally:
        gateway_support.finish(gateway)
