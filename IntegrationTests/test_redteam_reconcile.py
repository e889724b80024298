"""Red team, the reconciliation assistant (doc/Security.md): a sender's values never widen a C-FIND or /tools/find, the candidates route is an admin's own page's, hostile release bodies change nothing, and no CD makes an auto-forward reconcile to a patient its link does not name."""

import time

import pytest
import requests

import harness
import reconcile_support as rs
from redteam_reconcile_support import craft

TIMEOUT = 2
NOBODY = "ZZZ^QQQ"  # a name no patient of the PACS, the worklist or this Orthanc has
JANE = {"id": "H1003", "name": "DOE^JANE", "birthDate": "19700303"}
ZOE = {"id": "H1008", "name": "Łukasiewicz^Zoë", "birthDate": "19850707"}


@pytest.fixture(scope="module")
def site(plugin, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("redteam-reconcile"))
    for server, env in rs.running(plugin, folder, TimeoutSeconds=TIMEOUT):
        rs.store_local_patient(server)
        yield server, env


def ask(server, originals):
    """The candidates of a new upload of "originals", asked afresh: (answer, seconds)."""
    upload = rs.send(server, originals)
    started = time.monotonic()
    answer = rs.candidates(server, upload.id, fresh=True)
    return answer, time.monotonic() - started


def assert_nobody_listed(answer, elapsed):
    """Every source answered in time and none gave a single record."""
    assert elapsed <= TIMEOUT + 1.5, elapsed
    assert {s["source"]: (s["status"], s["records"]) for s in answer["sources"]} == {
        "local": ("answered", 0), "pacs": ("answered", 0), "ris": ("answered", 0)}, \
        answer["sources"]
    assert all(p["candidates"] == [] for p in answer["patients"]), answer["patients"]


# ---------------------------------------------------------------- values in the queries

@pytest.mark.parametrize("fields", [
    {"pid": "*"}, {"pid": "?"}, {"pid": "H100?"}, {"pid": "H1*"}, {"pid": "\\"},
    {"pid": "H1001\\H1002"}, {"pid": "H1001\\*"}, {"pid": "*\\H1003"}, {"pid": "   "},
    {"pid": "%"}, {"pid": "______"}, {"pid": "H1001\x01"}, {"pid": "\x1b(BH1001"},
    {"pid": "X" * 80},
    {"accession": "*"}, {"accession": "A2026-00?"}, {"accession": "A2026-001\\*"},
    {"accession": "A2026-0011111111111"},
    {"other_ids": "*\\?"}, {"other": ["*", "H100?", "H1003\\*"]},
    {"birth": "19000101-20991231"}, {"birth": "19600101-"}, {"birth": "-20991231"},
    {"birth": "*"}, {"birth": "196001??"}, {"birth": "1960"}, {"birth": "19600101\\19700303"},
], ids=repr)
def test_wildcards_lists_and_ranges_of_the_sender_list_nobody(site, fields):
    """An ID, accession number or birth date with a wildcard, a list, a range, a control
    character or too long is not asked at all: nothing of the PACS, the worklist or this
    Orthanc is listed (each has patients that such a query would list)."""
    server, _ = site
    values = dict({"pid": "Q-1", "name": NOBODY, "birth": "", "accession": "Q-2"}, **fields)
    answer, elapsed = ask(server, [craft(**values)])
    assert_nobody_listed(answer, elapsed)


@pytest.mark.parametrize("name,charset", [
    ("*", "ISO_IR 100"), ("*^?", "ISO_IR 100"), ("**^??^*", "ISO_IR 100"),
    ("A*^B?", "ISO_IR 100"), ("A^B^C^D", "ISO_IR 100"), ("-^,^ . ", "ISO_IR 100"),
    ("\x01\x02^\x1b\x7f", "ISO_IR 100"), ("李^明", "ISO_IR 192"), ("Ü^Ö", "ISO_IR 100"),
    ("ÆØ^ÅÜ", "ISO_IR 100"), ("=DOE^JANE", "ISO_IR 100"), ("", "ISO_IR 100"),
], ids=repr)
def test_names_of_wildcards_signs_or_letters_outside_ascii_ask_no_name_query(site, name, charset):
    """Fewer than two ASCII letters or digits in a name word: no name query (a bare "*" would
    list every patient)."""
    server, _ = site
    answer, elapsed = ask(server, [craft(pid="Q-3", name=name, birth="", charset=charset)])
    assert_nobody_listed(answer, elapsed)


def test_a_name_pattern_keeps_its_letters_between_the_wildcards(site):
    """"MU?LER^JU*" asks for "MU*LER*" and "JU*": MULLER^JURGEN, nobody else."""
    server, _ = site
    answer, elapsed = ask(server, [craft(pid="Q-4", name="MU?LER^JU*", birth="")])
    assert elapsed <= TIMEOUT + 1.5
    assert rs.source_of(answer, "pacs")["records"] == 1, answer["sources"]
    assert rs.source_of(answer, "local")["records"] == 0, answer["sources"]
    [patient] = answer["patients"]
    assert {c["patientId"] for c in patient["candidates"]} <= {"H1007"}, patient


@pytest.mark.parametrize("name", ["A" * 64, " ".join(["Abcdefghijkl"] * 16) + "^" + "B" * 200],
                         ids=["64 letters", "16 long words"])
def test_long_names_are_asked_within_the_time_and_crash_nothing(site, name):
    server, _ = site
    answer, elapsed = ask(server, [craft(pid="Q-5", name=name, birth="")])
    assert_nobody_listed(answer, elapsed)
    assert server.admin_json("GET", "/system")["Version"] == "1.10.1"


def test_the_right_patient_is_still_found(site):
    """The same checks leave a plain CD its candidates."""
    server, _ = site
    answer, _ = ask(server, rs.make_cd("doe", per_patient=1))
    best = rs.patient_of(answer, "EXT-555")["candidates"][0]
    assert (best["patientId"], best["score"]) == ("H1003", 100), best


# ---------------------------------------------------------------- the route from another site

def test_candidates_are_not_asked_for_another_sites_page(site):
    """GET .../candidates makes C-FINDs: like an admin write, only the admin page's own
    requests (X-Requested-With or the site's Origin) may cause them, not an <img> of a page
    of another site that the logged-in admin opens (the sender knows its upload's id)."""
    server, _ = site
    upload = rs.send(server, rs.make_cd("roe", per_patient=1))
    path = server.url + "/inbound/admin/uploads/%s/candidates" % upload.id
    for headers in ({}, {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null"}, {"X-Requested-With": "fetch"}):
        for params in ({}, {"fresh": "true"}):
            r = requests.get(path, auth=harness.ADMIN, headers=headers, params=params, timeout=30)
            harness.assert_error(r, 403, "cross-site")
    own = requests.get(path, auth=harness.ADMIN, headers={"Origin": server.url}, timeout=30)
    assert own.status_code == 200 and own.json()["uploadId"] == upload.id, own.text
    page = requests.get(path, auth=harness.ADMIN, timeout=30,
                        headers={"X-Requested-With": "XMLHttpRequest"})
    assert page.status_code == 200, page.text


# ---------------------------------------------------------------- hostile release bodies

H1003 = {"id": "H1003", "name": "DOE^JANE", "birthDate": "19700303", "sex": "F"}


def with_patient(**changes):
    return {"modality": "store", "patient": dict(H1003, **changes)}


@pytest.mark.parametrize("body", [
    with_patient(id="H1003\\H1004"), with_patient(id="H1003\x00"), with_patient(id="H\n1003"),
    with_patient(id="H" * 65), with_patient(id="H1003\u2028"), with_patient(id=""),
    with_patient(name="DOE^JANE\\ROE^RICHARD"), with_patient(name="DOE\x1b^JANE"),
    with_patient(name="D" * 201), with_patient(name="DOE\u0085JANE"),
    with_patient(issuer="HOSP\\OTHER"), with_patient(issuer="I" * 65),
    with_patient(issuer="HOSP\r\n"), with_patient(issuer=5),
    with_patient(sex="m"), with_patient(sex="X"), with_patient(sex="MF"), with_patient(sex="M\\F"),
    with_patient(birthDate="19700303-19800101"), with_patient(birthDate="1970-03-03"),
    with_patient(birthDate="19701303"), with_patient(birthDate="*"),
    dict(with_patient(), accessionNumber="A" * 17), dict(with_patient(), accessionNumber="A\\B"),
    dict(with_patient(), accessionNumber="*\t"), dict(with_patient(), accessionNumber=["A"]),
    dict(with_patient(), candidate={"source": "pacs", "score": 101}),
    dict(with_patient(), candidate={"source": "pacs", "score": -1}),
    dict(with_patient(), candidate={"source": "pacs", "score": "90"}),
    dict(with_patient(), candidate={"source": "pacs\n", "score": 90}),
    dict(with_patient(), candidate={"source": "", "score": 90}),
    dict(with_patient(), candidate={"source": "pacs", "score": 90, "fits": True}),
    dict(with_patient(), candidate="pacs"),
    dict(with_patient(), confirmMismatch="true"), dict(with_patient(), confirmMismatch=1),
    dict(with_patient(), confirmed=True), dict(with_patient(), patientId="H1003"),
    {"modality": "store", "patient": dict(H1003, weight="80")},
    {"modality": "store", "keepNamespacedPatientId": True, "patient": {"sex": "F"}},
    {"modality": "store", "keepNamespacedPatientId": True, "accessionNumber": "A1"},
    {"modality": "store\\pacs", "patient": H1003}, {"modality": "", "patient": H1003},
], ids=repr)
def test_a_hostile_release_body_is_refused_and_queues_nothing(site, body):
    server, env = site
    upload = rs.send(server, rs.make_cd("doe", per_patient=1))
    r = rs.release(server, upload.id, body, expected=400)
    assert r.json()["error"] in ("invalid-field", "unknown-modality", "reconciliation-required"), \
        r.text
    assert rs.forwards(server, upload.id) == []
    assert [e for e in rs.audit_events(server, "release-requested")
            if e["uploadId"] == upload.id] == []


@pytest.mark.parametrize("changes,why", [
    ({"birthDate": "19700304"}, "birth date"), ({"sex": "M"}, "sex"),
    ({"birthDate": "19690303", "sex": "O"}, "birth date"),
])
def test_a_release_that_differs_from_the_cd_needs_the_confirmation(site, changes, why):
    server, env = site
    files = rs.make_cd("doe", per_patient=1)
    upload = rs.send(server, files)
    for extra in ({}, {"confirmMismatch": False}):
        r = rs.release(server, upload.id, dict(with_patient(**changes), **extra), expected=409)
        harness.assert_error(r, 409, "confirmation-required")
        assert why in r.json()["message"], r.text
        for trace in ("19700303", "DOE", "EXT-555"):
            assert trace not in r.json()["message"]
    assert rs.forwards(server, upload.id) == []
    rs.release(server, upload.id, dict(with_patient(**changes), confirmMismatch=True))
    [released] = rs.wait_received(env.store, files).values()
    assert released.PatientID == "H1003"
    [audit] = [e for e in rs.audit_events(server, "release-requested") if e["uploadId"] == upload.id]
    assert "mismatch confirmed" in audit["detail"], audit


def test_an_ambiguous_patient_needs_the_confirmation_even_with_every_field_as_sent(site):
    """MULLER^JURGEN born 1960-01-01 fits H1001 and H1007 alike: the server asks for the
    confirmation although the name, birth date and sex released are the CD's."""
    server, env = site
    files = rs.make_cd("jurgen", per_patient=1)
    upload = rs.send(server, files)
    assert rs.patient_of(rs.candidates(server, upload.id), "PRAXIS-50")["ambiguous"] is True
    body = {"modality": "store", "patient": {"id": "H1007", "name": "MULLER^JURGEN",
                                             "birthDate": "19600101", "sex": "M"}}
    r = rs.release(server, upload.id, body, expected=409)
    assert "several hospital patients" in r.json()["message"], r.text
    assert rs.forwards(server, upload.id) == []


def test_another_site_cannot_release(site):
    server, env = site
    upload = rs.send(server, rs.make_cd("doe", per_patient=1))
    path = server.url + "/inbound/admin/uploads/%s/release" % upload.id
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {}):
        r = requests.post(path, auth=harness.ADMIN, json=with_patient(), headers=headers,
                          timeout=30)
        harness.assert_error(r, 403, "cross-site")
    r = requests.post(path, auth=harness.ADMIN, data="modality=store", timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    harness.assert_error(r, 403, "cross-site")
    r = requests.get(path, auth=harness.ADMIN, params={"_method": "POST"}, timeout=30)
    assert r.status_code in (400, 403, 404, 405), r.text
    assert rs.forwards(server, upload.id) == []


# ---------------------------------------------------------------- automatic reconciliation

def assert_nothing_sent(server, env, upload, files):
    rs.wait_until("the upload judged", lambda: server.admin_upload(upload.id)["request"]
                  .get("matched") is not None)
    time.sleep(TIMEOUT + 3)  # the forwarder's rounds, the candidates included
    assert rs.forwards(server, upload.id) == []
    assert rs.received_of(env.store, files) == {}


def test_a_link_for_one_patient_never_releases_a_cd_of_another(site):
    server, env = site
    files = rs.make_cd("mueller", per_patient=1)  # MÜLLER^JÜRGEN, H1001 beyond doubt
    _, upload = rs.send_through_link(server, JANE, files)
    assert_nothing_sent(server, env, upload, files)


def test_a_second_patient_on_the_cd_stops_the_automatic_release(site):
    server, env = site
    files = rs.make_cd("zoe", per_patient=1) + rs.make_cd("roe", per_patient=1)
    _, upload = rs.send_through_link(server, ZOE, files)
    assert_nothing_sent(server, env, upload, files)


@pytest.mark.parametrize("other", [["H1001"], ["H1003", "H1004"], ["H1008"]], ids=repr)
def test_hospital_ids_among_the_cds_other_ids_win_the_sender_nothing(site, other):
    """A CD of Zoë sent through her link that names other hospital patients' IDs as its other
    IDs: those patients are asked and score "original-id", but never fit; the upload is
    released as H1008 or not at all."""
    server, env = site
    files = [craft(pid="PRAXIS-31", name="Lukasiewicz^Zoë", birth="19850707", sex="F",
                   other=other)]
    _, upload = rs.send_through_link(server, ZOE, files)
    done = rs.done_forward(server, upload.id)
    assert done["patientId"] == "H1008", done
    [received] = rs.wait_received(env.store, files).values()
    assert received.PatientID == "H1008"
    answer = rs.candidates(server, upload.id)
    [patient] = answer["patients"]
    assert {c["patientId"] for c in patient["candidates"] if c["fits"]} == {"H1008"}, patient


def test_a_cd_naming_the_links_patient_with_an_empty_id_gets_only_that_patient(site):
    server, env = site
    files = [craft(pid="", name="Lukasiewicz^Zoë", birth="19850707", sex="F")]
    _, upload = rs.send_through_link(server, ZOE, files)
    assert rs.done_forward(server, upload.id)["patientId"] == "H1008"
