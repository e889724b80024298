"""A hospital's request link used by a sender in a real browser (Browser/requests.test.mjs, Debian's
Chromium with playwright-core): the page already addressed, no patient data before the
challenge, a wrong then the right birth date, a CD holding two patients where only the
requested one is ticked and sent, the receipt; an interrupted upload continued through its link;
a code link in German; a withdrawn and an unknown link; the requests-only page. Then what arrived
in Orthanc: only the requested patient's files."""

import io
import json
import os

import pydicom
from pydicom.uid import generate_uid

import checks
import data
import request_links
from test_browser import node_packages, run_browser_test  # noqa: F401 (a fixture)

EXPECTED = {"id": "HOSP-4711", "name": "Lindqvist^Maren", "birthDate": "19700131"}
OTHER = {"id": "CD-0815", "name": "Okafor^Chidi", "birthDate": "19811124"}
# Text that would be markup if the page inserted the hospital's message as HTML.
MESSAGE = "Please send the CT of 12 May <b>before</b> the appointment."


def patient_files(patient, count, folder):
    """`count` files of one study of `patient` (its id on the CD, name and birth date) written
    into `folder`: the Originals."""
    study = generate_uid()
    series = generate_uid()
    originals = []
    for i in range(count):
        ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient["id"], study_uid=study, series_uid=series)))
        ds.PatientName = patient["name"]
        ds.PatientBirthDate = patient["birthDate"]
        ds.StudyDescription = "CT for " + patient["name"].split("^")[0]
        ds.InstanceNumber = i + 1
        buffer = io.BytesIO()
        ds.save_as(buffer, write_like_original=False)
        path = os.path.join(folder, "%s-%d.dcm" % (patient["id"], i))
        with open(path, "wb") as f:
            f.write(buffer.getvalue())
        originals.append(data.Original(path))
    return originals


def create_request(server, **fields):
    """A request for EXPECTED to the recipient "trauma", with two uploads: its 201 answer."""
    answer, _ = request_links.create(server, recipient="trauma", patient=dict(EXPECTED), message=MESSAGE,
                                     maxUploads=2, **fields)
    return answer


def test_a_request_link_in_chromium(node_packages, server, start_server, tmp_path):  # noqa: F811
    cd = tmp_path / "CD"
    cd.mkdir()
    wanted = patient_files(EXPECTED, 3, str(cd))
    unwanted = patient_files(OTHER, 2, str(cd))

    request = create_request(server, challenge="birthDate", language="en")
    resumable = create_request(server, challenge="none")
    coded = create_request(server, challenge="code", language="de")
    assert coded["code"], coded
    revoked = create_request(server, challenge="birthDate")
    r = server.admin("DELETE", "/inbound/admin/requests/%s" % revoked["id"])
    assert r.status_code == 200, r.text
    requests_only = start_server(inbound={"OpenUploads": False})
    before = server.all_instances()

    # The link as the hospital gave it, on this test's server.
    def link(answer):
        return server.url + "/inbound/r/" + request_links.token_of(answer["url"])

    fixture = {
        "link": link(request),
        "resumableLink": link(resumable),
        "codeLink": link(coded),
        "code": coded["code"],
        "revokedLink": link(revoked),
        "unknownLink": server.url + "/inbound/r/" + "Q" * 43,
        "requestsOnlyUrl": requests_only.url + "/inbound/",
        "cd": str(cd),
        "message": MESSAGE,
        "expected": {"name": EXPECTED["name"], "birthDate": EXPECTED["birthDate"]},
        "other": {"name": OTHER["name"]},
        "sendFiles": len(wanted),
    }
    run_browser_test("requests.test.mjs", {"INBOUND_REQUEST_FIXTURE": json.dumps(fixture)})

    # Each of the two requests sent from has one upload (the interrupted one continued, not
    # opened again): the requested patient's files, byte for byte as sent but for the upload's
    # PatientID namespace; the other patient's files never arrived.
    for answer in (request, resumable):
        shown = request_links.show(server, answer["id"])
        assert shown["usedUploads"] == 1, shown
        assert len(shown["uploads"]) == 1, shown
        upload_id = shown["uploads"][0]["id"]
        assert shown["uploads"][0]["files"] == len(wanted), shown
        upload = server.admin_upload(upload_id)
        assert upload["state"] in ("complete", "delivered"), upload
        assert upload["recipient"]["id"] == "trauma", upload
        assert upload["request"]["id"] == answer["id"], upload
        assert upload["message"] == "The CT you asked for", upload
        stored = server.instances_of_upload(upload_id)
        assert set(stored) == {o.sop_instance_uid for o in wanted}
        for original in wanted:
            checks.assert_same_dicom_but_patient(
                original, server.instance_file(stored[original.sop_instance_uid]["ID"]), upload_id)
    assert len(server.all_instances() - before) == 2 * len(wanted)
    for original in unwanted:
        assert not server.find("Instance", {"SOPInstanceUID": original.sop_instance_uid})

    # The code link was opened and answered but nothing was sent with it; the requests-only
    # server stored nothing.
    assert request_links.show(server, coded["id"])["usedUploads"] == 0
    assert requests_only.all_instances() == set()
    assert requests_only.admin_uploads() == []
