"""A partner clinic's Orthanc (the shipped Partner.json + Partner.lua, Debian's DICOMweb plugin)
sends to a Standalone hospital by itself: the patient CD put into the clinic's Orthanc (REST or
the modality's C-STORE) arrives isolated with the hashes of the bytes sent, one upload and one
mail per study, chunked or not, again as a new upload when the study changes later, and after
the hospital was down."""

import pytest

import conftest
import data
import partner_support
from mail_support import SmtpSink
from partner_support import (PartnerSender, assert_arrived, assert_one_mail_per_upload,
                             assert_partner_figures, assert_sent, uploads_of, wait_uploads)

TWO_STUDIES = ("77654033",)   # the CD's first patient: a CR and a CT study


@pytest.fixture
def start_site(plugin, tmp_path):
    """start_site(**sender options) -> (hospital, sink, sender): a Standalone hospital with the
    partner, mailing to an SMTP sink, and the clinic's Orthanc sending straight to it. Each
    server is checked to be still running and to stop cleanly at the end."""
    made = []

    def start(**options):
        sink = SmtpSink(str(tmp_path / ("sink%d" % len(made)))).start()
        hospital = partner_support.hospital(plugin, sink)
        sender = PartnerSender(hospital.url + "/inbound/dicom-web/", stable_age=2, **options)
        made.append((sink, hospital, sender))
        for server in (hospital, sender):
            conftest.LIVE_SERVERS.append(server)
            server.start()
        return hospital, sink, sender

    yield start
    errors = []
    for sink, hospital, sender in made:
        for server in (sender, hospital):
            try:
                conftest._cleanup(server, check=True)
            except AssertionError as e:
                errors.append(str(e))
        sink.stop()
    assert not errors, "\n".join(errors)


def cd(folders=data.CD_FOLDERS):
    return [data.Original(p) for p in data.cd_images(folders)]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_the_patient_cd_put_in_by_rest_arrives_by_itself(start_site, chunked):
    hospital, sink, sender = start_site(chunked=chunked)
    originals = cd()
    studies = data.studies_of(originals)
    assert len(originals) == 31 and len(studies) == 6
    for o in originals:
        sender.store(o.data)

    uploads = wait_uploads(hospital, len(studies))
    sent = sender.files()
    # What the clinic's Orthanc holds and sent is the CD, byte for byte.
    assert sorted(sent) == sorted(o.sha256 for o in originals)
    assert_arrived(hospital, uploads, sent)
    assert_one_mail_per_upload(sink, hospital, uploads)
    assert len(uploads_of(hospital)) == len(studies), "one upload per study, nothing else"
    assert_sent(sender, len(studies))
    assert_partner_figures(hospital, uploads, sent, requests_=len(studies))


def test_the_patient_cd_sent_by_the_modality_arrives_by_itself(start_site):
    hospital, sink, sender = start_site()
    paths = data.cd_images()
    sender.c_store(paths)
    studies = data.studies_of([data.Original(p) for p in paths])

    uploads = wait_uploads(hospital, len(studies))
    # C-STORE: the clinic's Orthanc wrote each file itself; those are the bytes it sent.
    sent = sender.files()
    assert len(sent) == len(paths)
    assert_arrived(hospital, uploads, sent)
    assert_one_mail_per_upload(sink, hospital, uploads)
    assert len(uploads_of(hospital)) == len(studies)
    assert_sent(sender, len(studies))


def test_a_study_that_grows_after_it_was_complete_is_sent_again_as_a_new_upload(start_site):
    """A two-study CD: two uploads, two mails. Later one more image of the CT study reaches the
    clinic: the study is stable again, sent again whole, and is a third upload (a third mail);
    the first two stay as they were."""
    hospital, sink, sender = start_site(chunked=False)
    originals = cd(TWO_STUDIES)
    late = [o for o in originals if str(o.ds.Modality) == "CT"][-1]
    first = [o for o in originals if o is not late]
    assert len(data.studies_of(first)) == 2
    for o in first:
        sender.store(o.data)
    uploads = wait_uploads(hospital, 2)
    by_study = assert_arrived(hospital, uploads, {o.sha256: o for o in first})
    assert_one_mail_per_upload(sink, hospital, uploads)
    assert_sent(sender, 2)

    sender.store(late.data)
    again = wait_uploads(hospital, 3)
    [third] = [u for u in again if u["id"] not in {u["id"] for u in uploads}]
    ct = {o.sha256: o for o in originals if o.study_instance_uid == late.study_instance_uid}
    assert len(ct) == 4
    assert_arrived(hospital, [third], ct)
    assert third["studies"][0]["orthancId"] != by_study[late.study_instance_uid]["studies"][0][
        "orthancId"], "the new upload is a study of its own namespace"
    # The earlier uploads are unchanged.
    assert assert_arrived(hospital, [u for u in again if u["id"] != third["id"]],
                          {o.sha256: o for o in first}).keys() == by_study.keys()
    sink.wait_for(3, timeout=30)
    assert_one_mail_per_upload(sink, hospital, again)
    assert_sent(sender, 2, jobs=3)   # the CT study's second job


def test_a_study_stable_while_the_hospital_is_down_arrives_once_it_is_back(start_site):
    hospital, sink, sender = start_site(retry_base=2, retry_max=2)
    hospital.stop()
    originals = [o for o in cd(TWO_STUDIES) if str(o.ds.Modality) == "CR"]
    for o in originals:
        sender.store(o.data)
    [study] = sender.admin_json("GET", "/studies")
    assert sender.wait_state(study, "retry 2 ")   # the first attempt failed: refused
    assert sender.wait_state(study, "retry 3 ")   # and the next, while the hospital is down

    hospital.start()
    # The next Lua event after the back-off (here the polls of wait_state, in a clinic a
    # study arriving or the health check) sends it again, as a new job.
    assert sender.wait_state(study, "sent ", timeout=30)
    [upload] = wait_uploads(hospital, 1)
    assert_arrived(hospital, [upload], {o.sha256: o for o in originals})
    assert_one_mail_per_upload(sink, hospital, [upload])
    states = [j["State"] for j in sender.stow_jobs()]
    assert len(states) >= 3 and states[-1] == "Success" and \
        set(states[:-1]) == {"Failure"}, states
    assert len(uploads_of(hospital)) == 1
