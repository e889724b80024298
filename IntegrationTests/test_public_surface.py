"""The public surface: from an address without credentials, every route of Orthanc's own REST
API, Orthanc Explorer and the plugin's admin and peer routes is refused, directly and through
the proxy; only the upload page and the upload API answer. Refusals change nothing."""

import base64
import json

import pytest

import data
import harness
from gateway_support import audit, finish, start, wait_for_audit
from harness import ADMIN, Upload
from proxy import NginxProxy

WRONG = (ADMIN[0], "not-the-password")
UNKNOWN_USER = ("root", ADMIN[1])
DICOM = data.Original(data.CT_SMALL).data


@pytest.fixture(scope="module")
def surface(plugin):
    """A Standalone server holding one upload, so that real ids can be tried."""
    s = start(plugin, inbound={"TrustedProxies": ["127.0.0.1"]})
    upload = Upload.open(s)
    assert upload.put(DICOM).status_code == 201
    (patient,) = s.patients_of_upload(upload.id)
    (study,) = s.admin_json("GET", "/patients/%s/studies" % patient["ID"])
    (series,) = s.admin_json("GET", "/studies/%s/series" % study["ID"])
    (instance,) = s.admin_json("GET", "/series/%s/instances" % series["ID"])
    s.ids = {"patient": patient["ID"], "study": study["ID"], "series": series["ID"],
             "instance": instance["ID"], "upload": upload.id, "upload_token": upload.token,
             "sha": harness.sha256(DICOM)}
    yield s
    finish(s)


def orthanc_routes(ids):
    """Orthanc 1.10.1's REST API (its OpenAPI documentation), Explorer and the usual plugins'
    mount points: (method, path, body)."""
    p, st, se, i = ids["patient"], ids["study"], ids["series"], ids["instance"]
    find = json.dumps({"Level": "Patient", "Query": {}})
    routes = [
        # system and server
        ("GET", "/system", None), ("GET", "/statistics", None), ("GET", "/plugins", None),
        ("GET", "/plugins/explorer.js", None), ("GET", "/plugins/inbound", None),
        ("GET", "/changes", None), ("DELETE", "/changes", None), ("GET", "/exports", None),
        ("DELETE", "/exports", None), ("GET", "/jobs", None), ("GET", "/jobs?expand", None),
        ("GET", "/jobs/00000000-0000-0000-0000-000000000000", None),
        ("POST", "/jobs/00000000-0000-0000-0000-000000000000/cancel", ""),
        ("GET", "/queries", None),
        ("GET", "/storage-commitment/1.2.3", None),
        # DICOM networking
        ("GET", "/modalities", None), ("GET", "/modalities?expand", None),
        ("PUT", "/modalities/evil", json.dumps({"AET": "EVIL", "Host": "192.0.2.1",
                                                "Port": 104})),
        ("DELETE", "/modalities/sample", None), ("POST", "/modalities/sample/echo", "{}"),
        ("POST", "/modalities/sample/store", json.dumps([st])),
        ("POST", "/modalities/sample/query", json.dumps({"Level": "Study", "Query": {}})),
        ("POST", "/modalities/sample/move", "{}"),
        ("GET", "/peers", None), ("PUT", "/peers/evil", json.dumps({"Url": "http://192.0.2.1/"})),
        ("POST", "/peers/evil/store", json.dumps([st])), ("GET", "/peers/evil/system", None),
        # resources
        ("GET", "/patients", None), ("GET", "/patients?expand", None),
        ("GET", "/patients/%s" % p, None), ("GET", "/patients/%s/studies" % p, None),
        ("GET", "/patients/%s/archive" % p, None), ("GET", "/patients/%s/media" % p, None),
        ("GET", "/patients/%s/protected" % p, None), ("PUT", "/patients/%s/protected" % p, "1"),
        ("POST", "/patients/%s/anonymize" % p, "{}"), ("POST", "/patients/%s/modify" % p, "{}"),
        ("DELETE", "/patients/%s" % p, None),
        ("GET", "/studies", None), ("GET", "/studies/%s" % st, None),
        ("GET", "/studies/%s/archive" % st, None), ("GET", "/studies/%s/shared-tags" % st, None),
        ("GET", "/studies/%s/metadata" % st, None),
        ("GET", "/studies/%s/metadata/InboundSender" % st, None),
        ("PUT", "/studies/%s/metadata/InboundSender" % st, "forged"),
        ("POST", "/studies/%s/anonymize" % st, "{}"), ("DELETE", "/studies/%s" % st, None),
        ("POST", "/studies/%s/merge" % st, "{}"), ("POST", "/studies/%s/split" % st, "{}"),
        ("GET", "/series", None), ("GET", "/series/%s" % se, None),
        ("GET", "/series/%s/archive" % se, None), ("GET", "/series/%s/ordered-slices" % se, None),
        ("DELETE", "/series/%s" % se, None),
        ("GET", "/instances", None), ("GET", "/instances/%s" % i, None),
        ("GET", "/instances/%s/file" % i, None), ("GET", "/instances/%s/tags" % i, None),
        ("GET", "/instances/%s/simplified-tags" % i, None),
        ("GET", "/instances/%s/preview" % i, None), ("GET", "/instances/%s/rendered" % i, None),
        ("GET", "/instances/%s/frames/0/raw" % i, None),
        ("GET", "/instances/%s/content/0010-0010" % i, None),
        ("GET", "/instances/%s/attachments" % i, None),
        ("GET", "/instances/%s/metadata/InboundSha256" % i, None),
        ("POST", "/instances", DICOM), ("POST", "/instances/%s/modify" % i, "{}"),
        ("POST", "/instances/%s/export" % i, "/tmp/x.dcm"),
        ("DELETE", "/instances/%s" % i, None),
        # tools
        ("GET", "/tools", None), ("GET", "/tools/now", None), ("GET", "/tools/now-local", None),
        ("GET", "/tools/dicom-conformance", None), ("GET", "/tools/default-encoding", None),
        ("PUT", "/tools/default-encoding", "Latin1"), ("GET", "/tools/log-level", None),
        ("PUT", "/tools/log-level", "trace"), ("GET", "/tools/metrics", None),
        ("GET", "/tools/metrics-prometheus", None),
        ("GET", "/tools/accepted-transfer-syntaxes", None),
        ("GET", "/tools/unknown-sop-class-accepted", None),
        ("GET", "/tools/generate-uid?level=study", None), ("POST", "/tools/find", find),
        ("POST", "/tools/lookup", "1.2.3"), ("POST", "/tools/create-dicom", "{}"),
        ("POST", "/tools/execute-script", "print(1)"), ("POST", "/tools/dicom-echo", "{}"),
        ("POST", "/tools/invalidate-tags", ""), ("POST", "/tools/reconstruct", ""),
        ("POST", "/tools/bulk-delete", json.dumps({"Resources": [p]})),
        ("POST", "/tools/bulk-content", json.dumps({"Resources": [p]})),
        ("POST", "/tools/bulk-anonymize", json.dumps({"Resources": [p]})),
        ("POST", "/tools/bulk-modify", "{}"),
        ("POST", "/tools/create-archive", json.dumps([p])),
        ("POST", "/tools/create-media", json.dumps([p])),
        ("POST", "/tools/create-media-extended", json.dumps([p])),
        ("POST", "/tools/reset", ""), ("POST", "/tools/shutdown", ""),
        # Explorer, viewers and other plugins' mount points
        ("GET", "/app/explorer.html", None), ("GET", "/app/explorer.js", None),
        ("GET", "/app/libs/jquery.min.js", None), ("GET", "/ui/app/", None),
        ("GET", "/wado?requestType=WADO&studyUID=1&seriesUID=2&objectUID=3", None),
        ("GET", "/dicom-web/studies", None), ("POST", "/dicom-web/studies", DICOM),
        ("GET", "/osimis-viewer/app/index.html", None), ("GET", "/stone-webviewer/index.html", None),
        ("GET", "/web-viewer/app/viewer.html", None), ("GET", "/transfers/info", None),
        ("GET", "/webdav/", None), ("GET", "/favicon.ico", None), ("GET", "/auth/tokens", None),
        ("POST", "/", "x"), ("PUT", "/", "x"), ("DELETE", "/", None),
    ]
    return routes


def plugin_private_routes(ids):
    u, sha = ids["upload"], ids["sha"]
    return [
        ("GET", "/inbound/admin/uploads", None), ("GET", "/inbound/admin/uploads/%s" % u, None),
        ("DELETE", "/inbound/admin/uploads/%s" % u, None),
        ("POST", "/inbound/admin/uploads/%s/release" % u, json.dumps({"modality": "x"})),
        ("GET", "/inbound/admin/limits", None), ("GET", "/inbound/admin/limits?client=1.2.3.4", None),
        ("POST", "/inbound/admin/limits/lift", ""), ("GET", "/inbound/admin/bans", None),
        ("POST", "/inbound/admin/bans", json.dumps({"entry": "0.0.0.0/0"})),
        ("DELETE", "/inbound/admin/bans/198.51.100.1", None),
        ("GET", "/inbound/admin/audit", None), ("GET", "/inbound/admin/ui/admin.js", None),
        ("GET", "/inbound/admin/ui/index.html", None), ("POST", "/inbound/admin/ui/", ""),
        ("GET", "/inbound/admin/", None), ("GET", "/inbound/admin", None),
        ("GET", "/inbound/peer/outbox", None), ("GET", "/inbound/peer/outbox?wait=1", None),
        ("GET", "/inbound/peer/outbox/%s" % u, None),
        ("GET", "/inbound/peer/outbox/%s/items/%s" % (u, sha), None),
        ("POST", "/inbound/peer/outbox/%s/ack" % u, json.dumps({"items": [sha]})),
        ("GET", "/inbound/api", None), ("GET", "/inbound/api/", None),
        ("GET", "/inbound/api/uploads/%s/files" % u, None),
        ("GET", "/inbound/api/uploads/%s/items" % u, None),
        ("GET", "/inbound/nothing", None),
    ]


def call(server, method, path, body, **kwargs):
    headers = kwargs.pop("headers", {})
    if body is not None:
        headers.setdefault("Content-Type", "application/octet-stream")
    return server.request(method, path, data=body, headers=headers, **kwargs)


def state_of(server):
    return {"instances": sorted(server.admin_json("GET", "/instances")),
            "modalities": server.admin_json("GET", "/modalities"),
            "peers": server.admin_json("GET", "/peers"),
            "log": server.admin("GET", "/tools/log-level").text,
            "encoding": server.admin("GET", "/tools/default-encoding").text,
            "bans": server.admin_json("GET", "/inbound/admin/limits")["bans"],
            "uploads": len(server.admin_uploads())}


CREDENTIAL_VARIANTS = [
    ("none", {}),
    ("wrong password", {"auth": WRONG}),
    ("unknown user", {"auth": UNKNOWN_USER}),
    ("bearer token", {"headers": {"Authorization": "Bearer " + "a" * 40}}),
    ("upload token", {"headers": {"X-Inbound-Token": "x"}}),
    ("basic without colon", {"headers": {"Authorization": "Basic " +
                                         base64.b64encode(b"admin").decode()}}),
    ("forwarded as localhost", {"headers": {"X-Forwarded-For": "127.0.0.1",
                                            "X-Real-IP": "127.0.0.1"}}),
]


@pytest.mark.parametrize("variant", [v[0] for v in CREDENTIAL_VARIANTS])
def test_every_private_route_is_refused_without_credentials(surface, variant):
    kwargs = dict(CREDENTIAL_VARIANTS)[variant]
    before = state_of(surface)
    routes = orthanc_routes(surface.ids) + plugin_private_routes(surface.ids)
    assert len(routes) > 120
    opened = []
    for method, path, body in routes:
        k = json.loads(json.dumps({key: value for key, value in kwargs.items()}))
        if "auth" in k:
            k["auth"] = tuple(k["auth"])
        r = call(surface, method, path, body, **k)
        if r.status_code != 403 or r.content != b"":
            opened.append("%s %s -> %d %r" % (method, path, r.status_code, r.content[:80]))
    assert not opened, "answered without credentials (%s):\n%s" % (variant, "\n".join(opened))
    assert surface.running()
    assert state_of(surface) == before


def test_private_routes_answer_with_credentials(surface):
    """The refusals above are the filter's, not missing routes: with credentials they answer."""
    for method, path in [("GET", "/system"), ("GET", "/patients/%s" % surface.ids["patient"]),
                         ("GET", "/instances/%s/file" % surface.ids["instance"]),
                         ("GET", "/app/explorer.html"), ("GET", "/tools/now"),
                         ("GET", "/changes"), ("GET", "/jobs"), ("GET", "/plugins"),
                         ("GET", "/inbound/admin/limits"), ("GET", "/inbound/admin/audit"),
                         ("GET", "/inbound/admin/uploads/%s" % surface.ids["upload"])]:
        r = surface.admin(method, path)
        assert r.status_code == 200, (method, path, r.status_code)


def test_admin_page_opened_directly_leads_to_the_login_prompt(surface):
    """Without a proxy in front (an internal Orthanc), the admin page's address gives the
    browser's login prompt, then the page; nothing of the page without the password."""
    page = "/inbound/admin/ui/"
    for kwargs in ({}, {"auth": WRONG}):
        r = surface.request("GET", page, allow_redirects=False, **kwargs)
        assert r.status_code == 302, r.status_code
        assert r.headers["Location"] == "/inbound/auth?next=admin"
        assert b"<html" not in r.content.lower()
        r = surface.request("GET", r.headers["Location"], allow_redirects=False, **kwargs)
        assert r.status_code == 401, r.status_code
        assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic")
    r = surface.request("GET", "/inbound/auth?next=admin", auth=ADMIN, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/inbound/admin/ui/"
    r = surface.request("GET", page, auth=ADMIN, allow_redirects=False)
    assert r.status_code == 200 and b"admin.js" in r.content
    assert r.headers["Cache-Control"] == "no-cache"
    r = surface.request("GET", page + "admin.js", auth=ADMIN)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-cache"
    # Any other target after the login is ignored: no open redirect.
    r = surface.request("GET", "/inbound/auth?next=https://evil.example/", auth=ADMIN,
                        allow_redirects=False)
    assert r.status_code == 200 and "Location" not in r.headers


def test_refusals_are_audited_without_bodies(surface):
    marker = "SECRET-BODY-MARKER-0815"
    r = surface.request("POST", "/tools/execute-script", data="print('%s')" % marker,
                        headers={"X-Forwarded-For": "192.0.2.77"})
    assert r.status_code == 403
    events = wait_for_audit(surface, lambda e: e.get("event") == "refused" and
                            e.get("ip") == "192.0.2.77")
    # Not from an admin network: refused before its credentials are even looked at.
    assert events[-1]["detail"].startswith("403 not-admin-network: /tools/execute-script"), events[-1]
    assert marker not in json.dumps(audit(surface))


def test_public_routes_answer_without_credentials(surface):
    r = surface.request("GET", "/inbound/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert surface.request("GET", "/inbound").status_code == 200
    info = surface.request("GET", "/inbound/api/info")
    assert info.status_code == 200 and info.json()["recipients"]
    upload = Upload.open(surface)
    other = data.Original(data.MR_SMALL)
    assert upload.put(other.data).status_code == 201
    assert upload.status_json()["files"][0]["sha256"] == other.sha256
    assert upload.complete_ok()["state"] == "complete"
    # The login prompts: a challenge, never content.
    for path in ("/", "/inbound/auth"):
        r = surface.request("GET", path)
        assert r.status_code == 401, (path, r.status_code)
        assert r.headers["WWW-Authenticate"].lower().startswith("basic"), r.headers
    assert surface.request("GET", "/inbound/auth", auth=ADMIN).status_code == 200


# ---------------------------------------------------------------------------- the proxy


@pytest.fixture(scope="module")
def fronted(surface):
    """nginx in front: 127.0.0.1 is the admin network, 127.0.0.9 the peer network; every
    other loopback address plays the Internet."""
    p = NginxProxy(surface.port, admin_nets="127.0.0.1", peer_nets="127.0.0.9").start()
    yield p
    p.cleanup()


INTERNET = "127.0.0.2"


def test_proxy_exposes_only_the_public_routes_to_the_internet(surface, fronted):
    opened = []
    routes = orthanc_routes(surface.ids) + plugin_private_routes(surface.ids)
    for n, (method, path, body) in enumerate(routes):
        # Each route from an address of its own: nginx's per-address limits stay out of it.
        source = "127.0.%d.%d" % (1 + n // 200, 2 + n % 200)
        for auth in (None, ADMIN):
            r = fronted.request(method, path, source=source, data=body, auth=auth)
            # nginx adds the slash to a bare admin prefix: a redirect to a refused route.
            redirect = r.status_code == 301 and \
                r.headers.get("Location", "").endswith(path.split("?")[0] + "/")
            # With the admin's password, an unknown /inbound/ path is Orthanc's 404.
            unknown = auth and r.status_code == 404 and path.startswith("/inbound/") and \
                not path.startswith(("/inbound/admin", "/inbound/peer"))
            ok = r.status_code == 403 or redirect or unknown
            if not ok:
                opened.append("%s %s (credentials: %s) -> %d" % (method, path, bool(auth),
                                                                 r.status_code))
    assert not opened, "\n".join(opened)
    assert fronted.request("GET", "/inbound/api/info", source=INTERNET).status_code == 200
    assert fronted.request("GET", "/inbound/", source=INTERNET).status_code == 200


def test_proxy_asks_admins_for_their_password(surface, fronted):
    for path in ("/", "/system", "/app/explorer.html", "/inbound/admin/limits"):
        r = fronted.request("GET", path)
        assert r.status_code == 401, (path, r.status_code)
        assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), r.headers
        assert fronted.request("GET", path, auth=WRONG).status_code == 401
    assert fronted.request("GET", "/system", auth=ADMIN).json()["Version"] == "1.10.1"
    r = fronted.request("GET", "/", auth=ADMIN)
    assert 300 <= r.status_code < 400 and r.headers["Location"].endswith("app/explorer.html")
    assert fronted.request("GET", "/app/explorer.html", auth=ADMIN).status_code == 200
    assert fronted.request("GET", "/inbound/admin/limits", auth=ADMIN).status_code == 200


def test_proxy_keeps_the_login_check_inside_the_admin_network(surface, fronted):
    """The login prompt's back end tells right passwords from wrong ones: from the Internet it
    must not be reachable (it would be a password oracle)."""
    r = fronted.request("GET", "/inbound/auth", source=INTERNET, auth=ADMIN)
    assert r.status_code in (403, 404), \
        "/inbound/auth answers %d to the right password from the Internet" % r.status_code


def test_proxy_peer_routes_only_from_the_peer_network(surface, fronted):
    r = fronted.request("GET", "/inbound/peer/outbox", source=INTERNET, auth=ADMIN)
    assert r.status_code == 403
    r = fronted.request("GET", "/inbound/peer/outbox", source="127.0.0.1", auth=ADMIN)
    assert r.status_code == 403
    # From the peer network the request reaches the plugin, which asks for credentials.
    r = fronted.request("GET", "/inbound/peer/outbox", source="127.0.0.9")
    assert r.status_code == 403
    wait_for_audit(surface, lambda e: e.get("event") == "refused" and
                   e.get("ip") == "127.0.0.9" and "/inbound/peer/outbox" in str(e.get("detail")),
                   what="refusal of the peer route, audited with the real client address")


def test_proxy_security_headers(surface, fronted):
    r = fronted.request("GET", "/inbound/", source=INTERNET)
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(r.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 15552000
    csp = r.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
                      "base-uri 'none'"):
        assert directive in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    # Sent by the plugin and by nginx; browsers read the first value.
    assert r.headers["X-Content-Type-Options"].split(",")[0].strip() == "nosniff"
    assert r.headers["Server"] == "nginx", r.headers["Server"]   # server_tokens off


def test_proxy_forbids_framing_orthanc_explorer(surface, fronted):
    """Orthanc's own pages set no anti-framing header: a page of another site framing
    Orthanc Explorer could have a logged-in admin click same-origin writes (clickjacking)."""
    for path in ("/app/explorer.html", "/system", "/inbound/admin/ui/", "/inbound/"):
        r = fronted.request("GET", path, auth=ADMIN)
        assert r.status_code == 200, (path, r.status_code)
        assert r.headers.get("X-Frame-Options") == "DENY", (path, r.headers)
    r = fronted.request("GET", "/app/explorer.html", source=INTERNET, auth=ADMIN)
    assert r.status_code == 403 and r.headers.get("X-Frame-Options") == "DENY"
