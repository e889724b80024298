"""Red team findings on the shipped nginx site (setting: test_redteam_scaleout.py): a peer or
partner route asked from outside its networks is refused with 403 before any other check."""

import pytest

from redteam_scaleout_support import serve
from test_redteam_scaleout import ID_A, site  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def one_gateway_site():
    """The same site rendered for one Orthanc (the single-Orthanc site)."""
    yield from serve([""])


@pytest.mark.parametrize("which", ["site", "one_gateway_site"])
def test_an_internet_client_is_forbidden_the_peer_routes_whatever_it_sends(request, which):
    """FOUND and fixed (F3): the peer location's other refusals (multipart, X-File-Name) ran
    before its allow/deny too (nginx's rewrite phase), answering 415 and 400 to the Internet.
    Outside the peer network every peer request is 403, nothing tells what is behind."""
    s = request.getfixturevalue(which)
    s.clear()
    for headers in ({"Content-Type": "multipart/form-data; boundary=x"},
                    {"X-File-Name": "a.dcm", "X-File-Size": "10"},
                    {"X-HTTP-Method-Override": "DELETE"},
                    {"X-Inbound-Gateway": "9"}, {"X-Inbound-Gateway": "1"}):
        r = s.request("POST", "/inbound/peer/outbox/%s/ack" % ID_A, source="127.0.0.3",
                      headers=headers, data=b"--x--")
        assert r.status_code == 403, (which, headers, r.status_code, r.text[:200])
    assert s.reached() == {}
    # From the peer network, the same requests still get the proxy's own refusals in JSON.
    for headers, status, error in (
            ({"Content-Type": "multipart/form-data; boundary=x"}, 415, "multipart-refused"),
            ({"X-File-Name": "a.dcm", "X-File-Size": "10"}, 400, "multipart-refused"),
            ({"X-HTTP-Method-Override": "DELETE"}, 400, "method-override")):
        r = s.request("POST", "/inbound/peer/outbox/%s/ack" % ID_A, source="127.0.0.1",
                      headers=dict(headers, **{"X-Inbound-Gateway": "1"}), data=b"--x--")
        assert (r.status_code, r.json()["error"]) == (status, error), (which, headers, r.text)
    assert s.reached() == {}


@pytest.fixture(scope="module", params=[["A", "B"], [""]], ids=["two-gateways", "one-gateway"])
def partner_site(request):
    """The site with the partners' network 127.0.0.1."""
    yield from serve(request.param, partner_nets="127.0.0.1")


def test_an_internet_client_is_forbidden_the_partner_routes_whatever_it_sends(partner_site):
    """The same on the partner location: its X-File-Name refusal ran before its allow/deny,
    answering 400 to the Internet. Outside the partners' networks every request of the
    partner routes is 403."""
    s = partner_site
    s.clear()
    stow = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=x',
            "Authorization": "Bearer " + "a" * 43}
    for path in ("/inbound/dicom-web/studies", "/inbound/dicom-web/studies/1.2.3"):
        for method, headers in (("POST", stow), ("POST", dict(stow, **{"X-File-Name": "a"})),
                                ("POST", dict(stow, **{"X-HTTP-Method-Override": "PUT"})),
                                ("POST", {"Content-Type": "multipart/form-data; boundary=x"}),
                                ("GET", {})):
            r = s.request(method, path, source="127.0.0.3", headers=headers, data=b"--x--")
            assert r.status_code == 403, (path, method, headers, r.status_code, r.text[:200])
    assert s.reached() == {}
    # From the partners' network: the proxy's own refusals in JSON, and a STOW-RS goes on.
    for headers, error in (({"X-File-Name": "a"}, "multipart-refused"),
                           ({"X-HTTP-Method-Override": "PUT"}, "method-override")):
        r = s.request("POST", "/inbound/dicom-web/studies", source="127.0.0.1",
                      headers=dict(stow, **headers), data=b"--x--")
        assert (r.status_code, r.json()["error"]) == (400, error), (headers, r.text)
    assert s.reached() == {}
    r = s.request("POST", "/inbound/dicom-web/studies", source="127.0.0.1", headers=stow,
                  data=b"--x--")
    assert r.status_code == 200, (r.status_code, r.text[:200])
    assert len(s.reached()) == 1
