"""Real Orthanc servers with the Inbound plugin, and a small client of the Inbound API.
Over 500 lines: every server role and its settings in one harness the tests share.

Every server listens on 127.0.0.1 on a free port, keeps its storage, index and log in a
temporary directory of its own, and is stopped by its pid.
"""

import copy
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

import postgres

ORTHANC = os.environ.get("INBOUND_ORTHANC", "/usr/sbin/Orthanc")
ADMIN = ("admin", "admin-secret-4bX9qL2mT7vR")
REQUEST_TIMEOUT = 60
# "postgresql": Standalones and Internals keep their ledger there (postgres.LedgerDatabases).
LEDGER = os.environ.get("INBOUND_TEST_LEDGER", "sqlite").strip().lower()

PRIVACY_VERSION = "2026-01"
PRIVACY_TEXT = "We keep your data safe."
RECIPIENTS = [
    {"Id": "neuroradiology", "Name": "Neuroradiology", "Email": "neuro@hospital.example"},
    {"Id": "trauma", "Name": "Trauma", "Email": "trauma@hospital.example"},
]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def _ephemeral_ports():
    """The kernel's range of source ports for outgoing connections (Linux)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_handed_out = set()


def free_port():
    """A port that no socket uses on any address: Orthanc listens on all of them (and only
    answers loopback), so a port taken on 127.0.0.2 by a client would make it fail.

    Taken below the kernel's range of source ports, so that no outgoing connection (a libpq
    pool, an HTTP client) can sit on it while a server killed by a test is restarted on its
    port; never the same port twice in one test run."""
    low, _ = _ephemeral_ports()
    candidates = list(range(max(10000, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates[:500]:
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def merge(base, override):
    """Deep merge of two JSON objects: the values of "override" win, key by key."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# The functional tests open many uploads from 127.0.0.1 in a few seconds, and provoke many
# refusals on purpose: the plugin's rate limits, quotas, automatic bans and data monitor are
# turned off ("0": no limit) unless a test sets them.
NO_LIMITS = {
    "Limits": {"RequestsPerSecond": 0, "FilesPerSecond": 0, "BytesPerSecond": 0,
               "MaxUploadsInFlightPerClient": 0, "MaxBytesInFlight": 0},
    "Quotas": {"BytesPerClientPerDay": 0, "UploadsPerClientPerDay": 0,
               "BytesPerSenderPerDay": 0, "UploadsPerSenderPerDay": 0,
               "BytesPerDay": 0, "UploadsPerDay": 0},
    "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0, "WarnBytesPerDay": 0,
                    "StopBytesPerDay": 0},
    "AutoBan": {"Refusals": 0, "FailedLogins": 0},
}


def default_inbound_section():
    return merge(NO_LIMITS, {
        "Role": "Standalone",
        "SiteName": "Test Hospital",
        "Privacy": {"Version": PRIVACY_VERSION, "Text": PRIVACY_TEXT},
        "Recipients": copy.deepcopy(RECIPIENTS),
        "PatientIdPrefix": "INB-",
        "Upload": {"OpenTimeout": 86400, "ExpiryCheckInterval": 1},
    })


class SealingKeys:
    """The test session's key pair of an Internal (doc/Operations.md, "Sealed staging"), made
    once: every Gateway the harness starts seals for its public key and every Internal holds
    its private key (a file of mode 600), so that the whole suite runs sealed. A test that
    needs plain text or keys of its own sets "Sealing" itself."""

    _folder = None

    @classmethod
    def _make(cls):
        if cls._folder is None:
            import atexit
            import sealing
            private, public = sealing.new_key_pair()
            folder = tempfile.mkdtemp(prefix="inbound-sealing-")
            path = os.path.join(folder, "internal-sealing.pem")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as f:
                f.write(private)
            with open(os.path.join(folder, "internal-sealing.pub"), "wb") as f:
                f.write(public)
            atexit.register(shutil.rmtree, folder, True)
            cls._folder = folder
        return cls._folder

    @classmethod
    def private_key_file(cls):
        return os.path.join(cls._make(), "internal-sealing.pem")

    @classmethod
    def public_key(cls):
        """The PEM text (str)."""
        with open(os.path.join(cls._make(), "internal-sealing.pub")) as f:
            return f.read()

    @classmethod
    def private_key(cls):
        with open(cls.private_key_file(), "rb") as f:
            return f.read()

    @classmethod
    def open_item(cls, upload_id, sha256_hex, envelope):
        """What a gateway staged or served for an item, opened with the session's key."""
        import sealing
        return sealing.open_envelope(cls.private_key(), envelope,
                                     "item:%s:%s" % (upload_id, sha256_hex))

    @classmethod
    def open_fields(cls, manifest):
        """The sealed fields of a gateway's manifest: {"sender", "message", "userAgent"}."""
        import base64
        import sealing
        return json.loads(sealing.open_envelope(
            cls.private_key(), base64.b64decode(manifest["sealedFields"]),
            "fields:%s" % manifest["id"]))

    @classmethod
    def apply(cls, inbound):
        """Gives an "Inbound" section of a Gateway the public key and of an Internal the private
        key, unless it sets them itself."""
        sealing_section = inbound.get("Sealing", {})
        if inbound.get("Role") == "Gateway" and "PublicKeys" not in sealing_section:
            inbound.setdefault("Sealing", {})["PublicKeys"] = [cls.public_key()]
        elif inbound.get("Role") == "Internal" and "PrivateKey" not in sealing_section:
            inbound.setdefault("Sealing", {})["PrivateKey"] = cls.private_key_file()
        return inbound


class ServerError(RuntimeError):
    pass


class OrthancServer:
    """One Orthanc process. "plugin" None starts Orthanc without any plugin."""

    def __init__(self, plugin, inbound=None, orthanc=None, startup_timeout=30.0):
        self.plugin = plugin
        self.inbound = merge(default_inbound_section(), inbound)
        self.orthanc_overrides = orthanc or {}
        self.startup_timeout = startup_timeout
        self.workdir = tempfile.mkdtemp(prefix="inbound-it-")
        self.storage = os.path.join(self.workdir, "db")
        os.makedirs(self.storage)
        self.config_path = os.path.join(self.workdir, "config.json")
        self.log_path = os.path.join(self.workdir, "orthanc.log")
        self.port = None
        self.dicom_port = None
        self.process = None
        self.starts = 0
        self.killed = False
        self.ledger_database = None    # its PostgreSQL ledger (LEDGER), kept across restarts

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def configuration(self):
        config = {
            "Name": "InboundTest",
            "StorageDirectory": self.storage,
            "IndexDirectory": self.storage,
            "HttpPort": self.port,
            "DicomServerEnabled": False,
            "DicomPort": self.dicom_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "RegisteredUsers": {ADMIN[0]: ADMIN[1]},
            "HttpDescribeErrors": False,
            "WebDavEnabled": False,
            "Plugins": [self.plugin] if self.plugin else [],
            "UserMetadata": {
                "InboundUpload": 4201,
                "InboundSender": 4202,
                "InboundOriginalPatientID": 4203,
                "InboundSha256": 4204,
            },
        }
        if self.plugin:
            config["Inbound"] = SealingKeys.apply(copy.deepcopy(self.inbound))
        if self.ledger_database or LEDGER == "postgresql" and self.plugin and "Ledger" not in \
                self.inbound and self.inbound["Role"] in ("Standalone", "Internal"):
            self.ledger_database = self.ledger_database or postgres.LedgerDatabases.create()
            config["Inbound"]["Ledger"] = "PostgreSQL"
            # A restarted Orthanc has a new node id: its previous run's leases are taken over
            # after LeaseSeconds (doc/Ledger.md "Leases"); the shortest keeps restarts quick.
            config["Inbound"].setdefault("LeaseSeconds", 10)
            config["PostgreSQL"] = postgres.LedgerDatabases.settings(self.ledger_database)
        return merge(config, self.orthanc_overrides)

    def start(self):
        # A free port is only free until somebody else takes it: on a first start, another
        # pair of ports is tried when Orthanc finds its port taken.
        first_start = self.port is None
        for attempt in range(3):
            try:
                return self._start_once()
            except ServerError as e:
                if not (first_start and "already in use" in str(e)) or attempt == 2:
                    raise
                self.port = None

    def _start_once(self):
        if self.process is not None:
            raise ServerError("Orthanc is already running (pid %d)" % self.process.pid)
        if self.port is None:
            self.port = free_port()
            self.dicom_port = free_port()
        with open(self.config_path, "w") as f:
            json.dump(self.configuration(), f, indent=2)
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(("\n===== start #%d: %s %s =====\n"
                   % (self.starts, ORTHANC, self.config_path)).encode())
        log.flush()
        try:
            self.process = subprocess.Popen(
                [ORTHANC, self.config_path], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.workdir)
        finally:
            log.close()
        self._wait_until_ready()
        return self

    def _wait_until_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise ServerError("Orthanc exited with code %s during start-up\n%s"
                                  % (code, self.log_tail()))
            try:
                r = requests.get(self.url + "/system", auth=ADMIN, timeout=2)
                if r.status_code == 200:
                    return
                last = "HTTP %d" % r.status_code
            except requests.RequestException as e:
                last = str(e)
            time.sleep(0.1)
        self.stop()
        raise ServerError("Orthanc did not answer GET /system with 200 within %.0f s (last: %s)\n%s"
                          % (self.startup_timeout, last, self.log_tail()))

    def stop(self, timeout=20.0):
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                process.kill()
                process.wait(10)
        return process.returncode

    def stop_cleanly(self):
        """Stops Orthanc and checks that it had not died and that it stopped on SIGTERM."""
        if not self.running():
            code = None if self.process is None else self.process.poll()
            self.process = None
            raise AssertionError("Orthanc was no longer running (exit code %s)\n%s"
                                 % (code, self.log_tail()))
        code = self.stop()
        assert not self.killed, "Orthanc did not stop on SIGTERM\n%s" % self.log_tail()
        assert code == 0, "Orthanc stopped with exit code %s\n%s" % (code, self.log_tail())

    def kill(self):
        """Kills Orthanc with SIGKILL, as a crash or a power cut would."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def restart(self):
        """Stops Orthanc and starts it again on the same port and the same directories."""
        self.stop()
        return self.start()

    def cleanup(self):
        self.stop()
        if not os.environ.get("INBOUND_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines=200):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log at %s)" % self.log_path
        tail = text.splitlines()[-lines:]
        return "----- Orthanc log %s (last %d lines) -----\n%s" % (
            self.log_path, len(tail), "\n".join(tail))

    # ---------------------------------------------------------------- HTTP

    def request(self, method, path, auth=None, **kwargs):
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        if auth is not None:
            # Admin writes are accepted from the site's own pages or from scripts that say
            # so (a cross-site page cannot); a test that wants to omit it passes None.
            kwargs["headers"] = dict(kwargs.get("headers") or {})
            kwargs["headers"].setdefault("X-Requested-With", "XMLHttpRequest")
        return requests.request(method, self.url + path, auth=auth, **kwargs)

    def admin(self, method, path, **kwargs):
        return self.request(method, path, auth=ADMIN, **kwargs)

    def admin_json(self, method, path, expected=200, **kwargs):
        r = self.admin(method, path, **kwargs)
        if r.status_code != expected:
            raise AssertionError("%s %s: expected %d, got %d: %s"
                                 % (method, path, expected, r.status_code, r.text[:500]))
        return r.json()

    # ---------------------------------------------------------------- Orthanc queries (admin)

    def count_instances(self):
        return self.admin_json("GET", "/statistics")["CountInstances"]

    def all_instances(self):
        return set(self.admin_json("GET", "/instances"))

    def find(self, level, query, expand=False):
        return self.admin_json("POST", "/tools/find",
                               json={"Level": level, "Query": query, "Expand": expand})

    def patients_of_upload(self, upload_id, prefix="INB-"):
        """Orthanc patients (expanded) whose PatientID lies in the namespace of the upload."""
        return self.find("Patient", {"PatientID": "%s%s-*" % (prefix, upload_id)}, expand=True)

    def instances_of_upload(self, upload_id, prefix="INB-"):
        """Orthanc instances (expanded) of the upload's patients, by SOPInstanceUID."""
        result = {}
        for patient in self.patients_of_upload(upload_id, prefix):
            for instance in self.admin_json("GET", "/patients/%s/instances" % patient["ID"]):
                uid = instance["MainDicomTags"]["SOPInstanceUID"]
                assert uid not in result, "SOP Instance %s stored twice" % uid
                result[uid] = instance
        return result

    def metadata(self, level, orthanc_id, name):
        """The value of one metadata item, or None when absent."""
        r = self.admin("GET", "/%s/%s/metadata/%s" % (level, orthanc_id, name))
        if r.status_code == 404:
            return None
        assert r.status_code == 200, "metadata %s of %s: %d %s" % (
            name, orthanc_id, r.status_code, r.text[:300])
        return r.text

    def instance_file(self, orthanc_id):
        r = self.admin("GET", "/instances/%s/file" % orthanc_id)
        assert r.status_code == 200, r.text[:300]
        return r.content

    def admin_uploads(self, **params):
        return self.admin_json("GET", "/inbound/admin/uploads", params=params)["uploads"]

    def admin_upload(self, upload_id):
        return self.admin_json("GET", "/inbound/admin/uploads/%s" % upload_id)


def sender(**overrides):
    s = {"name": "Dr. A. Example", "email": "a.example@clinic.example",
         "institution": "Example Clinic", "phone": "+49 251 0000"}
    s.update(overrides)
    return s


# A value for open_body() overrides: leave the key out of the body.
OMIT = object()


def open_body(**overrides):
    body = {
        "sender": sender(),
        "recipient": "neuroradiology",
        "message": "CT from 12 May, referral for stroke work-up",
        "consent": {"version": PRIVACY_VERSION, "accepted": True},
    }
    for key, value in overrides.items():
        if value is OMIT:
            body.pop(key, None)
        else:
            body[key] = value
    return body


class Upload:
    """An upload opened on a server, seen from the sender's side (no credentials)."""

    def __init__(self, server, answer, body):
        self.server = server
        self.answer = answer
        self.body = body
        self.id = answer["id"]
        self.token = answer["token"]

    @classmethod
    def open(cls, server, **overrides):
        body = open_body(**overrides)
        r = server.request("POST", "/inbound/api/uploads", json=body)
        assert r.status_code == 201, "open upload: %d %s" % (r.status_code, r.text[:500])
        return cls(server, r.json(), body)

    def headers(self, token=None):
        return {"X-Inbound-Token": self.token if token is None else token}

    def path(self, suffix=""):
        return "/inbound/api/uploads/%s%s" % (self.id, suffix)

    def put(self, data, digest=None, token=None, content_type="application/dicom"):
        digest = sha256(data) if digest is None else digest
        headers = self.headers(token)
        headers["Content-Type"] = content_type
        return self.server.request("PUT", self.path("/files/%s" % digest), data=data,
                                   headers=headers)

    def put_ok(self, data):
        r = self.put(data)
        assert r.status_code in (200, 201), "PUT: %d %s" % (r.status_code, r.text[:500])
        return r.json()

    def status(self, token=None):
        return self.server.request("GET", self.path(), headers=self.headers(token))

    def status_json(self):
        r = self.status()
        assert r.status_code == 200, "status: %d %s" % (r.status_code, r.text[:500])
        return r.json()

    def complete(self, token=None):
        return self.server.request("POST", self.path("/complete"), headers=self.headers(token))

    def complete_ok(self):
        r = self.complete()
        assert r.status_code == 200, "complete: %d %s" % (r.status_code, r.text[:500])
        return r.json()

    def cancel(self, token=None):
        return self.server.request("DELETE", self.path(), headers=self.headers(token))


def assert_error(response, status, code):
    """An error answer of the plugin: the status, and a JSON body {"error", "message"}."""
    assert response.status_code == status, "expected %d %s, got %d: %s" % (
        status, code, response.status_code, response.text[:500])
    try:
        body = response.json()
    except ValueError:
        raise AssertionError("error answer is not JSON: %r" % response.text[:500])
    assert body.get("error") == code, "expected error %r, got %r" % (code, body)
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def read(path):
    with open(path, "rb") as f:
        return f.read()


def stop_process(process, timeout=20.0):
    """Stops a helper process of a test (SIGTERM, then SIGKILL after "timeout" seconds)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
