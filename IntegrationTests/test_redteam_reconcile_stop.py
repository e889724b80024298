"""Red team, reconciliation sources that do not behave (doc/Security.md): a PACS that answers a byte at a time, a hung one, a flood of rounds, Orthanc stopped while a query runs."""

import threading
import time

import pytest

import conftest
import harness
import reconcile_support as rs
from redteam_reconcile_support import TrickleProxy, craft, thread_count

TIMEOUT = 2


@pytest.fixture
def env(tmp_path):
    made = rs.Environment(str(tmp_path)).start()
    yield made
    made.stop()


def start_with_slow_pacs(start_server, env, delay, sources=("pacs", "slow", "hung")):
    """Orthanc asking the PACS straight ("pacs"), through a TrickleProxy ("slow") and the hung
    peer; the proxy is closed with the environment's other parts by the caller."""
    proxy = TrickleProxy(env.pacs.port, delay).start()
    server = start_server(**env.server_kwargs(
        sources=[(s, "Patient") for s in sources], TimeoutSeconds=TIMEOUT,
        orthanc={"DicomModalities": {"slow": proxy.modality(rs.PACS_AET)}}))
    return server, proxy


def jane(server):
    return rs.send(server, [craft(pid="EXT-555", name="DOE^JANE", birth="19700303", sex="F")])


def timed(server, upload_id):
    started = time.monotonic()
    answer = rs.candidates(server, upload_id, fresh=True)
    return answer, time.monotonic() - started


def settles(server, baseline, timeout=15.0):
    """Orthanc back to "baseline" threads and no query object left behind."""
    rs.wait_until("Orthanc's threads back to %d and no query left" % baseline, lambda: (
        thread_count(server) <= baseline and server.admin_json("GET", "/queries") == []),
        timeout)


def test_a_pacs_answering_a_byte_at_a_time_is_cut_at_the_deadline(start_server, env):
    server, proxy = start_with_slow_pacs(start_server, env, delay=0.5)
    try:
        upload = jane(server)
        baseline = thread_count(server)
        for _ in range(3):
            answer, elapsed = timed(server, upload.id)
            assert elapsed <= TIMEOUT + 1.5, elapsed
            status = {s["source"]: s["status"] for s in answer["sources"]}
            assert status == {"local": "answered", "pacs": "answered", "slow": "timeout",
                              "hung": "timeout"}, answer["sources"]
            assert answer["complete"] is False
            # The PACS asked straight still gives its candidates.
            best = rs.patient_of(answer, "EXT-555")["candidates"][0]
            assert (best["source"], best["patientId"], best["score"]) == ("pacs", "H1003", 100)
        settles(server, baseline)
    finally:
        proxy.close()


def test_parallel_rounds_hold_eight_queries_at_most_and_all_answer_in_time(start_server, env):
    server, proxy = start_with_slow_pacs(start_server, env, delay=0.5)
    try:
        uploads = [jane(server) for _ in range(6)]
        baseline = thread_count(server)
        results = []

        def ask(upload):
            started = time.monotonic()
            r = server.admin("GET", "/inbound/admin/uploads/%s/candidates" % upload.id,
                             params={"fresh": "true"})
            results.append((time.monotonic() - started, r))

        askers = [threading.Thread(target=ask, args=(u,)) for u in uploads for _ in range(5)]
        for t in askers:
            t.start()
        time.sleep(0.3)
        started = time.monotonic()
        assert server.admin_json("GET", "/system")["Version"] == "1.10.1"
        assert server.admin_json("GET", "/inbound/admin/uploads")["uploads"]
        assert time.monotonic() - started < 1.0  # the rounds hold no HTTP thread the pages need
        for t in askers:
            t.join(30)
        assert len(results) == 30
        busy = 0
        for elapsed, r in results:
            assert r.status_code == 200, r.text
            assert elapsed <= TIMEOUT + 1.5, elapsed
            for source in r.json()["sources"]:
                if source["status"] == "busy":
                    busy += 1
                    assert "too many queries" in source["message"], source
        assert busy > 0  # more than 8 sources at once: the rest are not asked
        settles(server, baseline)
        # Afterwards every source is asked again.
        answer, _ = timed(server, uploads[0].id)
        assert {s["source"]: s["status"] for s in answer["sources"]}["pacs"] == "answered"
    finally:
        proxy.close()


def ask_quietly(server, upload_id):
    """A round whose answer may never come (Orthanc stops meanwhile)."""
    try:
        server.request("GET", "/inbound/admin/uploads/%s/candidates" % upload_id,
                       auth=harness.ADMIN)
    except Exception:
        pass


def stops_cleanly(server, within):
    started = time.monotonic()
    server.stop_cleanly()  # exit code 0 on SIGTERM, not killed
    assert time.monotonic() - started < within
    log = server.log_tail(400)
    assert "terminate called" not in log and "lock_error" not in log, log


def test_orthanc_stops_cleanly_while_a_round_waits_for_a_hung_pacs(plugin, env):
    server = conftest._start(plugin, **env.server_kwargs(
        sources=[("pacs", "Patient"), ("hung", "Patient")], TimeoutSeconds=8))
    try:
        upload = jane(server)
        asking = threading.Thread(target=ask_quietly, args=(server, upload.id), daemon=True)
        asking.start()
        time.sleep(1)  # the round waits for the hung peer
        stops_cleanly(server, 15)
    finally:
        conftest._cleanup(server)


def test_orthanc_stops_cleanly_while_a_query_outlives_its_round(plugin, env):
    """The round answers at its deadline; the C-FIND of the slow PACS goes on in the
    background (Orthanc's Timeout is per network read). Stopping Orthanc then must wait for it
    (the PACS gives up 4 s later) and exit 0: never abort inside Orthanc's half-stopped core."""
    server, proxy = start_with_slow_pacs(lambda **kw: conftest._start(plugin, **kw), env,
                                         delay=0.02, sources=("slow",))
    try:
        upload = jane(server)
        baseline = thread_count(server)
        answer, elapsed = timed(server, upload.id)
        assert elapsed <= TIMEOUT + 1.5, elapsed
        assert rs.source_of(answer, "slow")["status"] == "timeout", answer["sources"]
        assert thread_count(server) > baseline  # the query still runs
        gives_up = threading.Timer(4, proxy.close)
        gives_up.start()
        try:
            stops_cleanly(server, 15)
        finally:
            gives_up.join()
    finally:
        proxy.close()
        conftest._cleanup(server)
