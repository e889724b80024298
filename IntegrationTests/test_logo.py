"""The site's logo (Inbound.Branding.Logo) at GET /inbound/api/logo: an SVG may hold scripts,
and opened directly it would be a document of the site's own origin, beside the admin routes
and the admin's cached credentials. It is answered with a sandboxing Content-Security-Policy
(no script runs, nothing loads) and nosniff, directly and through the shipped nginx site.
The real browser's side (the script does not run) is in test_browser.py."""

import base64

import pytest

from gateway_support import finish, start
from proxy import NginxProxy

LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
INTERNET = "127.0.0.2"

HOSTILE_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
               b'<style>rect { fill: #1f5c99; }</style><rect width="120" height="40"/>'
               b'<script>fetch("/inbound/admin/bans", {method: "POST", body: '
               b'JSON.stringify({entry: "0.0.0.0/0"})})</script>'
               b'<foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" '
               b'src="/inbound/admin/ui/"></iframe></foreignObject></svg>')
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def csp_directives(value):
    return sorted(d.strip() for d in value.split(";") if d.strip())


def assert_sandboxed(r, body, mime):
    assert r.status_code == 200, r.text
    assert r.content == body
    assert r.headers["Content-Type"].split(";")[0] == mime
    # Exactly one policy, the sandboxing one: a second, laxer header would not weaken it
    # (browsers enforce every policy), but the plugin must not send the page's one here.
    policies = r.raw.headers.getlist("Content-Security-Policy")
    assert len(policies) == 1, policies
    assert csp_directives(policies[0]) == csp_directives(LOGO_CSP), policies[0]
    assert r.headers["X-Content-Type-Options"].split(",")[0].strip() == "nosniff"
    assert r.headers.get("Content-Disposition", "inline").startswith("inline")


@pytest.fixture(scope="module", params=["svg", "png"])
def branded(request, plugin, tmp_path_factory):
    body = HOSTILE_SVG if request.param == "svg" else PNG
    path = tmp_path_factory.mktemp("logo") / ("logo." + request.param)
    path.write_bytes(body)
    s = start(plugin, inbound={"Branding": {"Logo": str(path)}, "TrustedProxies": ["127.0.0.1"]})
    s.logo = (body, "image/svg+xml" if request.param == "svg" else "image/png")
    yield s
    finish(s)


def test_the_logo_is_served_sandboxed(branded):
    body, mime = branded.logo
    info = branded.request("GET", "/inbound/api/info").json()
    assert info["branding"]["logoUrl"] == "api/logo"
    assert_sandboxed(branded.request("GET", "/inbound/api/logo"), body, mime)


def test_the_logo_is_served_sandboxed_through_nginx(branded):
    body, mime = branded.logo
    proxy = NginxProxy(branded.port, admin_nets="127.0.0.1", peer_nets="127.0.0.9").start()
    try:
        assert_sandboxed(proxy.request("GET", "/inbound/api/logo", source=INTERNET), body, mime)
    finally:
        proxy.cleanup()


def test_no_logo_configured_is_a_404(server):
    r = server.request("GET", "/inbound/api/logo")
    assert r.status_code == 404
    assert r.json()["error"] == "not-found"
