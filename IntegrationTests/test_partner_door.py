"""The partner sites' door: a partner's Bearer token opens its STOW-RS routes and nothing else;
a wrong or revoked token, another network, a non-STOW body, a body over the cap get a plain 403
and nothing is stored."""

import base64
import hashlib
import http.client

import pytest

from gateway_support import audit, wait_for_audit
from harness import ADMIN, RECIPIENTS

TOKEN = "Zk3_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"
REVOKED = "Rv3_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"
FAR = "Fa3_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"
STOW = 'multipart/related; type="application/dicom"; boundary=b0b0'
BODY = b"--b0b0\r\nContent-Type: application/dicom\r\n\r\nnot dicom\r\n--b0b0--"


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="module")
def door(plugin):
    import conftest
    s = conftest._start(plugin, inbound={
        "Partners": [
            {"Id": "clinic-a", "Name": "Clinic A", "TokenSha256": sha(TOKEN),
             "Recipient": RECIPIENTS[0]["Id"], "Networks": ["127.0.0.0/8"]},
            {"Id": "clinic-b", "Name": "Clinic B", "TokenSha256": [sha(REVOKED)],
             "Recipient": RECIPIENTS[0]["Id"], "Enabled": False},
            {"Id": "clinic-c", "Name": "Clinic C", "TokenSha256": sha(FAR),
             "Recipient": RECIPIENTS[0]["Id"], "Networks": ["192.0.2.0/24"]}],
        "PartnerLimits": {"MaxUnchunkedBytes": 4096}})
    yield s
    conftest._cleanup(s, check=True)


def send(server, method, path, token=TOKEN, content_type=STOW, body=BODY, chunked=False,
         authorization=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if authorization is not None:
        headers["Authorization"] = authorization
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        connection.putrequest(method, path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        for start in range(0, len(body), 7):
            piece = body[start:start + 7]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
    else:
        connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    answer = (response.status, response.getheader("Content-Type") or "", response.read())
    connection.close()
    return answer


def instances(server):
    import requests
    return requests.get(server.url + "/instances", auth=ADMIN, timeout=10).json()


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("path", ["/inbound/dicom-web/studies", "/inbound/dicom-web/studies/1.2.3"])
def test_the_token_opens_the_stow_routes(door, path, chunked):
    status, content_type, _ = send(door, "POST", path, chunked=chunked)
    # Past the door: the STOW-RS handler answers (a JSON body), never the filter's plain 403.
    assert status != 403 and status != 401, status
    assert content_type.startswith("application/"), content_type


@pytest.mark.parametrize("case", ["wrong", "none", "revoked", "network", "form", "json", "big",
                                  "basic"])
def test_every_refusal_is_a_plain_403_and_stores_nothing(door, case):
    before = instances(door)
    kwargs = {
        "wrong": dict(token=TOKEN[:-1] + "X"),
        "none": dict(token=None),
        "revoked": dict(token=REVOKED),
        "network": dict(token=FAR),
        "form": dict(content_type="multipart/form-data; boundary=b0b0"),
        "json": dict(content_type="application/json", body=b"{}"),
        "big": dict(body=BODY + b" " * 5000),
        "basic": dict(token=None, authorization="Basic " + base64.b64encode(
            ("%s:%s" % ADMIN).encode()).decode()),
    }[case]
    status, _, body = send(door, "POST", "/inbound/dicom-web/studies", **kwargs)
    assert status == 403, (case, status, body)
    assert instances(door) == before
    assert send(door, "POST", "/inbound/dicom-web/studies")[0] != 403  # still alive


def test_refusals_are_audited_with_their_cause(door):
    for token in (REVOKED, FAR, TOKEN[:-1] + "X"):
        assert send(door, "POST", "/inbound/dicom-web/studies", token=token)[0] == 403
    for code in ("partner-revoked", "partner-network", "partner-bad-token"):
        wait_for_audit(door, lambda e: code in (e.get("detail") or ""), what=code)
    # The token itself is never written.
    details = " ".join(str(e) for e in audit(door))
    assert TOKEN not in details and REVOKED not in details and FAR not in details


@pytest.mark.parametrize("method, path", [
    ("GET", "/instances"), ("GET", "/inbound/admin/uploads"), ("GET", "/inbound/peer/outbox"),
    ("POST", "/instances"), ("GET", "/inbound/dicom-web/studies/1.2/series"),
    ("POST", "/inbound/dicom-web/studies/1..2")])
def test_the_token_opens_nothing_else(door, method, path):
    before = instances(door)
    status, _, _ = send(door, method, path, content_type="application/dicom", body=b"x")
    assert status == 403, (method, path, status)
    assert instances(door) == before


def test_only_post_passes_the_door(door):
    for method in ("GET", "PUT", "DELETE"):
        status, _, _ = send(door, method, "/inbound/dicom-web/studies")
        assert status == 403, (method, status)


def open_stream(server, token=TOKEN):
    """A chunked STOW-RS request whose body has begun and not ended."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/inbound/dicom-web/studies")
    connection.putheader("Authorization", "Bearer " + token)
    connection.putheader("Content-Type", STOW)
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"%x\r\n%s\r\n" % (len(BODY[:10]), BODY[:10]))
    return connection


def finish_stream(connection):
    rest = BODY[10:]
    connection.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
    response = connection.getresponse()
    status = response.status
    response.read()
    connection.close()
    return status


def test_a_partner_has_at_most_max_streams_at_once(door):
    import time
    import requests
    first, second = open_stream(door), open_stream(door)
    time.sleep(0.5)  # both past the filter
    assert send(door, "POST", "/inbound/dicom-web/studies")[0] == 403  # the third: partner-busy
    wait_for_audit(door, lambda e: "partner-busy" in (e.get("detail") or ""), what="partner-busy")
    limits = requests.get(door.url + "/inbound/admin/limits", auth=ADMIN, timeout=10).json()
    assert limits["inFlight"]["bytes"] >= 2 * 32 * 1024 * 1024, limits["inFlight"]  # reserved
    assert finish_stream(first) != 403 and finish_stream(second) != 403
    assert send(door, "POST", "/inbound/dicom-web/studies")[0] != 403  # released
    limits = requests.get(door.url + "/inbound/admin/limits", auth=ADMIN, timeout=10).json()
    assert limits["inFlight"]["bytes"] == 0, limits["inFlight"]


def test_a_stream_cut_off_by_its_partner_is_released(door):
    import time
    import requests
    for _ in range(3):
        connection = open_stream(door)
        time.sleep(0.2)
        connection.close()  # the partner went away mid-body
    time.sleep(1.0)
    limits = requests.get(door.url + "/inbound/admin/limits", auth=ADMIN, timeout=10).json()
    assert limits["inFlight"]["bytes"] == 0, limits["inFlight"]  # released by finalize
    assert send(door, "POST", "/inbound/dicom-web/studies")[0] != 403
    assert send(door, "POST", "/inbound/dicom-web/studies", chunked=True)[0] != 403


PARTNER_LOCATION = "location ~ ^/inbound/dicom-web/studies(/[0-9.]+)?$ {"


@pytest.mark.parametrize("opened", [False, True])
def test_the_shipped_nginx_site_passes_partner_streams_only_from_partner_networks(door, opened):
    from proxy import NginxProxy

    # Opened as an admin opens it: render-nginx-site.sh given the partners' networks (its
    # "allow" lines and the geo that refuses everyone else before any other check).
    proxy = NginxProxy(door.port, admin_nets="127.0.0.1",
                       partner_nets="127.0.0.1" if opened else "").start()
    try:
        assert PARTNER_LOCATION in proxy.site
        headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": STOW}
        chunks = (BODY[i:i + 7] for i in range(0, len(BODY), 7))  # requests sends it chunked
        r = proxy.request("POST", "/inbound/dicom-web/studies/1.2.3", data=chunks, headers=headers)
        if opened:
            # The plugin's own answer (JSON), not nginx's refusal.
            assert r.status_code != 403 and r.headers["Content-Type"].startswith("application/"), \
                (r.status_code, r.text)
            for method in ("GET", "PUT", "DELETE"):
                assert proxy.request(method, "/inbound/dicom-web/studies", headers=headers,
                                     data=BODY).status_code == 403, method
            # Another path: the public location's refusal of a multipart body.
            assert proxy.request("POST", "/inbound/dicom-web/studies/1.2.x", headers=headers,
                                 data=BODY).status_code == 415
        else:
            assert r.status_code == 403, r.status_code  # closed by default
    finally:
        proxy.cleanup()
