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
import threading
import time

import pydicom
import harness
import samples
from harness import ADMIN

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
PARTNER_JSON = samples.path("Partner.json")
PARTNER_LUA = samples.path("Partner.lua")
TOKEN = "k3Jd9xQm2LpV7tRz4WbN8cYh5FgS1aEu6oIvXnM0qTw"


# ------------------------------------------------------------------------- the sender


class PartnerSender(harness.OrthancServer):
    """The clinic's Orthanc, from the sample as shipped except what a test machine needs:
    folders, ports, the admin's password, the Lua file's path, the receiver's URL and token,
    a short StableAge and back-off (tests wait seconds, not minutes), and ChunkedTransfers."""

    def __init__(self, url, token=TOKEN, chunked=True, stable_age=1, retry_base=1,
                 retry_max=4):
        super().__init__(None)
        self.stow_url = url
        self.token = token
        self.chunked = chunked
        self.stable_age = stable_age
        self.retry_base = retry_base
        self.retry_max = retry_max

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
        return config

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

