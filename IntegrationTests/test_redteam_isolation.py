"""Red-team attacks on issue 14 (isolation of PatientIDs, trust in gateways), kept as
regression tests: each one failed, or could fail, on the code it was written against.
Over 500 lines: the red-team attacks on one issue, kept together as the record of what was tried."""

import threading

import data
import harness
from fake_gateway import FakeGateway, PASSWORD, wait_until
from gateway_support import audit


def two_gateway_internal(plugin, honest, evil):
    peers = {"OrthancPeers": {
        "dmz": {"Url": "http://127.0.0.1:%d/" % honest.port, "Username": "inside",
                "Password": PASSWORD},
        "evil": {"Url": "http://127.0.0.1:%d/" % evil.port, "Username": "inside",
                 "Password": PASSWORD}}}
    return harness.OrthancServer(plugin, inbound={"Role": "Internal", "Gateways": ["dmz", "evil"]},
                                 orthanc=peers)


def gateways(internal):
    return {g["name"]: g for g in internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]}


def test_a_gateway_cannot_add_files_to_another_gateways_upload(plugin):
    """A compromised gateway lists the id of an upload that an honest gateway is delivering
    (ids are in the outbox listing, the manifest, the admin mails): its forged file must not
    join that upload, whose namespace would put it into the honest sender's patient."""
    honest, evil = FakeGateway(), FakeGateway()
    internal = two_gateway_internal(plugin, honest, evil)
    release = threading.Event()
    fetched = []

    def slowly(sha256, payload):
        fetched.append(sha256)
        release.wait(60)
        return payload

    first = data.make_dicom(patient_id="P-SHARED")
    second = data.make_dicom(patient_id="P-SHARED", study_uid=None)
    slow_sha = harness.sha256(second)
    upload_id = honest.add([first, second],
                           serve=lambda sha, payload: slowly(sha, payload) if sha == slow_sha
                           else payload)
    forged = data.make_dicom(patient_id="P-SHARED")
    try:
        internal.start()
        # The honest upload is open inside, its first file stored, its second in transit.
        wait_until(lambda: slow_sha in fetched, 30, "the honest second file to be fetched")
        wait_until(lambda: internal.patients_of_upload(upload_id), 30, "the first honest file")
        evil.add([forged], upload_id=upload_id)
        wait_until(lambda: upload_id in gateways(internal)["evil"]["held"] or
                   upload_id in evil.acknowledged or
                   len(internal.instances_of_upload(upload_id)) > 1, 30,
                   "the forged claim to be decided")
        release.set()
        wait_until(lambda: upload_id in honest.acknowledged, 30, "the honest upload")
        stored = internal.instances_of_upload(upload_id)
        # Only the honest files, in one patient; the forged one is nowhere.
        assert len(stored) == 2, sorted(stored)
        assert internal.count_instances() == 2
        assert upload_id not in evil.acknowledged
        assert upload_id in gateways(internal)["evil"]["held"]
        assert any(e["event"] == "alert-upload-held" and e["ip"] == "evil" for e in audit(internal))
        upload = internal.admin_upload(upload_id)
        assert upload["state"] in ("complete", "delivered"), upload
        assert upload["files"] == 2, upload
    finally:
        release.set()
        internal.stop()
        internal.cleanup()
        honest.stop()
        evil.stop()


def test_a_release_never_deletes_the_hospitals_own_study(start_server, tmp_path):
    """A patient sends back a CD of a study this hospital made (same UIDs, every instance).
    Reconciled to the hospital's PatientID without new UIDs, the "copy" is the hospital's
    own study (Orthanc answers AlreadyStored): deleting the copy after the send must not
    delete the hospital's study."""
    from pacs import Pacs
    pacs = Pacs(str(tmp_path / "pacs"))
    pacs.start()
    try:
        server = start_server(inbound={"Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 2}},
                              orthanc={"DicomModalities": {"pacs": pacs.modality()}})
        hospital = {"id": "HOSP-000777", "name": "Doe^John", "birthDate": "19600101"}
        study_uid, series_uid = "1.2.826.0.1.3680043.8.498.777", "1.2.826.0.1.3680043.8.498.7771"
        own = [data.make_dicom(patient_id=hospital["id"], study_uid=study_uid,
                               series_uid=series_uid) for _ in range(2)]
        for f in own:
            # The hospital's own copy: its identity, no issuer.
            import io
            import pydicom
            ds = pydicom.dcmread(io.BytesIO(f))
            ds.PatientName = hospital["name"]
            ds.PatientBirthDate = hospital["birthDate"]
            buffer = io.BytesIO()
            ds.save_as(buffer, write_like_original=True)
            r = server.admin("POST", "/instances", data=buffer.getvalue())
            assert r.status_code == 200, r.text
        before = server.all_instances()
        assert len(before) == 2

        upload = harness.Upload.open(server)
        for f in own:
            upload.put_ok(f)
        upload.complete_ok()
        r = server.admin("POST", "/inbound/admin/uploads/%s/release" % upload.id,
                         json={"modality": "pacs", "patient": hospital})
        assert r.status_code == 202, r.text
        import time
        deadline = time.time() + 60
        while time.time() < deadline:
            states = [f["state"] for f in server.admin_json(
                "GET", "/inbound/admin/forwards", params={"upload": upload.id})["forwards"]]
            if states and all(s in ("done", "failed", "given-up") for s in states) or \
                    any("UIDs" in f.get("lastError", "") for f in server.admin_json(
                        "GET", "/inbound/admin/forwards", params={"upload": upload.id})["forwards"]):
                break
            time.sleep(0.5)
        time.sleep(2)
        # The hospital's own study is still here, untouched; the upload's too.
        assert before <= server.all_instances(), "the hospital's own instances were deleted"
        assert len(server.instances_of_upload(upload.id)) == 2
    finally:
        pacs.stop()


def patient_id_element(vr, value):
    """A file whose PatientID (0010,0020) is sent with another VR (explicit VR)."""
    import io
    import pydicom
    from pydicom.dataelem import DataElement
    from pydicom.sequence import Sequence
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id="X")))
    if vr == "SQ":
        item = pydicom.Dataset()
        item.PatientID = value
        ds[0x00100020] = DataElement(0x00100020, "SQ", Sequence([item]))
    else:
        ds[0x00100020] = DataElement(0x00100020, vr, value)
    buffer = io.BytesIO()
    ds.save_as(buffer, write_like_original=True)
    return buffer.getvalue()


def test_patient_ids_of_odd_vrs_never_share_a_patient(start_server):
    """PatientIDs whose bytes cannot be read as text (another VR: a sequence, UN, OB) must
    not all fall back to the empty PatientID, which would merge them with each other and
    with files that have none."""
    server = start_server()
    upload = harness.Upload.open(server)
    files = {"absent": data.make_dicom(omit=("PatientID",)),
             "SQ-A": patient_id_element("SQ", "A"), "SQ-B": patient_id_element("SQ", "B"),
             "UN-A": patient_id_element("UN", b"AA"), "OB-B": patient_id_element("OB", b"BB")}
    accepted = {}
    for name, f in files.items():
        r = upload.put(f)
        if name.startswith("SQ"):
            # No bytes to compare: refused, not read as an empty PatientID.
            harness.assert_error(r, 400, "invalid-dicom")
            continue
        assert r.status_code == 201, (name, r.status_code, r.text)
        accepted[name] = harness.sha256(f)
    upload.complete_ok()
    assert server.count_instances() == len(accepted)
    items = {i["sha256"]: i["patientId"] for i in server.admin_upload(upload.id)["items"]}
    by_name = {name: items[sha] for name, sha in accepted.items()}
    assert len(set(by_name.values())) == len(by_name), by_name


def raw_elements(blob):
    """Top-level elements of a Part 10 file as (VR, value bytes), undecoded."""
    import io
    import pydicom
    ds = pydicom.dcmread(io.BytesIO(blob))
    result = {}
    for tag, raw in ds._dict.items():
        if hasattr(raw, "VR") and not hasattr(raw, "keyword") and raw.VR != "SQ":
            result[tag] = (raw.VR, raw.value)
    return result, ds


def test_the_stored_copy_keeps_every_other_element_byte_for_byte(start_server):
    """Oddities a real file has: a public tag sent as UN, a private tag as UN, a text with
    a trailing NUL, a group length, a big odd-length OB. Besides the isolation's own
    elements, the stored copy has each element's VR and bytes as sent."""
    import io
    import pydicom
    from pydicom.dataelem import DataElement
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id="RAW-1")))
    ds[0x00080070] = DataElement(0x00080070, "LO", "ACME\x00\x00")        # Manufacturer
    ds[0x00091010] = DataElement(0x00091010, "LO", "\x01\x02\x03\x04")     # private
    ds[0x00090010] = DataElement(0x00090010, "LO", "ACME PRIVATE")
    ds[0x00081030] = DataElement(0x00081030, "LO", "HEAD\x00")             # StudyDescription
    ds[0x00291020] = DataElement(0x00291020, "OB", b"\xff" * 1001)
    ds[0x00290010] = DataElement(0x00290010, "LO", "SIEMENS CSA HEADER")
    buffer = io.BytesIO()
    ds.save_as(buffer, write_like_original=True)
    sent = buffer.getvalue()
    # pydicom writes neither UN for a known tag nor group lengths: patched in by hand.
    import struct
    for tag in (b"\x08\x00\x70\x00", b"\x09\x00\x10\x10"):
        at = sent.index(tag + b"LO")
        length = struct.unpack("<H", sent[at + 6:at + 8])[0]
        sent = sent[:at] + tag + b"UN\x00\x00" + struct.pack("<I", length) + sent[at + 8:]
    at = sent.index(b"\x20\x00\x0d\x00UI")
    sent = sent[:at] + b"\x20\x00\x00\x00UL\x04\x00" + struct.pack("<I", 1234) + sent[at:]
    server = start_server()
    upload = harness.Upload.open(server)
    upload.put_ok(sent)
    upload.complete_ok()
    [instance] = server.instances_of_upload(upload.id).values()
    stored = server.instance_file(instance["ID"])
    before, _ = raw_elements(sent)
    after, _ = raw_elements(stored)
    assert before[0x00080070] == ("UN", b"ACME\x00\x00") and 0x00200000 in before, before.keys()
    assert len(after) >= len(before) - 2
    import checks
    differ = {}
    for tag in set(before) | set(after):
        if tag in checks.CHANGED_BY_ISOLATION or tag.element == 0:
            continue  # group lengths are recalculated (this one was wrong on purpose)
        if before.get(tag) != after.get(tag):
            differ[str(tag)] = (before.get(tag, ("-", b""))[0], before.get(tag, ("", b""))[1][:40],
                                after.get(tag, ("-", b""))[0], after.get(tag, ("", b""))[1][:40])
    assert not differ, differ


def with_elements(patient_id, **attributes):
    import io
    import pydicom
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id=patient_id)))
    for name, value in attributes.items():
        setattr(ds, name, value)
    buffer = io.BytesIO()
    ds.save_as(buffer, write_like_original=True)
    return buffer.getvalue()


def nested_qualifiers(depth):
    """IssuerOfPatientIDQualifiersSequence holding sequences "depth" levels deep in all."""
    import pydicom
    from pydicom.sequence import Sequence
    inner = pydicom.Dataset()
    inner.UniversalEntityID = "DEEPEST"
    for _ in range(depth - 1):
        outer = pydicom.Dataset()
        outer.AssigningFacilitySequence = Sequence([inner])
        inner = outer
    return Sequence([inner])


def test_deep_qualifiers_and_an_existing_original_attributes_sequence(start_server):
    """The deepest file the guard lets in (24 levels), its nesting copied into
    OriginalAttributesSequence two levels deeper: stored, Orthanc alive, readable, the
    sender's own earlier OriginalAttributesSequence item kept before ours."""
    import io
    import pydicom
    from pydicom.sequence import Sequence
    earlier = pydicom.Dataset()
    earlier.ModifyingSystem = "EARLIER-SYSTEM"
    earlier.ReasonForTheAttributeModification = "CORRECT"
    server = start_server()
    upload = harness.Upload.open(server)
    deepest = with_elements("DEEP-1", IssuerOfPatientIDQualifiersSequence=nested_qualifiers(23),
                            OriginalAttributesSequence=Sequence([earlier]))
    upload.put_ok(deepest)
    harness.assert_error(upload.put(with_elements(
        "DEEP-2", IssuerOfPatientIDQualifiersSequence=nested_qualifiers(25))), 400, "invalid-dicom")
    upload.complete_ok()
    [instance] = server.instances_of_upload(upload.id).values()
    stored = pydicom.dcmread(io.BytesIO(server.instance_file(instance["ID"])))
    items = stored.OriginalAttributesSequence
    assert [i.ModifyingSystem for i in items] == ["EARLIER-SYSTEM", "ORTHANC-INBOUND"]
    kept = items[1].ModifiedAttributesSequence[0].IssuerOfPatientIDQualifiersSequence
    depth, node = 1, kept[0]
    while "AssigningFacilitySequence" in node:
        depth, node = depth + 1, node.AssigningFacilitySequence[0]
    assert depth == 23 and node.UniversalEntityID == "DEEPEST"
    assert "IssuerOfPatientIDQualifiersSequence" not in stored
    assert server.request("GET", "/system", auth=harness.ADMIN).status_code == 200
    # Orthanc reads the stored copy again (tags of the instance).
    assert server.admin("GET", "/instances/%s/tags" % instance["ID"]).status_code == 200


def test_parallel_files_of_many_patient_ids_get_one_ordinal_each(start_server):
    """40 distinct PatientIDs (some differing only by case, padding or a trailing byte),
    each sent in three files at once: one isolated patient per distinct PatientID, the
    ordinals 1..40 without a gap or a repeat."""
    import concurrent.futures
    import time
    server = start_server(inbound={"Limits": {"MaxUploadsInFlightPerClient": 64,
                                              "RequestsPerSecond": 0}})
    upload = harness.Upload.open(server)
    ids = ["PID-%02d" % i for i in range(36)] + ["pid-00", " PID-00", "PID-00\\X", "PID-0"]
    files = [(pid, data.make_dicom(patient_id=pid)) for pid in ids for _ in range(3)]

    def put(f):
        for _ in range(50):
            r = upload.put(f)
            if r.status_code != 503:
                return r.status_code
            time.sleep(0.1)
        return r.status_code

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        statuses = list(pool.map(put, [f for _, f in files]))
    assert statuses == [201] * len(files), statuses
    upload.complete_ok()
    by_sha = {i["sha256"]: i["patientId"] for i in server.admin_upload(upload.id)["items"]}
    isolated = {}
    for pid, f in files:
        isolated.setdefault(pid, set()).add(by_sha[harness.sha256(f)])
    assert all(len(v) == 1 for v in isolated.values()), isolated
    values = [v.pop() for v in isolated.values()]
    assert len(set(values)) == len(ids)
    ordinals = sorted(int(v.split("-")[2]) for v in values)
    assert ordinals == list(range(1, len(ids) + 1)), ordinals
    assert len(server.patients_of_upload(upload.id)) == len(ids)


def test_a_file_the_internal_died_on_is_not_parsed_again_under_another_upload_id(plugin):
    """The crash guard holds the upload whose item was being processed; a malicious gateway
    then lists the very same file under a fresh upload id. Fetching and parsing it again
    would crash the Internal again, once per id: it must be held without being fetched.
    The crash is the trace one leaves: the ledger's "processing" row of that item."""
    import os
    import sqlite3
    import time
    gateway = FakeGateway()
    internal = harness.OrthancServer(plugin, inbound={"Role": "Internal", "Gateways": ["dmz"]},
                                     orthanc=gateway.peer_settings())
    poison = data.make_dicom(patient_id="CRASH-1")
    first = "CRASHCRASH22"
    try:
        internal.start()   # creates the ledger
        internal.stop()
        ledger = sqlite3.connect(os.path.join(internal.storage, "inbound", "ledger.sqlite"))
        with ledger:
            # crashes = 1: the item was already taken up once after a first death.
            ledger.execute("INSERT INTO pulling (gateway, upload_id, sha256, since, crashes) "
                           "VALUES ('dmz', ?, ?, ?, 1)", (first, harness.sha256(poison),
                                                       int(time.time() * 1000)))
        ledger.close()
        second = gateway.add([poison])   # the same file under a new id
        internal.start()
        wait_until(lambda: first in gateways(internal)["dmz"]["held"], 30, "the crash hold")
        wait_until(lambda: second in gateways(internal)["dmz"]["held"] or
                   second in gateway.acknowledged, 30, "the second upload to be decided")
        assert gateway.count("GET", "/inbound/peer/outbox/%s/items" % second) == 0
        assert second in gateways(internal)["dmz"]["held"]
        assert internal.count_instances() == 0
        # Across a restart too (the hold's reason names the file); once an admin has
        # released the crashed upload and the copy, the copy is pulled.
        internal.restart()
        time.sleep(3)
        assert gateway.count("GET", "/inbound/peer/outbox/%s/items" % second) == 0
        for upload_id in (first, second):
            r = internal.admin("POST", "/inbound/admin/gateways/dmz/held/%s/retry" % upload_id)
            assert r.status_code == 200, r.text
        wait_until(lambda: second in gateway.acknowledged, 30, "the released copy")
        assert internal.count_instances() == 1
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


def test_the_held_retry_route_is_same_origin_and_names_only_known_gateways(start_server):
    """A page elsewhere, opened by a logged-in admin, posts to the release route; odd names."""
    server = start_server()
    route = "/inbound/admin/gateways/dmz/held/%s/retry"
    # (None: requests sends no such header; the harness adds X-Requested-With otherwise.)
    r = server.request("POST", route % "AAAAAAAAAAAA", auth=harness.ADMIN,
                       headers={"Origin": "https://evil.example", "X-Requested-With": None})
    harness.assert_error(r, 403, "cross-site")
    r = server.request("POST", route % "AAAAAAAAAAAA", auth=harness.ADMIN,
                       headers={"X-Requested-With": None})   # a form: no Origin, no XHR
    harness.assert_error(r, 403, "cross-site")
    for name, upload_id in (("dmz", "AAAAAAAAAAAA"), ("..", "AAAAAAAAAAAA"),
                            ("dmz", "%2e%2e%2f%2e%2e%2ftools%2freset"), ("%00", "x")):
        r = server.admin("POST", "/inbound/admin/gateways/%s/held/%s/retry" % (name, upload_id))
        assert r.status_code in (400, 404, 405), (name, upload_id, r.status_code, r.text)
    assert server.request("GET", "/system", auth=harness.ADMIN).status_code == 200


def test_one_file_in_three_uploads_and_the_hospital_removing_one_touches_no_other(start_server):
    """The same file (same SOP Instance UID, same PatientID) is the hospital's own and is sent
    in three uploads: deleting one upload and cancelling another leave the others intact."""
    server = start_server()
    f = data.make_dicom(patient_id="SAME-1")
    r = server.admin("POST", "/instances", data=f)
    assert r.status_code == 200, r.text
    own = r.json()["ID"]
    uploads = []
    for _ in range(3):
        u = harness.Upload.open(server)
        u.put_ok(f)
        uploads.append(u)
    uploads[0].complete_ok()
    uploads[1].complete_ok()
    ids = {u.id: set(i["ID"] for i in server.instances_of_upload(u.id).values()) for u in uploads}
    assert all(len(v) == 1 for v in ids.values()) and len(set.union(*ids.values())) == 3
    assert own not in set.union(*ids.values())
    r = server.admin("DELETE", "/inbound/admin/uploads/%s" % uploads[0].id)
    assert r.status_code in (200, 204), r.text
    r = uploads[2].cancel()
    assert r.status_code in (200, 204), r.text
    left = server.all_instances()
    assert own in left and ids[uploads[1].id] <= left
    assert not (ids[uploads[0].id] & left) and not (ids[uploads[2].id] & left)
    assert len(left) == 2


def test_hostile_files_from_a_gateway_are_held_and_the_internal_lives(plugin):
    """What kills or bloats a parser, served by a compromised gateway with a manifest that
    is right about size and hash: 60 nested sequences (Orthanc's threads die at 43), a
    Deflated file inflating past Upload.MaxFileBytes, a file meta group DCMTK reads otherwise
    than the guard would. Each upload held, never acknowledged, nothing stored."""
    import hostile_dicom
    gateway = FakeGateway()
    internal = harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                         "Upload": {"MaxFileBytes": 8 * 1024 * 1024}},
        orthanc=gateway.peer_settings())
    files = {"deep": hostile_dicom.nested(60),
             "bomb": hostile_dicom.deflate_bomb(64 * 1024 * 1024),
             "meta": hostile_dicom.meta_confused("syntax-after-group", depth=60)}
    ids = {name: gateway.add([f, data.make_dicom(patient_id="OK-%d" % i)])
           for i, (name, f) in enumerate(sorted(files.items()))}
    try:
        internal.start()
        wait_until(lambda: set(ids.values()) <= set(gateways(internal)["dmz"]["held"]), 60,
                   "every hostile upload to be held")
        assert internal.running(), internal.log_tail()
        assert internal.request("GET", "/system", auth=harness.ADMIN).status_code == 200
        assert gateway.acknowledged == []
        held = {h["id"]: h["reason"] for h in gateways(internal)["dmz"]["heldUploads"]}
        for name, upload_id in ids.items():
            assert "invalid-dicom" in held[upload_id] or "too-large" in held[upload_id], \
                (name, held[upload_id])
        # The good file beside each may be stored or not; the hostile one never.
        for upload_id in ids.values():
            for instance in internal.instances_of_upload(upload_id).values():
                assert instance["MainDicomTags"].get("SOPClassUID", "") != hostile_dicom.BASIC_TEXT_SR
        assert internal.find("Patient", {"PatientID": "*DEEP*"}) == []
        assert internal.find("Patient", {"PatientID": "*BOMB*"}) == []
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


def test_huge_patient_ids_differing_in_their_last_byte_stay_apart(start_server):
    """Two PatientIDs of 256 KiB that differ only in their last byte (a LO of that length is
    invalid, but a sender may send it): two isolated patients, each kept exactly."""
    import io
    import pydicom
    server = start_server()
    upload = harness.Upload.open(server)
    base = "9" * (256 * 1024 - 1)
    ids = [base + "A", base + "B"]
    files = [data.make_dicom(patient_id=pid) for pid in ids]
    for f in files:
        r = upload.put(f)
        assert r.status_code in (201, 400, 413), r.text[:300]
        if r.status_code != 201:
            return   # refused as a whole is safe too
    upload.complete_ok()
    items = {i["sha256"]: i for i in server.admin_upload(upload.id)["items"]}
    isolated = [items[harness.sha256(f)]["patientId"] for f in files]
    assert isolated[0] != isolated[1] and all(len(i) <= 64 for i in isolated), isolated
    for f, pid in zip(files, ids):
        [instance] = [i for i in server.instances_of_upload(upload.id).values()
                      if i["ID"] == items[harness.sha256(f)]["orthancId"]]
        stored = pydicom.dcmread(io.BytesIO(server.instance_file(instance["ID"])))
        original = stored.OriginalAttributesSequence[-1].ModifiedAttributesSequence[0]
        # Too long for an explicit VR LO's 16-bit length: pydicom sent it as UN, kept so.
        value = original.PatientID
        assert (value if isinstance(value, str) else value.decode("ascii")) == pid
    assert len(server.patients_of_upload(upload.id)) == 2


def test_a_delete_during_parallel_puts_leaves_nothing_of_the_upload(start_server):
    """An admin deletes an upload while its files are still arriving in parallel: once the
    dust settles, nothing of that upload is in Orthanc (no instance stored after the delete
    escapes it), and the hospital's own instance is untouched."""
    import concurrent.futures
    import time
    server = start_server(inbound={"Limits": {"MaxUploadsInFlightPerClient": 64,
                                              "RequestsPerSecond": 0}})
    own = server.admin("POST", "/instances", data=data.make_dicom(patient_id="OWN-1")).json()["ID"]
    upload = harness.Upload.open(server)
    files = [data.make_dicom(patient_id="DEL-%d" % (i % 5), rows=256, columns=256)
             for i in range(200)]

    def put(f):
        return upload.put(f).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(put, f) for f in files]
        time.sleep(0.2)
        r = server.admin("DELETE", "/inbound/admin/uploads/%s" % upload.id)
        assert r.status_code in (200, 204), r.text
        statuses = [f.result() for f in futures]
    # Files stored before the delete (and, most often, some refused after it: timing).
    assert 201 in statuses, sorted(statuses)
    time.sleep(2)
    assert server.patients_of_upload(upload.id) == [], "instances stored after the delete"
    assert server.all_instances() == {own}


def test_an_instance_added_to_the_reconciled_copy_while_the_pacs_is_down_survives(start_server,
                                                                                  tmp_path):
    """Released to the hospital's PatientID without new UIDs while the PACS is down: the copy
    waits in Orthanc, where the hospital adds an instance of its own to that study (a key
    image note, a report). Once the PACS takes the copy, removing the copy must not remove
    what the hospital added."""
    import time
    from pacs import Pacs
    pacs = Pacs(str(tmp_path / "pacs"))   # down until started
    try:
        server = start_server(inbound={"Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 1}},
                              orthanc={"DicomModalities": {"pacs": pacs.modality()}})
        hospital = {"id": "HOSP-000888", "name": "Roe^Rita", "birthDate": "19800202"}
        study_uid = "1.2.826.0.1.3680043.8.498.888"
        upload = harness.Upload.open(server)
        upload.put_ok(data.make_dicom(patient_id="CD-888", study_uid=study_uid))
        upload.complete_ok()
        r = server.admin("POST", "/inbound/admin/uploads/%s/release" % upload.id,
                         json={"modality": "pacs", "patient": hospital})
        assert r.status_code == 202, r.text

        def forwards():
            return server.admin_json("GET", "/inbound/admin/forwards",
                                     params={"upload": upload.id})["forwards"]
        wait_until(lambda: server.find("Patient", {"PatientID": hospital["id"]}) and
                   forwards()[0]["lastError"], 30, "the copy to wait for the PACS")
        # The hospital's own addition to that study.
        added = data.make_dicom(patient_id=hospital["id"], study_uid=study_uid)
        r = server.admin("POST", "/instances", data=added)
        assert r.status_code == 200, r.text
        own = r.json()["ID"]
        pacs.start()
        wait_until(lambda: forwards()[0]["state"] == "done", 60, "the forward")
        time.sleep(2)
        assert own in server.all_instances(), "the hospital's instance was deleted with the copy"
    finally:
        pacs.stop()


def test_a_nul_inside_a_patient_id_is_not_lost_from_the_metadata(start_server):
    """PatientIDs "A<NUL>B" and "A<NUL>C" (bytes a sender can write): two isolated patients,
    and what the admin sees (metadata, upload view) tells them apart, never plain "A"."""
    import io
    import pydicom
    from pydicom.dataelem import DataElement
    server = start_server()
    upload = harness.Upload.open(server)
    files = {}
    for raw in (b"A\x00BX", b"A\x00CX"):
        ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id="X")))
        ds[0x00100020] = DataElement(0x00100020, "LO", raw.decode("latin-1"))
        buffer = io.BytesIO()
        ds.save_as(buffer, write_like_original=True)
        files[raw] = buffer.getvalue()
        upload.put_ok(files[raw])
    upload.complete_ok()
    view = {i["sha256"]: i for i in server.admin_upload(upload.id)["items"]}
    seen = []
    for raw, f in files.items():
        item = view[harness.sha256(f)]
        metadata = server.metadata("instances", item["orthancId"], "InboundOriginalPatientID")
        shown = (item["originalPatientId"], item.get("originalPatientIdBytes"), metadata)
        seen.append(shown)
        assert item["originalPatientId"] != "A" or item.get("originalPatientIdBytes") == raw.hex(), shown
        assert metadata != "A", shown
    assert seen[0] != seen[1], seen
    assert len({view[harness.sha256(f)]["patientId"] for f in files.values()}) == 2
