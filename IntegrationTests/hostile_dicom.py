"""DICOM Part 10 files written byte by byte, to say exactly what a hostile file holds: sequences
nested N deep (explicit or implicit VR, little or big endian, defined or undefined lengths, UN),
deflate bombs, lengths that lie, file meta groups that DCMTK reads otherwise than a naive reader.
`python3 hostile_dicom.py DIR` writes the fuzzing seeds."""

import os
import struct
import sys
import zlib

from pydicom.uid import generate_uid

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
UNDEFINED = 0xFFFFFFFF
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
CONTENT_SEQUENCE = (0x0040, 0xA730)
TEXT_VALUE = (0x0040, 0xA160)


class Encoder:
    """Elements, items and sequences in one transfer syntax's encoding."""

    def __init__(self, explicit=True, big=False):
        self.explicit = explicit
        self.order = ">" if big else "<"

    def tag(self, group, element):
        return struct.pack(self.order + "HH", group, element)

    def element(self, tag, vr, value, length=None):
        if isinstance(value, str):
            value = value.encode("ascii")
        if len(value) % 2:
            value += b"\0" if vr in ("UI", "OB") else b" "
        n = len(value) if length is None else length
        head = self.tag(*tag)
        if not self.explicit:
            return head + struct.pack(self.order + "I", n) + value
        if vr in LONG_VRS:
            return head + vr.encode() + b"\0\0" + struct.pack(self.order + "I", n) + value
        return head + vr.encode() + struct.pack(self.order + "H", n) + value

    def item(self, content, defined=False):
        head = self.tag(0xFFFE, 0xE000)
        if defined:
            return head + struct.pack(self.order + "I", len(content)) + content
        return (head + struct.pack(self.order + "I", UNDEFINED) + content +
                self.tag(0xFFFE, 0xE00D) + struct.pack(self.order + "I", 0))

    def sequence(self, tag, items, defined=False, vr="SQ"):
        content = b"".join(items)
        if defined:
            return self.element(tag, vr, content)
        return (self.element(tag, vr, b"", length=UNDEFINED) + content +
                self.tag(0xFFFE, 0xE0DD) + struct.pack(self.order + "I", 0))


def meta(transfer_syntax, sop_class, sop_instance):
    """The file meta group: always explicit VR little endian, with its group length."""
    e = Encoder()
    body = (e.element((0x0002, 0x0001), "OB", b"\0\1") +
            e.element((0x0002, 0x0002), "UI", sop_class) +
            e.element((0x0002, 0x0003), "UI", sop_instance) +
            e.element((0x0002, 0x0010), "UI", transfer_syntax) +
            e.element((0x0002, 0x0012), "UI", "1.2.826.0.1.3680043.8.498.1"))
    return e.element((0x0002, 0x0000), "UL", struct.pack("<I", len(body))) + body


def part10(transfer_syntax, dataset, sop_class, sop_instance):
    if transfer_syntax == DEFLATED:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate (PS3.5 A.5)
        dataset = packer.compress(dataset) + packer.flush()
    return b"\0" * 128 + b"DICM" + meta(transfer_syntax, sop_class, sop_instance) + dataset


def encoder_for(transfer_syntax):
    return Encoder(explicit=transfer_syntax != IMPLICIT_LE, big=transfer_syntax == EXPLICIT_BE)


def header(e, sop_class, sop_instance, patient_id):
    """The attributes that Orthanc and the plugin need, in tag order (before group 0040)."""
    return (e.element((0x0008, 0x0016), "UI", sop_class) +
            e.element((0x0008, 0x0018), "UI", sop_instance) +
            e.element((0x0008, 0x0020), "DA", "20260101") +
            e.element((0x0008, 0x0060), "CS", "SR") +
            e.element((0x0010, 0x0010), "PN", "Hostile^Test") +
            e.element((0x0010, 0x0020), "LO", patient_id) +
            e.element((0x0020, 0x000D), "UI", generate_uid()) +
            e.element((0x0020, 0x000E), "UI", generate_uid()))


def chain(e, depth, defined):
    content = e.element(TEXT_VALUE, "UT", "the deepest item")
    for _ in range(depth):
        content = e.sequence(CONTENT_SEQUENCE, [e.item(content, defined)], defined)
    return content


def nested_sequences(e, depth, defined=False, vr="SQ"):
    """ContentSequence > item > ContentSequence ... "depth" sequences, innermost a text; with
    vr="UN" the outermost one is UN and holds the others in implicit VR LE (PS3.5 6.2.2)."""
    if vr == "UN":
        implicit = Encoder(explicit=False)
        inner = chain(implicit, depth - 1, defined)
        return e.sequence(CONTENT_SEQUENCE, [implicit.item(inner, defined)], defined, vr="UN")
    return chain(e, depth, defined)


def nested(depth, transfer_syntax=EXPLICIT_LE, defined=False, vr="SQ", patient_id="DEEP"):
    """A Basic Text SR whose content tree is "depth" sequences deep."""
    uid = generate_uid()
    e = encoder_for(transfer_syntax)
    dataset = header(e, BASIC_TEXT_SR, uid, patient_id)
    if depth > 0:
        dataset += nested_sequences(e, depth, defined, vr)
    return part10(transfer_syntax, dataset, BASIC_TEXT_SR, uid)


def with_pixels(pixel_bytes, transfer_syntax=EXPLICIT_LE, patient_id="PIXELS"):
    """A secondary capture of 8-bit grey pixels, 1024 columns wide; frames of 1024 rows once
    there is a megabyte of them."""
    uid = generate_uid()
    e = encoder_for(transfer_syntax)
    rows = min(1024, max(1, len(pixel_bytes) // 1024))
    frames = max(1, len(pixel_bytes) // (1024 * rows))
    dataset = (header(e, SECONDARY_CAPTURE, uid, patient_id) +
               e.element((0x0028, 0x0002), "US", struct.pack(e.order + "H", 1)) +
               e.element((0x0028, 0x0004), "CS", "MONOCHROME2") +
               e.element((0x0028, 0x0008), "IS", str(frames)) +
               e.element((0x0028, 0x0010), "US", struct.pack(e.order + "H", rows)) +
               e.element((0x0028, 0x0011), "US", struct.pack(e.order + "H", 1024)) +
               e.element((0x0028, 0x0100), "US", struct.pack(e.order + "H", 8)) +
               e.element((0x0028, 0x0101), "US", struct.pack(e.order + "H", 8)) +
               e.element((0x0028, 0x0102), "US", struct.pack(e.order + "H", 7)) +
               e.element((0x0028, 0x0103), "US", struct.pack(e.order + "H", 0)) +
               e.element((0x7FE0, 0x0010), "OB", pixel_bytes))
    return part10(transfer_syntax, dataset, SECONDARY_CAPTURE, uid)


def deflate_bomb(inflated_bytes):
    """Deflated explicit VR LE whose pixel data, zeros, inflate to "inflated_bytes"."""
    return with_pixels(b"\0" * inflated_bytes, DEFLATED, patient_id="BOMB")


def lying_length(kind="element"):
    """A small file whose lengths claim more than there is."""
    uid = generate_uid()
    e = Encoder()
    dataset = header(e, BASIC_TEXT_SR, uid, "LIAR")
    if kind == "element":      # a 4 GB text in a 400-byte file
        dataset += e.element(TEXT_VALUE, "UT", b"short", length=0xFFFFFFF0)
    elif kind == "item":       # an item longer than its sequence
        item = e.tag(0xFFFE, 0xE000) + struct.pack("<I", 1000) + e.element(TEXT_VALUE, "UT",
                                                                               "x")
        dataset += e.element(CONTENT_SEQUENCE, "SQ", item, length=len(item))
    elif kind == "sequence":   # a sequence longer than the file
        item = e.item(e.element(TEXT_VALUE, "UT", "x"), defined=True)
        dataset += e.element(CONTENT_SEQUENCE, "SQ", item, length=len(item) + 64)
    elif kind == "fragment":   # an undefined-length fragment holding nested sequences
        fragments = (e.tag(0xFFFE, 0xE000) + struct.pack("<I", UNDEFINED) +
                     nested_sequences(e, 60) + e.tag(0xFFFE, 0xE00D) + struct.pack("<I", 0))
        dataset += (e.element((0x7FE0, 0x0010), "OB", b"", length=UNDEFINED) + fragments +
                    e.tag(0xFFFE, 0xE0DD) + struct.pack("<I", 0))
    elif kind == "unclosed":   # sequences opened and never closed
        for _ in range(10):
            dataset += e.element(CONTENT_SEQUENCE, "SQ", b"", length=UNDEFINED)
            dataset += e.tag(0xFFFE, 0xE000) + struct.pack("<I", UNDEFINED)
    else:
        raise ValueError(kind)
    return part10(EXPLICIT_LE, dataset, BASIC_TEXT_SR, uid)


def hidden_in_explicit(sop_instance, depth):
    """A dataset that DCMTK, reading explicit VR LE, finds "depth" sequences deep; read as
    implicit VR, its first element's length is its VR bytes "SQ\\0\\0" and holds the rest:
    one flat element."""
    e = Encoder()

    def dataset_with(pad):
        content = e.tag(*TEXT_VALUE) + b"UT\0\0" + struct.pack("<I", pad) + b"x" * pad
        for _ in range(depth):
            it = e.tag(0xFFFE, 0xE000) + struct.pack("<I", len(content)) + content
            content = e.tag(*CONTENT_SEQUENCE) + b"SQ\0\0" + struct.pack("<I", len(it)) + it
        content = header(e, BASIC_TEXT_SR, sop_instance, "CONFUSED") + content
        it = e.tag(0xFFFE, 0xE000) + struct.pack("<I", len(content)) + content
        return e.tag(0x0008, 0x0006) + b"SQ\0\0" + struct.pack("<I", len(it)) + it
    dataset = dataset_with(8 + 0x5153 - len(dataset_with(0)))
    assert len(dataset) == 8 + 0x5153
    return dataset


def hidden_in_implicit(sop_instance, depth):
    """A dataset that DCMTK, reading implicit VR LE, finds "depth" sequences deep; read as
    explicit VR, its first element is an OB whose length covers the rest."""
    i = Encoder(explicit=False)
    rest = header(i, BASIC_TEXT_SR, sop_instance, "CONFUSED") + chain(i, depth, False)
    return (i.tag(0x0008, 0x0001) + b"OB\0\0" + struct.pack("<I", 0x424F - 4 + len(rest)) +
            b"\0" * (0x424F - 4) + rest)


def _syntax(value):
    """(0002,0010) with exactly these value bytes: no padding added, odd lengths kept."""
    return Encoder().tag(0x0002, 0x0010) + b"UI" + struct.pack("<H", len(value)) + value


def _deflated(dataset):
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(dataset) + packer.flush()


# The file meta group written so that a reader that takes another transfer syntax (or another
# end of the group) than DCMTK would walk one flat element where DCMTK parses "depth" nested
# sequences: before the fixes, one PUT was a SIGSEGV of Orthanc (issue 13). For each: the
# elements after (0002,0003), the dataset (how DCMTK reads it), and the group length if it
# lies: ending before (0002,0010), 12 bytes into the dataset, or a UL of 8 bytes whose first
# value (which DCMTK takes) ends before (0002,0010).
_IMP, _EXP = IMPLICIT_LE.encode(), EXPLICIT_LE.encode()
META_CONFUSIONS = {
    # DCMTK keeps the first of two (0002,0010), a naive reader the last.
    "twice": (_syntax(_EXP + b"\0") + _syntax(_IMP + b"\0"), hidden_in_explicit, None),
    # DCMTK ignores a transfer syntax that is not a UI and guesses explicit VR.
    "ob": (Encoder().element((0x0002, 0x0010), "OB", _IMP), hidden_in_explicit, None),
    # DCMTK stops at the NUL: implicit VR; "1.2.840.10008.1.2\0XY" is no UID to others.
    "nul": (_syntax(_IMP + b"\0XY"), hidden_in_implicit, None),
    # The group length ends before (0002,0010), or runs into the dataset.
    "group-length-short": (_syntax(_IMP + b"\0"), hidden_in_implicit, "before-syntax"),
    "group-length-long": (_syntax(_EXP + b"\0"), hidden_in_explicit, "into-dataset"),
    "group-length-ul8": (_syntax(_IMP + b"\0"), hidden_in_explicit, "ul8"),
    # A second transfer syntax right after the end the group length gives, or in the dataset.
    "syntax-after-group": (_syntax(_EXP + b"\0"), hidden_in_explicit, None),
    "syntax-in-dataset": (_syntax(_EXP + b"\0"), lambda uid, depth: hidden_in_explicit(uid, depth) +
                          Encoder().element((0x0002, 0x0010), "UI", IMPLICIT_LE), None),
    # (0002,0010) of odd length (the next element starts at an odd offset), of zero length
    # (DCMTK guesses explicit VR from the dataset), or with a leading space (DCMTK strips it).
    "syntax-odd": (_syntax(_IMP), hidden_in_implicit, None),
    "syntax-empty": (_syntax(b""), hidden_in_explicit, None),
    "syntax-leading-space": (_syntax(b" " + _IMP), hidden_in_implicit, None),
    # Deflated with junk after a NUL (DCMTK inflates) or after a dot (DCMTK does not know it).
    "deflated-junk": (_syntax(DEFLATED.encode() + b"\0X"), hidden_in_explicit, None),
    "deflated-suffix": (_syntax(DEFLATED.encode() + b".1"), hidden_in_explicit, None),
    # MediaStorageSOPClassUID twice: DCMTK keeps the first (the SR), a reader that keeps the
    # last sees a DICOMDIR (skipped unparsed).
    "media-twice": (Encoder().element((0x0002, 0x0002), "UI", "1.2.840.10008.1.3.10") +
                    _syntax(_EXP + b"\0"), hidden_in_explicit, None),
    # Big endian named, a little endian dataset: malformed read either way.
    "big-endian-malformed": (_syntax(EXPLICIT_BE.encode()), hidden_in_explicit, None),
}


def meta_confused(variant, depth=300):
    """A Basic Text SR whose file meta group is read by DCMTK otherwise than a naive reader
    would read it (META_CONFUSIONS); "depth" nested sequences in the encoding DCMTK reads."""
    e = Encoder()
    uid = generate_uid()
    after, dataset_for, end = META_CONFUSIONS[variant]
    elements = (e.element((0x0002, 0x0001), "OB", b"\0\1") +
                e.element((0x0002, 0x0002), "UI", BASIC_TEXT_SR) +
                e.element((0x0002, 0x0003), "UI", uid) + after)
    tail = e.element((0x0002, 0x0012), "UI", "1.2.826.0.1.3680043.8.498.1")
    dataset = dataset_for(uid, depth)
    length = {None: len(elements + tail), "into-dataset": len(elements + tail) + 12,
              "before-syntax": len(elements) - len(after), "ul8": len(elements) - len(after)}[end]
    value = struct.pack("<I", length) + (b"\0" * 4 if end == "ul8" else b"")
    group_length = e.element((0x0002, 0x0000), "UL", value)
    if variant == "syntax-after-group":
        tail += _syntax(_IMP + b"\0")  # past the group's end: DCMTK reads it into the dataset
    if variant == "deflated-junk":
        dataset = _deflated(dataset)
    return b"\0" * 128 + b"DICM" + group_length + elements + tail + dataset


def seeds():
    """The fuzzing seeds: {file name: bytes}."""
    result = {}
    for depth in (30, 50, 200):
        result["nested-%d.dcm" % depth] = nested(depth)
    result["nested-50-implicit.dcm"] = nested(50, IMPLICIT_LE)
    result["nested-50-big-endian-defined.dcm"] = nested(50, EXPLICIT_BE, defined=True)
    result["nested-50-un.dcm"] = nested(50, vr="UN")
    result["nested-50-deflated.dcm"] = nested(50, DEFLATED)
    result["deflate-bomb-4m.dcm"] = deflate_bomb(4 * 1024 * 1024)
    # Accepted (under the fuzzers' 2 MiB cap) but parsed 1 MiB from a few KB: the size as
    # parsed, which memory is reserved for, is far above the file's.
    result["deflated-1m.dcm"] = deflate_bomb(1024 * 1024)
    for kind in ("element", "item", "sequence", "fragment", "unclosed"):
        result["lying-%s.dcm" % kind] = lying_length(kind)
    for variant in META_CONFUSIONS:
        result["meta-%s.dcm" % variant] = meta_confused(variant)
    return result


if __name__ == "__main__":
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    for name, content in seeds().items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(content)
