"""A corpus of DICOM files for the isolation tests, made with pydicom at test time: PatientIDs
as senders really write them (OIDs of 48-64 characters differing only at the end, IDs that look
like isolated IDs, backslashes, padding, empty or absent, Latin-1 bytes under a mislabelled or
missing Specific Character Set, ISO 2022 Japanese, GB18030), issuers with qualifiers, a file that
already went through another system (OriginalAttributesSequence), private tags, and the transfer
syntaxes explicit/implicit little endian, big endian, deflated, RLE and JPEG baseline.

Each file is a Case: its bytes and what the sender meant (the PatientID's raw bytes and text)."""

import io
import re

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filereader import dcmread
from pydicom.sequence import Sequence
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit,
                         RLELossless, generate_uid)

import data
import harness

PATIENT_ID = 0x00100020
ISSUER = 0x00100021
QUALIFIERS = 0x00100024
ORIGINAL_ATTRIBUTES = 0x04000561
MODIFIED_ATTRIBUTES = 0x04000550

TRANSFER_SYNTAXES = {
    "explicit-le": ExplicitVRLittleEndian,
    "implicit-le": ImplicitVRLittleEndian,
    "big-endian": ExplicitVRBigEndian,
    "deflated": DeflatedExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpeg-baseline": JPEGBaseline8Bit,
}

# An OID-style PatientID of 50 characters; variations add 0-14 characters at the end.
OID_BASE = "1.2.276.0.7230010.3.1.2.8323329.12345.1700000000."
assert len(OID_BASE) == 49


def oid_pair(length):
    """Two OID PatientIDs of "length" characters (48..64) that differ only in the last one."""
    assert 48 <= length <= 64
    stem = (OID_BASE + "1234567890123456")[:length - 1]
    return stem + "1", stem + "2"


def readable(text):
    """The original mapped to the characters an isolated ID may show."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


class Case:
    """One file as sent. pid: the raw bytes of PatientID (None: absent); text: what the
    sender meant, the metadata InboundOriginalPatientID; undecodable: the bytes do not decode
    under the declared character set (the admin JSON must then show them in hex)."""

    def __init__(self, label, payload, pid, text, name, birth, undecodable=False):
        self.label = label
        self.data = payload
        self.sha256 = harness.sha256(payload)
        self.pid = pid
        self.text = text
        self.name = name
        self.birth = birth
        self.undecodable = undecodable
        self.ds = dcmread(io.BytesIO(payload))  # only for UIDs; compare with fresh reads

    @property
    def key(self):
        """What distinguishes two PatientIDs: raw bytes without trailing padding."""
        return (self.pid or b"").rstrip(b" \0")

    @property
    def sop_instance_uid(self):
        return str(self.ds.SOPInstanceUID)

    @property
    def study_instance_uid(self):
        return str(self.ds.StudyInstanceUID)

    @property
    def transfer_syntax(self):
        return str(self.ds.file_meta.TransferSyntaxUID)

    def fresh(self):
        return dcmread(io.BytesIO(self.data))

    def __repr__(self):
        return "Case(%s, %r)" % (self.label, self.pid)


_counter = [0]


def _next_name():
    _counter[0] += 1
    n = _counter[0]
    return "Iso%03d^Patient" % n, "19%02d%02d%02d" % (30 + n % 60, 1 + n % 12, 1 + n % 28)


def _base_dataset(syntax):
    if syntax == JPEGBaseline8Bit:
        ds = pydicom.dcmread(data.test_file("SC_rgb_jpeg_dcmtk.dcm"))
        for keyword in ("PatientID", "IssuerOfPatientID", "OtherPatientIDs"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        return ds
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom("PLACEHOLDER", rows=8, columns=8)))
    del ds.PatientID
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = bytes([(i * 37) % 251 for i in range(64)])
    ds[0x7FE00010].VR = "OB"
    return ds


def _private(ds, syntax):
    """A private block, with text, binary and numeric values (and a sequence where the
    encoding keeps VRs)."""
    block = ds.private_block(0x0009, "ISOTEST PRIVATE", create=True)
    block.add_new(0x01, "LO", "private text")
    block.add_new(0x02, "OB", b"\x00\x01\x02\xfe\xff\x80")
    block.add_new(0x03, "UL", 0xDEADBEEF)
    block.add_new(0x04, "DS", "3.14159\\2.5")
    if syntax != ImplicitVRLittleEndian:
        item = Dataset()
        item.CodeValue = "PRV1"
        item.CodeMeaning = "inside a private sequence"
        block.add_new(0x05, "SQ", Sequence([item]))


def _qualifiers():
    item = Dataset()
    item.UniversalEntityID = "2.16.840.1.113883.3.7230010.42"
    item.UniversalEntityIDType = "ISO"
    item.IdentifierTypeCode = "MR"
    return Sequence([item])


def _prior_original_attributes():
    old = Dataset()
    old.PatientName = "Earlier^Name"
    old.PatientID = "EARLIER-ID-7"
    item = Dataset()
    item.AttributeModificationDateTime = "20250102030405"
    item.ModifyingSystem = "PREVIOUS PACS"
    item.SourceOfPreviousValues = "CLINIC X"
    item.ReasonForTheAttributeModification = "CORRECT"
    item.ModifiedAttributesSequence = Sequence([old])
    return Sequence([item])


def make(label, pid, text=None, charset=None, syntax=ExplicitVRLittleEndian, issuer=None,
         qualifiers=False, private=True, prior=False, study_uid=None, series_uid=None,
         sop_uid=None, name=None, birth=None, undecodable=False, padded=False):
    """A Case. pid: str (ASCII), bytes (written as they are, padded to even length by pydicom)
    or None (no PatientID element). charset: Specific Character Set value(s), None for none.
    issuer: IssuerOfPatientID (str or bytes); qualifiers: add IssuerOfPatientIDQualifiersSequence;
    prior: the file already has an OriginalAttributesSequence; padded: other text elements
    with several trailing spaces."""
    default_name, default_birth = _next_name()
    name = name or default_name
    birth = birth or default_birth
    ds = _base_dataset(syntax)
    if charset is not None:
        ds.SpecificCharacterSet = charset
    elif "SpecificCharacterSet" in ds:
        del ds.SpecificCharacterSet
    raw = pid.encode("ascii") if isinstance(pid, str) else pid
    if raw is not None:
        ds[PATIENT_ID] = DataElement(PATIENT_ID, "LO", raw)
    ds.PatientName = name
    ds.PatientBirthDate = birth
    if issuer is not None:
        ds[ISSUER] = DataElement(ISSUER, "LO",
                                 issuer.encode("ascii") if isinstance(issuer, str) else issuer)
    if qualifiers:
        ds.IssuerOfPatientIDQualifiersSequence = _qualifiers()
    if prior:
        ds.OriginalAttributesSequence = _prior_original_attributes()
    if private:
        _private(ds, syntax)
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    if sop_uid:
        ds.SOPInstanceUID = sop_uid
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.StudyDescription = "isolation corpus: %s" % label
    if padded:  # padding beyond an odd length's one space: DICOM does not count it
        ds.InstitutionName = "Example Clinic    "
        ds.private_block(0x0009, "ISOTEST PRIVATE", create=True).add_new(
            0x06, "LO", "padded private  ")
    if syntax == RLELossless:
        ds.compress(RLELossless)
    elif syntax != JPEGBaseline8Bit:
        ds.file_meta.TransferSyntaxUID = syntax
    ds.is_little_endian = syntax != ExplicitVRBigEndian
    ds.is_implicit_VR = syntax == ImplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    if text is None:
        text = "" if raw is None else raw.rstrip(b" \0").decode("ascii")
    case = Case(label, out.getvalue(), raw, text, name, birth, undecodable)
    assert case.transfer_syntax == syntax, (label, case.transfer_syntax)
    stored_raw = case.ds.get_item(PATIENT_ID)
    assert (stored_raw is None) == (raw is None), label
    return case


# ----------------------------------------------------------------------------- the corpus


def long_ids():
    """Pairs of OID PatientIDs of 48, 52, 57, 63 and 64 characters differing in the last one,
    and a pair of 64 UTF-8 characters (128 bytes) differing in the last one."""
    cases = []
    for length in (48, 52, 57, 63, 64):
        for pid in oid_pair(length):
            cases.append(make("oid-%d" % length, pid))
    for last in "12":
        text = "\u00c4" * 63 + last
        cases.append(make("utf8-64", text.encode("utf-8"), text=text, charset="ISO_IR 192"))
    return cases


def padding_and_separators():
    """PatientIDs whose readable forms collide, and padding that does not make an ID another."""
    return [
        make("plain", "PAD-7"),
        make("trailing-spaces", "PAD-7   "),
        make("trailing-nul", b"PAD-7\0"),
        make("leading-space", " PAD-7", text=" PAD-7"),
        make("backslash", b"AB\\CD", text="AB\\CD"),
        make("underscore", "AB_CD"),
        make("space-inside", "AB CD"),
        make("slash", "AB/CD"),
        make("star", "AB*CD"),
    ]


LATIN1_PAIR = ("K\u00d6HLER-100", "K\u00dcHLER-100")


def mislabelled(charset, label):
    """Latin-1 bytes of KÖHLER-100 and KÜHLER-100 under a given declaration."""
    undecodable = charset in ("ISO_IR 192",)
    study = generate_uid()  # one study UID for both: two patients all the same
    return [make("%s-%d" % (label, i), text.encode("latin-1"), text=text, charset=charset,
                 undecodable=undecodable, study_uid=study)
            for i, text in enumerate(LATIN1_PAIR)]


CHARSET_VARIANTS = {
    "typo": "ISO_IR100",
    "iana-name": "ISO-8859-1",
    "utf8-declared": "ISO_IR 192",
    "undeclared": None,
    "latin1-correct": "ISO_IR 100",
}


def foreign_scripts():
    """Correctly declared non-Latin IDs: UTF-8, ISO 2022 Japanese (JIS X 0208), GB18030."""
    japanese = "\u5c71\u7530-7"                     # 山田-7
    jis = japanese.encode("iso2022_jp")
    assert jis.startswith(b"\x1b$B") and b"\\" not in jis
    chinese = "\u738b\u4f1f-8"                      # 王伟-8
    gb = chinese.encode("gb18030")
    assert b"\\" not in gb
    utf8 = "M\u00dcLLER-\u00df-9"
    return [
        make("iso2022-jp", jis, text=japanese, charset=["", "ISO 2022 IR 87"]),
        make("gb18030", gb, text=chinese, charset="GB18030"),
        make("utf8", utf8.encode("utf-8"), text=utf8, charset="ISO_IR 192"),
        # The same text in Latin-1 bytes is another PatientID as sent.
        make("latin1-of-utf8", utf8.encode("latin-1"), text=utf8, charset="ISO_IR 100"),
    ]


def padded_elements():
    """Text elements (a standard one, a private one, PatientID and IssuerOfPatientID) with
    more trailing spaces than an odd length needs, in four transfer syntaxes."""
    return [make("padded-" + label, "PADDED-%s    " % label.upper(), syntax=syntax,
                 issuer="ISSUER-A    ", padded=True)
            for label, syntax in TRANSFER_SYNTAXES.items()
            if label in ("explicit-le", "implicit-le", "big-endian", "deflated")]


def every_syntax(prefix="TS"):
    """One file per transfer syntax, each with an issuer and its qualifiers, private tags, and
    (for explicit little endian and RLE) an OriginalAttributesSequence already present."""
    cases = []
    for label, syntax in TRANSFER_SYNTAXES.items():
        cases.append(make("syntax-" + label, "%s-%s" % (prefix, label.upper()), syntax=syntax,
                          issuer="HOSPITAL-A^^^ISO", qualifiers=True,
                          prior=label in ("explicit-le", "rle", "big-endian")))
    return cases
