"""Files of an open upload are paced by files per second (Limits.FilesPerSecond, FileBurst), not
by the request rate, so that a CD of many small files goes at the speed of the line; a flood of
file PUTs from one address is still stopped: wrong tokens stay on the request bucket and count
as refusals, tiny files with the right token run into the files bucket and the automatic ban.
doc/Security.md, "Rate limits for files".

Clients are told apart without a proxy: the servers trust 127.0.0.1 (see test_limits.py).
"""

import time

import pytest

import harness
import samples
from gateway_support import (assert_retry_after, finish, fixed_size_dicom, limits, open_upload,
                             put, refused, start, upload_of, wait_for_audit, xff)
from harness import assert_error
from proxy import NginxProxy

TRUSTED = {"TrustedProxies": ["127.0.0.1"]}


def info(server, address):
    return server.request("GET", "/inbound/api/info", headers=xff(address))


def stored(upload):
    return {f["sha256"] for f in upload.status_json()["files"]}


@pytest.fixture(scope="module")
def paced(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "Limits": {"RequestsPerSecond": 1, "RequestBurst": 5,
                   "FilesPerSecond": 2, "FileBurst": 12}}))
    yield s
    finish(s)


def test_the_page_reads_the_files_limits(paced):
    answer = info(paced, "203.0.113.40").json()["limits"]
    assert (answer["filesPerSecond"], answer["fileBurst"]) == (2, 12)
    assert (answer["requestsPerSecond"], answer["requestBurst"]) == (1, 5)
    described = limits(paced)["limits"]
    assert (described["filesPerSecond"], described["fileBurst"]) == (2, 12)


def test_the_shipped_files_limits(plugin):
    for server in samples.running(plugin, "Standalone.json"):
        answer = server.request("GET", "/inbound/api/info").json()["limits"]
        assert (answer["filesPerSecond"], answer["fileBurst"]) == (100, 1000)
        assert (answer["requestsPerSecond"], answer["requestBurst"]) == (20, 200)


def test_files_of_an_open_upload_are_paced_by_files_not_requests(paced):
    client = "203.0.113.42"
    upload = upload_of(paced, open_upload(paced, client))
    files = [fixed_size_dicom(4200 + i) for i in range(13)]
    # Twelve files where the request burst is five: the files bucket paces them.
    for i, payload in enumerate(files[:12]):
        r = put(upload, payload, client)
        assert r.status_code == 201, "file %d: %d %s" % (i + 1, r.status_code, r.text[:200])
    r = put(upload, files[12], client)
    assert_error(r, 503, "rate-limited")
    assert_retry_after(r, 1, 1)
    assert harness.sha256(files[12]) not in stored(upload)
    # The requests are still there for the page's other calls: the files took none.
    assert info(paced, client).status_code == 200
    # Sending a stored file again is a file too (paced, not free).
    time.sleep(1.1)
    assert put(upload, files[0], client).status_code == 200
    assert put(upload, files[12], client).status_code == 201
    wait_for_audit(paced, refused(client, 503, "rate-limited"), what="files-rate refusal")


@pytest.mark.parametrize("kind", ["wrong token", "unknown upload", "closed upload"])
def test_file_puts_that_are_no_file_of_an_open_upload_stay_on_the_request_bucket(paced, kind):
    client = {"wrong token": "203.0.113.43", "unknown upload": "203.0.113.44",
              "closed upload": "203.0.113.45"}[kind]
    owner = "203.0.113.46" if kind != "closed upload" else client
    upload = upload_of(paced, open_upload(paced, owner))
    payload = fixed_size_dicom(4300 + len(kind))
    if kind == "closed upload":
        assert put(upload, payload, client).status_code == 201
        assert upload.complete().status_code == 200
        expected = (409, "upload-closed")
    else:
        expected = (404, "not-found")
    if kind == "wrong token":
        upload.token = "x" * len(upload.token)
    if kind == "unknown upload":
        upload.id = "NOSUCHUPLOAD1"
    time.sleep(5.2)  # the owner's requests (open, put, complete) back in the bucket
    answers = [put(upload, payload, client) for _ in range(7)]
    codes = [(r.status_code, r.json().get("error")) for r in answers]
    assert codes[:5] == [expected] * 5, codes
    assert codes[5] == (503, "rate-limited"), codes
    assert_retry_after(answers[5], 1, 1)


def test_a_flood_of_tiny_files_with_the_right_token_is_stopped_and_banned(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "Limits": {"FilesPerSecond": 2, "FileBurst": 10},
        "AutoBan": {"Refusals": 1000, "LimitHits": 10, "WindowSeconds": 60, "BanSeconds": 60}}))
    try:
        client = "203.0.113.50"
        upload = upload_of(s, open_upload(s, client))
        statuses = []
        began = time.monotonic()
        for i in range(40):
            r = put(upload, fixed_size_dicom(4400 + i), client)
            statuses.append(r.status_code)
            if r.status_code == 403:
                assert r.content == b"", "a ban answers nothing"
                break
        elapsed = time.monotonic() - began
        accepted = statuses.count(201)
        assert statuses[:10] == [201] * 10, statuses
        assert accepted <= 10 + int(elapsed * 2) + 1, (elapsed, statuses)  # burst + 2/s
        assert 503 in statuses, statuses
        assert statuses[-1] == 403, "never banned: %s" % statuses
        assert statuses.count(503) <= 12, statuses  # LimitHits 10; a hit is counted after its answer
        ban = {b["entry"]: b for b in limits(s)["bans"]}[client]
        assert ban["automatic"] and ban["active"], ban
        assert info(s, client).status_code == 403
        assert info(s, "203.0.113.52").status_code == 200, "another client is not stopped"
        assert len(stored(upload)) == accepted
    finally:
        finish(s)


# ---------------------------------------------------------------------------- through nginx


@pytest.fixture(scope="module")
def behind_nginx(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "Limits": {"RequestsPerSecond": 1, "RequestBurst": 5,
                   "FilesPerSecond": 100, "FileBurst": 1000},
        "AutoBan": {"Refusals": 1000, "LimitHits": 30, "WindowSeconds": 60, "BanSeconds": 60}}))
    p = NginxProxy(s.port, max_body="100k").start()
    yield s, p
    p.cleanup()
    finish(s)


def open_through(proxy, source):
    with proxy.session(source) as session:
        r = session.post(proxy.url + "/inbound/api/uploads", json=harness.open_body(),
                         verify=proxy.cert, timeout=30)
    assert r.status_code == 201, r.text[:300]
    return r.json()


def put_until(proxy, source, upload, token, payload, stop, limit=3000):
    """PUTs the file again and again on one keep-alive connection until "stop(statuses)"."""
    url = "%s/inbound/api/uploads/%s/files/%s" % (proxy.url, upload["id"], harness.sha256(payload))
    statuses = []
    with proxy.session(source) as session:
        while len(statuses) < limit and not stop(statuses):
            r = session.put(url, data=payload, verify=proxy.cert, timeout=30,
                            headers={"X-Inbound-Token": token,
                                     "Content-Type": "application/dicom"})
            is_json = r.headers.get("Content-Type", "").startswith("application/json")
            statuses.append((r.status_code, r.json().get("error") if is_json else None))
    return statuses


def test_a_flood_of_one_stored_file_through_nginx_meets_nginx_not_the_request_rate(behind_nginx):
    server, proxy = behind_nginx
    upload = open_through(proxy, "127.0.0.21")
    payload = fixed_size_dicom(4500)
    statuses = put_until(proxy, "127.0.0.21", upload, upload["token"], payload,
                         lambda s: len(s) > 1 and s[-1][0] == 429)
    codes = [c for c, _ in statuses]
    assert codes[0] == 201 and set(codes[1:]) == {200, 429}, set(codes)
    # Past the plugin's request burst of 5, the files went on until nginx's 50/s (burst 200).
    assert codes.index(429) >= 150, codes.index(429)
    assert len(server.admin_json("GET", "/inbound/admin/uploads/%s" % upload["id"])
               ["items"]) == 1
    assert proxy.request("GET", "/inbound/api/info", source="127.0.0.23").status_code == 200


def test_a_flood_of_wrong_tokens_through_nginx_is_refused_then_banned(behind_nginx):
    server, proxy = behind_nginx
    upload = open_through(proxy, "127.0.0.24")
    statuses = put_until(proxy, "127.0.0.25", upload, "x" * len(upload["token"]),
                         fixed_size_dicom(4501), lambda s: len(s) > 0 and s[-1][0] in (403, 429))
    assert statuses[:5] == [(404, "not-found")] * 5, statuses[:8]
    assert (503, "rate-limited") in statuses, statuses
    assert statuses[-1] == (403, None), "not banned before nginx's 429: %s" % statuses[-3:]
    ban = {b["entry"]: b for b in limits(server)["bans"]}["127.0.0.25"]
    assert ban["automatic"] and ban["active"], ban
    server.admin("DELETE", "/inbound/admin/bans/127.0.0.25")
