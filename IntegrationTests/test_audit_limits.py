"""The audit trail under attack, and IPv6 clients (issue 13).

- A flood of refusals from one client (or from a banned one) leaves a handful of audit entries
  with counts, not one per request.
- Control characters sent in a path or a User-Agent reach the audit trail and the admin views
  nowhere raw.
- Entries older than Inbound.Audit.RetentionDays are deleted.
- IPv6 clients are one client per /64 (Inbound.Limits.IPv6PrefixLength): one rate bucket, one
  ban. Orthanc listens on IPv4 here, so the clients come through the trusted proxy
  (127.0.0.1) with X-Forwarded-For, as behind nginx.
- Hundreds of automatic bans expire and are pruned from the list and the ledger; a method
  override left to the handler is audited and counted as a refusal.
"""

import os
import re
import sqlite3
import time

import pytest
import requests

import harness
from gateway_support import (audit, finish, limits, open_upload, raw_exchange, start,
                             upload_of, wait_for_audit, xff)
from harness import assert_error

TRUSTED = {"TrustedProxies": ["127.0.0.1"]}
COUNT = re.compile(r" \[(\d+) refusals\]$")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def info(server, address):
    return server.request("GET", "/inbound/api/info", headers=xff(address))


def refusals_of(server, ip):
    return [e for e in audit(server, limit=10000) if e["event"] == "refused" and e["ip"] == ip]


def counted(event):
    match = COUNT.search(event["detail"])
    return int(match.group(1)) if match else 1


def wait_for_total(server, ip, total, timeout=8.0):
    """Refusals are written every second: waits until their counts add up to "total"."""
    deadline = time.monotonic() + timeout
    events = []
    while time.monotonic() < deadline:
        events = refusals_of(server, ip)
        if sum(counted(e) for e in events) >= total:
            return events
        time.sleep(0.3)
    raise AssertionError("refusals of %s add up to %d, not %d: %s" % (
        ip, sum(counted(e) for e in events), total, events))


# ---------------------------------------------------------------------------- aggregation


@pytest.fixture(scope="module")
def flooded(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {"Bans": ["198.18.0.0/16"]}))
    yield s
    finish(s)


def test_500_refusals_from_one_address_are_a_handful_of_entries(flooded):
    client = "203.0.113.77"
    session = requests.Session()
    for i in range(500):
        r = session.get(flooded.url + "/inbound/api/uploads/NOSUCHUPLOAD%d" % i,
                        headers=dict(xff(client), **{"X-Inbound-Token": "x" * 43}), timeout=30)
        assert 400 <= r.status_code < 500, r.status_code
    events = wait_for_total(flooded, client, 500)
    assert len(events) <= 3, events   # one per code and interval (60 s)
    assert sum(counted(e) for e in events) == 500
    first = events[0]
    assert first["detail"].split(":")[0].split()[0].isdigit(), first
    assert "NOSUCHUPLOAD0" in first["detail"], "the first request is not the one shown: %s" % first
    # Another client is an entry of its own.
    assert open_upload(flooded, "203.0.113.78", expected_status=None,
                       recipient="nobody").status_code == 400
    wait_for_total(flooded, "203.0.113.78", 1)
    assert len(refusals_of(flooded, client)) == len(events)
    assert limits(flooded)["audit"]["refusalIntervalSeconds"] == 60


def test_a_banned_client_is_not_itemized(flooded):
    client = "198.18.3.3"
    session = requests.Session()
    for _ in range(300):
        r = session.get(flooded.url + "/inbound/api/info", headers=xff(client), timeout=30)
        assert r.status_code == 403 and r.content == b""
    events = wait_for_total(flooded, client, 300)
    assert len(events) == 1, events
    assert events[0]["detail"].startswith("403 banned: ") and counted(events[0]) == 300, events


# ---------------------------------------------------------------------------- control characters


def test_control_characters_reach_the_audit_nowhere_raw(flooded):
    client = "203.0.113.90"
    # What Orthanc lets through in a header: C1 controls (CSI), invalid UTF-8, a right-to-left
    # override. Raw C0 controls (ESC) in a header are refused by Orthanc itself, but tried too.
    evil_agent = b"Mozilla/5.0 \xc2\x9b31m \xff\xfe \xe2\x80\xae"
    for agent in (evil_agent, b"Mozilla/5.0 \x1b[2J\x1b]0;pwned\x07"):
        # A path with CR, LF and ESC, percent-encoded: Orthanc decodes it before the plugin.
        request = (b"GET /inbound/api/uploads/AB%0D%0Arefused%20forged%1B%5B31mX HTTP/1.1\r\n"
                   b"Host: 127.0.0.1\r\nX-Forwarded-For: " + client.encode() + b"\r\n"
                   b"X-Inbound-Token: " + b"x" * 43 + b"\r\n"
                   b"User-Agent: " + agent + b"\r\nConnection: close\r\n\r\n")
        status, _ = raw_exchange(flooded.port, request)
        assert status is not None and 400 <= status < 500, status
    # An upload opened with such a User-Agent: it is kept, and shown, made safe.
    r = flooded.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                        headers=dict(xff(client), **{"User-Agent": evil_agent}))
    assert r.status_code == 201, r.text
    upload = upload_of(flooded, r)
    assert flooded.request("POST", "/inbound/api/uploads", json=harness.open_body(
        recipient="nobody\r\n\x1b[31m"), headers=xff(client)).status_code == 400

    events = wait_for_audit(flooded, lambda e: e["ip"] == client and "forged" in e["detail"],
                            what="the refusal of the path with control characters")
    assert "refused" in events[0]["detail"] and "\ufffd" in events[0]["detail"], events[0]
    everything = audit(flooded, limit=10000) + [flooded.admin_upload(upload.id)]
    raw = flooded.admin("GET", "/inbound/admin/audit", params={"limit": 100000}).content
    assert b"\x1b" not in raw and b"\\u001b" not in raw.lower() and b"\\r" not in raw

    def strings(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value

    bad = [s for s in strings(everything) if CONTROL.search(s)]
    assert not bad, bad
    agent = flooded.admin_upload(upload.id)
    assert "Mozilla/5.0" in str(agent), "the User-Agent is gone rather than made safe"


# ---------------------------------------------------------------------------- retention


def test_old_audit_entries_are_pruned(plugin):
    server = start(plugin, inbound={"Audit": {"RetentionDays": 30}})
    try:
        upload = harness.Upload.open(server)
        server.stop()
        ledger = os.path.join(server.storage, "inbound", "ledger.sqlite")
        now_ms = int(time.time() * 1000)
        with sqlite3.connect(ledger) as db:
            for days in (400, 200, 31):
                db.executemany(
                    "INSERT INTO audit (time, event, upload_id, ip, detail) VALUES (?, ?, '', ?, ?)",
                    [(now_ms - days * 86400000 - i, "refused", "192.0.2.%d" % (i % 200),
                      "403 banned: old %d" % days) for i in range(700)])
            db.execute("INSERT INTO audit (time, event, upload_id, ip, detail) VALUES "
                       "(?, 'refused', '', '192.0.2.1', '403 banned: recent')",
                       (now_ms - 29 * 86400000,))
        server.start()
        deadline = time.monotonic() + 30  # pruned within seconds; checked every 10 s
        while time.monotonic() < deadline:
            old = [e for e in audit(server, limit=10000) if " old " in e["detail"]]
            if not old:
                break
            time.sleep(0.5)
        events = audit(server, limit=10000)
        assert not [e for e in events if " old " in e["detail"]], "old entries are still there"
        assert [e for e in events if e["detail"] == "403 banned: recent"]
        assert [e for e in events if e["uploadId"] == upload.id], "a recent entry went"
        assert limits(server)["audit"]["pruned"] == 2100
        assert limits(server)["audit"]["retentionDays"] == 30
    finally:
        finish(server)


def test_retention_zero_keeps_everything(plugin):
    server = start(plugin, inbound={"Audit": {"RetentionDays": 0}})
    try:
        server.stop()
        ledger = os.path.join(server.storage, "inbound", "ledger.sqlite")
        with sqlite3.connect(ledger) as db:
            db.execute("INSERT INTO audit (time, event, upload_id, ip, detail) VALUES "
                       "(1000, 'refused', '', '192.0.2.1', '403 banned: ancient')")
        server.start()
        time.sleep(2.5)
        assert [e for e in audit(server) if e["detail"] == "403 banned: ancient"]
        assert limits(server)["audit"]["pruned"] == 0
    finally:
        finish(server)


# ---------------------------------------------------------------------------- IPv6


@pytest.fixture(scope="module")
def ipv6(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "Limits": {"RequestsPerSecond": 1, "RequestBurst": 3},
        "AutoBan": {"Refusals": 3, "WindowSeconds": 60, "BanSeconds": 600}}))
    yield s
    finish(s)


def test_one_rate_bucket_per_ipv6_64(ipv6):
    for i in range(3):
        assert info(ipv6, "2001:db8:aa:1::%x" % (i + 1)).status_code == 200
    # Another address of the same /64: the bucket is empty.
    assert_error(info(ipv6, "2001:db8:aa:1:ffff:eeee:dddd:1"), 503, "rate-limited")
    # Another /64 has its own.
    assert info(ipv6, "2001:db8:aa:2::1").status_code == 200
    events = wait_for_audit(ipv6, lambda e: e["event"] == "refused" and
                            e["detail"].startswith("503 rate-limited:"))
    assert events[0]["ip"] == "2001:db8:aa:1::/64", events


def test_ipv4_mapped_ipv6_is_the_ipv4_client(ipv6):
    for _ in range(3):
        assert info(ipv6, "203.0.113.44").status_code == 200
    assert_error(info(ipv6, "::ffff:203.0.113.44"), 503, "rate-limited")


def test_an_automatic_ban_of_an_ipv6_client_bans_its_64(ipv6):
    for i in range(3):
        r = ipv6.request("GET", "/inbound/api/uploads/NOSUCHUPLOAD1",
                         headers=dict(xff("2001:db8:bb:1::%x" % (i + 1)),
                                      **{"X-Inbound-Token": "x" * 43}))
        assert 400 <= r.status_code < 500
    # A handler's refusal is counted once its answer is on its way: the third one may be
    # counted just after the client has it. Wait for the ban, then check it holds.
    deadline = time.monotonic() + 5
    while True:
        bans = {b["entry"]: b for b in limits(ipv6)["bans"]}
        if "2001:db8:bb:1::/64" in bans or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "2001:db8:bb:1::/64" in bans and bans["2001:db8:bb:1::/64"]["automatic"], bans
    # Any address of that /64 is refused, before anything else.
    r = info(ipv6, "2001:db8:bb:1:1234:5678:9abc:def0")
    assert r.status_code == 403 and r.content == b""
    assert open_upload(ipv6, "2001:db8:bb:1::99", expected_status=403).content == b""
    # The next /64 is not.
    assert info(ipv6, "2001:db8:bb:2::1").status_code == 200
    # The admin lifts it as it is listed.
    assert ipv6.admin("DELETE", "/inbound/admin/bans/2001:db8:bb:1::%2F64").status_code == 200
    time.sleep(1.1)
    assert info(ipv6, "2001:db8:bb:1::5").status_code == 200


def test_prefix_length_128_counts_each_address(plugin):
    server = start(plugin, inbound=harness.merge(TRUSTED, {
        "Limits": {"RequestsPerSecond": 1, "RequestBurst": 1, "IPv6PrefixLength": 128}}))
    try:
        assert info(server, "2001:db8:cc:1::1").status_code == 200
        assert info(server, "2001:db8:cc:1::2").status_code == 200
        assert_error(info(server, "2001:db8:cc:1::1"), 503, "rate-limited")
        assert limits(server)["limits"]["ipv6PrefixLength"] == 128
    finally:
        finish(server)


# ---------------------------------------------------------------------------- many bans


@pytest.fixture(scope="module")
def banned_often(plugin):
    s = start(plugin, inbound=harness.merge(TRUSTED, {
        "AutoBan": {"Refusals": 1, "WindowSeconds": 60, "BanSeconds": 10}}))
    yield s
    finish(s)


def ledger_bans(server, prefix):
    ledger = os.path.join(server.storage, "inbound", "ledger.sqlite")
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT COUNT(*) FROM bans WHERE entry LIKE ?",
                          (prefix + "%",)).fetchone()[0]


def listed_bans(server, prefix):
    return [b for b in server.admin_json("GET", "/inbound/admin/bans")["bans"]
            if b["entry"].startswith(prefix)]


def test_expired_automatic_bans_are_pruned_from_the_list_and_the_ledger(banned_often):
    # 300 /64s of one /48 refused once each: 300 automatic bans.
    session = requests.Session()
    for i in range(300):
        r = session.get(banned_often.url + "/inbound/api/uploads/NOSUCHUPLOAD1",
                        headers=dict(xff("2001:db8:300:%x::1" % i), **{"X-Inbound-Token": "x" * 43}),
                        timeout=30)
        assert 400 <= r.status_code < 500, r.status_code
    # The last refusal may be counted just after its answer (see the /64 test above).
    deadline = time.monotonic() + 5
    listed = listed_bans(banned_often, "2001:db8:300:")
    while len(listed) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
        listed = listed_bans(banned_often, "2001:db8:300:")
    assert len(listed) == 300 and all(b["automatic"] and b["active"] for b in listed), listed[:3]
    assert ledger_bans(banned_often, "2001:db8:300:") == 300
    r = info(banned_often, "2001:db8:300:12b::99")
    assert r.status_code == 403 and r.content == b""
    assert info(banned_often, "2001:db8:301::1").status_code == 200    # another /48

    # Expired after 10 s, pruned by the background work (once a second, 500 rows at a time).
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and (listed_bans(banned_often, "2001:db8:300:") or
                                           ledger_bans(banned_often, "2001:db8:300:")):
        time.sleep(0.5)
    assert listed_bans(banned_often, "2001:db8:300:") == []
    assert ledger_bans(banned_often, "2001:db8:300:") == 0
    assert info(banned_often, "2001:db8:300:12b::99").status_code == 200
    # The audit trail keeps the history.
    bans = [e for e in audit(banned_often, limit=10000)
            if e["event"] == "ban" and e["ip"].startswith("2001:db8:300:")]
    assert len(bans) == 300, len(bans)

    # A client banned again after the expiry is banned at once, and listed again.
    r = session.get(banned_often.url + "/inbound/api/uploads/NOSUCHUPLOAD1",
                    headers=dict(xff("2001:db8:300:12b::5"), **{"X-Inbound-Token": "x" * 43}),
                    timeout=30)
    assert 400 <= r.status_code < 500, r.status_code
    deadline = time.monotonic() + 3  # the refusal is recorded once the answer is sent
    while info(banned_often, "2001:db8:300:12b::99").status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    r = info(banned_often, "2001:db8:300:12b::99")
    assert r.status_code == 403 and r.content == b""
    listed = listed_bans(banned_often, "2001:db8:300:")
    assert [b["entry"] for b in listed] == ["2001:db8:300:12b::/64"] and listed[0]["active"], listed
    assert ledger_bans(banned_often, "2001:db8:300:") == 1


def test_a_method_override_left_to_the_handler_is_a_refusal(banned_often):
    # An admin route from an admin network, with the right password: the handler answers 400,
    # and the refusal is audited and counts towards an automatic ban (Refusals: 1 here).
    client = "10.13.0.7"
    r = banned_often.request("GET", "/inbound/admin/limits?_method=DELETE", auth=harness.ADMIN,
                             headers=xff(client))
    assert_error(r, 400, "method-override")
    wait_for_audit(banned_often, lambda e: e["event"] == "refused" and e["ip"] == client and
                   e["detail"].startswith("400 method-override"))
    r = banned_often.request("GET", "/inbound/admin/limits", auth=harness.ADMIN, headers=xff(client))
    assert r.status_code == 403 and r.content == b"", "not banned after the override"
    # On a public route it is one refusal, not two.
    other = "203.0.113.201"
    r = banned_often.request("GET", "/inbound/api/info?_method=DELETE", headers=xff(other))
    assert_error(r, 400, "method-override")
    events = wait_for_audit(banned_often, lambda e: e["event"] == "refused" and e["ip"] == other)
    assert len(events) == 1 and events[0]["detail"].startswith("400 method-override"), events
    assert not COUNT.search(events[0]["detail"]), events
