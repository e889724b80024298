"""The partner clinic's side as shipped (Partner.json + Partner.lua, Debian's DICOMweb plugin)
against a capture STOW-RS receiver: what it sends by itself, byte for byte, its retries with
back-off, a restart in the middle, and a REST API that stays responsive while it sends."""

import hashlib
import json
import os
import time

import pytest

import conftest
import data
from partner_support import (TOKEN, CaptureReceiver, PartnerSender, orthanc_study_id,
                             study_of)


@pytest.fixture
def start_pair():
    """start_pair(script=..., **sender options) -> (receiver, sender); both stopped at the end,
    the sender checked to be still running and to stop cleanly on SIGTERM."""
    started = []

    def start(script=(), slow_seconds=5.0, **options):
        receiver = CaptureReceiver(script, slow_seconds).start()
        sender = PartnerSender(receiver.url, **options)
        started.append((receiver, sender))
        conftest.LIVE_SERVERS.append(sender)
        sender.start()
        return receiver, sender

    yield start
    errors = []
    for receiver, sender in started:
        try:
            conftest._cleanup(sender, check=True)
        except AssertionError as e:
            errors.append(str(e))
        finally:
            receiver.stop()
    assert not errors, "\n".join(errors)


def hashes(blobs):
    return sorted(hashlib.sha256(b).hexdigest() for b in blobs)


def one_study(count=3):
    study = data.generate_uid()
    series = data.generate_uid()
    return [data.make_dicom("CLINIC-1", study_uid=study, series_uid=series) for _ in range(count)]


def store_study(sender, files):
    for f in files:
        sender.store(f)
    return orthanc_study_id(sender, str(data.Original(data=files[0]).study_instance_uid))


def jobs_of(sender):
    return sender.stow_jobs()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_patient_cd_arrives_by_itself_one_request_per_study(start_pair, chunked):
    receiver, sender = start_pair(chunked=chunked)
    originals = [data.Original(p) for p in data.cd_images()]
    for o in originals:
        sender.store(o.data)
    studies = data.studies_of(originals)
    requests_ = receiver.wait_requests(len(studies))
    time.sleep(3)   # nothing more comes: one request per study
    assert len(receiver.requests) == len(studies)

    by_study = {}
    for r in requests_:
        assert r.path == "/inbound/dicom-web/studies"
        assert r.headers["Authorization"] == "Bearer " + TOKEN
        assert r.headers["Content-Type"].startswith('multipart/related; type="application/dicom"')
        if chunked:
            assert r.headers.get("Transfer-Encoding") == "chunked" and r.chunk_sizes
            assert "Content-Length" not in r.headers
        else:
            assert r.chunk_sizes is None
            assert int(r.headers["Content-Length"]) == len(r.body)
        assert all(h["content-type"] == "application/dicom" for h, _ in r.parts)
        uids = study_of(r)
        assert len(uids) == 1, "one request holds one study: %s" % uids
        by_study[uids.pop()] = [body for _, body in r.parts]
    assert sorted(by_study) == sorted(studies)
    for uid in studies:
        sent = [o.data for o in originals if o.study_instance_uid == uid]
        assert hashes(by_study[uid]) == hashes(sent), "study %s not byte for byte" % uid

    for uid in studies:
        assert sender.wait_state(orthanc_study_id(sender, uid), "sent ")
    jobs = jobs_of(sender)
    assert len(jobs) == len(studies) and all(j["State"] == "Success" for j in jobs)


# A back-off of 2 s at least: "retry 2 <time>" then lasts 1 s or more (os.time() counts whole
# seconds), long enough for the test's polls to see it before the next attempt replaces it.
def test_503_then_sent_again_with_every_instance_as_a_new_job(start_pair):
    receiver, sender = start_pair(script=["503"], retry_base=2)
    files = one_study(3)
    study = store_study(sender, files)
    first = receiver.wait_requests(1)[0]
    assert first.answer == ("503", 503)
    assert sender.wait_state(study, "retry 2 ")
    assert sender.wait_state(study, "sent ")
    requests_ = receiver.wait_requests(2)
    assert len(requests_) == 2 and requests_[1].answer == ("ok", 200)
    for r in requests_:   # never a resubmitted job, which would send no instance
        assert hashes(body for _, body in r.parts) == hashes(files)
    states = sorted(j["State"] for j in jobs_of(sender))
    assert states == ["Failure", "Success"]


def test_200_with_a_failed_instance_is_not_done(start_pair):
    receiver, sender = start_pair(script=["200-failed"], retry_base=2)
    files = one_study(2)
    study = store_study(sender, files)
    first = receiver.wait_requests(1)[0]
    assert first.answer == ("200-failed", 200)
    assert sender.wait_state(study, "retry 2 ").startswith("retry 2 ")
    assert sender.wait_state(study, "sent ")
    requests_ = receiver.wait_requests(2)
    assert hashes(body for _, body in requests_[1].parts) == hashes(files)
    assert sorted(j["State"] for j in jobs_of(sender)) == ["Failure", "Success"]


def test_retries_back_off_up_to_the_maximum(start_pair):
    # RetryBaseSeconds 1, RetryMaxSeconds 4: waits of 1, 2, 4, 4 s (os.time() counts whole
    # seconds, so each wait may end up to 1 s early); the sender's own polling is its clock.
    receiver, sender = start_pair(script=["503"] * 4, retry_base=1, retry_max=4)
    study = store_study(sender, one_study(1))
    assert sender.wait_state(study, "sent ", timeout=60)
    arrivals = []
    for r in receiver.requests:
        arrivals.append(r.received_at)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert len(gaps) == 4, gaps
    for gap, wait in zip(gaps, [1, 2, 4, 4]):
        assert wait - 1 <= gap < wait + 3, gaps


def test_restart_during_back_off_resumes_from_the_metadata(start_pair):
    receiver, sender = start_pair(script=["503"], retry_base=5, retry_max=5)
    files = one_study(2)
    study = store_study(sender, files)
    assert sender.wait_state(study, "retry 2 ")
    sender.restart()
    assert sender.wait_state(study, "sent ", timeout=30)
    requests_ = receiver.wait_requests(2)
    assert len(requests_) == 2
    assert hashes(body for _, body in requests_[1].parts) == hashes(files)


def test_rest_api_responsive_while_the_receiver_is_slow(start_pair):
    receiver, sender = start_pair(script=["slow"], slow_seconds=8)
    study = store_study(sender, one_study(3))
    receiver.wait_requests(1)        # the hospital holds the answer for 8 s from here
    started = time.monotonic()
    for path in ["/system", "/studies", "/jobs"]:
        t0 = time.monotonic()
        r = sender.admin("GET", path)
        assert r.status_code == 200 and time.monotonic() - t0 < 1.0, path
    t0 = time.monotonic()
    sender.store(data.make_dicom("CLINIC-2"))   # the modality keeps storing meanwhile
    assert time.monotonic() - t0 < 1.0
    assert time.monotonic() - started < 4.0, "all answered while the STOW-RS request waited"
    assert sender.state(study).startswith("queued 1 ")
    assert [j["State"] for j in jobs_of(sender)] == ["Running"]
    assert sender.wait_state(study, "sent ", timeout=30)


def test_installed_as_doc_operations_says_next_to_debians_other_files(tmp_path):
    """/etc/orthanc as doc/Operations.md leaves it: Partner.json next to the Debian files that
    stay starts; Debian's dicomweb.json left beside it stops Orthanc (the clash it warns of)."""
    import glob
    import shutil
    import subprocess
    import harness
    sender = PartnerSender("http://127.0.0.1:9/inbound/dicom-web/")
    sender.port, sender.dicom_port = harness.free_port(), harness.free_port()
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("serve-folders.json", "worklists.json", "postgresql.json"):
        for found in glob.glob("/etc/orthanc/" + name):
            shutil.copy(found, etc)
    with open(etc / "partner.json", "w") as f:
        json.dump(sender.configuration(), f)
    log = open(tmp_path / "orthanc.log", "wb")
    process = subprocess.Popen([harness.ORTHANC, str(etc)], stdout=log, stderr=subprocess.STDOUT,
                               cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 30
        answered = None
        while time.monotonic() < deadline and answered is None and process.poll() is None:
            try:
                answered = sender.admin("GET", "/plugins", timeout=2).json()
            except Exception:
                time.sleep(0.2)
        assert answered is not None and "dicom-web" in answered, \
            (tmp_path / "orthanc.log").read_text()
    finally:
        process.terminate()
        assert process.wait(20) == 0
    shutil.copy(data_dicomweb_json(), etc)
    process = subprocess.Popen([harness.ORTHANC, str(etc)], stdout=log, stderr=subprocess.STDOUT,
                               cwd=str(tmp_path))
    try:
        code = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
    text = (tmp_path / "orthanc.log").read_text(errors="replace")
    assert code != 0, text[-2000:]
    assert 'The configuration section "DicomWeb" is defined in 2 different configuration files' \
        in text, text[-2000:]


def data_dicomweb_json():
    """Debian's /etc/orthanc/dicomweb.json (package orthanc-dicomweb)."""
    path = "/etc/orthanc/dicomweb.json"
    assert os.path.isfile(path), "the Debian package orthanc-dicomweb is not installed"
    return path
