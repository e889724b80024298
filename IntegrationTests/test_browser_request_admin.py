"""Request links from the staff side in a real browser (Browser/request-admin.test.mjs): a
request created in the admin page, its letter printed to PDF and the QR code read back from the
paper image (poppler's pdftoppm, zbar's zbarimg) as exactly the link shown, the link opening the
request; revocation from the page; Orthanc Explorer's "Request images" on a hospital patient;
the release dialog filled in from a bound upload's request."""

import io
import json
import shutil
import subprocess
import time

import pydicom
import pytest

import data
import harness
import test_browser
from harness import Upload
from mail_support import SmtpSink
from test_browser import run_browser_test

node_packages = test_browser.node_packages  # the fixture: npm ci of Browser/

HOSPITAL = {"id": "HOSP-4711", "name": "DOE^JANE", "birthDate": "19700131"}
BOUND = {"id": "HOSP-0815", "name": "ROE^RICHARD", "birthDate": "19650704"}
OTHER = {"id": "CD-PATIENT", "name": "POE^EDGAR", "birthDate": "19090119"}
SENDER_EMAIL = "practice@clinic.example"


def dicom_of(patient, patient_id=None):
    """A small file of a patient as the hospital (or a CD) has it."""
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id or patient["id"])))
    ds.PatientName = patient["name"]
    ds.PatientBirthDate = patient["birthDate"]
    buffer = io.BytesIO()
    ds.save_as(buffer, write_like_original=False)
    return buffer.getvalue()


def mails_to(sink, address, timeout=20.0):
    """The mails the sink received for "address", waiting for the first one."""
    deadline = time.monotonic() + timeout
    while True:
        mails = [m for m in sink.mails() if address in m.rcpt_tos]
        if mails or time.monotonic() > deadline:
            return mails
        time.sleep(0.1)


def token_of(url):
    return url.rstrip("/").rsplit("/", 1)[1]


def bound_upload(server, on_the_cd):
    """A request made through the admin API, its challenge passed, and an upload sent with it
    (what a sender's page does) holding a CD of the patient "on_the_cd"; returns once the
    plugin has compared it with the expected patient."""
    created = server.admin_json("POST", "/inbound/admin/requests", expected=201, json={
        "recipient": "neuroradiology", "patient": BOUND, "challenge": "birthDate",
        "message": "Images of the knee, please"})
    token = token_of(created["url"])
    r = server.request("POST", "/inbound/api/requests/%s/challenge" % token,
                       json={"answer": "1965-07-04"})
    assert r.status_code == 200, r.text[:500]
    ticket = r.json()["ticket"]
    upload = Upload.open(server, request={"token": token, "ticket": ticket})
    upload.put_ok(dicom_of(on_the_cd, "CD-77"))
    upload.complete_ok()
    deadline = time.monotonic() + 20
    detail = server.admin_upload(upload.id)
    while detail["request"]["matched"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
        detail = server.admin_upload(upload.id)
    assert detail["request"]["id"] == created["id"], detail.get("request")
    assert detail["request"]["patient"]["id"] == BOUND["id"]
    assert detail["request"]["matched"] is (on_the_cd == BOUND), detail["request"]
    return {"upload": upload.id, "request": created["id"], "patient": BOUND,
            "study": detail["studies"][0]["orthancId"]}


@pytest.mark.usefixtures("node_packages")
def test_requests_in_the_admin_page_and_explorer_in_chromium(start_server, tmp_path):
    """Create, print (PDF → image → QR decoded = the link), open, revoke; Explorer's button
    on a hospital patient and none on a patient the plugin isolated; the release dialog."""
    for tool in ("pdftoppm", "zbarimg", "pdfinfo", "pdftotext"):
        assert shutil.which(tool), "%s is missing (Resources/Scripts/install-dependencies.sh)" % tool
    sink = SmtpSink(str(tmp_path / "smtp")).start()
    try:
        run_the_browser_test(start_server, tmp_path, sink)
    finally:
        sink.stop()


def run_the_browser_test(start_server, tmp_path, sink):
    server = start_server(
        inbound={"Smtp": {"Host": "127.0.0.1", "Port": sink.port, "Security": "None",
                          "From": "inbound@hospital.example", "Timeout": 10},
                 "Notifications": {"OrthancUrl": "http://127.0.0.1:8042/", "RetryInterval": 1}},
        orthanc={"DicomModalities": {"pacs": ["PACS", "127.0.0.1", harness.free_port()]}})
    hospital = server.admin_json("POST", "/instances", data=dicom_of(HOSPITAL),
                                 headers={"Content-Type": "application/dicom"})
    bound = bound_upload(server, BOUND)
    other = bound_upload(server, OTHER)
    isolated_patient = server.admin_json("GET", "/studies/%s" % bound["study"])["ParentPatient"]
    result_file = tmp_path / "result.json"
    fixture = {
        "admin": "%s:%s" % harness.ADMIN,
        "siteName": "Test Hospital",
        "recipient": {"id": "neuroradiology", "name": "Neuroradiology"},
        "hospitalPatient": dict(HOSPITAL, uuid=hospital["ParentPatient"]),
        "isolatedPatient": isolated_patient,
        "bound": bound,
        "mismatched": other,
        "modality": "pacs",
        "senderEmail": SENDER_EMAIL,
        "work": str(tmp_path),
        "result": str(result_file),
    }
    run_browser_test("request-admin.test.mjs", {
        "INBOUND_URL": server.url + "/inbound/", "INBOUND_REQUEST_FIXTURE": json.dumps(fixture)})

    # What the browser did, as the server holds it: the request created in the page, its
    # link printed and then revoked from the page.
    result = json.loads(result_file.read_text())
    created = server.admin_json("GET", "/inbound/admin/requests/%s" % result["revoked"])
    assert created["status"] == "revoked"
    assert created["patient"] == HOSPITAL
    assert created["challenge"] == "code"
    assert not created["forwardTo"]
    assert created["recipient"]["id"] == "neuroradiology"
    harness.assert_error(server.request("GET", "/inbound/api/requests/%s" % token_of(result["revokedUrl"])),
                         410, "request-revoked")
    # The request the page left active still answers, in its own language.
    answer = server.request("GET", "/inbound/api/requests/%s" % token_of(result["activeUrl"]))
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["language"] == "de"
    assert answer.json()["challenge"] == "birthDate"
    # The link of the request with a sender's e-mail was mailed, without its code.
    mails = mails_to(sink, SENDER_EMAIL)
    assert len(mails) == 1, sink.mails()
    assert result["revokedUrl"] in mails[0].everything()
    assert result["code"] not in mails[0].everything()
    assert result["code"].replace("-", "") not in mails[0].everything()
    # The link is nowhere at rest: not in the ledger's answers, not in the audit trail.
    events = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 1000})["events"]
    names = [e["event"] for e in events]
    assert "request-created" in names and "request-revoked" in names, names
    for url in (result["revokedUrl"], result["activeUrl"]):
        assert token_of(url) not in json.dumps(events)
        assert token_of(url) not in json.dumps(server.admin_json("GET", "/inbound/admin/requests"))
    # Nothing was released by opening the dialog.
    for upload in (bound, other):
        assert server.admin_json("GET", "/inbound/admin/forwards",
                                 params={"upload": upload["upload"]})["forwards"] == []


def test_zbarimg_reads_only_what_is_printed(tmp_path):
    """The QR reader the browser test relies on: a page without a QR code gives no text
    (exit 4), so that a letter whose QR code is missing cannot pass."""
    blank = tmp_path / "blank.pbm"
    blank.write_bytes(b"P1\n8 8\n" + b"0 " * 64 + b"\n")
    result = subprocess.run(["zbarimg", "-q", "--raw", str(blank)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert result.returncode == 4 and result.stdout == "", (result.returncode, result.stdout)
