"""The benchmarks' CT study: one patient, one series of generated 512x512 head slices, made once
and cached under INBOUND_BENCH_WORK, read back with each file's SHA-256."""

import hashlib
import json
import os
import shutil
import time

import numpy
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

from bench_support import WORK, BenchmarkError

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
DATASET_VERSION = 2  # bump when the generated files change, to invalidate the cache


def log(message):
    print("[study %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def uid(*parts):
    """A deterministic UID under the UUID root 2.25 (128 bits of a SHA-256), so that the cached
    data set is reproducible. (pydicom's generate_uid ignores its entropy sources when asked for
    a 2.25 UID, and would give every call a random one.)"""
    digest = hashlib.sha256("/".join(["orthanc-inbound-bench"] + [str(p) for p in parts]).encode())
    return "2.25.%d" % int(digest.hexdigest()[:32], 16)


def phantom_slice(index, count, rng):
    """A 512x512 CT-like slice in stored values (12 bits used, rescale intercept -1024):
    air, an elliptic skull whose size follows the slice position, brain, some noise."""
    n = 512
    y, x = numpy.mgrid[0:n, 0:n].astype(numpy.float32)
    cx, cy = n / 2 + 3.0 * numpy.sin(index / 40.0), n / 2 - 10
    position = (index + 0.5) / count  # 0 = vertex ... 1 = skull base
    scale = 0.55 + 0.45 * numpy.sin(numpy.pi * min(0.95, 0.15 + 0.85 * position))
    a, b = 170.0 * scale, 205.0 * scale
    r = numpy.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
    hu = numpy.full((n, n), -1000.0, dtype=numpy.float32)       # air
    hu[r < 1.0] = 1200.0                                          # bone
    hu[r < 0.93] = 35.0                                           # brain
    ventricles = numpy.sqrt(((x - cx) / (18 * scale)) ** 2 + ((y - cy + 10) / (45 * scale)) ** 2)
    hu[ventricles < 1.0] = 8.0                                    # CSF
    hu += rng.normal(0.0, 6.0, size=(n, n)).astype(numpy.float32)  # noise
    stored = numpy.clip(hu + 1024.0, 0, 4095).astype(numpy.uint16)
    return stored


def new_instance(sop_class_uid, sop_uid):
    """An empty data set of that SOP class and instance, with its file meta group (explicit VR
    little endian, a zero preamble)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "INBOUND_BENCH"

    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    return ds


def make_instance(index, count, rng):
    study_uid = uid("study")
    series_uid = uid("series")
    sop_uid = uid("instance", index)
    ds = new_instance(CT_IMAGE_STORAGE, sop_uid)

    thickness = 1.0
    z = -150.0 + index * thickness
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20260512"
    ds.StudyTime = "101500"
    ds.SeriesTime = "101722"
    ds.AcquisitionTime = ds.ContentTime = "1017%02d.%03d" % (22 + index // 100, (index * 37) % 1000)
    ds.AccessionNumber = "ACC-BENCH-0001"
    ds.Modality = "CT"
    ds.Manufacturer = "Synthetic"
    ds.InstitutionName = "Example Clinic"
    ds.ReferringPhysicianName = "EXAMPLE^REFERRER"
    ds.StationName = "CT01"
    ds.StudyDescription = "CT HEAD WITHOUT CONTRAST"
    ds.SeriesDescription = "Head 1.0 mm axial"
    ds.ManufacturerModelName = "Benchmark phantom"
    ds.PatientName = "BENCH^INGEST"
    ds.PatientID = "BENCH-0001"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "O"
    ds.PatientAge = "066Y"
    ds.BodyPartExamined = "HEAD"
    ds.SliceThickness = "%.1f" % thickness
    ds.KVP = "120"
    ds.DataCollectionDiameter = "250"
    ds.ReconstructionDiameter = "250"
    ds.ExposureTime = "1000"
    ds.XRayTubeCurrent = "300"
    ds.ConvolutionKernel = "H30s"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = "2"
    ds.AcquisitionNumber = "1"
    ds.InstanceNumber = str(index + 1)
    ds.ImagePositionPatient = ["-125.0", "-125.0", "%.1f" % z]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = uid("frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = "%.1f" % z
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 512
    ds.Columns = 512
    ds.PixelSpacing = ["0.488281", "0.488281"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "40"
    ds.WindowWidth = "80"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.PixelData = phantom_slice(index, count, rng).tobytes()
    return ds


def ensure_dataset(count):
    """Generates the study once; later runs reuse the cached files."""
    directory = os.path.join(WORK, "dataset-v%d-%d" % (DATASET_VERSION, count))
    manifest = os.path.join(directory, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            files = json.load(f)["files"]
        if len(files) == count and all(os.path.exists(os.path.join(directory, n)) for n in files):
            return directory, files
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    log("generating %d CT instances in %s" % (count, directory))
    rng = numpy.random.default_rng(20260512)
    files = []
    for i in range(count):
        name = "CT%04d.dcm" % (i + 1)
        make_instance(i, count, rng).save_as(os.path.join(directory, name), write_like_original=False)
        files.append(name)
    with open(manifest, "w") as f:  # written last: a half-generated cache is regenerated
        json.dump({"version": DATASET_VERSION, "files": files}, f)
    return directory, files


def load_dataset(count):
    directory, names = ensure_dataset(count)
    files = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            body = f.read()
        files.append({"name": name, "body": body, "sha256": hashlib.sha256(body).hexdigest()})
    check_dataset(directory, names)
    return directory, files


def check_dataset(directory, names):
    """One patient, one study, one series, distinct instances, explicit VR little endian."""
    seen = {"PatientID": set(), "StudyInstanceUID": set(), "SeriesInstanceUID": set()}
    sops = set()
    for name in names:
        ds = pydicom.dcmread(os.path.join(directory, name), stop_before_pixels=True)
        if ds.file_meta.TransferSyntaxUID != ExplicitVRLittleEndian:
            raise BenchmarkError("%s: transfer syntax %s" % (name, ds.file_meta.TransferSyntaxUID))
        for key in seen:
            seen[key].add(ds.get(key))
        sops.add(ds.SOPInstanceUID)
    problems = ["%d values of %s" % (len(v), k) for k, v in seen.items() if len(v) != 1]
    if len(sops) != len(names):
        problems.append("%d SOP Instance UIDs for %d files" % (len(sops), len(names)))
    if problems:
        raise BenchmarkError("the generated study in %s is wrong: %s (delete it to regenerate)"
                             % (directory, ", ".join(problems)))
