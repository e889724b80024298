"""What the admin sees of partner sites, against a real Orthanc: the list and one partner with
its figures after a STOW-RS request, the token route (shown once, never stored or audited, an
admin write only), the silence alert mailed once and partner-resumed, and the metrics."""

import hashlib
import json
import os
import re
import time
import uuid

import pytest
import requests

from data import make_dicom
from gateway_support import audit, wait_for_audit
from harness import ADMIN, RECIPIENTS
from mail_support import SmtpSink, metric

TOKEN = "Ad7_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"
SILENT_TOKEN = "Si7_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"
ADMIN_MAIL = "pacs-admins@hospital.example"
# SilenceAlertHours takes fractions (doc/Configuration.md): 0.0015 h = 5.4 s.
SILENCE_HOURS = 0.0015
SILENCE_SECONDS = SILENCE_HOURS * 3600
PARTNER_PATH = "/inbound/admin/partners"


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def partner(id_, token, **overrides):
    entry = {"Id": id_, "Name": "Clinic " + id_[-1].upper(), "Institution": id_ + " radiology",
             "Email": "pacs@%s.example" % id_, "TokenSha256": sha(token),
             "Recipient": RECIPIENTS[0]["Id"]}
    entry.update(overrides)
    return entry


@pytest.fixture(scope="module")
def hospital(plugin):
    """A Standalone behind a proxy (loopback) whose admin networks are loopback only, with a
    partner that calls (clinic-a), one that never does (clinic-b, disabled: never alerted) and
    one without networks (clinic-c)."""
    import conftest
    s = conftest._start(plugin, inbound={
        "TrustedProxies": ["127.0.0.1"], "AdminNetworks": ["127.0.0.0/8"],
        "Partners": [partner("clinic-a", TOKEN, Networks=["127.0.0.0/8"]),
                     partner("clinic-b", "Dis" + TOKEN[3:], Enabled=False,
                             Limits={"SilenceAlertHours": SILENCE_HOURS}),
                     partner("clinic-c", "Ccc" + TOKEN[3:])],
        "PartnerLimits": {"QuietSeconds": 2, "SilenceAlertHours": 24}})
    yield s
    conftest._cleanup(s, check=True)


def stow(server, token, files, client=None):
    boundary = uuid.uuid4().hex
    body = b"".join(b"--%s\r\nContent-Type: application/dicom\r\n\r\n%s\r\n" % (
        boundary.encode(), f) for f in files) + b"--%s--" % boundary.encode()
    headers = {"Authorization": "Bearer " + token,
               "Content-Type": 'multipart/related; type="application/dicom"; boundary=' + boundary}
    if client:
        headers["X-Forwarded-For"] = client
    return requests.post(server.url + "/inbound/dicom-web/studies", data=body, headers=headers,
                         timeout=60)


def listed(server):
    answer = server.admin_json("GET", PARTNER_PATH)
    return {p["id"]: p for p in answer["partners"]}, [p["id"] for p in answer["partners"]]


def test_every_configured_partner_is_listed_also_one_that_never_called(hospital):
    partners, order = listed(hospital)
    assert order == ["clinic-a", "clinic-b", "clinic-c"]
    b = partners["clinic-b"]
    assert b["name"] == "Clinic B" and b["institution"] == "clinic-b radiology"
    assert b["email"] == "pacs@clinic-b.example"
    assert b["recipient"] == RECIPIENTS[0]["Id"]
    assert b["enabled"] is False and b["silent"] is False  # disabled: never silent
    assert b["silenceAlertHours"] == SILENCE_HOURS
    assert b["lastContactAt"] is None and b["lastFailure"] is None
    assert b["today"] == {"requests": 0, "instances": 0, "bytes": 0, "failures": 0, "studies": 0}
    assert partners["clinic-a"]["networks"] == ["127.0.0.0/8"]
    assert partners["clinic-c"]["networks"] == []
    assert partners["clinic-c"]["silenceAlertHours"] == 24
    # Nothing of a token's hash is shown.
    assert sha(TOKEN) not in json.dumps(partners)


def test_a_partner_request_shows_in_its_figures_and_uploads(hospital):
    study = "1.2.826.0.1.3680043.8.498.%d" % (time.time_ns() % 10 ** 12)
    files = [make_dicom(patient_id="PARTNER-ADMIN", study_uid=study) for _ in range(3)]
    r = stow(hospital, TOKEN, files)
    assert r.status_code == 200, r.text[:500]
    r = stow(hospital, TOKEN, [b"not dicom at all"])
    assert r.status_code in (400, 409), r.text[:300]

    partners, _ = listed(hospital)
    a = partners["clinic-a"]
    assert a["today"]["requests"] == 2, a
    assert a["today"]["instances"] == 3
    assert a["today"]["bytes"] == sum(len(f) for f in files)
    assert a["today"]["failures"] >= 1
    assert a["today"]["studies"] == 1
    assert a["last7Days"]["instances"] >= 3
    assert a["lastContactAt"] and a["lastStudyAt"]
    assert a["lastFailure"]["code"], a["lastFailure"]
    assert a["silent"] is False
    assert partners["clinic-c"]["today"]["requests"] == 0

    one = hospital.admin_json("GET", PARTNER_PATH + "/clinic-a")
    assert one["id"] == "clinic-a" and one["today"] == a["today"]
    assert [u["study"] for u in one["uploads"]][:1] == [study]
    upload = hospital.admin_json("GET", "/inbound/admin/uploads/" + one["uploads"][0]["id"])
    assert upload["files"] == 3 and upload["sender"]["name"] == "Clinic A"
    # Its request that stored the study, as the audit trail has it (a request that stored
    # nothing may be summarised there: it shows in the figures above).
    stows = [e["detail"] for e in one["events"] if e["event"] == "partner-stow"]
    assert any(d.startswith("partner clinic-a: 3 stored, 0 failed") for d in stows), stows
    assert hospital.admin_json("GET", PARTNER_PATH + "/clinic-b")["uploads"] == []
    assert hospital.admin_json("GET", PARTNER_PATH + "/clinic-b")["events"] == []


def test_an_unknown_partner_is_not_found(hospital):
    for path in ("/clinic-z", "/Clinic-A", "/clinic-a/uploads", "/" + "a" * 33):
        r = hospital.request("GET", PARTNER_PATH + path, auth=ADMIN)
        assert r.status_code == 404, (path, r.status_code)
    r = hospital.request("GET", PARTNER_PATH + "/clinic-z", auth=ADMIN)
    assert r.json()["error"] == "not-found"


def test_a_token_is_shown_once_and_only_its_hash_prefix_audited(hospital):
    r = hospital.request("POST", PARTNER_PATH + "/token", auth=ADMIN)
    assert r.status_code == 201, r.text
    assert r.headers["Cache-Control"] == "no-store"
    answer = r.json()
    token = answer["token"]
    assert len(token) == 43 and set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert answer["tokenSha256"] == sha(token)
    assert answer["configuration"] == {"TokenSha256": sha(token)}
    again = hospital.request("POST", PARTNER_PATH + "/token", auth=ADMIN).json()
    assert again["token"] != token

    [event] = wait_for_audit(hospital, lambda e: e["event"] == "partner-token-made"
                             and sha(token)[:8] in e["detail"])
    assert ADMIN[0] in event["detail"]
    trail = json.dumps(audit(hospital))
    assert token not in trail and sha(token) not in trail
    assert token not in hospital.log_tail(5000)
    # Nothing stored: the token opens nothing.
    assert stow(hospital, token, [make_dicom()]).status_code == 403
    assert [p["id"] for p in hospital.admin_json("GET", PARTNER_PATH)["partners"]] == [
        "clinic-a", "clinic-b", "clinic-c"]


# What a page of another site can make a browser send (a custom X-Requested-With would need a
# CORS preflight, which nothing here grants), with the admin's cached credentials.
CROSS_SITE = [
    {},  # a form of another site
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1.evil.example", "Referer": "http://127.0.0.1/"},
    {"X-Requested-With": "Fetch"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_another_site_cannot_make_a_token(hospital, headers):
    before = len([e for e in audit(hospital) if e["event"] == "partner-token-made"])
    r = requests.post(hospital.url + PARTNER_PATH + "/token", auth=ADMIN, headers=headers,
                      timeout=30)
    assert r.status_code == 403, (r.status_code, r.text[:200])
    assert r.json()["error"] == "cross-site"
    assert "token" not in r.json()
    after = len([e for e in audit(hospital) if e["event"] == "partner-token-made"])
    assert after == before


def test_the_token_route_needs_credentials_and_the_admin_networks(hospital):
    headers = {"X-Requested-With": "XMLHttpRequest"}
    # Without credentials or with wrong ones: refused by the filter (the admin class answers a
    # plain 403; only the login routes challenge with 401).
    for auth in (None, (ADMIN[0], "wrong")):
        r = requests.post(hospital.url + PARTNER_PATH + "/token", headers=headers, timeout=30,
                          auth=auth)
        assert r.status_code == 403 and "tokenSha256" not in r.text, r.status_code
    # The public side: through the proxy from outside the admin networks.
    for path, method in ((PARTNER_PATH + "/token", "POST"), (PARTNER_PATH, "GET"),
                         (PARTNER_PATH + "/clinic-a", "GET")):
        r = requests.request(method, hospital.url + path, auth=ADMIN, timeout=30,
                             headers=dict(headers, **{"X-Forwarded-For": "198.51.100.7"}))
        assert r.status_code == 403, (path, r.status_code)
        assert "tokenSha256" not in r.text and "clinic-a" not in r.text
    # A partner's token opens none of them.
    for path, method in ((PARTNER_PATH + "/token", "POST"), (PARTNER_PATH, "GET")):
        r = requests.request(method, hospital.url + path, timeout=30,
                             headers=dict(headers, Authorization="Bearer " + TOKEN))
        assert r.status_code in (401, 403), (path, r.status_code)
    # Other methods.
    assert hospital.request("GET", PARTNER_PATH + "/token", auth=ADMIN).status_code == 405
    assert hospital.request("DELETE", PARTNER_PATH + "/clinic-a", auth=ADMIN).status_code == 405
    assert hospital.request("GET", "/inbound/api/info").status_code == 200


def test_the_metrics_carry_each_partner(hospital):
    stow(hospital, TOKEN, [make_dicom(patient_id="PARTNER-METRIC")])
    # Each partner's series are the ones doc/Operations.md lists, labelled with its id.
    with open(os.path.join(os.path.dirname(__file__), "..", "doc", "Operations.md")) as f:
        documented = set(re.findall(r'`(inbound_partner_[a-z_]+)\{partner="<id>"\}`', f.read()))
    assert len(documented) >= 6, documented
    text = hospital.admin("GET", "/tools/metrics-prometheus").text
    for id_ in ("clinic-a", "clinic-b", "clinic-c"):
        published = set(re.findall(r'^(inbound_partner_[a-z_]+)\{partner="%s"\} ' % id_, text, re.M))
        assert published == documented, (id_, published ^ documented)
    seconds = metric(hospital, 'inbound_partner_last_contact_seconds{partner="clinic-a"}')
    assert seconds is not None and 0 <= seconds < 60
    assert metric(hospital, 'inbound_partner_last_contact_seconds{partner="clinic-b"}') == -1
    assert metric(hospital, 'inbound_partner_instances_today{partner="clinic-a"}') >= 1
    assert metric(hospital, 'inbound_partner_silent{partner="clinic-c"}') == 0


# ------------------------------------------------------------------- the silence alert


@pytest.fixture(scope="module")
def watched(plugin, tmp_path_factory):
    """clinic-s must call every SILENCE_SECONDS; the alert mails go to ADMIN_MAIL."""
    import conftest
    sink = SmtpSink(str(tmp_path_factory.mktemp("partner-sink"))).start()
    try:
        s = conftest._start(plugin, inbound={
            "Smtp": {"Host": "127.0.0.1", "Port": sink.port, "Security": "None",
                     "From": "Orthanc Inbound <inbound@hospital.example>", "Timeout": 10},
            "Notifications": {"AdminEmails": [ADMIN_MAIL], "RetryInterval": 1,
                              "MaxRetryInterval": 2},
            "Partners": [partner("clinic-s", SILENT_TOKEN,
                                 Limits={"SilenceAlertHours": SILENCE_HOURS}),
                         partner("clinic-d", "Dis" + SILENT_TOKEN[3:], Enabled=False,
                                 Limits={"SilenceAlertHours": SILENCE_HOURS})],
            "PartnerLimits": {"QuietSeconds": 2}})
    except Exception:
        sink.stop()
        raise
    yield s, sink
    conftest._cleanup(s, check=True)
    sink.stop()


def silence_alerts(server):
    return [e for e in audit(server) if e["event"] == "alert-partner-silent"]


def alert_mails(sink):
    return [m for m in sink.mails() if ADMIN_MAIL in m.rcpt_tos
            and "partner" in m.subject.lower()]


def test_a_silent_partner_is_alerted_once_and_resumes_with_its_next_request(watched):
    server, sink = watched
    # Never called: silent counted from the plugin's start.
    [event] = wait_for_audit(server, lambda e: e["event"] == "alert-partner-silent",
                             timeout=SILENCE_SECONDS + 15)
    assert "clinic-s" in event["detail"] and "no request since the start" in event["detail"]
    deadline = time.monotonic() + 20
    while not alert_mails(sink) and time.monotonic() < deadline:
        time.sleep(0.2)
    [mail] = alert_mails(sink)
    assert "clinic-s" in mail.everything()
    partners, _ = listed(server)
    assert partners["clinic-s"]["silent"] is True
    assert partners["clinic-d"]["silent"] is False  # disabled
    assert metric(server, 'inbound_partner_silent{partner="clinic-s"}') == 1

    # Once per silence: no second alert while it stays silent.
    time.sleep(SILENCE_SECONDS + 2)
    assert len(silence_alerts(server)) == 1
    assert len(alert_mails(sink)) == 1
    assert all("clinic-d" not in e["detail"] for e in silence_alerts(server))

    # It calls again: partner-resumed, not silent any more.
    r = stow(server, SILENT_TOKEN, [make_dicom(patient_id="PARTNER-RESUMED")])
    assert r.status_code == 200, r.text[:300]
    [resumed] = wait_for_audit(server, lambda e: e["event"] == "partner-resumed", timeout=10)
    assert "clinic-s" in resumed["detail"]
    assert listed(server)[0]["clinic-s"]["silent"] is False
    events = server.admin_json("GET", PARTNER_PATH + "/clinic-s")["events"]
    assert sorted(e["event"] for e in events) == [
        "alert-partner-silent", "partner-resumed", "partner-stow"], events

    # Its next silence is alerted again, once.
    wait_for_audit(server, lambda e: e["event"] == "alert-partner-silent"
                   and "last request at" in e["detail"], timeout=SILENCE_SECONDS + 15)
    assert len(silence_alerts(server)) == 2
    assert len([e for e in audit(server) if e["event"] == "partner-resumed"]) == 1


# ------------------------------------------------------- an Internal behind a gateway


def test_an_internal_lists_the_partner_labels_of_what_it_pulled(plugin):
    """Partners send to the gateway; the Internal, which has none configured, shows what it
    pulled under each partner label, per gateway."""
    import conftest
    puller = ("inside", "a-long-random-secret-for-tests")
    gateway = conftest._start(plugin, inbound={
        "Role": "Gateway",
        "Pullers": [{"Username": puller[0], "Password": puller[1], "Networks": ["127.0.0.1"]}],
        "Partners": [partner("clinic-g", TOKEN)], "PartnerLimits": {"QuietSeconds": 1}})
    try:
        internal = conftest._start(plugin, inbound={"Role": "Internal", "Gateways": ["dmz"]},
                                   orthanc={"OrthancPeers": {"dmz": {
                                       "Url": gateway.url + "/", "Username": puller[0],
                                       "Password": puller[1]}}})
        try:
            files = [make_dicom(patient_id="PARTNER-PULLED") for _ in range(2)]
            for f in files:  # two studies: two uploads
                assert stow(gateway, TOKEN, [f]).status_code == 200
            deadline = time.monotonic() + 60
            answer = internal.admin_json("GET", PARTNER_PATH)
            while time.monotonic() < deadline and not (
                    answer["pulled"] and answer["pulled"][0]["last7Days"]["uploads"] == 2):
                time.sleep(0.5)
                answer = internal.admin_json("GET", PARTNER_PATH)
            assert answer["partners"] == []
            [pulled] = answer["pulled"]
            assert pulled["partner"] == "clinic-g" and pulled["gateway"] == "dmz", pulled
            assert pulled["last7Days"] == {"uploads": 2, "instances": 2,
                                           "bytes": sum(len(f) for f in files)}
            assert pulled["lastUploadAt"]
            # A label is no partner here; the gateway knows its partner.
            r = internal.request("GET", PARTNER_PATH + "/clinic-g", auth=ADMIN)
            assert r.status_code == 404
            on_gateway = gateway.admin_json("GET", PARTNER_PATH)
            assert [p["id"] for p in on_gateway["partners"]] == ["clinic-g"]
            assert on_gateway["partners"][0]["today"]["instances"] == 2
            assert on_gateway["pulled"] == []
        finally:
            conftest._cleanup(internal, check=True)
    finally:
        conftest._cleanup(gateway, check=True)
