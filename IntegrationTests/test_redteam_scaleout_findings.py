"""Red team findings on the site for several gateways (setting: test_redteam_scaleout.py):
each test fails until its finding is fixed (/work/notes/coord.md)."""

import pytest

from redteam_scaleout_support import RecordingSite
from test_redteam_scaleout import ID_A, site  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def one_gateway_site():
    """The same site rendered for one Orthanc (the single-Orthanc site)."""
    s = RecordingSite([""])
    try:
        s.start()
    except BaseException:
        s.stop()
        raise
    yield s
    s.stop()


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
