"""The shipped nginx site in front of Orthanc: TLS 1.2/1.3 with strong ciphers only, the real
client address handed on (a client's own X-Forwarded-For discarded), per-client limits through
the proxy, nginx's own limits (429) and body cap (413)."""

import re
import shutil
import subprocess
import threading
import time

import pytest

import data
import harness
from gateway_support import audit, finish, start, wait_for_audit
from proxy import NginxProxy

OPENSSL = "/usr/bin/openssl"


@pytest.fixture(scope="module")
def backend(plugin):
    s = start(plugin, inbound={"TrustedProxies": ["127.0.0.1"],
                               "Limits": {"RequestsPerSecond": 1, "RequestBurst": 3}})
    yield s
    finish(s)


@pytest.fixture(scope="module")
def tls_proxy(backend):
    p = NginxProxy(backend.port, admin_nets="127.0.0.1", max_body="100k").start()
    yield p
    p.cleanup()


# ---------------------------------------------------------------------------- TLS


def s_client(proxy, *options):
    """openssl s_client; returns (handshake succeeded, protocol, cipher, output)."""
    r = subprocess.run([OPENSSL, "s_client", "-brief", "-connect", "127.0.0.1:%d" % proxy.port,
                        "-servername", "localhost", "-CAfile", proxy.cert] + list(options),
                       input=b"", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    protocol = re.search(r"^Protocol version:\s*(\S+)", out, re.M)
    cipher = re.search(r"^Ciphersuite:\s*(\S+)", out, re.M)
    ok = "CONNECTION ESTABLISHED" in out and cipher is not None
    return ok, protocol and protocol.group(1), cipher and cipher.group(1), out


# The client side is made willing (security level 0), so that a failure is the server's.
WEAK_CLIENT = ["-cipher", "ALL:@SECLEVEL=0"]


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_versions_are_refused(tls_proxy, version):
    ok, protocol, cipher, out = s_client(tls_proxy, version, *WEAK_CLIENT)
    assert not ok, "the proxy accepted %s: %s %s" % (version, protocol, cipher)


@pytest.mark.parametrize("version,protocol", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_tls_1_2_and_1_3_are_accepted(tls_proxy, version, protocol):
    ok, got, cipher, out = s_client(tls_proxy, version)
    assert ok, out[-1500:]
    assert got == protocol, out[-1500:]
    assert "Verification: OK" in out, out


@pytest.mark.parametrize("cipher", ["AES128-SHA", "AES256-SHA256", "AES128-GCM-SHA256",
                                    "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                                    "DHE-RSA-AES128-SHA", "DES-CBC3-SHA", "RC4-SHA",
                                    "NULL-SHA256", "aNULL"])
def test_weak_tls_1_2_ciphers_are_refused(tls_proxy, cipher):
    ok, protocol, got, out = s_client(tls_proxy, "-tls1_2", "-cipher", cipher + ":@SECLEVEL=0")
    assert not ok, "the proxy accepted %s (%s)" % (cipher, got)


def test_forward_secret_aead_ciphers_are_accepted(tls_proxy):
    for cipher in ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                   "ECDHE-RSA-CHACHA20-POLY1305"]:
        ok, protocol, got, out = s_client(tls_proxy, "-tls1_2", "-cipher", cipher)
        assert ok and got == cipher, out[-1000:]


def test_sslscan_shows_only_tls_1_2_1_3_and_strong_ciphers(tls_proxy):
    assert shutil.which("sslscan"), "sslscan is missing (Resources/Scripts/install-dependencies.sh)"
    r = subprocess.run(["sslscan", "--no-colour", "--no-heartbleed", "127.0.0.1:%d" %
                        tls_proxy.port], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    protocols = dict(re.findall(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)", out, re.M))
    assert protocols == {"SSLv2": "disabled", "SSLv3": "disabled", "TLSv1.0": "disabled",
                         "TLSv1.1": "disabled", "TLSv1.2": "enabled", "TLSv1.3": "enabled"}, out
    accepted = re.findall(r"^(?:Preferred|Accepted)\s+(TLSv1\.[0-3])\s+(\d+) bits\s+(\S+)",
                          out, re.M)
    assert accepted, out
    for protocol, bits, cipher in accepted:
        assert protocol in ("TLSv1.2", "TLSv1.3"), (protocol, cipher)
        assert int(bits) >= 128, (protocol, bits, cipher)
        assert "GCM" in cipher or "CHACHA20" in cipher, (protocol, cipher)
        assert protocol == "TLSv1.3" or cipher.startswith("ECDHE-"), (protocol, cipher)
    assert "TLS Fallback SCSV" not in out or "supports TLS Fallback SCSV" in out
    assert not re.search(r"Compression enabled", out), out


# ---------------------------------------------------------------------------- behaviour


def test_spoofed_forwarded_for_is_replaced_by_the_proxy(backend, tls_proxy):
    r = tls_proxy.request("POST", "/inbound/api/uploads", source="127.0.0.3",
                          json=harness.open_body(),
                          headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.2",
                                   "X-Real-IP": "203.0.113.3"})
    assert r.status_code == 201, r.text
    upload_id = r.json()["id"]
    (event,) = [e for e in audit(backend) if e.get("uploadId") == upload_id]
    assert event["ip"] == "127.0.0.3", event


def test_plugin_limits_apply_per_real_client_through_the_proxy(backend, tls_proxy):
    for _ in range(3):
        assert tls_proxy.request("GET", "/inbound/api/info", source="127.0.0.4").status_code \
            == 200
    r = tls_proxy.request("GET", "/inbound/api/info", source="127.0.0.4",
                          headers={"X-Forwarded-For": "203.0.113.77"})
    assert r.status_code == 503 and r.json()["error"] == "rate-limited", r.text
    assert r.headers["Retry-After"] == "1"
    assert tls_proxy.request("GET", "/inbound/api/info", source="127.0.0.14").status_code == 200
    wait_for_audit(backend, lambda e: e.get("event") == "refused" and e.get("ip") == "127.0.0.4"
                   and str(e.get("detail", "")).startswith("503 rate-limited"))
    time.sleep(1.1)
    assert tls_proxy.request("GET", "/inbound/api/info", source="127.0.0.4").status_code == 200


def test_proxy_answers_429_past_its_request_rate(tls_proxy):
    # 50 requests per second with a burst of 200: the first 429 comes after about 200
    # requests, later on a loaded machine (the bucket refills while the requests are slow).
    statuses = []
    with tls_proxy.session("127.0.0.6") as s:
        while len(statuses) < 3000 and 429 not in statuses[-20:]:
            statuses.append(s.get(tls_proxy.url + "/system", verify=tls_proxy.cert,
                                  timeout=10).status_code)
    assert set(statuses) == {403, 429}, set(statuses)
    assert statuses[0] == 403 and statuses[-1] == 429
    assert statuses.index(429) >= 150, statuses.index(429)
    assert tls_proxy.request("GET", "/system", source="127.0.0.7").status_code == 403


def test_proxy_answers_429_past_its_connections_per_address(tls_proxy):
    """Slow bodies hold connections; past 16 of one address nginx answers 429, and another
    address is served as usual."""
    sockets = []
    try:
        for _ in range(16):
            c = tls_proxy.tls_socket(source="127.0.0.8")
            c.sendall(b"PUT /inbound/api/uploads/AAAAAAAAAAAA/files/" + b"a" * 64 +
                      b" HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50000\r\n\r\nxx")
            sockets.append(c)
        time.sleep(0.5)
        r = tls_proxy.request("GET", "/inbound/api/info", source="127.0.0.8")
        assert r.status_code == 429, r.status_code
        assert tls_proxy.request("GET", "/inbound/api/info", source="127.0.0.9").status_code \
            == 200
    finally:
        for c in sockets:
            c.close()


def test_proxy_caps_bodies_and_streams_chunked_uploads_with_a_length(backend, tls_proxy):
    r = tls_proxy.request("POST", "/inbound/api/uploads", source="127.0.0.10",
                          json=harness.open_body())
    assert r.status_code == 201
    upload = r.json()
    headers = {"X-Inbound-Token": upload["token"], "Content-Type": "application/dicom"}
    big = b"\0" * 150000
    r = tls_proxy.request("PUT", "/inbound/api/uploads/%s/files/%s" % (
        upload["id"], harness.sha256(big)), source="127.0.0.10", data=big, headers=headers)
    assert r.status_code == 413 and "nginx" in r.text, r.status_code
    # nginx buffers a chunked body and hands it on with a Content-Length, which the plugin
    # needs (it refuses chunked bodies itself).
    original = data.Original(data.CT_SMALL)
    r = tls_proxy.request("PUT", "/inbound/api/uploads/%s/files/%s" % (
        upload["id"], original.sha256), source="127.0.0.10",
        data=iter([original.data[:20000], original.data[20000:]]), headers=headers)
    assert r.status_code == 201, r.text
