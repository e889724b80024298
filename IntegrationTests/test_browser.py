"""The upload page, the admin page and the Orthanc Explorer extension in a real browser:
Debian's Chromium driven by playwright-core (IntegrationTests/Browser/*.test.mjs), against a
real Orthanc with the plugin."""

import glob
import json
import os
import shutil
import subprocess
import time

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


def run_browser_test(test_file, variables, timeout=900):
    """Runs Browser/<test_file> in node against Debian's Chromium, with the environment
    "variables" (its fixture); its output is printed, and every test in it must pass."""
    env = dict(os.environ)
    env.update(variables)
    env["CHROMIUM"] = CHROMIUM
    env.setdefault("SCREENSHOT_DIR", os.path.join(HERE, "..", "build", "screenshots"))
    os.makedirs(env["SCREENSHOT_DIR"], exist_ok=True)
    code, output = run(["node", "--test", "--test-concurrency=1", test_file], env=env, timeout=timeout)
    print(output)
    assert code == 0, output[-6000:]
    assert "# fail 0" in output and "# pass" in output, output[-3000:]
    return output


def test_the_web_page_modules_in_node():
    """The modules both pages share (Resources/WebShared) and their texts, without a browser
    (Resources/WebApp/test): every language of the one list has every text in both pages and
    mail templates; every key the markup and the code name exists; sizes read as in the mails."""
    webapp = os.path.join(HERE, "..", "Resources", "WebApp")
    if not os.path.isdir(os.path.join(webapp, "node_modules", "esbuild")):
        result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=webapp,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        assert result.returncode == 0, result.stdout
    tests = sorted(os.path.relpath(f, webapp) for f in glob.glob(os.path.join(webapp, "test", "*.test.mjs")))
    assert len(tests) >= 2, tests
    result = subprocess.run(["node", "--test"] + tests, cwd=webapp, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=300)
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "# fail 0" in result.stdout and "# pass" in result.stdout, result.stdout[-3000:]


def test_the_upload_page_in_chromium(node_packages, server):
    """Every browser scenario: the patient CD sent through the page with its receipt, no
    request outside the site, unticked studies not sent, resume after closing the page, a
    ZIP, a phone-sized screen, accessibility rules, the server's refusals."""
    env = dict(os.environ)
    env["INBOUND_URL"] = server.url + "/inbound/"
    env["INBOUND_ADMIN"] = "%s:%s" % harness.ADMIN  # the admin page shows the same size
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


# A logo whose script, if it ever ran in the site's origin, would mark the document and ban an
# address with the admin's cached credentials and the header of the site's own scripts.
SCRIPTED_LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40">
<style>rect { fill: #1f5c99; }</style><rect width="160" height="40"/>
<script>document.documentElement.setAttribute("data-script-ran", "1");
fetch("/inbound/admin/bans", {method: "POST", credentials: "include",
  headers: {"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"},
  body: JSON.stringify({entry: "198.51.100.7", reason: "from the logo"})});</script></svg>"""


def test_cross_site_requests_change_nothing_in_chromium(node_packages, start_server, tmp_path):
    """Cross-site request forgery (Browser/csrf.test.mjs): the admin is logged in, a page of
    another site (another loopback address) tries forged GETs with _method, form POSTs in the
    three encodings, no-cors fetches, overrides, against the plugin's admin routes and Orthanc's
    own API; the SVG logo is opened directly. Nothing changes on the server: the upload is
    there and not released, no ban, the patients are there, no script ran. Then the admin page
    (ban, lift, delete an upload) and Orthanc Explorer (anonymize, delete, upload) still work."""
    pacs = Pacs(str(tmp_path / "pacs")).start()
    try:
        logo = tmp_path / "logo.svg"
        logo.write_text(SCRIPTED_LOGO)
        server = start_server(inbound={"Branding": {"Logo": str(logo)}},
                              orthanc={"DicomModalities": {"pacs": pacs.modality()}})
        victim, _ = send(server, [data.Original(data.CT_SMALL)])
        released, _ = send(server, [data.Original(data.CT_SMALL)])
        doomed, _ = send(server, [data.Original(data.MR_SMALL)], recipient="trauma")
        victim_patient = server.admin_json("POST", "/instances", data=data.make_dicom("HOSP-KEEP"),
                                           headers={"Content-Type": "application/dicom"})["ParentPatient"]
        explorer_patient = server.admin_json(
            "POST", "/instances", data=data.make_dicom("HOSP-EXPLORER"),
            headers={"Content-Type": "application/dicom"})["ParentPatient"]
        explorer_file = tmp_path / "explorer-upload.dcm"
        explorer_file.write_bytes(data.make_dicom("OE-UPLOAD"))
        victim_studies = [s["orthancId"] for s in server.admin_upload(victim.id)["studies"]]
        fixture = {
            "admin": "%s:%s" % harness.ADMIN,
            "victimUpload": victim.id,
            "releaseUpload": released.id,
            "deleteUpload": doomed.id,
            "victimPatient": victim_patient,
            "explorerPatient": explorer_patient,
            "explorerFile": str(explorer_file),
            "modality": "pacs",
            "attackerHost": "127.0.0.2",
            "luaMarker": str(tmp_path / "lua-ran"),
        }
        env = dict(os.environ)
        env["INBOUND_URL"] = server.url + "/inbound/"
        env["INBOUND_CSRF_FIXTURE"] = json.dumps(fixture)
        env["CHROMIUM"] = CHROMIUM
        code, output = run(["node", "--test", "--test-concurrency=1", "csrf.test.mjs"],
                           env=env, timeout=900)
        print(output)

        # On the server: the forgeries changed nothing (checked before the browser's verdict,
        # so that a failure names what an attacker achieved).
        harmed = []
        upload = server.admin_upload(victim.id)
        if upload["state"] != "complete":
            harmed.append("the victim upload is %s" % upload["state"])
        for study in victim_studies:
            if server.admin("GET", "/studies/%s" % study).status_code != 200:
                harmed.append("the victim upload's study %s is gone" % study)
        for upload_id in (victim.id, released.id):
            forwards = server.admin_json("GET", "/inbound/admin/forwards",
                                         params={"upload": upload_id})["forwards"]
            if forwards:
                harmed.append("upload %s was released: %s" % (upload_id, forwards))
        time.sleep(2)
        if pacs.received():
            harmed.append("the PACS received %d files" % len(pacs.received()))
        bans = [b["entry"] for b in server.admin_json("GET", "/inbound/admin/limits")["bans"]]
        if bans:
            harmed.append("bans: %s" % bans)
        if server.admin("GET", "/patients/%s" % victim_patient).status_code != 200:
            harmed.append("the victim patient was deleted")
        if server.find("Patient", {"PatientID": "CSRF-CREATED"}):
            harmed.append("a forged POST /tools/create-dicom created a patient")
        if os.path.exists(fixture["luaMarker"]):
            harmed.append("a forged Lua script ran")
        # What the admin did in the same browser did happen.
        done = []
        if server.admin_upload(doomed.id)["state"] != "deleted":
            done.append("the admin page did not delete upload %s" % doomed.id)
        if server.admin("GET", "/patients/%s" % explorer_patient).status_code != 404:
            done.append("Orthanc Explorer did not delete its patient")
        if not server.find("Patient", {"PatientID": "OE-UPLOAD"}):
            done.append("Orthanc Explorer's upload did not store the file")
        assert not harmed, "cross-site requests changed the server: %s\n%s" % (
            harmed, output[-6000:])
        assert not done, "%s\n%s" % (done, output[-6000:])
        assert code == 0, output[-6000:]
        assert "# fail 0" in output and "# pass" in output, output[-3000:]
    finally:
        pacs.stop()
