"""The public side's limits, hit one by one: rate limits, bodies in flight, daily quotas (that
survive a restart), per-upload caps, the data monitor, manual and automatic bans.

Clients are told apart without a proxy: the servers trust 127.0.0.1 as their proxy, so each
X-Forwarded-For address is a client of its own (the proxy tests do the same through nginx).
"""

import json
import time

import pytest

import data
import harness
from gateway_support import (assert_retry_after, audit, finish, fixed_size_dicom, limits,
                             open_upload, put, refused, seconds_to_utc_midnight, slow_put, start,
                             upload_of, wait_for_audit, xff)
from harness import assert_error

TRUSTED = {"TrustedProxies": ["127.0.0.1"]}


def info(server, address=None, headers=None):
    h = dict(headers or {})
    if address:
        h.update(xff(address))
    return server.request("GET", "/inbound/api/info", headers=h)


# ---------------------------------------------------------------------------- rate limits


@pytest.fixture(scope="module")
def rated(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "Limits": {"RequestsPerSecond": 2, "RequestBurst": 4,
                   "BytesPerSecond": 5000, "ByteBurst": 20000}}))
    yield s
    finish(s)


def test_request_rate_is_limited_per_client_and_recovers(rated):
    a, b = "203.0.113.10", "203.0.113.11"
    for i in range(4):
        assert info(rated, a).status_code == 200, "request %d of the burst" % (i + 1)
    r = info(rated, a)
    assert_error(r, 503, "rate-limited")
    assert_retry_after(r, 1, 1)
    # A client cannot escape by putting other addresses in front of its own.
    r = info(rated, headers={"X-Forwarded-For": "198.51.100.99, " + a})
    assert_error(r, 503, "rate-limited")
    # Another client has its own bucket.
    assert info(rated, b).status_code == 200
    wait_for_audit(rated, refused(a, 503, "rate-limited"), what="rate-limit refusal of " + a)
    time.sleep(1.1)
    assert info(rated, a).status_code == 200, "no recovery after Retry-After"


def test_byte_rate_is_limited_per_client_and_recovers(rated):
    client = "203.0.113.20"
    upload = upload_of(rated, open_upload(rated, client))
    files = [fixed_size_dicom(100 + i, rows=64, columns=64) for i in range(3)]
    assert 8000 < len(files[0]) < 10000, len(files[0])
    assert put(upload, files[0], client).status_code == 201
    assert put(upload, files[1], client).status_code == 201
    r = put(upload, files[2], client)
    assert_error(r, 503, "rate-limited")
    wait = assert_retry_after(r, 1, 3)
    assert files[2] and harness.sha256(files[2]) not in \
        [f["sha256"] for f in upload.status_json()["files"]]
    time.sleep(wait + 0.1)
    assert put(upload, files[2], client).status_code == 201, "no recovery after Retry-After"


def test_forwarded_for_from_an_untrusted_peer_is_ignored_by_the_limits(plugin):
    """Without TrustedProxies, X-Forwarded-For names nobody: all requests are 127.0.0.1's."""
    server = start(plugin, inbound={"Limits": {"RequestsPerSecond": 1, "RequestBurst": 3}})
    try:
        for i in range(3):
            assert info(server, "192.0.2.%d" % (i + 1)).status_code == 200
        r = info(server, "192.0.2.50")
        assert_error(r, 503, "rate-limited")
        events = wait_for_audit(server, refused("127.0.0.1", 503, "rate-limited"))
        assert events
        assert not [e for e in audit(server) if str(e.get("ip", "")).startswith("192.0.2.")]
    finally:
        finish(server)


# ---------------------------------------------------------------------------- in flight


@pytest.fixture(scope="module")
def busy(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "Upload": {"MaxFileBytes": 100000},
        "Limits": {"MaxUploadsInFlightPerClient": 1, "MaxBytesInFlight": 750000,
                   "BodyTimeout": 2}}))
    yield s
    finish(s)


def test_bodies_in_flight_are_limited_per_client_and_per_server(busy):
    slow_client, other = "203.0.113.30", "203.0.113.31"
    upload = upload_of(busy, open_upload(busy, slow_client))
    payload = fixed_size_dicom(200, rows=32, columns=32)
    sock = slow_put(busy.port, upload, declared=90000, sent=1000, address=slow_client)
    try:
        time.sleep(0.3)
        # The same client: its one slot is taken; refused before any byte of the body is read.
        r = put(upload, payload, slow_client)
        assert r.status_code == 403 and r.content == b"", (r.status_code, r.text[:200])
        # Another client, but (90000 + 70000) x 5 bytes (a Standalone's measured memory per
        # body byte) would exceed the server's 750000.
        other_upload = upload_of(busy, open_upload(busy, other))
        big = payload + b"\0" * (70000 - len(payload))
        r = put(other_upload, big, other)
        assert r.status_code == 403 and r.content == b"", (r.status_code, r.text[:200])
        # A body that fits the remaining budget goes through.
        assert put(other_upload, payload, other).status_code == 201
        described = limits(busy)
        assert described["inFlight"]["bytes"] == 450000, described["inFlight"]
        assert described["inFlight"]["bytesPerBodyByte"] == 5, described["inFlight"]
        assert described["refusals"].get("client-busy", 0) >= 1, described["refusals"]
        assert described["refusals"].get("server-busy", 0) >= 1, described["refusals"]
    finally:
        sock.close()
    wait_for_audit(busy, refused(slow_client, 403, "client-busy"))
    wait_for_audit(busy, refused(other, 403, "server-busy"))


def test_an_abandoned_body_frees_its_slot(busy):
    """A client that goes away in the middle of a body must not keep its slot for ever: Orthanc
    does not tell the plugin, so the reservation lapses after Limits.BodyTimeout (2 s here)."""
    client = "203.0.113.32"
    upload = upload_of(busy, open_upload(busy, client))
    sock = slow_put(busy.port, upload, declared=50000, sent=100, address=client)
    time.sleep(0.3)
    sock.close()
    payload = fixed_size_dicom(201, rows=32, columns=32)
    assert put(upload, payload, client).status_code == 403  # still held at first
    deadline = time.monotonic() + 8
    status = None
    while time.monotonic() < deadline:
        status = put(upload, payload, client).status_code
        if status == 201:
            break
        time.sleep(0.5)
    assert status == 201, "the slot of the abandoned body is still held 8 s later (%s); " \
        "inFlight: %s" % (status, limits(busy)["inFlight"])


# ---------------------------------------------------------------------------- quotas

FILE_SIZE = len(fixed_size_dicom(0))


@pytest.fixture(scope="module")
def quota_server(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {"Quotas": {
        "UploadsPerClientPerDay": 2, "UploadsPerSenderPerDay": 3, "UploadsPerDay": 7,
        "BytesPerClientPerDay": int(2.5 * FILE_SIZE), "BytesPerSenderPerDay": int(3.5 * FILE_SIZE),
        "BytesPerDay": int(6.5 * FILE_SIZE)}}))
    yield s
    finish(s)


def assert_quota(response, scope_words):
    body = assert_error(response, 503, "quota-exceeded")
    assert scope_words in body["message"], body
    midnight = seconds_to_utc_midnight()
    assert_retry_after(response, int(midnight) - 5, int(midnight) + 5)


def test_daily_quotas_hold_and_survive_a_restart(quota_server):
    s = quota_server
    sizes = {len(fixed_size_dicom(i)) for i in range(1, 20)}
    assert sizes == {FILE_SIZE}, sizes

    # Uploads per client: the third upload of c1 is refused, whoever the sender.
    u1 = [upload_of(s, open_upload(s, "198.51.100.1", email="one@site.example")),
          upload_of(s, open_upload(s, "198.51.100.1", email="one@site.example"))]
    assert_quota(open_upload(s, "198.51.100.1", email="other@site.example",
                             expected_status=None), "network address")
    # Uploads per sender e-mail, whatever its case, from several addresses.
    u2 = [upload_of(s, open_upload(s, "198.51.100.%d" % (2 + i), email=email))
          for i, email in enumerate(["Two@Site.example", "two@site.example",
                                     "TWO@SITE.EXAMPLE"])]
    assert_quota(open_upload(s, "198.51.100.5", email="two@SITE.example",
                             expected_status=None), "e-mail")
    # Uploads per day, all clients together: 5 so far, 2 more, then none.
    u6 = upload_of(s, open_upload(s, "198.51.100.6", email="six@site.example"))
    u7 = upload_of(s, open_upload(s, "198.51.100.7", email="seven@site.example"))
    assert_quota(open_upload(s, "198.51.100.8", email="eight@site.example",
                             expected_status=None), "of this site")

    files = iter(fixed_size_dicom(i) for i in range(1, 100))
    # Bytes per client: 2 files fit into 2.5, the third (into another upload) does not.
    assert put(u1[0], next(files), "198.51.100.1").status_code == 201
    assert put(u1[0], next(files), "198.51.100.1").status_code == 201
    refused_file = next(files)
    assert_quota(put(u1[1], refused_file, "198.51.100.1"), "network address")
    # Bytes per sender: 3 files of "two@..." from 3 addresses fit into 3.5, the fourth not.
    for i, upload in enumerate(u2):
        assert put(upload, next(files), "198.51.100.%d" % (2 + i)).status_code == 201
    assert_quota(put(u2[2], next(files), "198.51.100.4"), "e-mail")
    # Bytes per day: 5 files so far; a sixth fits into 6.5, a seventh does not.
    assert put(u6, next(files), "198.51.100.6").status_code == 201
    assert_quota(put(u7, next(files), "198.51.100.7"), "of this site")

    before = limits(s, client="198.51.100.1")["quotas"]
    assert before["client"] == {"address": "198.51.100.1", "uploads": 2,
                                "bytes": 2 * FILE_SIZE}, before
    assert before["global"] == {"uploads": 7, "bytes": 6 * FILE_SIZE}, before
    assert refused_file and harness.sha256(refused_file) not in \
        [f["sha256"] for f in u1[1].status_json()["files"]]
    for ip, detail in [("198.51.100.1", "503 quota-exceeded:"), ("198.51.100.5", "503 quota-"),
                       ("198.51.100.8", "503 quota-"), ("198.51.100.7", "503 quota-")]:
        wait_for_audit(s, lambda e, ip=ip, d=detail: e.get("event") == "refused" and
                       e.get("ip") == ip and str(e.get("detail", "")).startswith(d))

    s.restart()

    after = limits(s, client="198.51.100.1")["quotas"]
    assert after["client"] == before["client"] and after["global"] == before["global"], \
        (before, after)
    assert_quota(open_upload(s, "198.51.100.1", email="new@site.example",
                             expected_status=None), "of this site")
    assert_quota(put(u1[1], refused_file, "198.51.100.1"), "of this site")


# ---------------------------------------------------------------------------- per upload


def test_per_upload_caps_answer_413(plugin):
    server = start(plugin, inbound={"Upload": {"MaxFileBytes": 20000,
                                               "MaxFilesPerUpload": 2,
                                               "MaxBytesPerUpload": 30000}})
    try:
        r = open_upload(server, expected_status=None, expected={"files": 3, "bytes": 100})
        assert_error(r, 413, "too-large")
        r = open_upload(server, expected_status=None, expected={"files": 1, "bytes": 30001})
        assert_error(r, 413, "too-large")

        upload = upload_of(server, open_upload(server))
        files = [fixed_size_dicom(300 + i, rows=64, columns=64) for i in range(3)]
        assert put(upload, files[0]).status_code == 201
        assert put(upload, files[1]).status_code == 201
        assert_error(put(upload, files[2]), 413, "too-large")   # third file
        other = upload_of(server, open_upload(server))
        assert put(other, files[0]).status_code == 201
        big = fixed_size_dicom(310, rows=80, columns=80)          # 12800 + header
        assert 13000 < len(big) < 15000
        assert put(other, big).status_code == 201
        assert_error(put(other, fixed_size_dicom(311, rows=80, columns=80)), 413, "too-large")
        # Over the per-file cap: a clear 413 from the handler up to twice the cap ...
        over = fixed_size_dicom(312, rows=110, columns=110)
        assert 20000 < len(over) < 40000
        assert_error(put(other, over), 413, "too-large")
        # ... and far over it refused by the filter, before the body is read.
        far_over = fixed_size_dicom(313, rows=150, columns=150)
        assert len(far_over) > 40000
        r = put(other, far_over)
        assert r.status_code == 403 and r.content == b"", r.status_code
        assert len(upload.status_json()["files"]) == 2
        assert len(other.status_json()["files"]) == 2
    finally:
        finish(server)


# ---------------------------------------------------------------------------- data monitor


def monitor_state(server):
    return limits(server)["dataMonitor"]["state"]


def wait_for_state(server, state, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if monitor_state(server) == state:
            return
        time.sleep(0.2)
    raise AssertionError("data monitor not %r within %.0f s: %s" % (
        state, timeout, limits(server)["dataMonitor"]))


def test_daily_volume_warns_then_stops_until_lifted(plugin):
    size = len(fixed_size_dicom(400))
    server = start(plugin, inbound={"DataMonitor": {
        "WarnBytesPerDay": size, "StopBytesPerDay": 2 * size, "CheckInterval": 1}})
    try:
        upload = upload_of(server, open_upload(server))
        assert put(upload, fixed_size_dicom(400)).status_code == 201
        wait_for_state(server, "warning")
        wait_for_audit(server, lambda e: e.get("event") == "alert-data-monitor-warning")
        assert upload.server.request("POST", "/inbound/api/uploads",
                                     json=harness.open_body()).status_code == 201
        assert put(upload, fixed_size_dicom(401)).status_code == 201
        wait_for_state(server, "stopped")
        wait_for_audit(server, lambda e: e.get("event") == "alert-data-monitor-stopped")

        r = open_upload(server, expected_status=None)
        assert_error(r, 507, "storage-full")
        assert_retry_after(r, 1, 86400)
        r = put(upload, fixed_size_dicom(402))
        assert_error(r, 507, "storage-full")
        assert_retry_after(r, 1, 86400)
        assert len(upload.status_json()["files"]) == 2
        wait_for_audit(server, refused("127.0.0.1", 507, "storage-full"))

        lifted = server.admin_json("POST", "/inbound/admin/limits/lift")
        assert lifted["lifted"] is True, lifted
        assert put(upload, fixed_size_dicom(402)).status_code == 201
        time.sleep(2.2)  # two more checks: the lift holds for the rest of the day
        assert monitor_state(server) == "warning"
        assert open_upload(server).status_code == 201
    finally:
        finish(server)


def test_low_free_space_stops_from_the_first_request(plugin):
    server = start(plugin, inbound={"DataMonitor": {
        "WarnFreeBytes": 10 ** 15, "StopFreeBytes": 10 ** 15, "CheckInterval": 1}})
    try:
        r = open_upload(server, expected_status=None)
        assert_error(r, 507, "storage-full")
        assert_retry_after(r, 1, 86400)
        monitor = limits(server)["dataMonitor"]
        assert monitor["state"] == "stopped" and monitor["freeBytes"] < 10 ** 15, monitor
        wait_for_audit(server, lambda e: e.get("event") == "alert-data-monitor-stopped")
        assert server.admin_json("POST", "/inbound/admin/limits/lift")["lifted"] is True
        upload = upload_of(server, open_upload(server))
        assert put(upload, data.Original(data.CT_SMALL).data).status_code == 201
        time.sleep(1.5)
        assert monitor_state(server) == "warning"
    finally:
        finish(server)


# ---------------------------------------------------------------------------- bans


# Long enough that a ban is still on when checked on a busy machine, short for the test.
BAN_SECONDS = 6


@pytest.fixture(scope="module")
def banning(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "Bans": ["198.18.0.0/16"],
        "AutoBan": {"Refusals": 5, "WindowSeconds": 30, "BanSeconds": BAN_SECONDS}}))
    yield s
    finish(s)


def bans(server):
    return {b["entry"]: b for b in limits(server)["bans"]}


def test_configured_ban_list_is_refused_and_cannot_be_lifted_online(banning):
    r = info(banning, "198.18.7.7")
    assert r.status_code == 403 and r.content == b""
    assert open_upload(banning, "198.18.7.7", expected_status=403).content == b""
    assert info(banning, "198.19.0.1").status_code == 200
    assert banning.admin("DELETE", "/inbound/admin/bans/198.18.0.0%2F16").status_code == 404
    assert info(banning, "198.18.7.7").status_code == 403
    wait_for_audit(banning, refused("198.18.7.7", 403, "banned"))


def test_manual_ban_expires_and_can_be_lifted(banning):
    r = banning.admin("POST", "/inbound/admin/bans",
                      json={"entry": "203.0.113.64/26", "seconds": 3, "reason": "test flood"})
    assert r.status_code == 201, r.text
    ban = bans(banning)["203.0.113.64/26"]
    assert ban["active"] is True and ban["automatic"] is False and ban["until"], ban
    assert ban["reason"] == "test flood"
    assert info(banning, "203.0.113.100").status_code == 403
    assert info(banning, "203.0.113.63").status_code == 200        # outside the block
    wait_for_audit(banning, lambda e: e.get("event") == "ban" and "203.0.113.64/26" in
                   json.dumps(e))
    time.sleep(3.2)
    assert info(banning, "203.0.113.100").status_code == 200, "the ban did not expire"
    assert bans(banning)["203.0.113.64/26"]["active"] is False

    # A ban without "seconds" lasts until an admin lifts it.
    assert banning.admin("POST", "/inbound/admin/bans",
                         json={"entry": "203.0.113.200"}).status_code == 201
    assert info(banning, "203.0.113.200").status_code == 403
    assert bans(banning)["203.0.113.200"]["until"] is None
    assert banning.admin("DELETE", "/inbound/admin/bans/203.0.113.200").status_code == 200
    assert info(banning, "203.0.113.200").status_code == 200
    assert banning.admin("DELETE", "/inbound/admin/bans/203.0.113.200").status_code == 404
    # Bad entries are refused.
    for entry in ["not-an-address", "10.0.0.0/33", "", "1.2.3.4\r\n"]:
        r = banning.admin("POST", "/inbound/admin/bans", json={"entry": entry})
        assert r.status_code == 400, (entry, r.status_code, r.text[:200])


def test_repeated_refusals_ban_automatically_for_a_while(banning):
    client = "203.0.113.150"
    for _ in range(5):
        r = banning.request("GET", "/system", headers=xff(client))
        assert r.status_code == 403
    r = info(banning, client)
    assert r.status_code == 403 and r.content == b"", "not banned after 5 refusals"
    ban = bans(banning)[client]
    assert ban["automatic"] is True and ban["active"] is True, ban
    assert info(banning, "203.0.113.151").status_code == 200
    wait_for_audit(banning, lambda e: e.get("event") == "ban" and client in json.dumps(e))
    time.sleep(BAN_SECONDS + 0.2)
    assert info(banning, client).status_code == 200, "the automatic ban did not expire"

    # Banned again, and lifted by an admin before it expires.
    for _ in range(5):
        banning.request("GET", "/inbound/api/uploads/NOSUCHUPLOAD1",
                        headers=dict(xff(client), **{"X-Inbound-Token": "x"}))
    # A handler's refusal is counted once its answer is on its way: the fifth one may be
    # counted just after the client has it. Wait for the ban, then check it holds.
    deadline = time.monotonic() + 5
    while not (client in bans(banning) and bans(banning)[client]["active"]):
        assert time.monotonic() < deadline, "not banned again after 5 more refusals"
        time.sleep(0.05)
    assert info(banning, client).status_code == 403
    assert banning.admin("DELETE", "/inbound/admin/bans/%s" % client).status_code == 200
    assert info(banning, client).status_code == 200


def test_password_guessing_counts_towards_automatic_bans(banning):
    client = "203.0.113.160"
    for path in ["/inbound/auth"] * 3 + ["/"] * 3:
        r = banning.request("GET", path, headers=xff(client),
                            auth=(harness.ADMIN[0], "guess"))
        assert r.status_code in (401, 403), (path, r.status_code)
    r = banning.request("GET", "/inbound/auth", headers=xff(client), auth=harness.ADMIN)
    assert r.status_code == 403, "6 wrong passwords in a row, yet %s may go on guessing " \
        "(/inbound/auth answered %d to the right one)" % (client, r.status_code)
