"""Red team: the ledger in PostgreSQL (doc/Ledger.md, "Two databases"; doc/Operations.md,
"Scale-out"), from real parts: a PostgreSQL 15 server of this module's own (postgres.py), so
that it can be stopped and slowed down, and a Standalone Orthanc keeping its ledger there
(Orthanc's own index stays SQLite).

Adversaries: a malicious sender (text with NUL, invalid UTF-8 and long values where the open
and the headers take text, overlong DICOM UIDs that PostgreSQL's indexes cannot hold), the
loss of PostgreSQL in the middle of an upload (503 ledger-unavailable, nothing half kept,
nothing lost, bans still enforced and no one else banned), and the operator's password with
blanks, quotes and backslashes (connects, never logged). A lock held by a hung node:
test_redteam_scaleout_ledger_findings.py."""

import os
import time

import pytest

import conftest
import data
import harness
import postgres
from harness import Upload, assert_error, sha256

# Blanks, both quotes and backslashes: libpq's key=value syntax must get it whole.
PASSWORD = "a p\\w'd \"with\" \\' all\\\\ of it "
BANNED = "203.0.113.7"
CONFIGURED_BAN = "198.18.0.0/16"


def xff(address):
    return {"X-Forwarded-For": address}


@pytest.fixture(scope="module")
def pg():
    problems = postgres.missing_packages()
    if problems:
        pytest.fail("PostgreSQL is not installed:\n  " + "\n  ".join(problems), pytrace=False)
    server = postgres.PostgreSQL()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def database(pg):
    return pg.create_database("redteam_ledger", "redteam_owner", PASSWORD)


@pytest.fixture(scope="module")
def standalone(plugin, pg, database):
    section = postgres.LedgerDatabases.settings(database)
    s = conftest._start(plugin, inbound={"Ledger": "PostgreSQL",
                                         "TrustedProxies": ["127.0.0.1"],
                                         "Bans": [CONFIGURED_BAN]},
                        orthanc={"PostgreSQL": section})
    yield s
    if not pg.running():
        pg.start()
    conftest._cleanup(s, check=True)


@pytest.fixture
def running(pg, standalone):
    """Each test starts and ends with PostgreSQL up."""
    if not pg.running():
        pg.start()
    yield standalone
    if not pg.running():
        pg.start()


def ledger_rows(database, sql):
    return database.query(sql)


def log_of(server):
    with open(server.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def wait_until(what, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.2)


# ----------------------------------------------------------------- connection string, password


def test_a_password_with_blanks_quotes_and_backslashes_connects_and_is_never_logged(
        running, database):
    upload = Upload.open(running)
    rows = ledger_rows(database, "SELECT state FROM inbound.uploads WHERE id = '%s'" % upload.id)
    assert rows == [("open",)], rows
    assert not os.path.exists(os.path.join(running.workdir, "ledger.sqlite"))
    text = log_of(running)
    assert "PostgreSQL" in text
    for secret in (PASSWORD, PASSWORD.strip(), "p\\w'd", "with\" \\'", "password="):
        assert secret not in text, "the log holds %r" % secret


# ----------------------------------------------------------------- a malicious sender's text


def test_nul_and_invalid_utf8_in_the_senders_text_are_refused_or_kept_readable(
        running, database):
    """JSON text with NUL or lone surrogates, and a User-Agent of raw bytes 0x80-0xFF: a
    clear 4xx, or an upload whose record reads back as UTF-8 (U+FFFD for what PostgreSQL
    cannot hold, doc/Ledger.md) - never a 500, never a failed transaction."""
    for field, value in (("name", "Dr. \u0000 Null"), ("institution", "Clinic \ud800 surrogate"),
                         ("phone", "+49\u0000")):
        body = harness.open_body(sender=harness.sender(**{field: value}))
        r = running.request("POST", "/inbound/api/uploads", json=body)
        assert 400 <= r.status_code < 500 or r.status_code == 201, (field, r.status_code, r.text)
        if r.status_code != 201:
            assert r.json()["error"], r.text
    r = running.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                        headers={"User-Agent": "Mozilla/5.0 \xff\xfe\x80 \xc3( evil"})
    assert r.status_code == 201, (r.status_code, r.text)
    upload_id = r.json()["id"]
    shown = running.admin_upload(upload_id)
    assert shown["id"] == upload_id
    stored = ledger_rows(database, "SELECT user_agent FROM inbound.uploads WHERE id = '%s'"
                         % upload_id)[0][0]
    assert "Mozilla/5.0" in stored and "evil" in stored, stored


def test_the_longest_texts_an_open_accepts_are_kept_whole(running, database):
    """The message at its limit, in 4-byte characters: what SQLite keeps,
    PostgreSQL keeps (no index on them; nothing truncated)."""
    for count in (5000, 2000, 1000, 500, 250, 100):   # the longest the open accepts
        message = "\U0001F9E0 \u00e9" * count
        r = running.request("POST", "/inbound/api/uploads",
                            json=harness.open_body(message=message))
        if r.status_code not in (400, 413):
            break
    assert r.status_code == 201, (r.status_code, r.text[:300])
    upload_id = r.json()["id"]
    stored = ledger_rows(database, "SELECT message FROM inbound.uploads WHERE id = '%s'"
                         % upload_id)[0][0]
    assert stored == message


# ----------------------------------------------------------------- PostgreSQL away


def test_postgresql_stopped_mid_upload_answers_503_keeps_bans_and_loses_nothing(
        running, pg, database):
    ban = running.admin("POST", "/inbound/admin/bans",
                        json={"entry": BANNED, "reason": "red team"})
    assert ban.status_code == 201, ban.text
    time.sleep(4)  # past one re-read of the bans (every 3 s on PostgreSQL)
    upload = Upload.open(running)
    first = data.make_dicom(patient_id="RT-PG-1")
    second = data.make_dicom(patient_id="RT-PG-1")
    third = data.make_dicom(patient_id="RT-PG-1")     # sent only while PostgreSQL is away
    assert upload.put(first).status_code == 201

    pg.stop()
    try:
        r = upload.put(second)
        assert_error(r, 503, "ledger-unavailable")
        assert r.headers.get("Retry-After") == "5"
        status = upload.status()     # may be answered from memory; never a 5xx but 503
        assert status.status_code in (200, 503), (status.status_code, status.text[:200])
        assert_error(upload.complete(), 503, "ledger-unavailable")
        # A client nobody banned is told to come back, not refused...
        r = running.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                            headers=xff("192.0.2.10"))
        assert_error(r, 503, "ledger-unavailable")
        # ... and the banned ones stay banned (configured and from the ledger).
        for address in (BANNED, "198.18.4.4"):
            r = running.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                                headers=xff(address))
            assert r.status_code == 403, (address, r.status_code, r.text[:200])
        assert_error(upload.put(third), 503, "ledger-unavailable")
        time.sleep(4)  # a failed re-read of the bans must not lift them
        r = running.request("GET", "/inbound/api/info", headers=xff(BANNED))
        assert r.status_code == 403, r.status_code
    finally:
        pg.start()

    # Back: the same requests succeed, once each.
    r = wait_until("the ledger back", lambda: (lambda x: x if x.status_code != 503 else None)(
        upload.put(second)))
    assert r.status_code == 201, (r.status_code, r.text[:300])
    assert upload.complete().status_code == 200
    # Exactly what the ledger recorded is in Orthanc: nothing of the refused third file.
    assert len(running.instances_of_upload(upload.id)) == 2
    assert ledger_rows(database, "SELECT count(*) FROM inbound.items WHERE sha256 = '%s'"
                       % sha256(third)) == [("0",)]
    rows = ledger_rows(database, "SELECT count(*) FROM inbound.items WHERE upload_id = '%s'"
                       % upload.id)
    assert rows == [("2",)], rows
    r = running.request("GET", "/inbound/api/info", headers=xff(BANNED))
    assert r.status_code == 403
    assert running.admin("DELETE", "/inbound/admin/bans/%s" % BANNED).status_code == 200


# ----------------------------------------------------------------- overlong UIDs


def overlong_uid_file(attribute, length=9000):
    """A small valid file whose "attribute" (a UID) is "length" characters of digits and dots
    (UI allows 64): random enough that PostgreSQL cannot compress it into an index entry."""
    import io
    import random
    import pydicom
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id="RT-UID")))
    rng = random.Random(attribute)
    if attribute == "PatientID":     # PatientStore keys Isolation by its raw bytes (BYTEA)
        uid = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") for _ in range(length))
    else:
        uid = "1.2." + "".join(rng.choice("0123456789") for _ in range(length - 4))
    setattr(ds, attribute, uid)
    overlong_uid_file.last_uid = uid
    if attribute == "SOPInstanceUID":
        ds.file_meta.MediaStorageSOPInstanceUID = uid
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


OVERLONG = [65, 2600, 2700, 2800, 3000, 9000]


@pytest.mark.parametrize("length", OVERLONG)
@pytest.mark.parametrize("attribute", ["SOPInstanceUID", "StudyInstanceUID"])
def test_an_overlong_uid_is_kept_whole_or_refused_leaving_nothing(running, database,
                                                                 attribute, length):
    """The ledger indexes items by (upload, SOP UID) and (upload, Study UID), and PostgreSQL
    cannot index a text of a few KiB: whatever Orthanc accepts, the ledger records whole; what
    Orthanc refuses leaves nothing in either; the upload goes on."""
    check_overlong(running, database, attribute, length)


@pytest.mark.parametrize("length", OVERLONG)
def test_an_overlong_patient_id_is_refused_leaving_nothing(running, database, length):
    """FOUND and fixed (lead, 30eeb53): PatientStore keys Isolation by the raw PatientID in a BYTEA
    primary key; from about 2.7 KB PostgreSQL cannot index it ("index row requires 9032 bytes,
    maximum size is 8191"), and a sender's file with such a PatientID got 500 internal-error
    (SQLite took it). Expected: refused as invalid DICOM before the ledger (or kept whole),
    nothing left behind, the upload goes on."""
    check_overlong(running, database, "PatientID", length)


def check_overlong(running, database, attribute, length):
    upload = Upload.open(running)
    body = overlong_uid_file(attribute, length)
    r = upload.put(body)
    uid = overlong_uid_file.last_uid
    if r.status_code in (200, 201):
        column = {"SOPInstanceUID": "sop_uid", "StudyInstanceUID": "study_uid",
                  "PatientID": "original_patient_id"}[attribute]
        rows = ledger_rows(database, "SELECT %s FROM inbound.items WHERE upload_id = '%s'"
                           % (column, upload.id))
        assert rows == [(uid,)], (len(rows), [len(x[0]) for x in rows])
        assert len(running.instances_of_upload(upload.id)) == 1
    else:
        assert r.status_code in (400, 422, 500), (r.status_code, r.text[:200])
        assert r.json()["error"] in ("invalid-dicom", "store-failed"), r.text[:200]
        assert running.instances_of_upload(upload.id) == {}
        assert ledger_rows(database, "SELECT count(*) FROM inbound.items WHERE upload_id = "
                           "'%s'" % upload.id) == [("0",)]
    assert upload.put(data.make_dicom(patient_id="RT-UID")).status_code == 201
    assert upload.complete().status_code == 200
