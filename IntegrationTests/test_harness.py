"""The harness itself, with a plain Orthanc (no plugin): start, restart, stop, start-up errors."""

import pytest

import harness
from data import CT_SMALL


def test_start_restart_keeps_data_and_stop(start_plain_orthanc):
    server = start_plain_orthanc()
    assert server.admin_json("GET", "/system")["Name"] == "InboundTest"
    r = server.admin("POST", "/instances", data=harness.read(CT_SMALL))
    assert r.status_code == 200, r.text
    instance = r.json()["ID"]
    pid = server.process.pid

    server.restart()
    assert server.process.pid != pid
    assert server.all_instances() == {instance}
    assert server.instance_file(instance) == harness.read(CT_SMALL)

    process = server.process
    server.stop()
    assert process.poll() is not None
    assert not server.running()


def test_start_failure_reports_the_log(start_plain_orthanc, tmp_path):
    not_a_library = tmp_path / "not-a-plugin.so"
    not_a_library.write_text("this is not a shared library\n")
    with pytest.raises(harness.ServerError) as error:
        start_plain_orthanc(orthanc={"Plugins": [str(not_a_library)]})
    assert "Orthanc log" in str(error.value)
    assert "not-a-plugin.so" in str(error.value)


def test_dicom_comparison_detects_changes():
    """The check used on every stored file finds a changed, a lost and an added element."""
    import io

    import pydicom

    import checks
    from data import Original, make_dicom

    original = Original(data=make_dicom(patient_id="ORIG"))

    def stored(change):
        # What the plugin writes: the isolated ID, its issuer, and the record of the change.
        ds = pydicom.dcmread(io.BytesIO(original.data))
        previous = pydicom.Dataset()
        previous.PatientID = ds.PatientID
        previous.IssuerOfPatientID = ds.get("IssuerOfPatientID", "")
        record = pydicom.Dataset()
        record.ModifiedAttributesSequence = [previous]
        record.AttributeModificationDateTime = "20261204203512.000000+0000"
        record.ModifyingSystem = "ORTHANC-INBOUND"
        record.SourceOfPreviousValues = ""
        record.ReasonForTheAttributeModification = "COERCE"
        ds.OriginalAttributesSequence = [record]
        ds.PatientID = checks.isolated_patient_id("UPLOAD1", "ORIG")
        ds.IssuerOfPatientID = "ORTHANC-INBOUND UPLOAD1"
        change(ds)
        out = io.BytesIO()
        ds.save_as(out, write_like_original=False)
        return out.getvalue()

    checks.assert_same_dicom_but_patient(original, stored(lambda ds: None), "UPLOAD1")
    for change in (lambda ds: setattr(ds, "PatientName", "Other^Name"),
                   lambda ds: delattr(ds, "StudyDate"),
                   lambda ds: setattr(ds, "AccessionNumber", "A1"),
                   lambda ds: setattr(ds, "PixelData", bytes(len(ds.PixelData))),
                   lambda ds: delattr(ds, "OriginalAttributesSequence"),
                   lambda ds: setattr(ds.OriginalAttributesSequence[0]
                                      .ModifiedAttributesSequence[0], "PatientID", "OTHER"),
                   lambda ds: setattr(ds, "PatientID",
                                      checks.isolated_patient_id("UPLOAD1", "ORIGX"))):
        with pytest.raises(AssertionError):
            checks.assert_same_dicom_but_patient(original, stored(change), "UPLOAD1")
    with pytest.raises(AssertionError):
        checks.assert_same_dicom_but_patient(original, stored(lambda ds: None), "UPLOAD2")
