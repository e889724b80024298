#!/usr/bin/python3
"""Reconciliation benchmark of Orthanc Inbound: the release copy and the candidates round.

Two real Orthanc 1.10.1 processes side by side, each serving only its own mode (so that its
VmHWM is that mode's peak): "plugin" (Standalone, Inbound.Reconciliation with a PACS and a
worklist) and "native" (no plugin, Orthanc's own authentication on), against the same real
DICOM peers, all on loopback: dcmqrscp as the hospital's PACS (--pacs-patients generated
patients), wlmscpfs as its worklist (--worklist scheduled procedures), and one storescp per
mode receiving the releases. Each Orthanc also holds --local-patients patients of its own.

1. The release copy: the benchmarks' CT study (--files instances) released under the
   hospital's identity to the storescp.
   plugin  POST /inbound/admin/uploads/{id}/release, until GET /inbound/admin/forwards says
           "done" (the plugin's copy: the stored file, DCMTK's coercion, POST /instances; then
           Orthanc's store job; the copy deleted after it);
   native  what an admin does with Orthanc alone (/studies/{id}/modify cannot change the
           PatientID): per instance POST /instances/{id}/modify (Replace PatientID,
           PatientName, PatientBirthDate; Keep the three UIDs; Force), POST /instances of the
           result, then POST /modalities/store/store of that study, until its job succeeds.
   Also timed: until the last instance is at the storescp. --repeats runs each, alternating
   which goes first; medians. Both Orthancs are restarted after the data is loaded, so that
   their VmHWM after the release runs is the release's peak.
2. The candidates round for one sent patient, with local + the PACS + the worklist:
   plugin  GET /inbound/admin/uploads/{id}/candidates?fresh=true (sources in parallel);
   native  the same queries one after another: POST /modalities/pacs/query + GET the answers +
           DELETE the query, POST /modalities/ris/find-worklist, POST /tools/find.
   --rounds rounds each, alternating, after one warm-up round each; medians. The records
   found are compared per source: both sides must have found the same.

This is a measurement, not a test: timings are never asserted. Exits non-zero when something
went wrong (an answer that is not 2xx, a forward or job that failed, an instance missing or
with another PatientID at the storescp, different records, a server dying).

Outputs: results/reconcile.json, results/reconcile.md (beside this script).
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (HERE, os.path.join(REPO, "IntegrationTests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import pydicom  # noqa: E402
import requests  # noqa: E402

import bench_study  # noqa: E402    Benchmarks: the generated CT study
import bench_support  # noqa: E402  Benchmarks: /proc readers, RSS sampler, plugin copy
import harness  # noqa: E402        IntegrationTests: Orthanc processes, the upload API
import pacs  # noqa: E402           IntegrationTests: storescp
import reconcile_data as rd  # noqa: E402  Benchmarks: the PACS, worklist, sent patient, queries
import reconcile_report  # noqa: E402  Benchmarks: this benchmark's medians, ratios and .md
import reconcile_support as rs  # noqa: E402  IntegrationTests: wlmscpfs, forwards()
from bench_support import ADMIN, BenchmarkError, check, proc_cpu_seconds, proc_status  # noqa: E402

MODES = ("plugin", "native")
HOSPITAL = {"id": "H-900001", "name": "Bench^Ingest^Hospital", "birthDate": "19600101"}
TIMEOUT_SECONDS = 5  # Reconciliation.TimeoutSeconds, and the native queries' Timeout
MAX_ANSWERS = 100    # Reconciliation.MaxAnswers (default)


def log(message):
    print("[reconcile %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def session_of(server):
    s = requests.Session()
    s.auth = ADMIN
    s.headers["X-Requested-With"] = "XMLHttpRequest"  # the plugin's admin-write rule
    # As curl asks: no compressed answers (Orthanc would deflate every file it answers, ~45 ms
    # of its CPU per 0.5 MB instance: the native copy's GET of the modified file).
    s.headers["Accept-Encoding"] = "identity"
    s.base = server.url
    return s


def call(session, method, path, what=None, **kwargs):
    kwargs.setdefault("timeout", 600)
    return check(session.request(method, session.base + path, **kwargs), what or method + " " + path)


# --------------------------------------------------------------------------- set-up

def start_servers(root, plugin, env):
    def modalities(mode):
        return {"pacs": env["pacs"].modality(), "ris": env["ris"].modality(),
                "store": env["store-" + mode].modality()}
    servers = {
        "plugin": harness.OrthancServer(plugin, startup_timeout=60, inbound={
            "Reconciliation": {"Sources": [{"Modality": "pacs", "Query": "Patient"},
                                           {"Modality": "ris", "Query": "Worklist"}],
                               "IssuerOfPatientID": "HOSP", "TimeoutSeconds": TIMEOUT_SECONDS,
                               "MaxAnswers": MAX_ANSWERS}},
            orthanc={"DicomModalities": modalities("plugin"), "DefaultEncoding": "Utf8"}),
        "native": harness.OrthancServer(None, startup_timeout=60, orthanc={
            "AuthenticationEnabled": True, "DicomModalities": modalities("native"),
            "DefaultEncoding": "Utf8"}),
    }
    for mode, server in servers.items():
        bench_support.relocate(server, root, mode).start()
        server.mode = mode
    return servers


def load(servers, files, locals_):
    """The CT and the local patients into both; the sent patient's upload into the plugin.
    Returns {"upload", "sentUpload", "study"} (untimed)."""
    plugin, native = servers["plugin"], servers["native"]
    upload = harness.Upload.open(plugin)
    for f in files:
        upload.put_ok(f["body"])
    upload.complete_ok()
    sent = harness.Upload.open(plugin)
    sent.put_ok(rd.sent_file(files[0]["body"]))
    sent.complete_ok()
    s = session_of(native)
    for f in files:
        call(s, "POST", "/instances", "POST /instances (native)", data=f["body"])
    for server in servers.values():
        for patient in locals_:
            rs.store_local_patient(server, patient)
    [study] = call(s, "POST", "/tools/find", json={"Level": "Study", "Query": {
        "PatientID": "BENCH-0001"}}).json()
    return {"upload": upload.id, "sentUpload": sent.id, "study": study}


def alive(server):
    if not server.running():
        raise BenchmarkError("the %s Orthanc died:\n%s" % (server.mode, server.log_tail(40)))


# --------------------------------------------------------------------------- 1. the release

MODIFY = {"Replace": {"PatientID": HOSPITAL["id"], "PatientName": HOSPITAL["name"],
                      "PatientBirthDate": HOSPITAL["birthDate"]},
          "Keep": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"], "Force": True}


def wait_done(done, store, count, start, what):
    """Polls "done" and the storescp's folder every 20 ms: (seconds until done, seconds until
    the last instance arrived)."""
    arrived = None
    deadline = time.perf_counter() + 600
    while time.perf_counter() < deadline:
        if arrived is None and len(os.listdir(store.folder)) >= count:
            arrived = time.perf_counter() - start
        if done():
            finished = time.perf_counter() - start
            if arrived is None and len(os.listdir(store.folder)) >= count:
                arrived = finished
            if arrived is None:
                raise BenchmarkError("%s done, but %d of %d instances at the storescp"
                                     % (what, len(os.listdir(store.folder)), count))
            return finished, arrived
        time.sleep(0.02)
    raise BenchmarkError("%s not done within 600 s" % what)


def release_plugin(server, s, data, store, count):
    path = "/inbound/admin/uploads/%s/release" % data["upload"]
    before = {f["id"] for f in rs.forwards(server, data["upload"])}
    start = time.perf_counter()
    r = s.post(s.base + path, timeout=600, json={"modality": "store", "patient": HOSPITAL})
    if r.status_code != 202:
        raise BenchmarkError("POST %s answered %d: %s" % (path, r.status_code, r.text[:500]))

    copied = []

    def done():
        new = [f for f in call(s, "GET", "/inbound/admin/forwards",
                               params={"upload": data["upload"]}).json()["forwards"]
               if f["id"] not in before]
        if new and (new[0]["lastError"] or new[0]["state"] == "failed"):
            raise BenchmarkError("the forward failed: %s" % json.dumps(new[0])[:500])
        if new and new[0]["state"] != "pending" and not copied:
            copied.append(time.perf_counter() - start)  # the copy is made, the job started
        return bool(new) and new[0]["state"] == "done"
    return wait_done(done, store, count, start, "the plugin's forward") + tuple(copied)


def release_native(server, s, data, store, count):
    start = time.perf_counter()
    instances = call(s, "GET", "/studies/%s/instances" % data["study"]).json()
    copies = set()
    for instance in instances:
        modified = call(s, "POST", "/instances/%s/modify" % instance["ID"], json=MODIFY)
        stored = call(s, "POST", "/instances", data=modified.content).json()
        if stored.get("Status") != "Success":
            raise BenchmarkError("POST /instances of a modified instance: %s" % stored)
        copies.add(stored["ParentStudy"])
    if len(copies) != 1:
        raise BenchmarkError("the modified instances make %d studies, not 1" % len(copies))
    data["copy"] = copies.pop()
    copied = time.perf_counter() - start
    job = call(s, "POST", "/modalities/store/store", json={
        "Resources": [data["copy"]], "Synchronous": False}).json()["ID"]

    def done():
        state = call(s, "GET", "/jobs/" + job).json()
        if state["State"] == "Failure":
            raise BenchmarkError("the store job failed: %s" % json.dumps(state)[:500])
        return state["State"] == "Success"
    return wait_done(done, store, count, start, "the native store job") + (copied,)


def check_received(store, sops, label):
    """Every instance of the study at the storescp, under the hospital's PatientID."""
    got = {}
    for name in os.listdir(store.folder):
        ds = pydicom.dcmread(os.path.join(store.folder, name), stop_before_pixels=True)
        got[ds.SOPInstanceUID] = ds.PatientID
    if set(got) != sops or set(got.values()) != {HOSPITAL["id"]}:
        raise BenchmarkError("%s: the storescp holds %d instances (%d of the study) with "
                             "PatientIDs %s" % (label, len(got), len(set(got) & sops),
                                                sorted(set(got.values()))[:5]))


def clean_release(mode, server, s, data, baseline, store):
    """Untimed: the native copy deleted; the plugin's deleted by the plugin; the storescp
    emptied."""
    if mode == "native":
        call(s, "DELETE", "/studies/" + data["copy"])
    deadline = time.time() + 60
    while call(s, "GET", "/statistics").json()["CountInstances"] != baseline:
        if time.time() > deadline:
            raise BenchmarkError("the %s Orthanc still holds the released copy" % mode)
        time.sleep(0.1)
    for name in os.listdir(store.folder):
        os.unlink(os.path.join(store.folder, name))


def measure_release(mode, server, s, data, store, files, baseline, label):
    alive(server)
    bench_support.settle()
    pid = server.process.pid
    before = proc_status(pid)
    cpu_before, busy_before, me_before = proc_cpu_seconds(pid), \
        bench_support.system_busy_seconds(), os.times()
    with bench_support.RssSampler(pid) as sampler:
        seconds, arrived, copied = (release_plugin if mode == "plugin" else release_native)(
            server, s, data, store, len(files))
    cpu = proc_cpu_seconds(pid) - cpu_before
    busy = bench_support.system_busy_seconds() - busy_before
    me_after = os.times()
    after = proc_status(pid)
    alive(server)
    check_received(store, data["sops"], label)
    clean_release(mode, server, s, data, baseline, store)
    client = (me_after.user + me_after.system) - (me_before.user + me_before.system)
    return {"label": label, "mode": mode, "instances": len(files), "seconds": seconds,
            "arrivedSeconds": arrived, "copySeconds": copied,
            "instancesPerSecond": len(files) / seconds,
            "arrivedInstancesPerSecond": len(files) / arrived,
            "orthancCpuSeconds": cpu, "orthancCpuMsPerInstance": 1000 * cpu / len(files),
            "clientCpuSeconds": client, "intervalSeconds": seconds,
            "otherCpuSeconds": max(0.0, busy - cpu - client),
            "rssKbBefore": before["VmRSS"], "rssKbAfter": after["VmRSS"],
            "rssKbPeakSampled": max(sampler.peak_kb, after["VmRSS"]),
            "hwmKbBefore": before["VmHWM"], "hwmKbAfter": after["VmHWM"]}


# --------------------------------------------------------------------------- 2. candidates

def round_plugin(s, data):
    path = "/inbound/admin/uploads/%s/candidates" % data["sentUpload"]
    start = time.perf_counter()
    answer = call(s, "GET", path, params={"fresh": "true"}).json()
    seconds = time.perf_counter() - start
    bad = [x for x in answer["sources"] if x["status"] != "answered" or x["truncated"]]
    if bad:
        raise BenchmarkError("candidates: sources not answered, or truncated: %s" % bad)
    [patient] = answer["patients"]
    if not patient["candidates"] or patient["candidates"][0]["patientId"] != rd.TRUE_ID:
        raise BenchmarkError("candidates: %s is not the first candidate: %s"
                             % (rd.TRUE_ID, json.dumps(patient["candidates"][:2])))
    return seconds, {x["source"]: x["records"] for x in answer["sources"]}, \
        {x["source"]: x["elapsedMs"] for x in answer["sources"]}


def identity(answer, source):
    keys = ("PatientID", "IssuerOfPatientID") + (
        ("AccessionNumber", "RequestedProcedureID") if source == "ris" else ())
    return tuple(answer.get(k, "") for k in keys)


def round_native(s, queries):
    found = {source: set() for source, _ in queries}
    start = time.perf_counter()
    for source, body in queries:
        if source == "pacs":
            query = call(s, "POST", "/modalities/pacs/query", json=body).json()["ID"]
            answers = call(s, "GET", "/queries/%s/answers?expand&simplify" % query).json()
            call(s, "DELETE", "/queries/" + query)
        elif source == "ris":
            answers = call(s, "POST", "/modalities/ris/find-worklist", json=body).json()
        else:
            answers = [a["MainDicomTags"] for a in call(s, "POST", "/tools/find", json=body).json()]
        found[source].update(identity(a, source) for a in answers[:MAX_ANSWERS] if a.get("PatientID"))
    seconds = time.perf_counter() - start
    return seconds, {source: len(ids) for source, ids in found.items()}


def measure_round(mode, server, s, data, queries, label):
    alive(server)
    pid = server.process.pid
    cpu_before = proc_cpu_seconds(pid)
    if mode == "plugin":
        seconds, records, elapsed = round_plugin(s, data)
    else:
        (seconds, records), elapsed = round_native(s, queries), None
    cpu = proc_cpu_seconds(pid) - cpu_before
    result = {"label": label, "mode": mode, "ms": 1000 * seconds, "records": records,
              "orthancCpuMs": 1000 * cpu, "queries": len(queries)}
    if elapsed:
        result["sourceElapsedMs"] = elapsed
    return result


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances of the released study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="releases per mode (5)")
    parser.add_argument("--rounds", type=int, default=15, help="candidates rounds per mode (15)")
    parser.add_argument("--pacs-patients", type=int, default=rd.MAX_PACS_PATIENTS,
                        help="patients in the PACS, one study each (%d, DCMTK's limit)"
                        % rd.MAX_PACS_PATIENTS)
    parser.add_argument("--worklist", type=int, default=300, help="worklist entries (300)")
    parser.add_argument("--local-patients", type=int, default=200,
                        help="patients stored in each Orthanc itself (200)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of reconcile.json/.md")
    parser.add_argument("--nagle", action="store_true",
                        help="leave DCMTK's TCP_NODELAY unset (Nagle's algorithm on: each DIMSE "
                             "message waits ~40 ms for a delayed ACK on loopback)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' folders and logs")
    args = parser.parse_args()
    if not args.nagle:
        # Every DCMTK process started from here (Orthanc, dcmqrscp, wlmscpfs, storescp) sends
        # each DIMSE message at once; else a C-STORE or C-FIND waits ~40 ms for the delayed ACK
        # of its command's first segment, in both modes alike.
        os.environ["TCP_NODELAY"] = "1"
    if not 200 <= args.pacs_patients <= rd.MAX_PACS_PATIENTS:
        parser.error("--pacs-patients: 200 to %d (dcmqrscp's index holds at most %d studies)"
                     % (rd.MAX_PACS_PATIENTS, rd.MAX_PACS_PATIENTS))
    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()

    dataset_folder, files = bench_study.load_dataset(args.files)
    root = tempfile.mkdtemp(prefix="reconcile-", dir=bench_support.WORK)
    env, servers, releases, rounds, memory = {}, {}, [], [], {}
    try:
        plugin, described = bench_support.snapshot_plugin(root)
        hospital = rd.hospital_patients(args.pacs_patients)
        t = time.time()
        env["pacs"] = rd.Pacs(os.path.join(root, "pacs"), hospital).start()
        env["ris"] = rs.Worklist(os.path.join(root, "ris"),
                                 rd.worklist_entries(hospital, args.worklist)).start()
        for mode in MODES:
            env["store-" + mode] = pacs.Pacs(os.path.join(root, "store-" + mode)).start()
        log("dcmqrscp with %d patients, wlmscpfs with %d entries, 2 storescp: %.1f s"
            % (len(hospital), args.worklist, time.time() - t))
        servers = start_servers(root, plugin, env)
        t = time.time()
        data = load(servers, files, rd.local_patients(args.local_patients))
        data["sops"] = {pydicom.dcmread(os.path.join(dataset_folder, f["name"]),
                                        stop_before_pixels=True).SOPInstanceUID for f in files}
        for server in servers.values():
            server.restart()  # VmHWM from here on: the release's peak
            memory[server.mode] = {"startKb": proc_status(server.process.pid)["VmRSS"]}
            log("%s Orthanc: pid %d, %s" % (server.mode, server.process.pid, server.url))
        log("loaded %d CT instances and %d local patients into both (%.1f s, untimed), restarted"
            % (len(files), args.local_patients, time.time() - t))
        machine = bench_support.describe_machine(root)
        machine["plugin"] = described
        machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]
        sessions = {mode: session_of(servers[mode]) for mode in MODES}
        baseline = {mode: call(sessions[mode], "GET", "/statistics").json()["CountInstances"]
                    for mode in MODES}
        machine["orthancVersion"] = call(sessions["native"], "GET", "/system").json()["Version"]

        for repeat in range(args.repeats):
            for mode in (MODES if repeat % 2 == 0 else MODES[::-1]):
                label = "release %s #%d" % (mode, repeat + 1)
                r = measure_release(mode, servers[mode], sessions[mode], data,
                                    env["store-" + mode], files, baseline[mode], label)
                releases.append(r)
                log("%-20s %5.2f s (copy made %5.2f s, at the storescp %5.2f s) %6.1f "
                    "instances/s  Orthanc CPU %5.2f ms/instance  RSS peak %4.0f MiB" % (
                        label, r["seconds"], r["copySeconds"], r["arrivedSeconds"],
                        r["instancesPerSecond"],
                        r["orthancCpuMsPerInstance"], r["rssKbPeakSampled"] / 1024))
        for mode in MODES:
            memory[mode]["releaseHwmKb"] = proc_status(servers[mode].process.pid)["VmHWM"]

        queries = rd.native_queries(TIMEOUT_SECONDS, MAX_ANSWERS)
        for mode in MODES:
            measure_round(mode, servers[mode], sessions[mode], data, queries, "warm-up")
        for n in range(args.rounds):
            for mode in (MODES if n % 2 == 0 else MODES[::-1]):
                rounds.append(measure_round(mode, servers[mode], sessions[mode], data, queries,
                                            "candidates %s #%d" % (mode, n + 1)))
        for n, r in enumerate(rounds):
            if r["records"] != rounds[0]["records"]:
                raise BenchmarkError("%s found %s, %s found %s: not the same queries" % (
                    rounds[0]["label"], rounds[0]["records"], r["label"], r["records"]))
        for mode in MODES:
            alive(servers[mode])
            memory[mode]["endHwmKb"] = proc_status(servers[mode].process.pid)["VmHWM"]
        configurations = {mode: s.configuration() for mode, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
        for part in env.values():
            part.stop()
        if args.keep:
            log("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)

    for c in configurations.values():  # no secrets in the results
        c["RegisteredUsers"] = {u: "***" for u in c.get("RegisteredUsers", {})}
        c.get("Inbound", {}).pop("Sealing", None)
    report = {
        "benchmark": "Orthanc Inbound reconciliation",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": sum(len(f["body"]) for f in files),
                    "modality": "CT", "pacsPatients": args.pacs_patients,
                    "worklistEntries": args.worklist, "localPatients": args.local_patients},
        "repeats": args.repeats, "rounds": args.rounds,
        "dcmtkTcpNoDelay": os.environ.get("TCP_NODELAY"),
        "hospitalIdentity": HOSPITAL, "nativeModify": MODIFY,
        "nativeQueries": [{"source": src, "body": body} for src, body in queries],
        "machine": machine, "orthancConfiguration": configurations,
        "summary": reconcile_report.summarize(releases, rounds, memory),
        "memory": memory, "runs": releases + rounds,
    }
    for line in reconcile_report.write(report, args.output):
        log(line)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchmarkError, harness.ServerError) as e:
        print("reconcile.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
