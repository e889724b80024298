"""Red team: the PostgreSQL ledger's lock held by another Orthanc (setting:
test_redteam_scaleout_ledger.py). A node hung or frozen inside a ledger transaction holds the
lock every Orthanc of the ledger takes: requests must still answer 503 within about 30 s, and
the server must end a frozen session (doc/Ledger.md; found by the red team, fixed in the
PostgreSQL connection and LedgerDatabase)."""

import os
import subprocess
import threading
import time

import requests

import conftest
import data
import harness
import postgres
from harness import Upload, assert_error
from test_redteam_scaleout_ledger import (PASSWORD, database, pg, running,  # noqa: F401
                                          standalone, wait_until)


def _advisory_key():
    """PostgresText::AdvisoryLockKey("inbound"): FNV-1a 64 of "orthanc-inbound-ledger:inbound",
    as a signed bigint."""
    h = 14695981039346656037
    for c in b"orthanc-inbound-ledger:inbound":
        h ^= c
        h = (h * 1099511628211) % (1 << 64)
    return h - (1 << 64) if h >= (1 << 63) else h


def test_a_ledger_lock_held_for_long_answers_503_within_the_statement_timeout(
        running, pg, database):
    """Another Orthanc hung inside a ledger transaction (here: psql holding the ledger's
    advisory lock for 75 s): every request waits at most about statement_timeout (30 s), then
    503 - also when several requests (and the background work) queue for the ledger at once:
    found: each waited for the ones before it to time out (44 s and
    more, HTTP threads piling up) - and the ledger works again once the lock is released."""
    upload = Upload.open(running)
    holder = subprocess.Popen(
        [os.path.join(pg.bin, "psql"), "-X", "-q", "-h", pg.workdir, "-p", str(pg.port),
         "-U", "postgres", "-d", database.name, "-c",
         "BEGIN; SELECT pg_advisory_xact_lock(%d); SELECT pg_sleep(75); COMMIT;"
         % _advisory_key()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    results = []

    def put():
        started = time.monotonic()
        try:
            r = upload.put(data.make_dicom(patient_id="RT-LOCK"))
            results.append((time.monotonic() - started, r.status_code, r.text[:200]))
        except Exception as e:
            results.append((time.monotonic() - started, None, repr(e)))

    try:
        time.sleep(1)
        threads = [threading.Thread(target=put) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(results) == 4, results
        for waited, status, text in results:
            assert status == 503 and "ledger-unavailable" in text, (waited, status, text)
            assert waited <= 40, results
    finally:
        # The server notices a gone client only after pg_sleep: end its session there.
        pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'"
                " AND application_name = 'psql'" % database.name)
        holder.terminate()
        holder.wait(10)
    r = wait_until("the ledger free", lambda: (lambda x: x if x.status_code != 503 else None)(
        upload.put(data.make_dicom(patient_id="RT-LOCK"))), timeout=60)
    assert r.status_code == 201, (r.status_code, r.text[:200])


# ----------------------------------------------------------------- a node frozen in a transaction


def test_a_node_frozen_inside_a_ledger_transaction_stalls_the_others_for_a_minute_at_most(
        plugin, pg):
    """Two Standalones on one PostgreSQL ledger. One is frozen (SIGSTOP: a paused VM, a host
    cut off the network) while PostgreSQL shows its session "idle in transaction", holding the
    ledger's lock: the other answers 503 meanwhile, and works again once the server has ended
    the frozen session (idle_in_transaction_session_timeout, found and fixed) -
    not after hours. Nothing the frozen one had begun is kept half."""
    import random
    import signal
    database = pg.create_database("redteam_frozen", "redteam_frozen", PASSWORD)
    section = postgres.LedgerDatabases.settings(database)
    options = dict(inbound={"Ledger": "PostgreSQL"}, orthanc={"PostgreSQL": section})
    frozen = conftest._start(plugin, **options)
    other = conftest._start(plugin, **options)
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                frozen.request("POST", "/inbound/api/uploads", json=harness.open_body(),
                               timeout=3)
            except Exception:
                pass

    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    stopped = False
    try:
        upload = Upload.open(other)
        for t in threads:
            t.start()
        rng = random.Random(7)
        for attempt in range(400):
            time.sleep(rng.uniform(0.01, 0.05))
            os.kill(frozen.process.pid, signal.SIGSTOP)
            stopped = True
            rows = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'"
                           " AND state = 'idle in transaction'" % database.name)
            if rows == [("1",)]:
                break
            os.kill(frozen.process.pid, signal.SIGCONT)
            stopped = False
        assert stopped, "never caught the Orthanc inside a transaction"
        started = time.monotonic()
        recovered = None
        while time.monotonic() - started < 150:
            try:
                r = other.request("GET", upload.path(), headers=upload.headers(), timeout=60)
            except requests.exceptions.RequestException:
                continue     # stalled: still waiting for the ledger
            if r.status_code == 200:
                recovered = time.monotonic() - started
                break
            assert_error(r, 503, "ledger-unavailable")
        assert recovered is not None, "the ledger stayed locked by the frozen Orthanc for 150 s"
        assert recovered <= 100, recovered
    finally:
        stop.set()
        if stopped:
            os.kill(frozen.process.pid, signal.SIGCONT)
        for t in threads:
            t.join(10)
        # The frozen one works again (its connection was ended: it connects anew).
        try:
            wait_until("the frozen Orthanc back", lambda: frozen.request(
                "GET", "/inbound/api/info", timeout=10).status_code == 200, timeout=60)
            Upload.open(frozen)
        finally:
            conftest._cleanup(frozen, check=True)
            conftest._cleanup(other, check=True)
