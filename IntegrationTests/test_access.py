"""Who may call what: public routes are open, everything else needs an admin account."""

import base64
import http.client
import json
import re

import pytest

import data
import harness
from harness import ADMIN, Upload, assert_error

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
WRONG = (ADMIN[0], "wrong-password")

# Routes that need an admin account: (method, path, expected status with credentials).
ADMIN_ROUTES = [
    ("GET", "/system", 200),
    ("GET", "/patients", 200),
    ("GET", "/instances", 200),
    ("GET", "/statistics", 200),
    ("GET", "/app/explorer.html", 200),
    ("GET", "/tools/now", 200),
    ("GET", "/inbound/admin/uploads", 200),
    ("GET", "/inbound/admin/audit", 200),
]


def test_info_is_public_and_holds_no_email(server):
    r = server.request("GET", "/inbound/api/info")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    info = r.json()
    assert info["siteName"] == "Test Hospital"
    # The contract allows added fields: compare the ones it names.
    assert (info["privacy"]["version"], info["privacy"]["text"]) == \
        (harness.PRIVACY_VERSION, harness.PRIVACY_TEXT)
    assert [(r["id"], r["name"]) for r in info["recipients"]] == \
        [("neuroradiology", "Neuroradiology"), ("trauma", "Trauma")]
    limits = info["limits"]
    assert (limits["maxFileBytes"], limits["maxFilesPerUpload"], limits["maxBytesPerUpload"]) == \
        (536870912, 20000, 21474836480)
    assert isinstance(info["languages"], list) and info["languages"]
    assert not EMAIL.search(r.text), "an e-mail address in the public info: %s" % r.text
    assert "hospital.example" not in r.text


def test_upload_routes_are_public(server):
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body())
    assert r.status_code == 201, r.text
    answer = r.json()
    for key in ("id", "token", "expiresAt", "limits"):
        assert key in answer, answer
    upload = Upload(server, answer, harness.open_body())
    original = data.Original(data.CT_SMALL)
    assert upload.put(original.data).status_code == 201
    status = upload.status_json()
    assert status["id"] == upload.id and status["state"] == "open"
    assert "expiresAt" in status
    assert upload.complete_ok()["state"] == "complete"


def test_upload_page_is_public(server):
    r = server.request("GET", "/inbound/")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("method,path,expected", ADMIN_ROUTES)
def test_admin_and_orthanc_routes_need_credentials(server, method, path, expected):
    assert server.request(method, path).status_code == 403
    assert server.request(method, path, auth=WRONG).status_code == 403
    r = server.request(method, path, auth=ADMIN)
    assert r.status_code == expected, r.text[:300]


def test_upload_token_opens_no_admin_route(server):
    upload = Upload.open(server)
    for method, path, _ in ADMIN_ROUTES:
        r = server.request(method, path, headers=upload.headers())
        assert r.status_code == 403, (path, r.status_code)
        r = server.request(method, path, headers={"Authorization": "Bearer " + upload.token})
        assert r.status_code == 403, (path, r.status_code)


def test_orthanc_writes_need_credentials(server):
    original = data.Original(data.CT_SMALL)
    before = server.all_instances()
    assert server.request("POST", "/instances", data=original.data).status_code == 403
    assert server.request("POST", "/instances", data=original.data,
                          auth=WRONG).status_code == 403
    assert server.request("POST", "/tools/find",
                          json={"Level": "Patient", "Query": {}}).status_code == 403
    assert server.all_instances() == before

    upload = Upload.open(server)
    assert upload.put(original.data).status_code == 201
    (patient,) = server.patients_of_upload(upload.id)
    assert server.request("DELETE", "/patients/%s" % patient["ID"]).status_code == 403
    assert server.request("DELETE", "/inbound/admin/uploads/%s" % upload.id).status_code == 403
    assert server.admin("GET", "/patients/%s" % patient["ID"]).status_code == 200
    assert upload.status_json()["state"] == "open"


def raw_get(server, path, headers=None):
    """A request sent as written, without the client normalizing the path."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", [
    "/inbound/api/../../patients",
    "/inbound/api/%2e%2e/%2e%2e/patients",
    "/inbound/api/info/../../../system",
    "//patients",
    "/inbound//admin/uploads",
    "/INBOUND/admin/uploads",
    "/inbound/api/uploads/../../admin/uploads",
])
def test_path_tricks_do_not_open_protected_routes(server, path):
    status, body = raw_get(server, path)
    assert status in (400, 403, 404), "%s answered %d: %r" % (path, status, body[:200])


def test_root_challenges_the_browser(server):
    r = server.request("GET", "/")
    assert r.status_code == 401, r.text[:300]
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), r.headers

    r = server.request("GET", "/", auth=WRONG)
    assert r.status_code in (401, 403)

    r = server.request("GET", "/", auth=ADMIN)
    assert 300 <= r.status_code < 400, r.status_code
    assert r.headers["Location"].endswith("app/explorer.html"), r.headers
    token = base64.b64encode(("%s:%s" % ADMIN).encode()).decode()
    status, _ = raw_get(server, "/app/explorer.html", {"Authorization": "Basic " + token})
    assert status == 200


def test_error_answers_are_json(server):
    r = server.request("GET", "/inbound/api/uploads/nothinghere",
                       headers={"X-Inbound-Token": "x"})
    body = assert_error(r, 404, "not-found")
    assert r.headers["Content-Type"].startswith("application/json")
    assert json.loads(r.text) == body


def sender_ip(server, upload):
    (patient,) = server.patients_of_upload(upload.id)
    (study,) = server.admin_json("GET", "/patients/%s/studies" % patient["ID"])
    return json.loads(server.metadata("studies", study["ID"], "InboundSender"))["clientIp"]


def test_forwarded_for_is_ignored_from_untrusted_peers(server):
    """Without TrustedProxies, a client cannot choose the address recorded for it."""
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                       headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"})
    assert r.status_code == 201, r.text
    upload = Upload(server, r.json(), harness.open_body())
    assert upload.put(data.Original(data.CT_SMALL).data).status_code == 201
    assert sender_ip(server, upload) == "127.0.0.1"
    events = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 50})["events"]
    assert [e["ip"] for e in events if e["uploadId"] == upload.id] and \
        all(e["ip"] == "127.0.0.1" for e in events if e["uploadId"] == upload.id)


def test_forwarded_for_is_believed_from_a_trusted_proxy(start_server):
    server = start_server(inbound={"TrustedProxies": ["127.0.0.1"]})
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                       headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 201, r.text
    upload = Upload(server, r.json(), harness.open_body())
    r = upload.server.request("PUT", upload.path("/files/%s" % data.Original(data.CT_SMALL).sha256),
                              data=data.Original(data.CT_SMALL).data,
                              headers={"X-Inbound-Token": upload.token,
                                       "Content-Type": "application/dicom",
                                       "X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 201, r.text
    events = server.admin_json("GET", "/inbound/admin/audit")["events"]
    opened = [e for e in events if e["uploadId"] == upload.id and "open" in e["event"]]
    assert [e["ip"] for e in opened] == ["203.0.113.7"]
    assert sender_ip(server, upload) == "203.0.113.7"
