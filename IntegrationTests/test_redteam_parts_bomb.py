"""Red-team attack on a raised Upload.MaxFileBytes (issue 20 lets it grow to 64 GiB): a Deflated
file of a megabyte whose dataset inflates to a gigabyte. DCMTK parses a Deflated file whole
in memory, so it is held to the whole-body bound of 512 MiB whatever MaxFileBytes says: 413
too-large within seconds, never 503 "retry" (it could never fit), in one PUT or in parts."""

import time

import pytest

from gateway_support import finish, start
from harness import Upload, assert_error
from redteam_parts_support import (PART, assert_left_nothing, send_in_parts,
                                   streamed_deflate_bomb)


@pytest.fixture(scope="module")
def bomb():
    payload = streamed_deflate_bomb(1024 * PART)  # 1 GiB of zeros
    assert len(payload) < 2 * PART
    return payload


@pytest.mark.parametrize("way", ["whole", "parts"])
def test_a_deflate_bomb_is_held_to_512_mib_when_max_file_bytes_is_raised(plugin, bomb, way):
    server = start(plugin, inbound={
        "Upload": {"PartBytes": PART, "MaxFileBytes": 2048 * PART,
                   "MaxBytesPerUpload": 2048 * PART},
        "Limits": {"MaxBytesInFlight": 4096 * PART}})
    try:
        upload = Upload.open(server)
        started = time.monotonic()
        r = upload.put(bomb) if way == "whole" else send_in_parts(server, upload, bomb)
        elapsed = time.monotonic() - started
        body = assert_error(r, 413, "too-large")
        assert "inflates to more than %d bytes" % (512 * PART) in body["message"], body
        assert r.headers.get("Retry-After") is None
        assert elapsed < 30, "took %.1f s" % elapsed
        assert_left_nothing(server, upload)
    finally:
        finish(server)
