"""Red team of the partner label a gateway puts in its manifests (doc/Security.md "Partner sites",
a compromised gateway): inside, "partner" is a label only. A label that is not a partner id is
held; a well-formed one grants nothing (recipient, limits and the public rules stay as for any
upload); on a sealed upload the gateway cannot relabel what a browser sent as a partner's."""

import json

import pytest

import data
import harness
from fake_gateway import FakeGateway, wait_until

MAX_FILES = 2   # Inbound.Upload.MaxFilesPerUpload of the Internal


def dicom(index):
    return data.make_dicom(patient_id="RT-GW-%d" % index,
                           study_uid="1.2.826.0.1.3680043.8.498.91%d" % index)


def setter(**values):
    def forge(manifest):
        manifest.update(values)
    return forge


@pytest.fixture
def inside(plugin):
    """(fake gateway, Internal pulling from it)."""
    gateway = FakeGateway()
    internal = harness.OrthancServer(
        plugin, inbound={"Role": "Internal", "Gateways": ["dmz"],
                         "Upload": {"MaxFilesPerUpload": MAX_FILES}},
        orthanc=gateway.peer_settings())
    try:
        internal.start()
        yield gateway, internal
    finally:
        internal.stop()
        internal.cleanup()
        gateway.stop()


def held(internal):
    state = internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]
    return {h["id"]: h["reason"] for h in state["heldUploads"]}


def sender_metadata(internal, upload_id):
    """The InboundSender metadata of the upload's studies (one JSON per study)."""
    studies = {i["ParentSeries"] for i in internal.instances_of_upload(upload_id).values()}
    found = []
    for series in studies:
        study = internal.admin_json("GET", "/series/%s" % series)["ParentStudy"]
        found.append(json.loads(internal.metadata("studies", study, "InboundSender")))
    assert found, "upload %s stored nothing" % upload_id
    return found


BAD_LABELS = ["Clinic-A", "../clinic-a", "a" * 33, 7, {"id": "clinic-a"}, "", ["clinic-a"],
              "clinic a", "cl\u00ednica", "clinic-a\n", True]


def test_a_label_that_is_not_a_partner_id_is_held(inside):
    gateway, internal = inside
    ids = {gateway.add([dicom(i)], forge=setter(partner=label)): label
           for i, label in enumerate(BAD_LABELS)}
    wait_until(lambda: len(held(internal)) >= len(ids), 60, "every forged label to be held")
    reasons = held(internal)
    for upload_id, label in ids.items():
        assert "partner" in reasons.get(upload_id, ""), (label, reasons.get(upload_id))
    assert gateway.acknowledged == []
    assert internal.admin_json("GET", "/instances") == []


def test_a_well_formed_label_grants_nothing(inside):
    gateway, internal = inside
    labelled = setter(partner="clinic-a")
    unknown_recipient = gateway.add([dicom(20)], forge=lambda m: m.update(
        partner="clinic-a", recipient={"id": "not-a-recipient", "name": "X"}))
    too_many = gateway.add([dicom(21), dicom(22), dicom(23)], forge=labelled)
    bad_name = gateway.add([dicom(24)], forge=lambda m: m.update(
        partner="clinic-a", sender=dict(m["sender"], name="Dr. X\r\nBcc: all@hospital.example")))
    honest = gateway.add([dicom(25)], forge=labelled)
    wait_until(lambda: len(held(internal)) >= 3 and honest in gateway.acknowledged, 60,
               "the labelled uploads to be held or pulled")
    reasons = held(internal)
    assert "recipient" in reasons[unknown_recipient], reasons
    assert "MaxFilesPerUpload" in reasons[too_many], reasons
    assert "sender.name" in reasons[bad_name], reasons
    assert set(gateway.acknowledged) == {honest}
    # Stored as any pulled upload: isolated under its own PatientID, its sender as sent.
    (metadata,) = sender_metadata(internal, honest)
    assert metadata["sender"]["name"] == harness.sender()["name"], metadata
    assert len(internal.admin_json("GET", "/instances")) == 1


def test_a_gateway_cannot_relabel_a_sealed_browser_upload_as_a_partners(inside):
    """With sealing, what the sender typed is sealed for the inside; a label the gateway adds
    next to it must not make the inside believe (and mail, and record) that a partner site sent
    it automatically: that would lend a stranger's upload a partner's trust."""
    gateway, internal = inside
    pem = internal.admin_json("GET", "/inbound/admin/sealing")["publicKey"]
    relabelled = gateway.add([dicom(30)], seal=pem, forge=setter(partner="clinic-a"))
    wait_until(lambda: relabelled in held(internal) or relabelled in gateway.acknowledged, 60,
               "the relabelled upload to be held or pulled")
    if relabelled in gateway.acknowledged:
        for metadata in sender_metadata(internal, relabelled):
            assert not metadata.get("partner") and not metadata["sender"].get("partner"), metadata
    else:
        assert "partner" in held(internal)[relabelled]
        assert internal.admin_json("GET", "/instances") == []
