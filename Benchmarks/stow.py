#!/usr/bin/python3
"""STOW-RS benchmark of Orthanc Inbound: a partner clinic's Orthanc sends a study over DICOMweb.

How fast, with how much CPU and memory, does Inbound's partner route receive the 300-instance CT
study of the other benchmarks, against a native Orthanc with the DICOMweb plugin's own STOW-RS?

Set-up, all on loopback, Debian's Orthanc 1.10.1 and DICOMweb plugin 1.7:
  sender   one clinic Orthanc started from Resources/Configurations/Partner.json
           (IntegrationTests/partner_support.py's PartnerSender, without Lua and DICOM port: the
           benchmark starts each transfer itself), holding the study (POST /instances, untimed);
           one DicomWeb server entry per receiver and transfer, each the sample's "hospital"
           entry (Timeout 3600) with its own Url, credentials and ChunkedTransfers;
  native   Orthanc with the DICOMweb plugin as Debian ships it, its authentication on: the entry
           Url is its /dicom-web/, with the admin's user name and password;
  inbound  Orthanc with the plugin, Role Standalone, one partner whose token's SHA-256 is
           configured (PartnerLimits as shipped): the entry Url is /inbound/dicom-web/ with
           "Authorization: Bearer <token>"; every part goes through the partner intake (checks,
           isolation, Orthanc's store, the ledger);
  gateway  the same on a Gateway with sealing (the files are sealed and staged, not stored in
           Orthanc): the DMZ half of the hospital's pair.
Each receiver is its own process, and each mode gets a fresh set of receivers, so that each
process's VmHWM at the end is that receiver's peak for that mode. A mode is a transfer
("chunked": Transfer-Encoding chunked, the sample's setting; "unchunked": ChunkedTransfers
false, one body with Content-Length) and the receivers' storage cache: Orthanc's default
(128 MB), and off (MaximumStorageCacheSize 0; native and inbound only), which leaves the peak
of the STOW-RS path alone. Per mode: a warm-up of 10 instances per receiver (not reported), then the repeats, the order
of the receivers rotating each round. Each run is POST /dicom-web/servers/<entry>/stow
{"Resources": [study], "Synchronous": true} on the sender, timed on the wire (stow_wire.py: from
the first byte of the STOW-RS request to the first byte of the receiver's answer, read from the
loopback interface; the sender's own answer comes up to 0.5 s later, its job looking at its
worker every 500 ms). Checked after every run: the sender's job reports
300 instances, native holds 300 instances; inbound holds 300 instances and one new partner
upload of 300 files; the gateway staged 300 sealed envelopes for one new upload. Then the run's
data is deleted (native: DELETE /patients; Inbound: DELETE /inbound/admin/uploads/{id}), so
that every run is a fresh store, not "already stored".

This is a measurement, not a test: timings are never asserted. Exits non-zero when something
went wrong (an answer that is not 2xx, a job that failed, an instance missing, a server dying).

Outputs: results/stow.json, results/stow.md, results/stow.png (beside this script).
"""

import argparse
import collections
import datetime
import glob
import hashlib
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

import requests  # noqa: E402

import bench_study  # noqa: E402    Benchmarks: the generated CT study
import bench_support  # noqa: E402  Benchmarks: /proc readers, RSS sampler, machine, plugin copy
import harness  # noqa: E402    IntegrationTests: Orthanc processes
import partner_support  # noqa: E402  IntegrationTests: the clinic's Orthanc from Partner.json
import stow_report  # noqa: E402  Benchmarks: this benchmark's medians, ratios, .md and .png
import stow_wire  # noqa: E402    Benchmarks: a request's time on the wire (loopback)
from bench_support import ADMIN, MB, BenchmarkError  # noqa: E402

TOKEN = "bEnCh-Stow_4t7Kq9LmV2xR8pZ3wY6nH1cJ5dF0gS-aQ"
PARTNER = {"Id": "bench-clinic", "Name": "Bench Clinic", "Institution": "Bench Clinic",
           "TokenSha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
           "Recipient": harness.RECIPIENTS[0]["Id"]}
RECEIVERS = ("native", "inbound", "gateway")
TRANSFERS = ("chunked", "unchunked")
ENVELOPE_MAGIC = b"INBSEAL1"  # the first bytes of every sealed file (doc/Security.md)


def log(message):
    print("[stow %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------- the Orthancs

relocate = bench_support.relocate  # a harness server's folders under the run's directory


class Sender(partner_support.PartnerSender):
    """The clinic's Orthanc from the shipped sample; no Lua (the benchmark starts each transfer)
    and no DICOM port (the study comes in by REST)."""

    def configuration(self):
        config = super().configuration()
        config.update({"LuaScripts": [], "DicomServerEnabled": False})
        return config

    def entry(self, name, url, chunked, headers=None, auth=None):
        """Adds the DicomWeb server "name": the sample's "hospital" entry with its own Url,
        credentials and ChunkedTransfers."""
        sample = dict(self.configuration()["DicomWeb"]["Servers"]["hospital"])
        sample.update({"Url": url, "ChunkedTransfers": chunked, "HttpHeaders": headers or {}})
        if auth:
            sample.update({"Username": auth[0], "Password": auth[1]})
        bench_support.check(self.admin("PUT", "/dicom-web/servers/" + name, json=sample),
                            "PUT /dicom-web/servers/" + name)


def receiver(kind, workdir, plugin, storage_cache=None):
    """A receiver; "storage_cache": Orthanc's MaximumStorageCacheSize (MB), None: Orthanc's
    default (128)."""
    if kind == "native":
        server = harness.OrthancServer(None, orthanc={
            "AuthenticationEnabled": True, "Plugins": [partner_support.DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}, startup_timeout=60)
    else:
        server = harness.OrthancServer(plugin, inbound={
            "Role": "Standalone" if kind == "inbound" else "Gateway",
            "Partners": [PARTNER],
            # The memory admission as shipped (the harness lifts it for the tests).
            "Limits": {"MaxBytesInFlight": 4294967296}}, startup_timeout=60)
    server.kind = kind
    if storage_cache is not None:
        server.orthanc_overrides["MaximumStorageCacheSize"] = storage_cache
    return relocate(server, workdir, kind)


class Mode(collections.namedtuple("Mode", "transfer cache")):
    """A row of the report: how the sender sends ("chunked" or "unchunked") and the receivers'
    MaximumStorageCacheSize (None: Orthanc's default, 128 MB)."""

    @property
    def name(self):
        if self.cache is None:
            return self.transfer
        return "%s, %s" % (self.transfer, "storage cache off" if self.cache == 0
                           else "storage cache %d MB" % self.cache)

    @property
    def slug(self):
        return self.transfer + ("" if self.cache is None else "-cache%d" % self.cache)


def entry_of(kind, mode):
    return "%s-%s" % (kind, mode.slug)


def add_entries(sender, servers, mode):
    chunked = mode.transfer == "chunked"
    for kind, server in servers.items():
        if kind == "native":
            sender.entry(entry_of(kind, mode), server.url + "/dicom-web/", chunked, auth=ADMIN)
        else:
            sender.entry(entry_of(kind, mode), server.url + "/inbound/dicom-web/", chunked,
                         headers={"Authorization": "Bearer " + TOKEN})


def alive(server):
    if not server.running():
        raise BenchmarkError("the %s Orthanc died:\n%s" % (server.name, server.log_tail(40)))


def get_json(server, path):
    return bench_support.check(server.admin("GET", path), "GET %s (%s)" % (path, server.name)).json()


# --------------------------------------------------------------------------- what arrived

def uploads(server):
    return [u for u in get_json(server, "/inbound/admin/uploads?limit=1000")["uploads"]
            if u.get("state") != "deleted"]


def staged_files(server, upload_id):
    folders = glob.glob(os.path.join(server.storage, "**", "staging", upload_id), recursive=True)
    return [p for d in folders for p in glob.glob(os.path.join(d, "*")) if os.path.isfile(p)]


def check_arrived(server, count, seen, label):
    """That the receiver holds the study of this run, as a fresh store; returns the upload's id
    (None for native)."""
    stats = get_json(server, "/statistics")
    stored = 0 if server.kind == "gateway" else count
    if stats["CountInstances"] != stored:
        raise BenchmarkError("%s: the %s Orthanc holds %d instances, not %d" % (
            label, server.name, stats["CountInstances"], stored))
    if server.kind == "native":
        return None
    found = uploads(server)
    if len(found) != 1 or found[0]["id"] in seen or found[0]["files"] != count:
        raise BenchmarkError("%s: the %s Orthanc has these uploads, not one new one of %d files: "
                             "%s" % (label, server.name, count, json.dumps(found)[:800]))
    upload = found[0]
    if server.kind == "gateway":
        staged = staged_files(server, upload["id"])
        for path in staged:
            with open(path, "rb") as f:
                if f.read(len(ENVELOPE_MAGIC)) != ENVELOPE_MAGIC:
                    raise BenchmarkError("%s: %s is not a sealed envelope" % (label, path))
        if len(staged) != count:
            raise BenchmarkError("%s: the gateway staged %d files, not %d" % (label, len(staged), count))
    seen.add(upload["id"])
    return upload["id"]


def clean(server, upload_id):
    """Deletes what a run stored (untimed), and checks that nothing is left."""
    if server.kind == "native":
        bench_support.delete_everything(server)
        return
    bench_support.check(server.admin("DELETE", "/inbound/admin/uploads/" + upload_id),
                        "DELETE /inbound/admin/uploads/%s (%s)" % (upload_id, server.name))
    left = get_json(server, "/statistics")["CountInstances"]
    if left or uploads(server) or (server.kind == "gateway" and staged_files(server, upload_id)):
        raise BenchmarkError("the %s Orthanc keeps %d instances or an upload after DELETE"
                             % (server.name, left))


# --------------------------------------------------------------------------- one run

def stow(sender, entry, resources, expected):
    r = sender.admin("POST", "/dicom-web/servers/%s/stow" % entry, timeout=3600,
                     json={"Resources": resources, "Synchronous": True})
    if not 200 <= r.status_code < 300:  # the job failed: its error says why
        failed = [j for j in get_json(sender, "/jobs?expand") if j.get("State") == "Failure"]
        raise BenchmarkError("the STOW-RS job to %s failed (HTTP %d): %s\n%s" % (
            entry, r.status_code, json.dumps({k: failed[-1].get(k) for k in (
                "ErrorCode", "ErrorDescription", "ErrorDetails")}) if failed else r.text[:300],
            sender.log_tail(6)))
    answer = r.json()
    if str(answer.get("InstancesCount")) != str(expected):
        raise BenchmarkError("the STOW-RS job to %s answered %s, not %d instances"
                             % (entry, json.dumps(answer)[:300], expected))
    return answer


def measure(sender, server, mode, study, files, seen, label):
    alive(server)
    bench_support.settle()
    pid, sender_pid = server.process.pid, sender.process.pid
    total = sum(len(f["body"]) for f in files)
    before = bench_support.proc_status(pid)
    load_before = os.getloadavg()[0]
    busy_before = bench_support.system_busy_seconds()
    cpu_before = bench_support.proc_cpu_seconds(pid)
    sender_before = bench_support.proc_cpu_seconds(sender_pid)
    me_before = os.times()
    with bench_support.RssSampler(pid) as sampler, stow_wire.WireTimer(server.port) as wire:
        start = time.perf_counter()
        stow(sender, entry_of(server.kind, mode), [study], len(files))
        job = time.perf_counter() - start
    wall = wire.seconds()
    if wire.request_bytes < total:
        raise BenchmarkError("%s: %d bytes sent to the receiver, less than the study's %d"
                             % (label, wire.request_bytes, total))
    me_after = os.times()
    cpu = bench_support.proc_cpu_seconds(pid) - cpu_before
    sender_cpu = bench_support.proc_cpu_seconds(sender_pid) - sender_before
    busy = bench_support.system_busy_seconds() - busy_before
    after = bench_support.proc_status(pid)
    alive(server)
    upload_id = check_arrived(server, len(files), seen, label)
    client = (me_after.user + me_after.system) - (me_before.user + me_before.system)
    result = {
        "label": label, "receiver": server.kind, "mode": mode.name, "transfer": mode.transfer,
        "storageCacheMB": mode.cache, "files": len(files),
        "bytes": total, "seconds": wall, "mbPerSecond": total / MB / wall,
        # The CPU figures cover the job's whole interval (the wire's and up to 0.5 s more).
        "jobSeconds": job, "intervalSeconds": job, "requestBytes": wire.request_bytes,
        "receiverCpuSeconds": cpu, "receiverCpuMsPerInstance": 1000 * cpu / len(files),
        "senderCpuSeconds": sender_cpu, "senderCpuMsPerInstance": 1000 * sender_cpu / len(files),
        "clientCpuSeconds": client,
        # Everything else on the machine meanwhile (the other receivers idle): competing work
        # makes a run slower.
        "otherCpuSeconds": max(0.0, busy - cpu - sender_cpu - client),
        "loadAverageBefore": load_before,
        "rssKbBefore": before["VmRSS"], "rssKbAfter": after["VmRSS"],
        "rssKbPeakSampled": max(sampler.peak_kb, after["VmRSS"]),
        "hwmKbBefore": before["VmHWM"], "hwmKbAfter": after["VmHWM"],
        "uploadId": upload_id,
    }
    clean(server, upload_id)
    return result


# --------------------------------------------------------------------------- main

def load_study(sender, files):
    session = requests.Session()
    session.auth = ADMIN
    for f in files:
        bench_support.check(session.post(sender.url + "/instances", data=f["body"], timeout=120),
                            "POST /instances (sender, %s)" % f["name"])
    studies = get_json(sender, "/studies")
    if len(studies) != 1:
        raise BenchmarkError("the sender holds %d studies, not 1" % len(studies))
    instances = get_json(sender, "/studies/%s/instances" % studies[0])
    if len(instances) != len(files):
        raise BenchmarkError("the sender holds %d instances, not %d" % (len(instances), len(files)))
    return studies[0], sorted(i["ID"] for i in instances)


def run_mode(sender, mode, kinds, root, plugin, study, instances, files, repeats, runs):
    """A fresh receiver per kind, warm-up, the repeats; returns ({kind: end-of-mode memory},
    {kind: configuration})."""
    servers = {kind: receiver(kind, os.path.join(root, mode.slug), plugin, mode.cache)
               for kind in kinds}
    seen = set()
    memory = {}
    try:
        for server in servers.values():
            server.start()
            memory[server.kind] = {"startKb": bench_support.proc_status(server.process.pid)["VmRSS"]}
            log("%s receiver (%s): pid %d, %s" % (server.kind, mode.name, server.process.pid,
                                                 server.url))
        add_entries(sender, servers, mode)
        warm = files[:10]
        for server in servers.values():
            stow(sender, entry_of(server.kind, mode), instances[:len(warm)], len(warm))
            clean(server, check_arrived(server, len(warm), seen, "warm-up " + server.kind))
        for repeat in range(repeats):
            order = list(kinds[repeat % len(kinds):]) + list(kinds[:repeat % len(kinds)])
            for kind in order:
                label = "%s, %s, #%d" % (kind, mode.name, repeat + 1)
                r = measure(sender, servers[kind], mode, study, files, seen, label)
                r["repeat"] = repeat + 1
                runs.append(r)
                log("%-26s %5.2f s %6.1f MB/s  receiver CPU %5.2f ms/instance  sender CPU %5.2f  "
                    "other CPU %4.2f s  RSS peak %4.0f MiB" % (
                        label, r["seconds"], r["mbPerSecond"], r["receiverCpuMsPerInstance"],
                        r["senderCpuMsPerInstance"], r["otherCpuSeconds"],
                        r["rssKbPeakSampled"] / 1024))
        for server in servers.values():
            alive(server)
            end = bench_support.proc_status(server.process.pid)
            memory[server.kind].update({"endKb": end["VmRSS"], "hwmKb": end["VmHWM"]})
        configurations = {kind: s.configuration() for kind, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    return memory, configurations


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per receiver and mode (5)")
    parser.add_argument("--receivers", default=",".join(RECEIVERS),
                        help="of native,inbound,gateway (all three)")
    parser.add_argument("--transfers", default=",".join(TRANSFERS),
                        help="of chunked,unchunked (both)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of stow.json/.md/.png")
    parser.add_argument("--storage-caches", default="default,0", metavar="LIST",
                        help="Orthanc's MaximumStorageCacheSize of the receivers, one pass each "
                             "(MB, or \"default\": Orthanc's 128 MB; default: \"default,0\"; the "
                             "gateway, which stores nothing in Orthanc, only in the default pass)")
    parser.add_argument("--keep", action="store_true", help="keep the Orthancs' folders and logs")
    args = parser.parse_args()
    kinds = [k for k in RECEIVERS if k in args.receivers.split(",")]
    transfers = [t for t in TRANSFERS if t in args.transfers.split(",")]
    if not kinds or not transfers or len(kinds) != len(args.receivers.split(",")) or \
            len(transfers) != len(args.transfers.split(",")):
        parser.error("--receivers: of %s; --transfers: of %s" % (RECEIVERS, TRANSFERS))
    try:
        caches = [None if c == "default" else int(c) for c in args.storage_caches.split(",")]
    except ValueError:
        parser.error("--storage-caches: a list of \"default\" or numbers of MB")
    modes = [Mode(t, c) for c in caches for t in transfers]
    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()

    _, files = bench_study.load_dataset(args.files)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB; receivers %s; modes %s; %d repeats" % (
        len(files), total / MB, ", ".join(kinds), "; ".join(m.name for m in modes), args.repeats))
    root = tempfile.mkdtemp(prefix="stow-", dir=bench_support.WORK)
    runs, memory, configurations = [], {}, {}
    sender = None
    try:
        plugin, described = bench_support.snapshot_plugin(root)
        sender = relocate(Sender("http://127.0.0.1:1/unused/"), root, "sender")
        sender.startup_timeout = 60
        sender.start()
        log("sender: pid %d, %s" % (sender.process.pid, sender.url))
        study, instances = load_study(sender, files)
        machine = bench_support.describe_machine(root)
        machine["orthancVersion"] = get_json(sender, "/system").get("Version")
        machine["dicomWebPlugin"] = os.path.realpath(partner_support.DICOMWEB_PLUGIN)
        machine["plugin"] = described
        machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]
        for mode in modes:
            mode_kinds = [k for k in kinds if mode.cache is None or k != "gateway"] or kinds
            memory[mode.name], configurations[mode.name] = run_mode(
                sender, mode, mode_kinds, root, plugin, study, instances, files, args.repeats, runs)
        alive(sender)
    finally:
        if sender is not None:
            sender.stop()
        if args.keep:
            log("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)

    report = {
        "benchmark": "Orthanc Inbound partner STOW-RS",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": total, "modality": "CT"},
        "repeats": args.repeats, "receivers": kinds, "transfers": transfers,
        "modes": [{"name": m.name, "transfer": m.transfer, "storageCacheMB": m.cache}
                  for m in modes],
        "machine": machine,
        "summary": stow_report.summarize(runs, memory, kinds, [m.name for m in modes]),
        "memory": memory,
        "runs": runs,
    }
    for by_kind in configurations.values():  # no secrets in the results
        for c in by_kind.values():
            c["RegisteredUsers"] = {u: "***" for u in c.get("RegisteredUsers", {})}
            for p in c.get("Inbound", {}).get("Partners", []):
                p["TokenSha256"] = "***"
            c.get("Inbound", {}).get("Sealing", {}).pop("PublicKeys", None)
    report["orthancConfiguration"] = configurations
    with open(os.path.join(args.output, "stow.json"), "w") as f:
        json.dump(report, f, indent=2)
    stow_report.write_markdown(os.path.join(args.output, "stow.md"), report)
    stow_report.write_plot(os.path.join(args.output, "stow.png"), report)
    for line in stow_report.console_lines(report):
        log(line)
    log("results in %s (%.0f s in all)" % (args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchmarkError, harness.ServerError) as e:
        print("stow.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
