"""Sources of the reconciliation assistant that do not answer (doc/Reconciliation.md): refused,
hung, without the asked C-FIND, unknown, Orthanc's DefaultEncoding not Utf8; and the
configurations that stop Orthanc."""

import threading
import time

import pytest

import harness
import reconcile_support as rs

TIMEOUT = 2
# Every kind of source, and the two that answer.
SOURCES = [("pacs", "Patient"), ("ris", "Worklist"), ("down", "Patient"), ("hung", "Patient"),
           ("wl-as-pacs", "Patient"), ("pacs-as-wl", "Worklist"), ("nosuch", "Patient")]
TRACES = ("DOE", "JANE", "19700303", "EXT-555", "CLINIC-X")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    made = rs.Environment(str(tmp_path_factory.mktemp("reconcile-sources"))).start()
    yield made
    made.stop()


def aliases(env):
    """The worklist asked as a PACS and the PACS asked as a worklist (error 2016)."""
    return {"DicomModalities": {"wl-as-pacs": env.worklist.modality(),
                                "pacs-as-wl": env.pacs.modality()}}


@pytest.fixture(scope="module")
def site(plugin, env):
    import conftest
    server = conftest._start(plugin, **env.server_kwargs(
        sources=SOURCES, TimeoutSeconds=TIMEOUT, orthanc=aliases(env)))
    try:
        upload = rs.send(server, rs.make_cd("doe", per_patient=1))
        yield server, upload
    finally:
        conftest._cleanup(server, check=True)


def timed_candidates(server, upload_id, fresh=True):
    started = time.monotonic()
    answer = rs.candidates(server, upload_id, fresh=fresh)
    return answer, time.monotonic() - started


def test_sources_that_do_not_answer_say_so_and_the_others_still_answer(site):
    server, upload = site
    answer, elapsed = timed_candidates(server, upload.id)
    assert elapsed <= TIMEOUT + 2, elapsed
    assert answer["complete"] is False
    status = {(s["source"], s["query"]): s for s in answer["sources"]}
    expected = {("pacs", "Patient"): "answered", ("ris", "Worklist"): "answered",
                ("local", "Local"): "answered", ("down", "Patient"): "failed",
                ("hung", "Patient"): "timeout", ("wl-as-pacs", "Patient"): "unavailable",
                ("pacs-as-wl", "Worklist"): "unavailable", ("nosuch", "Patient"): "failed"}
    assert {k: v["status"] for k, v in status.items()} == expected, answer["sources"]
    for key, source in status.items():
        if source["status"] != "answered":
            assert source["message"], source
            for trace in TRACES:
                assert trace not in source["message"], (trace, source)
        assert source["elapsedMs"] <= (TIMEOUT + 1) * 1000, source
    assert "DicomModalities" in status[("nosuch", "Patient")]["message"]
    assert status[("pacs", "Patient")]["records"] >= 2

    doe = rs.patient_of(answer, "EXT-555")
    assert doe["candidates"][0]["patientId"] == "H1003" and doe["candidates"][0]["score"] == 100
    assert {c["source"] for c in doe["candidates"]} <= {"pacs", "ris", "local"}
    # The server is fine, and asks again (the hung peer still holds its connections).
    again, elapsed = timed_candidates(server, upload.id)
    assert elapsed <= TIMEOUT + 2 and again["generatedAt"] > answer["generatedAt"]
    assert server.admin_json("GET", "/system")["Version"] == "1.10.1"


def test_a_hung_source_does_not_hold_the_admin_pages(site):
    server, upload = site
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        answer=timed_candidates(server, upload.id)))
    thread.start()
    try:
        time.sleep(0.3)  # the round is running, the hung peer holds it
        started = time.monotonic()
        assert server.admin_upload(upload.id)["id"] == upload.id
        assert server.admin_json("GET", "/inbound/admin/uploads")["uploads"]
        assert time.monotonic() - started < 1.0
    finally:
        thread.join(TIMEOUT + 10)
    answer, elapsed = result["answer"]
    assert elapsed <= TIMEOUT + 2 and rs.source_of(answer, "hung")["status"] == "timeout"


def test_answers_beyond_the_limits_are_cut_and_said(start_server, env):
    server = start_server(**env.server_kwargs(MaxAnswers=1, MaxCandidates=1))
    upload = rs.send(server, rs.make_cd("doe", per_patient=1))
    answer = rs.candidates(server, upload.id)
    pacs = rs.source_of(answer, "pacs")
    # The birth date alone finds H1003 and H1004: more than one answer.
    assert pacs["status"] == "answered" and pacs["truncated"] is True, pacs
    [doe] = answer["patients"]
    # Cut at MaxCandidates, but every other fitting PatientID keeps its best candidate (a
    # person, and the automatic decision, must see that there is another).
    first, *rest = doe["candidates"]
    seen = {first["patientId"]}
    for c in rest:
        assert c["fits"] and c["patientId"] not in seen, doe
        seen.add(c["patientId"])


def test_an_orthanc_no_longer_in_utf8_asks_no_dicom_source(site):
    server, upload = site
    r = server.admin("PUT", "/tools/default-encoding", data="Latin1")
    assert r.status_code == 200, r.text
    try:
        answer, elapsed = timed_candidates(server, upload.id)
    finally:
        assert server.admin("PUT", "/tools/default-encoding", data="Utf8").status_code == 200
    assert elapsed <= TIMEOUT + 2
    for source in answer["sources"]:
        if source["query"] == "Local":
            assert source["status"] == "answered", source
        elif source["source"] in ("pacs", "ris", "down", "hung"):
            assert source["status"] == "failed", source
            assert "DefaultEncoding is not Utf8" in source["message"], source
    assert {c["source"] for p in answer["patients"] for c in p["candidates"]} <= {"local"}
    # Back in Utf8: the PACS answers again.
    answer, _ = timed_candidates(server, upload.id)
    assert rs.source_of(answer, "pacs")["status"] == "answered"


def test_a_request_waits_when_a_source_is_down(site, env):
    server, _ = site
    files = rs.make_cd("zoe", per_patient=1)
    created, upload = rs.send_through_link(server, {"id": "H1008", "name": "Łukasiewicz^Zoë",
                                                    "birthDate": "19850707"}, files)
    [waiting] = rs.wait_until("reconcile-waiting", lambda: [
        e for e in rs.audit_events(server, "reconcile-waiting") if e["uploadId"] == upload.id])
    for trace in ("Lukasiewicz", "H1008", "19850707"):
        assert trace not in waiting["detail"], waiting
    time.sleep(3)
    assert rs.forwards(server, upload.id) == []
    assert rs.received_of(env.store, files) == {}
    assert server.admin_upload(upload.id)["request"]["matched"] is True


@pytest.mark.parametrize("encoding", ["Latin1", None])
def test_sources_need_orthanc_in_utf8(start_server, env, encoding):
    """Answers would lose every character outside Latin-1 ("Łukasiewicz" → "ukasiewicz"):
    Orthanc does not start, and its log says what to set."""
    with pytest.raises(harness.ServerError) as failed:
        start_server(**env.server_kwargs(encoding=encoding))
    message = str(failed.value)
    assert "DefaultEncoding" in message and "Utf8" in message, message


def test_without_sources_orthanc_in_latin1_starts(start_server, env):
    server = start_server(**env.server_kwargs(sources=[], encoding="Latin1"))
    upload = rs.send(server, rs.make_cd("doe", per_patient=1))
    answer = rs.candidates(server, upload.id)
    assert [s["source"] for s in answer["sources"]] == ["local"], answer["sources"]


def test_a_gateway_with_sources_does_not_start(start_server, env):
    with pytest.raises(harness.ServerError) as failed:
        start_server(**env.server_kwargs(inbound={"Role": "Gateway"}))
    assert "Reconciliation" in str(failed.value), str(failed.value)
