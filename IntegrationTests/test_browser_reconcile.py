"""The release dialog's "Who is this patient?" in Chromium (Browser/reconcile.test.mjs) against a
real Orthanc with the plugin, DCMTK's dcmqrscp as the PACS and wlmscpfs as the worklist
(reconcile_support.py): the CD's patient beside its candidates, each source's outcome (one
refused), the dialog usable while the sources are asked and the server's 409 asking for the
confirmation, "Use" filling the identity, a near-miss released only once confirmed, an upload
bound to a request link with the request's patient first; the releases reach a storescp PACS
with the chosen identity."""

import json

import pytest

import harness
import reconcile_support as rs
import request_links
import test_browser
from test_browser import run_browser_test

node_packages = test_browser.node_packages  # the fixture: npm ci of Browser/

REQUEST_PATIENT = {"id": "H1003", "name": "DOE^JANE", "birthDate": "19700303"}


def bound_upload(server, originals):
    """A request link for H1003, its challenge passed, the CD sent through it: the Upload."""
    answer, token = request_links.create(server, patient=dict(REQUEST_PATIENT), challenge="birthDate")
    ticket = request_links.ticket_of(server, token, "1970-03-03")
    upload = request_links.upload_of(server, request_links.open_bound(server, token, ticket))
    for o in originals:
        upload.put_ok(o.data)
    upload.complete_ok()
    return upload, answer["id"]


def studies_of(server, upload):
    return [s["orthancId"] for s in server.admin_upload(upload.id)["studies"]]


@pytest.mark.usefixtures("node_packages")
def test_who_is_this_patient_in_chromium(start_server, tmp_path):
    env = rs.Environment(str(tmp_path / "parts")).start()
    try:
        server = start_server(**env.server_kwargs(
            sources=[("pacs", "Patient"), ("ris", "Worklist"), ("down", "Patient")], TimeoutSeconds=3))
        rs.store_local_patient(server)
        doe = rs.send(server, rs.make_cd("doe"))
        mueller = rs.send(server, rs.make_cd("mueller"))
        bound, request_id = bound_upload(server, rs.make_cd("doe"))
        fixture = {
            "admin": "%s:%s" % harness.ADMIN,
            "doe": {"upload": doe.id, "studies": studies_of(server, doe)},
            "mueller": {"upload": mueller.id, "studies": studies_of(server, mueller)},
            "bound": {"upload": bound.id, "request": request_id},
            "modality": "store",
        }
        run_browser_test("reconcile.test.mjs", {
            "INBOUND_URL": server.url + "/inbound/", "INBOUND_RECONCILE_FIXTURE": json.dumps(fixture)})

        # What reached the PACS: the CD of "doe" as H1003 with the worklist's accession number,
        # the CD of "mueller" as the near-miss H1002 (confirmed); nothing as the refused H1009.
        received = env.store.wait_for(4)
        by_patient = {}
        for ds in received:
            by_patient.setdefault(str(ds.PatientID), []).append(ds)
        assert sorted(by_patient) == ["H1002", "H1003"], sorted(by_patient)
        assert len(by_patient["H1003"]) == 2 and len(by_patient["H1002"]) == 2
        for ds in by_patient["H1003"]:
            assert str(ds.PatientName) == "DOE^JANE"
            assert ds.PatientBirthDate == "19700303"
            assert ds.PatientSex == "F"
            assert ds.IssuerOfPatientID == "HOSP"
            assert ds.AccessionNumber == "A2026-001"
        for ds in by_patient["H1002"]:
            assert str(ds.PatientName) == "Müller^Jürgen"
            assert ds.PatientBirthDate == "19610202"
            assert ds.PatientSex == "M"
            assert ds.AccessionNumber == rs.CD_PATIENTS["mueller"]["accession"]  # the CD's, kept
        # Who reconciled to whom, with the candidate and the confirmation, in the audit trail.
        details = {e["uploadId"]: e["detail"] for e in rs.audit_events(server, "release-requested")}
        assert "candidate ris score" in details[doe.id], details
        assert "mismatch confirmed" not in details[doe.id], details
        assert "candidate pacs score" in details[mueller.id], details
        assert "mismatch confirmed" in details[mueller.id], details
        assert bound.id not in details, details  # only looked at
        assert rs.forwards(server, bound.id) == []
    finally:
        env.stop()
