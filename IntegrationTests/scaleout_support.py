"""The scale-out topology of doc/Operations.md ("Scale-out"), from real parts: a PostgreSQL 15
server (postgres.py), two gateway Orthancs (each its own SQLite ledger and staging) behind the
shipped nginx site rendered for two gateways, two internal Orthancs sharing one PostgreSQL index
(Debian's orthanc-postgresql, "Lock": false), one storage folder and the PostgreSQL ledger
("Inbound.Ledger": "PostgreSQL"), and an SMTP sink (mail_support.py).

Senders reach the gateways through nginx only, each from a loopback address of its own
(127.0.0.x), and record every request they make; the internal Orthancs pull through nginx too,
naming the gateway with the "X-Inbound-Gateway" header the site routes by."""

import hashlib
import os
import re
import subprocess
import tempfile
import time

import conftest
import harness
import mail_support
import postgres
import proxy
import samples  # noqa: I100

PULLER = ("inside", samples.PULLER_PASSWORD)      # the samples' puller on the test machine
ORTHANC_URL = "https://orthanc.hospital.example"
FROM = "Orthanc Inbound <inbound@hospital.example>"
EXPLORER_LINK = re.compile(re.escape(ORTHANC_URL) +
                           r"/app/explorer\.html#study\?uuid=([0-9a-f]{8}(?:-[0-9a-f]{8}){4})")
EMAILS = {r["Id"]: r["Email"] for r in harness.RECIPIENTS}
MiB = 1024 * 1024
LEASE_SECONDS = 10       # the smallest Inbound.LeaseSeconds: a dead internal's work moves soon


def require_postgresql():
    """Fails (never skips) the calling test when PostgreSQL or orthanc-postgresql is missing,
    naming the Debian packages (Resources/Scripts/test.sh installs them)."""
    import pytest
    problems = postgres.missing_packages()
    if problems:
        pytest.fail("PostgreSQL for Orthanc is not installed:\n  " + "\n  ".join(problems),
                    pytrace=False)


# ------------------------------------------------------------------------- nginx


class GatewaysProxy(proxy.NginxProxy):
    """The shipped site rendered by render-nginx-site.sh for several gateways: ORTHANC is the
    list of their addresses (each "PREFIX=address" when the gateway has an upload id prefix)."""

    def __init__(self, gateways, **kwargs):
        super().__init__(None, **kwargs)
        self.gateways = gateways     # [(prefix or "", port)]

    def orthanc_argument(self):
        return " ".join(("%s=" % prefix if prefix else "") + "127.0.0.1:%d" % port
                        for prefix, port in self.gateways)

    def render_site(self):
        result = subprocess.run(
            [proxy.RENDER, "127.0.0.1:%d" % self.port, "localhost", self.cert, self.key,
             self.orthanc_argument(), self.max_body, self.admin_nets, self.peer_nets,
             os.path.join(self.workdir, "access.log"), self.partner_nets],
            check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        site = result.stdout.decode()
        for line in site.splitlines():
            if re.search(r"@[A-Z_]+@", line.split("#")[0]):
                raise proxy.ProxyError("placeholder left in the rendered site: %s" % line)
        return site

    def access_log(self):
        try:
            with open(os.path.join(self.workdir, "access.log"), "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []


# ------------------------------------------------------------------------- senders


class Sender:
    """A sender's browser behind nginx, from its own loopback address: every request it makes
    is recorded as (method, path, status)."""

    def __init__(self, site, source):
        self.site = site
        self.source = source
        self.session = site.session(source)
        self.requests = []

    def request(self, method, path, expected=None, **kwargs):
        kwargs.setdefault("timeout", harness.REQUEST_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("verify", self.site.cert)   # explicit: REQUESTS_CA_BUNDLE would win
        r = self.session.request(method, self.site.url + path, **kwargs)
        self.requests.append((method, path, r.status_code))
        if expected is not None:
            assert r.status_code in expected, "%s %s from %s: %d %s" % (
                method, path, self.source, r.status_code, r.text[:300])
        return r

    def close(self):
        self.session.close()


def sender_email(source):
    return "sender-%s@clinic.example" % source.replace(".", "-")


class SentUpload:
    """One upload as a sender made it through nginx: its files (Originals), those sent in
    parts, the receipt and every request of it."""

    def __init__(self, sender, recipient, answer):
        self.sender = sender
        self.recipient = recipient
        self.id = answer["id"]
        self.token = answer["token"]
        self.originals = []
        self.in_parts = []
        self.receipt = None
        self.sender_email = sender_email(sender.source)
        self.senders = [sender]

    def path(self, suffix=""):
        return "/inbound/api/uploads/%s%s" % (self.id, suffix)

    def headers(self, **more):
        headers = {"X-Inbound-Token": self.token}
        headers.update(more)
        return headers

    def requests(self):
        """The requests of this upload (its paths), as (method, path, status)."""
        return [r for s in set(self.senders) for r in s.requests
                if r[1].startswith(self.path())]


def send_upload(sender, originals, recipient="neuroradiology", big=None, part_bytes=MiB,
                moved_to=None):
    """Opens an upload through nginx, sends the files (and "big", an Original, in parts of
    "part_bytes"), asks for its status and completes it; every answer is checked. With
    "moved_to" (another Sender), everything after the open comes from that one's address,
    as from a laptop that changed networks."""
    body = harness.open_body(recipient=recipient,
                             sender=harness.sender(email=sender_email(sender.source)))
    r = sender.request("POST", "/inbound/api/uploads", json=body, expected=(201,))
    upload = SentUpload(sender, recipient, r.json())
    upload.senders.append(moved_to or sender)
    sender = moved_to or sender
    for original in originals:
        sender.request("PUT", upload.path("/files/%s" % original.sha256), data=original.data,
                       headers=upload.headers(**{"Content-Type": "application/dicom"}),
                       expected=(201,))
        upload.originals.append(original)
    if big is not None:
        content = big.data
        pieces = [content[i:i + part_bytes] for i in range(0, len(content), part_bytes)]
        for n, piece in enumerate(pieces):
            sender.request("PUT", upload.path("/files/%s/parts/%d" % (big.sha256, n)),
                           data=piece, expected=(201,), headers=upload.headers(**{
                               "Content-Type": "application/octet-stream",
                               "X-Inbound-Part-Sha256": hashlib.sha256(piece).hexdigest()}))
        r = sender.request("POST", upload.path("/files/%s/assemble" % big.sha256),
                           json={"parts": len(pieces)}, headers=upload.headers(),
                           expected=(201,))
        assert r.json()["sha256"] == big.sha256, r.text
        upload.originals.append(big)
        upload.in_parts.append(big)
    status = sender.request("GET", upload.path(), headers=upload.headers(), expected=(200,))
    assert sorted(f["sha256"] for f in status.json()["files"]) == \
        sorted(o.sha256 for o in upload.originals), status.text
    r = sender.request("POST", upload.path("/complete"), headers=upload.headers(),
                       expected=(200,))
    upload.receipt = r.json()
    assert upload.receipt["files"] == len(upload.originals), upload.receipt
    return upload


# ------------------------------------------------------------------------- the topology


def smtp(sink):
    return {"Host": "127.0.0.1", "Port": sink.port, "Security": "None", "From": FROM,
            "Timeout": 10}


def notifications():
    return {"OrthancUrl": ORTHANC_URL, "RetryInterval": 1, "MaxRetryInterval": 2,
            "SenderReceipt": True}


def postgresql_ledger(database, index=False):
    """Orthanc settings that keep the plugin's ledger in "database" ("Inbound.Ledger":
    "PostgreSQL" reads Orthanc's "PostgreSQL" section), with Orthanc's own index there too
    when "index" (Debian's orthanc-postgresql, "Lock": false: several Orthancs share it).
    Returns (inbound overrides, orthanc overrides without "Plugins", extra plugins)."""
    section, plugins = postgres.orthanc_settings(database)
    section["Lock"] = False
    if not index:
        section["EnableIndex"] = False
        plugins = []
    return {"Ledger": "PostgreSQL", "LeaseSeconds": LEASE_SECONDS}, {"PostgreSQL": section}, \
        plugins


class ScaleOut:
    """Everything of the topology, started by start() and stopped by stop() (each process by
    its pid). Servers are registered with conftest, so their logs come with a failure."""

    def __init__(self, plugin, gateway_prefixes=("A", "B")):
        self.plugin = plugin
        self.workdir = tempfile.mkdtemp(prefix="inbound-scaleout-")
        self.storage = os.path.join(self.workdir, "shared-storage")
        os.makedirs(self.storage)
        self.gateway_prefixes = gateway_prefixes
        self.postgresql = None
        self.database = None
        self.sink = None
        self.gateways = []
        self.site = None
        self.internals = []

    # ---------------------------------------------------------------- start and stop

    def start(self):
        self.postgresql = postgres.PostgreSQL().start()
        self.database = self.postgresql.create_database("hospital", "hospital",
                                                        "a-password-for-the-hospital")
        self.sink = mail_support.SmtpSink(os.path.join(self.workdir, "smtp")).start()
        for n, prefix in enumerate(self.gateway_prefixes, 1):
            inbound = {"Role": "Gateway", "TrustedProxies": ["127.0.0.1"],
                       "Upload": {"PartBytes": MiB},
                       "Pullers": [{"Username": PULLER[0], "Password": PULLER[1],
                                    "Networks": ["127.0.0.1"]}]}
            if prefix:
                inbound["UploadIdPrefix"] = prefix
            self.gateways.append(conftest._start(self.plugin, inbound=inbound,
                                                 orthanc={"Name": "gateway-%d" % n}))
        self.site = GatewaysProxy([(p, g.port) for p, g in zip(self.gateway_prefixes,
                                                                self.gateways)],
                                  admin_nets="127.0.0.1", peer_nets="127.0.0.1").start()
        for name in ("internal-a", "internal-b"):
            self.internals.append(self.make_internal(name))
        for internal in self.internals:
            self.start_server(internal)
        return self

    def make_internal(self, name):
        """An internal Orthanc from the shipped sample InternalPostgreSQL.json (Orthanc's index,
        its files and the ledger in PostgreSQL), with what the test machine changes: the
        database server, the nginx site's address and certificate, this Orthanc's name, the
        SMTP sink (and receipts to the senders, retries within seconds), no DICOM port, and
        the shortest LeaseSeconds."""
        database = self.database
        settings = {
            "Name": name, "RemoteAccessAllowed": False, "DicomServerEnabled": False,
            "Plugins": [self.plugin, postgres.INDEX_PLUGIN, postgres.STORAGE_PLUGIN],
            "PostgreSQL.Host": "127.0.0.1", "PostgreSQL.Port": database.server.port,
            "PostgreSQL.Database": database.name, "PostgreSQL.Username": database.user,
            "PostgreSQL.Password": database.password, "PostgreSQL.EnableSsl": False,
            "HttpsCACertificates": self.site.cert,
            "Inbound.LeaseSeconds": LEASE_SECONDS, "Inbound.Smtp": smtp(self.sink),
            "Inbound.Notifications.SenderReceipt": True,
            "Inbound.Notifications.RetryInterval": 1,
            "Inbound.Notifications.MaxRetryInterval": 2,
        }
        for n, _ in enumerate(self.gateways, 1):
            settings["OrthancPeers.dmz%d.Url" % n] = self.site.url + "/"
        server = samples.SampleServer(self.plugin, "InternalPostgreSQL.json", settings=settings)
        sample = samples.load("InternalPostgreSQL.json")
        assert sample["Inbound"]["Gateways"] == ["dmz%d" % n for n in
                                                 range(1, len(self.gateways) + 1)], sample
        return server

    @staticmethod
    def start_server(server):
        if server not in conftest.LIVE_SERVERS:
            conftest.LIVE_SERVERS.append(server)
        server.start()
        return server

    def servers(self):
        return self.internals + self.gateways

    def stop(self, check=True):
        """Stops everything; with "check", every Orthanc must still run and stop on SIGTERM."""
        errors = []
        for server in self.servers():
            try:
                conftest._cleanup(server, check=check)
            except AssertionError as e:
                errors.append(str(e)[:3000])
        for part in (self.site, self.sink):
            if part is not None:
                part.stop() if part is self.sink else part.cleanup()
        if self.postgresql is not None:
            self.postgresql.cleanup()
        if not os.environ.get("INBOUND_KEEP_TMP"):
            import shutil
            shutil.rmtree(self.workdir, ignore_errors=True)
        assert not errors, "\n".join(errors)

    def diagnostics(self):
        text = []
        if self.site is not None:
            text.append(self.site.log_tail())
        if self.postgresql is not None:
            text.append(self.postgresql.log_tail(40))
        if self.sink is not None:
            text.append("----- smtp sink -----\n" + self.sink.log()[-2000:])
        return "\n".join(text)

    # ---------------------------------------------------------------- queries

    def gateway_of(self, upload_id):
        """The gateways that know the upload (each answers its own ledger)."""
        return [g for g in self.gateways
                if g.admin("GET", "/inbound/admin/uploads/%s" % upload_id).status_code == 200]

    def ledger(self, sql):
        """Rows of a query of the plugin's tables in PostgreSQL (schema "inbound.")."""
        return self.database.query(sql)

    def leases_of(self, node_name):
        """The pull leases held by the internal Orthanc named "node_name" right now."""
        return [r[0] for r in self.ledger(
            "SELECT name FROM inbound.leases WHERE owner LIKE '%s/%%' AND name LIKE 'pull:%%'"
            % node_name)]


def wait_for(what, predicate, timeout=60.0, interval=0.2):
    """Polls predicate() until it returns something true; returns it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (AssertionError, OSError) as e:
            last = e
            value = None
        else:
            value = last
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("%s not within %.0f s (last: %r)" % (what, timeout, last))


def upload_state(server, upload_id):
    r = server.admin("GET", "/inbound/admin/uploads/%s" % upload_id)
    return r.json()["state"] if r.status_code == 200 else None


def mails_to(mails):
    """{address: [mails]} of mails, by envelope recipient."""
    found = {}
    for mail in mails:
        for address in mail.rcpt_tos:
            found.setdefault(address, []).append(mail)
    return found
