"""DMZ pull: the internal Orthanc pulls what a gateway received, through Orthanc's own
peers, and the gateway forgets it only once it is safe inside."""

import os
import time

import pytest
import requests

import checks
import data
import harness
from harness import Upload, sha256
from samples import SampleServer

PULLER = ("inside", "a-long-random-secret-for-tests")


@pytest.fixture(scope="module")
def topology(plugin):
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, {"dmz": gateway})
    internal.start()
    yield gateway, internal
    for s in (internal, gateway):
        s.stop()
        s.cleanup()


def wait_for_upload(server, upload_id, state, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = server.admin("GET", "/inbound/admin/uploads/%s" % upload_id)
        if r.status_code == 200 and r.json()["state"] == state:
            return r.json()
        time.sleep(0.2)
    raise AssertionError("upload %s never became %s on %s: %s" % (
        upload_id, state, server.url, server.admin("GET", "/inbound/admin/gateways").text))


def test_the_patient_cd_arrives_inside_byte_for_byte(topology):
    gateway, internal = topology
    files = data.cd_images()
    upload = Upload.open(gateway)
    originals = {}
    for path in files:
        with open(path, "rb") as f:
            content = f.read()
        originals[sha256(content)] = path
        assert upload.put(content).status_code == 201
    started = time.monotonic()
    receipt = upload.complete_ok()

    inside = wait_for_upload(internal, upload.id, "complete")
    latency = time.monotonic() - started
    assert inside["files"] == len(files)
    assert inside["sender"]["email"] == harness.sender()["email"]
    assert inside["receiptCode"] == receipt["receiptCode"]

    stored = internal.instances_of_upload(upload.id)
    assert len(stored) == len(files)
    digests = set()
    for instance in stored.values():
        digest = internal.metadata("instances", instance["ID"], "InboundSha256")
        assert digest in originals
        digests.add(digest)
        # The stored file is the original but for PatientID and IssuerOfPatientID.
        checks.assert_same_dicom_but_patient(data.Original(originals[digest]),
                                             internal.instance_file(instance["ID"]), upload.id)
    assert digests == set(originals)
    patients = internal.patients_of_upload(upload.id)
    assert len(patients) == 2  # one isolated patient per original PatientID
    study = internal.admin_json("GET", "/studies/%s" % inside["studies"][0]["orthancId"])
    sender = internal.metadata("studies", study["ID"], "InboundSender")
    assert harness.sender()["email"] in sender

    delivered = wait_for_upload(gateway, upload.id, "delivered")
    assert delivered["dataRemoved"] is True
    staging = os.path.join(gateway.storage, "inbound", "staging", upload.id)
    assert not os.path.exists(staging) or os.listdir(staging) == []
    assert gateway.count_instances() == 0
    gateways = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]
    assert gateways[0]["name"] == "dmz" and gateways[0]["delivered"] >= 1
    assert latency < 30, latency

    metrics = internal.admin("GET", "/tools/metrics-prometheus").text
    delivered_lines = [l for l in metrics.splitlines() if l.startswith("inbound_gateway_dmz_delivered ")]
    assert delivered_lines and float(delivered_lines[0].split()[1]) >= 1, metrics[-2000:]
    assert "inbound_uploads_complete " in metrics


def test_the_internal_role_has_no_public_side(topology):
    _, internal = topology
    r = requests.get(internal.url + "/inbound/api/info", timeout=10)
    assert r.status_code == 403


def test_an_internal_orthanc_restarted_mid_stream_loses_nothing(topology):
    gateway, internal = topology
    uploads = []
    for i in range(4):
        upload = Upload.open(gateway)
        for path in data.cd_images()[i * 5:(i + 1) * 5]:
            with open(path, "rb") as f:
                assert upload.put(f.read()).status_code == 201
        upload.complete_ok()
        uploads.append(upload)
        if i == 1:
            internal.kill()      # kill -9 in the middle of the stream
            internal.start()
    for upload in uploads:
        inside = wait_for_upload(internal, upload.id, "complete")
        assert inside["files"] == 5
        assert len(internal.instances_of_upload(upload.id)) == 5  # each exactly once
        wait_for_upload(gateway, upload.id, "delivered")


def make_gateway(plugin):
    gateway = harness.OrthancServer(plugin, inbound={
        "Role": "Gateway",
        "Pullers": [{"Username": PULLER[0], "Password": PULLER[1], "Networks": ["127.0.0.1"]}]})
    return gateway.start()


def make_internal(plugin, gateways):
    """An internal Orthanc (not started) pulling from the gateways, by OrthancPeers name."""
    peers = {name: {"Url": g.url + "/", "Username": PULLER[0], "Password": PULLER[1]}
             for name, g in gateways.items()}
    return harness.OrthancServer(plugin, inbound={"Role": "Internal", "Gateways": sorted(peers)},
                                 orthanc={"OrthancPeers": peers})


def send(gateway, paths):
    upload = Upload.open(gateway)
    for path in paths:
        with open(path, "rb") as f:
            assert upload.put(f.read()).status_code == 201
    upload.complete_ok()
    return upload


def test_two_gateways_one_stopped_for_a_while(plugin):
    first, second = make_gateway(plugin), make_gateway(plugin)
    internal = make_internal(plugin, {"a": first, "b": second})
    internal.start()
    try:
        files = data.cd_images()
        waiting = send(second, files[:3])
        second.stop()                       # gateway b goes down with an upload waiting
        flowing = send(first, files[3:6])
        wait_for_upload(internal, flowing.id, "complete")   # a keeps flowing meanwhile
        status = {g["name"]: g for g in internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]}
        assert status["b"]["failures"] >= 1 and status["a"]["delivered"] >= 1
        second.start()                      # b comes back: it catches up
        wait_for_upload(internal, waiting.id, "complete", timeout=120)
        wait_for_upload(second, waiting.id, "delivered")
        assert len(internal.instances_of_upload(waiting.id)) == 3
    finally:
        for s in (internal, first, second):
            s.stop()
            s.cleanup()


def test_a_tampered_staged_item_is_never_acknowledged(plugin):
    gateway = make_gateway(plugin)
    # Stopped while the upload is received, so that the file can be tampered with before the
    # pull; started afterwards.
    internal = make_internal(plugin, {"dmz": gateway})
    try:
        upload = send(gateway, data.cd_images()[:2])
        staging = os.path.join(gateway.storage, "inbound", "staging", upload.id)
        victim = os.path.join(staging, sorted(os.listdir(staging))[0])
        with open(victim, "r+b") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last[0] ^ 0xFF]))
        internal.start()
        deadline = time.monotonic() + 30
        held = []
        while time.monotonic() < deadline and not held:
            held = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]["held"]
            time.sleep(0.3)
        assert held == [upload.id]
        assert gateway.admin_json("GET", "/inbound/admin/uploads/%s" % upload.id)["state"] == "complete"
        assert sorted(os.listdir(staging))  # the originals stay in the DMZ
        inside = internal.admin("GET", "/inbound/admin/uploads/%s" % upload.id)
        assert inside.status_code == 404 or inside.json()["state"] == "open"  # never complete
        audit = internal.admin_json("GET", "/inbound/admin/audit", params={"limit": 1000})
        assert any(e["event"] == "alert-upload-held" and e["uploadId"] == upload.id
                   for e in audit["events"])
    finally:
        for s in (internal, gateway):
            s.stop()
            s.cleanup()


def test_a_gateway_killed_mid_stream_loses_nothing(plugin):
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, {"dmz": gateway})
    internal.start()
    try:
        files = data.cd_images()
        uploads = []
        for i in range(4):
            uploads.append(send(gateway, files[i * 6:(i + 1) * 6]))
            if i == 1:
                gateway.kill()               # kill -9 while the inside is pulling
                gateway.start()
        for upload in uploads:
            inside = wait_for_upload(internal, upload.id, "complete", timeout=120)
            assert inside["files"] == 6
            assert len(internal.instances_of_upload(upload.id)) == 6
            wait_for_upload(gateway, upload.id, "delivered", timeout=60)
    finally:
        for s in (internal, gateway):
            s.stop()
            s.cleanup()


def test_the_shipped_samples_work_together(plugin):
    gateway = SampleServer(plugin, "Gateway.json")
    gateway.start()
    # The test machine is not the hospital: the gateway is reached without nginx (plain
    # HTTP on loopback), and the inside's Orthanc answers loopback only and has no DICOM port.
    internal = SampleServer(plugin, "Internal.json", settings={
        "OrthancPeers.dmz.Url": gateway.url + "/", "RemoteAccessAllowed": False,
        "DicomServerEnabled": False})
    try:
        internal.start()
        upload = send(gateway, data.cd_images()[:2])
        inside = wait_for_upload(internal, upload.id, "complete")
        assert inside["files"] == 2
        wait_for_upload(gateway, upload.id, "delivered")
    finally:
        for s in (internal, gateway):
            s.stop()
            s.cleanup()


@pytest.mark.parametrize("victim", ["internal", "gateway"])
def test_kill_9_at_many_points_of_a_stream(plugin, victim):
    """A stream of uploads while one side is killed again and again (mid-item, between store
    and acknowledgement, during the acknowledgement, wherever the moment falls): afterwards
    every upload is inside exactly once, and delivered on the gateway."""
    import random
    import threading
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, {"dmz": gateway})
    internal.start()
    files = data.cd_images()
    uploads, errors = [], []
    sending_done = threading.Event()

    def sender():
        try:
            for i in range(12):
                time.sleep(0.15)
                for attempt in range(30):       # the gateway may be down for a moment
                    try:
                        start = (i * 4) % (len(files) - 4)
                        uploads.append(send(gateway, files[start:start + 4]))
                        break
                    except (requests.RequestException, AssertionError):
                        time.sleep(0.3)
                else:
                    errors.append("upload %d could not be sent" % i)
        finally:
            sending_done.set()

    try:
        server = internal if victim == "internal" else gateway
        rng = random.Random(20261123)
        thread = threading.Thread(target=sender)
        thread.start()
        kills = 0
        while kills < 5:  # during the stream, and while the last uploads are being pulled
            time.sleep(rng.uniform(0.05, 0.5))
            server.kill()
            server.start()
            kills += 1
        thread.join(120)
        assert sending_done.is_set() and not errors, errors
        assert len(uploads) == 12
        for upload in uploads:
            inside = wait_for_upload(internal, upload.id, "complete", timeout=120)
            assert inside["files"] == 4
            assert len(internal.instances_of_upload(upload.id)) == 4  # exactly once
            wait_for_upload(gateway, upload.id, "delivered", timeout=60)
    finally:
        for s in (internal, gateway):
            s.stop()
            s.cleanup()
