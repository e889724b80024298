"""The big multi-frame DICOM files of Benchmarks/bigfile.py, written streamed to disk and cached.

One file = a Multi-frame Grayscale Word Secondary Capture instance, Explicit VR Little Endian,
`frames` frames of 1024 x 1024 16-bit pixels (2 MiB each). pydicom writes the header (preamble,
file meta, every attribute but Pixel Data); Pixel Data (7FE0,0010) OW is appended by hand, frame
by frame, so that the generator holds one frame in memory, never the file. DICOM's 32-bit value
length limits Pixel Data to 4 GiB - 2 bytes (2047 frames here). Each frame is a rotation of one
random frame: every frame differs, and nothing compresses on the way.
"""

import hashlib
import io
import json
import os
import random
import struct

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROWS = COLUMNS = 1024
FRAME_BYTES = ROWS * COLUMNS * 2
SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word Secondary Capture
MAX_FRAMES = (0xFFFFFFFE) // FRAME_BYTES
VERSION = 1  # bump when the file's content changes: the cache is keyed by it


def header(frames, patient_id):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SOP_CLASS
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = "Bigfile^Benchmark"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = "BIG%d" % frames
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = 40.0
    ds.Rows = ROWS
    ds.Columns = COLUMNS
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    buffer = io.BytesIO()
    ds.save_as(buffer, write_like_original=False)
    return buffer.getvalue(), ds.SOPInstanceUID


def write(path, frames, patient_id="BIGFILE-1", seed=20):
    """Writes the file (atomically) and returns its description: size, sha256, UIDs."""
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError("frames must be 1..%d (DICOM's 4 GiB value length)" % MAX_FRAMES)
    head, sop = header(frames, patient_id)
    length = frames * FRAME_BYTES
    element = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length)
    base = random.Random(seed).randbytes(FRAME_BYTES)
    view = memoryview(base)
    digest = hashlib.sha256()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for piece in (head, element):
            f.write(piece)
            digest.update(piece)
        for k in range(frames):
            offset = (k * 7919 * 2) % FRAME_BYTES
            for piece in (view[offset:], view[:offset]):
                f.write(piece)
                digest.update(piece)
    os.replace(tmp, path)
    return {"path": path, "bytes": os.path.getsize(path), "sha256": digest.hexdigest(),
            "frames": frames, "rows": ROWS, "columns": COLUMNS, "bitsAllocated": 16,
            "sopInstanceUid": sop, "sopClassUid": SOP_CLASS,
            "transferSyntax": ExplicitVRLittleEndian}


def cached(folder, frames, log=print):
    """The file of `frames` frames in `folder`, made once (its description beside it)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "bigfile-v%d-%dx%dx%d.dcm" % (VERSION, frames, ROWS, COLUMNS))
    described = path + ".json"
    if os.path.exists(path) and os.path.exists(described):
        with open(described) as f:
            info = json.load(f)
        if info.get("bytes") == os.path.getsize(path):
            return info
    log("writing %s (%d frames, %.1f MB)" % (path, frames, frames * FRAME_BYTES / 1e6))
    info = write(path, frames)
    with open(described, "w") as f:
        json.dump(info, f, indent=1)
    return info
