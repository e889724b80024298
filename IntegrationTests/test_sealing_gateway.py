"""The gateway side of sealed staging (doc/Security.md, "Sealed staging"): each bad entry of
Inbound.Sealing.PublicKeys stops Orthanc naming it, an empty list stages in plain text with a
warning and a gauge, and with a key the staged files, the manifest's sealed fields, the ledger,
the log and the audit trail hold nothing readable, while the quotas still count per sender."""

import base64
import io
import json
import os
import shutil
import sqlite3
import stat

import pydicom
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import data
import harness
import sealing
from harness import Upload

PULLER = ("inside", "a-long-random-secret-for-tests")

# Typed by the sender and written in the file: distinctive, so that any trace is found.
SENDER = harness.sender(name="Dr. Gatewaytest Quenby", email="Q.Gatewaytest@Clinic.example",
                        institution="Gatewaytest Hospital East", phone="+49 30 1234987")
MESSAGE = "Gatewaytest message: sealed MRI, Wurzelbrot 0815"
USER_AGENT = "GatewaytestBrowser/7.3 (sealed)"
PATIENT_ID = "GWTEST-PID-4711"
PATIENT_NAME = "Gatewaytest^Hildegard"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two key pairs of an Internal: private keys as files of mode 600, public keys as PEM."""
    folder = tmp_path_factory.mktemp("sealing-keys")
    pairs = []
    for name in ("current", "next"):
        private, public = sealing.new_key_pair()
        path = folder / ("%s.pem" % name)
        path.write_bytes(private)
        path.chmod(0o600)
        (folder / ("%s.pub" % name)).write_bytes(public)
        pairs.append({"private": private, "public": public.decode(),
                      "public_file": str(folder / ("%s.pub" % name))})
    return pairs


def gateway(plugin, public_keys, **inbound):
    settings = {"Role": "Gateway", "TrustedProxies": ["127.0.0.1"],
                "Sealing": {"PublicKeys": list(public_keys)},
                "Pullers": [{"Username": PULLER[0], "Password": PULLER[1],
                             "Networks": ["127.0.0.1"]}]}
    settings.update(inbound)
    return harness.OrthancServer(plugin, inbound=settings)


def stop(server):
    try:
        if server.running():
            server.stop_cleanly()
    finally:
        server.cleanup()


def peer(server, path):
    return requests.get(server.url + path, auth=PULLER, timeout=30)


def gauge(server, name):
    for line in server.admin("GET", "/tools/metrics-prometheus").text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.split(" ")[1])
    return None


def patient_file():
    """A small file (a 1-in-2^32-per-byte chance that ciphertext holds "DICM" by chance stays
    negligible) with the patient's name and id."""
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id=PATIENT_ID, rows=8, columns=8)))
    ds.PatientName = PATIENT_NAME
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue(), bytes(ds.PixelData)[:32]


def send(server, payload):
    body = harness.open_body(sender=SENDER, message=MESSAGE)
    r = server.request("POST", "/inbound/api/uploads", json=body,
                       headers={"User-Agent": USER_AGENT})
    assert r.status_code == 201, r.text
    upload = Upload(server, r.json(), body)
    assert upload.put(payload).status_code == 201
    receipt = upload.complete_ok()
    return upload, receipt


# ----------------------------------------------------------------------------- start-up


def rsa_public_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


# name -> (file content or None: the entry is this text itself, what the log says)
BAD_ENTRIES = {
    "a missing file": (None, "is not a readable PEM file"),
    "garbage": (b"just some text\n", "is not an X25519 public key"),
    "a private key": ("private", "is a private key"),
    "an RSA key": (rsa_public_pem(), "is not an X25519 public key"),
    "an empty string": ("", "must be PEM text or the path of a PEM file"),
    "PEM text of garbage": ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                            "is not an X25519 public key"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_a_bad_public_key_stops_the_start_up_naming_the_entry(plugin, keys, case):
    content, why = BAD_ENTRIES[case]
    server = gateway(plugin, [])
    entry = os.path.join(server.workdir, "bad.pub")
    if content == "private":
        # The Internal's private key, copied to the DMZ by mistake.
        with open(entry, "wb") as f:
            f.write(keys[0]["private"])
    elif isinstance(content, bytes):
        with open(entry, "wb") as f:
            f.write(content)
    elif isinstance(content, str):
        entry = content
    # The bad entry second: the message must name it, not the good first one.
    server.inbound["Sealing"]["PublicKeys"] = [keys[0]["public"], entry]
    try:
        with pytest.raises(harness.ServerError) as error:
            server.start()
        assert "exited with code" in str(error.value) and "code 0" not in str(error.value)
        log = harness.read(server.log_path).decode("utf-8", "replace")
        lines = [l for l in log.splitlines() if "Orthanc Inbound cannot start" in l]
        assert lines and "Inbound.Sealing.PublicKeys[1]" in lines[0] and why in lines[0], \
            log[-3000:]
        if case in ("a missing file", "garbage", "an RSA key"):
            assert entry in lines[0]  # the admin sees which file
        assert "PRIVATE KEY-----\nM" not in log  # a private key is never echoed
        assert not os.path.exists(os.path.join(server.storage, "inbound", "staging"))
    finally:
        stop(server)


def test_without_a_key_the_gateway_warns_at_every_start_and_stages_plain_text(plugin):
    server = gateway(plugin, [])
    try:
        server.start()
        warning = "WARNING: Inbound.Sealing.PublicKeys is empty"
        assert harness.read(server.log_path).decode().count(warning) == 1
        assert gauge(server, "inbound_sealing_enabled") == 0
        payload, pixels = patient_file()
        upload, _ = send(server, payload)
        staged = os.path.join(server.storage, "inbound", "staging", upload.id,
                              harness.sha256(payload))
        assert harness.read(staged) == payload  # in plain text, as the warning says
        # The search of the sealed test below finds what is there to find.
        hits = " ".join(readable(server.workdir, needles(pixels)))
        for label in ("DICM in", "PatientID in", "pixel data in", "sender email in db/inbound/led",
                      "message in db/inbound/led", "user agent in db/inbound/led"):
            assert label in hits, (label, hits)
        manifest = peer(server, "/inbound/peer/outbox/%s" % upload.id).json()
        assert "sealedFields" not in manifest and "sealing" not in manifest
        assert manifest["sender"]["email"] == SENDER["email"]
        server.restart()
        assert harness.read(server.log_path).decode().count(warning) == 2
    finally:
        stop(server)


# ----------------------------------------------------------------------------- sealed


def needles(pixels):
    """What must not be readable anywhere on the gateway: (label, bytes, case-blind)."""
    found = [("DICM", b"DICM", False), ("PatientID", PATIENT_ID.encode(), False),
             ("patient name", b"Gatewaytest^Hildegard", True), ("patient name", b"Hildegard", True),
             ("pixel data", pixels, False), ("message", b"Wurzelbrot", True),
             ("user agent", b"GatewaytestBrowser", True)]
    for key in ("name", "email", "institution", "phone"):
        found.append(("sender " + key, SENDER[key].encode(), True))
    found.append(("e-mail's local part", b"q.gatewaytest", True))
    return found


def readable(root, what):
    hits = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name == "config.json":
                continue  # the test's own configuration
            content = harness.read(os.path.join(folder, name))
            for label, needle, fold in what:
                if (needle.lower() in content.lower()) if fold else (needle in content):
                    hits.append("%s in %s" % (label, os.path.relpath(os.path.join(folder, name),
                                                                      root)))
    return hits


def test_a_sealed_upload_leaves_nothing_readable_on_the_gateway(plugin, keys):
    current = keys[0]
    server = gateway(plugin, [current["public_file"]])
    try:
        server.start()
        assert gauge(server, "inbound_sealing_enabled") == 1
        assert sealing.key_id(current["public"]) in harness.read(server.log_path).decode()
        payload, pixels = patient_file()
        digest = harness.sha256(payload)
        upload, receipt = send(server, payload)
        assert receipt["files"] == 1 and receipt["studies"][0]["modalities"] == ["OT"]
        status = upload.status_json()  # the sender's page still works, with fewer details
        assert status["state"] == "complete" and status["files"][0]["sha256"] == digest

        # The staged file: the envelope of exactly the bytes sent, for this upload and item.
        staged = harness.read(os.path.join(server.storage, "inbound", "staging", upload.id,
                                           digest))
        assert staged != payload and len(staged) == len(payload) + sealing.OVERHEAD
        assert sealing.read_key_id(staged) == sealing.key_id(current["public"])
        context = "item:%s:%s" % (upload.id, digest)
        assert sealing.open_envelope(current["private"], staged, context) == payload
        with pytest.raises(sealing.SealingError):
            sealing.open_envelope(current["private"], staged, "item:%s:%s" % ("X" * 12, digest))

        # The manifest: empty fields in place, the typed ones sealed for the Internal.
        manifest = peer(server, "/inbound/peer/outbox/%s" % upload.id).json()
        assert manifest["sealing"] == {"keyId": sealing.key_id(current["public"])}
        assert manifest["sender"] == {"name": "", "email": "", "institution": "", "phone": ""}
        assert manifest["message"] == "" and manifest["client"]["userAgent"] == ""
        assert manifest["client"]["ip"] == "127.0.0.1"
        assert manifest["items"] == [{"sha256": digest, "size": len(payload)}]
        fields = json.loads(sealing.open_envelope(
            current["private"], base64.b64decode(manifest["sealedFields"]),
            "fields:%s" % upload.id))
        assert fields == {"sender": SENDER, "message": MESSAGE, "userAgent": USER_AGENT}

        # What the admin checks during a rotation: the file and the fields, held for this key.
        held = server.admin_json("GET", "/inbound/admin/sealing")
        assert held["heldPlain"] == 0 and held["keys"][0]["held"] == 2, held

        # The item route serves the envelope as it is.
        item = peer(server, "/inbound/peer/outbox/%s/items/%s" % (upload.id, digest))
        assert item.status_code == 200 and item.content == staged
        assert item.headers["Content-Type"] == "application/octet-stream"

        # What an admin of the gateway sees: ids, sizes, counts; no sender, no patient.
        view = json.dumps(server.admin_json("GET", "/inbound/admin/uploads/%s" % upload.id))
        audit = json.dumps(server.admin_json("GET", "/inbound/admin/audit"))
        for label, needle, _ in needles(pixels):
            if label != "pixel data":
                assert needle.decode().lower() not in view.lower(), label
                assert needle.decode().lower() not in audit.lower(), label
        assert upload.id in view and upload.id in audit

        # At rest, while it runs and once stopped: the ledger and its -wal and -shm (gone
        # after a clean stop), staging, Orthanc's storage and index, the log.
        names = [n for _, _, files in os.walk(server.workdir) for n in files]
        for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "orthanc.log",
                     "quota-key", digest):
            assert name in names, names
        assert readable(server.workdir, needles(pixels)) == []
        server.stop_cleanly()
        assert readable(server.workdir, needles(pixels)) == []
    finally:
        stop(server)


def test_the_quotas_count_per_sender_by_a_keyed_hash(plugin, keys):
    server = gateway(plugin, [keys[0]["public"]],
                     Quotas={"UploadsPerSenderPerDay": 1})
    try:
        server.start()
        first = harness.open_body(sender=harness.sender(email="Quota.Sender@Example.org"))
        assert server.request("POST", "/inbound/api/uploads", json=first).status_code == 201
        # The same address in other letters shares the quota; another address has its own.
        again = harness.open_body(sender=harness.sender(email="quota.sender@EXAMPLE.ORG"))
        harness.assert_error(server.request("POST", "/inbound/api/uploads", json=again),
                             503, "quota-exceeded")
        other = harness.open_body(sender=harness.sender(email="other.sender@example.org"))
        assert server.request("POST", "/inbound/api/uploads", json=other).status_code == 201

        folder = os.path.join(server.storage, "inbound")
        secret = os.path.join(folder, "quota-key")
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        assert len(harness.read(secret)) == 32
        with sqlite3.connect("file:%s?mode=ro" % os.path.join(folder, "ledger.sqlite"),
                             uri=True) as db:
            scopes = [row[0] for row in db.execute("SELECT scope FROM quota_usage")]
        senders = [s for s in scopes if s.startswith("sender:")]
        assert len(senders) == 2 and not [s for s in scopes if "@" in s], scopes
    finally:
        stop(server)


def test_with_two_keys_the_first_seals(plugin, keys):
    current, following = keys
    server = gateway(plugin, [following["public"], current["public_file"]])
    try:
        server.start()
        payload, _ = patient_file()
        upload, _ = send(server, payload)
        manifest = peer(server, "/inbound/peer/outbox/%s" % upload.id).json()
        assert manifest["sealing"]["keyId"] == sealing.key_id(following["public"])
        item = peer(server, "/inbound/peer/outbox/%s/items/%s" % (upload.id,
                                                                  harness.sha256(payload)))
        assert sealing.read_key_id(item.content) == sealing.key_id(following["public"])
        assert sealing.open_envelope(following["private"], item.content, "item:%s:%s" % (
            upload.id, harness.sha256(payload))) == payload
        with pytest.raises(sealing.SealingError):
            sealing.open_envelope(current["private"], item.content, "item:%s:%s" % (
                upload.id, harness.sha256(payload)))
    finally:
        stop(server)


def test_switching_sealing_on_seals_what_the_gateway_held(plugin, keys):
    current = keys[0]
    server = gateway(plugin, [])
    try:
        server.start()
        payload, pixels = patient_file()
        upload, _ = send(server, payload)
        assert readable(server.workdir, needles(pixels))  # plain text, before

        assert server.admin_json("GET", "/inbound/admin/sealing")["heldPlain"] == 2
        server.stop_cleanly()
        os.remove(server.log_path)  # the search below is about the ledger and staging
        # What a crash in the middle of the switch-on would leave: the plain file's second
        # name, and a write never renamed.
        folder = os.path.join(server.storage, "inbound", "staging", upload.id)
        staged = os.path.join(folder, harness.sha256(payload))
        leftovers = [staged + ".plain", staged + ".tmp-CRASHED1"]
        for leftover in leftovers:
            shutil.copyfile(staged, leftover)
        # The plain file's blocks are overwritten before they are let go, not only unlinked:
        # a hard link of our own keeps the inode, and must read zeros afterwards.
        witness = os.path.join(server.workdir, "witness")
        os.link(staged, witness)
        server.inbound["Sealing"]["PublicKeys"] = [current["public"]]
        server.start()
        assert "sealed what this gateway held in plain text: 1 staged file(s), 1 upload " \
            "record(s)" in harness.read(server.log_path).decode()
        assert not any(os.path.exists(p) for p in leftovers)
        with open(witness, "rb") as f:
            scrubbed = f.read()
        assert len(scrubbed) == len(payload) and scrubbed == bytes(len(payload))
        os.remove(witness)
        assert readable(server.workdir, needles(pixels)) == []
        sealed = server.admin_json("GET", "/inbound/admin/sealing")
        assert sealed["sealing"] and sealed["keys"][0]["keyId"] == sealing.key_id(
            current["public"])
        assert sealed["heldPlain"] == 0 and sealed["keys"][0]["held"] == 2, sealed

        # The upload goes out sealed as a whole, as if it had been received sealed.
        manifest = peer(server, "/inbound/peer/outbox/%s" % upload.id).json()
        fields = json.loads(sealing.open_envelope(
            current["private"], base64.b64decode(manifest["sealedFields"]),
            "fields:%s" % upload.id))
        assert fields["sender"] == SENDER and fields["message"] == MESSAGE
        item = peer(server, "/inbound/peer/outbox/%s/items/%s" % (upload.id,
                                                                  harness.sha256(payload)))
        assert sealing.open_envelope(current["private"], item.content, "item:%s:%s" % (
            upload.id, harness.sha256(payload))) == payload
    finally:
        stop(server)
