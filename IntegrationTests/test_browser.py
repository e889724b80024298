"""The upload page, the admin page and the Orthanc Explorer extension in a real browser:
Debian's Chromium driven by playwright-core (IntegrationTests/Browser/*.test.mjs), against a
real Orthanc with the plugin."""

import json
import os
import shutil
import subprocess

import pytest

import data
import harness
from harness import Upload
from pacs import Pacs

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "Browser")
CHROMIUM = "/usr/bin/chromium"


def run(command, **kwargs):
    result = subprocess.run(command, cwd=BROWSER, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)
    return result.returncode, result.stdout


@pytest.fixture(scope="module")
def node_packages():
    for tool in ("node", "npm"):
        assert shutil.which(tool), "%s is missing (Resources/Scripts/install-dependencies.sh)" % tool
    assert os.path.exists(CHROMIUM), "Debian's chromium is missing"
    code, output = run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], timeout=600)
    assert code == 0, output


def test_the_upload_page_in_chromium(node_packages, server):
    """Every browser scenario: the patient CD sent through the page with its receipt, no
    request outside the site, unticked studies not sent, resume after closing the page, a
    ZIP, a phone-sized screen, accessibility rules, the server's refusals."""
    env = dict(os.environ)
    env["INBOUND_URL"] = server.url + "/inbound/"
    env["CHROMIUM"] = CHROMIUM
    env.setdefault("SCREENSHOT_DIR", os.path.join(HERE, "..", "build", "screenshots"))
    os.makedirs(env["SCREENSHOT_DIR"], exist_ok=True)
    code, output = run(["node", "--test", "--test-concurrency=1", "upload.test.mjs"],
                       env=env, timeout=900)
    print(output)
    assert code == 0, output[-6000:]
    assert "# fail 0" in output and "# pass" in output, output[-3000:]


# A sender name that would run a script if any page inserted it as HTML.
HOSTILE_NAME = "<img src=x onerror=window.__xss=1>Dr. Evil"
HOSPITAL_PATIENT_ID = "HOSP-4711"


def send(server, originals, **overrides):
    upload = Upload.open(server, **overrides)
    for o in originals:
        upload.put_ok(o.data)
    return upload, upload.complete_ok()


def test_the_admin_page_and_explorer_in_chromium(node_packages, start_server, tmp_path):
    """The Explorer extension and the admin page (Browser/admin.test.mjs): the Inbound
    button, the sender panel of a received study (and none on other studies), the inbox with
    a hostile sender name shown as text, a release to a real PACS (DCMTK's storescp) with the
    hospital's PatientID, the other sections, errors, German, a narrow window, WCAG rules."""
    pacs = Pacs(str(tmp_path / "pacs")).start()
    try:
        # "down": a modality nobody listens for, so that a forward fails (given up after 3 s).
        server = start_server(
            inbound={"Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 1, "GiveUpAfter": 3}},
            orthanc={"DicomModalities": {"pacs": pacs.modality(),
                                         "down": ["DOWN", "127.0.0.1", harness.free_port()]}})
        by_study = {}
        for o in (data.Original(p) for p in data.cd_images()):
            by_study.setdefault(o.study_instance_uid, []).append(o)
        studies = sorted(by_study.values(), key=len)
        hostile, ordinary = studies[0], studies[1]

        evil, evil_receipt = send(server, hostile, sender=harness.sender(
            name=HOSTILE_NAME, institution="<b>Evil</b> Clinic",
            email="evil@clinic.example"), message="<script>window.__xss=2</script> second opinion")
        other, _ = send(server, ordinary, recipient="trauma")
        # A study that did not come through the plugin: stored with Orthanc's own REST API.
        stored = server.admin_json("POST", "/instances", data=data.make_dicom("PLAIN-1"),
                                   headers={"Content-Type": "application/dicom"})
        fixture = {
            "admin": "%s:%s" % harness.ADMIN,
            "evil": {"upload": evil.id, "study": server.admin_upload(evil.id)["studies"][0]["orthancId"],
                     "name": HOSTILE_NAME, "instances": len(hostile),
                     "receiptCode": evil_receipt["receiptCode"]},
            "other": {"upload": other.id,
                      "study": server.admin_upload(other.id)["studies"][0]["orthancId"]},
            "plainStudy": stored["ParentStudy"],
            "modality": "pacs",
            "downModality": "down",
            "hospitalPatientId": HOSPITAL_PATIENT_ID,
        }
        env = dict(os.environ)
        env["INBOUND_URL"] = server.url + "/inbound/"
        env["INBOUND_ADMIN_FIXTURE"] = json.dumps(fixture)
        env["CHROMIUM"] = CHROMIUM
        env.setdefault("SCREENSHOT_DIR", os.path.join(HERE, "..", "build", "screenshots"))
        os.makedirs(env["SCREENSHOT_DIR"], exist_ok=True)
        code, output = run(["node", "--test", "--test-concurrency=1", "admin.test.mjs"],
                           env=env, timeout=900)
        print(output)
        assert code == 0, output[-6000:]
        assert "# fail 0" in output and "# pass" in output, output[-3000:]

        # The release made in the browser reached the PACS with the hospital's PatientID.
        received = pacs.wait_for(len(hostile))
        assert len(received) == len(hostile)
        assert {str(ds.PatientID) for ds in received} == {HOSPITAL_PATIENT_ID}
        assert {str(ds.PatientName) for ds in received} == {"Doe^Jane"}
        assert {str(ds.PatientBirthDate) for ds in received} == {"19700131"}
    finally:
        pacs.stop()
