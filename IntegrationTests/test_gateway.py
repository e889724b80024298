"""The Gateway role, started from the sample configuration that admins copy, behind the shipped
nginx site; and the start-up self-check that refuses unsafe Orthanc settings."""

import json
import os
import subprocess

import pytest

import data
import harness
import samples
from gateway_support import audit, staged_files
from harness import OrthancServer, Upload
from proxy import NginxProxy

SAMPLE = "Gateway.json"


@pytest.fixture(scope="module")
def sample_gateway(plugin):
    yield from samples.running(plugin, SAMPLE)


@pytest.fixture(scope="module")
def sample_proxy(sample_gateway):
    p = NginxProxy(sample_gateway.port, admin_nets="127.0.0.1").start()
    yield p
    p.cleanup()


def test_the_sample_keeps_its_limits_and_safe_settings(sample_gateway):
    sample = samples.load(SAMPLE)
    written = json.load(open(sample_gateway.config_path))
    for key in ("RemoteAccessAllowed", "SslEnabled", "AuthenticationEnabled",
                "DicomServerEnabled", "WebDavEnabled", "HttpDescribeErrors"):
        assert written[key] == sample[key] and written[key] is False, key
    assert written["Inbound"]["Limits"] == sample["Inbound"]["Limits"]
    assert written["Inbound"]["Quotas"] == sample["Inbound"]["Quotas"]
    assert sample["Inbound"]["Role"] == "Gateway"
    assert sample["Inbound"]["TrustedProxies"] == ["127.0.0.1"]
    described = sample_gateway.admin_json("GET", "/inbound/admin/limits")
    assert described["limits"]["requestsPerSecond"] == sample["Inbound"]["Limits"][
        "RequestsPerSecond"]
    assert described["quotas"]["limits"]["uploadsPerClientPerDay"] == sample["Inbound"][
        "Quotas"]["UploadsPerClientPerDay"]


def test_sample_gateway_behind_the_proxy_stages_the_exact_bytes(sample_gateway, sample_proxy):
    s, p = sample_gateway, sample_proxy
    sender_address = "127.0.0.5"
    r = p.request("POST", "/inbound/api/uploads", source=sender_address,
                  json=harness.open_body(), headers={"X-Forwarded-For": "203.0.113.66"})
    assert r.status_code == 201, r.text
    upload = r.json()
    token = {"X-Inbound-Token": upload["token"], "Content-Type": "application/dicom"}
    originals = [data.Original(data.CT_SMALL), data.Original(data.MR_SMALL),
                 data.Original(data.test_file("JPEG2000.dcm"))]
    for o in originals:
        r = p.request("PUT", "/inbound/api/uploads/%s/files/%s" % (upload["id"], o.sha256),
                      source=sender_address, data=o.data, headers=token)
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == o.sha256 and r.json()["size"] == o.size
    # An idempotent retry, and a refused file: neither adds anything.
    r = p.request("PUT", "/inbound/api/uploads/%s/files/%s" % (upload["id"], originals[0].sha256),
                  source=sender_address, data=originals[0].data, headers=token)
    assert r.status_code == 200, r.text
    r = p.request("PUT", "/inbound/api/uploads/%s/files/%s" % (upload["id"], "0" * 64),
                  source=sender_address, data=originals[1].data, headers=token)
    assert r.status_code == 409
    r = p.request("POST", "/inbound/api/uploads/%s/complete" % upload["id"],
                  source=sender_address, headers=token)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["files"] == 3 and receipt["bytes"] == sum(o.size for o in originals)

    staged = staged_files(s, s.data_directory)
    expected = {os.path.join(upload["id"], o.sha256): o.data for o in originals}
    assert sorted(staged) == sorted(expected), sorted(staged)
    for name, content in staged.items():
        # Sealed for the Internal (harness.SealingKeys): the exact bytes, once opened.
        opened = harness.SealingKeys.open_item(upload["id"], os.path.basename(name), content)
        assert content != opened and harness.sha256(opened) == os.path.basename(name)
        assert opened == expected[name]
    # Nothing in the DMZ's Orthanc.
    assert s.admin_json("GET", "/instances") == []
    assert s.admin_json("GET", "/statistics")["CountInstances"] == 0
    # The admin sees the upload, its counts and the real client (not the spoofed header).
    (listed,) = [u for u in s.admin_uploads() if u["id"] == upload["id"]]
    assert listed["files"] == 3 and listed["bytes"] == receipt["bytes"], listed
    assert listed["state"] == "complete"
    events = [e for e in audit(s) if e.get("uploadId") == upload["id"]]
    assert events and {e["ip"] for e in events} == {sender_address}, events
    detail = s.admin_json("GET", "/inbound/admin/uploads/%s" % upload["id"])
    assert sender_address in json.dumps(detail) and "203.0.113.66" not in json.dumps(detail)


def test_gateway_stages_nothing_for_refused_files(start_server):
    s = start_server(inbound={"Role": "Gateway"})
    upload = Upload.open(s)
    assert upload.put(b"not dicom at all" * 20).status_code == 400
    assert upload.put(harness.read(data.CT_SMALL), digest="1" * 64).status_code == 409
    assert upload.put(harness.read(data.CD_DICOMDIR)).status_code == 422
    assert staged_files(s) == {}
    original = data.Original(data.CT_SMALL)
    assert upload.put(original.data).status_code == 201
    (name, content), = staged_files(s).items()
    assert name == os.path.join(upload.id, original.sha256)
    assert harness.SealingKeys.open_item(upload.id, original.sha256, content) == original.data
    assert upload.cancel().status_code == 200
    assert staged_files(s) == {}, "a cancelled upload's staged data is removed"
    assert s.admin_json("GET", "/instances") == []


# ---------------------------------------------------------------------------- self-check


def run_until_exit(server, timeout=20.0):
    """Starts Orthanc with the server's configuration; returns (exit code, log)."""
    server.port = harness.free_port()
    server.dicom_port = harness.free_port()
    with open(server.config_path, "w") as f:
        json.dump(server.configuration(), f, indent=2)
    with open(server.log_path, "ab") as log:
        process = subprocess.Popen([harness.ORTHANC, server.config_path], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=server.workdir)
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait(20)
        code = None
    with open(server.log_path, "rb") as f:
        return code, f.read().decode("utf-8", "replace")


class Unconfigured(OrthancServer):
    """A server whose listed Orthanc settings are left out, so that Orthanc's defaults apply."""

    def __init__(self, plugin, absent=(), **kwargs):
        super().__init__(plugin, **kwargs)
        self.absent = absent

    def configuration(self):
        config = super().configuration()
        for key in self.absent:
            config.pop(key, None)
        return config


UNSAFE = [
    # (role, Orthanc settings, settings left to Orthanc's default, the setting named, override)
    ("Standalone", {"SslEnabled": True}, (), "SslEnabled", "AllowSslEnabled"),
    ("Gateway", {"SslEnabled": True}, (), "SslEnabled", "AllowSslEnabled"),
    ("Standalone", {"AuthenticationEnabled": True}, (), "AuthenticationEnabled",
     "AllowAuthenticationEnabled"),
    ("Gateway", {"AuthenticationEnabled": True}, (), "AuthenticationEnabled",
     "AllowAuthenticationEnabled"),
    ("Standalone", {"RemoteAccessAllowed": True, "AuthenticationEnabled": False}, (),
     "RemoteAccessAllowed", "AllowRemoteAccess"),
    ("Gateway", {"RemoteAccessAllowed": True, "AuthenticationEnabled": False}, (),
     "RemoteAccessAllowed", "AllowRemoteAccess"),
    ("Standalone", {"WebDavEnabled": True}, (), "WebDavEnabled", "AllowWebDav"),
    ("Gateway", {}, ("WebDavEnabled",), "WebDavEnabled", "AllowWebDav"),
    ("Standalone", {}, ("HttpDescribeErrors",), "HttpDescribeErrors", "AllowHttpDescribeErrors"),
    ("Gateway", {"HttpDescribeErrors": True}, (), "HttpDescribeErrors",
     "AllowHttpDescribeErrors"),
    ("Gateway", {"DicomServerEnabled": True}, (), "DicomServerEnabled", "AllowDicomServer"),
    ("Gateway", {}, ("DicomServerEnabled",), "DicomServerEnabled", "AllowDicomServer"),
]


@pytest.mark.parametrize("role,settings,absent,setting,override", UNSAFE,
                         ids=["%s-%s-%s" % (u[0], u[3], "default" if u[2] else "set")
                              for u in UNSAFE])
def test_unsafe_setting_refuses_to_start(plugin, role, settings, absent, setting, override):
    server = Unconfigured(plugin, absent=absent, inbound={"Role": role}, orthanc=settings)
    try:
        code, log = run_until_exit(server)
        assert code is not None, "Orthanc started with %s (%s)" % (setting, role)
        assert code != 0, log[-2000:]
        refusal = [line for line in log.splitlines() if "unsafe Orthanc setting" in line]
        assert refusal, log[-2000:]
        assert '"%s"' % setting in refusal[0], refusal
        assert "Inbound.Security.%s" % override in refusal[0], refusal
    finally:
        server.cleanup()


def test_overrides_let_unsafe_settings_start(start_server):
    """Every override at once, on a Standalone server: it starts, and says nothing unsafe."""
    s = start_server(inbound={"Security": {
        "AllowAuthenticationEnabled": True, "AllowRemoteAccess": True, "AllowWebDav": True,
        "AllowHttpDescribeErrors": True}},
        orthanc={"AuthenticationEnabled": True, "RemoteAccessAllowed": True,
                 "WebDavEnabled": True, "HttpDescribeErrors": True})
    assert s.admin("GET", "/inbound/admin/limits").status_code == 200
    assert "unsafe Orthanc setting" not in s.log_tail(1000)


def test_gateway_overrides_and_trusted_proxies(start_server):
    """A gateway with the DICOM server kept on purpose, and remote access allowed because the
    proxy is declared as trusted (no override needed for that)."""
    s = start_server(inbound={"Role": "Gateway", "TrustedProxies": ["127.0.0.1"],
                              "Security": {"AllowDicomServer": True}},
                     orthanc={"DicomServerEnabled": True, "RemoteAccessAllowed": True})
    assert s.admin("GET", "/inbound/admin/limits").status_code == 200
    assert "unsafe Orthanc setting" not in s.log_tail(1000)


def test_ssl_override_passes_the_self_check(plugin):
    """With AllowSslEnabled the plugin does not refuse (Orthanc's own HTTPS then needs its
    certificate, which is Orthanc's business)."""
    server = OrthancServer(plugin, inbound={"Security": {"AllowSslEnabled": True}},
                           orthanc={"SslEnabled": True})
    try:
        code, log = run_until_exit(server, timeout=5)
        assert "unsafe Orthanc setting" not in log, log[-2000:]
        assert "Inbound: role Standalone" in log, log[-2000:]
    finally:
        server.cleanup()
