"""The upload page sends several files at once, and retries on its own: parallel requests
must neither lose nor duplicate anything."""

from concurrent.futures import ThreadPoolExecutor

import pydicom.uid

import data
from harness import Upload


def test_parallel_puts_with_duplicates(server):
    study = pydicom.uid.generate_uid()
    series = pydicom.uid.generate_uid()
    bodies = [data.make_dicom(patient_id="PARALLEL-1", rows=64, columns=64, study_uid=study,
                              series_uid=series) for _ in range(24)]
    originals = [data.Original(data=b) for b in bodies]
    before = server.count_instances()
    upload = Upload.open(server)

    # Every file sent three times, all requests in flight together.
    work = [o for o in originals for _ in range(3)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda o: (o, upload.put(o.data, content_type=
                                                        "application/octet-stream")), work))

    statuses = {}
    for original, r in answers:
        assert r.status_code in (200, 201), "%d %s" % (r.status_code, r.text)
        assert r.json()["sha256"] == original.sha256
        statuses.setdefault(original.sha256, []).append(r.status_code)
    for sha, codes in statuses.items():
        assert sorted(codes) == [200, 200, 201], (sha, codes)

    assert server.count_instances() == before + 24
    stored = server.instances_of_upload(upload.id)
    assert set(stored) == {o.sop_instance_uid for o in originals}
    status = upload.status_json()
    assert status["receivedFiles"] == 24
    assert sorted(f["sha256"] for f in status["files"]) == sorted(o.sha256 for o in originals)

    receipt = upload.complete_ok()
    assert receipt["files"] == 24
    assert [(s["studyInstanceUid"], s["instances"]) for s in receipt["studies"]] == [(study, 24)]


def test_parallel_uploads_stay_apart(server):
    files = [data.Original(p) for p in data.cd_images(["98892003"])]
    before = server.count_instances()
    uploads = [Upload.open(server) for _ in range(3)]

    def send(upload):
        return [upload.put(o.data).status_code for o in files]

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(send, uploads))
    assert all(codes == [201] * len(files) for codes in results), results
    assert server.count_instances() == before + 3 * len(files)
    patients = set()
    for upload in uploads:
        found = server.patients_of_upload(upload.id)
        assert len(found) == 1
        patients.add(found[0]["ID"])
        assert len(server.instances_of_upload(upload.id)) == len(files)
    assert len(patients) == 3
