"""Hostile parts for the red team's reconciliation tests: crafted CD files, a PACS that answers a byte at a time, Orthanc's thread count."""

import io
import os
import socket
import struct
import threading
import time

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import generate_uid

import data

# DICOM attributes a crafted file may set, by keyword.
FIELDS = {"pid": "PatientID", "name": "PatientName", "birth": "PatientBirthDate",
          "sex": "PatientSex", "accession": "AccessionNumber", "issuer": "IssuerOfPatientID",
          "other_ids": "OtherPatientIDs"}


def craft(charset="ISO_IR 100", other=(), original_items=None, raw=None, study=None,
          folder="98892001", index=0, **fields):
    """One image of the patient CD with the sender's values "fields" (keys of FIELDS, values
    written as given, backslashes and wildcards included): "charset" None leaves
    SpecificCharacterSet out; "other" the PatientIDs of an OtherPatientIDsSequence;
    "original_items" Datasets of an OriginalAttributesSequence of the sender's; "raw"
    {tag: (VR, bytes)} elements written byte for byte; "study" a StudyInstanceUID to share.
    New UIDs, pixels of its own: a data.Original."""
    ds = pydicom.dcmread(data.cd_images([folder])[index])
    if charset is None:
        if "SpecificCharacterSet" in ds:
            del ds.SpecificCharacterSet
    else:
        ds.SpecificCharacterSet = charset
    for key, value in fields.items():
        setattr(ds, FIELDS[key], value)
    if other:
        items = []
        for pid in other:
            item = Dataset()
            item.PatientID, item.TypeOfPatientID = pid, "TEXT"
            items.append(item)
        ds.OtherPatientIDsSequence = Sequence(items)
    if original_items is not None:
        ds.OriginalAttributesSequence = Sequence(original_items)
    ds.StudyInstanceUID = study or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PixelData = os.urandom(8) + bytes(ds.PixelData)[8:]
    for tag, (vr, value) in (raw or {}).items():
        if Tag(tag) in ds:
            del ds[tag]
        ds._dict[Tag(tag)] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return data.Original(data=out.getvalue())


def implicit_item(*elements):
    """The bytes of one implicit-VR item (as inside a UN value) holding (group, element,
    bytes) elements."""
    inner = b"".join(struct.pack("<HHI", g, e, len(v)) + v for g, e, v in elements)
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(inner)) + inner


def thread_count(server):
    """The threads of the server's Orthanc process."""
    return len(os.listdir("/proc/%d/task" % server.process.pid))


class TrickleProxy:
    """A PACS that answers slowly: in front of a real one, it passes Orthanc's bytes at once and
    the PACS's first packet (the association's acceptance) too, then one byte every "delay"
    seconds; close() cuts every connection (the PACS gives up)."""

    def __init__(self, upstream_port, delay):
        self.upstream_port, self.delay = upstream_port, delay
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.stopped = False
        self.open = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self.socket.listen(64)
        self.socket.settimeout(0.2)
        self.thread.start()
        return self

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.socket.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, self.delay),
                             daemon=True).start()

    def _pipe(self, source, target, delay):
        first = True
        try:
            while not self.stopped:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if first or not delay:
                    target.sendall(chunk)
                    first = False
                    continue
                for i in range(len(chunk)):
                    if self.stopped:
                        return
                    time.sleep(delay)
                    target.sendall(chunk[i:i + 1])
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def modality(self, aet):
        return {"AET": aet, "Host": "127.0.0.1", "Port": self.port}

    def close(self):
        self.stopped = True
        for s in [self.socket] + self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.thread.join(5)
