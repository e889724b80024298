"""The safety rules every role keeps at its door (doc/Security.md, "What every request
meets"): bans before credentials, admin routes only from the admin networks, lockout after
wrong passwords, no method overrides, admin writes from the site's own pages only, no
multipart forms without an account, and the start-up self-check. Each attack, and its
variants, against a real Orthanc with the plugin; each checks that the attack left nothing
behind."""

import base64
import os
import time

import pytest
import requests

import harness
from data import make_dicom
from gateway_support import audit, wait_for_audit
from harness import ADMIN, Upload

PROXY = {"TrustedProxies": ["127.0.0.1"]}


def xff(address):
    return {"X-Forwarded-For": address}


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def raw(server, method, path, headers=None, **kwargs):
    """A request without the harness's X-Requested-With: what a browser sends for a form or
    a link of another site, with the admin's cached credentials."""
    h = {"Authorization": basic(*ADMIN)}
    h.update(headers or {})
    return requests.request(method, server.url + path, headers=h, allow_redirects=False,
                            timeout=30, **kwargs)


def json_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    assert r.json()["error"] == code, r.text


@pytest.fixture(scope="module")
def door(plugin):
    """A Standalone behind a (simulated) proxy: X-Forwarded-For names the client; the admin
    networks are loopback and 10.0.0.0/8; three wrong passwords lock an address out."""
    import conftest
    s = conftest._start(plugin, inbound=dict(PROXY, AdminNetworks=["127.0.0.0/8", "10.0.0.0/8"],
                                              AutoBan={"FailedLogins": 3, "BanSeconds": 600}))
    yield s
    conftest._cleanup(s, check=True)


def stored_upload(server):
    upload = Upload.open(server)
    upload.put_ok(make_dicom(patient_id="SAFE-%d" % time.monotonic_ns()))
    upload.complete_ok()
    return upload


# ------------------------------------------------------------------- admin networks

@pytest.mark.parametrize("path", ["/system", "/inbound/admin/uploads", "/app/explorer.html",
                                  "/tools/execute-script", "/inbound/admin/ui/", "/",
                                  "/inbound/auth", "/patients"])
def test_admin_routes_answer_only_to_admin_networks(door, path):
    for outside in ("198.51.100.7", "2001:db8::7", "192.168.1.1"):
        r = door.request("GET", path, auth=ADMIN, headers=xff(outside))
        assert r.status_code == 403, (outside, path, r.status_code)
        assert b"Orthanc" not in r.content or path == "/"
    r = door.request("GET", path, auth=ADMIN, headers=xff("10.20.30.40"))
    assert r.status_code in (200, 302, 405), (path, r.status_code)


def test_the_refusal_is_audited_without_the_credentials(door):
    door.request("GET", "/system", auth=ADMIN, headers=xff("198.51.100.8"))
    events = wait_for_audit(door, lambda e: e.get("ip") == "198.51.100.8")
    assert "not-admin-network" in events[-1]["detail"], events[-1]
    assert ADMIN[1] not in str(audit(door))


def test_public_routes_stay_open_to_everybody(door):
    r = door.request("GET", "/inbound/api/info", headers=xff("198.51.100.9"))
    assert r.status_code == 200


def test_a_client_cannot_fake_an_admin_network_in_x_forwarded_for(door):
    # Only the right-most address that is not a trusted proxy counts: what the client wrote
    # to its left proves nothing.
    r = door.request("GET", "/system", auth=ADMIN, headers=xff("10.1.1.1, 198.51.100.1"))
    assert r.status_code == 403
    r = door.request("GET", "/system", auth=ADMIN, headers=xff("198.51.100.1, 10.1.1.1"))
    assert r.status_code == 200


# ------------------------------------------------------------------- bans and lockout

def test_a_banned_address_is_refused_even_with_the_right_password(door):
    door.admin_json("POST", "/inbound/admin/bans", expected=201,
                    json={"entry": "10.66.0.0/16", "reason": "test"})
    try:
        for path in ("/system", "/inbound/admin/uploads", "/inbound/api/info", "/"):
            r = door.request("GET", path, auth=ADMIN, headers=xff("10.66.1.2"))
            assert r.status_code == 403, (path, r.status_code)
        assert door.request("GET", "/system", auth=ADMIN, headers=xff("10.67.1.2")).status_code == 200
    finally:
        door.admin_json("DELETE", "/inbound/admin/bans/10.66.0.0%2F16")
    assert door.request("GET", "/system", auth=ADMIN, headers=xff("10.66.1.2")).status_code == 200


@pytest.mark.parametrize("where", ["admin-route", "login-prompt", "orthanc-api"])
def test_wrong_passwords_lock_the_address_out(door, where):
    address = {"admin-route": "10.70.0.1", "login-prompt": "10.70.0.2", "orthanc-api": "10.70.0.3"}[where]
    path = {"admin-route": "/inbound/admin/uploads", "login-prompt": "/inbound/auth",
            "orthanc-api": "/patients"}[where]
    for attempt in range(3):
        r = door.request("GET", path, auth=(ADMIN[0], "guess-%d" % attempt), headers=xff(address))
        assert r.status_code in (401, 403), r.status_code
    # Locked out: the right password does not open the door any more.
    r = door.request("GET", path, auth=ADMIN, headers=xff(address))
    assert r.status_code == 403, r.status_code
    bans = door.admin_json("GET", "/inbound/admin/bans")["bans"]
    mine = [b for b in bans if b["entry"].startswith(address)]
    assert mine and "failed logins" in mine[0]["reason"], bans
    # Another address is not affected; an admin lifts the lockout.
    assert door.request("GET", path, auth=ADMIN, headers=xff("10.70.1.1")).status_code in (200, 302)
    door.admin_json("DELETE", "/inbound/admin/bans/" + mine[0]["entry"].replace("/", "%2F"))
    assert door.request("GET", path, auth=ADMIN, headers=xff(address)).status_code in (200, 302)


def test_a_browser_without_credentials_is_not_locked_out(door):
    for _ in range(6):
        r = door.request("GET", "/system", headers=xff("10.71.0.1"))
        assert r.status_code == 403
    assert door.request("GET", "/system", auth=ADMIN, headers=xff("10.71.0.1")).status_code == 200


# ------------------------------------------------------------------- method overrides

@pytest.mark.parametrize("argument", ["_method", "_METHOD", "_Method"])
def test_a_link_cannot_delete_an_upload(door, argument):
    upload = stored_upload(door)
    r = raw(door, "GET", "/inbound/admin/uploads/%s?%s=DELETE" % (upload.id, argument))
    json_error(r, 400, "method-override")
    # With the script header too: an override is never a way in.
    r = door.request("GET", "/inbound/admin/uploads/%s?%s=DELETE" % (upload.id, argument), auth=ADMIN)
    json_error(r, 400, "method-override")
    assert door.admin_json("GET", "/inbound/admin/uploads/%s" % upload.id)["state"] == "complete"
    assert door.instances_of_upload(upload.id)


@pytest.mark.parametrize("header", ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"])
def test_override_headers_are_refused(door, header):
    upload = stored_upload(door)
    patient = door.patients_of_upload(upload.id)[0]["ID"]
    r = door.request("GET", "/inbound/admin/uploads/%s" % upload.id, auth=ADMIN,
                     headers={header: "DELETE"})
    json_error(r, 400, "method-override")
    # Orthanc's own routes: refused by the filter before Orthanc acts.
    r = door.request("POST", "/patients/%s" % patient, auth=ADMIN, headers={header: "DELETE"}, data="")
    assert r.status_code in (400, 403), r.status_code
    r = raw(door, "GET", "/patients/%s?_method=DELETE" % patient)
    assert r.status_code in (400, 403), r.status_code
    assert door.admin("GET", "/patients/%s" % patient).status_code == 200
    assert door.admin_json("GET", "/inbound/admin/uploads/%s" % upload.id)["state"] == "complete"


def test_a_sender_cannot_cancel_by_override_either(door):
    upload = Upload.open(door)
    r = door.request("GET", upload.path() + "?_method=DELETE", headers=upload.headers())
    json_error(r, 400, "method-override")
    assert upload.status_json()["state"] == "open"
    upload.cancel()


# ------------------------------------------------------------------- cross-site writes

CROSS_SITE = [
    {},                                                      # a form: no Origin kept by a proxy
    {"Origin": "https://evil.example"},
    {"Origin": "null"},                                      # sandboxed iframe, data: URL
    {"Origin": "http://127.0.0.1.evil.example"},
    {"Origin": "http://evil.example", "Referer": "http://127.0.0.1/"},
    {"X-Requested-With": "Fetch"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_another_site_cannot_ban_everybody(door, headers):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json"):
        r = raw(door, "POST", "/inbound/admin/bans", data='{"entry": "0.0.0.0/0"}',
                headers=dict(headers, **{"Content-Type": content_type}))
        json_error(r, 403, "cross-site")
    # A multipart form, which Orthanc would answer itself without the plugin's handler.
    r = raw(door, "POST", "/inbound/admin/bans", headers=headers,
            files={"entry": (None, "0.0.0.0/0"), "json": ("b.json", '{"entry": "0.0.0.0/0"}')})
    assert r.status_code == 403, (r.status_code, r.text[:200])
    assert not [b for b in door.admin_json("GET", "/inbound/admin/bans")["bans"]
                if b["entry"] == "0.0.0.0/0"]
    assert door.request("GET", "/inbound/api/info").status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_another_site_cannot_release_delete_or_script(door, headers):
    upload = stored_upload(door)
    patient = door.patients_of_upload(upload.id)[0]["ID"]
    r = raw(door, "POST", "/inbound/admin/uploads/%s/release" % upload.id, headers=headers,
            data='{"modality": "pacs", "patient": {"id": "ATTACKER-1"}}')
    json_error(r, 403, "cross-site")
    r = raw(door, "DELETE", "/inbound/admin/uploads/%s" % upload.id, headers=headers)
    json_error(r, 403, "cross-site")
    r = raw(door, "POST", "/tools/execute-script", headers=headers, data="print(1)")
    assert r.status_code == 403
    r = raw(door, "DELETE", "/patients/%s" % patient, headers=headers)
    assert r.status_code == 403
    r = raw(door, "POST", "/inbound/admin/limits/lift", headers=headers)
    json_error(r, 403, "cross-site")
    assert door.admin_json("GET", "/inbound/admin/uploads/%s" % upload.id)["state"] == "complete"
    assert door.admin("GET", "/patients/%s" % patient).status_code == 200
    assert door.admin_json("GET", "/inbound/admin/forwards")["forwards"] == [] or all(
        f["uploadId"] != upload.id for f in door.admin_json("GET", "/inbound/admin/forwards")["forwards"])


def test_another_site_cannot_make_an_admins_browser_send_a_big_body(door):
    before = vm_rss_kib(door)
    for _ in range(5):
        r = raw(door, "POST", "/inbound/admin/bans", data=b"x" * (20 * 1024 * 1024),
                headers={"Origin": "https://evil.example", "Content-Type": "text/plain"})
        assert r.status_code == 403, r.status_code
    # Refused before Orthanc reads the body: five bodies of 20 MB leave no trace in memory.
    assert vm_rss_kib(door) - before < 20000, (before, vm_rss_kib(door))


def test_the_sites_own_pages_and_scripts_still_write(door):
    upload = stored_upload(door)
    patient = door.patients_of_upload(upload.id)[0]["ID"]
    # The site's own Origin (what a browser sends from the admin page or Orthanc Explorer).
    r = raw(door, "POST", "/inbound/admin/bans", json={"entry": "192.0.2.99"},
            headers={"Origin": door.url})
    assert r.status_code == 201, r.text
    r = raw(door, "DELETE", "/inbound/admin/bans/192.0.2.99", headers={"Origin": door.url.upper()})
    assert r.status_code == 200, r.text
    # Scripts say so with the header.
    r = raw(door, "DELETE", "/patients/%s" % patient, headers={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 200, r.text
    r = raw(door, "DELETE", "/inbound/admin/uploads/%s" % upload.id,
            headers={"X-Requested-With": "xmlhttprequest"})
    assert r.status_code == 200, r.text


def test_reads_need_no_proof_of_origin(door):
    r = raw(door, "GET", "/inbound/admin/uploads", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200


# ------------------------------------------------------------------- multipart forms

MULTIPART = [
    {"Content-Type": "multipart/form-data; boundary=xyz"},
    {"Content-Type": "Multipart/Form-Data; boundary=xyz"},
    {"Content-Type": "multipart/mixed; boundary=xyz"},
    {"Content-Type": "application/octet-stream", "X-File-Name": "a.dcm", "X-File-Size": "999999999"},
    {"Content-Type": "application/dicom", "X-File-Size": "10"},
]


def multipart_body(size=200000):
    return (b"--xyz\r\nContent-Disposition: form-data; name=\"files[]\"; filename=\"a.dcm\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + b"A" * size + b"\r\n--xyz--\r\n")


def vm_rss_kib(server):
    with open("/proc/%d/status" % server.process.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("headers", MULTIPART)
@pytest.mark.parametrize("path", ["/inbound/api/uploads", "/inbound/", "/inbound/api/info",
                                  "/inbound/peer/outbox/ABC/ack", "/inbound/auth"])
def test_multipart_forms_are_refused_without_an_account(door, headers, path):
    r = requests.post(door.url + path, headers=dict(headers, **xff("203.0.113.50")),
                      data=multipart_body(1000), timeout=30)
    assert r.status_code == 403, (path, r.status_code)


def test_multipart_floods_do_not_grow_orthancs_memory(door):
    before = vm_rss_kib(door)
    for i in range(60):
        r = requests.post(door.url + "/inbound/api/uploads",
                          headers={"Content-Type": "multipart/form-data; boundary=xyz",
                                   "X-File-Name": "f%d.dcm" % i, "X-File-Size": "999999999"},
                          data=multipart_body(), timeout=30)
        assert r.status_code == 403
    after = vm_rss_kib(door)
    # 60 bodies of 200 KB kept by Orthanc would be 12 MB; refused before the body, nothing stays.
    assert after - before < 6000, (before, after)
    assert door.admin("GET", "/system").status_code == 200
    events = wait_for_audit(door, lambda e: "multipart-refused" in (e.get("detail") or ""))
    assert events


def test_orthanc_explorers_own_upload_still_works_for_an_admin(door):
    dicom = make_dicom(patient_id="EXPLORER-UPLOAD")
    r = door.request("POST", "/instances", auth=ADMIN, data=dicom,
                     headers={"Content-Type": "application/dicom"})
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------- start-up self-check

UNSAFE = [
    ({"ExecuteLuaEnabled": True}, {}, "AllowLua"),
    ({"LuaScripts": ["LUA"]}, {}, "AllowLua"),
    ({"RestApiWriteToFileSystemEnabled": True}, {}, "AllowRestApiWriteToFileSystem"),
    ({"HttpsVerifyPeers": False}, {}, "AllowHttpsNoVerify"),
    ({"RegisteredUsers": {"second": "change-me"}}, {}, "AllowWeakPasswords"),
    ({"RegisteredUsers": {"second": "fifteen-chars!!"}}, {}, "AllowWeakPasswords"),
    ({"RegisteredUsers": {"second": "change-me-to-a-long-random-secret"}}, {}, "AllowWeakPasswords"),
    ({"DicomServerEnabled": True}, {}, "AllowDicomServer"),
    ({"RegisteredUsers": {"second": "short"}}, {"Role": "Internal", "Gateways": ["dmz"]}, "AllowWeakPasswords"),
    ({"ExecuteLuaEnabled": True}, {"Role": "Internal", "Gateways": ["dmz"]}, "AllowLua"),
    ({"HttpsVerifyPeers": False}, {"Role": "Internal", "Gateways": ["dmz"]}, "AllowHttpsNoVerify"),
    ({"RestApiWriteToFileSystemEnabled": True}, {"Role": "Gateway"}, "AllowRestApiWriteToFileSystem"),
]

PEERS = {"OrthancPeers": {"dmz": {"Url": "http://127.0.0.1:9/", "Username": "inside",
                                  "Password": "a-long-random-secret-for-tests"}}}


@pytest.mark.parametrize("orthanc,inbound,override", UNSAFE)
def test_unsafe_settings_stop_start_up_naming_their_override(plugin, tmp_path, orthanc, inbound,
                                                             override):
    orthanc = dict(orthanc, **(PEERS if inbound.get("Role") == "Internal" else {}))
    if orthanc.get("LuaScripts") == ["LUA"]:
        script = tmp_path / "hook.lua"
        script.write_text("function OnStoredInstance(id, tags, metadata) end\n")
        orthanc["LuaScripts"] = [str(script)]
    server = harness.OrthancServer(plugin, inbound=inbound, orthanc=orthanc, startup_timeout=15)
    try:
        with pytest.raises(harness.ServerError) as e:
            server.start()
        assert override in str(e.value), str(e.value)[-2000:]
    finally:
        server.cleanup()
    # The documented override keeps the setting.
    allowed = harness.merge(inbound, {"Security": {override: True}})
    server = harness.OrthancServer(plugin, inbound=allowed, orthanc=orthanc, startup_timeout=15)
    try:
        server.start()
        assert server.admin("GET", "/system").status_code == 200
        server.stop()
    finally:
        server.cleanup()


OTHER_PLUGIN = "/usr/lib/orthanc/libServeFolders.so.1.10.1"


def test_a_gateway_loads_no_other_plugin(plugin):
    assert os.path.exists(OTHER_PLUGIN)
    orthanc = {"Plugins": [plugin, OTHER_PLUGIN]}
    server = harness.OrthancServer(plugin, inbound={"Role": "Gateway"}, orthanc=orthanc,
                                   startup_timeout=15)
    try:
        with pytest.raises(harness.ServerError) as e:
            server.start()
        assert "AllowOtherPlugins" in str(e.value) and "libServeFolders" in str(e.value), str(e.value)[-2000:]
    finally:
        server.cleanup()
    # The plugin's folder of Debian's default configuration holds other plugins too.
    server = harness.OrthancServer(plugin, inbound={"Role": "Gateway"},
                                   orthanc={"Plugins": [plugin, "/usr/share/orthanc/plugins"]},
                                   startup_timeout=15)
    try:
        with pytest.raises(harness.ServerError) as e:
            server.start()
        assert "AllowOtherPlugins" in str(e.value), str(e.value)[-2000:]
    finally:
        server.cleanup()

