"""Red team of a partner that floods or races (doc/Security.md "Partner sites", a partner with a
valid token): studies split one instance each to flood mails and disk (DailyStudies), the same
instance with other bytes, two requests of one study at once, broken chunk framing and clients
that go away while parts are being stored. Each: the STOW-RS answer, no more stored than the
limits allow, nothing left reserved, the server alive."""

import concurrent.futures
import json
import socket
import time

import pytest

import data
from partner_attack_support import (ROUTE, STOW, TOKEN_A, multipart, partner,
                                     passes_the_door, reasons, referenced, stow)

STUDY = "1.2.826.0.1.3680043.8.498.5150"


@pytest.fixture(scope="module")
def site(plugin):
    import conftest
    s = conftest._start(plugin, inbound={
        "Partners": [partner("clinic-a", TOKEN_A, Limits={"DailyStudies": 3})],
        "PartnerLimits": {"QuietSeconds": 3600, "MaxStreams": 4, "MaxStreamsTotal": 8}})
    yield s
    conftest._cleanup(s, check=True)


def post(server, parts, study=None, chunked=True):
    status, headers, body = stow(server, body=multipart(parts), chunked=chunked, timeout=120,
                                 path=ROUTE + ("/" + study if study else ""))
    return status, headers, (json.loads(body) if body else None)


def in_flight(server):
    return server.admin_json("GET", "/inbound/admin/limits")["inFlight"]["bytes"]


def wait_released(server, timeout=10):
    deadline = time.monotonic() + timeout
    while in_flight(server) != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert in_flight(server) == 0


def partner_uploads(server):
    return [u for u in server.admin_json("GET", "/inbound/admin/uploads")["uploads"]
            if server.admin_upload(u["id"])["sender"]["name"] == "Clinic A"]


def test_the_same_study_from_two_requests_at_once_is_one_upload(site):
    files = [data.make_dicom(patient_id="RT-RACE", study_uid=STUDY) for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: post(site, files[2 * i:2 * i + 2], study=STUDY),
                                range(4)))
    assert [a[0] for a in answers] == [200] * 4, answers
    sizes = {u["id"]: len(site.admin_upload(u["id"])["items"]) for u in partner_uploads(site)}
    assert sorted(sizes.values()) == [8], sizes  # one upload for the study, all 8 in it
    wait_released(site)


def test_the_same_instance_with_other_bytes_fails_0111(site):
    first = data.make_dicom(patient_id="RT-DUP", study_uid=STUDY)
    # The same SOP instance, one pixel byte changed.
    other = first[:-1] + bytes([first[-1] ^ 1])
    status, _, answer = post(site, [first], study=STUDY)
    assert status == 200, answer
    status, _, answer = post(site, [other], study=STUDY)
    assert reasons(answer) == [0x0111] and status == 409, (status, answer)
    status, _, answer = post(site, [first], study=STUDY)  # the same bytes again: stored
    assert status == 200 and len(referenced(answer)) == 1, (status, answer)


def test_studies_split_to_flood_mails_stop_at_daily_studies(site):
    before = len(partner_uploads(site))
    files = [data.make_dicom(patient_id="RT-FLOOD-%d" % i) for i in range(6)]
    status, headers, answer = post(site, files)
    opened = len(partner_uploads(site)) - before
    assert opened <= 3, opened
    assert 0xA701 in reasons(answer), answer
    assert status in (202, 503), status
    # A day's studies used up: more are refused with a retry after midnight UTC.
    status, headers, answer = post(site, [data.make_dicom(patient_id="RT-FLOOD-X")])
    assert status == 503 and reasons(answer) == [0xA701], (status, answer)
    assert int(headers["retry-after"]) > 0
    assert len(partner_uploads(site)) - before == opened


@pytest.mark.parametrize("framing", [
    b"fffffffffffffffff\r\nx\r\n0\r\n\r\n",      # a chunk size over 2^64
    b"-5\r\nhello\r\n0\r\n\r\n",                 # negative
    b"zz\r\nhello\r\n0\r\n\r\n",                 # not hex
    b"5;" + b"e" * 70000 + b"\r\nhello\r\n0\r\n\r\n",  # a huge chunk extension
    b"3\r\nhello\r\n0\r\n\r\n",                  # longer than said
])
def test_broken_chunk_framing_leaves_nothing_behind(site, framing):
    before = site.admin_json("GET", "/instances")
    c = socket.create_connection(("127.0.0.1", site.port), timeout=15)
    c.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
               % (ROUTE, TOKEN_A, STOW)).encode() + framing)
    try:
        answer = c.recv(4096)
    except (socket.timeout, ConnectionResetError):
        answer = b""
    c.close()
    assert not answer.startswith(b"HTTP/1.1 2"), answer[:200]
    wait_released(site)
    assert site.admin_json("GET", "/instances") == before
    assert passes_the_door(site)


def test_a_partner_gone_while_its_parts_are_stored_leaves_nothing_reserved(site):
    """Parts are stored by workers while the next are read: a client that goes away in the
    middle, again and again, must not crash Orthanc nor leave its stream or memory taken."""
    for round_ in range(12):
        files = [data.make_dicom(patient_id="RT-GONE-%d" % round_, study_uid=STUDY,
                                 rows=256, columns=256) for _ in range(6)]
        body = multipart(files, end=False)
        c = socket.create_connection(("127.0.0.1", site.port), timeout=15)
        c.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                   % (ROUTE + "/" + STUDY, TOKEN_A, STOW)).encode())
        cut = len(body) * (round_ % 4 + 1) // 5
        c.sendall(b"%x\r\n%s\r\n" % (cut, body[:cut]))
        if round_ % 2:
            time.sleep(0.05)
        c.close()
    time.sleep(1)
    wait_released(site)
    assert site.running()
    assert passes_the_door(site)
    # The next request of the partner is served as usual.
    status, _, answer = post(site, [data.make_dicom(patient_id="RT-AFTER", study_uid=STUDY)],
                             study=STUDY)
    assert status == 200, answer


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_part_a_browser_could_send_is_not_refused_busy_on_an_idle_server(start_server, chunked):
    """Limits.MaxBytesInFlight may be as low as Upload.MaxFileBytes times the body multiple, so
    that the largest file accepted can be received (Limits.MaxBytesInFlight in
    doc/Configuration.md). A partner's part of that size, on an idle server, must be stored too,
    not answered 503 server-busy for ever (its sender would retry without end)."""
    max_file = 64 * 1024 * 1024
    s = start_server(inbound={"Partners": [partner("clinic-a", TOKEN_A)],
                              "Upload": {"MaxFileBytes": max_file},
                              "PartnerLimits": {"MaxUnchunkedBytes": 2 * max_file},
                              "Limits": {"MaxBytesInFlight": 5 * max_file}})
    big = data.make_dicom(patient_id="RT-IDLE", rows=3200, columns=10000)  # 61 MiB
    assert max_file - 4 * 1024 * 1024 < len(big) <= max_file
    status, headers, answer = post(s, [big], chunked=chunked)
    assert status == 200, (status, headers.get("x-inbound-error"), answer)
    wait_released(s)


def test_parallel_big_parts_are_held_to_the_memory_budget(start_server):
    """Three streams each sending a part of nearly MaxFileBytes at once, with the smallest
    Limits.MaxBytesInFlight allowed: what does not fit is refused (403 at the door, or 503
    server-busy with Retry-After), Orthanc's peak memory stays within the budget (plus the
    allocator's slack), and each part is stored when sent again alone."""
    import threading
    from partner_attack_support import vm_hwm_kib
    max_file = 32 * 1024 * 1024
    budget = 5 * max_file  # Upload.MaxFileBytes times a Standalone's body multiple
    s = start_server(inbound={"Partners": [partner("clinic-a", TOKEN_A, Limits={"MaxStreams": 3})],
                              "Upload": {"MaxFileBytes": max_file},
                              "PartnerLimits": {"MaxStreamsTotal": 3},
                              "Limits": {"MaxBytesInFlight": budget}})
    parts = [data.make_dicom(patient_id="RT-PAR-%d" % i, rows=1600, columns=10000)
             for i in range(3)]  # 30.5 MiB each
    assert all(max_file - 2 * 1024 * 1024 < len(p) <= max_file for p in parts)
    before = vm_hwm_kib(s)
    answers = [None] * len(parts)
    barrier = threading.Barrier(len(parts))

    def send(i):
        barrier.wait()
        answers[i] = post(s, [parts[i]])

    senders = [threading.Thread(target=send, args=(i,)) for i in range(len(parts))]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    grown_mib = (vm_hwm_kib(s) - before) / 1024
    statuses = [a[0] for a in answers]
    assert set(statuses) <= {200, 403, 503}, [(a[0], a[1].get("x-inbound-error")) for a in answers]
    assert grown_mib < budget / 2 ** 20 + 64, "peak memory grew by %d MiB" % grown_mib
    wait_released(s)
    for i, (status, _, _) in enumerate(answers):
        if status != 200:
            again = post(s, [parts[i]])
            assert again[0] == 200, (again[0], again[1].get("x-inbound-error"))
    assert len(s.admin_json("GET", "/instances")) == len(parts)


@pytest.mark.parametrize("body", [b"", multipart([b"not dicom"])], ids=["no-part", "bad-part"])
def test_a_flood_of_requests_storing_nothing_leaves_a_bounded_trace(start_server, body):
    """A partner (or whoever holds its token) sending requests that store nothing (no part, or a
    part that is not DICOM) as fast as it can: browsers' requests are rate-limited and their refusals audited in batches, so that no
    client fills the ledger's disk with audit rows; a partner's flood must not either (at most
    about one audit event a second for it)."""
    from gateway_support import audit
    s = start_server(inbound={"Partners": [partner("clinic-a", TOKEN_A)]})
    before = len(audit(s, 10000))
    started = time.monotonic()
    for _ in range(600):
        stow(s, body=body, timeout=10)
    elapsed = time.monotonic() - started
    time.sleep(1.5)  # batched events are written each second
    added = len(audit(s, 10000)) - before
    assert added <= elapsed + 5, "%d audit events for 600 requests in %.1f s" % (added, elapsed)
    assert passes_the_door(s)
