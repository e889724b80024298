"""Sealed staging end to end (doc/Security.md, "Sealed staging"): the Internal's key and its
start-up errors, the patient CD through a sealing gateway with nothing readable at rest, key
rotation, and envelopes tampered with on the gateway's disk."""

import io
import os
import shutil
import stat
import time

import pydicom
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import checks
import data
import harness
import sealing
from gateway_support import audit
from harness import Upload
from test_pull import wait_for_upload

PULLER = ("inside", "a-long-random-secret-for-tests")

# What the sender types: distinctive, so that a search of the gateway's disk finds any trace.
SENDER = harness.sender(name="Dr. Quillon Farnsworth-Sealtest",
                        email="q.farnsworth.sealtest@clinic.example",
                        institution="Sealtest Klinik Nordwest", phone="+49 251 7654321")
MESSAGE = "Sealtest referral: suspected zygomatic fracture, Xylophon 4711"


def gateway_server(plugin, public_keys):
    """A gateway sealing for "public_keys" (PEM texts), not started."""
    return harness.OrthancServer(plugin, inbound={
        "Role": "Gateway", "Sealing": {"PublicKeys": list(public_keys)},
        "Pullers": [{"Username": PULLER[0], "Password": PULLER[1], "Networks": ["127.0.0.1"]}]})


def internal_server(plugin, gateway_url):
    """An Internal pulling from "gateway_url" as "dmz", not started, that makes its own key
    (not the harness's shared one)."""
    peers = {"dmz": {"Url": gateway_url, "Username": PULLER[0], "Password": PULLER[1]}}
    inbound = {"Role": "Internal", "Gateways": ["dmz"], "Sealing": {"PrivateKey": ""}}
    return harness.OrthancServer(plugin, inbound=inbound, orthanc={"OrthancPeers": peers})


def on_port(server, port):
    server.port, server.dicom_port = port, harness.free_port()
    return server


def key_file(server):
    return os.path.join(server.storage, "inbound", "sealing-key.pem")


def write(path, content, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)
    os.chmod(path, mode)
    return path


def send(gateway, originals, **overrides):
    upload = Upload.open(gateway, **overrides)
    for original in originals:
        assert upload.put(original.data).status_code == 201
    upload.complete_ok()
    return upload


def staged(gateway, upload_id):
    """sha256 -> path of each staged file of the upload."""
    folder = os.path.join(gateway.storage, "inbound", "staging", upload_id)
    return {name: os.path.join(folder, name) for name in os.listdir(folder)}


def stop_all(*servers):
    for s in servers:
        if s is not None:
            s.stop()
            s.cleanup()


# ----------------------------------------------------------------------------- the key


def test_the_internal_creates_its_key_once_and_shows_it_to_admins(plugin):
    internal = internal_server(plugin, "http://127.0.0.1:9/")   # no gateway needed here
    try:
        internal.start()
        path = key_file(internal)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        pem = harness.read(path)
        answer = internal.admin_json("GET", "/inbound/admin/sealing")
        assert answer["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")
        assert answer["publicKey"].encode() == sealing.public_pem_of(pem)
        assert answer["keyId"] == sealing.key_id(answer["publicKey"]) == \
            sealing.key_id(sealing.public_pem_of(pem))
        assert answer["sealing"] is True and answer["previousKeys"] == []
        assert "PRIVATE" not in str(answer)
        with open(internal.log_path) as f:
            assert "created the sealing key %s" % answer["keyId"] in f.read()

        # Not without an admin account: as every admin route.
        assert internal.request("GET", "/inbound/admin/sealing").status_code == 403
        assert internal.request("GET", "/inbound/admin/sealing",
                                auth=("admin", "wrong")).status_code == 403
        assert internal.request("GET", "/inbound/admin/sealing", auth=PULLER).status_code == 403
        assert internal.admin("POST", "/inbound/admin/sealing").status_code == 405

        internal.restart()   # the same key, not a new one
        assert harness.read(path) == pem
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert internal.admin_json("GET", "/inbound/admin/sealing")["keyId"] == answer["keyId"]
        with open(internal.log_path) as f:
            assert f.read().count("created the sealing key") == 1
    finally:
        stop_all(internal)


def test_a_standalone_needs_no_key_and_a_plain_gateway_says_so(start_server):
    server = start_server()
    assert server.admin_json("GET", "/inbound/admin/sealing") == {
        "role": "Standalone", "sealing": False}
    assert not os.path.exists(key_file(server))
    gateway = start_server(inbound={"Role": "Gateway", "Sealing": {"PublicKeys": []}})
    assert gateway.admin_json("GET", "/inbound/admin/sealing") == {
        "role": "Gateway", "sealing": False, "heldPlain": 0, "keys": []}
    assert gateway.request("GET", "/inbound/admin/sealing").status_code == 403


def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# name -> (files to write: {name: (content, mode)}, Sealing settings, option named, path named)
BAD_KEYS = {
    "garbage": ({"key.pem": (b"this is not a key\n", 0o600)}, {"PrivateKey": "key.pem"},
                "Inbound.Sealing.PrivateKey", "key.pem"),
    "an RSA key": ({"key.pem": (rsa_key(), 0o600)}, {"PrivateKey": "key.pem"},
                   "Inbound.Sealing.PrivateKey", "key.pem"),
    "readable by others": ({"key.pem": (sealing.new_key_pair()[0], 0o644)},
                           {"PrivateKey": "key.pem"}, "Inbound.Sealing.PrivateKey", "key.pem"),
    "a previous key missing": ({"key.pem": (sealing.new_key_pair()[0], 0o600)},
                               {"PrivateKey": "key.pem", "PreviousPrivateKeys": ["old.pem"]},
                               "Inbound.Sealing.PreviousPrivateKeys[0]", "old.pem"),
}


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_bad_key_stops_the_start_up_naming_it(plugin, case):
    files, settings, option, named = BAD_KEYS[case]
    internal = internal_server(plugin, "http://127.0.0.1:9/")
    keys = os.path.join(internal.workdir, "keys")
    for name, (content, mode) in files.items():
        write(os.path.join(keys, name), content, mode)
    internal.inbound["Sealing"] = {
        "PrivateKey": os.path.join(keys, settings["PrivateKey"]),
        "PreviousPrivateKeys": [os.path.join(keys, p) for p in settings.get("PreviousPrivateKeys", [])]}
    try:
        with pytest.raises(harness.ServerError):
            internal.start()
        assert not internal.running()
        with open(internal.log_path) as f:
            log = f.read()
        line = [l for l in log.splitlines() if "Orthanc Inbound cannot start" in l]
        assert line and option in line[0] and os.path.join(keys, named) in line[0], log[-3000:]
        # Nothing made up in its place: the admin's file is as it was.
        for name, (content, mode) in files.items():
            assert harness.read(os.path.join(keys, name)) == content
        assert not os.path.exists(os.path.join(keys, "old.pem"))
    finally:
        stop_all(internal)


# ----------------------------------------------------------------------------- at rest


def pixel_run(original):
    """32 bytes of the file's pixel data, the most varied run (no run of zeros that any
    database page holds)."""
    pixels = bytes(original.ds.PixelData)
    start = max(range(len(pixels) - 31), key=lambda i: len(set(pixels[i:i + 32])))
    return pixels[start:start + 32]


def needles_of(originals):
    """What must not be readable at rest: (label, bytes, case-insensitive)."""
    needles = [("DICM", b"DICM", False)]
    for name in sorted({str(o.ds.PatientName) for o in originals}):
        needles.append(("patient name", name.encode(), True))
        needles.append(("patient name", name.replace("^", " ").encode(), True))
        needles += [("patient name part", part.encode(), True)
                    for part in name.split("^") if len(part) >= 6]
    for patient_id in sorted({o.patient_id for o in originals}):
        needles.append(("PatientID", patient_id.encode(), False))
    for key in ("name", "email", "institution", "phone"):
        needles.append(("sender " + key, SENDER[key].encode(), True))
    needles.append(("e-mail's local part", SENDER["email"].split("@")[0].encode(), True))
    needles.append(("message", MESSAGE.encode(), True))
    needles.append(("message word", b"Xylophon 4711", True))
    needles += [("pixel data of " + o.path, pixel_run(o), False) for o in originals]
    return needles


def search_at_rest(root, needles):
    """Every file under "root" (Orthanc's storage and index, the ledger and its -wal/-shm,
    staging, the log): the needles found, as "label in file"."""
    found, searched = [], []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            content = harness.read(path)
            lowered = content.lower()
            searched.append(os.path.relpath(path, root))
            for label, needle, fold in needles:
                if (needle.lower() in lowered) if fold else (needle in content):
                    found.append("%s in %s" % (label, os.path.relpath(path, root)))
    return found, searched


def test_nothing_readable_rests_on_a_sealing_gateway(plugin):
    originals = [data.Original(p) for p in data.cd_images()]
    assert len(originals) == 31
    gateway_port = harness.free_port()
    internal = internal_server(plugin, "http://127.0.0.1:%d/" % gateway_port)
    gateway = None
    try:
        # The Internal makes its key; the admin gives its public key to the gateway.
        internal.start()
        public = internal.admin_json("GET", "/inbound/admin/sealing")["publicKey"]
        internal.stop()          # the files rest in the DMZ until the inside pulls
        gateway = on_port(gateway_server(plugin, [public]), gateway_port).start()
        upload = send(gateway, originals, sender=SENDER, message=MESSAGE)

        found, searched = search_at_rest(gateway.workdir, needles_of(originals))
        assert not found, found
        names = " ".join(searched)
        for part in ("ledger.sqlite", "ledger.sqlite-wal", "orthanc.log", "staging"):
            assert part in names, (part, searched)   # the search saw them
        assert len(staged(gateway, upload.id)) == 31

        # The outbox serves envelopes that an independent opener opens with the Internal's key.
        private = harness.read(key_file(internal))
        for original in originals[:3]:
            r = requests.get("%s/inbound/peer/outbox/%s/items/%s" % (
                gateway.url, upload.id, original.sha256), auth=PULLER, timeout=30)
            assert r.status_code == 200 and sealing.read_key_id(r.content) == \
                sealing.key_id(public)
            assert len(r.content) == original.size + sealing.OVERHEAD
            assert sealing.open_envelope(private, r.content, "item:%s:%s" % (
                upload.id, original.sha256)) == original.data

        internal.start()
        inside = wait_for_upload(internal, upload.id, "complete")
        assert inside["files"] == 31 and inside["message"] == MESSAGE
        for key in ("name", "email", "institution", "phone"):
            assert inside["sender"][key] == SENDER[key]
        stored = internal.instances_of_upload(upload.id)
        assert len(stored) == 31
        by_sha = {o.sha256: o for o in originals}
        for instance in stored.values():
            original = by_sha[internal.metadata("instances", instance["ID"], "InboundSha256")]
            checks.assert_instance_metadata(internal, instance["ID"], original, upload.id)
            copy = internal.instance_file(instance["ID"])
            checks.assert_same_dicom_but_patient(original, copy, upload.id)
            assert bytes(pydicom.dcmread(io.BytesIO(copy)).PixelData) == \
                bytes(original.ds.PixelData)
        patient_of_study = {uid: s["patientId"] for uid, s in data.studies_of(originals).items()}
        assert len(inside["studies"]) == len(patient_of_study)
        for study in inside["studies"]:
            checks.assert_study_metadata(internal, study["orthancId"], upload,
                                         patient_of_study[study["studyInstanceUid"]])
        wait_for_upload(gateway, upload.id, "delivered")
        # The search finds what is readable: inside, where it is meant to be, it finds all.
        inside_found = " ".join(search_at_rest(internal.workdir, needles_of(originals))[0])
        for label in ("DICM", "PatientID", "patient name", "sender email", "message",
                      "pixel data of " + originals[-1].path):
            assert label in inside_found, (label, inside_found[:2000])
        described = internal.admin_json("GET", "/inbound/admin/sealing")
        assert described["opened"] >= 32 and described["refused"] == 0, described
    finally:
        stop_all(internal, gateway)


# ----------------------------------------------------------------------------- rotation


def test_uploads_sealed_before_and_after_a_rotation_are_all_pulled(plugin):
    (a_private, a_public), (b_private, b_public) = sealing.new_key_pair(), sealing.new_key_pair()
    originals = [data.Original(p) for p in data.cd_images()[:6]]
    gateway = gateway_server(plugin, [a_public.decode()]).start()
    internal = internal_server(plugin, gateway.url + "/")
    keys = os.path.join(internal.workdir, "keys")
    internal.inbound["Sealing"] = {"PrivateKey": write(os.path.join(keys, "b.pem"), b_private),
                                   "PreviousPrivateKeys": [write(os.path.join(keys, "a.pem"),
                                                                 a_private)]}
    try:
        before = send(gateway, originals[:3])
        # Rotation: the Internal's new key B first, A still recognised.
        gateway.stop()
        gateway.inbound["Sealing"]["PublicKeys"] = [b_public.decode(), a_public.decode()]
        gateway.start()
        after = send(gateway, originals[3:])
        keys = gateway.admin_json("GET", "/inbound/admin/sealing")
        assert keys["role"] == "Gateway" and keys["sealing"] is True
        assert [(k["keyId"], k["seals"]) for k in keys["keys"]] == [
            (sealing.key_id(b_public), True), (sealing.key_id(a_public), False)]
        assert keys["keys"][0]["publicKey"].encode() == b_public
        # What the gateway holds for each key: the old one may go once it holds nothing.
        assert keys["keys"][0]["held"] > 0 and keys["keys"][1]["held"] > 0, keys
        assert keys["heldPlain"] == 0
        for upload, public in ((before, a_public), (after, b_public)):
            for path in staged(gateway, upload.id).values():
                assert sealing.read_key_id(harness.read(path)) == sealing.key_id(public)

        internal.start()
        for upload in (before, after):
            inside = wait_for_upload(internal, upload.id, "complete")
            assert inside["files"] == 3
            assert len(internal.instances_of_upload(upload.id)) == 3
            wait_for_upload(gateway, upload.id, "delivered")
        described = internal.admin_json("GET", "/inbound/admin/sealing")
        assert described["keyId"] == sealing.key_id(b_public)
        assert [k["keyId"] for k in described["previousKeys"]] == [sealing.key_id(a_public)]
        assert described["opened"] >= 4 and described["previousKeys"][0]["opened"] >= 4
        assert described["unknownKeys"] == [] and described["heldUploads"] == []
        keys = gateway.admin_json("GET", "/inbound/admin/sealing")["keys"]
        assert [k["held"] for k in keys] == [0, 0], keys
    finally:
        stop_all(internal, gateway)


# ----------------------------------------------------------------------------- tampering


def test_tampered_envelopes_are_held_and_never_acknowledged(plugin):
    private, public = sealing.new_key_pair()
    originals = [data.Original(p) for p in data.cd_images()[:4]]
    gateway = gateway_server(plugin, [public.decode()]).start()
    internal = internal_server(plugin, gateway.url + "/")
    internal.inbound["Sealing"] = {
        "PrivateKey": write(os.path.join(internal.workdir, "keys", "key.pem"), private)}
    key_id = sealing.key_id(public)
    try:
        first = originals[0]
        flipped = send(gateway, [first, originals[1]])
        truncated = send(gateway, [first, originals[2]])
        moved = send(gateway, [first, originals[3]])
        donor = send(gateway, [first])   # the same file in another upload: same size
        victims = {flipped.id: "flipped", truncated.id: "truncated", moved.id: "moved"}

        path = staged(gateway, flipped.id)[first.sha256]
        envelope = bytearray(harness.read(path))
        envelope[len(envelope) // 2] ^= 0x01
        write(path, bytes(envelope))
        path = staged(gateway, truncated.id)[first.sha256]
        write(path, harness.read(path)[:-10])
        other = harness.read(staged(gateway, donor.id)[first.sha256])
        path = staged(gateway, moved.id)[first.sha256]
        assert len(other) == len(harness.read(path))
        shutil.copyfile(staged(gateway, donor.id)[first.sha256], path)

        internal.start()
        wait_for_upload(internal, donor.id, "complete")   # the untouched one goes through
        wait_for_upload(gateway, donor.id, "delivered")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            held = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]["held"]
            if set(victims) <= set(held):
                break
            time.sleep(0.3)
        state = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]
        reasons = {h["id"]: h["reason"] for h in state["heldUploads"]}
        events = audit(internal)
        for upload_id, how in victims.items():
            assert upload_id in reasons, (how, reasons)
            assert "sealed for key %s does not open" % key_id in reasons[upload_id], \
                (how, reasons[upload_id])
            assert first.sha256 in reasons[upload_id], how
            assert any(e["event"] == "alert-upload-held" and e["uploadId"] == upload_id
                       for e in events), how
            # Never acknowledged: the gateway still has all of it.
            assert gateway.admin_upload(upload_id)["state"] == "complete", how
            assert first.sha256 in staged(gateway, upload_id), how
            # Nothing of that item stored inside, and the upload not complete there.
            inside = internal.admin("GET", "/inbound/admin/uploads/%s" % upload_id)
            assert inside.status_code == 404 or inside.json()["state"] == "open", how
            if inside.status_code == 200:
                assert first.sha256 not in {i["sha256"] for i in inside.json()["items"]}, how
            for instance in internal.instances_of_upload(upload_id).values():
                assert internal.metadata("instances", instance["ID"],
                                         "InboundSha256") != first.sha256, how
        assert any(e["event"] == "alert-gateway-misbehaving" for e in events)
        described = internal.admin_json("GET", "/inbound/admin/sealing")
        assert {h["id"] for h in described["heldUploads"]} == set(victims)
        assert all(h["keyId"] == key_id for h in described["heldUploads"])
        assert described["refused"] >= 3
    finally:
        stop_all(internal, gateway)
