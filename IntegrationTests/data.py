"""DICOM test data: pydicom's test files (Debian python3-pydicom) and files made at test time."""

import collections
import glob
import io
import os

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

import harness

TEST_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
CD = os.path.join(TEST_FILES, "dicomdirtests")
CD_DICOMDIR = os.path.join(CD, "DICOMDIR")
CD_FOLDERS = ("77654033", "98892001", "98892003")

CT_SMALL = os.path.join(TEST_FILES, "CT_small.dcm")
MR_SMALL = os.path.join(TEST_FILES, "MR_small.dcm")
MR_TRUNCATED = os.path.join(TEST_FILES, "MR_truncated.dcm")
NO_META = os.path.join(TEST_FILES, "ExplVR_LitEndNoMeta.dcm")


def test_file(name):
    return os.path.join(TEST_FILES, name)


def cd_images(folders=CD_FOLDERS):
    """The image files of the patient CD (files without extensions), sorted."""
    files = []
    for folder in folders:
        for path in glob.glob(os.path.join(CD, folder, "**", "*"), recursive=True):
            if os.path.isfile(path):
                files.append(path)
    return sorted(files)


class Original:
    """One file as the sender has it: its bytes, hash and a few tags read by pydicom."""

    def __init__(self, path=None, data=None):
        self.path = path
        self.data = harness.read(path) if data is None else data
        self.sha256 = harness.sha256(self.data)
        self.size = len(self.data)
        self.ds = pydicom.dcmread(io.BytesIO(self.data))

    @property
    def patient_id(self):
        return str(self.ds.get("PatientID", ""))

    @property
    def sop_instance_uid(self):
        return str(self.ds.SOPInstanceUID)

    @property
    def study_instance_uid(self):
        return str(self.ds.StudyInstanceUID)

    @property
    def series_instance_uid(self):
        return str(self.ds.SeriesInstanceUID)

    @property
    def transfer_syntax(self):
        return str(self.ds.file_meta.TransferSyntaxUID)

    def __repr__(self):
        return "Original(%s)" % (self.path or "generated")


def studies_of(originals):
    """studyInstanceUid -> {"instances", "modalities", "studyDate", "patientId"} per pydicom."""
    studies = collections.OrderedDict()
    for o in originals:
        s = studies.setdefault(o.study_instance_uid, {
            "instances": 0, "modalities": set(), "studyDate": str(o.ds.get("StudyDate", "")),
            "patientId": o.patient_id, "description": str(o.ds.get("StudyDescription", ""))})
        s["instances"] += 1
        s["modalities"].add(str(o.ds.Modality))
    return studies


def make_dicom(patient_id="GEN-1", rows=16, columns=16, omit=(), study_uid=None,
               series_uid=None):
    """A small uncompressed Part 10 file made with pydicom; "omit" names attributes to leave out."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = "Generated^Patient"
    ds.Modality = "OT"
    ds.StudyDate = "20260101"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    # (i * 7) % 256 for every byte i: a pattern of period 256, repeated (fast for big files).
    size = rows * columns * 2
    ds.PixelData = (bytes((i * 7) % 256 for i in range(256)) * (size // 256 + 1))[:size]
    for name in omit:
        if name in ds:
            delattr(ds, name)
    buffer = io.BytesIO()
    ds.save_as(buffer, write_like_original=False)
    return buffer.getvalue()


def multiframe(path, patient_id, frames, rows=512, columns=256):
    """A multi-frame secondary capture of random pixels (rows x columns x 2 bytes a frame: a
    misplaced byte could not go unnoticed) written to "path": its Original."""
    ds = pydicom.dcmread(io.BytesIO(make_dicom(patient_id, rows=1, columns=1)))
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word SC
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.NumberOfFrames = frames
    ds.Rows = rows
    ds.Columns = columns
    ds.PixelData = os.urandom(frames * rows * columns * 2)
    ds.save_as(str(path), write_like_original=False)
    return Original(str(path))
