"""Isolation never merges two patients, and keeps what the sender sent (issue 14).
Over 500 lines: the tests of one feature, isolation, over one corpus on both topologies.

The corpus of isolation_corpus.py is sent to a Standalone Orthanc and through a Gateway to an
Internal one, and checked as an admin would: Orthanc's patients, the stored files element by
element with pydicom (raw bytes), the OriginalAttributesSequence, the metadata, delete, cancel and
release."""

import io
import re
import time

import pytest
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.filereader import dcmread
from pydicom.uid import generate_uid

import conftest
import gateway_support
import harness
import isolation_corpus as corpus
from harness import Upload
from pacs import Pacs
from test_pull import make_gateway, make_internal, wait_for_upload

PREFIX = harness.default_inbound_section()["PatientIdPrefix"]
UPLOAD_ID = re.compile(r"^[A-Za-z0-9]{12}$")
READABLE = re.compile(r"^[A-Za-z0-9._-]*$")
DATE_TIME = re.compile(r"^\d{14}")
MODIFICATION_DATE_TIME = 0x04000562
MODIFYING_SYSTEM = 0x04000563
SOURCE_OF_PREVIOUS_VALUES = 0x04000564
REASON = 0x04000565
REPLACED = {corpus.PATIENT_ID, corpus.ISSUER, corpus.QUALIFIERS, corpus.ORIGINAL_ATTRIBUTES}
# pydicom warns about what the corpus does on purpose: 64 UTF-8 characters (more than 64
# bytes, legal for LO) and misspelt character sets.
pytestmark = [pytest.mark.filterwarnings("ignore:The value length"),
              pytest.mark.filterwarnings("ignore:Invalid value for VR CS"),
              pytest.mark.filterwarnings("ignore:Unknown encoding")]


@pytest.fixture(scope="module")
def pacs(tmp_path_factory):
    made = Pacs(str(tmp_path_factory.mktemp("pacs")))
    made.start()
    yield made
    made.stop()


@pytest.fixture(scope="module")
def site(plugin, pacs):
    """One Standalone Orthanc for the module, with the PACS as a release target."""
    server = gateway_support.start(
        plugin, inbound={"Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 2}},
        orthanc={"DicomModalities": {"pacs": pacs.modality()}})
    yield server
    gateway_support.finish(server)


# ----------------------------------------------------------------------------- raw comparison


def _vr(elem):
    if elem.VR:
        return elem.VR
    try:
        return dictionary_VR(elem.tag)
    except KeyError:
        return "UN"


def raw_value(ds, tag):
    """The element as comparable data: raw bytes for a value, a list of item dicts for a
    sequence (so that defined and undefined lengths compare alike); None when absent."""
    if tag not in ds:
        return None
    elem = ds.get_item(tag)
    if _vr(elem) == "SQ":
        return [raw_dataset(item) for item in ds[tag].value]
    if isinstance(elem, RawDataElement):
        value = bytes(elem.value or b"")
        vr = _vr(elem)
        # Trailing padding is no part of a text value (PS3.5 6.2): DCMTK, which writes the
        # stored copy, keeps at most the one pad byte of an odd length. Anything else of the
        # value, a NUL where a space pads or the reverse included, must be as sent.
        if vr in TEXT_VRS:
            value = value.rstrip(b"\0" if vr == "UI" else b" ")
        return value
    return ("decoded", repr(elem.value))


TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC",
            "UI", "UR", "UT"}


def raw_dataset(ds, skip=()):
    """Every element of a dataset (group lengths aside) as raw_value()."""
    return {tag: raw_value(ds, tag) for tag in list(ds.keys())
            if tag.element != 0x0000 and tag not in skip}


def text_of(raw):
    """A value's text without its padding (Latin-1: any byte shows, and fails a comparison)."""
    return None if raw is None else raw.rstrip(b" \0").decode("latin-1")


def differences(before, after):
    lost = sorted(str(t) for t in before if t not in after)
    added = sorted(str(t) for t in after if t not in before)
    changed = ["%s %r -> %r" % (t, str(before[t])[:70], str(after[t])[:70])
               for t in sorted(before) if t in after and before[t] != after[t]]
    return lost, added, changed


def assert_stored_as_sent(case, stored_bytes, upload_id, isolated):
    """The stored file: PatientID isolated, IssuerOfPatientID the upload's, no qualifiers, one
    more OriginalAttributesSequence item holding the sender's values exactly, and every other
    element (private tags and pixel data included) byte for byte as sent."""
    sent = case.fresh()
    stored = dcmread(io.BytesIO(stored_bytes))
    where = repr(case)
    assert str(stored.file_meta.TransferSyntaxUID) == case.transfer_syntax, where

    pid = raw_value(stored, corpus.PATIENT_ID)
    assert pid is not None and b"\\" not in pid and pid.isascii(), (where, pid)
    assert text_of(pid) == isolated, (where, pid, isolated)
    assert text_of(raw_value(stored, corpus.ISSUER)) == "ORTHANC-INBOUND " + upload_id, where
    assert corpus.QUALIFIERS not in stored, "%s: the sender's qualifiers stayed" % where

    lost, added, changed = differences(raw_dataset(sent, REPLACED),
                                       raw_dataset(stored, REPLACED))
    assert not (lost or added or changed), "%s: lost %s, added %s, changed %s" % (
        where, lost, added, changed)

    prior = raw_value(sent, corpus.ORIGINAL_ATTRIBUTES) or []
    history = raw_value(stored, corpus.ORIGINAL_ATTRIBUTES)
    assert history is not None, "%s: no OriginalAttributesSequence" % where
    assert len(history) == len(prior) + 1, (where, len(history), len(prior))
    assert history[:len(prior)] == prior, "%s: earlier items changed" % where
    new = history[-1]
    assert text_of(new.get(REASON)) == "COERCE", (where, new.get(REASON))
    assert DATE_TIME.match(text_of(new.get(MODIFICATION_DATE_TIME)) or ""), (where, new)
    assert text_of(new.get(MODIFYING_SYSTEM)), (where, new)
    assert SOURCE_OF_PREVIOUS_VALUES in new, (where, new)
    modified = new.get(corpus.MODIFIED_ATTRIBUTES)
    assert modified is not None and len(modified) == 1, (where, modified)
    (old,) = modified
    assert set(old) <= {corpus.PATIENT_ID, corpus.ISSUER, corpus.QUALIFIERS}, (where, set(old))
    for tag in (corpus.PATIENT_ID, corpus.ISSUER, corpus.QUALIFIERS):
        as_sent = raw_value(sent, tag)
        if as_sent is None:  # absent before: absent or empty in the record (PS3.3 C.12.1)
            assert old.get(tag) in (None, b"", []), (where, tag, old.get(tag))
        else:
            assert old.get(tag) == as_sent, (where, tag, old.get(tag), as_sent)


# ----------------------------------------------------------------------------- isolated IDs


def ordinals(cases):
    """k of each distinct PatientID (raw bytes without trailing padding), by first arrival."""
    result = {}
    for case in cases:
        result.setdefault(case.key, len(result) + 1)
    return result


def assert_isolated_id(isolated, upload_id, k, case):
    head = "%s%s-%d" % (PREFIX, upload_id, k)
    where = (case, isolated)
    assert len(isolated) <= 64 and isolated.isascii(), where
    assert "\\" not in isolated, where
    assert isolated == head or isolated.startswith(head + "-"), (where, head)
    shown = isolated[len(head) + 1:]
    assert READABLE.match(shown), where
    if not case.key:
        assert isolated == head, where
    elif all(0x20 <= b < 0x7F for b in case.key):
        mapped = corpus.readable(case.key.decode("ascii"))
        if len(head) + 1 + len(mapped) <= 64:
            assert shown == mapped, where
        else:  # cut, but only as far as needed
            assert len(isolated) == 64, where
            assert mapped.startswith(shown) or mapped.endswith(shown), where


class Sent:
    """An upload of cases on a server and what the server answered."""

    def __init__(self, server, cases, upload=None, complete=True):
        self.server = server
        self.cases = list(cases)
        self.upload = upload or Upload.open(server)
        assert UPLOAD_ID.match(self.upload.id), self.upload.id
        self.answers = {}
        for case in self.cases:
            self.answers[case.sha256] = self.upload.put_ok(case.data)
        if complete:
            self.upload.complete_ok()

    @property
    def id(self):
        return self.upload.id


def verify(server, upload_id, cases, answers=None, ordered=True):
    """Everything an admin checks about an upload's isolation; returns sha256 -> item.
    ordered: the files were stored in the order of "cases" (else the ordinals k of the
    distinct PatientIDs are 1..n in some order, as an Internal may pull them)."""
    k_of = ordinals(cases)
    shown = server.admin_upload(upload_id)
    items = {i["sha256"]: i for i in shown["items"]}
    isolated_of_key = {}
    for case in cases:
        item = items[case.sha256]
        isolated = item["patientId"]
        k = k_of[case.key]
        if not ordered:
            found = re.match(r"^%s%s-(\d+)(-|$)" % (re.escape(PREFIX), upload_id), isolated)
            assert found, (case, isolated)
            k = int(found.group(1))
            assert k_of.setdefault(("pulled", case.key), k) == k, (case, isolated)
        assert_isolated_id(isolated, upload_id, k, case)
        if answers is not None:
            assert answers[case.sha256]["patientId"] == isolated, (case, answers[case.sha256])
        assert isolated_of_key.setdefault(case.key, isolated) == isolated, case
        # The admin JSON: the original text, and its bytes where they did not decode.
        assert item["originalPatientId"] == case.text, (case, item)
        hexes = {(case.pid or b"").hex(), case.key.hex()}
        if case.undecodable:
            assert item.get("originalPatientIdBytes") in hexes, (case, item)
        elif all(b < 0x80 for b in case.key):
            assert "originalPatientIdBytes" not in item, (case, item)
        elif "originalPatientIdBytes" in item:
            assert item["originalPatientIdBytes"] in hexes, (case, item)

        orthanc_id = item["orthancId"]
        assert_stored_as_sent(case, server.instance_file(orthanc_id), upload_id, isolated)
        expected_text = case.text if case.text else None
        value = metadata(server, "instances", orthanc_id, "InboundOriginalPatientID")
        assert (value or None) == expected_text, (case, value)
        assert metadata(server, "instances", orthanc_id, "InboundUpload") == upload_id
        study = server.admin_json("GET", "/instances/%s/study" % orthanc_id)
        value = metadata(server, "studies", study["ID"], "InboundOriginalPatientID")
        assert (value or None) == expected_text, ("study", case, value)
        assert metadata(server, "studies", study["ID"], "InboundUpload") == upload_id
        patient = server.admin_json("GET", "/instances/%s/patient" % orthanc_id)
        assert patient["MainDicomTags"]["PatientID"] == isolated, (case, patient)

    # Two different PatientIDs never share an isolated one; one per distinct PatientID.
    distinct = len(ordinals(cases))
    assert len(set(isolated_of_key.values())) == distinct, isolated_of_key
    if not ordered:
        assert sorted(v for key, v in k_of.items() if isinstance(key, tuple)) == \
            list(range(1, distinct + 1)), k_of
    patients = server.patients_of_upload(upload_id, PREFIX)
    assert sorted(p["MainDicomTags"]["PatientID"] for p in patients) == \
        sorted(isolated_of_key.values())
    # The admin view lists a study per study UID and isolated patient: one UID sent under two
    # PatientIDs is two Orthanc studies, each shown with its own patient and Orthanc id.
    expected = {(c.study_instance_uid, items[c.sha256]["patientId"]) for c in cases}
    listed = [(st["studyInstanceUid"], st["patientId"]) for st in shown["studies"]]
    assert sorted(listed) == sorted(expected), (listed, expected)
    assert len({st["orthancId"] for st in shown["studies"]}) == len(expected)
    return items


def metadata(server, level, orthanc_id, name):
    """A metadata value as UTF-8 text (Orthanc answers text/plain without a charset, which
    requests would read as Latin-1), or None when absent."""
    r = server.admin("GET", "/%s/%s/metadata/%s" % (level, orthanc_id, name))
    if r.status_code == 404:
        return None
    assert r.status_code == 200, (level, orthanc_id, name, r.status_code, r.text[:300])
    return r.content.decode("utf-8")


def patients_by_id(server, upload_id):
    return {p["MainDicomTags"]["PatientID"]: p for p in server.patients_of_upload(upload_id)}


# ----------------------------------------------------------------------------- the checks


def spec_isolation(case, upload_id, isolated, break_it=None):
    """What the specification asks of a stored file, done with pydicom: a reference that the
    checks must accept, and (with break_it) defects that they must refuse."""
    ds = case.fresh()
    old = Dataset()
    for tag in (corpus.PATIENT_ID, corpus.ISSUER):
        if tag in ds:  # as bytes: pydicom would re-encode a raw element in the nested item
            old[tag] = DataElement(tag, "LO", raw_value(ds, tag))
    if corpus.QUALIFIERS in ds:
        old[corpus.QUALIFIERS] = ds[corpus.QUALIFIERS]
    item = Dataset()
    item.AttributeModificationDateTime = "20261204120000"
    item.ModifyingSystem = "ORTHANC-INBOUND"
    item.SourceOfPreviousValues = ""
    item.ReasonForTheAttributeModification = "COERCE"
    item.ModifiedAttributesSequence = Sequence([old])
    history = list(ds.OriginalAttributesSequence) if "OriginalAttributesSequence" in ds else []
    ds.OriginalAttributesSequence = Sequence(history + [item])
    ds[corpus.PATIENT_ID] = DataElement(corpus.PATIENT_ID, "LO", isolated)
    ds[corpus.ISSUER] = DataElement(corpus.ISSUER, "LO", "ORTHANC-INBOUND " + upload_id)
    if corpus.QUALIFIERS in ds:
        del ds[corpus.QUALIFIERS]
    if break_it == "private-lost":
        del ds[0x00091001]
    elif break_it == "pixel-changed":
        pixels = bytearray(ds.get_item(0x7FE00010).value)
        pixels[-3] ^= 0x01
        ds[0x7FE00010] = DataElement(0x7FE00010, "OB", bytes(pixels))
    elif break_it == "qualifiers-kept":
        ds.IssuerOfPatientIDQualifiersSequence = case.fresh().IssuerOfPatientIDQualifiersSequence
    elif break_it == "original-decoded":
        old.PatientID = case.text.encode("ascii", "replace").decode()
    elif break_it == "history-replaced":
        ds.OriginalAttributesSequence = Sequence([item])
    elif break_it == "reason":
        item.ReasonForTheAttributeModification = "CORRECT"
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


DEFECTS = ["private-lost", "pixel-changed", "qualifiers-kept", "original-decoded",
           "history-replaced", "reason"]


def test_the_checks_accept_the_specification_and_refuse_its_defects():
    cases = corpus.every_syntax("CHECK") + corpus.padded_elements() + \
        corpus.mislabelled("ISO_IR 192", "check")
    for case in cases:
        isolated = "INB-ABCDEFGH2345-1-CHECK"
        assert_stored_as_sent(case, spec_isolation(case, "ABCDEFGH2345", isolated),
                              "ABCDEFGH2345", isolated)
    explicit = [c for c in cases if c.label == "syntax-explicit-le"][0]
    latin1 = cases[-1]
    for defect in DEFECTS:
        case = latin1 if defect == "original-decoded" else explicit
        broken = spec_isolation(case, "ABCDEFGH2345", "INB-ABCDEFGH2345-1", defect)
        with pytest.raises(AssertionError):
            assert_stored_as_sent(case, broken, "ABCDEFGH2345", "INB-ABCDEFGH2345-1")
    # The isolated ID's rule: a cut readable part or a missing ordinal are refused.
    long_case = corpus.make("check-oid", corpus.oid_pair(60)[0])
    head = "INB-ABCDEFGH2345-3"
    good = (head + "-" + long_case.text)[:64]
    assert_isolated_id(good, "ABCDEFGH2345", 3, long_case)
    for wrong in (good[:60], good.replace("-3-", "-2-"), ("INB-ABCDEFGH2345-" +
                                                         long_case.text)[:64]):
        with pytest.raises(AssertionError):
            assert_isolated_id(wrong, "ABCDEFGH2345", 3, long_case)


# ----------------------------------------------------------------------------- Standalone


def test_long_ids_differing_at_the_end_are_two_patients(site):
    cases = corpus.long_ids()
    before = set(site.admin_json("GET", "/patients"))
    sent = Sent(site, cases)
    items = verify(site, sent.id, cases, sent.answers)
    after = set(site.admin_json("GET", "/patients"))
    assert len(after - before) == len(cases) == 12
    patients = patients_by_id(site, sent.id)
    for case in cases:
        patient = patients[items[case.sha256]["patientId"]]
        # Each its own name, birth date and single study: nothing merged.
        assert patient["MainDicomTags"]["PatientName"] == case.name, (case, patient)
        assert patient["MainDicomTags"]["PatientBirthDate"] == case.birth, (case, patient)
        assert len(patient["Studies"]) == 1, (case, patient)
    for label in ("oid-48", "oid-52", "oid-57", "oid-63", "oid-64", "utf8-64"):
        a, b = [items[c.sha256]["patientId"] for c in cases if c.label == label]
        assert a != b


def test_padding_backslashes_and_lookalikes(site):
    upload = Upload.open(site)
    # PAD-7 three times, but for trailing padding: one patient, with one name and birth date.
    pad = [corpus.make(c.label, c.pid, text=c.text, name="Pad^Seven", birth="19770707")
           if c.key == b"PAD-7" else c for c in corpus.padding_and_separators()]
    # IDs that look like this upload's isolated IDs, or like their tails.
    lookalikes = [corpus.make("look-%d" % i, pid) for i, pid in enumerate(
        ["X", "%s%s-1-X" % (PREFIX, upload.id), "1-X", "%s%s-1" % (PREFIX, upload.id),
         "%s-1-X" % upload.id])]
    cases = pad + lookalikes
    sent = Sent(site, cases, upload=upload)
    items = verify(site, sent.id, cases, sent.answers)
    assert len(ordinals(cases)) == len(cases) - 2
    patients = patients_by_id(site, sent.id)
    assert len(patients) == len(cases) - 2
    seven = {items[c.sha256]["patientId"] for c in cases if c.key == b"PAD-7"}
    assert len(seven) == 1
    assert len(patients[seven.pop()]["Studies"]) == 3
    backslash = [c for c in cases if c.label == "backslash"][0]
    assert items[backslash.sha256]["originalPatientId"] == "AB\\CD"


@pytest.mark.parametrize("variant", sorted(corpus.CHARSET_VARIANTS))
def test_character_sets_lose_no_character(site, variant):
    """KÖHLER-100 and KÜHLER-100 in Latin-1 bytes, one study UID, under a right, wrong or
    missing declaration: two patients, two studies, each with its own original text."""
    cases = corpus.mislabelled(corpus.CHARSET_VARIANTS[variant], variant)
    sent = Sent(site, cases)
    items = verify(site, sent.id, cases, sent.answers)
    patients = patients_by_id(site, sent.id)
    assert len(patients) == 2
    studies = set()
    for case in cases:
        patient = patients[items[case.sha256]["patientId"]]
        assert patient["MainDicomTags"]["PatientName"] == case.name
        assert len(patient["Studies"]) == 1
        studies.update(patient["Studies"])
    assert len(studies) == 2


def test_foreign_scripts_are_kept(site):
    cases = corpus.foreign_scripts()
    sent = Sent(site, cases)
    verify(site, sent.id, cases, sent.answers)
    assert len(patients_by_id(site, sent.id)) == 4


def test_empty_and_absent_patient_ids(site):
    empty = Sent(site, [corpus.make("empty", b""), corpus.make("other", "EA-1")])
    verify(site, empty.id, empty.cases, empty.answers)
    absent = Sent(site, [corpus.make("other", "EA-1"), corpus.make("absent", None)])
    verify(site, absent.id, absent.cases, absent.answers)
    assert len(patients_by_id(site, empty.id)) == len(patients_by_id(site, absent.id)) == 2


def test_every_transfer_syntax_with_issuer_private_tags_and_history(site):
    cases = corpus.every_syntax()
    sent = Sent(site, cases)
    verify(site, sent.id, cases, sent.answers)
    assert len(patients_by_id(site, sent.id)) == len(cases)


def test_padding_changes_no_value(site):
    """Trailing spaces are padding: they do not make another PatientID, and every value, the
    record of the sender's ones included, keeps all its characters but them."""
    cases = corpus.padded_elements()
    sent = Sent(site, cases)
    verify(site, sent.id, cases, sent.answers)


def test_one_patient_id_one_isolated_id_across_a_restart(site):
    first = [corpus.make("same-a", "SAME-1", name="Same^One", birth="19800101"),
             corpus.make("same-b", "SAME-2", name="Same^Two", birth="19800202")]
    later = [corpus.make("same-c", "SAME-1 ", name="Same^One", birth="19800101"),
             corpus.make("same-d", "SAME-3", name="Same^Three", birth="19800303"),
             corpus.make("same-e", b"SAME-2\0", name="Same^Two", birth="19800202")]
    sent = Sent(site, first, complete=False)
    site.restart()
    for case in later:
        sent.answers[case.sha256] = sent.upload.put_ok(case.data)
    sent.upload.complete_ok()
    cases = first + later
    items = verify(site, sent.id, cases, sent.answers)
    assert [items[c.sha256]["patientId"].split("-")[2] for c in cases] == \
        ["1", "2", "1", "3", "2"]
    patients = patients_by_id(site, sent.id)
    assert sorted(len(p["Studies"]) for p in patients.values()) == [1, 2, 2]


def _alive(server, instance_ids):
    return {i for i in instance_ids if server.admin("GET", "/instances/%s" % i).status_code == 200}


def test_delete_and_cancel_touch_only_their_upload(site):
    study = generate_uid()
    series = generate_uid()
    shared = [corpus.make("dup-%d" % i, "DUP-1", study_uid=study, series_uid=series,
                          name="Dup^One", birth="19900101") for i in range(3)]
    first = Sent(site, shared)
    # The same files, and one more of the same study, in a second upload.
    second = Sent(site, shared + [corpus.make("dup-extra", "DUP-1", study_uid=study,
                                              series_uid=series, name="Dup^One",
                                              birth="19900101")])
    first_items = verify(site, first.id, first.cases)
    second_items = verify(site, second.id, second.cases)
    # One PatientID, two uploads: two isolated IDs, two Orthanc patients.
    assert first_items[shared[0].sha256]["patientId"] != \
        second_items[shared[0].sha256]["patientId"]
    # Similar IDs, among them the first upload's isolated ID itself, in the same study.
    lookalike = first_items[shared[0].sha256]["patientId"]
    third = Sent(site, [corpus.make("sim-%d" % i, pid, study_uid=study) for i, pid in
                        enumerate(["DUP-1 ", "DUP-11", lookalike, "%s-1-DUP-1" % first.id])])
    fourth = Sent(site, shared, complete=False)   # the same files, cancelled by the sender

    def ids(sent):
        return {i["orthancId"] for i in site.admin_upload(sent.id)["items"]}
    kept = {s.id: ids(s) for s in (second, third)}
    assert len(kept[second.id]) == 4 and len(kept[third.id]) == 4
    assert not ids(first) & (kept[second.id] | kept[third.id] | ids(fourth))
    files = {i: harness.sha256(site.instance_file(i)) for s in kept.values() for i in s}
    gone = {s.id: ids(s) for s in (first, fourth)}
    assert len(gone[first.id]) == len(gone[fourth.id]) == 3

    r = site.admin("DELETE", "/inbound/admin/uploads/%s" % first.id)
    assert r.status_code == 200, r.text
    assert _alive(site, gone[first.id]) == set()
    r = fourth.upload.cancel()
    assert r.status_code == 200, r.text
    assert _alive(site, gone[fourth.id]) == set()
    for sent in (second, third):
        assert _alive(site, kept[sent.id]) == kept[sent.id], sent.id
        assert site.admin_upload(sent.id)["state"] == "complete"
    for i, digest in files.items():
        assert harness.sha256(site.instance_file(i)) == digest
    assert site.patients_of_upload(first.id) == [] and site.patients_of_upload(fourth.id) == []
    verify(site, second.id, second.cases)
    verify(site, third.id, third.cases)
    # And the other way round: deleting the third leaves the second whole.
    assert site.admin("DELETE", "/inbound/admin/uploads/%s" % third.id).status_code == 200
    assert _alive(site, kept[third.id]) == set()
    assert _alive(site, kept[second.id]) == kept[second.id]


def test_release_sends_only_that_uploads_instances(site, pacs):
    study = generate_uid()
    series = generate_uid()
    files = [corpus.make("rel-%d" % i, "REL-1", study_uid=study, series_uid=series,
                         name="Rel^One", birth="19850505") for i in range(3)]
    released = Sent(site, files[:2])
    other = Sent(site, files)        # same study, same files and one more
    item = verify(site, released.id, released.cases)[files[0].sha256]
    r = site.admin("POST", "/inbound/admin/uploads/%s/release" % released.id,
                   json={"modality": "pacs", "keepNamespacedPatientId": True})
    assert r.status_code == 202, r.text
    deadline = time.time() + 30
    while time.time() < deadline:
        state = site.admin_json("GET", "/inbound/admin/forwards",
                                params={"upload": released.id})["forwards"]
        if state and all(f["state"] == "done" for f in state):
            break
        time.sleep(0.3)
    received = pacs.wait_for(2)
    time.sleep(1.5)
    received = pacs.received()
    assert sorted(str(r.SOPInstanceUID) for r in received) == \
        sorted(c.sop_instance_uid for c in files[:2])
    assert {str(r.PatientID) for r in received} == {item["patientId"]}
    assert site.admin_json("GET", "/inbound/admin/forwards",
                           params={"upload": other.id})["forwards"] == []


# ----------------------------------------------------------------------------- Gateway -> Internal


def test_pulled_files_are_isolated_inside(plugin):
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, {"dmz": gateway})
    conftest.LIVE_SERVERS.extend([gateway, internal])  # their logs under a failure
    try:
        internal.start()
        cases = [corpus.make("pull-oid", pid) for pid in corpus.oid_pair(52)]
        cases += corpus.mislabelled("ISO_IR 192", "pull-utf8")
        cases += [c for c in corpus.every_syntax("PULL") if c.label in (
            "syntax-deflated", "syntax-big-endian", "syntax-rle")]
        sent = Sent(gateway, cases)
        wait_for_upload(internal, sent.id, "complete")
        verify(internal, sent.id, cases, ordered=False)
        patients = patients_by_id(internal, sent.id)
        assert len(patients) == len(cases)
        assert sorted(p["MainDicomTags"]["PatientName"] for p in patients.values()) == \
            sorted(c.name for c in cases)
        wait_for_upload(gateway, sent.id, "delivered")
    finally:
        for s in (internal, gateway):
            conftest._remove(s)
