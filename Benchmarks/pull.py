#!/usr/bin/python3
"""Pull benchmark of Orthanc Inbound: the plugin's pull, sealed and plain, against a peer push.
Over 500 lines: one benchmark, read top to bottom: method, set-up, measurements (report: pull_report.py).

How fast does a study cross from the DMZ to the internal Orthanc through the plugin's pull, with
sealed staging and without, compared with Orthanc's own peer push between two native Orthancs?
And how long after a sender's "complete" is a small upload stored inside?

Set-up, all on loopback: six Orthanc 1.10.1 processes, three pairs —
  - the plugin's plain pair, configured as IntegrationTests/test_pull.py configures them: the
    gateway, Inbound {"Role": "Gateway", "Pullers": [the internal Orthanc's account, from
    127.0.0.1], "Sealing": {"PublicKeys": []}}, and the internal Orthanc, Inbound {"Role":
    "Internal", "Gateways": ["dmz"]}, "OrthancPeers" {"dmz": the gateway, with the puller's
    account}; the plugin's rate limits, quotas and automatic bans are off (the harness's defaults);
  - the plugin's sealing pair: the same, but the gateway has "Sealing": {"PublicKeys": [the
    internal Orthanc's public key]} and the internal Orthanc "Sealing": {"PrivateKey": its key
    file} (an X25519 pair made for the run by IntegrationTests/sealing.py): the gateway seals
    every file as it stages it, the internal Orthanc opens every file it pulls;
  - native Orthanc's pair, without the plugin (Orthanc's authentication on): a gateway whose
    "OrthancPeers" entry "inside" is the native internal Orthanc, for the push.
Each pair serves only its own mode, so that its VmHWM is that mode's peak memory.

Measured in one run:
  sealed,  the 300-instance CT study of the ingest benchmark is uploaded to the pair's gateway
  pull     through the public upload API (directly, without nginx; not timed, but its time and
           the gateway's CPU are recorded: that is where the sealing happens); timed: from the
           sender's POST .../complete until GET /inbound/admin/uploads/{id} on the internal
           Orthanc says "complete" with every file — the long poll waking up, the manifest, one
           GET per item, opening it (sealed), SHA-256 check, isolation, store, and (just after)
           the acknowledgement;
  push     the same study stored in the native gateway (POST /instances as admin; not timed);
           timed: POST /peers/inside/store {"Resources": [study], "Synchronous": true} until it
           answers (Orthanc's peer job sends every instance with POST /instances);
  latency  a 1-file upload, on each plugin's pair in turn: from POST .../complete until the
           internal Orthanc reports it stored.
The three modes alternate (5 runs each by default, the order rotating every round; medians);
what arrived inside is deleted after every run. CPU time of every Orthanc process, their VmRSS
sampled every 20 ms and VmHWM. Ratios: sealed / native, plain / native, sealed / plain.
Every sealed run checks that the staged files are envelopes of the internal Orthanc's key, and
the end of the run that the sealing internal opened them and the plain one opened none.

This is a measurement, not a test: nothing is asserted about the timings. The script exits
non-zero only if something went wrong (an answer that is not 2xx, an instance missing inside,
an Orthanc dying, a transfer that never finishes, a sealed run that was not sealed).

Outputs: results/pull.json, results/pull.md, results/pull.png (beside this script).
"""

import argparse
import datetime
import glob
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
import bench_support  # noqa: E402  Benchmarks: /proc readers, clients, RSS sampler, machine
import harness  # noqa: E402    IntegrationTests: Orthanc processes, the upload's open body
import pull_report  # noqa: E402  Benchmarks: this benchmark's medians, ratios, .md and .png
import sealing  # noqa: E402    IntegrationTests: X25519 key pairs, key ids, envelopes
from bench_support import ADMIN, MB, BenchmarkError  # noqa: E402

PULLER = ("inside-puller", "bench-puller-secret-2026")  # >= 16 characters
GATEWAY_PEER = "dmz"        # the gateway, in the internal Orthanc's OrthancPeers
INTERNAL_PEER = "inside"    # the internal Orthanc, in the gateway's OrthancPeers (push only)
API = "/inbound/api/uploads"
ENVELOPE_MAGIC = b"INBSEAL1"  # the first bytes of every sealed file (doc/Security.md)
FAILED = ("held", "failed", "cancelled", "expired", "removed")  # an upload that will not complete


def log(message):
    print("[pull %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------- the Orthancs

class Server(harness.OrthancServer):
    """A harness Orthanc whose directories are under INBOUND_BENCH_WORK (the disk measured by
    the ingest benchmark) and whose ports are chosen before either server starts, since each
    one's configuration names the other's URL."""

    def __init__(self, name, workdir, plugin, inbound, orthanc_overrides=None):
        super().__init__(plugin, inbound=inbound, orthanc=orthanc_overrides,
                         startup_timeout=60)
        bench_support.relocate(self, workdir, name)  # harness made one in /tmp: use ours
        self.port = harness.free_port()
        self.dicom_port = harness.free_port()
        self.key_id = None  # the id of the sealing key of a sealing pair

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


def topology(workdir, plugin, internal_extra=None, sealed=False):
    """The plugin's pair: a gateway (Role Gateway) and an internal Orthanc pulling from it.
    With "sealed", the gateway seals for the internal Orthanc's key (a pair made here, the
    private key written with mode 600 as the plugin requires); without, it stages in plain text
    (said explicitly, whatever the harness's defaults)."""
    prefix = "sealed-" if sealed else ""
    gateway = Server(prefix + "gateway", workdir, plugin, {
        "Role": "Gateway", "Sealing": {"PublicKeys": []},
        "Pullers": [{"Username": PULLER[0], "Password": PULLER[1], "Networks": ["127.0.0.1"]}]})
    internal = Server(prefix + "internal", workdir, plugin,
                      harness.merge({"Role": "Internal", "Gateways": [GATEWAY_PEER]}, internal_extra))
    if sealed:
        private_pem, public_pem = sealing.new_key_pair()
        key_file = os.path.join(internal.workdir, "sealing-key.pem")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private_pem)
        gateway.inbound["Sealing"]["PublicKeys"] = [public_pem.decode()]
        internal.inbound["Sealing"] = {"PrivateKey": key_file}
        gateway.key_id = internal.key_id = sealing.key_id(public_pem)
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
            if last.get("state") in FAILED:
                break
        elif r.status_code != 404:
            bench_support.check(r, "GET /inbound/admin/uploads/%s (%s)" % (upload_id, server.name))
        time.sleep(interval)
    server.alive()
    raise BenchmarkError("upload %s never became %s with %s files on the %s Orthanc (last: %s)"
                         % (upload_id, state, count, server.name, json.dumps(last)[:500]))


def wait_for_instances(session, server, upload_id, count, interval, timeout):
    """Polls Orthanc's own GET /statistics until "server" holds "count" instances; returns the
    number of polls. The status of a 300-file upload (GET /inbound/admin/uploads/{id}, with its
    items) costs the internal Orthanc about 7 ms of CPU, Orthanc's statistics about 0.2 ms: the
    timed wait looks at the statistics until the last instance is in, then at the status, so
    that polling does not take the CPU of the pull it measures. The status is still looked at
    about once a second, to stop at once on an upload that was held or failed."""
    deadline = time.perf_counter() + timeout
    polls = 0
    while time.perf_counter() < deadline:
        r = bench_support.check(session.get(server.url + "/statistics", timeout=30),
                                "GET /statistics (%s)" % server.name)
        polls += 1
        if r.json()["CountInstances"] >= count:
            return polls
        if polls % max(1, int(1 / interval)) == 0:
            status = session.get("%s/inbound/admin/uploads/%s" % (server.url, upload_id), timeout=30)
            if status.status_code == 200 and status.json().get("state") in FAILED + ("complete",):
                if bench_support.check(session.get(server.url + "/statistics", timeout=30), "GET "
                                       "/statistics").json()["CountInstances"] >= count:
                    return polls  # the last instance came in meanwhile
                break
        time.sleep(interval)
    server.alive()
    status = session.get("%s/inbound/admin/uploads/%s" % (server.url, upload_id), timeout=30)
    raise BenchmarkError("the %s Orthanc holds %d instances, not %d; upload %s: %s\n%s" % (
        server.name, server.instances(), count, upload_id, status.text[:1500], server.log_tail(30)))


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


def check_staged(gateway, upload_id, count, label):
    """That the gateway staged every file of the upload sealed for its pair's key (a sealing
    pair), or as the DICOM file sent (the plain pair): the mode measured is the mode named."""
    folders = glob.glob(os.path.join(gateway.storage, "**", "staging", upload_id), recursive=True)
    staged = [p for d in folders for p in glob.glob(os.path.join(d, "*")) if os.path.isfile(p)]
    if len(staged) < count:
        raise BenchmarkError("%s: %d staged files found for upload %s on the %s Orthanc, not %d"
                             % (label, len(staged), upload_id, gateway.name, count))
    for path in staged:
        with open(path, "rb") as f:
            head = f.read(132)
        sealed = head[:len(ENVELOPE_MAGIC)] == ENVELOPE_MAGIC
        if gateway.key_id:
            key = head[len(ENVELOPE_MAGIC):len(ENVELOPE_MAGIC) + 8].hex()
            if not sealed or key != gateway.key_id:
                raise BenchmarkError("%s: staged %s is not sealed for key %s" % (
                    label, path, gateway.key_id))
        elif sealed or head[128:132] != b"DICM":
            raise BenchmarkError("%s: staged %s is not the plain DICOM file" % (label, path))


def run_pull(gateway, internal, files, args, label, interval, probe=False):
    """The plugin's pull of a study staged on the gateway (sealed on a sealing pair's). With
    "probe", measures afterwards what one poll of each kind costs the internal Orthanc."""
    gateway.alive()
    internal.alive()
    stage_cpu = bench_support.proc_cpu_seconds(gateway.process.pid)
    stage_start = time.perf_counter()
    upload_id, headers = stage(gateway, files, args.clients)
    stage_seconds = time.perf_counter() - stage_start
    stage_cpu = bench_support.proc_cpu_seconds(gateway.process.pid) - stage_cpu
    check_staged(gateway, upload_id, len(files), label)
    bench_support.settle()
    total = sum(len(f["body"]) for f in files)
    with admin_session() as gs, admin_session() as s, Window(gateway, internal) as w:
        start = time.perf_counter()
        complete(gateway, upload_id, headers, len(files))
        completed = time.perf_counter()
        statistics_polls = wait_for_instances(s, internal, upload_id, len(files), interval,
                                              args.timeout)
        inside, polls = wait_for(s, internal, upload_id, "complete", len(files), interval / 4,
                                 args.timeout)
        delivered, _ = wait_for(gs, gateway, upload_id, "delivered", None, interval, args.timeout)
    stored = internal.instances()
    if stored != len(files):
        raise BenchmarkError("%s: %d instances inside, not %d" % (label, stored, len(files)))
    costs = {"statusMs": poll_cost(internal, "/inbound/admin/uploads/" + upload_id),
             "statisticsMs": poll_cost(internal, "/statistics")} if probe else None
    cleanup_inside(internal, upload_id)
    seconds = inside - start
    return dict(per_file(w.result, len(files)), **{
        "label": label, "mode": "sealed" if gateway.key_id else "pull", "files": len(files),
        "bytes": total, "uploadId": upload_id,
        "seconds": seconds, "mbPerSecond": total / MB / seconds, "filesPerSecond": len(files) / seconds,
        "completeAnswerSeconds": completed - start, "deliveredSeconds": delivered - start,
        "polls": polls, "statisticsPolls": statistics_polls, "pollIntervalSeconds": interval,
        "pollCostMs": costs, "stageSeconds": stage_seconds,
        "stageGatewayCpuMsPerFile": 1000 * stage_cpu / len(files)})


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


def poll_cost(internal, path, rounds=100):
    """CPU (ms) the internal Orthanc spends per GET of "path" (the timed waits poll it)."""
    with admin_session() as s:
        before = bench_support.proc_cpu_seconds(internal.process.pid)
        for _ in range(rounds):
            bench_support.check(s.get(internal.url + path, timeout=30), "GET " + path)
        after = bench_support.proc_cpu_seconds(internal.process.pid)
    return 1000 * (after - before) / rounds


def check_sealing(pairs):
    """That each plugin's pair runs the mode it is named for: GET /inbound/admin/sealing."""
    for mode in ("sealed", "pull"):
        gateway, internal = pairs[mode]
        g = gateway.json("GET", "/inbound/admin/sealing")
        seals = [k["keyId"] for k in g.get("keys", []) if k.get("seals")]
        expected = [gateway.key_id] if gateway.key_id else []
        if bool(g.get("sealing")) != bool(gateway.key_id) or seals != expected:
            raise BenchmarkError("the %s gateway's sealing is %s, not as configured (%s)" % (
                mode, json.dumps(g)[:300], expected))
        if gateway.key_id and internal.json("GET", "/inbound/admin/sealing").get("keyId") \
                != gateway.key_id:
            raise BenchmarkError("the sealing internal Orthanc does not hold key %s" % gateway.key_id)


def log_run(r):
    if r["mode"].startswith("latency"):
        log("%-11s %6.3f s to stored inside, %6.3f s to delivered (complete answered after "
            "%.3f s)  load %.2f" % (r["label"], r["seconds"], r["deliveredSeconds"],
                                    r["completeAnswerSeconds"], r["loadAverageBefore"]))
        return
    log("%-11s %6.2f s %6.1f MB/s %5.0f files/s  CPU ms/file gateway %5.2f internal %5.2f  "
        "other CPU %5.2f s  load %.2f  peak RSS %3.0f / %3.0f MiB%s" % (
            r["label"], r["seconds"], r["mbPerSecond"], r["filesPerSecond"],
            r["gateway"]["cpuMsPerFile"], r["internal"]["cpuMsPerFile"], r["otherCpuSeconds"],
            r["loadAverageBefore"], r["gateway"]["rssKbPeakSampled"] / 1024,
            r["internal"]["rssKbPeakSampled"] / 1024,
            "" if r["mode"] == "push" else "  (staged in %.2f s, gateway CPU %.2f ms/file)" % (
                r["stageSeconds"], r["stageGatewayCpuMsPerFile"])))


def measure(pairs, files, args, intervals, runs):
    """Warm-ups, then the three modes in rotating order, then the 1-file uploads on each
    plugin's pair in turn. Appends every run to "runs"; returns what one poll of each kind
    costs the internal Orthanc (measured after the first plain pull)."""
    cost = None
    if args.warmup > 0:
        for mode in ("sealed", "pull"):
            run_pull(*pairs[mode], files[:args.warmup], args, "warm-up " + mode,
                     intervals["transfer"])
        run_push(*pairs["push"], files[:args.warmup], args, "warm-up push")
        log("warm-up done (%d files in each mode, not reported)" % args.warmup)
    modes = ("sealed", "pull", "push")
    for repeat in range(args.repeats):
        for mode in modes[repeat % 3:] + modes[:repeat % 3]:
            label = "%s #%d" % (mode, repeat + 1)
            if mode == "push":
                r = run_push(*pairs[mode], files, args, label)
            else:
                r = run_pull(*pairs[mode], files, args, label, intervals["transfer"],
                             probe=cost is None and mode == "pull")
                cost = cost or r["pollCostMs"]
            r["repeat"] = repeat + 1
            runs.append(r)
            log_run(r)
    for repeat in range(args.latency_repeats):
        for mode in ("pull", "sealed") if repeat % 2 else ("sealed", "pull"):
            time.sleep(1.0)  # the puller is back in its long poll
            label = "1 file%s #%d" % (" sealed" if mode == "sealed" else "", repeat + 1)
            r = run_pull(*pairs[mode], files[repeat % len(files):][:1], args, label,
                         intervals["latency"])
            r["mode"] = "latency-sealed" if mode == "sealed" else "latency"
            r["repeat"] = repeat + 1
            runs.append(r)
            log_run(r)
    return cost


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each mode: sealed pull, plain pull, push (5)")
    parser.add_argument("--latency-repeats", type=int, default=5, help="1-file uploads on each plugin's pair (5)")
    parser.add_argument("--clients", type=int, default=4,
                        help="parallel sessions staging the study / storing it natively, untimed (4)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="files moved once in each mode before measuring, not reported (20)")
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
    pairs = {"sealed": topology(workdir, plugin, sealed=True), "pull": topology(workdir, plugin),
             "push": native_topology(workdir)}
    servers = [srv for pair in pairs.values() for srv in pair]
    runs = []
    rss = {}
    try:
        start_all(servers)
        machine["orthancVersion"] = servers[0].json("GET", "/system").get("Version")
        start = {srv.name: bench_support.proc_status(srv.process.pid)["VmRSS"] for srv in servers}
        log("; ".join("%s: gateway pid %d port %d, internal pid %d port %d" % (
            mode, g.process.pid, g.port, i.process.pid, i.port) for mode, (g, i) in pairs.items())
            + "; " + workdir)
        check_sealing(pairs)
        poll_costs = measure(pairs, files, args, intervals, runs)
        rss = {mode: memory_of(pair) for mode, pair in pairs.items()}
        for mode, pair in pairs.items():
            for role, srv in zip(("gateway", "internal"), pair):
                rss[mode][role]["startKb"] = start[srv.name]
        machine["gateways"] = pairs["pull"][1].json("GET", "/inbound/admin/gateways")
        opened = {mode: pairs[mode][1].json("GET", "/inbound/admin/sealing").get("opened")
                  for mode in ("sealed", "pull")}
    finally:
        stop_all(servers, log)
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    machine["loadAverageAtEnd"] = [round(v, 2) for v in os.getloadavg()]
    files_sealed = sum(r["files"] for r in runs if r["mode"] in ("sealed", "latency-sealed"))
    if not opened["sealed"] or opened["sealed"] < files_sealed or opened["pull"]:
        raise BenchmarkError("envelopes opened: %s by the sealing internal Orthanc for %d files "
                             "pulled sealed, %s by the plain one" % (
                                 opened["sealed"], files_sealed, opened["pull"]))

    summary, ratios = pull_report.summarize(runs)
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
        "gatewayPeer": GATEWAY_PEER,
        "internalPeer": INTERNAL_PEER,
        "pollInterval": intervals,
        "pollCostMs": poll_costs,
        "medianPullPolls": {"statistics": pulls[len(pulls) // 2]["statisticsPolls"],
                            "status": pulls[len(pulls) // 2]["polls"]} if pulls else None,
        "sealing": {"keyId": pairs["sealed"][0].key_id, "opened": opened,
                    "filesSealed": files_sealed},
        "summary": summary,
        "ratio": ratios["plainNative"]["mbPerSecond"],  # plain pull / push, as before sealing
        "ratios": ratios,
        "rss": rss,
        "memory": pull_report.memory_summary(rss),
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
    pull_report.write_markdown(os.path.join(args.output, "pull.md"), report)
    pull_report.write_plot(os.path.join(args.output, "pull.png"), report)
    log("median MB/s: sealed %.1f, plain %.1f, push %.1f; sealed / native %.2f, plain / native "
        "%.2f, sealed / plain %.2f; 1-file latency plain %.3f s, sealed %.3f s" % (
            summary["sealed"]["mbPerSecond"], summary["pull"]["mbPerSecond"],
            summary["push"]["mbPerSecond"], ratios["sealedNative"]["mbPerSecond"],
            ratios["plainNative"]["mbPerSecond"], ratios["sealedPlain"]["mbPerSecond"],
            summary["latency"]["seconds"], summary["latencySealed"]["seconds"]))
    log("load average at end: %s; results in %s (%.0f s in all)" % (
        machine["loadAverageAtEnd"], args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("pull.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
