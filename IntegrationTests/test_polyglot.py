"""Polyglots (CVE-2019-11687): DICOM files whose 128-byte preamble is also an executable, an
archive or a script. Whatever the sender's preamble held, the copy stored in Orthanc (Standalone
on PUT, Internal after a pull, the copy made for a release) has 128 zero bytes before "DICM";
a preamble that is neither zeros nor a TIFF header is audited where the file arrives."""

import io
import os
import struct

import pydicom
import pytest

import checks
import data
import gateway_support
import harness
from harness import Upload, assert_error, sha256
from pacs import Pacs
from test_pull import make_gateway, make_internal, wait_for_upload

ZEROS = b"\0" * 128
HOSPITAL = {"id": "HOSP-POLY-1", "name": "Doe^Jane", "birthDate": "19700131"}


def pe_preamble():
    """A DOS header ("MZ", e_lfarlc 0x40, e_lfanew 0x40) and, at the offset it declares, the
    PE signature and a COFF header (x86-64, no sections): the shape of a Windows executable."""
    dos = struct.pack("<2s13H8sHH20sI", b"MZ", 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0, 0,
                      0x40, 0, b"\0" * 8, 0, 0, b"\0" * 20, 0x40)
    assert len(dos) == 0x40
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x8664, 0, 0x5F000000, 0, 0, 0, 0x0022)
    return (dos + coff).ljust(128, b"\0")


def elf_preamble():
    """The 64-byte header of an x86-64 ELF executable."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x401000, 64, 0, 0, 64, 56, 1,
                                 0, 0, 0)
    assert len(header) == 64
    return header.ljust(128, b"\0")


def zip_preamble():
    """A ZIP local file header of a stored (uncompressed) entry "run.sh"."""
    name = b"run.sh"
    header = b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0)
    return (header + name).ljust(128, b"\0")


def tiff_preamble():
    """A little-endian TIFF header pointing to its first IFD (PS3.10 7.5 dual personality)."""
    return (b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 1) +
            struct.pack("<HHII", 256, 4, 1, 16)).ljust(128, b"\0")


def random_preamble():
    """Random bytes that happen to start like none of the named formats."""
    while True:
        candidate = os.urandom(128)
        if not candidate.startswith((b"MZ", b"\x7fELF", b"PK", b"#!", b"%PDF", b"II*\0",
                                     b"MM\0*", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe",
                                     b"\xce\xfa\xed\xfe")):
            return candidate


# name -> (preamble, what the audit detail says; None: no audit event)
RANDOM = random_preamble()
CASES = {
    "pe": (pe_preamble(), "starts with MZ (Windows executable)"),
    "elf": (elf_preamble(), "starts with ELF (Unix executable)"),
    "zip": (zip_preamble(), "starts with PK (ZIP archive)"),
    "script": (b"#!/bin/sh\nexec /bin/true\n".ljust(128, b" "), "starts with #! (script)"),
    "random": (RANDOM, "%d non-zero bytes" % sum(1 for b in RANDOM if b != 0)),
    "tiff": (tiff_preamble(), None),
    "zeros": (ZEROS, None),
}


def polyglot(preamble):
    """A valid DICOM file (with pixel data) whose preamble is "preamble"."""
    made = data.make_dicom(patient_id="POLY-1")
    assert made[:128] == ZEROS and made[128:132] == b"DICM"
    return preamble + made[128:]


@pytest.fixture(scope="module")
def files():
    return {name: polyglot(preamble) for name, (preamble, _) in CASES.items()}


def assert_clean_copy(stored, sent, upload_id):
    """128 zero bytes, DICM, and the dataset as isolation makes it; pixel data as sent."""
    assert stored[:128] == ZEROS, stored[:16]
    assert stored[128:132] == b"DICM"
    checks.assert_same_dicom_but_patient(data.Original(data=sent), stored, upload_id)
    assert pydicom.dcmread(io.BytesIO(stored)).PixelData == \
        pydicom.dcmread(io.BytesIO(sent)).PixelData


def assert_audited(server, upload_id, files, ip):
    """One file-preamble event per non-zero, non-TIFF preamble, naming it and the file's
    SHA-256 and holding none of its bytes; none for zeros and TIFF."""
    events = [e for e in gateway_support.audit(server)
              if e["event"] == "file-preamble" and e["uploadId"] == upload_id]
    by_file = {}
    for e in events:
        digest = e["detail"].rsplit(" ", 1)[-1]
        assert digest not in by_file, events
        by_file[digest] = e
    for name, (preamble, described) in CASES.items():
        digest = sha256(files[name])
        if described is None:
            assert digest not in by_file, (name, by_file.get(digest))
            continue
        assert digest in by_file, (name, events)
        e = by_file[digest]
        assert e["detail"] == "preamble %s; file SHA-256 %s" % (described, digest), e
        assert e["ip"] == ip, e
        for chunk in (preamble[:8].hex(), "PE\0", "run.sh", "/bin/sh"):
            assert chunk not in e["detail"], (name, e)
    assert len(events) == sum(1 for _, d in CASES.values() if d is not None)


def stored_by_sha(server, upload_id):
    return {server.metadata("instances", i["ID"], "InboundSha256"): i["ID"]
            for i in server.instances_of_upload(upload_id).values()}


@pytest.fixture
def pacs(tmp_path):
    made = Pacs(str(tmp_path / "pacs"))
    yield made
    made.stop()


def test_a_standalone_stores_every_preamble_as_zeros_and_audits_polyglots(start_server, files,
                                                                          pacs):
    pacs.start()
    server = start_server(inbound={"Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 2}},
                          orthanc={"DicomModalities": {"pacs": pacs.modality()}})
    upload = Upload.open(server)
    for name, content in files.items():
        r = upload.put(content)
        assert r.status_code == 201, (name, r.text)
    upload.complete_ok()

    stored = stored_by_sha(server, upload.id)
    assert len(stored) == len(files)
    for name, content in files.items():
        assert_clean_copy(server.instance_file(stored[sha256(content)]), content, upload.id)
    assert_audited(server, upload.id, files, "127.0.0.1")

    # The copy a release makes is Orthanc's modification of the stored copy: its bytes, as
    # the Forwarder gets them, start with a zero preamble too.
    pe = stored[sha256(files["pe"])]
    modified = server.admin("POST", "/instances/%s/modify" % pe, json={
        "Replace": {"PatientID": HOSPITAL["id"]}, "Keep": ["StudyInstanceUID",
                                                          "SeriesInstanceUID", "SOPInstanceUID"],
        "Force": True})
    assert modified.status_code == 200, modified.text[:300]
    assert modified.content[:132] == ZEROS + b"DICM"

    # Released to a real PACS: what arrives has a zero preamble (storescp writes its own)
    # and the pixel data as sent.
    answer = server.admin("POST", "/inbound/admin/uploads/%s/release" % upload.id,
                          json={"modality": "pacs", "patient": HOSPITAL})
    assert answer.status_code == 202, answer.text
    received = pacs.wait_for(len(files))
    sent_pixels = {pydicom.dcmread(io.BytesIO(c)).SOPInstanceUID:
                   pydicom.dcmread(io.BytesIO(c)).PixelData for c in files.values()}
    for r in received:
        assert r.preamble == ZEROS
        assert str(r.PatientID) == HOSPITAL["id"]
        assert r.PixelData == sent_pixels[r.SOPInstanceUID]


def test_orthanc_itself_keeps_a_preamble_that_the_plugin_removes(start_server, files):
    """Why the plugin zeroes: Orthanc core stores the bytes it is given, preamble and all (an
    admin's own POST /instances, past the plugin); its modification writes a zero one."""
    server = start_server()
    r = server.admin("POST", "/instances", data=files["pe"])
    assert r.status_code == 200, r.text
    assert server.instance_file(r.json()["ID"])[:128] == CASES["pe"][0]
    modified = server.admin("POST", "/instances/%s/modify" % r.json()["ID"],
                            json={"Replace": {"PatientName": "X"}, "Force": True})
    assert modified.status_code == 200 and modified.content[:132] == ZEROS + b"DICM"


def test_files_without_a_part_10_preamble_are_refused(server):
    """A raw dataset, or an executable followed by a dataset without "DICM" at byte 128."""
    made = data.make_dicom()
    meta_length = struct.unpack("<I", made[140:144])[0]
    raw = made[144 + meta_length:]
    before = server.count_instances()
    upload = Upload.open(server)
    assert_error(upload.put(raw), 400, "not-dicom")
    assert_error(upload.put(pe_preamble() + raw), 400, "not-dicom")
    assert_error(upload.put(pe_preamble() + b"DICM"), 400, "invalid-dicom")
    assert server.count_instances() == before
    assert upload.status_json()["receivedFiles"] == 0


def test_through_a_gateway_and_a_pull_the_internal_stores_zeros_and_both_audit(plugin, files):
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, {"dmz": gateway})
    try:
        upload = Upload.open(gateway)
        for name, content in files.items():
            r = upload.put(content)
            assert r.status_code == 201, (name, r.text)
        upload.complete_ok()
        assert_audited(gateway, upload.id, files, "127.0.0.1")

        internal.start()
        wait_for_upload(internal, upload.id, "complete")
        stored = stored_by_sha(internal, upload.id)
        assert len(stored) == len(files)
        for name, content in files.items():
            assert_clean_copy(internal.instance_file(stored[sha256(content)]), content, upload.id)
        # The gateway is not trusted: the Internal looks at the preamble itself.
        assert_audited(internal, upload.id, files, "dmz")
        wait_for_upload(gateway, upload.id, "delivered")
    finally:
        for s in (internal, gateway):
            s.stop()
            s.cleanup()
