"""Automatic reconciliation (doc/Reconciliation.md): a request link's forwardTo or an AutoForward
rule with "Reconcile" sends by itself only with exactly one hospital patient above
AutoThreshold, else it waits for a person."""

import re
import time

import pytest

import reconcile_support as rs

ZOE = {"id": "H1008", "name": "Łukasiewicz^Zoë", "birthDate": "19850707"}
JANE = {"id": "H1003", "name": "DOE^JANE", "birthDate": "19700303"}


@pytest.fixture(scope="module")
def site(plugin, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("reconcile-auto"))
    yield from rs.running(plugin, folder, TimeoutSeconds=3, inbound={"AutoForward": [
        {"Recipient": "trauma", "Modality": "store", "PatientID": "Namespaced",
         "Reconcile": True}]})


def waiting_of(server, upload_id):
    return [e for e in rs.audit_events(server, "reconcile-waiting") if e["uploadId"] == upload_id]


def assert_waits(server, env, upload_id, files, traces):
    [waiting] = rs.wait_until("reconcile-waiting", lambda: waiting_of(server, upload_id))
    assert re.fullmatch(r"[a-z0-9-]+( .*)?", waiting["detail"]), waiting  # a reason code
    for trace in traces:
        assert trace not in waiting["detail"], (trace, waiting)
    time.sleep(3)  # the forwarder has had its rounds
    assert rs.forwards(server, upload_id) == []
    assert rs.received_of(env.store, files) == {}
    assert len(waiting_of(server, upload_id)) == 1  # audited once
    return waiting


def test_a_request_with_exactly_one_candidate_is_sent_with_its_identity(site):
    server, env = site
    files = rs.make_cd("zoe")
    created, upload = rs.send_through_link(server, ZOE, files)
    done = rs.done_forward(server, upload.id)
    assert done["origin"] == "request" and done["patientId"] == "H1008", done

    for original, r in rs.arrived(env.store, files):
        # The worklist's record (the best, a hospital's, not the request's own).
        assert rs.identity(r) == ("H1008", "HOSP", "Łukasiewicz^Zoë", "19850707", "F")
        assert r.StudyDescription == "Schädel nativ"
        assert r.PixelData == original.ds.PixelData
        items = list(r.OriginalAttributesSequence)
        assert len(items) == 2 and items[1].ReasonForTheAttributeModification == "COERCE"
        assert items[1].ModifiedAttributesSequence[0].PatientID == "PRAXIS-31"
    assert server.admin_upload(upload.id)["request"]["matched"] is True
    # The request's own patient is a candidate too ("pre-matched"), below the hospital's.
    answer = rs.candidates(server, upload.id)
    assert answer["request"] == {"id": created["id"], "patientId": "H1008"}, answer["request"]
    zoe = rs.patient_of(answer, "PRAXIS-31")
    assert {c["patientId"] for c in zoe["candidates"] if c["fits"]} == {"H1008"}, zoe
    [own] = [c for c in zoe["candidates"] if c["source"] == "request"]
    assert "request-link" in own["reasons"] and own["name"] == "Łukasiewicz^Zoë", own
    assert zoe["candidates"][0]["source"] == "ris" and zoe["candidates"][0]["score"] == 95
    [auto] = [e for e in rs.audit_events(server, "auto-forward") if e["uploadId"] == upload.id]
    assert "as PatientID H1008" in auto["detail"], auto
    assert "candidate ris score 95" in auto["detail"], auto
    assert waiting_of(server, upload.id) == []


def test_a_request_with_two_candidates_waits_for_a_person(site):
    server, env = site
    files = rs.make_cd("doe", per_patient=1)
    created, upload = rs.send_through_link(server, JANE, files)
    # H1003 (100) and H1004 JANE^DOE (85): both above AutoThreshold.
    assert_waits(server, env, upload.id, files, ("DOE", "JANE", "19700303", "H1003", "H1004"))
    assert server.admin_upload(upload.id)["request"]["matched"] is True
    # A person releases it after checking.
    rs.release(server, upload.id, {"modality": "store", "patient": dict(JANE, sex="F")})
    [r] = rs.wait_received(env.store, files).values()
    assert r.PatientID == "H1003"


def test_a_reconciling_rule_without_a_request_waits(site):
    server, env = site
    files = rs.make_cd("zoe", per_patient=1)
    upload = rs.send(server, files, recipient="trauma")
    assert_waits(server, env, upload.id, files, ("Lukasiewicz", "19850707", "H1008"))
    # An upload for a recipient without a rule: nothing, not even waiting.
    other = rs.send(server, rs.make_cd("zoe", per_patient=1))
    time.sleep(2)
    assert waiting_of(server, other.id) == [] and rs.forwards(server, other.id) == []
