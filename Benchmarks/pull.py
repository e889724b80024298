#!/usr/bin/python3
"""Pull benchmark of Orthanc Inbound.
Over 500 lines: one benchmark, read top to bottom: method, set-up, measurements, report, plot.

How fast does a study cross from the DMZ to the internal Orthanc through the plugin's pull,
compared with Orthanc's own peer push between two native Orthancs? And how long after a
sender's "complete" is a small upload stored inside?

Set-up, all on loopback: four Orthanc 1.10.1 processes —
  - the plugin's pair, configured as IntegrationTests/test_pull.py configures them: the gateway,
    Inbound {"Role": "Gateway", "Pullers": [the internal Orthanc's account, from 127.0.0.1]},
    and the internal Orthanc, Inbound {"Role": "Internal", "Gateways": ["dmz"]}, "OrthancPeers"
    {"dmz": the gateway, with the puller's account}; the plugin's rate limits, quotas and
    automatic bans are off (the harness's defaults);
  - native Orthanc's pair, without the plugin (Orthanc's authentication on): a gateway whose
    "OrthancPeers" entry "inside" is the native internal Orthanc, for the push.
Each pair serves only its own mode, so that its VmHWM is that mode's peak memory.

Measured in one run:
  pull     the 300-instance CT study of the ingest benchmark is uploaded to the gateway through
           the public upload API (directly, without nginx; not timed); timed: from the sender's
           POST .../complete until GET /inbound/admin/uploads/{id} on the internal Orthanc says
           "complete" with every file — the long poll waking up, the manifest, one GET per item,
           SHA-256 check, isolation, store, and (just after) the acknowledgement;
  push     the same study stored in the native gateway (POST /instances as admin; not timed);
           timed: POST /peers/inside/store {"Resources": [study], "Synchronous": true} until it
           answers (Orthanc's peer job sends every instance with POST /instances);
  latency  a 1-file upload: from POST .../complete until the internal Orthanc reports it stored.
Pull and push alternate (5 each by default; medians); what arrived inside is deleted after every
run. CPU time of both Orthanc processes, their VmRSS sampled every 20 ms and VmHWM.

This is a measurement, not a test: nothing is asserted about the timings. The script exits
non-zero only if something went wrong (an answer that is not 2xx, an instance missing inside,
an Orthanc dying, a transfer that never finishes).

Outputs: results/pull.json, results/pull.md, results/pull.png (beside this script).
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
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
import bench_support  # noqa: E402  Benchmarks: /proc readers, clients, RSS sampler, machine
import harness  # noqa: E402    IntegrationTests: Orthanc processes, the upload's open body
from bench_support import ADMIN, MB, BenchmarkError  # noqa: E402

PULLER = ("inside-puller", "bench-puller-secret-2026")  # >= 16 characters
GATEWAY_PEER = "dmz"        # the gateway, in the internal Orthanc's OrthancPeers
INTERNAL_PEER = "inside"    # the internal Orthanc, in the gateway's OrthancPeers (push only)
API = "/inbound/api/uploads"


def log(message):
    print("[pull %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------- the two Orthancs

class Server(harness.OrthancServer):
    """A harness Orthanc whose directories are under INBOUND_BENCH_WORK (the disk measured by
    the ingest benchmark) and whose ports are chosen before either server starts, since each
    one's configuration names the other's URL."""

    def __init__(self, name, workdir, plugin, inbound, orthanc_overrides=None):
        super().__init__(plugin, inbound=inbound, orthanc=orthanc_overrides,
                         startup_timeout=60)
        shutil.rmtree(self.workdir, ignore_errors=True)  # harness made one in /tmp: use ours
        self.name = name
        self.workdir = os.path.join(workdir, name)
        self.storage = os.path.join(self.workdir, "db")
        os.makedirs(self.storage)
        self.config_path = os.path.join(self.workdir, "config.json")
        self.log_path = os.path.join(self.workdir, "orthanc.log")
        self.port = harness.free_port()
        self.dicom_port = harness.free_port()

    def alive(self):
        if not self.running():
            raise BenchmarkError("the %s Orthanc died:\n%s" % (self.name, self.log_tail(40)))

    def json(self, method, path, **kwargs):
        r = bench_support.check(self.admin(method, path, **kwargs),
                                "%s %s (%s)" % (method, path, self.name))
        return r.json() if r.content else None

    def instances(self):
        return self.json("GET", "/statistics")["CountInstances"]


snapshot_plugin = bench_support.snapshot_plugin


def topology(workdir, plugin, internal_extra=None):
    """The plugin's pair: a gateway (Role Gateway) and an internal Orthanc pulling from it."""
    gateway = Server("gateway", workdir, plugin, {
        "Role": "Gateway",
        "Pullers": [{"Username": PULLER[0], "Password": PULLER[1], "Networks": ["127.0.0.1"]}]})
    internal = Server("internal", workdir, plugin,
                      harness.merge({"Role": "Internal", "Gateways": [GATEWAY_PEER]}, internal_extra))
    internal.orthanc_overrides = {"OrthancPeers": {GATEWAY_PEER: {
        "Url": gateway.url + "/", "Username": PULLER[0], "Password": PULLER[1]}}}
    return gateway, internal


def native_topology(workdir):
    """Native Orthanc's pair, without the plugin (Orthanc's own authentication on): a gateway
    whose OrthancPeers entry "inside" is the internal Orthanc, for POST /peers/inside/store."""
    auth = {"AuthenticationEnabled": True}
    gateway = Server("native-gateway", workdir, None, None, dict(auth))
    internal = Server("native-internal", workdir, None, None, dict(auth))
    gateway.orthanc_overrides = dict(auth, OrthancPeers={INTERNAL_PEER: {
        "Url": internal.url + "/", "Username": ADMIN[0], "Password": ADMIN[1]}})
    return gateway, internal


def start_all(servers):
    for srv in servers:
        srv.start()


def stop_all(servers, log):
    # Gateways first: an internal Orthanc's long poll then ends at once, and its stop does not
    # wait for the poll to time out.
    for srv in sorted(servers, key=lambda s: "internal" in s.name):
        srv.stop()
        if srv.killed:
            log("the %s Orthanc did not stop on SIGTERM within 20 s: killed" % srv.name)


def memory_of(pair):
    """VmRSS and VmHWM (kB) of the processes of a pair, by role."""
    result = {}
    for role, srv in zip(("gateway", "internal"), pair):
        srv.alive()
        status = bench_support.proc_status(srv.process.pid)
        result[role] = {"endKb": status["VmRSS"], "endHwmKb": status["VmHWM"]}
    return result


# --------------------------------------------------------------------------- the sender

def stage(gateway, files, clients):
    """Opens an upload on the gateway and sends every file (not timed); returns (id, headers)."""
    opened = bench_support.check(
        requests.post(gateway.url + API, json=harness.open_body(), timeout=60), "POST " + API)
    if opened.status_code != 201:
        raise BenchmarkError("opening an upload answered %d" % opened.status_code)
    upload = opened.json()
    headers = {"X-Inbound-Token": upload["token"], "Content-Type": "application/octet-stream"}

    def make_session():
        s = requests.Session()
        s.headers.update(headers)
        return s

    def send_one(session, f):
        r = bench_support.check(
            session.put("%s%s/%s/files/%s" % (gateway.url, API, upload["id"], f["sha256"]),
                        data=f["body"], timeout=120), "PUT file %s" % f["name"])
        if r.status_code != 201:
            raise BenchmarkError("PUT file %s answered %d, not 201" % (f["name"], r.status_code))

    bench_support.run_clients(files, clients, send_one, make_session)
    return upload["id"], headers


def complete(gateway, upload_id, headers, count):
    receipt = bench_support.check(
        requests.post("%s%s/%s/complete" % (gateway.url, API, upload_id), headers=headers,
                      timeout=60), "POST .../complete").json()
    if receipt.get("files") != count or receipt.get("state") != "complete":
        raise BenchmarkError("unexpected receipt: %s" % json.dumps(receipt)[:500])


def wait_for(session, server, upload_id, state, count, interval, timeout):
    """Polls GET /inbound/admin/uploads/{id} (keep-alive) until the upload is in "state" with
    "count" files; returns (time.perf_counter() of the first answer that says so, polls)."""
    deadline = time.perf_counter() + timeout
    polls = 0
    last = None
    while time.perf_counter() < deadline:
        r = session.get("%s/inbound/admin/uploads/%s" % (server.url, upload_id), timeout=30)
        polls += 1
        if r.status_code == 200:
            last = r.json()
            if last.get("state") == state and (count is None or last.get("files") == count):
                return time.perf_counter(), polls
            if last.get("state") in ("held", "failed", "cancelled", "expired", "removed"):
                break
        elif r.status_code != 404:
            bench_support.check(r, "GET /inbound/admin/uploads/%s (%s)" % (upload_id, server.name))
        time.sleep(interval)
    server.alive()
    raise BenchmarkError("upload %s never became %s with %s files on the %s Orthanc (last: %s)"
                         % (upload_id, state, count, server.name, json.dumps(last)[:500]))


def admin_session():
    s = requests.Session()
    s.auth = ADMIN
    return s


# --------------------------------------------------------------------------- one measurement

class Window:
    """CPU time of both Orthancs, of this script and of the rest of the machine, and the memory
    of both Orthancs, over one timed interval."""

    def __init__(self, gateway, internal):
        self.servers = {"gateway": gateway, "internal": internal}

    def __enter__(self):
        self.load = os.getloadavg()
        self.busy = bench_support.system_busy_seconds()
        self.me = os.times()
        pids = {k: s.process.pid for k, s in self.servers.items()}
        self.cpu = {k: bench_support.proc_cpu_seconds(pid) for k, pid in pids.items()}
        self.hwm = {k: bench_support.proc_status(pid)["VmHWM"] for k, pid in pids.items()}
        self.samplers = {k: bench_support.RssSampler(pid) for k, pid in pids.items()}
        for sampler in self.samplers.values():
            sampler.__enter__()
        return self

    def __exit__(self, *exc):
        for sampler in self.samplers.values():
            sampler.__exit__(*exc)
        if exc[0] is not None:
            return
        me = os.times()
        busy = bench_support.system_busy_seconds()
        self.result = {"loadAverageBefore": round(self.load[0], 2)}
        orthancs = 0.0
        for k, s in self.servers.items():
            cpu = bench_support.proc_cpu_seconds(s.process.pid) - self.cpu[k]
            status = bench_support.proc_status(s.process.pid)
            orthancs += cpu
            self.result[k] = {"cpuSeconds": cpu, "rssKbPeakSampled": max(self.samplers[k].peak_kb,
                                                                         status["VmRSS"]),
                              "rssKbAfter": status["VmRSS"], "hwmKbBefore": self.hwm[k],
                              "hwmKbAfter": status["VmHWM"]}
        client = (me.user + me.system) - (self.me.user + self.me.system)
        self.result["clientCpuSeconds"] = client
        # Whatever else ran on the machine meanwhile (competing work slows a run down).
        self.result["otherCpuSeconds"] = max(0.0, (busy - self.busy) - orthancs - client)


def per_file(window, count):
    for k in ("gateway", "internal"):
        window[k]["cpuMsPerFile"] = 1000 * window[k]["cpuSeconds"] / count
    return window


def run_pull(gateway, internal, files, args, label, interval):
    """The plugin's pull of a study staged on the gateway."""
    gateway.alive()
    internal.alive()
    upload_id, headers = stage(gateway, files, args.clients)
    bench_support.settle()
    total = sum(len(f["body"]) for f in files)
    with admin_session() as gs, admin_session() as s, Window(gateway, internal) as w:
        start = time.perf_counter()
        complete(gateway, upload_id, headers, len(files))
        completed = time.perf_counter()
        inside, polls = wait_for(s, internal, upload_id, "complete", len(files), interval,
                                 args.timeout)
        delivered, _ = wait_for(gs, gateway, upload_id, "delivered", None, interval, args.timeout)
    stored = internal.instances()
    if stored != len(files):
        raise BenchmarkError("%s: %d instances inside, not %d" % (label, stored, len(files)))
    cleanup_inside(internal, upload_id)
    seconds = inside - start
    return dict(per_file(w.result, len(files)), **{
        "label": label, "mode": "pull", "files": len(files), "bytes": total, "uploadId": upload_id,
        "seconds": seconds, "mbPerSecond": total / MB / seconds, "filesPerSecond": len(files) / seconds,
        "completeAnswerSeconds": completed - start, "deliveredSeconds": delivered - start,
        "polls": polls, "pollIntervalSeconds": interval})


def run_push(gateway, internal, files, args, label):
    """Orthanc's own peer push of the same study, stored natively in the gateway."""
    gateway.alive()
    internal.alive()
    bench_support.ingest_native(gateway, files, args.clients)
    studies = gateway.json("GET", "/studies")
    if len(studies) != 1 or gateway.instances() != len(files):
        raise BenchmarkError("%s: the gateway holds %d studies, %d instances"
                             % (label, len(studies), gateway.instances()))
    bench_support.settle()
    total = sum(len(f["body"]) for f in files)
    body = {"Resources": studies, "Synchronous": True}
    with Window(gateway, internal) as w:
        start = time.perf_counter()
        r = bench_support.check(gateway.admin("POST", "/peers/%s/store" % INTERNAL_PEER, json=body,
                                              timeout=args.timeout),
                                "POST /peers/%s/store" % INTERNAL_PEER)
        seconds = time.perf_counter() - start
    answer = r.json() if r.content else None
    if isinstance(answer, dict) and answer.get("FailedInstancesCount"):
        raise BenchmarkError("%s: the push failed for %s instances: %s"
                             % (label, answer["FailedInstancesCount"], r.text[:300]))
    stored = internal.instances()
    if stored != len(files):
        raise BenchmarkError("%s: %d instances inside after the push, not %d (answer %s)"
                             % (label, stored, len(files), r.text[:300]))
    bench_support.delete_everything(internal)
    bench_support.delete_everything(gateway)
    return dict(per_file(w.result, len(files)), **{
        "label": label, "mode": "push", "files": len(files), "bytes": total, "seconds": seconds,
        "mbPerSecond": total / MB / seconds, "filesPerSecond": len(files) / seconds,
        "answer": answer})


def cleanup_inside(internal, upload_id):
    """Removes what a pull stored inside: the upload (admin removal), then anything left."""
    r = internal.admin("DELETE", "/inbound/admin/uploads/%s" % upload_id)
    if not 200 <= r.status_code < 300 and r.status_code != 404:
        bench_support.check(r, "DELETE /inbound/admin/uploads/%s" % upload_id)
    bench_support.delete_everything(internal)


def poll_cost(internal, upload_id, rounds=200):
    """CPU the internal Orthanc spends per admin status poll (the timed waits poll it)."""
    with admin_session() as s:
        before = bench_support.proc_cpu_seconds(internal.process.pid)
        for _ in range(rounds):
            s.get("%s/inbound/admin/uploads/%s" % (internal.url, upload_id), timeout=30)
        after = bench_support.proc_cpu_seconds(internal.process.pid)
    return 1000 * (after - before) / rounds


# --------------------------------------------------------------------------- reports

def summarize(runs):
    summary = {}
    for mode in ("pull", "push", "latency"):
        chosen = [r for r in runs if r["mode"] == mode]
        if not chosen:
            continue
        v = {"repeats": len(chosen),
             "seconds": statistics.median(r["seconds"] for r in chosen),
             "secondsMin": min(r["seconds"] for r in chosen),
             "secondsMax": max(r["seconds"] for r in chosen),
             "mbPerSecond": statistics.median(r["mbPerSecond"] for r in chosen),
             "mbPerSecondMin": min(r["mbPerSecond"] for r in chosen),
             "mbPerSecondMax": max(r["mbPerSecond"] for r in chosen),
             "filesPerSecond": statistics.median(r["filesPerSecond"] for r in chosen)}
        for k in ("gateway", "internal"):
            v[k] = {"cpuMsPerFile": statistics.median(r[k]["cpuMsPerFile"] for r in chosen),
                    "rssKbPeakSampled": max(r[k]["rssKbPeakSampled"] for r in chosen)}
        if mode != "push":
            v["deliveredSeconds"] = statistics.median(r["deliveredSeconds"] for r in chosen)
        summary[mode] = v
    ratio = None
    if "pull" in summary and "push" in summary:
        ratio = summary["pull"]["mbPerSecond"] / summary["push"]["mbPerSecond"]
    return summary, ratio


def memory_summary(rss):
    """Peak memory of each pair: VmHWM at the end, per process and summed over the pair (each
    pair serves only its own mode: the plugin's pull, or the native push)."""
    result = {}
    for mode in ("pull", "push"):
        result[mode] = {role: rss[mode][role]["endHwmKb"] for role in ("gateway", "internal")}
        result[mode]["sum"] = result[mode]["gateway"] + result[mode]["internal"]
    result["ratio"] = result["pull"]["sum"] / result["push"]["sum"]
    return result


def mib(kb):
    return kb / 1024


def write_markdown(path, report):
    s, d, m = report["summary"], report["dataset"], report["machine"]
    pull, push, lat = s["pull"], s["push"], s["latency"]
    lines = [
        "# Pull benchmark — results",
        "",
        "Generated by `Benchmarks/run.sh pull` on %s (UTC). Four Orthanc %s processes on "
        "loopback: the plugin's pair — a gateway (Role `Gateway`) and an internal Orthanc (Role "
        "`Internal`, pulling through its `OrthancPeers` entry `%s`) — and native Orthanc's pair "
        "without the plugin (the gateway pushes with `POST /peers/inside/store`). %d CT files, "
        "%.1f MB (%.3f MB per file). The study reaches the plugin's gateway through the upload "
        "API directly (no nginx), the native gateway with `POST /instances`, untimed. "
        "Pull and push alternate, %d of each; medians. MB = 10^6 bytes."
        % (report["finishedAt"], m.get("orthancVersion", "?"), GATEWAY_PEER, d["files"],
           d["bytes"] / MB, d["bytes"] / MB / d["files"], report["repeats"]),
        "",
        "| | pull (plugin) | native peer push | pull / push |",
        "| --- | ---: | ---: | ---: |",
        "| %d files, MB/s (median; min – max) | %.1f (%.1f – %.1f) | %.1f (%.1f – %.1f) | **%.2f** |" % (
            d["files"], pull["mbPerSecond"], pull["mbPerSecondMin"], pull["mbPerSecondMax"],
            push["mbPerSecond"], push["mbPerSecondMin"], push["mbPerSecondMax"], report["ratio"]),
        "| files/s | %.0f | %.0f | |" % (pull["filesPerSecond"], push["filesPerSecond"]),
        "| s per study (median) | %.2f | %.2f | |" % (pull["seconds"], push["seconds"]),
        "| gateway CPU, ms per file | %.2f | %.2f | |" % (pull["gateway"]["cpuMsPerFile"],
                                                          push["gateway"]["cpuMsPerFile"]),
        "| internal CPU, ms per file | %.2f | %.2f | |" % (pull["internal"]["cpuMsPerFile"],
                                                           push["internal"]["cpuMsPerFile"]),
        "| peak VmRSS sampled, gateway / internal, MiB | %.0f / %.0f | %.0f / %.0f | |" % (
            mib(pull["gateway"]["rssKbPeakSampled"]), mib(pull["internal"]["rssKbPeakSampled"]),
            mib(push["gateway"]["rssKbPeakSampled"]), mib(push["internal"]["rssKbPeakSampled"])),
        "",
        "- Pull: from the sender's `POST .../complete` until the internal Orthanc's "
        "`GET /inbound/admin/uploads/{id}` says `complete` with %d files (polled every %.0f ms, "
        "keep-alive); the gateway reported `delivered` (acknowledged, staging deleted) %.2f s "
        "after `complete` (median). Push: `POST /peers/%s/store` "
        "`{\"Resources\": [study], \"Synchronous\": true}` on the gateway until it answers."
        % (d["files"], 1000 * report["pollInterval"]["transfer"], pull["deliveredSeconds"],
           INTERNAL_PEER),
        "- CPU per file covers the timed interval (pull: until `delivered`, so the "
        "acknowledgement is in it); the internal Orthanc's figure for the pull includes the status "
        "polls, %.2f ms each (measured: %d polls in the median run ≈ %.2f ms per file)." % (
            report["pollCostMs"], report["medianPullPolls"],
            report["pollCostMs"] * report["medianPullPolls"] / d["files"]),
        "",
        "## Latency of a 1-file upload",
        "",
        "From `POST .../complete` until the internal Orthanc reports it stored (polled every "
        "%.0f ms), %d uploads of one %.3f MB file: median **%.3f s** (min %.3f, max %.3f); "
        "gateway `delivered` after %.3f s (median). Target: under 2 s plus transfer." % (
            1000 * report["pollInterval"]["latency"], lat["repeats"], d["bytes"] / MB / d["files"],
            lat["seconds"], lat["secondsMin"], lat["secondsMax"], lat["deliveredSeconds"]),
        "",
        "## Every run, in order",
        "",
        "\"Other CPU\" is what the rest of the machine used during the run (neither Orthanc nor "
        "this script); load = 1-minute load average before the run. CPU times are counted in "
        "clock ticks of 10 ms: the CPU per file of a 1-file run is only that tick's noise.",
        "",
        "| # | run | s | MB/s | gateway CPU ms/file | internal CPU ms/file | client CPU s | other CPU s "
        "| load | peak RSS gateway / internal MiB | VmHWM after, gateway / internal MiB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(report["runs"], 1):
        lines.append("| %d | %s | %.3f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f / %.0f | %.0f / %.0f |" % (
            i, r["label"], r["seconds"], r["mbPerSecond"], r["gateway"]["cpuMsPerFile"],
            r["internal"]["cpuMsPerFile"], r["clientCpuSeconds"], r["otherCpuSeconds"],
            r["loadAverageBefore"], mib(r["gateway"]["rssKbPeakSampled"]),
            mib(r["internal"]["rssKbPeakSampled"]), mib(r["gateway"]["hwmKbAfter"]),
            mib(r["internal"]["hwmKbAfter"])))
    rss, mem = report["rss"], report["memory"]
    lines += [
        "",
        "## Peak memory",
        "",
        "| | plugin's pair (pull) | native pair (push) | plugin / native |",
        "| --- | ---: | ---: | ---: |",
        "| VmHWM at the end, gateway, MiB | %.0f | %.0f | %.2f |" % (
            mib(mem["pull"]["gateway"]), mib(mem["push"]["gateway"]),
            mem["pull"]["gateway"] / mem["push"]["gateway"]),
        "| VmHWM at the end, internal, MiB | %.0f | %.0f | %.2f |" % (
            mib(mem["pull"]["internal"]), mib(mem["push"]["internal"]),
            mem["pull"]["internal"] / mem["push"]["internal"]),
        "| both processes, MiB | %.0f | %.0f | **%.2f** |" % (
            mib(mem["pull"]["sum"]), mib(mem["push"]["sum"]), mem["ratio"]),
        "| VmRSS after start-up, gateway / internal, MiB | %.0f / %.0f | %.0f / %.0f | |" % (
            mib(rss["pull"]["gateway"]["startKb"]), mib(rss["pull"]["internal"]["startKb"]),
            mib(rss["push"]["gateway"]["startKb"]), mib(rss["push"]["internal"]["startKb"])),
        "",
        "Each pair serves only its own mode (the plugin's pair also the 1-file uploads), so its "
        "VmHWM is that mode's peak. The native gateway holds the study in its own storage and "
        "index for the push; the plugin's gateway keeps only the staged files.",
        "",
        "## Machine",
        "",
    ] + bench_support.machine_lines(m) + [
        "- Plugin's source in the working tree when it was copied: %s" % (
            ", ".join("`%s`" % c for c in m["plugin"]["workingTreeChanges"])
            if m.get("plugin", {}).get("workingTreeChanges") else "as committed"),
        "- Load average at the end: %s" % ", ".join("%.2f" % v for v in m.get("loadAverageAtEnd", [])),
        ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_plot(path, report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    colors = {"pull": "#dd8452", "push": "#4c72b0"}
    names = {"pull": "pull (plugin)", "push": "native peer push"}
    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 4.6), gridspec_kw={"width_ratios": [2, 2, 2]})

    modes = ("pull", "push")
    ys = [s[m]["mbPerSecond"] for m in modes]
    err = [[s[m]["mbPerSecond"] - s[m]["mbPerSecondMin"] for m in modes],
           [s[m]["mbPerSecondMax"] - s[m]["mbPerSecond"] for m in modes]]
    bars = ax.bar(range(2), ys, 0.6, yerr=err, capsize=4, color=[colors[m] for m in modes])
    for bar, m in zip(bars, modes):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() * 0.5,
                "%.0f MB/s\n%.0f files/s\n%.2f s" % (s[m]["mbPerSecond"], s[m]["filesPerSecond"],
                                                    s[m]["seconds"]),
                ha="center", va="center", fontsize=8, color="white")
    ax.set_xticks(range(2))
    ax.set_xticklabels([names[m] for m in modes], fontsize=9)
    ax.set_ylabel("MB/s (median; bars: min–max)")
    ax.set_ylim(0, max(s[m]["mbPerSecondMax"] for m in modes) * 1.2)
    ax.set_title("Gateway → internal, %d files (%.0f MB)\npull / push = %.2f (target ≥ 1.0)" % (
        report["dataset"]["files"], report["dataset"]["bytes"] / MB, report["ratio"]), fontsize=10)

    width = 0.36
    for j, who in enumerate(("gateway", "internal")):
        vals = [s[m][who]["cpuMsPerFile"] for m in modes]
        b = ax2.bar([i + (j - 0.5) * width for i in range(2)], vals, width,
                    color=["#8c8c8c", "#55a868"][j], label="%s Orthanc" % who)
        for bar, v in zip(b, vals):
            ax2.text(bar.get_x() + bar.get_width() / 2, v, "%.1f" % v, ha="center", va="bottom",
                     fontsize=8)
    ax2.set_xticks(range(2))
    ax2.set_xticklabels([names[m] for m in modes], fontsize=9)
    ax2.set_ylabel("CPU time, ms per file (median)")
    ax2.set_title("CPU per file of each Orthanc", fontsize=10)
    ax2.legend(fontsize=8, loc="upper right")
    ax2.set_ylim(0, max(max(s[m]["gateway"]["cpuMsPerFile"], s[m]["internal"]["cpuMsPerFile"])
                        for m in modes) * 1.25)

    lat = [r for r in report["runs"] if r["mode"] == "latency"]
    xs = range(1, len(lat) + 1)
    ax3.plot(xs, [1000 * r["seconds"] for r in lat], "o", color=colors["pull"],
             label="stored inside")
    ax3.plot(xs, [1000 * r["deliveredSeconds"] for r in lat], "x", color="#555555",
             label="delivered (gateway)")
    ax3.axhline(1000 * s["latency"]["seconds"], color=colors["pull"], linestyle=":",
                label="median %.0f ms" % (1000 * s["latency"]["seconds"]))
    ax3.axhline(2000, color="#c44e52", linestyle="--", label="target 2 s")
    ax3.set_yscale("log")
    ax3.set_ylim(10, 4000)
    ax3.set_xticks(list(xs))
    ax3.set_xlabel("1-file upload #")
    ax3.set_ylabel("ms after POST .../complete")
    ax3.set_title("Latency of a 1-file upload", fontsize=10)
    ax3.legend(fontsize=8, loc="upper right")

    m = report["machine"]
    fig.text(0.01, 0.01, "%s, %s CPUs, %s GiB RAM; load average at start %s; both Orthancs and "
             "the client on the same machine" % (
                 m.get("cpuModel", "?"), m.get("nproc"), m.get("ramGiB"),
                 ", ".join("%.2f" % v for v in m.get("loadAverageAtStart", []))),
             fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="pull and push runs each (5)")
    parser.add_argument("--latency-repeats", type=int, default=5, help="1-file uploads (5)")
    parser.add_argument("--clients", type=int, default=4,
                        help="parallel sessions staging the study / storing it natively, untimed (4)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="files pulled and pushed once before measuring, not reported (20)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a transfer may take (600)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of pull.json/.md/.png")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()

    if not os.path.isfile(bench_support.PLUGIN):
        raise BenchmarkError("no plugin at %s: build it (cmake --build build) or set INBOUND_PLUGIN"
                             % bench_support.PLUGIN)
    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()
    intervals = {"transfer": 0.02, "latency": 0.01}

    _, files = bench_study.load_dataset(args.files)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB" % (len(files), total / MB))
    machine = bench_support.describe_machine(bench_support.WORK)
    machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]
    log("load average at start: %s" % machine["loadAverageAtStart"])

    workdir = tempfile.mkdtemp(prefix="pull-", dir=bench_support.WORK)
    try:
        plugin, machine["plugin"] = snapshot_plugin(workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    log("plugin %s built %s, SHA-256 %s…, loaded from a copy" % (
        bench_support.PLUGIN, machine["plugin"]["built"], machine["plugin"]["sha256"]))
    gateway, internal = topology(workdir, plugin)
    native = native_topology(workdir)
    servers = [gateway, internal] + list(native)
    runs = []
    rss = {}
    try:
        start_all(servers)
        machine["orthancVersion"] = gateway.json("GET", "/system").get("Version")
        start = {srv.name: bench_support.proc_status(srv.process.pid)["VmRSS"] for srv in servers}
        log("plugin: gateway pid %d port %d, internal pid %d port %d; native: gateway pid %d "
            "port %d, internal pid %d port %d; %s" % (
                gateway.process.pid, gateway.port, internal.process.pid, internal.port,
                native[0].process.pid, native[0].port, native[1].process.pid, native[1].port,
                workdir))

        if args.warmup > 0:
            w = run_pull(gateway, internal, files[:args.warmup], args, "warm-up pull",
                         intervals["transfer"])
            run_push(native[0], native[1], files[:args.warmup], args, "warm-up push")
            log("warm-up done (%d files each way, not reported)" % args.warmup)
            pull_cost = poll_cost(internal, w["uploadId"])

        for repeat in range(args.repeats):
            order = ("pull", "push") if repeat % 2 == 0 else ("push", "pull")
            for mode in order:
                label = "%s #%d" % (mode, repeat + 1)
                if mode == "pull":
                    r = run_pull(gateway, internal, files, args, label, intervals["transfer"])
                else:
                    r = run_push(native[0], native[1], files, args, label)
                r["repeat"] = repeat + 1
                runs.append(r)
                log("%-8s %6.2f s %6.1f MB/s %5.0f files/s  CPU ms/file gateway %5.2f internal "
                    "%5.2f  other CPU %5.2f s  load %.2f  peak RSS %3.0f / %3.0f MiB" % (
                        label, r["seconds"], r["mbPerSecond"], r["filesPerSecond"],
                        r["gateway"]["cpuMsPerFile"], r["internal"]["cpuMsPerFile"],
                        r["otherCpuSeconds"], r["loadAverageBefore"],
                        mib(r["gateway"]["rssKbPeakSampled"]), mib(r["internal"]["rssKbPeakSampled"])))

        for repeat in range(args.latency_repeats):
            time.sleep(1.0)  # the puller is back in its long poll
            label = "1 file #%d" % (repeat + 1)
            r = run_pull(gateway, internal, files[repeat % len(files):][:1], args, label,
                         intervals["latency"])
            r["mode"] = "latency"
            r["repeat"] = repeat + 1
            runs.append(r)
            log("%-8s %6.3f s to stored inside, %6.3f s to delivered (complete answered after "
                "%.3f s)  load %.2f" % (label, r["seconds"], r["deliveredSeconds"],
                                        r["completeAnswerSeconds"], r["loadAverageBefore"]))

        rss = {"pull": memory_of((gateway, internal)), "push": memory_of(native)}
        for mode, pair in (("pull", (gateway, internal)), ("push", native)):
            for role, srv in zip(("gateway", "internal"), pair):
                rss[mode][role]["startKb"] = start[srv.name]
        machine["gateways"] = internal.json("GET", "/inbound/admin/gateways")
    finally:
        stop_all(servers, log)
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    machine["loadAverageAtEnd"] = [round(v, 2) for v in os.getloadavg()]

    summary, ratio = summarize(runs)
    pulls = sorted((r for r in runs if r["mode"] == "pull"), key=lambda r: r["seconds"])
    report = {
        "benchmark": "Orthanc Inbound pull",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": total, "rows": 512, "columns": 512,
                    "bitsAllocated": 16, "modality": "CT"},
        "repeats": args.repeats,
        "arguments": {k: v for k, v in vars(args).items() if k != "output"},
        "units": {"mbPerSecond": "10^6 bytes of DICOM files per second of wall time",
                  "rss": "kB from /proc/PID/status", "cpu": "seconds (user + system)"},
        "machine": machine,
        "configurations": {srv.name: srv.configuration() for srv in servers},
        "pollInterval": intervals,
        "pollCostMs": pull_cost if args.warmup > 0 else None,
        "medianPullPolls": pulls[len(pulls) // 2]["polls"] if pulls else 0,
        "summary": summary,
        "ratio": ratio,
        "rss": rss,
        "memory": memory_summary(rss),
        "runs": runs,
    }
    for c in report["configurations"].values():  # no secrets in the results
        for peer in c.get("OrthancPeers", {}).values():
            peer["Password"] = "***"
        for puller in c.get("Inbound", {}).get("Pullers", []):
            puller["Password"] = "***"
        c["RegisteredUsers"] = {u: "***" for u in c.get("RegisteredUsers", {})}
    with open(os.path.join(args.output, "pull.json"), "w") as f:
        json.dump(report, f, indent=1)
    write_markdown(os.path.join(args.output, "pull.md"), report)
    write_plot(os.path.join(args.output, "pull.png"), report)
    log("median pull %.1f MB/s, push %.1f MB/s: pull / push %.2f; 1-file latency %.3f s" % (
        summary["pull"]["mbPerSecond"], summary["push"]["mbPerSecond"], ratio,
        summary["latency"]["seconds"]))
    log("load average at end: %s; results in %s (%.0f s in all)" % (
        machine["loadAverageAtEnd"], args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("pull.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
