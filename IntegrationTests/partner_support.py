"""A partner clinic's sending Orthanc started from the shipped Partner.json + Partner.lua with
Debian's DICOMweb plugin, and a capture STOW-RS receiver that records what arrives on the wire.

The capture receiver answers like a STOW-RS origin server (PS3.18 §10.5, Annex I: 200 with a
ReferencedSOPSequence item per stored instance) unless told otherwise, one answer per request
from a script of answers ("503", "200-failed", "slow"), so that the sender's retries can be
tested before the plugin's own partner route exists."""

import http.server
import io
import json
import re
import subprocess
import threading
import time

import pydicom
import checks
import data
import harness
import samples
from harness import ADMIN

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
PARTNER_JSON = samples.path("Partner.json")
PARTNER_LUA = samples.path("Partner.lua")
TOKEN = "k3Jd9xQm2LpV7tRz4WbN8cYh5FgS1aEu6oIvXnM0qTw"
STORESCU = "/usr/bin/storescu"   # Debian's dcmtk: the clinic's modality
MODALITY_AET = "CT1"


# ------------------------------------------------------------------------- the sender


class PartnerSender(harness.OrthancServer):
    """The clinic's Orthanc, from the sample as shipped except what a test machine needs:
    folders, ports, the admin's password, the Lua file's path, the receiver's URL and token,
    a short StableAge and back-off (tests wait seconds, not minutes), and ChunkedTransfers."""

    def __init__(self, url, token=TOKEN, chunked=True, stable_age=1, retry_base=1,
                 retry_max=4, ca_file=None):
        super().__init__(None)
        self.stow_url = url
        self.token = token
        self.chunked = chunked
        self.stable_age = stable_age
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.ca_file = ca_file   # the hospital's certificate authority (HTTPS), else the system's

    def configuration(self):
        config = samples.configtool.load(PARTNER_JSON)
        config.update({"StorageDirectory": self.storage, "IndexDirectory": self.storage,
                       "HttpPort": self.port, "DicomPort": self.dicom_port,
                       "RegisteredUsers": {ADMIN[0]: ADMIN[1]},
                       "LuaScripts": [PARTNER_LUA], "StableAge": self.stable_age})
        assert config["Plugins"] == [DICOMWEB_PLUGIN]
        hospital = config["DicomWeb"]["Servers"][config["InboundPartner"]["Server"]]
        hospital["Url"] = self.stow_url
        hospital["HttpHeaders"]["Authorization"] = "Bearer " + self.token
        hospital["ChunkedTransfers"] = self.chunked
        config["InboundPartner"].update({"RetryBaseSeconds": self.retry_base,
                                         "RetryMaxSeconds": self.retry_max})
        # The modality of the sample, on this machine (its address is checked: loopback).
        assert list(config["DicomModalities"]) == ["ct"] and not config["DicomAlwaysAllowStore"]
        config["DicomModalities"]["ct"] = [MODALITY_AET, "127.0.0.1", 104]
        assert config["HttpsVerifyPeers"] is True
        if self.ca_file:
            config["HttpsCACertificates"] = self.ca_file
        return config

    def c_store(self, paths):
        """The files sent by the sample's modality with DCMTK's storescu (one association)."""
        result = subprocess.run([STORESCU, "-aet", MODALITY_AET, "-aec", "CLINIC", "127.0.0.1",
                                 str(self.dicom_port)] + list(paths),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert result.returncode == 0, result.stdout.decode(errors="replace")

    def files(self):
        """sha256 -> data.Original of every instance this Orthanc holds, as it would send it."""
        found = {}
        for instance in self.admin_json("GET", "/instances"):
            r = self.admin("GET", "/instances/%s/file" % instance)
            assert r.status_code == 200, r.text
            original = data.Original(data=r.content)
            found[original.sha256] = original
        return found

    def store(self, data):
        """A file put in by REST, as the clinic's staff would from Orthanc Explorer."""
        r = self.admin("POST", "/instances", data=data)
        assert r.status_code == 200, r.text
        return r.json()

    def state(self, study_id):
        """The study's InboundPartnerState metadata (None: none)."""
        r = self.admin("GET", "/studies/%s/metadata/InboundPartnerState" % study_id)
        return r.text if r.status_code == 200 else None

    def jobs(self):
        return self.admin_json("GET", "/jobs?expand")

    def stow_jobs(self):
        """The DICOMweb client's STOW-RS jobs, oldest first."""
        jobs = [j for j in self.jobs() if j["Type"] == "DicomWebStowClient"]
        return sorted(jobs, key=lambda j: j["CreationTime"])

    def wait_state(self, study_id, prefix, timeout=60):
        """Polls the study's state until it starts with prefix. Each poll is also an HTTP
        request, i.e. the Lua's clock on Orthanc 1.10.1 (Partner.lua)."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.state(study_id)
            if state is not None and state.startswith(prefix):
                return state
            time.sleep(0.2)
        raise AssertionError("study %s: state %r, not %s... after %d s\n%s"
                             % (study_id, state, prefix, timeout, self.log_tail(60)))


# ------------------------------------------------------------------------- the receiver


class Request:
    """One request as received: path, headers, body and how it came (chunks or length)."""

    def __init__(self, path, headers, body, chunk_sizes):
        self.path = path
        self.headers = headers
        self.body = body
        self.chunk_sizes = chunk_sizes   # None: sent with Content-Length
        self.parts = split_multipart(headers.get("Content-Type", ""), body)
        self.answer = None   # (mode, status) once answered
        self.received_at = time.monotonic()   # when the whole body was read


def boundary_of(content_type):
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    return m.group(1) if m else None


def split_multipart(content_type, body):
    """[(headers dict, bytes)] of a multipart/related body, each part's Content-Length
    honoured; ValueError when the framing is not as RFC 2046 says."""
    boundary = boundary_of(content_type)
    if not content_type.startswith("multipart/related") or boundary is None:
        return []
    delimiter = b"--" + boundary.encode()
    parts, position = [], 0
    if not body.startswith(delimiter):
        raise ValueError("the body does not start with the boundary")
    while True:
        position += len(delimiter)
        if body[position:position + 2] == b"--":
            return parts
        if body[position:position + 2] != b"\r\n":
            raise ValueError("no CRLF after a boundary")
        end_of_headers = body.index(b"\r\n\r\n", position)
        headers = {}
        for line in body[position + 2:end_of_headers].decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end_of_headers + 4
        if "content-length" in headers:
            end = start + int(headers["content-length"])
        else:
            end = body.index(b"\r\n" + delimiter, start)
        parts.append((headers, body[start:end]))
        if body[end:end + 2 + len(delimiter)] != b"\r\n" + delimiter:
            raise ValueError("a part does not end with CRLF and the boundary")
        position = end + 2


def stow_answer(base_url, datasets, failed=()):
    """The DICOM JSON answer of PS3.18 Annex I for the given pydicom datasets; those whose
    SOPInstanceUID is in "failed" go to the FailedSOPSequence (FailureReason 0xA700)."""
    referenced, failures = [], []
    for ds in datasets:
        item = {"00081150": {"vr": "UI", "Value": [str(ds.SOPClassUID)]},
                "00081155": {"vr": "UI", "Value": [str(ds.SOPInstanceUID)]}}
        if str(ds.SOPInstanceUID) in failed:
            item["00081197"] = {"vr": "US", "Value": [0xA700]}
            failures.append(item)
        else:
            item["00081190"] = {"vr": "UR", "Value": ["%s/studies/%s/series/%s/instances/%s" % (
                base_url, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)]}
            referenced.append(item)
    answer = {"00080005": {"vr": "CS", "Value": ["ISO_IR 192"]},
              "00081190": {"vr": "UR", "Value": ["%s/studies/%s" % (
                  base_url, datasets[0].StudyInstanceUID)] if datasets else []}}
    if referenced:
        answer["00081199"] = {"vr": "SQ", "Value": referenced}
    if failures:
        answer["00081198"] = {"vr": "SQ", "Value": failures}
    return answer


class CaptureReceiver:
    """A STOW-RS receiver on 127.0.0.1 (a thread of the test process, stopped by stop()).
    "script": the answers of the first requests in order ("ok", "503", "200-failed": 200 with
    the first instance in the FailedSOPSequence, "slow": "ok" after "slow_seconds"); later
    requests get "ok". Every request is kept in "requests"."""

    def __init__(self, script=(), slow_seconds=5.0):
        self.script = list(script)
        self.slow_seconds = slow_seconds
        self.requests = []
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d/inbound/dicom-web/" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def next_mode(self):
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def wait_requests(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.1)
        raise AssertionError("%d requests received, not %d, within %d s"
                             % (len(self.requests), count, timeout))

    def _handler(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    sizes, body = [], bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(body), sizes
                        sizes.append(size)
                        body += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", "0"))), None

            def do_POST(self):
                body, sizes = self.read_body()
                request = Request(self.path, dict(self.headers.items()), body, sizes)
                mode = receiver.next_mode()
                with receiver.lock:
                    receiver.requests.append(request)
                datasets = [pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
                            for _, data in request.parts]
                base = "http://127.0.0.1:%d/inbound/dicom-web" % receiver.port
                if mode == "503":
                    status, answer = 503, {"error": "server-busy"}
                elif mode == "200-failed":
                    status = 200
                    answer = stow_answer(base, datasets, {str(datasets[0].SOPInstanceUID)})
                else:
                    if mode == "slow":
                        time.sleep(receiver.slow_seconds)
                    status, answer = 200, stow_answer(base, datasets)
                request.answer = (mode, status)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/dicom+json")
                self.send_header("Content-Length", str(len(data)))
                if status == 503:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(data)

        return Handler


def study_of(request):
    """The StudyInstanceUIDs of the parts of a request."""
    return {str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).StudyInstanceUID)
            for _, data in request.parts}


def orthanc_study_id(sender, study_uid):
    r = sender.admin("POST", "/tools/lookup", data=study_uid)
    assert r.status_code == 200, r.text
    found = [x["ID"] for x in r.json() if x["Type"] == "Study"]
    assert len(found) == 1, r.json()
    return found[0]



# ------------------------------------------------------------------------- the hospital

NEURO = harness.RECIPIENTS[0]
PARTNER = {"Id": "clinic-a", "Name": "Clinic A", "Institution": "Clinic A, Radiology",
           "Email": "pacs@clinic-a.example", "TokenSha256": harness.sha256(TOKEN.encode()),
           "Recipient": NEURO["Id"], "Networks": ["127.0.0.1/32"]}
QUIET_SECONDS = 2
MAIL_FROM = "Orthanc Inbound <inbound@hospital.example>"


def hospital(plugin, sink=None, role="Standalone", inbound=None, orthanc=None):
    """A hospital's Orthanc with the plugin (not started), its ports chosen now so that its
    mails (to the sink) link to itself. A Standalone or Gateway has the partner PARTNER, whose
    uploads complete after QUIET_SECONDS."""
    port = harness.free_port()
    section = {"Role": role}
    if sink is not None:
        section["Smtp"] = {"Host": "127.0.0.1", "Port": sink.port, "Security": "None",
                           "From": MAIL_FROM, "Timeout": 10}
        # Receipts on, as a hospital may have them for browsers: a partner gets none.
        section["Notifications"] = {"OrthancUrl": "http://127.0.0.1:%d" % port,
                                    "RetryInterval": 1, "MaxRetryInterval": 2,
                                    "SenderReceipt": True}
    if role != "Internal":
        section["Partners"] = [dict(PARTNER)]
        section["PartnerLimits"] = {"QuietSeconds": QUIET_SECONDS}
    server = harness.OrthancServer(plugin, inbound=harness.merge(section, inbound),
                                   orthanc=orthanc)
    server.port, server.dicom_port = port, harness.free_port()
    return server


def uploads_of(server, state=None):
    """Every upload the server lists (the tests' hospitals receive from the partner only)."""
    return [u for u in server.admin_uploads(limit=1000) if state in (None, u["state"])]


def wait_uploads(server, count, state="complete", timeout=60):
    """Waits until "count" uploads are in "state"; returns them, oldest first."""
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        found = uploads_of(server, state)
        if len(found) >= count:
            return sorted(found, key=lambda u: (u["createdAt"], u["id"]))
        time.sleep(0.3)
    raise AssertionError("%d uploads %s expected on %s within %d s: %s\n%s" % (
        count, state, server.url, timeout, json.dumps(uploads_of(server))[:3000],
        server.log_tail(80)))


def assert_arrived(server, uploads, files):
    """Each upload is the partner's, of one study: together exactly the studies of "files"
    (sha256 -> data.Original, as the clinic sent them), every instance stored once, isolated
    (its own PatientID namespace, the rest of the file unchanged) with InboundSha256 the hash
    of the very bytes sent. Returns {StudyInstanceUID: upload}."""
    by_study = {}
    for u in uploads:
        assert u["state"] == "complete", u
        assert (u["sender"]["name"], u["sender"]["institution"]) == \
            (PARTNER["Name"], PARTNER["Institution"]), u["sender"]
        recipient = u["recipient"]["id"] if isinstance(u["recipient"], dict) else u["recipient"]
        assert recipient == PARTNER["Recipient"], u
        assert len(u["studies"]) == 1, "one study per upload: %s" % u["studies"]
        uid = u["studies"][0]["studyInstanceUid"]
        assert uid not in by_study, "two uploads of study %s" % uid
        by_study[uid] = u
    expected = {}
    for original in files.values():
        expected.setdefault(original.study_instance_uid, {})[original.sop_instance_uid] = original
    assert sorted(by_study) == sorted(expected), "one upload per study sent"
    for uid, u in by_study.items():
        sent = expected[uid]
        assert u["files"] == len(sent) and u["bytes"] == sum(o.size for o in sent.values()), u
        stored = server.instances_of_upload(u["id"])
        assert sorted(stored) == sorted(sent), "study %s: instances stored" % uid
        for sop, instance in stored.items():
            checks.assert_instance_metadata(server, instance["ID"], sent[sop], u["id"])
            checks.assert_same_dicom_but_patient(sent[sop], server.instance_file(instance["ID"]),
                                                 u["id"])
        study = u["studies"][0]["orthancId"]
        info = json.loads(server.metadata("studies", study, "InboundSender"))
        assert (info["sender"]["name"], info["sender"]["institution"]) == \
            (PARTNER["Name"], PARTNER["Institution"]), info
        assert info["partner"] == PARTNER["Id"], info
        assert server.metadata("studies", study, "InboundUpload") == u["id"]
    return by_study


def assert_one_mail_per_upload(sink, server, uploads):
    """The partner's recipient got exactly one mail per upload (and the partner no receipt),
    saying the partner sent it automatically, whose links open the upload's isolated studies
    in the viewer (Orthanc Explorer) of "server"."""
    mails = sink.wait_for(len(uploads), timeout=30)
    mails = sink.assert_stays(len(uploads), 1.0)
    link = re.compile(re.escape(server.url) +
                      r"/app/explorer\.html#study\?uuid=([0-9a-f]{8}(?:-[0-9a-f]{8}){4})")
    by_upload = {}
    for mail in mails:
        assert mail.rcpt_tos == [NEURO["Email"]], mail.envelope
        [upload_id] = mail.headers("X-Inbound-Upload")
        assert upload_id not in by_upload, "two mails for upload %s" % upload_id
        by_upload[upload_id] = mail
        assert mail.subject == "[%s] Images sent automatically by %s" % (
            harness.default_inbound_section()["SiteName"], PARTNER["Name"]), mail.subject
        assert "Sent automatically by %s (%s), a partner site" % (
            PARTNER["Name"], PARTNER["Institution"]) in mail.text, mail.text
    assert sorted(by_upload) == sorted(u["id"] for u in uploads)
    viewer = server.admin("GET", "/app/explorer.html")
    assert viewer.status_code == 200 and "text/html" in viewer.headers["Content-Type"]
    for u in uploads:
        mail = by_upload[u["id"]]
        studies = link.findall(mail.text)
        assert studies and set(studies) == set(link.findall(mail.html)), mail.text
        assert set(studies) == {s["orthancId"] for s in u["studies"]}, (studies, u["studies"])
        for study in studies:
            shown = server.admin_json("GET", "/studies/%s" % study)
            assert shown["PatientMainDicomTags"]["PatientID"].startswith("INB-%s-" % u["id"])
    return by_upload


def assert_sent(sender, studies, jobs=None):
    """The clinic's view: each study "sent", every STOW-RS job a success (one per study unless
    "jobs" says how many)."""
    done = sender.stow_jobs()
    assert [j["State"] for j in done] == ["Success"] * (jobs or studies), done
    ids = sender.admin_json("GET", "/studies")
    assert len(ids) == studies
    for study in ids:
        assert (sender.state(study) or "").startswith("sent "), sender.state(study)


def assert_partner_figures(server, uploads, files, requests_):
    """The admin's view of the partner (GET /inbound/admin/partners[/{id}]): today's requests,
    instances, bytes and studies, no failure, a last contact, nothing open, and its uploads."""
    [listed] = [p for p in server.admin_json("GET", "/inbound/admin/partners")["partners"]
                if p["id"] == PARTNER["Id"]]
    assert (listed["name"], listed["institution"], listed["recipient"], listed["enabled"]) == \
        (PARTNER["Name"], PARTNER["Institution"], PARTNER["Recipient"], True), listed
    today = listed["today"]
    assert (today["requests"], today["instances"], today["bytes"], today["studies"],
            today["failures"]) == (requests_, len(files), sum(o.size for o in files.values()),
                                   len(uploads), 0), listed
    checks.assert_iso_time(listed["lastContactAt"], "lastContactAt")
    assert listed["openUploads"] == 0 and listed["lastFailure"] is None, listed
    detail = server.admin_json("GET", "/inbound/admin/partners/%s" % PARTNER["Id"])
    shown = {u["id"]: u for u in detail["uploads"]}
    assert sorted(shown) == sorted(u["id"] for u in uploads), detail["uploads"]
    for u in uploads:
        assert shown[u["id"]]["state"] == u["state"], shown[u["id"]]
        assert shown[u["id"]]["study"] == u["studies"][0]["studyInstanceUid"], shown[u["id"]]
