"""The sealed-envelope format against an independent implementation: envelopes sealed by the
plugin's C++ (Toolbox/Sealing.cpp, through the unit-test binary's cross-check) open with
sealing.py on python3-cryptography and the reverse, key ids agree, and a changed byte, another
key or another context is refused on both sides. No Orthanc server is needed."""

import os
import subprocess

import pytest

import sealing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unit_tests_binary():
    path = os.environ.get("INBOUND_UNITTESTS") or os.path.join(REPO, "build", "UnitTests")
    assert os.access(path, os.X_OK), \
        "no unit-test binary at %s: build first, or set INBOUND_UNITTESTS" % path
    return path


def write(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def flipped(data, index):
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def test_python_round_trip_and_refusals():
    private_pem, public_pem = sealing.new_key_pair()
    other_private, _ = sealing.new_key_pair()
    envelope = sealing.seal_envelope(public_pem, b"pixel bytes", "item:U1:aa")
    assert len(envelope) == len(b"pixel bytes") + sealing.OVERHEAD == 11 + 76
    assert envelope.startswith(b"INBSEAL1") and b"pixel" not in envelope
    assert sealing.read_key_id(envelope) == sealing.key_id(public_pem)
    assert sealing.open_envelope(private_pem, envelope, "item:U1:aa") == b"pixel bytes"
    assert envelope != sealing.seal_envelope(public_pem, b"pixel bytes", "item:U1:aa")
    with pytest.raises(sealing.SealingError, match="another context"):
        sealing.open_envelope(private_pem, envelope, "item:U2:aa")
    with pytest.raises(sealing.SealingError, match="sealed for key"):
        sealing.open_envelope(other_private, envelope, "item:U1:aa")
    for index in range(len(envelope)):
        with pytest.raises(sealing.SealingError):
            sealing.open_envelope(private_pem, flipped(envelope, index), "item:U1:aa")
    for length in range(len(envelope)):
        with pytest.raises(sealing.SealingError):
            sealing.open_envelope(private_pem, envelope[:length], "item:U1:aa")
    zero = envelope[:16] + bytes(32) + envelope[48:]
    with pytest.raises(sealing.SealingError, match="ephemeral key"):
        sealing.open_envelope(private_pem, zero, "item:U1:aa")
    # the key id does not depend on the PEM's line endings
    assert sealing.key_id(public_pem.replace(b"\n", b"\r\n")) == sealing.key_id(public_pem)


def test_cpp_and_python_open_each_others_envelopes(tmp_path):
    root = tmp_path
    python = root / "python"
    python.mkdir()
    private_pem, public_pem = sealing.new_key_pair()
    write(python / "private.pem", private_pem, 0o600)  # the C++ loader refuses wider modes
    write(python / "public.pem", public_pem)
    openable = {
        "empty": (b"", "item:U1:" + "0" * 64),
        "one": (b"x", "item:U1:" + "1" * 64),
        "large": (os.urandom(300000), "item:U2:" + "2" * 64),
        "fields": ('{"name": "Müller"}'.encode("utf-8"), "fields:U1"),
    }
    for name, (plaintext, context) in openable.items():
        write(python / (name + ".envelope"), sealing.seal_envelope(public_pem, plaintext, context))
        write(python / (name + ".context"), context)
        write(python / (name + ".plaintext"), plaintext)
    # and what the C++ must refuse: each with no .plaintext
    good = sealing.seal_envelope(public_pem, b"secret", "fields:U1")
    _, other_public = sealing.new_key_pair()
    refused = {
        "tampered": flipped(good, len(good) - 20),
        "tag": flipped(good, len(good) - 1),
        "truncated": good[:-1],
        "other-key": sealing.seal_envelope(other_public, b"secret", "fields:U1"),
        "not-an-envelope": b"secret",
    }
    for name, envelope in refused.items():
        write(python / (name + ".envelope"), envelope)
        write(python / (name + ".context"), "fields:U1")
    write(python / "other-context.envelope", good)
    write(python / "other-context.context", "fields:U2")

    run = subprocess.run([unit_tests_binary(), "--gtest_filter=SealingCrossCheck.*"],
                         env=dict(os.environ, INBOUND_SEALING_CROSSCHECK_DIR=str(root)),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "[  PASSED  ] 1 test" in run.stdout
    assert read(root / "python-opened") == str(len(openable)).encode()

    cpp = root / "cpp"
    cpp_private = read(cpp / "private.pem")
    assert os.stat(cpp / "private.pem").st_mode & 0o777 == 0o600
    assert sealing.key_id(read(cpp / "public.pem")) == read(cpp / "key-id").decode()
    assert sealing.public_pem_of(cpp_private) == read(cpp / "public.pem")
    opened = 0
    for entry in sorted(os.listdir(cpp)):
        if not entry.endswith(".envelope"):
            continue
        base = cpp / entry[:-len(".envelope")]
        envelope, context = read(cpp / entry), read(str(base) + ".context")
        assert sealing.read_key_id(envelope) == read(cpp / "key-id").decode()
        if os.path.exists(str(base) + ".plaintext"):
            assert sealing.open_envelope(cpp_private, envelope, context) == \
                read(str(base) + ".plaintext")
            opened += 1
            for index in (0, 8, 16, 48, len(envelope) - 17, len(envelope) - 1):
                with pytest.raises(sealing.SealingError):
                    sealing.open_envelope(cpp_private, flipped(envelope, index), context)
        else:
            with pytest.raises(sealing.SealingError, match="another context"):
                sealing.open_envelope(cpp_private, envelope, context)
    assert opened == 5
