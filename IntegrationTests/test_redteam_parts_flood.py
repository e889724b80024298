"""Red-team floods against the file pacing of issue 20 (doc/Security.md, "Rate limits"): file
and part PUTs of an open upload with its token are paced by files per second, not by the
request bucket. A flood of tiny files or parts with a valid token is still stopped (503
rate-limited with Retry-After, nothing written beyond the burst), a flood with bad tokens
still meets the request bucket and the automatic ban, and refusals a legitimate page meets
by design do not get it banned."""

import harness
from gateway_support import audit, finish, start, xff
from harness import Upload
from redteam_parts_support import PART, part_files, put_part

TRUSTED = {"TrustedProxies": ["127.0.0.1"]}


def open_as(server, address):
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                       headers=xff(address))
    assert r.status_code == 201, r.text
    return Upload(server, r.json(), {})


def banning(plugin, refusals):
    """A server that bans an address after "refusals" refusals within a minute."""
    return start(plugin, inbound=harness.merge(TRUSTED, {
        "Upload": {"PartBytes": PART, "MaxFileBytes": 64 * PART},
        "AutoBan": {"Refusals": refusals, "WindowSeconds": 60, "BanSeconds": 60}}))


def banned(server, address):
    r = server.request("GET", "/inbound/api/info", headers=xff(address))
    return r.status_code == 403


def test_a_flood_of_parts_with_a_valid_token_is_paced(plugin):
    server = start(plugin, inbound=harness.merge(TRUSTED, {
        "Upload": {"PartBytes": PART, "MaxFileBytes": 64 * PART},
        "Limits": {"RequestsPerSecond": 1000, "RequestBurst": 1000,
                   "FilesPerSecond": 1, "FileBurst": 5}}))
    try:
        address = "198.51.100.20"
        upload = open_as(server, address)
        sha256 = harness.sha256(b"flooded file")
        answers = [put_part(server, upload, sha256, n, b"p" * PART, headers=xff(address))
                   for n in range(30)]
        created = [a for a in answers if a.status_code == 201]
        paced = [a for a in answers if a.status_code == 503]
        assert 5 <= len(created) <= 7, [a.status_code for a in answers]
        assert len(created) + len(paced) == 30, [a.text[:100] for a in answers]
        for a in paced:
            harness.assert_error(a, 503, "rate-limited")
            assert int(a.headers["Retry-After"]) >= 1
        # Only what was accepted is on disk.
        assert len(part_files(server, upload)) == len(created)
        # Whole files share the same bucket: a tiny file now is paced too.
        r = upload.server.request("PUT", upload.path("/files/%s" % harness.sha256(b"x")),
                                  data=b"x", headers=dict(upload.headers(), **xff(address)))
        harness.assert_error(r, 503, "rate-limited")
        # Another address is not.
        other = open_as(server, "198.51.100.21")
        assert put_part(server, other, sha256, 0, b"q" * PART,
                        headers=xff("198.51.100.21")).status_code == 201
        upload.cancel()
        other.cancel()
    finally:
        finish(server)


def test_a_flood_with_bad_tokens_is_still_banned(plugin):
    server = start(plugin, inbound=harness.merge(TRUSTED, {
        "Upload": {"PartBytes": PART, "MaxFileBytes": 64 * PART},
        "Limits": {"RequestsPerSecond": 5, "RequestBurst": 10,
                   "FilesPerSecond": 1000, "FileBurst": 1000},
        "AutoBan": {"Refusals": 20, "LimitHits": 50, "WindowSeconds": 60, "BanSeconds": 60}}))
    try:
        address = "198.51.100.30"
        upload = open_as(server, address)
        sha256 = harness.sha256(b"guessed")
        statuses = []
        for i in range(200):
            r = put_part(server, upload, sha256, 0, b"guess", token="g%042d" % i,
                         headers=xff(address))
            statuses.append(r.status_code)
            if r.status_code == 403:
                break
        assert statuses[-1] == 403, statuses
        assert 404 in statuses and statuses.count(404) <= 20, statuses
        assert banned(server, address)
        # Banned before credentials: even its own token gets nothing in now.
        r = put_part(server, upload, sha256, 0, b"real", headers=xff(address))
        assert r.status_code == 403
        assert part_files(server, upload) == []
        assert any(e.get("event") == "ban" for e in audit(server))
        assert not banned(server, "198.51.100.31")
    finally:
        finish(server)


def test_parts_with_wrong_hashes_count_towards_a_ban(plugin):
    """A valid token does not make garbage free: parts that never match their hash are
    refusals like any other."""
    server = banning(plugin, 10)
    try:
        address = "198.51.100.40"
        upload = open_as(server, address)
        sha256 = harness.sha256(b"garbage")
        statuses = [put_part(server, upload, sha256, 0, b"body %d" % i,
                             part_sha256=harness.sha256(b"other"),
                             headers=xff(address)).status_code for i in range(15)]
        assert statuses[:10] == [409] * 10, statuses
        assert statuses[-1] == 403, statuses
        assert banned(server, address)
        assert part_files(server, upload) == []
    finally:
        finish(server)


def test_what_a_page_meets_by_design_bans_nobody(plugin):
    """An assembly asked for too early (parts missing) and parts of a ninth file while eight
    are under way (the page backs off and retries): the page's own flow, no offence."""
    server = banning(plugin, 5)
    try:
        address = "198.51.100.50"
        upload = open_as(server, address)
        for i in range(8):
            sha256 = harness.sha256(b"file %d" % i)
            assert put_part(server, upload, sha256, 1, b"p" * PART,
                            headers=xff(address)).status_code == 201
        ninth = harness.sha256(b"file 9")
        for _ in range(10):
            r = put_part(server, upload, ninth, 0, b"p" * PART, headers=xff(address))
            harness.assert_error(r, 409, "too-many-partial-files")
            r = server.request("POST", upload.path("/files/%s/assemble" % harness.sha256(
                b"file 0")), json={"parts": 2},
                headers=dict(upload.headers(), **xff(address)))
            harness.assert_error(r, 409, "parts-missing")
        assert not banned(server, address)
        upload.cancel()
    finally:
        finish(server)
