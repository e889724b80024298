"""Files in many transfer syntaxes pass through isolation and are stored as they came."""

import os

import pytest

import checks
import data
from harness import Upload

# Part 10 files of pydicom's test data, one transfer syntax (or encoder) each.
FILES = {
    "MR_small.dcm": "1.2.840.10008.1.2.1",              # Explicit VR Little Endian
    "MR_small_implicit.dcm": "1.2.840.10008.1.2",       # Implicit VR Little Endian
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",    # Explicit VR Big Endian
    "image_dfl.dcm": "1.2.840.10008.1.2.1.99",          # Deflated Explicit VR Little Endian
    "JPEG-lossy.dcm": "1.2.840.10008.1.2.4.51",         # JPEG Extended (12 bit)
    "SC_rgb_jpeg_gdcm.dcm": "1.2.840.10008.1.2.4.70",   # JPEG Lossless SV1
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",      # JPEG 2000 Lossless
    "JPEG2000.dcm": "1.2.840.10008.1.2.4.91",           # JPEG 2000
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",          # RLE Lossless, 16 bit
    "SC_rgb_rle.dcm": "1.2.840.10008.1.2.5",            # RLE Lossless, RGB
}


def test_the_files_exist():
    for name, syntax in FILES.items():
        path = data.test_file(name)
        assert os.path.isfile(path), path
        assert data.Original(path).transfer_syntax == syntax, name


@pytest.mark.parametrize("name", sorted(FILES))
def test_transfer_syntax_is_kept(server, name):
    original = data.Original(data.test_file(name))
    assert original.transfer_syntax == FILES[name]
    # Several of these files share their UIDs: one upload each.
    upload = Upload.open(server)
    before = server.all_instances()
    r = upload.put(original.data)
    assert r.status_code == 201, r.text
    checks.assert_put_answer(r.json(), original, upload.id)

    new = server.all_instances() - before
    assert len(new) == 1
    (orthanc_id,) = new
    checks.assert_instance_metadata(server, orthanc_id, original, upload.id)
    tags = server.admin_json("GET", "/instances/%s/simplified-tags" % orthanc_id)
    assert tags["PatientID"] == checks.isolated_patient_id(upload.id, original.patient_id)
    assert tags["SOPInstanceUID"] == original.sop_instance_uid
    checks.assert_same_dicom_but_patient(original, server.instance_file(orthanc_id), upload.id)
    receipt = upload.complete_ok()
    assert receipt["files"] == 1


CHARSET_FILES = "/usr/lib/python3/dist-packages/pydicom/data/charset_files"
# name -> Specific Character Set, as pydicom reads it.
CHARSETS = {
    "chrGerm.dcm": "ISO_IR 100",
    "chrRuss.dcm": "ISO_IR 144",
    "chrGreek.dcm": "ISO_IR 126",
    "chrArab.dcm": "ISO_IR 127",
    "chrHbrw.dcm": "ISO_IR 138",
    "chrX1.dcm": "ISO_IR 192",
    "chrX2.dcm": "GB18030",
    "chrH31.dcm": "['', 'ISO 2022 IR 87']",
    "chrI2.dcm": "['', 'ISO 2022 IR 149']",
}


@pytest.mark.parametrize("name", sorted(CHARSETS))
def test_character_set_is_kept(server, name):
    """Names in foreign character sets come through isolation unchanged."""
    original = data.Original(os.path.join(CHARSET_FILES, name))
    assert str(original.ds.SpecificCharacterSet) == CHARSETS[name]
    upload = Upload.open(server)
    r = upload.put(original.data)
    assert r.status_code == 201, r.text
    checks.assert_put_answer(r.json(), original, upload.id)
    (instance,) = server.instances_of_upload(upload.id).values()
    stored = server.instance_file(instance["ID"])
    checks.assert_same_dicom_but_patient(original, stored, upload.id)
    checks.assert_instance_metadata(server, instance["ID"], original, upload.id)
