#!/usr/bin/python3
"""Big-file benchmark of Orthanc Inbound (issue 20): one multi-frame file in parts, peak memory.
Over 500 lines: one benchmark read top to bottom (method, processes, sender, modes).

How much memory does each Orthanc need for one big DICOM file — a sender's upload in parts to a
Standalone, to a sealing Gateway that the Internal Orthanc pulls from — against native Orthanc
storing the same file with POST /instances and pushing it to a peer? And how long does it take?

The files (bigfile_data.py, cached under INBOUND_BENCH_WORK): multi-frame 16-bit secondary
capture, 1024 x 1024 frames of 2 MiB, Explicit VR Little Endian; by default 143 frames
(300 MB) and 512 frames (1 GiB = 1,073.7 MB). For each file, each mode on fresh processes
(VmHWM is a process's peak since start-up), each after a warm-up with one small file:
  native-store  POST /instances of the file to a native Orthanc (streamed from disk by the client);
  native-push   the file stored in a native gateway (untimed), the gateway restarted (its peak is
                then the push's), POST /peers/inside/store {"Synchronous": true} to a native
                internal Orthanc: both processes measured;
  standalone    the upload API of a Standalone: PUT .../files/{sha256}/parts/{n} (parts of the
                server's limits.partBytes, each with X-Inbound-Part-Sha256, 3 at a time as the
                upload page sends them: --lanes), then POST
                .../assemble {"parts": n} (it answers when the file is stored), then complete;
  gateway       the same to a sealing Gateway (sealed for the Internal's key, as pull.py's sealing
                pair), then complete; timed until the Internal Orthanc holds the instance (pulled
                in pieces, opened, checked, stored).
With --transfer whole (or auto on a plugin without parts) the plugin's modes send the file with
one whole-file PUT instead: the figures before parts existed.
Memory: before each measured operation VmRSS and VmHWM of every process of the mode are read,
then VmHWM is reset to the current RSS (/proc/PID/clear_refs "5"); after it VmHWM again:
growth = VmHWM after - VmRSS before, reported as a multiple of the file's size; VmRSS sampled
every 20 ms too. No nginx: the servers are reached directly on loopback.
Checked: every answer as expected (201 per part, 201 on assembly), the instance stored (native:
its FileSize equals the file's; plugin: metadata InboundSha256 equals the file's SHA-256).
Timings are never asserted. Outputs: results/bigfile.{json,md} (bigfile_report.py).
"""

import argparse
import datetime
import hashlib
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (HERE, os.path.join(REPO, "IntegrationTests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import requests  # noqa: E402

import bench_support  # noqa: E402  Benchmarks: /proc readers, machine, plugin snapshot
import bigfile_data  # noqa: E402   Benchmarks: the big multi-frame files
import bigfile_report  # noqa: E402  Benchmarks: this benchmark's .md
import harness  # noqa: E402    IntegrationTests: Orthanc processes, the upload's open body
import pull  # noqa: E402       Benchmarks: Server, the sealing pair, waits
from bench_support import MB, BenchmarkError  # noqa: E402
from data import make_dicom  # noqa: E402

API = "/inbound/api/uploads"
MODES = ("native-store", "native-push", "standalone", "gateway")
WHOLE_BODY_BYTES = 512 * 1024 ** 2  # whole-file PUTs stop there (kMaxWholeBodyBytes)


def log(message):
    print("[bigfile %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------- memory of processes

class Probe:
    """VmRSS/VmHWM of named processes around one operation (VmHWM reset at the start), their CPU,
    their VmRSS every 20 ms, and the CPU of everything else on the machine."""

    def __init__(self, servers, size):
        self.servers = servers  # name -> pull.Server
        self.size = size

    def __enter__(self):
        self.busy = bench_support.system_busy_seconds()
        self.me = os.times()
        self.before = {}
        for name, srv in self.servers.items():
            srv.alive()
            pid = srv.process.pid
            status = bench_support.proc_status(pid)
            self.before[name] = {"rssKb": status["VmRSS"], "hwmKb": status["VmHWM"],
                                 "cpu": bench_support.proc_cpu_seconds(pid)}
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")
        self.samplers = {n: KindSampler(s.process.pid) for n, s in self.servers.items()}
        for s in self.samplers.values():
            s.__enter__()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        for s in self.samplers.values():
            s.__exit__(*exc)
        if exc[0] is not None:
            return
        self.seconds = time.perf_counter() - self.start
        self.result = {}
        own = 0.0
        for name, srv in self.servers.items():
            srv.alive()
            pid = srv.process.pid
            status = bench_support.proc_status(pid)
            b = self.before[name]
            cpu = bench_support.proc_cpu_seconds(pid) - b["cpu"]
            own += cpu
            growth = status["VmHWM"] - b["rssKb"]
            self.result[name] = {
                "pid": pid, "rssKbBefore": b["rssKb"], "hwmKbBefore": b["hwmKb"],
                "hwmKbAfter": status["VmHWM"], "rssKbAfter": status["VmRSS"],
                "rssKbPeakSampled": max(self.samplers[name].peak_kb, status["VmRSS"]),
                # Anonymous memory vs pages of mapped files (a file mapped and read counts in
                # VmRSS too), sampled: which of the two made the peak.
                "rssAnonKbPeakSampled": self.samplers[name].peaks["RssAnon"],
                "rssFileKbPeakSampled": self.samplers[name].peaks["RssFile"],
                "growthKb": growth, "growthPerFileByte": growth * 1024 / self.size,
                "cpuSeconds": cpu}
        me = os.times()
        client = (me.user + me.system) - (self.me.user + self.me.system)
        self.client_cpu = client
        self.other_cpu = max(0.0, bench_support.system_busy_seconds() - self.busy - own - client)


class KindSampler(bench_support.RssSampler):
    """VmRSS, and its anonymous and file-backed parts, every 20 ms."""

    def __init__(self, pid):
        super().__init__(pid)
        self.peaks = {"RssAnon": 0, "RssFile": 0}

    def loop(self):
        while not self.stop_event.is_set():
            try:
                with open("/proc/%d/status" % self.pid) as f:
                    for line in f:
                        key, _, rest = line.partition(":")
                        if key == "VmRSS":
                            self.peak_kb = max(self.peak_kb, int(rest.split()[0]))
                        elif key in self.peaks:
                            self.peaks[key] = max(self.peaks[key], int(rest.split()[0]))
            except OSError:
                return
            self.stop_event.wait(self.interval)


# --------------------------------------------------------------------------- the clients

def lookup(server, sop_uid):
    found = server.json("POST", "/tools/lookup", data=sop_uid)
    ids = [x["ID"] for x in found if x.get("Type") == "Instance"]
    if len(ids) != 1:
        raise BenchmarkError("the %s Orthanc holds %d instances of %s"
                             % (server.name, len(ids), sop_uid))
    return ids[0]


def check_native(server, big):
    info = server.json("GET", "/instances/%s" % lookup(server, big["sopInstanceUid"]))
    if info.get("FileSize") != big["bytes"]:
        raise BenchmarkError("the %s Orthanc stored %s bytes, not %d" % (
            server.name, info.get("FileSize"), big["bytes"]))


def check_plugin(server, big):
    r = server.admin("GET", "/instances/%s/metadata/InboundSha256"
                     % lookup(server, big["sopInstanceUid"]))
    if r.status_code != 200 or r.text.strip() != big["sha256"]:
        raise BenchmarkError("the %s Orthanc's instance has InboundSha256 %r, not %s" % (
            server.name, r.text[:80], big["sha256"]))


def post_instances(server, path):
    with open(path, "rb") as f:
        r = bench_support.check(requests.post(
            server.url + "/instances", data=f, auth=bench_support.ADMIN, timeout=3600,
            headers={"Content-Type": "application/dicom"}), "POST /instances (%s)" % server.name)
    if r.json().get("Status") not in ("Success", "AlreadyStored"):
        raise BenchmarkError("POST /instances (%s): %s" % (server.name, r.text[:300]))
    return r.json()["ID"]


def part_bytes_of(server):
    info = bench_support.check(requests.get(server.url + "/inbound/api/info", timeout=30),
                               "GET /inbound/api/info").json()
    return (info.get("limits") or {}).get("partBytes")


class Sender:
    """One upload on a plugin's server, seen from the sender (one keep-alive session)."""

    def __init__(self, server):
        self.server = server
        r = bench_support.check(requests.post(server.url + API, json=harness.open_body(),
                                              timeout=60), "POST " + API)
        self.id, token = r.json()["id"], r.json()["token"]
        self.session = requests.Session()
        self.session.headers["X-Inbound-Token"] = token
        self.base = "%s%s/%s" % (server.url, API, self.id)
        self.waits = 0  # 503/429 answers waited out

    def whole(self, path, sha256):
        with open(path, "rb") as f:
            r = self.session.put("%s/files/%s" % (self.base, sha256), data=f, timeout=3600,
                                 headers={"Content-Type": "application/dicom"})
        if r.status_code != 201:
            raise BenchmarkError("PUT of the whole file answered %d: %s"
                                 % (r.status_code, r.text[:300]))

    def parts(self, path, sha256, part_bytes, lanes):
        """Sends every part, "lanes" at a time as the upload page does (each lane its own
        keep-alive session, reading its part from the file); returns how many."""
        count = (os.path.getsize(path) + part_bytes - 1) // part_bytes
        todo = queue.Queue()
        for n in range(count):
            todo.put(n)
        errors = []
        token = self.session.headers["X-Inbound-Token"]

        def lane():
            with requests.Session() as session, open(path, "rb") as f:
                session.headers["X-Inbound-Token"] = token
                while not errors:
                    try:
                        n = todo.get_nowait()
                    except queue.Empty:
                        return
                    f.seek(n * part_bytes)
                    chunk = f.read(part_bytes)
                    try:
                        self.put_part(session, sha256, n, chunk)
                    except Exception as e:  # reported by the caller
                        errors.append(e)

        threads = [threading.Thread(target=lane) for _ in range(min(lanes, count))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return count

    def put_part(self, session, sha256, n, chunk):
        headers = {"Content-Type": "application/octet-stream",
                   "X-Inbound-Part-Sha256": hashlib.sha256(chunk).hexdigest()}
        while True:
            r = session.put("%s/files/%s/parts/%d" % (self.base, sha256, n), data=chunk,
                            timeout=600, headers=headers)
            if r.status_code not in (429, 503) or self.waits >= 100:
                break
            # Paced (as the page is): wait as told, then again.
            self.waits += 1
            time.sleep(float(r.headers.get("Retry-After", "1")))
        if r.status_code != 201:
            raise BenchmarkError("PUT part %d answered %d: %s" % (n, r.status_code, r.text[:300]))

    def assemble(self, sha256, count):
        r = self.session.post("%s/files/%s/assemble" % (self.base, sha256), json={"parts": count},
                              timeout=3600)
        if r.status_code != 201:
            raise BenchmarkError("assemble answered %d: %s" % (r.status_code, r.text[:300]))

    def complete(self):
        bench_support.check(self.session.post(self.base + "/complete", timeout=60),
                            "POST .../complete")

    def close(self):
        self.session.close()


def send(server, big, transfer, part_bytes, lanes):
    """Opens an upload, sends the file (in parts or whole); returns (sender, timings)."""
    s = Sender(server)
    t0 = time.perf_counter()
    if transfer == "parts":
        count = s.parts(big["path"], big["sha256"], part_bytes, lanes)
        t1 = time.perf_counter()
        s.assemble(big["sha256"], count)
    else:
        count = 1
        s.whole(big["path"], big["sha256"])
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    return s, {"parts": count if transfer == "parts" else 0, "pacedWaits": s.waits,
               "sendSeconds": t1 - t0,
               "assembleSeconds": t2 - t1 if transfer == "parts" else None,
               "storedSeconds": t2 - t0}


def warm_up_upload(server, internal=None):
    small = make_dicom(patient_id="WARM-1", rows=64, columns=64)
    s = Sender(server)
    r = s.session.put("%s/files/%s" % (s.base, hashlib.sha256(small).hexdigest()), data=small,
                      timeout=60, headers={"Content-Type": "application/dicom"})
    if r.status_code != 201:
        raise BenchmarkError("warm-up PUT answered %d: %s" % (r.status_code, r.text[:300]))
    s.complete()
    s.close()
    if internal is not None:
        with pull.admin_session() as a:
            pull.wait_for(a, internal, s.id, "complete", 1, 0.05, 120)


# --------------------------------------------------------------------------- the modes

def server(workdir, plugin, name, inbound=None, orthanc=None):
    return pull.Server(name, workdir, plugin, inbound, orthanc)


def plugin_limits(max_file):
    return {"Upload": {"MaxFileBytes": max_file, "MaxBytesPerUpload": max(max_file, 21474836480)}}


def run_mode(mode, big, args, workdir, plugin):
    """One mode on fresh processes; returns the run's record."""
    size = big["bytes"]
    folder = tempfile.mkdtemp(prefix=mode + "-", dir=workdir)
    auth = {"AuthenticationEnabled": True}
    servers = {}
    record = {"mode": mode, "frames": big["frames"], "bytes": size, "transfer": None}
    try:
        if mode == "native-store":
            servers["orthanc"] = server(folder, None, "native", None, dict(auth))
            servers["orthanc"].start()
            post_instances(servers["orthanc"], write_small(folder))
            with Probe(servers, size) as p:
                post_instances(servers["orthanc"], big["path"])
            check_native(servers["orthanc"], big)
            record["storedSeconds"] = p.seconds
        elif mode == "native-push":
            internal = server(folder, None, "native-internal", None, dict(auth))
            gateway = server(folder, None, "native-gateway", None, dict(
                auth, HttpTimeout=3600, OrthancPeers={"inside": {
                    "Url": internal.url + "/", "Username": bench_support.ADMIN[0],
                    "Password": bench_support.ADMIN[1]}}))
            servers = {"gateway": gateway, "internal": internal}
            pull.start_all(servers.values())
            warm = post_instances(gateway, write_small(folder))
            big_id = post_instances(gateway, big["path"])
            gateway.restart()  # the push's own peak, not the storing's
            push(gateway, warm)
            with Probe(servers, size) as p:
                push(gateway, big_id)
            check_native(internal, big)
            record["storedSeconds"] = p.seconds
        else:
            limits = plugin_limits(args.max_file_bytes)
            if mode == "standalone":
                servers["standalone"] = server(folder, plugin, "standalone",
                                               harness.merge({"Role": "Standalone"}, limits))
                target = inside = servers["standalone"]
            else:
                gateway, internal = pull.topology(folder, plugin, sealed=True)
                gateway.inbound = harness.merge(gateway.inbound, limits)
                internal.inbound = harness.merge(internal.inbound, limits)
                servers = {"gateway": gateway, "internal": internal}
                target, inside = gateway, internal
            pull.start_all(servers.values())
            transfer = args.transfer
            part_bytes = part_bytes_of(target)
            if transfer in ("auto", "parts") and not part_bytes:
                if transfer == "parts":
                    raise BenchmarkError("the plugin does not take parts (no limits.partBytes)")
                transfer = "whole"
            elif transfer == "auto":
                transfer = "parts"
            record.update(transfer=transfer, partBytes=part_bytes if transfer == "parts" else None,
                          lanes=args.lanes if transfer == "parts" else None)
            warm_up_upload(target, None if inside is target else inside)
            with Probe(servers, size) as p:
                sender, timings = send(target, big, transfer, part_bytes, args.lanes)
                completed = time.perf_counter()
                sender.complete()
                if inside is not target:
                    with pull.admin_session() as a:
                        pull.wait_for_instances(a, inside, sender.id, 2, 0.05, args.timeout)
                        timings["completeToStoredInsideSeconds"] = time.perf_counter() - completed
                        timings["storedSeconds"] = time.perf_counter() - p.start
                        pull.wait_for(a, inside, sender.id, "complete", 1, 0.05, args.timeout)
                sender.close()
            check_plugin(inside, big)
            record.update(timings)
        record.update({"seconds": p.seconds, "processes": p.result,
                       "clientCpuSeconds": p.client_cpu, "otherCpuSeconds": p.other_cpu,
                       "intervalSeconds": p.seconds,
                       "mbPerSecond": size / MB / record["storedSeconds"]})
        return record
    finally:
        pull.stop_all(list(servers.values()), log)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def write_small(folder):
    path = os.path.join(folder, "warm-up.dcm")
    with open(path, "wb") as f:
        f.write(make_dicom(patient_id="WARM-1", rows=64, columns=64))
    return path


def push(gateway, instance_id):
    r = bench_support.check(gateway.admin("POST", "/peers/inside/store", timeout=3600,
                                          json={"Resources": [instance_id], "Synchronous": True}),
                            "POST /peers/inside/store")
    answer = r.json() if r.content else {}
    if isinstance(answer, dict) and answer.get("FailedInstancesCount"):
        raise BenchmarkError("the push failed: %s" % r.text[:300])


def log_run(r):
    log("%-12s %6.0f MB %-5s stored after %6.2f s (%5.1f MB/s)%s  %s  other CPU %.1f s" % (
        r["mode"], r["bytes"] / MB, r["transfer"] or "", r["storedSeconds"], r["mbPerSecond"],
        ("" if r.get("assembleSeconds") is None else ", assembly %.2f s" % r["assembleSeconds"])
        + (", %d paced answers waited out" % r["pacedWaits"] if r.get("pacedWaits") else ""),
        "; ".join("%s +%.0f MiB (%.2f x) peak %.0f MiB" % (
            n, p["growthKb"] / 1024, p["growthPerFileByte"], p["hwmKbAfter"] / 1024)
            for n, p in r["processes"].items()), r["otherCpuSeconds"]))


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", default="143,512",
                        help="frames of 2 MiB per file, comma-separated "
                             "(143 = 300 MB, 512 = 1 GiB)")
    parser.add_argument("--modes", default=",".join(MODES), help="subset of " + ",".join(MODES))
    parser.add_argument("--transfer", choices=("auto", "parts", "whole"), default="auto",
                        help="how the plugin's modes send the file (auto: parts when the server "
                             "announces limits.partBytes)")
    parser.add_argument("--whole-too", action="store_true",
                        help="also run the plugin's modes with one whole-file PUT, for files "
                             "that fit (whole-file PUTs stop at 512 MiB)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each mode (1)")
    parser.add_argument("--lanes", type=int, default=3,
                        help="parts sent at once (3, as the upload page: PART_CONCURRENCY)")
    parser.add_argument("--max-file-bytes", type=int, default=2 * 1024 ** 3,
                        help="the plugin's Upload.MaxFileBytes (2 GiB; at most 4 GiB less the "
                             "isolation's margin: what Orthanc takes from a plugin)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a transfer may take")
    parser.add_argument("--output", default=os.path.join(HERE, "results"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if set(modes) - set(MODES):
        parser.error("unknown mode(s): %s" % ", ".join(set(modes) - set(MODES)))
    frames = [int(f) for f in args.frames.split(",") if f]

    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()
    machine = bench_support.describe_machine(bench_support.WORK)
    machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]
    files = [bigfile_data.cached(os.path.join(bench_support.WORK, "bigfile"), n, log)
             for n in frames]
    workdir = tempfile.mkdtemp(prefix="bigfile-", dir=bench_support.WORK)
    runs = []
    try:
        plugin, machine["plugin"] = bench_support.snapshot_plugin(workdir)
        for big in files:
            for repeat in range(args.repeats):
                for mode in modes:
                    transfers = [args.transfer]
                    if args.whole_too and args.transfer != "whole" \
                            and mode in ("standalone", "gateway") \
                            and big["bytes"] <= WHOLE_BODY_BYTES:
                        transfers.append("whole")
                    for transfer in transfers:
                        if transfer == "whole" and any(
                                r["transfer"] == "whole" and r["mode"] == mode
                                and r["bytes"] == big["bytes"] and r["repeat"] == repeat + 1
                                for r in runs):
                            continue  # auto was already whole: the plugin takes no parts
                        one = argparse.Namespace(**dict(vars(args), transfer=transfer))
                        r = run_mode(mode, big, one, workdir, plugin)
                        r["repeat"] = repeat + 1
                        runs.append(r)
                        log_run(r)
    finally:
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    machine["loadAverageAtEnd"] = [round(v, 2) for v in os.getloadavg()]
    report = {
        "benchmark": "Orthanc Inbound big file",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "files": [{k: v for k, v in f.items() if k != "path"} for f in files],
        "arguments": {k: v for k, v in vars(args).items() if k != "output"},
        "units": {"growthPerFileByte": "(VmHWM after - VmRSS before) / file size",
                  "mbPerSecond": "10^6 bytes of the file per second, first byte sent to stored",
                  "kb": "kB from /proc/PID/status"},
        "machine": machine,
        "runs": runs,
    }
    report["summary"] = bigfile_report.summarize(runs)
    with open(os.path.join(args.output, "bigfile.json"), "w") as f:
        json.dump(report, f, indent=1)
    bigfile_report.write_markdown(os.path.join(args.output, "bigfile.md"), report)
    log("results in %s (%.0f s in all)" % (args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("bigfile.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
