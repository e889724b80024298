"""A gateway's outbox: only configured pullers, from their networks, see completed uploads,
their manifests and the exact staged bytes; nothing is deleted before every item is
acknowledged."""

import os
import threading
import time

import pytest
import requests

import data
import harness
from harness import Upload, sha256

PULLER = ("inside", "a-long-random-secret-for-tests")
PULLER_NETWORK = "10.1.2.3"   # the internal Orthanc, as the trusted proxy names it
INTERNET = "203.0.113.7"


@pytest.fixture(scope="module")
def gateway(plugin):
    s = harness.OrthancServer(plugin, inbound={
        "Role": "Gateway", "TrustedProxies": ["127.0.0.1"],
        "Pullers": [{"Username": PULLER[0], "Password": PULLER[1],
                     "Networks": ["10.1.0.0/16"]}]})
    s.start()
    yield s
    s.stop()
    s.cleanup()


def peer(server, method, path, address=PULLER_NETWORK, auth=PULLER, **kwargs):
    headers = kwargs.pop("headers", {})
    headers["X-Forwarded-For"] = address
    return requests.request(method, server.url + path, auth=auth, headers=headers,
                            timeout=90, **kwargs)


def staged(server, upload_id):
    folder = os.path.join(server.storage, "inbound", "staging", upload_id)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def send_cd(server, files):
    upload = Upload.open(server)
    for path in files:
        with open(path, "rb") as f:
            assert upload.put(f.read()).status_code == 201
    upload.complete_ok()
    return upload


def test_a_complete_upload_is_pulled_byte_for_byte_then_forgotten(gateway):
    files = data.cd_images()[:6]
    upload = send_cd(gateway, files)
    originals = {}
    for path in files:
        with open(path, "rb") as f:
            content = f.read()
        originals[sha256(content)] = content

    listing = peer(gateway, "GET", "/inbound/peer/outbox")
    assert listing.status_code == 200, listing.text
    waiting = [u for u in listing.json()["uploads"] if u["id"] == upload.id]
    assert waiting and waiting[0]["files"] == len(files)

    manifest = peer(gateway, "GET", "/inbound/peer/outbox/%s" % upload.id).json()
    # Sealed for the Internal (harness.SealingKeys): empty in place, whole once opened.
    assert manifest["sender"]["email"] == ""
    assert harness.SealingKeys.open_fields(manifest)["sender"] == harness.sender()
    assert manifest["recipient"]["id"] == "neuroradiology"
    assert "@hospital.example" not in str(manifest)
    assert {i["sha256"] for i in manifest["items"]} == set(originals)

    for item in manifest["items"]:
        r = peer(gateway, "GET", "/inbound/peer/outbox/%s/items/%s" % (upload.id, item["sha256"]))
        assert r.status_code == 200
        # Exactly as the sender sent it, once opened.
        assert harness.SealingKeys.open_item(upload.id, item["sha256"], r.content) == \
            originals[item["sha256"]]

    partial = peer(gateway, "POST", "/inbound/peer/outbox/%s/ack" % upload.id,
                   json={"items": list(originals)[:-1]})
    assert partial.status_code == 409 and partial.json()["error"] == "incomplete-ack"
    assert len(staged(gateway, upload.id)) == len(files)  # nothing deleted yet

    ack = peer(gateway, "POST", "/inbound/peer/outbox/%s/ack" % upload.id,
               json={"items": list(originals)})
    assert ack.status_code == 200 and ack.json()["state"] == "delivered"
    assert staged(gateway, upload.id) == []
    again = peer(gateway, "POST", "/inbound/peer/outbox/%s/ack" % upload.id,
                 json={"items": list(originals)})
    assert again.status_code == 200  # harmless
    assert upload.status().json()["state"] == "delivered"
    listing = peer(gateway, "GET", "/inbound/peer/outbox").json()
    assert upload.id not in [u["id"] for u in listing["uploads"]]
    assert gateway.count_instances() == 0  # nothing ever stored in the DMZ's Orthanc


def test_the_long_poll_returns_as_soon_as_an_upload_completes(gateway):
    # Drain what other tests left.
    for u in peer(gateway, "GET", "/inbound/peer/outbox").json()["uploads"]:
        items = [i["sha256"] for i in
                 peer(gateway, "GET", "/inbound/peer/outbox/%s" % u["id"]).json()["items"]]
        peer(gateway, "POST", "/inbound/peer/outbox/%s/ack" % u["id"], json={"items": items})

    result = {}

    def poll():
        started = time.monotonic()
        r = peer(gateway, "GET", "/inbound/peer/outbox", params={"wait": 30})
        result["seconds"] = time.monotonic() - started
        result["uploads"] = r.json()["uploads"]

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(1.5)
    upload = send_cd(gateway, data.cd_images()[:1])
    completed = time.monotonic()
    thread.join(40)
    assert [u["id"] for u in result["uploads"]] == [upload.id]
    assert 1.0 < result["seconds"] < 30, result  # held, then answered
    assert time.monotonic() - completed < 2.0


def test_only_pullers_from_their_networks_reach_the_outbox(gateway):
    upload = send_cd(gateway, data.cd_images()[:1])
    cases = [
        ("no credentials", PULLER_NETWORK, None),
        ("wrong password", PULLER_NETWORK, (PULLER[0], "wrong-password-of-some-length")),
        ("the admin", PULLER_NETWORK, harness.ADMIN),
        ("right credentials, public address", INTERNET, PULLER),
    ]
    for name, address, auth in cases:
        for path in ("/inbound/peer/outbox", "/inbound/peer/outbox/%s" % upload.id):
            r = peer(gateway, "GET", path, address=address, auth=auth)
            assert r.status_code == 403, (name, path, r.status_code)
        r = peer(gateway, "POST", "/inbound/peer/outbox/%s/ack" % upload.id, address=address,
                 auth=auth, json={"items": []})
        assert r.status_code == 403, name
    assert len(staged(gateway, upload.id)) == 1  # still there


def test_a_standalone_server_has_no_outbox(server):
    r = requests.get(server.url + "/inbound/peer/outbox", auth=PULLER, timeout=10)
    assert r.status_code == 403
