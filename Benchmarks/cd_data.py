"""The CD benchmark's data: an MR study of many small images (20 series of 320x320 16-bit slices,
200 KiB of pixels each), made once and cached under INBOUND_BENCH_WORK, read back with hashes."""

import hashlib
import json
import math
import os
import shutil
import time

import numpy

from bench_study import new_instance, uid
from bench_support import WORK

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
VERSION = 1  # bump when the generated files change
SERIES = 20
SEQUENCES = ["T1 SE", "T2 TSE", "FLAIR", "DWI b1000", "T1 MPRAGE", "SWI", "T2* GRE", "PD TSE",
             "T1 SE post", "ADC"]


def log(message):
    print("[cd-data %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def make_image(index, count, side, rng):
    per_series = max(1, count // SERIES)
    series = min(SERIES - 1, index // per_series)
    slice_index = index - series * per_series
    ds = new_instance(MR_IMAGE_STORAGE, uid("cd", "instance", index))
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.SOPClassUID = MR_IMAGE_STORAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20260514"
    ds.StudyTime = "083000"
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "08%02d00" % (31 + series)
    ds.AccessionNumber = "ACC-BENCH-CD01"
    ds.Modality = "MR"
    ds.Manufacturer = "Synthetic"
    ds.InstitutionName = "Example Imaging Centre"
    ds.ReferringPhysicianName = "EXAMPLE^REFERRER"
    ds.StudyDescription = "MR BRAIN"
    ds.SeriesDescription = SEQUENCES[series % len(SEQUENCES)]
    ds.PatientName = "BENCH^CD"
    ds.PatientID = "BENCH-CD-0001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.MagneticFieldStrength = "3"
    ds.SliceThickness = "1.0"
    ds.RepetitionTime = "2300"
    ds.EchoTime = "2.98"
    ds.StudyInstanceUID = uid("cd", "study")
    ds.SeriesInstanceUID = uid("cd", "series", series)
    ds.FrameOfReferenceUID = uid("cd", "frame-of-reference")
    ds.StudyID = "1"
    ds.SeriesNumber = str(series + 1)
    ds.InstanceNumber = str(slice_index + 1)
    ds.ImagePositionPatient = ["-120.0", "-120.0", "%.1f" % (-80.0 + slice_index)]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SliceLocation = "%.1f" % (-80.0 + slice_index)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = side
    ds.PixelSpacing = ["0.75", "0.75"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    y, x = numpy.mgrid[0:side, 0:side].astype(numpy.float32)
    r = numpy.hypot((x - side / 2) / (0.4 * side), (y - side / 2) / (0.47 * side))
    head = numpy.where(r < 1.0, 900.0 - 300.0 * r * math.cos(slice_index / 30.0), 0.0)
    noise = rng.normal(0.0, 25.0, size=(side, side)).astype(numpy.float32)
    ds.PixelData = numpy.clip(head + noise + 40.0, 0, 4095).astype(numpy.uint16).tobytes()
    return ds


def load_cd(count, kib):
    """The CD's files: [{name, body, sha256}], generated on the first call."""
    side = int(math.sqrt(kib * 1024 / 2))
    directory = os.path.join(WORK, "cd-v%d-%d-%d" % (VERSION, count, side))
    manifest = os.path.join(directory, "manifest.json")
    names = None
    if os.path.exists(manifest):
        with open(manifest) as f:
            names = json.load(f)["files"]
        if len(names) != count or not all(os.path.exists(os.path.join(directory, n)) for n in names):
            names = None
    if names is None:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        log("generating %d MR images of %dx%d in %s" % (count, side, side, directory))
        rng = numpy.random.default_rng(20260514)
        names = []
        for i in range(count):
            name = "MR%05d.dcm" % (i + 1)
            make_image(i, count, side, rng).save_as(os.path.join(directory, name),
                                                    write_like_original=False)
            names.append(name)
        with open(manifest, "w") as f:  # written last: a half-made cache is made again
            json.dump({"version": VERSION, "files": names}, f)
    files = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            body = f.read()
        files.append({"name": name, "body": body, "sha256": hashlib.sha256(body).hexdigest()})
    return files
