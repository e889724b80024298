"""The demonstration (Resources/Scripts/demo.sh) as a visitor runs it, on the plugin under test
(INBOUND_DEMO_PLUGIN: nothing installed or built): it starts within a minute and prints its
addresses; the clinic's CT study arrives inside by itself; the hospital's PACS (DCMTK's
dcmqrscp) and RIS worklist (wlmscpfs) answer C-FIND with the patients the summary promises,
and the release dialog's candidates (GET /inbound/admin/uploads/{id}/candidates) offer them;
a release lands in the PACS's storage folder the summary names; SIGTERM stops every process
the demonstration started."""

import os
import re
import signal
import socket
import subprocess
import time

import pydicom
import pytest
import requests

import conftest
from deployment_support import Process, wait_until

DEMO = os.path.join(conftest.REPO, "Resources", "Scripts", "demo.sh")
CLINIC_PATIENT_ID = "98890234"       # Doe^Peter of pydicom's patient CD, as the clinic sends him
HOSPITAL = {"id": "H-104711", "name": "DOE^PETER", "birthDate": "19560214", "sex": "M"}
NEAR_MISS = "H-104712"              # DOE^PETER too, born 1961
ACCESSION = "A-DEMO-0001"           # his scheduled CT in the RIS worklist


class Demo:
    def __init__(self, process, summary):
        self.process = process
        self.summary = summary

        def field(pattern):
            match = re.search(pattern, summary)
            assert match, "the summary lacks %r:\n%s" % (pattern, summary)
            return match.group(1)

        self.internal = field(r"Internal Orthanc Explorer:\s+(http://127\.0\.0\.1:\d+)/")
        self.password = field(r"Internal Orthanc Explorer:.*password \"([^\"]+)\"")
        self.pacs_folder = field(r"PACS \(dcmqrscp, AET PACS\):\s+(\S+?)/?\s")
        self.pacs_port = int(field(r"released studies land here; 127\.0\.0\.1:(\d+);"))
        self.ris_port = int(field(r"RIS worklist \(wlmscpfs, RIS\):\s+\S+\s+\(127\.0\.0\.1:(\d+);"))
        self.work = field(r"Logs and data: (\S+)")

    def admin(self, method, path, **kwargs):
        headers = {"X-Requested-With": "XMLHttpRequest"}
        return requests.request(method, self.internal + path, auth=("admin", self.password),
                                headers=headers, timeout=30, **kwargs)


def descendants(pid):
    """Every living process below pid (by /proc's parent links)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def find(argv):
    """findscu's answers: one {keyword or tag: value} per matching record."""
    out = subprocess.run(["findscu", "-v"] + argv, capture_output=True, timeout=30)
    text = out.stdout.decode("utf-8", "replace") + out.stderr.decode("utf-8", "replace")
    assert out.returncode == 0, text
    answers = []
    for block in re.split(r"Find Response: \d+ \(Pending\)", text)[1:]:
        answer = {}
        for tag, value in re.findall(r"\((\w{4},\w{4})\) \w\w \[([^\]]*)\]", block):
            answer.setdefault(tag.lower(), value.strip())
        answers.append(answer)
    return answers


def patients(demo, *keys):
    return find(["-P", "-aec", "PACS", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName",
                 "-k", "PatientID", "-k", "PatientBirthDate", "-k", "PatientSex",
                 "-k", "IssuerOfPatientID"] + [a for k in keys for a in ("-k", k)] +
                ["127.0.0.1", str(demo.pacs_port)])


@pytest.fixture(scope="module")
def demo(plugin, tmp_path_factory):
    log = str(tmp_path_factory.mktemp("demo") / "demo.out")
    env = dict(os.environ, INBOUND_DEMO_PLUGIN=plugin)
    process = Process("demo.sh", ["bash", DEMO], log, env=env).start()
    started = time.monotonic()
    wait_until(lambda: "Press Ctrl-C to stop." in open(log, errors="replace").read(), 90,
               "the demonstration", process)
    print("demo.sh started in %.1f s" % (time.monotonic() - started))
    with open(log, errors="replace") as f:
        made = Demo(process, f.read())
    yield made
    process.stop()


def wait_for_the_clinics_upload(demo, timeout=90):
    """The clinic's study, pulled in and complete inside (sent by itself over STOW-RS)."""
    found = []

    def complete():
        r = demo.admin("GET", "/inbound/admin/uploads")
        found[:] = [u for u in r.json()["uploads"]
                    if u.get("partner") == "demo-clinic" and u["state"] == "complete"]
        return bool(found)
    wait_until(complete, timeout, "the clinic's upload inside", demo.process)
    return found[0]


def test_the_pacs_and_the_worklist_hold_the_hospitals_patients(demo):
    answers = patients(demo)
    by_id = {a["0010,0020"]: a for a in answers}
    assert set(by_id) == {HOSPITAL["id"], NEAR_MISS, "H-100815", "DEMO-0001"}, answers
    right = by_id[HOSPITAL["id"]]
    assert (right["0010,0010"], right["0010,0030"], right["0010,0040"], right["0010,0021"]) == \
        (HOSPITAL["name"], HOSPITAL["birthDate"], "M", "DEMO-HOSPITAL")
    assert by_id[NEAR_MISS]["0010,0010"] == HOSPITAL["name"]
    assert by_id[NEAR_MISS]["0010,0030"] != HOSPITAL["birthDate"]
    # The name query the assistant asks (upper-case word pattern) finds both, nothing else.
    assert sorted(a["0010,0020"] for a in patients(demo, "PatientName=DOE*")) == \
        [HOSPITAL["id"], NEAR_MISS]

    worklist = find(["-W", "-aec", "RIS", "-k", "PatientName", "-k",
                     "PatientBirthDate=" + HOSPITAL["birthDate"], "-k", "PatientID",
                     "-k", "AccessionNumber", "-k", "StudyInstanceUID",
                     "-k", "ScheduledProcedureStepSequence[0].Modality",
                     "127.0.0.1", str(demo.ris_port)])
    assert len(worklist) == 1, worklist
    assert (worklist[0]["0010,0020"], worklist[0]["0008,0050"], worklist[0]["0008,0060"]) == \
        (HOSPITAL["id"], ACCESSION, "CT")

    # The internal Orthanc knows both as modalities and answers in UTF-8.
    modalities = demo.admin("GET", "/modalities?expand").json()
    assert modalities["pacs"]["Port"] == demo.pacs_port
    assert modalities["ris"]["Port"] == demo.ris_port
    assert demo.admin("GET", "/tools/default-encoding").text.strip() == "Utf8"


def test_the_release_dialog_offers_the_hospital_patient_and_his_scheduled_ct(demo):
    upload = wait_for_the_clinics_upload(demo)
    r = demo.admin("GET", "/inbound/admin/uploads/%s/candidates" % upload["id"])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["complete"] is True, answer["sources"]
    asked = {(s["source"], s["query"]): s["status"] for s in answer["sources"]}
    assert asked[("pacs", "Patient")] == asked[("ris", "Worklist")] == "answered", asked
    [patient] = answer["patients"]
    assert patient["originalPatientId"] == CLINIC_PATIENT_ID
    assert patient["birthDate"] == HOSPITAL["birthDate"] and not patient["ambiguous"]

    candidates = patient["candidates"]
    best = candidates[0]
    assert best["patientId"] == HOSPITAL["id"] and best["fits"], candidates
    [pacs] = [c for c in candidates if c["source"] == "pacs" and c["patientId"] == HOSPITAL["id"]]
    assert pacs["score"] >= answer["threshold"] and pacs["issuer"] == "DEMO-HOSPITAL"
    assert {"name-same", "birth-date-same", "sex-same"} <= set(pacs["reasons"]), pacs
    [ris] = [c for c in candidates if c["source"] == "ris"]
    assert ris["patientId"] == HOSPITAL["id"] and ris["accessionNumber"] == ACCESSION, ris
    assert ris["fits"] and ris["score"] >= answer["threshold"], ris
    # The near-miss is offered apart: same name, another birth date, does not fit.
    [near] = [c for c in candidates if c["patientId"] == NEAR_MISS]
    assert not near["fits"] and near["score"] < answer["threshold"], near
    assert "birth-date-differs" in near["reasons"], near
    assert not [c for c in candidates if c["patientId"] in ("H-100815", "DEMO-0001")], candidates


def test_a_release_lands_in_the_pacs_storage_folder(demo):
    upload = wait_for_the_clinics_upload(demo)
    [study] = upload["studies"]
    assert study["originalPatientId"] == CLINIC_PATIENT_ID and study["instances"] == 7

    # As the dialog's "Use" on the worklist entry sends it (no issuer: the configured one).
    r = demo.admin("GET", "/inbound/admin/uploads/%s/candidates" % upload["id"])
    [ris] = [c for c in r.json()["patients"][0]["candidates"] if c["source"] == "ris"]
    before = set(os.listdir(demo.pacs_folder))
    r = demo.admin("POST", "/inbound/admin/uploads/%s/release" % upload["id"],
                   json={"modality": "pacs", "patient": {
                       "id": HOSPITAL["id"], "name": HOSPITAL["name"],
                       "birthDate": HOSPITAL["birthDate"], "sex": HOSPITAL["sex"]},
                         "accessionNumber": ACCESSION,
                         "candidate": {"source": "ris", "score": ris["score"]}})
    assert r.status_code == 202, r.text

    def received():
        return [f for f in set(os.listdir(demo.pacs_folder)) - before if f.endswith(".dcm")]
    wait_until(lambda: len(received()) == 7, 60, "the release in the PACS", demo.process)
    for name in received():
        ds = pydicom.dcmread(os.path.join(demo.pacs_folder, name))
        assert (str(ds.PatientID), str(ds.PatientName), ds.PatientBirthDate) == \
            (HOSPITAL["id"], HOSPITAL["name"], HOSPITAL["birthDate"])
        assert (ds.IssuerOfPatientID, ds.PatientSex, ds.AccessionNumber) == \
            ("DEMO-HOSPITAL", HOSPITAL["sex"], ACCESSION)
        assert ds.Modality == "CT"
    # The PACS now answers for the study too (its index was updated by C-STORE).
    studies = find(["-S", "-aec", "PACS", "-k", "QueryRetrieveLevel=STUDY",
                    "-k", "PatientID=" + HOSPITAL["id"], "-k", "StudyInstanceUID",
                    "127.0.0.1", str(demo.pacs_port)])
    assert len(studies) == 2, studies


def test_sigterm_stops_everything_the_demo_started(demo):
    started = descendants(demo.process.pid)
    names = set()
    for pid in started:
        try:
            with open("/proc/%d/comm" % pid) as f:
                names.add(f.read().strip())
        except OSError:
            pass
    assert {"Orthanc", "nginx", "dcmqrscp", "wlmscpfs", "clamd"} <= names, names
    demo.process.process.send_signal(signal.SIGTERM)
    demo.process.wait(30)
    with open(demo.process.log_path, errors="replace") as f:
        assert "Stopped. Data left in %s" % demo.work in f.read()
    wait_until(lambda: not [p for p in started if alive(p)], 20, "every process stopped")
    for port in (demo.pacs_port, demo.ris_port, int(demo.internal.rsplit(":", 1)[1])):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, port
