"""Red team: the shipped nginx site in front of several gateways (doc/Operations.md,
"Scale-out"; Resources/Nginx/inbound-site.conf, render-nginx-site.sh).

Real nginx with the shipped site, rendered for two gateways with upload id prefixes "A" and
"B", in front of recording gateways (redteam_scaleout_support.py): each test asserts which
gateway received what. Adversaries: an Internet client (any loopback address but 127.0.0.1,
the peer and admin network) that tries to choose its gateway with the pullers' header
X-Inbound-Gateway, crafted upload ids and path tricks, to reach the pullers' routes, or to
spread one upload over two gateways; and a site rendered for gateways some of which have no
prefix."""

import pytest
import requests

from redteam_scaleout_support import render, serve

ID_A = "A23456789BCD"      # upload ids as gateway 1 (prefix "A") and 2 ("B") mint them
ID_B = "B23456789BCD"
SHA = "0" * 64
INTERNET = ["127.0.0.%d" % n for n in range(2, 12)]


@pytest.fixture(scope="module")
def site():
    yield from serve(["A", "B"])


@pytest.fixture(autouse=True)
def clean(site):
    site.clear()
    yield


def upload_paths(upload_id):
    return ["/inbound/api/uploads/%s" % upload_id,
            "/inbound/api/uploads/%s/files/%s" % (upload_id, SHA),
            "/inbound/api/uploads/%s/files/%s/parts/1" % (upload_id, SHA),
            "/inbound/api/uploads/%s/files/%s/assemble" % (upload_id, SHA),
            "/inbound/api/uploads/%s/complete" % upload_id]


def test_every_request_of_an_upload_reaches_its_gateway_from_any_address(site):
    """A sender whose address changes (mobile network, NAT pool) keeps its upload: the id's
    prefix, not the address, picks the gateway."""
    for source in INTERNET:
        for upload_id, gateway in ((ID_A, "g1"), (ID_B, "g2")):
            site.clear()
            for path in upload_paths(upload_id):
                r = site.request("POST" if path.endswith(("complete", "assemble")) else "GET",
                                 path, source=source)
                assert r.status_code == 200, (path, r.status_code, r.text)
            assert list(site.reached()) == [gateway], (source, upload_id, site.reached())


def test_the_pullers_header_does_not_choose_the_gateway_of_a_public_route(site):
    """X-Inbound-Gateway names a gateway on the peer routes only: an Internet client sending it
    on an open, a page or an upload route lands where it would without it."""
    for source in INTERNET:
        for path, method in (("/inbound/api/uploads", "POST"), ("/inbound/", "GET"),
                             ("/inbound/api/info", "GET"),
                             ("/inbound/api/uploads/%s" % ID_A, "GET"),
                             ("/inbound/api/uploads/%s/complete" % ID_B, "POST")):
            site.clear()
            plain = site.request(method, path, source=source)
            assert plain.status_code == 200, (path, plain.status_code, plain.text)
            chosen = plain.json()["gateway"]
            for value in ("1", "2", "g1", "2, 1"):
                r = site.request(method, path, source=source,
                                 headers={"X-Inbound-Gateway": value})
                assert r.status_code == 200, (path, value, r.status_code)
                assert r.json()["gateway"] == chosen, (source, path, value)
            assert list(site.reached()) == [chosen]


def test_an_upload_id_of_no_gateways_prefix_is_routed_by_address_only(site):
    """Lower case, another letter, an overlong id: nginx sends them like the opens, by address
    (the gateway then refuses an id that is not one); an address keeps its gateway."""
    for source in INTERNET[:4]:
        reached = set()
        for upload_id in ("a23456789BCD", "C23456789BCD", "Z" * 12, "X" * 40):
            r = site.request("GET", "/inbound/api/uploads/%s/complete" % upload_id,
                             source=source)
            assert r.status_code == 200
            reached.add(r.json()["gateway"])
        opened = site.request("POST", "/inbound/api/uploads", source=source).json()["gateway"]
        assert reached == {opened}, source


def test_a_very_long_upload_id_is_refused_or_reaches_the_gateway_of_its_prefix(site):
    for length in (100, 4000, 15000, 40000):
        site.clear()
        upload_id = "B" + "2" * length
        try:
            r = site.request("GET", "/inbound/api/uploads/%s/complete" % upload_id)
        except requests.exceptions.ConnectionError:
            # nginx's 414 to a request line past its buffers closes the TLS connection at once
            assert length > 16 * 1024 and site.reached() == {}, length
            continue
        if r.status_code == 200:
            assert list(site.reached()) == ["g2"], length
        else:
            assert 400 <= r.status_code < 500 and site.reached() == {}, (length, r.status_code)


@pytest.mark.parametrize("path", [
    # dot segments: "A" for nginx, "B" once resolved (or the reverse)
    "/inbound/api/uploads/%s/../%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads/%s/%%2e%%2e/%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads/%s%%2F..%%2F%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads/%s%%2f%%2e%%2e%%2f%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads/%s%%5C..%%5C%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads/%s\\..\\%s/complete" % (ID_A, ID_B),
    # parameters, fragments, doubled slashes, a dot at the end of the id
    "/inbound/api/uploads/%s;%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads/%s%%3B%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads/%s#/../%s/complete" % (ID_A, ID_B),
    "/inbound/api/uploads//%s/complete" % ID_B,
    "/inbound/api/uploads/%s./complete" % ID_A,
    "/inbound/api/uploads/%s%%2500/complete" % ID_A,
    "/inbound/api/uploads/%s%%C0%%AE/complete" % ID_A,
    "/inbound//api/uploads/%s/complete" % ID_A,
    # the pullers' routes, through the public location
    "/inbound/api/../peer/outbox",
    "/inbound/api/uploads/%s/../../../peer/outbox" % ID_A,
    "/inbound/api/uploads/%s/%%2e%%2e/%%2e%%2e/%%2e%%2e/peer/outbox" % ID_A,
])
def test_a_path_trick_on_the_upload_routes_reaches_no_gateway(site, path):
    status, body = site.raw("POST %s HTTP/1.1" % path)
    assert status == 400, (path, status, body[:200])
    assert b'"error":"bad-path"' in body, body[:200]
    assert site.reached() == {}, site.reached()


def test_an_escaped_nul_in_an_upload_id_reaches_no_gateway(site):
    """nginx itself refuses %00 in a path (its own 400 page, before the site's maps)."""
    status, body = site.raw("POST /inbound/api/uploads/%s%%00/complete HTTP/1.1" % ID_A)
    assert status == 400, (status, body[:200])
    assert site.reached() == {}, site.reached()


@pytest.mark.parametrize("path", [
    "/inbound/api/uploads/%%41%s/complete" % ID_A[1:],        # %41 = "A"
    "/inbound/api/uploads/%s%%44/complete" % ID_B[:-1],       # %44 = "D"
    "//inbound/api/uploads/%s/complete" % ID_B,               # a peer-style base URL
])
def test_an_escaped_or_prefixed_path_reaches_the_gateway_that_reads_the_same_id(site, path):
    """What nginx routes by (the decoded, normalised path) and what the gateway reads (civetweb
    decodes the escapes and the plugin merges a leading "//") name the same upload."""
    status, body = site.raw("POST %s HTTP/1.1" % path)
    assert status == 200, (path, status, body[:200])
    expected = "g1" if ("%41" in path or ID_A in path) else "g2"
    assert list(site.reached()) == [expected], (path, site.reached())


PEER_PATHS = ["/inbound/peer/outbox", "/inbound/peer/outbox/%s" % ID_A,
              "/inbound/peer/outbox/%s/ack" % ID_B, "/inbound/peer/requests",
              "//inbound/peer/outbox", "/inbound/peer/../peer/outbox",
              "/inbound/peer/outbox/%s/items/%s/parts/1" % (ID_A, SHA)]
# (Upper-case variants such as /inbound/Peer/outbox are paths of the public location that
# neither the plugin nor Orthanc knows: a gateway answers them 404, as on the one-gateway site.)


def test_an_internet_client_reaches_no_gateways_peer_routes(site):
    """Outside the peer network, with or without the pullers' header (any value), nothing of
    the peer routes reaches a gateway."""
    for source in INTERNET[:3]:
        for path in PEER_PATHS:
            for headers in ({}, {"X-Inbound-Gateway": "1"}, {"X-Inbound-Gateway": "2"},
                            {"X-Inbound-Gateway": "x"}):
                for method in ("GET", "POST"):
                    r = site.request(method, path, source=source, headers=headers)
                    assert 400 <= r.status_code < 500, (path, headers, r.status_code)
    assert site.reached() == {}, site.reached()


@pytest.mark.parametrize("value,status", [
    ("1", 200), ("2", 200), ("3", 400), ("0", 400), ("01", 400), ("2 ", 200),
    ("1,2", 400), ("-1", 400), ("g1", 400), ("", 400)])
def test_the_pullers_header_picks_exactly_one_gateway_or_none(site, value, status):
    """From the peer network: "1"/"2" (nginx trims the blanks around a header's value) reach
    that gateway; anything else is refused with JSON before any gateway."""
    r = site.request("GET", "/inbound/peer/outbox", source="127.0.0.1",
                     headers={"X-Inbound-Gateway": value})
    assert r.status_code == status, (value, r.status_code, r.text)
    if status == 200:
        assert list(site.reached()) == ["g%s" % value.strip()]
    else:
        assert r.json()["error"] == "gateway-required"
        assert site.reached() == {}


def test_two_pullers_headers_reach_one_gateway_at_most(site):
    status, body = site.raw("GET /inbound/peer/outbox HTTP/1.1", source="127.0.0.1",
                            headers=["X-Inbound-Gateway: 1", "X-Inbound-Gateway: 2"])
    assert status in (200, 400), (status, body[:200])
    assert len(site.reached()) == (1 if status == 200 else 0), site.reached()


def test_prefixes_that_could_route_one_id_to_two_gateways_are_refused():
    for gateways in ("A=127.0.0.1:8042 A=127.0.0.1:8043", "A=127.0.0.1:8042 AB=127.0.0.1:8043",
                     "AB=127.0.0.1:8042 A=127.0.0.1:8043", "a=127.0.0.1:8042 B=127.0.0.1:8043",
                     "I=127.0.0.1:8042 B=127.0.0.1:8043", "ABCDE=127.0.0.1:8042 B=127.0.0.1:8043",
                     "A/=127.0.0.1:8042 B=127.0.0.1:8043",
                     "A=127.0.0.1:8042;evil B=127.0.0.1:8043",
                     "A=127.0.0.1:8042 B=127.0.0.1:8043|x"):
        code, output = render(gateways)
        assert code == 2, (gateways, output[-300:])


def test_an_internet_client_is_forbidden_the_peer_routes_without_the_header_too(site):
    """FOUND and fixed (e2e, fab37a6): outside the peer network, a peer route without
    X-Inbound-Gateway answers 400 "gateway-required ... Several gateways are behind this
    site" instead of 403: the site's `if ... rewrite` runs in nginx's rewrite phase, before the
    location's allow/deny, so the Internet learns the topology (and gets past "deny all" to an
    answer of the site). Expected: 403, as with the header and as on the one-gateway site."""
    for path in PEER_PATHS[:4]:
        r = site.request("GET", path, source="127.0.0.2")
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert "gateway" not in r.text.lower(), r.text


def test_a_site_with_prefixed_and_unprefixed_gateways_is_refused():
    """FOUND and fixed (e2e, fab37a6): render-nginx-site.sh accepts "A=gw1 gw2". gw2 mints
    ids at random over the whole alphabet, so 1 in 32 of its uploads has an id starting with
    "A": the site then sends every file, part and completion of that upload to gw1, which
    answers 404 - the upload is stranded on gw2, its sender cannot finish it. Either every
    gateway has a prefix or none: the script must refuse the mix (exit 2, naming it)."""
    for gateways in ("A=127.0.0.1:8042 127.0.0.1:8043", "127.0.0.1:8042 B=127.0.0.1:8043",
                     "A=127.0.0.1:8042 B=127.0.0.1:8043 127.0.0.1:8044"):
        code, output = render(gateways)
        assert code == 2, (gateways, output[-300:])
        assert "prefix" in output, output[-300:]
    for gateways in ("A=127.0.0.1:8042 B=127.0.0.1:8043", "127.0.0.1:8042 127.0.0.1:8043",
                     "127.0.0.1:8042"):
        code, output = render(gateways)
        assert code == 0, (gateways, output[-300:])


@pytest.fixture(scope="module")
def draining_site():
    """Gateway 1 ("~A") draining: kept for its uploads and its pulls, out of the opens."""
    yield from serve(["~A", "B", "C"])


def test_no_client_can_open_an_upload_on_a_draining_gateway(draining_site):
    """From 40 addresses, opens, pages, request links and any non-upload path never reach the
    draining gateway; its own uploads and its puller still do, from any address."""
    s = draining_site
    s.clear()
    for n in range(2, 42):
        source = "127.0.0.%d" % n
        for method, path in (("POST", "/inbound/api/uploads"), ("GET", "/inbound/"),
                             ("GET", "/inbound/api/info"), ("GET", "/inbound/r/TOKEN"),
                             ("POST", "/inbound/api/requests/TOKEN/uploads"),
                             ("GET", "/inbound/api/uploads/a23456789BCD"),
                             ("GET", "/inbound/api/uploads/Z23456789BCD/complete")):
            assert s.request(method, path, source=source).status_code == 200, (source, path)
    assert "g1" not in s.reached(), {k: v[:3] for k, v in s.reached().items()}
    assert set(s.reached()) == {"g2", "g3"}     # the address hash spreads over the others
    s.clear()
    for source in ("127.0.0.2", "127.0.0.77"):
        assert s.request("POST", "/inbound/api/uploads/%s/complete" % ID_A,
                         source=source).status_code == 200
    assert s.request("GET", "/inbound/peer/outbox", source="127.0.0.1",
                     headers={"X-Inbound-Gateway": "1"}).status_code == 200
    assert list(s.reached()) == ["g1"]


def test_a_site_of_draining_gateways_only_or_without_prefix_is_refused():
    for gateways in ("~A=127.0.0.1:8042 ~B=127.0.0.1:8043",
                     "~127.0.0.1:8042 127.0.0.1:8043",
                     "~A=127.0.0.1:8042"):
        code, output = render(gateways)
        assert code == 2, (gateways, output[-300:])
