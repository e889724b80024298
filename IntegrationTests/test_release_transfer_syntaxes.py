# Releases of files in every transfer syntax the plugin accepts, checked in what storescp got.
"""The release's copy (doc/Reconciliation.md, "The copy": GET /instances/{id}/file, coerced with
DCMTK, written by Orthanc's ParsedDicomFile, POST /instances, sent by Orthanc's store job) keeps
the transfer syntax and the pixel data element byte for byte (encapsulated fragments included),
in each of the transfer syntaxes of test_transfer_syntaxes.py; once with an ASCII identity,
once with a name that the file's character set (ISO_IR 100) cannot hold (the whole dataset
is converted to UTF-8) and new UIDs. Checked with pydicom in what a real PACS received."""

import io

import pytest
import pydicom
from pydicom.tag import Tag
from pydicom.uid import generate_uid

import data
import gateway_support
import test_release
from pacs import Pacs
from test_release import (PATIENT_NAME, RECONCILED, SPECIFIC_CHARACTER_SET, assert_coerced,
                          assert_same_but)
from test_requests_delivery import wait_until
from test_transfer_syntaxes import FILES

STUDY_DESCRIPTION = Tag(0x0008, 0x1030)
# Data Set Trailing Padding (PS3.10 7.2: "no DICOM meaning"): Orthanc's store job (DCMTK's
# network layer) never sends it, for any instance (a study sent as stored loses it too).
TRAILING_PADDING = Tag(0xFFFC, 0xFFFC)
UIDS = {Tag(0x0008, 0x0018), Tag(0x0020, 0x000D), Tag(0x0020, 0x000E)}
BIRTH_DATE = "19700303"  # the sender's and the hospital's: not changed, not recorded
RELEASES = {
    # kind -> (patient of the release body without its id, newUids)
    "ascii": ({"issuer": "HOSP", "name": "DOE^JANE", "birthDate": BIRTH_DATE}, False),
    "utf8": ({"name": "Łukasiewicz^Zoë", "birthDate": BIRTH_DATE}, True),
}


@pytest.fixture(scope="module")
def pacs(tmp_path_factory):
    # storescp writes what it received byte for byte (no re-encoding of its own).
    made = Pacs(str(tmp_path_factory.mktemp("pacs")), options=["--bit-preserving"]).start()
    yield made
    made.stop()


@pytest.fixture(scope="module")
def site(plugin, pacs):
    server = gateway_support.start(
        plugin, inbound={"Forwarding": test_release.FAST_RETRIES},
        orthanc={"DicomModalities": {"pacs": pacs.modality()}})
    yield server
    gateway_support.finish(server)


def sender_file(name, case):
    """pydicom's test file "name" as a Latin-1 practice sends it (ISO_IR 100, 8-bit text), with
    its own PatientID and new UIDs, written again in its own transfer syntax: data.Original."""
    source = data.Original(data.test_file(name))
    ds = pydicom.dcmread(io.BytesIO(source.data))
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientID = "PRAXIS-" + case
    ds.PatientName = "Müller^Jürgen"
    ds.PatientBirthDate = BIRTH_DATE
    ds.StudyDescription = "Schädel nativ"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    ds.save_as(out, write_like_original=True)
    made = data.Original(data=out.getvalue())
    assert made.transfer_syntax == FILES[name], name
    assert made.ds.PixelData == source.ds.PixelData, name
    assert raw_text(made.ds, STUDY_DESCRIPTION) == "Schädel nativ".encode("latin-1"), name
    return made


def raw_text(ds, tag):
    """The bytes of a text element as the file holds them (before pydicom decodes them),
    without the padding."""
    return ds.get_item(tag).value.rstrip(b" ")


def received_by_patient_id(pacs, patient_id):
    """The one instance the PACS received with "patient_id" (unique to a test case)."""
    found = wait_until("an instance of %s at the PACS" % patient_id, lambda: [
        r for r in pacs.received() if str(r.get("PatientID", "")) == patient_id], 60.0)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("kind", sorted(RELEASES))
@pytest.mark.parametrize("name", sorted(FILES))
def test_release_keeps_the_transfer_syntax_and_the_pixel_data(site, pacs, name, kind):
    server = site
    case = "%s-%s" % (kind, name.replace(".dcm", "").replace("_", "-"))
    hospital_id = "H-" + case
    sent = sender_file(name, case)
    upload = test_release.send(server, [sent])
    patient, new_uids = RELEASES[kind]
    body = {"modality": "pacs", "patient": dict(patient, id=hospital_id), "newUids": new_uids}
    answer = server.admin("POST", "/inbound/admin/uploads/%s/release" % upload.id, json=body)
    assert answer.status_code == 202, answer.text
    [done] = test_release.wait_for_forwards(server, upload.id,
                                            lambda f: f["state"] in ("done", "failed"))
    assert done["state"] == "done", done

    r = received_by_patient_id(pacs, hospital_id)
    # The syntax sent is the one the PACS received (storescp +xa accepts each, and writes
    # what it received): no transcoding anywhere, the pixel data element byte for byte.
    assert str(r.file_meta.TransferSyntaxUID) == FILES[name]
    assert r.PixelData == sent.ds.PixelData
    assert r.file_meta.MediaStorageSOPInstanceUID == r.SOPInstanceUID
    assert r.file_meta.MediaStorageSOPClassUID == r.SOPClassUID == sent.ds.SOPClassUID

    assert (str(r.PatientID), str(r.PatientName), r.PatientBirthDate) == (
        hospital_id, patient["name"], BIRTH_DATE)
    assert r.get("IssuerOfPatientID") == patient.get("issuer")
    # Each text keeps its characters; after the conversion in UTF-8 bytes.
    encoding = "utf-8" if kind == "utf8" else "latin-1"
    assert raw_text(r, STUDY_DESCRIPTION) == "Schädel nativ".encode(encoding)
    assert r.StudyDescription == "Schädel nativ"
    changed = RECONCILED | {TRAILING_PADDING}
    if kind == "utf8":
        assert r.SpecificCharacterSet == "ISO_IR 192"
        assert not {r.SOPInstanceUID, r.StudyInstanceUID, r.SeriesInstanceUID} & {
            sent.sop_instance_uid, sent.study_instance_uid, sent.series_instance_uid}
        changed = changed | UIDS | {SPECIFIC_CHARACTER_SET}
    else:
        assert r.SpecificCharacterSet == "ISO_IR 100"
        assert (r.SOPInstanceUID, r.StudyInstanceUID, r.SeriesInstanceUID) == (
            sent.sop_instance_uid, sent.study_instance_uid, sent.series_instance_uid)
    assert_same_but(sent, r, changed)
    assert_coerced(sent, r, upload.id, [PATIENT_NAME])
