"""Several Orthancs, one ledger (doc/Operations.md, "Scale-out"), from real parts
(scaleout_support.py): PostgreSQL 15; two gateways, each with its own SQLite ledger and staging,
behind the shipped nginx site rendered for two gateways; two internal Orthancs sharing one
PostgreSQL index (orthanc-postgresql, "Lock": false), one storage folder and the PostgreSQL
ledger; an SMTP sink.

A stream of uploads through nginx over both gateways (files whole and in parts), while one
internal Orthanc is killed with -9: every upload ends inside exactly once, is shown by the admin
routes of both internals, is mailed once to its recipient and is delivered on its gateway; every
request of an upload reached one gateway. PostgreSQL stopped: the internals answer 503
"ledger-unavailable", the gateways keep what they receive, and once PostgreSQL is back
everything arrives, once. Two Standalones on one PostgreSQL ledger share bans and quotas."""

import threading
import time

import pytest

import checks
import conftest
import data
import gateway_support
import harness
from scaleout_support import (EMAILS, EXPLORER_LINK, PULLER, ScaleOut, Sender,
                              mails_to, postgresql_ledger, require_postgresql,
                              send_upload, upload_state, wait_for)

UPLOADS = 12
FILES_PER_UPLOAD = 3


@pytest.fixture(scope="module")
def topology(plugin):
    require_postgresql()
    t = ScaleOut(plugin)
    try:
        t.start()
    except BaseException:
        print(t.diagnostics())
        t.stop(check=False)
        raise
    yield t
    try:
        t.stop(check=True)
    finally:
        print(t.diagnostics())


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    """Files of 2.5 MiB, sent in parts of 1 MiB (the gateways' Upload.PartBytes)."""
    folder = tmp_path_factory.mktemp("big")
    return [data.multiframe(str(folder / ("CINE%d.dcm" % i)), "BIG-%d" % i, 10)
            for i in range(4)]


def render(orthanc):
    import subprocess
    import proxy
    result = subprocess.run([proxy.RENDER, "443", "inbound.hospital.example", "/c.pem", "/k.pem",
                             orthanc, "512m", "10.0.0.0/8", "10.1.2.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_one_address_renders_the_single_orthanc_site():
    """Existing sites render as before: one upstream, no routing, no marks of the template."""
    code, site, _ = render("127.0.0.1:8042")
    assert code == 0
    assert "upstream inbound_orthanc {\n    server 127.0.0.1:8042;\n    keepalive 16;\n" in site
    for absent in ("@", "inbound_gateway_", "X-Inbound-Gateway", "hash ", "$inbound_public"):
        assert absent not in site, absent
    assert site.count("proxy_pass http://inbound_orthanc;") == 6, site
    code, site, _ = render("A=10.0.1.5:8042 B=10.0.1.6:8042 C=10.0.1.7:8042")
    assert code == 0 and "#@" not in site
    assert '"~^/inbound/api/uploads/B[A-Za-z0-9]*(/|$)" inbound_gateway_2;' in site
    # A draining gateway keeps its number and its uploads' routes, and gets no new opens.
    code, site, _ = render("A=10.0.1.5:8042 ~B=10.0.1.6:8042")
    assert code == 0 and '"2" inbound_gateway_2;' in site
    assert "upstream inbound_orthanc {\n    server 10.0.1.5:8042;\n    hash " in site, site
    for bad, why in (("A=10.0.1.5:8042", "for several gateways only"),
                     ("A=1.2.3.4:1 AB=1.2.3.4:2", "one starts the other"),
                     ("I=1.2.3.4:1 B=1.2.3.4:2", "is not 1-4 of"),
                     ("1.2.3.4:1;evil", "is not host:port"), ("", "names no address"),
                     ("~A=1.2.3.4:1 ~B=1.2.3.4:2", "every gateway is draining"),
                     ("A=1.2.3.4:1 ~1.2.3.4:2", "has no upload id prefix"),
                     ("A=1.2.3.4:1 1.2.3.4:2", "some gateways have an upload id prefix")):
        code, _, error = render(bad)
        assert code == 2 and why in error, (bad, error)


def test_the_site_refuses_a_pull_that_names_no_gateway(topology):
    """With several gateways behind the site, a puller must name one: else 400, in JSON."""
    r = topology.site.request("GET", "/inbound/peer/outbox", auth=PULLER)
    harness.assert_error(r, 400, "gateway-required")
    r = topology.site.request("GET", "/inbound/peer/outbox", auth=PULLER,
                              headers={"X-Inbound-Gateway": "3"})
    harness.assert_error(r, 400, "gateway-required")
    for n, gateway in enumerate(topology.gateways, 1):
        r = topology.site.request("GET", "/inbound/peer/outbox", auth=PULLER,
                                  headers={"X-Inbound-Gateway": str(n)})
        assert r.status_code == 200, r.text[:300]


def test_a_stream_over_two_gateways_while_an_internal_is_killed(topology, big_files):
    t = topology
    started = time.monotonic()
    a, b = t.internals
    cd = [data.Original(p) for p in data.cd_images()]
    uploads, errors = [], []
    done = threading.Event()

    def stream():
        try:
            bigs = list(big_files)
            for i in range(UPLOADS):
                sender = Sender(t.site, "127.0.0.%d" % (20 + i))
                files = [cd[(i * FILES_PER_UPLOAD + k) % len(cd)] for k in range(FILES_PER_UPLOAD)]
                big = bigs.pop() if i % 3 == 1 and bigs else None
                recipient = "neuroradiology" if i % 2 == 0 else "trauma"
                # Every fourth sender changes its address after the open: its upload's
                # requests still reach the gateway that minted the id (its prefix).
                moved = Sender(t.site, "127.0.1.%d" % (20 + i)) if i % 4 == 3 else None
                uploads.append(send_upload(sender, files, recipient=recipient, big=big,
                                           moved_to=moved))
                time.sleep(0.6)          # a stream of about ten seconds
        except BaseException as e:  # noqa: B902 - reported by the main thread
            errors.append(repr(e))
        finally:
            done.set()

    thread = threading.Thread(target=stream)
    thread.start()
    try:
        # kill -9 of internal-a in the middle: once some uploads are inside, and preferably
        # while it holds the lease of a pull.
        wait_for("three uploads inside", lambda: len(
            [u for u in list(uploads) if upload_state(b, u.id) == "complete"]) >= 3,
            timeout=120)
        deadline = time.monotonic() + 5
        held = []
        while time.monotonic() < deadline and not done.is_set():
            try:
                held = t.leases_of("internal-a")
            except AssertionError:
                held = []
            if held:
                break
            time.sleep(0.05)
        a.kill()
        killed_at = time.monotonic() - started
        print("internal-a killed at %.1f s, %d uploads sent, holding %s"
              % (killed_at, len(uploads), held or "no pull lease"))
    finally:
        thread.join(300)
    assert done.is_set() and not errors, errors
    assert len(uploads) == UPLOADS

    # Everything arrives through internal-b alone (internal-a's leases expire after
    # LeaseSeconds). An upload held by the crash guard (internal-a died while parsing one of
    # its files) is released by an admin, as doc/Operations.md says, on the living Orthanc.
    released = []

    def all_inside():
        for gateway in b.admin_json("GET", "/inbound/admin/gateways")["gateways"]:
            for upload_id in gateway["held"]:
                if upload_id in {u.id for u in uploads} and upload_id not in released:
                    r = b.admin("POST", "/inbound/admin/gateways/%s/held/%s/retry"
                                % (gateway["name"], upload_id))
                    assert r.status_code == 200, r.text
                    released.append(upload_id)
        return all(upload_state(b, u.id) == "complete" for u in uploads)
    wait_for("every upload inside", all_inside, timeout=240, interval=0.5)
    for upload_id in released:
        alerts = [e for e in gateway_support.audit(b)
                  if e["event"] == "alert-upload-held" and e["uploadId"] == upload_id]
        assert alerts and "stopped while processing" in alerts[-1]["detail"], alerts
    print("every upload inside at %.1f s (%d held after the kill and released)"
          % (time.monotonic() - started, len(released)))

    # internal-a comes back: the admin routes of both show everything.
    t.start_server(a)
    assert_every_upload_inside_once(t, uploads)
    assert_requests_reached_one_gateway(t, uploads)
    assert_mailed_once(t, uploads)
    for u in uploads:
        [gateway] = t.gateway_of(u.id)
        delivered = wait_for("%s delivered" % u.id, lambda: (lambda s: s if
                             s["state"] == "delivered" else None)(
            gateway.admin_json("GET", "/inbound/admin/uploads/%s" % u.id)), timeout=60)
        assert delivered["dataRemoved"] is True, delivered
    print("checked at %.1f s" % (time.monotonic() - started))


def assert_every_upload_inside_once(t, uploads):
    a, b = t.internals
    total = 0
    for u in uploads:
        expected = {o.sop_instance_uid: o for o in u.originals}
        for internal in (a, b):
            inside = internal.admin_upload(u.id)
            assert inside["state"] == "complete" and inside["files"] == len(u.originals), inside
            assert inside["receiptCode"] == u.receipt["receiptCode"], inside
            assert inside["gateway"] == "dmz%d" % (t.gateways.index(t.gateway_of(u.id)[0]) + 1)
        stored = b.instances_of_upload(u.id)     # fails on a SOP Instance stored twice
        assert set(stored) == set(expected), (u.id, sorted(stored), sorted(expected))
        for uid, instance in stored.items():
            assert a.admin("GET", "/instances/%s" % instance["ID"]).status_code == 200
            original = expected[uid]
            assert b.metadata("instances", instance["ID"], "InboundSha256") == original.sha256
            if original in u.in_parts or uid == next(iter(expected)):
                checks.assert_same_dicom_but_patient(
                    original, a.instance_file(instance["ID"]), u.id)
        total += len(expected)
    for internal in (a, b):
        assert internal.count_instances() == total, internal.admin_json("GET", "/statistics")
        listed = [x["id"] for x in internal.admin_uploads(limit=1000)]
        assert len(listed) == len(set(listed)), listed
        assert set(u.id for u in uploads) <= set(listed), (internal.url, listed)
    # The ledger holds each upload once, with one row per file.
    rows = dict(t.ledger("SELECT upload_id, count(*) FROM inbound.items GROUP BY upload_id"))
    for u in uploads:
        assert int(rows.get(u.id, 0)) == len(u.originals), (u.id, rows.get(u.id))


def assert_requests_reached_one_gateway(t, uploads):
    """Every request of an upload answered 2xx through nginx, and the upload, with all its
    files, is in the ledger of exactly one gateway: a request that had reached the other one
    would have got 404. Both gateways received some."""
    per_gateway = {g.port: 0 for g in t.gateways}
    for u in uploads:
        [gateway] = t.gateway_of(u.id)
        prefix = t.gateway_prefixes[t.gateways.index(gateway)]
        assert u.id.startswith(prefix), (u.id, prefix)
        requests = u.requests()
        assert requests and all(200 <= status < 300 for _, _, status in requests), requests
        [gateway] = t.gateway_of(u.id)
        on_gateway = gateway.admin_upload(u.id)
        assert on_gateway["files"] == len(u.originals), on_gateway
        per_gateway[gateway.port] += 1
        logged = [line for line in t.site.access_log() if "/inbound/api/uploads/%s" % u.id in line]
        assert len(logged) == len(requests), (logged, requests)
    assert all(per_gateway.values()), "one gateway got every upload: %s" % per_gateway
    print("uploads per gateway: %s" % sorted(per_gateway.values()))


def people_mails(t):
    """The mails to recipients and senders (the admins' alerts, AdminEmails of the sample, are
    not counted: a kill -9 may well deserve one)."""
    return [m for m in t.sink.mails() if m.rcpt_tos != ["pacs-admin@hospital.example"]]


def assert_mailed_once(t, uploads, mails_before=0):
    """One mail to the upload's recipient (its X-Inbound-Upload the upload, a working link to
    each study on either Orthanc) and one receipt to its sender (each sender has an address of
    its own), and nothing else."""
    a, b = t.internals
    expected = mails_before + 2 * len(uploads)
    wait_for("%d mails" % expected, lambda: len(people_mails(t)) >= expected, timeout=90)
    time.sleep(3)
    mails = people_mails(t)
    assert len(mails) == expected, (expected, mails)
    to = mails_to(mails)
    for u in uploads:
        for_upload = [m for m in to.get(EMAILS[u.recipient], [])
                      if m.headers("X-Inbound-Upload") == [u.id]]
        assert len(for_upload) == 1, "%d mails for %s to %s" % (
            len(for_upload), u.id, EMAILS[u.recipient])
        receipts = to.get(u.sender_email, [])
        assert len(receipts) == 1, "%d receipts to %s" % (len(receipts), u.sender_email)
        assert u.receipt["receiptCode"] in receipts[0].text
        links = EXPLORER_LINK.findall(for_upload[0].text)
        studies = sorted(s["orthancId"] for s in b.admin_upload(u.id)["studies"])
        assert sorted(links) == studies and studies, (links, studies)
        for study in links:       # the link opens the study on either Orthanc
            for internal in (a, b):
                answer = internal.admin_json("GET", "/studies/%s" % study)
                assert answer["PatientMainDicomTags"]["PatientID"].startswith(
                    "INB-%s-" % u.id), answer
    return mails


def test_postgresql_stopped_the_internals_answer_503_and_nothing_is_lost(topology):
    t = topology
    a, b = t.internals
    mails_before = len(people_mails(t))
    t.postgresql.stop()
    try:
        for internal in (a, b):
            [r] = wait_for("503 from %s" % internal.url, lambda: (lambda r: [r] if r.status_code
                           == 503 else None)(internal.admin("GET", "/inbound/admin/uploads")),
                           timeout=30)
            harness.assert_error(r, 503, "ledger-unavailable")
            assert r.headers.get("Retry-After", "").isdigit(), dict(r.headers)
        # The gateways take uploads meanwhile: they never talk to PostgreSQL.
        cd = [data.Original(p) for p in data.cd_images()]
        waiting = [send_upload(Sender(t.site, "127.0.0.%d" % (60 + i)), cd[i * 2:i * 2 + 2])
                   for i in range(3)]
        time.sleep(3)
        for u in waiting:
            [gateway] = t.gateway_of(u.id)
            assert upload_state(gateway, u.id) == "complete"   # nothing acknowledged
        assert len(people_mails(t)) == mails_before
    finally:
        t.postgresql.start()
    for u in waiting:
        wait_for("%s inside" % u.id, lambda: upload_state(b, u.id) == "complete"
                 or upload_state(a, u.id) == "complete", timeout=120)
    for u in waiting:
        [gateway] = t.gateway_of(u.id)
        wait_for("%s delivered" % u.id, lambda: upload_state(gateway, u.id) == "delivered",
                 timeout=60)
        for internal in (a, b):
            inside = internal.admin_upload(u.id)
            assert inside["state"] == "complete" and inside["files"] == 2, inside
        assert len(b.instances_of_upload(u.id)) == 2
    assert_mailed_once(t, waiting, mails_before)
    for internal in (a, b):
        assert internal.running(), internal.log_tail()


# ------------------------------------------------------------------------- two Standalones


def info(server, address):
    return server.request("GET", "/inbound/api/info", headers=gateway_support.xff(address))


def answers(status, call):
    """True when call() answers "status"; else an AssertionError naming the answer."""
    r = call()
    assert r.status_code == status, "%d %s" % (r.status_code, r.text[:200])
    return True


def test_two_standalones_on_one_ledger_share_bans_quotas_and_uploads(topology):
    """Bans made through one apply on the other within seconds; the per-client quota counts
    the uploads opened on both; each shows the other's uploads."""
    database = topology.postgresql.create_database("standalones", "standalones",
                                                   "a-password-for-standalones")
    inbound, orthanc, plugins = postgresql_ledger(database, index=True)
    shared = topology.workdir + "/standalone-storage"
    inbound = harness.merge(inbound, {"TrustedProxies": ["127.0.0.1"],
                                      "Quotas": {"UploadsPerClientPerDay": 2}})
    servers = []
    try:
        for name in ("standalone-a", "standalone-b"):
            servers.append(conftest._start(topology.plugin, inbound=inbound, orthanc=dict(
                orthanc, Name=name, StorageDirectory=shared,
                Plugins=[topology.plugin] + plugins)))
        first, second = servers
        client = "198.51.100.7"
        opened = [gateway_support.open_upload(first, client) for _ in range(2)]
        r = gateway_support.open_upload(second, client, expected_status=None)
        harness.assert_error(r, 503, "quota-exceeded")
        for response in opened:
            assert second.admin_upload(response.json()["id"])["state"] == "open"

        # A ban through the first: the second refuses the address within seconds.
        banned = "198.51.100.8"
        assert gateway_support.open_upload(second, banned).status_code == 201
        r = first.admin("POST", "/inbound/admin/bans", json={"entry": banned, "seconds": 600})
        assert r.status_code == 201, r.text
        began = time.monotonic()
        # (Polled with the info route: each open would count in the address's quota.)
        wait_for("the ban on the second", lambda: answers(403, lambda: info(second, banned)),
                 timeout=10, interval=0.2)
        print("ban effective on the other Orthanc after %.1f s" % (time.monotonic() - began))
        # ... and lifted through the second, on the first.
        assert gateway_support.open_upload(first, banned, expected_status=None).status_code == 403
        r = second.admin("DELETE", "/inbound/admin/bans/%s" % banned)
        assert r.status_code == 200, r.text
        wait_for("the ban lifted on the first", lambda: answers(200, lambda: info(first, banned)),
                 timeout=10, interval=0.2)
        assert gateway_support.open_upload(first, banned).status_code == 201
    finally:
        for s in servers:
            conftest._cleanup(s, check=True)
