"""A partner's STOW-RS request into a real Orthanc (Standalone): every part stored isolated
with its hash, one upload per study with the partner as sender, complete after QuietSeconds,
and the STOW-RS answer listing every instance; refusals per part; a study sent again later is
a new upload."""

import hashlib
import http.client
import json
import time
import uuid

import pytest

import data
from gateway_support import audit
from harness import RECIPIENTS

TOKEN = "In7_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"
QUIET = 2


@pytest.fixture(scope="module")
def hospital(plugin):
    import conftest
    s = conftest._start(plugin, inbound={
        "Partners": [
            {"Id": "clinic-a", "Name": "Clinic A", "Institution": "Clinic A Radiology",
             "Email": "pacs@clinic-a.example", "TokenSha256": hashlib.sha256(
                 TOKEN.encode()).hexdigest(), "Recipient": RECIPIENTS[0]["Id"],
             "Limits": {"QuietSeconds": QUIET, "DailyStudies": 100}}]})
    yield s
    conftest._cleanup(s, check=True)


def multipart(parts, boundary=None):
    boundary = boundary or uuid.uuid4().hex
    body = b""
    for part in parts:
        body += (b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(part) + part + b"\r\n")
    body += b"--" + boundary.encode() + b"--"
    return 'multipart/related; type="application/dicom"; boundary=' + boundary, body


def stow(server, parts, study=None, chunked=False):
    content_type, body = multipart(parts)
    path = "/inbound/dicom-web/studies" + ("/" + study if study else "")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Content-Type": content_type, "Authorization": "Bearer " + TOKEN,
               "Accept": "application/dicom+json"}
    if chunked:
        connection.putrequest("POST", path)
        for name, value in dict(headers, **{"Transfer-Encoding": "chunked"}).items():
            connection.putheader(name, value)
        connection.endheaders()
        for start in range(0, len(body), 65524):
            piece = body[start:start + 65524]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
    else:
        connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    status, raw = response.status, response.read()
    connection.close()
    return status, json.loads(raw.decode()) if raw else None


def referenced(answer):
    return [item["00081155"]["Value"][0] for item in
            (answer.get("00081199", {}).get("Value") or [])]


def failed(answer):
    return [(item["00081155"]["Value"][0], item["00081197"]["Value"][0]) for item in
            (answer.get("00081198", {}).get("Value") or [])]


def partner_uploads(server, study=None):
    uploads = server.admin_json("GET", "/inbound/admin/uploads")["uploads"]
    found = [u for u in uploads if u["partner"] is not None]
    assert all(u["consentVersion"] == "partner" for u in found)
    if study is not None:
        found = [u for u in found
                 if any(s["studyInstanceUid"] == study for s in u.get("studies") or [])]
    return found


def wait_state(server, upload_id, state, timeout):
    deadline = time.time() + timeout
    while True:
        upload = server.admin_json("GET", "/inbound/admin/uploads/" + upload_id)
        if upload["state"] == state or time.time() > deadline:
            return upload
        time.sleep(0.2)


def instance_metadata(server, orthanc_id, name):
    return server.admin("GET", "/instances/%s/metadata/%s" % (orthanc_id, name)).text


def test_a_study_is_stored_isolated_and_completes_after_the_quiet_time(hospital):
    cd = [data.Original(p) for p in data.cd_images()]
    studies = data.studies_of(cd)
    study = max(studies, key=lambda uid: studies[uid]["instances"])
    originals = [o for o in cd if o.study_instance_uid == study][:4]
    assert len(originals) >= 2
    status, answer = stow(hospital, [o.data for o in originals], chunked=True)
    assert status == 200, answer
    assert sorted(referenced(answer)) == sorted(o.sop_instance_uid for o in originals)
    assert failed(answer) == []

    uploads = partner_uploads(hospital, study)
    assert len(uploads) == 1
    upload = uploads[0]
    assert upload["state"] == "open"
    assert upload["partner"] == "clinic-a"
    assert upload["sender"]["name"] == "Clinic A"
    assert upload["sender"]["institution"] == "Clinic A Radiology"
    assert upload["recipient"]["id"] == RECIPIENTS[0]["Id"]
    assert upload["files"] == len(originals)

    # Stored in Orthanc under the upload's isolated PatientID, each with the hash of its bytes.
    detail = hospital.admin_json("GET", "/inbound/admin/uploads/" + upload["id"])
    orthanc_study = detail["studies"][0]["orthancId"]
    assert detail["studies"][0]["patientId"].startswith("INB-" + upload["id"])
    instances = hospital.admin_json("GET", "/studies/%s/instances" % orthanc_study)
    hashes = sorted(instance_metadata(hospital, i["ID"], "InboundSha256") for i in instances)
    assert hashes == sorted(o.sha256 for o in originals)

    # Complete about QuietSeconds after the last part, with a receipt and an audit entry.
    done = wait_state(hospital, upload["id"], "complete", QUIET + 2)  # checked each second
    assert done["state"] == "complete" and done["receiptCode"]
    events = audit(hospital)
    assert any(e["event"] == "upload-complete" and e["uploadId"] == upload["id"] for e in events)
    assert any(e["event"] == "partner-stow" and "clinic-a" in e["detail"] and
               "%d stored" % len(originals) in e["detail"] for e in events)

    # The same study later: a new upload; the same bytes again are fine (referenced).
    status, answer = stow(hospital, [originals[0].data])
    assert status == 200 and referenced(answer) == [originals[0].sop_instance_uid]
    assert len(partner_uploads(hospital, study)) == 2


def test_two_studies_in_one_request_are_two_uploads(hospital):
    a = data.Original(data=data.make_dicom(patient_id="TWO-A"))
    b = data.Original(data=data.make_dicom(patient_id="TWO-B"))
    status, answer = stow(hospital, [a.data, b.data])
    assert status == 200, answer
    assert len(partner_uploads(hospital, a.study_instance_uid)) == 1
    assert len(partner_uploads(hospital, b.study_instance_uid)) == 1


def test_bad_parts_fail_alone_and_the_rest_is_stored(hospital):
    good = data.Original(data=data.make_dicom(patient_id="MIX-1"))
    before = len(hospital.admin_json("GET", "/instances"))
    status, answer = stow(hospital, [good.data, b"this is not DICOM"])
    assert status == 202, answer
    assert referenced(answer) == [good.sop_instance_uid]
    assert [i["00081197"]["Value"][0] for i in answer["0008119A"]["Value"]] == [0xC000]
    assert "00081198" not in answer
    assert len(hospital.admin_json("GET", "/instances")) == before + 1


def test_a_part_of_another_study_than_the_route_is_refused(hospital):
    part = data.Original(data=data.make_dicom(patient_id="MISMATCH"))
    before = len(hospital.admin_json("GET", "/instances"))
    status, answer = stow(hospital, [part.data], study="1.2.3.4.5")
    assert status == 409, answer
    assert failed(answer) == [(part.sop_instance_uid, 0xC409)]
    assert len(hospital.admin_json("GET", "/instances")) == before
    assert partner_uploads(hospital, part.study_instance_uid) == []
