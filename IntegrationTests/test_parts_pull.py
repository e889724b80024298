"""Big items pulled in pieces (doc/Api.md, "Big items in pieces"): a real Gateway (sealing, and
plain) receives a ~30 MB multi-frame file in parts of 1 MiB, a real Internal pulls it piece by
piece and archives it isolated with the pixel data byte for byte, and nothing readable is left
on the gateway nor in the Internal's folder of pulls."""

import hashlib
import io
import os
import time

import pydicom
import pytest
import requests

import checks
import data
import harness
import sealing
from harness import Upload
from test_pull import PULLER, wait_for_upload
from test_sealing import pixel_run, search_at_rest

MiB = 1024 * 1024
PART = MiB
FRAMES = 120  # 256 KiB a frame: about 31 MB, 31 pieces
UPLOAD = {"PartBytes": PART, "MaxFileBytes": 64 * MiB, "MaxBytesPerUpload": 256 * MiB}


def gateway_server(plugin, sealed):
    inbound = {"Role": "Gateway", "Upload": UPLOAD,
               "Pullers": [{"Username": PULLER[0], "Password": PULLER[1],
                            "Networks": ["127.0.0.1"]}]}
    if not sealed:
        inbound["Sealing"] = {"PublicKeys": []}  # else the harness's key of the Internal
    return harness.OrthancServer(plugin, inbound=inbound).start()


def internal_server(plugin, gateway):
    """Not started: the gateway holds the upload until it is."""
    peers = {"dmz": {"Url": gateway.url + "/", "Username": PULLER[0], "Password": PULLER[1]}}
    return harness.OrthancServer(plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                                                  "Upload": UPLOAD},
                                 orthanc={"OrthancPeers": peers})


def stop_all(*servers):
    for s in servers:
        if s is not None:
            if s.running():
                s.stop_cleanly()
            s.cleanup()


def send_in_parts(gateway, original, small):
    """An upload of the big file in parts (and a small file whole), completed."""
    upload = Upload.open(gateway)
    content = original.data
    count = (len(content) + PART - 1) // PART
    for n in range(count):
        body = content[n * PART:(n + 1) * PART]
        headers = upload.headers()
        headers["X-Inbound-Part-Sha256"] = hashlib.sha256(body).hexdigest()
        headers["Content-Type"] = "application/octet-stream"
        r = gateway.request("PUT", upload.path("/files/%s/parts/%d" % (original.sha256, n)),
                            data=body, headers=headers)
        assert r.status_code == 201, "part %d: %d %s" % (n, r.status_code, r.text[:300])
    r = gateway.request("POST", upload.path("/files/%s/assemble" % original.sha256),
                        json={"parts": count}, headers=upload.headers())
    assert r.status_code == 201, r.text[:300]
    assert upload.put(small.data).status_code == 201
    upload.complete_ok()
    return upload, count


def piece(gateway, upload, sha256, n, auth=PULLER):
    return requests.get("%s/inbound/peer/outbox/%s/items/%s/parts/%s" % (
        gateway.url, upload.id, sha256, n), auth=auth, timeout=30)


def pulls_left(internal):
    folder = os.path.join(internal.storage, "inbound", "pulls")
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files]


def needles(original, sealed=True):
    """What nobody may read on the gateway once the file is sealed or gone: the file; on a
    sealing gateway also the patient (a plain gateway's ledger names him, doc/Security.md)."""
    found = [("DICM", b"DICM", False), ("pixel data", pixel_run(original), False),
             ("last pixels", bytes(original.ds.PixelData)[-64:], False)]
    if sealed:
        found += [("patient name", str(original.ds.PatientName).encode(), True),
                  ("PatientID", original.patient_id.encode(), False)]
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parts-pull")
    big = data.multiframe(folder / "CINE.dcm", "PIECES-4711", FRAMES)
    assert 30 * MiB < big.size < 32 * MiB
    small = data.Original(data=data.make_dicom(patient_id="PIECES-4711"))
    return big, small


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "plain"])
def test_a_big_file_in_parts_is_pulled_in_pieces_and_archived_exactly(plugin, files, sealed):
    big, small = files
    gateway = gateway_server(plugin, sealed)
    internal = internal_server(plugin, gateway)
    try:
        upload, count = send_in_parts(gateway, big, small)
        assert count == 31

        # The manifest offers the big file in pieces of the gateway's PartBytes, the small whole.
        manifest = requests.get("%s/inbound/peer/outbox/%s" % (gateway.url, upload.id),
                                auth=PULLER, timeout=30).json()
        items = {i["sha256"]: i for i in manifest["items"]}
        assert items[big.sha256]["partBytes"] == PART
        assert "partBytes" not in items[small.sha256]

        first, last = piece(gateway, upload, big.sha256, 0), piece(gateway, upload, big.sha256, 30)
        assert first.status_code == 200 and last.status_code == 200
        assert first.headers["Content-Type"] == "application/octet-stream"
        if sealed:
            assert len(first.content) == PART + sealing.OVERHEAD
            assert len(last.content) == big.size - 30 * PART + sealing.OVERHEAD
            private = harness.SealingKeys.private_key()
            context = "item:%s:%s:%%d/%d" % (upload.id, big.sha256, count)
            assert sealing.open_envelope(private, first.content, context % 0) == big.data[:PART]
            assert sealing.open_envelope(private, last.content, context % 30) == \
                big.data[30 * PART:]
            with pytest.raises(Exception):  # piece 0 is not piece 1, nor of a count of 30
                sealing.open_envelope(private, first.content, context % 1)
            with pytest.raises(Exception):
                sealing.open_envelope(private, first.content,
                                      "item:%s:%s:0/30" % (upload.id, big.sha256))
            # Nothing readable rests on the gateway: not the parts, not the staged file.
            found, searched = search_at_rest(gateway.workdir, needles(big))
            assert not found, found
            assert any("staging" in s for s in searched), searched
        else:
            assert first.content == big.data[:PART] and last.content == big.data[30 * PART:]
        assert piece(gateway, upload, big.sha256, 31).status_code == 404
        assert piece(gateway, upload, small.sha256, 0).status_code == 404  # served whole
        r = piece(gateway, upload, big.sha256, "x1")
        assert r.status_code == 400 and r.json()["error"] == "bad-part", r.text
        assert piece(gateway, upload, big.sha256, 0, auth=None).status_code in (401, 403)

        internal.start()
        inside = wait_for_upload(internal, upload.id, "complete", timeout=120)
        assert inside["files"] == 2
        stored = internal.instances_of_upload(upload.id)
        assert len(stored) == 2
        by_sha = {big.sha256: big, small.sha256: small}
        seen = set()
        for instance in stored.values():
            digest = internal.metadata("instances", instance["ID"], "InboundSha256")
            original = by_sha[digest]
            seen.add(digest)
            copy = internal.instance_file(instance["ID"])
            checks.assert_same_dicom_but_patient(original, copy, upload.id)
            assert bytes(pydicom.dcmread(io.BytesIO(copy)).PixelData) == \
                bytes(original.ds.PixelData)
        assert seen == {big.sha256, small.sha256}
        if sealed:
            described = internal.admin_json("GET", "/inbound/admin/sealing")
            assert described["opened"] >= 1 + count + 1 and described["refused"] == 0, described

        delivered = wait_for_upload(gateway, upload.id, "delivered")
        assert delivered["dataRemoved"] is True
        assert pulls_left(internal) == []
        found, _ = search_at_rest(gateway.workdir, needles(big, sealed))
        assert not found, found
        assert internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]["held"] == []
    finally:
        stop_all(internal, gateway)


def test_a_pull_in_pieces_interrupted_by_a_restart_resumes_and_leaves_no_temporary_file(
        plugin, files):
    big, small = files
    gateway = gateway_server(plugin, True)
    internal = internal_server(plugin, gateway)
    try:
        upload, count = send_in_parts(gateway, big, small)
        # What a pull that died left (a crash, a power cut): removed at the next start.
        stale = os.path.join(internal.storage, "inbound", "pulls", "ABCDEFGHJKLM", "0" * 64 + ".tmp")
        os.makedirs(os.path.dirname(stale))
        with open(stale, "wb") as f:
            f.write(big.data[:PART])
        internal.start()
        assert not os.path.exists(stale)
        # Killed while the big file may be on its way in: the next start empties the folder.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not pulls_left(internal):
            r = internal.admin("GET", "/inbound/admin/uploads/%s" % upload.id)
            if r.status_code == 200 and r.json()["state"] == "complete":
                break
            time.sleep(0.01)
        internal.kill()
        internal.start()
        inside = wait_for_upload(internal, upload.id, "complete", timeout=120)
        assert inside["files"] == 2
        assert len(internal.instances_of_upload(upload.id)) == 2
        wait_for_upload(gateway, upload.id, "delivered")
        assert pulls_left(internal) == []
    finally:
        stop_all(internal, gateway)
