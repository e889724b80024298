"""Helpers of the red-team tests of big files in parts (test_redteam_parts*.py): part PUTs,
assembly, what lies in the parts folder, hostile files that only show once assembled."""

import os
import struct
import zlib

from pydicom.uid import generate_uid

import harness
import hostile_dicom as h

PART = 1024 * 1024  # Upload.PartBytes of these servers (the smallest allowed)


def put_part(server, upload, sha256, n, body, part_sha256=None, token=None, headers=None):
    """PUT part "n" of file "sha256"; part_sha256 False leaves X-Inbound-Part-Sha256 out."""
    sent = {"X-Inbound-Token": upload.token if token is None else token,
            "Content-Type": "application/octet-stream"}
    if part_sha256 is not False:
        sent["X-Inbound-Part-Sha256"] = harness.sha256(body) if part_sha256 is None else part_sha256
    sent.update(headers or {})
    return server.request("PUT", upload.path("/files/%s/parts/%s" % (sha256, n)), data=body,
                          headers=sent)


def assemble(server, upload, sha256, count, token=None, body=None):
    return server.request(
        "POST", upload.path("/files/%s/assemble" % sha256),
        json={"parts": count} if body is None else None, data=body,
        headers={"X-Inbound-Token": upload.token if token is None else token,
                 "Content-Type": "application/json"})


def split(payload, part=PART):
    return [payload[i:i + part] for i in range(0, len(payload), part)] or [b""]


def send_parts(server, upload, payload, sha256=None, part=PART):
    """Every part of "payload" (each must be answered 201/200); returns the count."""
    sha256 = harness.sha256(payload) if sha256 is None else sha256
    pieces = split(payload, part)
    for n, piece in enumerate(pieces):
        r = put_part(server, upload, sha256, n, piece)
        assert r.status_code in (200, 201), "part %d: %d %s" % (n, r.status_code, r.text[:300])
    return len(pieces)


def send_in_parts(server, upload, payload, part=PART):
    """Parts, then the assembly: its answer."""
    sha256 = harness.sha256(payload)
    count = send_parts(server, upload, payload, sha256, part)
    return assemble(server, upload, sha256, count)


def data_directory(server):
    return os.path.join(server.storage, "inbound")


def part_files(server, upload=None):
    """Every file below the parts folder (parts, temporary and assembled files), or below
    the folder of one upload."""
    found = []
    root = os.path.join(data_directory(server), "parts")
    for folder, _, names in os.walk(root if upload is None else os.path.join(root, upload.id)):
        found.extend(os.path.join(folder, name) for name in names)
    return sorted(found)


def files_containing(root, marker):
    """Files below "root" whose bytes hold "marker" (plain text of a sender)."""
    hits = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as f:
                    if marker in f.read():
                        hits.append(path)
            except OSError:
                pass
    return hits


def assert_alive(server):
    assert server.running(), "Orthanc died\n%s" % server.log_tail()
    r = server.request("GET", "/inbound/api/info")
    assert r.status_code == 200, "Orthanc does not answer: %d" % r.status_code


def assert_left_nothing(server, upload):
    """Nothing of the file stored, no part or assembled file left, the server alive."""
    assert_alive(server)
    assert server.instances_of_upload(upload.id) == {}, "something was stored in Orthanc"
    status = upload.status_json()
    assert status["receivedFiles"] == 0 and status["files"] == [], status
    assert status.get("partialFiles", []) == [], status
    assert part_files(server, upload) == [], "left on disk: %s" % part_files(server, upload)


def padded_hostile(tail, patient_id="HOSTILE-PARTS", padding=PART + PART // 2):
    """A Basic Text SR whose first "padding" bytes are a harmless private OB value and whose
    hostile "tail" (elements of explicit VR LE, tags above (0029,xxxx)) comes after: only the
    assembled file shows it, no part alone is a DICOM file."""
    e = h.Encoder()
    uid = generate_uid()
    dataset = (h.header(e, h.BASIC_TEXT_SR, uid, patient_id) +
               e.element((0x0029, 0x0010), "LO", "REDTEAM") +
               e.element((0x0029, 0x1000), "OB", b"\x5a" * padding) + tail)
    return h.part10(h.EXPLICIT_LE, dataset, h.BASIC_TEXT_SR, uid)


def streamed_deflate_bomb(inflated_bytes, patient_id="BOMB-PARTS"):
    """A Deflated secondary capture whose pixel data, zeros, inflate to "inflated_bytes",
    compressed chunk by chunk (a few MB of memory, whatever the size)."""
    e = h.Encoder()
    uid = generate_uid()
    frames = max(1, inflated_bytes // (1024 * 1024))
    inflated_bytes = frames * 1024 * 1024
    head = (h.header(e, h.SECONDARY_CAPTURE, uid, patient_id) +
            e.element((0x0028, 0x0002), "US", struct.pack("<H", 1)) +
            e.element((0x0028, 0x0004), "CS", "MONOCHROME2") +
            e.element((0x0028, 0x0008), "IS", str(frames)) +
            e.element((0x0028, 0x0010), "US", struct.pack("<H", 1024)) +
            e.element((0x0028, 0x0011), "US", struct.pack("<H", 1024)) +
            e.element((0x0028, 0x0100), "US", struct.pack("<H", 8)) +
            e.element((0x0028, 0x0101), "US", struct.pack("<H", 8)) +
            e.element((0x0028, 0x0102), "US", struct.pack("<H", 7)) +
            e.element((0x0028, 0x0103), "US", struct.pack("<H", 0)) +
            e.tag(0x7FE0, 0x0010) + b"OB\0\0" + struct.pack("<I", inflated_bytes))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [packer.compress(head)]
    zeros = b"\0" * (16 * 1024 * 1024)
    left = inflated_bytes
    while left > 0:
        chunk = zeros if left >= len(zeros) else zeros[:left]
        out.append(packer.compress(chunk))
        left -= len(chunk)
    out.append(packer.flush())
    return (b"\0" * 128 + b"DICM" + h.meta(h.DEFLATED, h.SECONDARY_CAPTURE, uid) +
            b"".join(out))
