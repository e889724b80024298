"""Red-team attacks of a compromised gateway on the pull of big items in pieces (doc/Api.md,
"Peer routes"): pieces too long or too short, swapped, replayed from another item or upload,
plain when sealed, sealed for another count, manifests with absurd "partBytes", answers that
never end. Every such upload is held, never acknowledged, nothing of it is stored, no
temporary file stays in the Internal's pulls folder, and the Internal lives on and stores the
honest uploads of the same gateway."""

import os

import pytest

import data
import harness
import sealing
from fake_gateway import FakeGateway, wait_until
from gateway_support import audit
from redteam_parts_support import PART

PIECES = 3  # each file here is 2.3 MiB: pieces of 1 MiB


def internal_for(plugin, gateway, **upload):
    return harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                         "Upload": dict({"PartBytes": PART}, **upload)},
        orthanc=gateway.peer_settings())


def gateway_state(internal):
    return internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]


def big(index):
    payload = data.make_dicom(patient_id="PIECES-%d" % index, rows=1024, columns=1200)
    assert 2 * PART < len(payload) < 3 * PART
    return payload


def pulls_folder(internal):
    return os.path.join(internal.storage, "inbound", "pulls")


def left_in_pulls(internal):
    found = []
    for folder, _, names in os.walk(pulls_folder(internal)):
        found.extend(os.path.join(folder, n) for n in names)
    return found


def endless(handler):
    """A 200 without a length that never ends."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.end_headers()
    try:
        while True:
            handler.wfile.write(b"\0" * 65536)
    except OSError:
        pass


def changed(envelope):
    return envelope[:200] + bytes([envelope[200] ^ 1]) + envelope[201:]


def forge_part_bytes(value):
    def forge(manifest):
        manifest["items"][0]["partBytes"] = value
    return forge


# What the reason of each held upload names.
RULES = {
    "a piece one byte longer": "is larger than",
    "an answer that never ends": "is larger than",
    "a piece one byte shorter": "bytes, not",
    "plain bytes instead of envelopes": "bytes, not",
    "a piece changed": "does not open",
    "pieces swapped": "does not open",
    "a piece served twice": "does not open",
    "pieces of another upload": "does not open",
    "a piece sealed for another count": "does not open",
    "a redirect": "HTTP status 302",
}


def sealed_cases(gateway, pem):
    """name -> upload id, each a forgery of a sealed big item."""
    other = {}  # pieces of an honest upload, replayed elsewhere

    def replay_other_upload(sha256, n, honest):
        return other["pieces"][n]

    cases = {
        "a piece one byte longer": dict(serve_piece=lambda s, n, e: e + b"\0"),
        "a piece one byte shorter": dict(serve_piece=lambda s, n, e: e[:-1]),
        "a piece changed": dict(serve_piece=lambda s, n, e: changed(e) if n == 1 else e),
        "pieces swapped": dict(serve_piece=lambda s, n, e: None),  # set below
        "a piece served twice": dict(serve_piece=None),             # set below
        "pieces of another upload": dict(serve_piece=replay_other_upload),
        "plain bytes instead of envelopes": dict(serve_piece=None),  # set below
        "an answer that never ends": dict(serve_piece=lambda s, n, e: endless if n == 1 else e),
        "a piece sealed for another count": dict(serve_piece=None),  # set below
        "a redirect": dict(serve_piece=lambda s, n, e: (
            302, b"", "text/plain",
            {"Location": "http://127.0.0.1:%d/tools/reset" % gateway.port})),
    }
    ids = {}
    files = {}
    for i, name in enumerate(sorted(cases)):
        files[name] = big(i)
    for i, name in enumerate(sorted(cases)):
        kwargs = cases[name]
        if name == "pieces swapped":
            def swapped(s, n, e, name=name):
                pieces = gateway.uploads[ids[name]]["pieces"][s]
                return pieces[1 - n] if n < 2 else e
            kwargs = dict(serve_piece=swapped)
        elif name == "a piece served twice":
            def twice(s, n, e, name=name):
                return gateway.uploads[ids[name]]["pieces"][s][0]
            kwargs = dict(serve_piece=twice)
        elif name == "a piece sealed for another count":
            payload = files[name]

            def recounted(s, n, e, payload=payload, name=name):
                # The file cut after its second piece, sealed as a file of 2 pieces.
                return sealing.seal_envelope(pem, payload[n * PART:(n + 1) * PART],
                                             "item:%s:%s:%d/2" % (ids[name], s, n))
            kwargs = dict(serve_piece=recounted)
        elif name == "plain bytes instead of envelopes":
            payload = files[name]

            def plain(s, n, e, payload=payload):
                return payload[n * PART:(n + 1) * PART]
            kwargs = dict(serve_piece=plain)
        ids[name] = gateway.add([files[name]], seal=pem, part_bytes=PART, **kwargs)
    honest_other = gateway.add([big(40)], seal=pem, part_bytes=PART)
    other["pieces"] = list(gateway.uploads[honest_other]["pieces"].values())[0]
    return ids, honest_other


def test_forged_pieces_of_sealed_items_are_held(plugin):
    gateway = FakeGateway()
    internal = internal_for(plugin, gateway)
    try:
        internal.start()
        pem = internal.admin_json("GET", "/inbound/admin/sealing")["publicKey"]
        ids, honest_other = sealed_cases(gateway, pem)
        clean_file = big(41)
        clean = gateway.add([clean_file], seal=pem, part_bytes=PART)
        wait_until(lambda: set(ids.values()) <= set(gateway_state(internal)["held"]) and
                   clean in gateway.acknowledged, 180, "every forged upload to be held")
        held = {h["id"]: h["reason"] for h in gateway_state(internal)["heldUploads"]}
        for name, upload_id in ids.items():
            assert upload_id in held, (name, held)
            assert RULES[name] in held[upload_id], (name, held[upload_id])
            assert upload_id not in gateway.acknowledged, name
        # Nothing of them inside; the honest uploads byte for byte.
        assert set(gateway.acknowledged) == {clean, honest_other}
        # ... fetched in pieces, as listed.
        assert gateway.count("GET", "/inbound/peer/outbox/%s/items/%s/parts/" % (
            clean, harness.sha256(clean_file))) == PIECES
        (instance,) = internal.instances_of_upload(clean).values()
        assert internal.metadata("instances", instance["ID"], "InboundSha256") == \
            harness.sha256(clean_file)
        for upload_id in ids.values():
            assert internal.instances_of_upload(upload_id) == {}
        assert gateway.count("GET", "/tools") == 0
        assert left_in_pulls(internal) == [], "temporary files left behind"
        assert internal.running()
        assert internal.request("GET", "/system", auth=harness.ADMIN).status_code == 200
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


PART_BYTES = {
    "partBytes 1 (millions of pieces)": 1,
    "partBytes below 1 MiB": PART - 1,
    "partBytes above 1 GiB": (1 << 30) + 1,
    "partBytes not below the size": 4 * PART,
    "partBytes negative": -PART,
    "partBytes a string": "1048576",
    "partBytes a fraction": 1048576.5,
}


def test_absurd_part_bytes_in_a_manifest_are_held(plugin):
    gateway = FakeGateway()
    internal = internal_for(plugin, gateway, MaxFileBytes=2048 * PART,
                            MaxBytesPerUpload=2048 * PART)
    try:
        ids = {name: gateway.add([big(60 + i)], part_bytes=PART,
                                 forge=forge_part_bytes(value))
               for i, (name, value) in enumerate(sorted(PART_BYTES.items()))}
        # Pieces above the whole-body bound (512 MiB): each would be held whole in memory.
        ids["partBytes above 512 MiB"] = gateway.add(
            [big(72)], part_bytes=PART,
            forge=lambda m: m["items"][0].update(size=1024 * PART, partBytes=513 * PART))
        # A plain item above 512 MiB "served whole": refused from the manifest, unfetched.
        ids["an item of 600 MiB served whole"] = gateway.add(
            [big(70)], forge=lambda m: m["items"][0].update(size=600 * PART))
        clean = gateway.add([big(71)], part_bytes=PART)
        internal.start()
        wait_until(lambda: set(ids.values()) <= set(gateway_state(internal)["held"]) and
                   clean in gateway.acknowledged, 120, "every forged upload to be held")
        held = {h["id"]: h["reason"] for h in gateway_state(internal)["heldUploads"]}
        for name, upload_id in ids.items():
            assert "partBytes" in held[upload_id] or "size" in held[upload_id], (name, held)
            assert internal.instances_of_upload(upload_id) == {}
        # None of their pieces was asked for.
        for upload_id in ids.values():
            assert gateway.count("GET", "/inbound/peer/outbox/%s/items/" % upload_id) == 0
        assert set(gateway.acknowledged) == {clean}
        assert left_in_pulls(internal) == []
        events = [e for e in audit(internal) if e["event"] == "alert-upload-held"]
        assert len(events) >= len(ids)
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


@pytest.mark.parametrize("lie", ["one piece another file", "a piece longer, cut"])
def test_plain_pieces_of_another_file_are_held_after_the_attempts(plugin, lie):
    gateway = FakeGateway()
    internal = internal_for(plugin, gateway)
    try:
        if lie == "one piece another file":
            serve = lambda s, n, honest: os.urandom(len(honest)) if n == 2 else honest  # noqa
        else:
            serve = lambda s, n, honest: honest + b"\x7f" * 4096  # noqa: E731
        forged = gateway.add([big(80)], part_bytes=PART, serve_piece=serve)
        clean = gateway.add([big(81)], part_bytes=PART)
        internal.start()
        wait_until(lambda: forged in gateway_state(internal)["held"] and
                   clean in gateway.acknowledged, 120, "the forged upload to be held")
        assert forged not in gateway.acknowledged
        assert internal.instances_of_upload(forged) == {}
        assert left_in_pulls(internal) == []
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


def test_an_internal_killed_in_the_middle_of_a_pull_starts_the_item_again(plugin):
    """kill -9 while pieces are being gathered: the temporary file of plain text is gone after
    the restart, and the item is fetched again from its first piece and stored once."""
    import threading
    import time
    gateway = FakeGateway()
    internal = internal_for(plugin, gateway)
    release = threading.Event()

    def stalled(s, n, honest):
        if n < 2 or release.is_set():
            return honest

        def write(handler):
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(len(honest)))
            handler.end_headers()
            handler.wfile.write(honest[:1000])
            release.wait(60)
        return write
    payload = big(90)
    upload_id = gateway.add([payload], part_bytes=PART, serve_piece=stalled)
    sha256 = harness.sha256(payload)
    try:
        internal.start()
        temporary = os.path.join(pulls_folder(internal), upload_id, sha256 + ".tmp")
        wait_until(lambda: os.path.exists(temporary) and os.path.getsize(temporary) >= 2 * PART,
                   60, "two pieces gathered")
        internal.kill()
        release.set()
        internal.start()
        wait_until(lambda: upload_id in gateway.acknowledged, 60, "the item pulled again")
        (instance,) = internal.instances_of_upload(upload_id).values()
        assert internal.metadata("instances", instance["ID"], "InboundSha256") == sha256
        assert gateway.count("GET", "/inbound/peer/outbox/%s/items/%s/parts/0" % (
            upload_id, sha256)) == 2
        time.sleep(0.5)
        assert left_in_pulls(internal) == []
    finally:
        release.set()
        internal.stop()
        internal.cleanup()
        gateway.stop()
