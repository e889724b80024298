"""The inside trusts a gateway no more than the Internet (issue 14): a compromised gateway's
forged manifests, lying answers, instant answers and a file on which the Internal dies are
held, never acknowledged, never stored; the admins are alerted, the gateway is asked less
often, the Internal lives on, and an admin releases a held upload by a route."""

import base64
import threading
import time

import pytest

import data
import harness
import hostile_dicom
import sealing
from fake_gateway import FakeGateway, new_id, seal_manifest, wait_until
from gateway_support import audit

MAX_FILES = 3   # Inbound.Upload.MaxFilesPerUpload of the Internal here


def internal_for(plugin, gateway):
    return harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                         "Upload": {"MaxFilesPerUpload": MAX_FILES}},
        orthanc=gateway.peer_settings())


def gateway_state(internal):
    return internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]


def patients(internal):
    r = internal.request("GET", "/patients", auth=harness.ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def assert_alive(internal):
    assert internal.running(), "Orthanc died\n" + internal.log_tail()
    assert internal.request("GET", "/system", auth=harness.ADMIN).status_code == 200


def dicom(index):
    return data.make_dicom(patient_id="MAL-%d" % index, study_uid="1.2.826.0.1.3680043.8.498.7%d" % index)


def same_size_other_bytes(sha256, payload):
    return payload[:-1] + bytes([payload[-1] ^ 1])


def setter(path, value):
    def forge(manifest):
        target = manifest
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return forge


def four_items(manifest):
    manifest["items"] = manifest["items"] + [
        {"sha256": c * 64, "size": 100} for c in "abc"]


def duplicate_item(manifest):
    manifest["items"] = manifest["items"] * 2


def larger_size(manifest):
    manifest["items"][0]["size"] += 10


# name -> (keyword arguments of FakeGateway.add, the rule the alert names)
FORGED = {
    "id not in the public format": (dict(upload_id="../../tools/rst"), "is not an upload id"),
    "id of another upload": (dict(forge=setter(["id"], new_id())), "not the id listed"),
    "client not an address": (dict(forge=setter(["client", "ip"], "not-an-ip")), "client.ip"),
    "made-up receipt code": (dict(forge=setter(["receiptCode"], "MADE-UP-1")), "receiptCode"),
    "control characters in the sender's name": (
        dict(forge=setter(["sender", "name"], "Dr. X\r\nBcc: all@hospital.example")),
        "sender.name"),
    "consent not accepted": (dict(forge=setter(["consent", "accepted"], False)),
                             "consent-required"),
    "created in the future": (dict(forge=setter(["createdAt"], "2099-01-01T00:00:00Z")),
                              "future"),
    "more files than allowed": (dict(forge=four_items), "MaxFilesPerUpload"),
    "an item listed twice": (dict(forge=duplicate_item), "listed twice"),
    "outbox counts that lie": (dict(listing={"files": 9}), "announced"),
    "a manifest that is not JSON": (dict(forge=lambda m: b"<html>welcome</html>"),
                                    "not a JSON object"),
    "a manifest size larger than the file": (dict(forge=larger_size), "size-mismatch"),
    "an item answer larger than its size": (
        dict(serve=lambda sha256, payload: payload + b"\0" * (2 * 1024 * 1024)), "larger than"),
    "a hash mismatch": (dict(serve=same_size_other_bytes), "differed from the manifest"),
}


def test_forged_manifests_and_lying_answers_are_held(plugin):
    gateway = FakeGateway()
    internal = internal_for(plugin, gateway)
    ids = {name: gateway.add([dicom(i)], **kwargs)
           for i, (name, (kwargs, _)) in enumerate(sorted(FORGED.items()))}
    # A redirect to an inside URL instead of an item: never followed.
    ids["a redirect"] = gateway.add(
        [dicom(99)], serve=lambda sha256, payload: (
            302, b"", "text/plain",
            {"Location": "http://127.0.0.1:%d/tools/reset" % gateway.port}))
    rules = {name: rule for name, (_, rule) in FORGED.items()}
    rules["a redirect"] = "HTTP status 302"
    try:
        internal.start()
        wait_until(lambda: len(gateway_state(internal)["held"]) >= len(ids), 60,
                   "every forged upload to be held")
        state = gateway_state(internal)
        events = audit(internal)
        held_alerts = [e for e in events if e["event"] == "alert-upload-held"]
        for name, upload_id in ids.items():
            matching = [e for e in held_alerts if rules[name] in e["detail"]]
            assert matching, "%s: no alert naming %r in %s" % (
                name, rules[name], [e["detail"] for e in held_alerts])
            assert all('gateway "dmz"' in e["detail"] for e in matching), name
            if name != "id not in the public format":
                assert upload_id in state["held"], name
                assert any(e["uploadId"] == upload_id for e in matching), name
                # No ledger row half-made, or one still open with nothing in it.
                inside = internal.admin("GET", "/inbound/admin/uploads/%s" % upload_id)
                assert inside.status_code == 404 or inside.json()["state"] == "open", name
        # Every held upload says why and how to release it.
        for held in state["heldUploads"]:
            assert held["reason"] and held["release"].startswith(
                "POST /inbound/admin/gateways/dmz/held/"), held
            assert "/" not in held["id"], held
        # One alert about the gateway, however many uploads it forged.
        misbehaving = [e for e in events if e["event"] == "alert-gateway-misbehaving"]
        assert len(misbehaving) == 1, misbehaving
        assert misbehaving[0]["ip"] == "dmz"
        assert state["badData"]["count"] >= len(ids)
        assert state["processing"] == []
        # Nothing acknowledged, nothing stored, and the redirect was not followed.
        assert gateway.acknowledged == []
        assert patients(internal) == []
        assert gateway.count("GET", "/tools") == 0
        assert_alive(internal)

        # Held uploads are not asked for again, not even after a restart.
        manifests = gateway.count("GET", "/inbound/peer/outbox/")
        internal.restart()
        time.sleep(3)
        assert gateway.count("GET", "/inbound/peer/outbox/") == manifests
        assert set(gateway_state(internal)["held"]) == set(state["held"])
        assert len([e for e in audit(internal) if e["event"] == "alert-upload-held"]) == \
            len(held_alerts)
        assert gateway.acknowledged == [] and patients(internal) == []
        assert_alive(internal)
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


def flip_sealed_fields(manifest):
    envelope = bytearray(base64.b64decode(manifest["sealedFields"]))
    envelope[len(envelope) // 2] ^= 1
    manifest["sealedFields"] = base64.b64encode(bytes(envelope)).decode()


def sealed_cases(internal_pem, stranger_pem):
    """name -> (keyword arguments of FakeGateway.add, the rule the alert names): what a
    compromised gateway can do to a sealed upload (doc/Security.md, "Sealed staging")."""
    internal_id = sealing.key_id(internal_pem)

    def plain_item(sha256, envelope):
        return dicom(40)

    def fields(change):
        def apply(typed):
            change(typed)
        return apply

    return {
        "sealed fields changed": (dict(forge=flip_sealed_fields),
                                  'sealed for key %s does not open' % internal_id),
        "sealed fields of another upload": (
            dict(forge=lambda m: seal_manifest(m, internal_pem, context="fields:" + new_id())),
            '"sealedFields" does not open'),
        "sealed fields for an unknown key": (
            dict(forge=lambda m: seal_manifest(m, stranger_pem)),
            'sealed for key %s does not open' % sealing.key_id(stranger_pem)),
        "a key id that is not the envelope's": (
            dict(forge=lambda m: m["sealing"].update(keyId="0123456789abcdef")),
            '"sealing.keyId" names key 0123456789abcdef'),
        "the sender also in plain": (dict(forge=lambda m: m.update(sender=harness.sender())),
                                     '"sender" must be empty'),
        "control characters in the sealed name": (
            dict(fields=fields(lambda t: t["sender"].update(name="Dr. X\r\nBcc: all@h.example"))),
            "sender.name"),
        "no e-mail in the sealed sender": (
            dict(fields=fields(lambda t: t["sender"].pop("email"))), "sender.email"),
        "sealed fields that are not JSON": (dict(fields=lambda t: b"<html>hello</html>"),
                                            "does not hold a JSON object"),
        "an item that is no envelope": (dict(serve=plain_item), "is not an envelope"),
        "an item envelope changed": (
            dict(serve=lambda sha256, e: e[:100] + bytes([e[100] ^ 1]) + e[101:]),
            'sealed for key %s does not open' % internal_id),
        "an item envelope one byte longer": (dict(serve=lambda sha256, e: e + b"\0"),
                                             "larger than"),
    }


def test_forged_sealed_uploads_are_held(plugin):
    """A sealed manifest whose fields do not open, or break the public rules once opened, and
    sealed items that do not open: held like any bad manifest, never acknowledged or stored."""
    gateway = FakeGateway()
    internal = internal_for(plugin, gateway)
    try:
        internal.start()
        internal_pem = internal.admin_json("GET", "/inbound/admin/sealing")["publicKey"]
        stranger_pem = sealing.new_key_pair()[1]
        cases = sealed_cases(internal_pem, stranger_pem)
        ids = {name: gateway.add([dicom(50 + i)], seal=internal_pem, **kwargs)
               for i, (name, (kwargs, _)) in enumerate(sorted(cases.items()))}
        clean = gateway.add([dicom(90)], seal=internal_pem)   # an honest sealed upload
        wait_until(lambda: len(gateway_state(internal)["held"]) >= len(ids) and
                   clean in gateway.acknowledged, 60, "every forged upload to be held")
        held = {h["id"]: h["reason"] for h in gateway_state(internal)["heldUploads"]}
        alerts = [e for e in audit(internal) if e["event"] == "alert-upload-held"]
        for name, upload_id in ids.items():
            rule = cases[name][1]
            assert upload_id in held and rule in held[upload_id], (name, held.get(upload_id))
            assert any(e["uploadId"] == upload_id and rule in e["detail"] for e in alerts), name
            # The reason never quotes what was sealed.
            assert harness.sender()["email"] not in held[upload_id], name
        assert set(gateway.acknowledged) == {clean}
        assert len(patients(internal)) == 1        # the honest upload's, nothing else
        inside = internal.admin_json("GET", "/inbound/admin/uploads/%s" % clean)
        assert inside["sender"]["email"] == harness.sender()["email"]

        described = internal.admin_json("GET", "/inbound/admin/sealing")
        assert described["opened"] >= 2 and described["refused"] >= 2, described
        assert [k["keyId"] for k in described["unknownKeys"]] == \
            [sealing.key_id(stranger_pem)], described
        by_id = {h["id"]: h for h in described["heldUploads"]}
        assert by_id[ids["an item envelope changed"]]["keyId"] == sealing.key_id(internal_pem)
        assert by_id[ids["an item that is no envelope"]]["keyId"] is None
        assert_alive(internal)
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


def test_a_gateway_cannot_claim_another_gateways_upload(plugin):
    """Two gateways: a compromised "dmz2" names uploads that "dmz" delivered or is delivering,
    to have them acknowledged (deleted there unseen) or to add its own files to them."""
    a, b = FakeGateway(), FakeGateway()
    internal = harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz", "dmz2"],
                         "Upload": {"MaxFilesPerUpload": MAX_FILES}},
        orthanc={"OrthancPeers": dict(a.peer_settings()["OrthancPeers"],
                                      **b.peer_settings("dmz2")["OrthancPeers"])})
    release = threading.Event()

    def slowly(sha256, payload):
        release.wait(60)
        return payload

    def held_by(name):
        gateways = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"]
        return [g for g in gateways if g["name"] == name][0]["held"]

    def upload(upload_id):
        return internal.admin_json("GET", "/inbound/admin/uploads/%s" % upload_id)

    try:
        internal.start()
        # Delivered by dmz, then listed by dmz2: held there, never acknowledged to it.
        delivered = a.add([dicom(1)])
        wait_until(lambda: delivered in a.acknowledged, 30, "the delivery from dmz")
        assert upload(delivered)["gateway"] == "dmz"
        b.add([dicom(1)], upload_id=delivered)
        wait_until(lambda: delivered in held_by("dmz2"), 30, "the hold at dmz2")
        assert b.acknowledged == []
        assert b.count("GET", "/inbound/peer/outbox/%s" % delivered) == 0

        # Being pulled from dmz (its item answer waits), named by dmz2 with a file of its own.
        pending = a.add([dicom(2), dicom(3)], serve=slowly)
        wait_until(lambda: internal.admin("GET", "/inbound/admin/uploads/%s" % pending)
                   .status_code == 200, 30, "the pull from dmz to start")
        b.add([dicom(2), dicom(4)], upload_id=pending)
        wait_until(lambda: pending in held_by("dmz2"), 30, "the hold at dmz2")
        assert b.count("GET", "/inbound/peer/outbox/%s/items" % pending) == 0
        release.set()
        wait_until(lambda: pending in a.acknowledged, 60, "the delivery from dmz")
        time.sleep(2)
        for upload_id, files in ((delivered, 1), (pending, 2)):
            inside = upload(upload_id)
            assert inside["gateway"] == "dmz" and inside["files"] == files, inside
            assert inside["state"] == "complete", inside
        assert b.acknowledged == []
        assert len(patients(internal)) == 3   # MAL-1, MAL-2, MAL-3; nothing of dmz2
        assert held_by("dmz") == []

        events = audit(internal)
        held = [e for e in events if e["event"] == "alert-upload-held"]
        assert {e["uploadId"] for e in held} == {delivered, pending}, held
        assert all(e["ip"] == "dmz2" and 'came from gateway "dmz"' in e["detail"]
                   for e in held), held
        misbehaving = [e for e in events if e["event"] == "alert-gateway-misbehaving"]
        assert [e["ip"] for e in misbehaving] == ["dmz2"], misbehaving
        assert_alive(internal)
    finally:
        release.set()
        internal.stop()
        internal.cleanup()
        a.stop()
        b.stop()


def outbox_requests_within(gateway, seconds):
    start = time.monotonic()
    time.sleep(seconds)
    return gateway.count("GET", "/inbound/peer/outbox", start) - \
        gateway.count("GET", "/inbound/peer/outbox/", start)


def test_a_gateway_answering_at_once_is_asked_at_most_once_a_second(plugin):
    gateway = FakeGateway(empty_delay=0)   # no long poll: every answer at once
    internal = internal_for(plugin, gateway)
    try:
        internal.start()
        wait_until(lambda: gateway.count("GET", "/inbound/peer/outbox") >= 2, 20, "rounds")
        empty = outbox_requests_within(gateway, 5)
        assert 2 <= empty <= 6, "%d outbox requests in 5 s with an empty outbox" % empty

        # An upload that is held stays listed: still at most once a second.
        upload_id = gateway.add([dicom(1)], forge=setter(["client", "ip"], "999.1.1.1"))
        wait_until(lambda: upload_id in gateway_state(internal)["held"], 20, "the hold")
        listed = outbox_requests_within(gateway, 5)
        assert 1 <= listed <= 6, "%d outbox requests in 5 s with a held upload" % listed
        assert gateway.acknowledged == [] and patients(internal) == []
        assert any(e["event"] == "alert-gateway-misbehaving" for e in audit(internal))
        assert gateway_state(internal)["minRoundIntervalMs"] == 1000

        # A real upload is still pulled at once.
        clean = gateway.add([dicom(2)])
        wait_until(lambda: clean in gateway.acknowledged, 30, "the clean upload")
        assert len(patients(internal)) == 1
        assert_alive(internal)
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


def test_a_file_the_internal_dies_on_is_not_parsed_again(plugin):
    gateway = FakeGateway()
    internal = internal_for(plugin, gateway)
    release = threading.Event()
    fetched = []

    def counted(sha256, payload):
        fetched.append(sha256)
        return payload

    # Small on the wire, 200 MB once inflated: its checks, parse and store take long enough
    # for the marker to be seen and the Internal killed in the middle of them.
    upload_id = gateway.add([hostile_dicom.deflate_bomb(200 * 1024 * 1024)], serve=counted)
    try:
        internal.start()
        # The item in progress is recorded durably before it is parsed and stored.
        processing = wait_until(lambda: gateway_state(internal)["processing"], 30,
                                "the processing marker", interval=0.02)
        assert fetched
        assert processing[0]["uploadId"] == upload_id
        assert processing[0]["sha256"] == fetched[0]
        internal.kill()     # as if parsing the file had crashed Orthanc

        # Once may be a kill or a power cut: the next start takes the item up again...
        internal.start()
        wait_until(lambda: len(fetched) == 2 and gateway_state(internal)["processing"], 30,
                   "the item taken up again", interval=0.02)
        assert upload_id not in gateway_state(internal)["held"]
        internal.kill()     # ...and dies on it again: a file that crashes Orthanc
        release.set()

        internal.start()
        wait_until(lambda: upload_id in gateway_state(internal)["held"], 20, "the hold")
        alerts = [e for e in audit(internal) if e["event"] == "alert-upload-held" and
                  e["uploadId"] == upload_id]
        assert len(alerts) == 1 and "stopped while processing item " + fetched[0] in \
            alerts[0]["detail"], alerts
        time.sleep(3)
        assert len(fetched) == 2, "the item was fetched a third time"
        assert gateway_state(internal)["processing"] == []
        assert gateway.acknowledged == [] and patients(internal) == []
        assert_alive(internal)

        # And it stays held across a clean restart.
        internal.restart()
        time.sleep(2)
        assert upload_id in gateway_state(internal)["held"] and len(fetched) == 2

        # An admin who has looked at the file releases it: pulled again.
        r = internal.admin("POST", "/inbound/admin/gateways/dmz/held/%s/retry" % upload_id)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "released"
        r = internal.admin("POST", "/inbound/admin/gateways/dmz/held/%s/retry" % upload_id)
        assert r.status_code == 404
        assert internal.request("POST", "/inbound/admin/gateways/dmz/held/%s/retry" % upload_id
                                ).status_code in (401, 403)
        wait_until(lambda: upload_id in gateway.acknowledged, 30, "the released upload")
        assert len(fetched) == 3    # once more, after the release
        assert len(patients(internal)) == 1
        assert upload_id not in gateway_state(internal)["held"]
        assert any(e["event"] == "pull-released" and e["uploadId"] == upload_id
                   for e in audit(internal))
        assert_alive(internal)
    finally:
        release.set()
        internal.stop()
        internal.cleanup()
        gateway.stop()


@pytest.mark.parametrize("answer", ["redirect", "no content", "not json", "oversize"])
def test_a_wrong_outbox_answer_backs_the_gateway_off(plugin, answer):
    gateway = FakeGateway(empty_delay=0)
    gateway.outbox_answer = {
        "redirect": (307, b"", "text/plain",
                     {"Location": "http://127.0.0.1:%d/tools/reset" % gateway.port}),
        "no content": (204, b"", "application/json"),
        "not json": (200, b"<html>login</html>", "text/html"),
        "oversize": (200, b'{"uploads": [' + b" " * (1024 * 1024) + b"]}", "application/json"),
    }[answer]
    internal = internal_for(plugin, gateway)
    try:
        internal.start()
        wait_until(lambda: any(e["event"] == "alert-gateway-misbehaving"
                               for e in audit(internal)), 20, "the alert")
        # Growing pauses (2 s, 4 s, ...) instead of a request a second.
        asked = outbox_requests_within(gateway, 6)
        assert asked <= 3, "%d outbox requests in 6 s" % asked
        state = gateway_state(internal)
        assert state["badData"]["count"] >= 1 and state["badData"]["pauseSeconds"] >= 2, state
        assert len([e for e in audit(internal) if e["event"] == "alert-gateway-misbehaving"]) == 1
        assert gateway.count("GET", "/tools") == 0
        assert patients(internal) == []
        assert_alive(internal)
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()
