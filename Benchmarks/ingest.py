#!/usr/bin/python3
"""Ingest benchmark of Orthanc Inbound.

Compares how fast a 300-instance CT study is stored by two real Orthanc 1.10.1 processes running
side by side, each serving only its own mode (so that its VmHWM is that mode's peak memory):
  native  - Orthanc without the plugin (its own authentication on): POST /instances with the
            admin's credentials, and
  plugin  - Orthanc with the plugin (Standalone): the public upload API, POST
            /inbound/api/uploads, PUT .../files/{sha256} per file, POST .../complete,
each with 1 client (sequential) and with 4 parallel clients (threads, each with its own
keep-alive HTTP session). Every measurement is repeated (default 5 times, alternating which mode
goes first) and the median is reported. Between runs every patient is deleted, so that each run
stores into a similar state.

This is a measurement, not a test: nothing is asserted about the timings. The script exits with
a non-zero code only if something went wrong (any answer that is not 2xx, a missing instance,
Orthanc dying, ...).

Outputs: results/ingest.json, results/ingest.md, results/ingest.png (beside this script).
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests
from pydicom.uid import ExplicitVRLittleEndian

from bench_study import load_dataset
from bench_support import (ADMIN, HERE, MB, ORTHANC, PLUGIN, RUN_ID, WORK, BenchmarkError,
                           RssSampler, admin_get, check, delete_everything, describe_machine,
                           ingest_native, proc_cpu_seconds, proc_status, run_clients, settle,
                           snapshot_plugin, system_busy_seconds)
from ingest_report import describe_clients, summarize, write_markdown, write_plot


# --------------------------------------------------------------------------- Orthanc

def log(message):
    print("[ingest %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Orthanc:
    """One Orthanc 1.10.1 process: with the plugin (plugin=True), or native — no plugin at all,
    Orthanc's own authentication on, as a hospital's Orthanc without the plugin runs."""

    def __init__(self, root, plugin=True):
        self.plugin = plugin
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.storage = os.path.join(root, "storage")
        os.makedirs(self.storage)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.config_path = os.path.join(root, "config.json")
        self.log_path = os.path.join(root, "orthanc.log")
        self.process = None

    def configuration(self):
        if not self.plugin:
            return {
                "HttpPort": self.port,
                "StorageDirectory": self.storage,
                "IndexDirectory": self.storage,
                "RemoteAccessAllowed": False,
                "AuthenticationEnabled": True,
                "RegisteredUsers": {ADMIN[0]: ADMIN[1]},
                "DicomServerEnabled": False,
                "WebDavEnabled": False,
                "HttpDescribeErrors": False,
                "Plugins": [],
            }
        return {
            "HttpPort": self.port,
            "StorageDirectory": self.storage,
            "IndexDirectory": self.storage,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "RegisteredUsers": {ADMIN[0]: ADMIN[1]},
            "DicomServerEnabled": False,
            "WebDavEnabled": False,
            "HttpDescribeErrors": False,
            "Plugins": [getattr(self, "plugin_path", PLUGIN)],
            "UserMetadata": {"InboundUpload": 4201, "InboundSender": 4202,
                             "InboundOriginalPatientID": 4203, "InboundSha256": 4204},
            "Inbound": {"Role": "Standalone", "Privacy": {"Version": "1", "Text": "x"},
                        # The per-address rate limits (20 requests/s, 100 files/s, 50 MiB/s by
                        # default) would throttle the one benchmark client: lifted, as a site
                        # would for a trusted sender. Their checks still run on every request.
                        "Limits": {"RequestsPerSecond": 0, "FilesPerSecond": 0,
                                   "BytesPerSecond": 0}},
        }

    def start(self):
        with open(self.config_path, "w") as f:
            json.dump(self.configuration(), f, indent=2)
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([ORTHANC, self.config_path], stdout=self.log_file,
                                        stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError("Orthanc exited with code %s during start-up:\n%s"
                                     % (self.process.returncode, self.log_tail()))
            try:
                r = requests.get(self.url + "/system", auth=ADMIN, timeout=2)
                if r.status_code == 200:
                    return r.json()
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise BenchmarkError("Orthanc did not answer /system within 60 s:\n" + self.log_tail())

    def alive(self):
        if self.process.poll() is not None:
            raise BenchmarkError("Orthanc died (exit code %s):\n%s"
                                 % (self.process.returncode, self.log_tail()))

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------- the two modes

OPEN_BODY = {"sender": {"name": "Bench", "email": "bench@example.org"},
             "consent": {"version": "1", "accepted": True}}


def ingest_plugin(orthanc, files, clients):
    api = orthanc.url + "/inbound/api/uploads"
    opened = check(requests.post(api, json=OPEN_BODY, timeout=60), "POST /inbound/api/uploads")
    if opened.status_code != 201:
        raise BenchmarkError("opening an upload answered %d" % opened.status_code)
    upload = opened.json()
    headers = {"X-Inbound-Token": upload["token"], "Content-Type": "application/octet-stream"}

    def make_session():
        s = requests.Session()
        s.headers.update(headers)
        return s

    def send_one(session, f):
        r = check(session.put("%s/%s/files/%s" % (api, upload["id"], f["sha256"]),
                              data=f["body"], timeout=120), "PUT file %s" % f["name"])
        if r.status_code != 201:
            raise BenchmarkError("PUT file %s answered %d, not 201" % (f["name"], r.status_code))

    latencies = run_clients(files, clients, send_one, make_session)
    receipt = check(requests.post("%s/%s/complete" % (api, upload["id"]), headers=headers,
                                  timeout=60), "POST .../complete").json()
    if receipt.get("files") != len(files) or receipt.get("state") != "complete":
        raise BenchmarkError("unexpected receipt: %s" % json.dumps(receipt)[:500])
    return {"latencies": latencies, "uploadId": upload["id"]}


MODES = {"native": ingest_native, "plugin": ingest_plugin}


def measure(orthanc, files, mode, clients, label):
    orthanc.alive()
    settle()
    pid = orthanc.process.pid
    total_bytes = sum(len(f["body"]) for f in files)
    before = proc_status(pid)
    load_before = os.getloadavg()[0]
    busy_before = system_busy_seconds()
    cpu_before = proc_cpu_seconds(pid)
    client_before = os.times()
    with RssSampler(pid) as sampler:
        start = time.perf_counter()
        outcome = MODES[mode](orthanc, files, clients)
        wall = time.perf_counter() - start
    client_after = os.times()
    cpu_after = proc_cpu_seconds(pid)
    busy_after = system_busy_seconds()
    after = proc_status(pid)
    orthanc.alive()

    statistics_ = admin_get(orthanc, "/statistics")
    held = [statistics_[k] for k in ("CountPatients", "CountStudies", "CountSeries", "CountInstances")]
    if held != [1, 1, 1, len(files)]:
        raise BenchmarkError("%s: Orthanc holds %s patients/studies/series/instances, not %s"
                             % (label, held, [1, 1, 1, len(files)]))

    lat = sorted(outcome["latencies"])
    client_cpu = ((client_after.user + client_after.system)
                  - (client_before.user + client_before.system))
    result = {
        "label": label,
        "mode": mode,
        "clients": clients,
        "files": len(files),
        "bytes": total_bytes,
        "seconds": wall,
        "mbPerSecond": total_bytes / MB / wall,
        "filesPerSecond": len(files) / wall,
        "latencyMsMedian": 1000 * statistics.median(lat),
        "latencyMsP95": 1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))],
        "orthancCpuSeconds": cpu_after - cpu_before,
        "orthancCpuMsPerFile": 1000 * (cpu_after - cpu_before) / len(files),
        "clientCpuSeconds": client_cpu,
        # CPU time of everything else on the machine during the run: other work competing for
        # the same cores makes a run slower; runs with much of it are less trustworthy.
        "otherCpuSeconds": max(0.0, (busy_after - busy_before) - (cpu_after - cpu_before)
                               - client_cpu),
        "loadAverageBefore": load_before,
        "rssKbBefore": before["VmRSS"],
        "rssKbAfter": after["VmRSS"],
        "rssKbPeakSampled": max(sampler.peak_kb, before["VmRSS"], after["VmRSS"]),
        "hwmKbBefore": before["VmHWM"],
        "hwmKbAfter": after["VmHWM"],
    }
    if "uploadId" in outcome:
        result["uploadId"] = outcome["uploadId"]
    delete_everything(orthanc)
    return result


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (5)")
    parser.add_argument("--clients", type=int, default=4, help="parallel clients (4)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="files sent once per mode before measuring, not reported (20)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of ingest.json/.md/.png")
    parser.add_argument("--keep", action="store_true",
                        help="keep Orthanc's temporary directory (log, storage)")
    args = parser.parse_args()

    if not os.path.isfile(PLUGIN):
        raise BenchmarkError("no plugin at %s: build it (cmake --build build) or set INBOUND_PLUGIN"
                             % PLUGIN)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()

    _, files = load_dataset(args.files)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB (%.3f MB per file); SHA-256 computed before timing"
        % (len(files), total / MB, total / MB / len(files)))

    root = tempfile.mkdtemp(prefix="run-", dir=WORK)
    # One Orthanc per mode, side by side: the native one without the plugin, the other with it.
    # Each process serves only its own mode, so that its VmHWM at the end is that mode's peak.
    servers = {}
    runs = []
    rss = {}
    try:
        plugin, described = snapshot_plugin(root)
        servers = {"native": Orthanc(os.path.join(root, "native"), plugin=False),
                   "plugin": Orthanc(os.path.join(root, "plugin"))}
        servers["plugin"].plugin_path = plugin
        versions = {}
        for mode, orthanc in servers.items():
            versions[mode] = orthanc.start().get("Version")
            rss[mode] = {"startKb": proc_status(orthanc.process.pid)["VmRSS"]}
            log("%s Orthanc %s, pid %d, port %d, storage %s" % (
                mode, versions[mode], orthanc.process.pid, orthanc.port, orthanc.storage))
        machine = describe_machine(servers["plugin"].storage)
        machine["orthancVersion"] = versions["plugin"]
        machine["plugin"] = described
        machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]

        if args.warmup > 0:
            for mode in MODES:
                measure(servers[mode], files[:args.warmup], mode, 1, "warm-up " + mode)
            log("warm-up done (%d files per mode, not reported)" % args.warmup)

        concurrency = [1, args.clients]
        for repeat in range(args.repeats):
            order = ["native", "plugin"] if repeat % 2 == 0 else ["plugin", "native"]
            for clients in concurrency:
                for mode in order:
                    label = "%s, %d client%s, #%d" % (mode, clients, "s" if clients > 1 else "",
                                                       repeat + 1)
                    r = measure(servers[mode], files, mode, clients, label)
                    r["repeat"] = repeat + 1
                    runs.append(r)
                    log("%-24s %5.2f s %6.1f MB/s %6.1f files/s  Orthanc CPU %4.1f ms/file  "
                        "other CPU %4.2f s  RSS %4.0f -> %4.0f MiB (peak %4.0f)" % (
                            label, r["seconds"], r["mbPerSecond"], r["filesPerSecond"],
                            r["orthancCpuMsPerFile"], r["otherCpuSeconds"], r["rssKbBefore"] / 1024,
                            r["rssKbAfter"] / 1024, r["rssKbPeakSampled"] / 1024))
        for mode, orthanc in servers.items():
            orthanc.alive()
            end = proc_status(orthanc.process.pid)
            rss[mode].update({"endKb": end["VmRSS"], "endHwmKb": end["VmHWM"]})
    finally:
        for orthanc in servers.values():
            orthanc.stop()
        if args.keep:
            log("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)

    summary, ratios = summarize(runs, list(MODES), concurrency)
    memory = {mode: {"hwmKb": rss[mode]["endHwmKb"],
                     "peakSampledKb": max(r["rssKbPeakSampled"] for r in runs if r["mode"] == mode)}
              for mode in MODES}
    memory["ratio"] = memory["plugin"]["hwmKb"] / memory["native"]["hwmKb"]
    report = {
        "benchmark": "Orthanc Inbound ingest",
        "runId": RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": total, "rows": 512, "columns": 512,
                    "bitsAllocated": 16, "transferSyntax": str(ExplicitVRLittleEndian),
                    "modality": "CT"},
        "repeats": args.repeats,
        "concurrency": concurrency,
        "units": {"mbPerSecond": "10^6 bytes of DICOM files per second of wall time",
                  "rss": "kB from /proc/PID/status"},
        "machine": machine,
        "orthancConfiguration": {mode: o.configuration() for mode, o in servers.items()},
        "summary": summary,
        "ratios": ratios,
        "memory": memory,
        "rss": rss,
        "runs": runs,
    }
    for c in report["orthancConfiguration"].values():  # no secrets in the results
        c["RegisteredUsers"] = {u: "***" for u in c.get("RegisteredUsers", {})}
    with open(os.path.join(args.output, "ingest.json"), "w") as f:
        json.dump(report, f, indent=2)
    write_markdown(os.path.join(args.output, "ingest.md"), report)
    write_plot(os.path.join(args.output, "ingest.png"), report)

    for key, v in summary.items():
        log("median %-9s %6.1f MB/s  %6.1f files/s" % (key, v["mbPerSecond"], v["filesPerSecond"]))
    for clients, ratio in ratios.items():
        log("plugin/native, %s: %.2f" % (describe_clients(int(clients)), ratio))
    log("peak memory (VmHWM) native %.0f MiB, plugin %.0f MiB: ratio %.2f" % (
        memory["native"]["hwmKb"] / 1024, memory["plugin"]["hwmKb"] / 1024, memory["ratio"]))
    log("results in %s (%.0f s in all)" % (args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("ingest.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
