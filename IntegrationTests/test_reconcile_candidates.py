"""The reconciliation assistant's candidates (doc/Reconciliation.md) for a patient CD, from a real
PACS (dcmqrscp), a real worklist (wlmscpfs) and this Orthanc's own patients."""

import io

import pytest

import data
import harness
import reconcile_support as rs
from harness import assert_error

SCORE_REASONS = {"name-same", "name-reordered", "name-partial", "name-similar", "name-differs",
                 "birth-date-same", "birth-date-near", "birth-date-differs", "sex-same",
                 "sex-differs", "original-id", "same-patient-id", "accession", "scheduled",
                 "request-link"}


@pytest.fixture(scope="module")
def site(plugin, tmp_path_factory):
    """The parts, one Orthanc asking the PACS (Patient) and the worklist, with its own
    hospital patient L-3003, and one upload of the CD with the patients doe, mueller, roe."""
    folder = str(tmp_path_factory.mktemp("reconcile-candidates"))
    for server, env in rs.running(plugin, folder, TimeoutSeconds=3):
        rs.store_local_patient(server)
        files = rs.make_cd("doe", "mueller", "roe")
        upload = rs.send(server, files)
        yield server, env, upload


def by_id(patient, source):
    """{PatientID: candidate} of one source (each PatientID once per source)."""
    result = {}
    for c in patient["candidates"]:
        if c["source"] == source:
            assert c["patientId"] not in result, patient
            result[c["patientId"]] = c
    return result


def check_candidate_shape(answer):
    for p in answer["patients"]:
        scores = [c["score"] for c in p["candidates"]]
        assert scores == sorted(scores, reverse=True), p
        for c in p["candidates"]:
            assert 0 < c["score"] <= 100, c
            assert c["fits"] is (c["score"] >= answer["threshold"]), c
            assert set(c["reasons"]) <= SCORE_REASONS, c


def test_the_right_patient_comes_first_with_its_reasons(site):
    server, env, upload = site
    answer = rs.candidates(server, upload.id)
    assert answer["uploadId"] == upload.id
    assert (answer["threshold"], answer["autoThreshold"]) == (50, 80)
    assert answer["complete"] is True
    for name, query in (("pacs", "Patient"), ("ris", "Worklist"), ("local", "Local")):
        source = rs.source_of(answer, name, query)
        assert source["status"] == "answered" and source["records"] > 0, source
        assert source["truncated"] is False, source
    check_candidate_shape(answer)
    assert len(answer["patients"]) == 3

    doe = rs.patient_of(answer, "EXT-555")
    # The patient as sent, inside the hospital with the IDs as sent.
    assert (doe["issuer"], doe["name"], doe["birthDate"], doe["sex"]) == (
        "CLINIC-X", "DOE^JANE", "19700303", "F")
    assert "CLINIC-X-OLD-1" in doe["otherPatientIds"], doe
    assert doe["accessionNumbers"] == ["CLIN-0042"]
    assert doe["isolatedPatientId"].startswith("INB-%s-" % upload.id)
    assert len(doe["studies"]) == 1
    assert doe["ambiguous"] is False

    first = doe["candidates"][0]
    assert first["patientId"] == "H1003" and first["score"] == 100 and first["fits"], first
    pacs = by_id(doe, "pacs")
    assert pacs["H1003"]["score"] == 100  # 45 + 35 + 10 + 25 (EXT-555 in its OtherPatientIDs)
    assert {"name-same", "birth-date-same", "sex-same", "original-id"} <= set(
        pacs["H1003"]["reasons"]), pacs["H1003"]
    assert (pacs["H1003"]["issuer"], pacs["H1003"]["name"], pacs["H1003"]["birthDate"],
            pacs["H1003"]["sex"]) == ("HOSP", "DOE^JANE", "19700303", "F")
    # The near-misses: transposed (fits, lower), same name with another birth date (below).
    assert pacs["H1004"]["score"] == 85 and pacs["H1004"]["fits"], pacs["H1004"]
    assert "name-reordered" in pacs["H1004"]["reasons"]
    assert pacs["H1009"]["score"] == 15 and not pacs["H1009"]["fits"], pacs["H1009"]
    assert {"name-same", "birth-date-differs"} <= set(pacs["H1009"]["reasons"])
    # Doe^Jane^Q born 1980: 25 - 40 + 10 < 0, not a candidate at all.
    assert "H1005" not in pacs
    # The worklist's procedure of H1003, its modality CT among the CD's.
    ris = by_id(doe, "ris")
    assert ris["H1003"]["score"] == 95 and "scheduled" in ris["H1003"]["reasons"], ris
    assert "accession" not in ris["H1003"]["reasons"]
    # The hospital's own patient in this Orthanc.
    local = by_id(doe, "local")
    assert list(local) == ["L-3003"] and local["L-3003"]["score"] == 90, local


def test_accents_in_both_character_sets_and_the_worklist_accession(site):
    server, env, upload = site
    mueller = rs.patient_of(rs.candidates(server, upload.id), "OLD-77")
    assert mueller["name"] == "MÜLLER^JÜRGEN" and mueller["accessionNumbers"] == ["A2026-003"]
    pacs = by_id(mueller, "pacs")
    # ISO_IR 100 and ISO_IR 192 records decoded; accents folded for the comparison.
    assert pacs["H1001"]["name"] == "MÜLLER^JÜRGEN" and pacs["H1001"]["score"] == 100
    assert "original-id" in pacs["H1001"]["reasons"]  # OLD-77 in its OtherPatientIDs
    assert pacs["H1007"]["name"] == "MULLER^JURGEN" and pacs["H1007"]["score"] == 90
    assert "name-same" in pacs["H1007"]["reasons"]
    assert pacs["H1002"]["name"] == "Müller^Jürgen" and pacs["H1002"]["score"] == 15
    assert not pacs["H1002"]["fits"]
    assert mueller["candidates"][0]["patientId"] == "H1001"

    ris = by_id(mueller, "ris")
    wl3 = ris["H1001"]
    assert wl3["score"] == 100 and {"accession", "scheduled", "name-same"} <= set(wl3["reasons"])
    assert (wl3["accessionNumber"], wl3["requestedProcedureId"], wl3["scheduledDate"],
            wl3["scheduledModality"]) == ("A2026-003", "RP003", "20260514", "MR"), wl3
    assert wl3["procedure"] == "MR ABDOMEN"
    assert ris["H1002"]["name"] == "Müller^Jürgen" and not ris["H1002"]["fits"], ris


def test_nobody_fits_a_patient_the_hospital_does_not_know(site):
    server, env, upload = site
    roe = rs.patient_of(rs.candidates(server, upload.id), "PRAXIS-12")
    assert [c for c in roe["candidates"] if c["fits"]] == [], roe
    assert roe["ambiguous"] is False


def test_local_patients_without_the_isolated_ones(site):
    server, env, upload = site
    # The same CD again: its isolated patients and the first upload's are in this Orthanc,
    # with the same names and birth dates; none of them is offered as the hospital's.
    again = rs.send(server, rs.make_cd("doe", "mueller"))
    assert len(server.find("Patient", {"PatientName": "DOE^JANE"})) >= 3
    answer = rs.candidates(server, again.id)
    local = rs.source_of(answer, "local")
    assert local["status"] == "answered", local
    for patient in answer["patients"]:
        for c in patient["candidates"]:
            assert not c["patientId"].startswith("INB-"), c
    assert list(by_id(rs.patient_of(answer, "EXT-555"), "local")) == ["L-3003"]
    assert by_id(rs.patient_of(answer, "OLD-77"), "local") == {}


def test_answers_are_cached_unless_fresh(site):
    server, env, upload = site
    first = rs.candidates(server, upload.id)
    assert rs.candidates(server, upload.id)["generatedAt"] == first["generatedAt"]
    fresh = rs.candidates(server, upload.id, fresh=True)
    assert fresh["generatedAt"] > first["generatedAt"]
    assert rs.candidates(server, upload.id)["generatedAt"] == fresh["generatedAt"]


def test_hostile_sender_values_query_nobody(site):
    """Wildcards, value lists and ranges in the sender's values are not passed to the
    sources: a sender named "*" does not list the whole PACS (design19.md, addendum)."""
    server, env, upload = site
    files = rs.make_cd("roe")
    hostile = []
    for o in files:
        ds = o.ds
        ds.PatientID = "*"
        ds.PatientName = "*^?\\*"
        ds.PatientBirthDate = "19000101-20991231"
        ds.AccessionNumber = "*"
        ds.OtherPatientIDsSequence = []
        out = io.BytesIO()
        ds.save_as(out, write_like_original=False)
        hostile.append(data.Original(data=out.getvalue()))
    bad = rs.send(server, hostile)
    answer = rs.candidates(server, bad.id)
    for name in ("pacs", "ris", "local"):
        source = rs.source_of(answer, name)
        assert source["records"] == 0 and source["truncated"] is False, source
    [patient] = answer["patients"]
    assert patient["candidates"] == [], patient


def test_unknown_and_unfinished_uploads(site):
    server, env, upload = site
    assert_error(server.admin("GET", "/inbound/admin/uploads/NOSUCHUPLOAD/candidates"),
                 404, "not-found")
    unfinished = harness.Upload.open(server)
    unfinished.put_ok(rs.make_cd("roe")[0].data)
    assert_error(server.admin("GET", "/inbound/admin/uploads/%s/candidates" % unfinished.id),
                 409, "upload-not-stored")
    # An admin route: nothing without the admin's credentials.
    assert server.request("GET", "/inbound/admin/uploads/%s/candidates" % upload.id) \
        .status_code in (401, 403)
