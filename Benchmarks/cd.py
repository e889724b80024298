#!/usr/bin/python3
"""CD benchmark: 2,000 MR images of 200 KB sent as the upload page sends them, through nginx.

Does a browser sending a CD of many small files through the shipped nginx site get the
throughput of native Orthanc behind the same nginx? Two Orthanc 1.10.1 processes, one after the
other, each behind its own copy of the shipped site (IntegrationTests/proxy.py: self-signed
certificate, one worker, 50 requests/s per address with a burst of 200, then 429):
  plugin - Orthanc with the plugin started from Resources/Configurations/Standalone.json (only
           ports, folders, the plugin's path and the admin's password replaced; Limits, Quotas
           and AutoBan as shipped): POST /inbound/api/uploads, PUT .../files/{sha256} for every
           file, POST .../complete;
  native - Orthanc without the plugin behind the same site with its locations replaced by one
           that proxies every path (flood.py's native_site): POST /instances with credentials.
The sender is the page's (Resources/WebApp/src/upload.js) in Python: 3 requests at a time on
keep-alive HTTPS connections from 127.0.0.2, paced by the page's Pacer with the limits that
GET /inbound/api/info announces (native: none, so unpaced until refused), a 429/503 with
Retry-After retried after it (pausing every lane and halving the pace), one without (nginx's)
after the page's exponential back-off. The files are hashed beforehand (the page hashes them in
a worker, ahead of sending). Runs alternate plugin and native; medians of files/s and MB/s.
Nothing is asserted about timings: the script fails only when something goes wrong.

Outputs: results/cd.json and results/cd.md (beside this script).
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (HERE, os.path.join(REPO, "IntegrationTests"), os.path.join(REPO, "Resources", "Scripts")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import bench_support  # noqa: E402
import flood  # noqa: E402  the native Orthanc and its nginx site
import harness  # noqa: E402
import samples  # noqa: E402
from bench_support import MB, WORK, BenchmarkError  # noqa: E402
from cd_data import load_cd  # noqa: E402
from proxy import NginxProxy  # noqa: E402

SENDER = "127.0.0.2"
CONCURRENCY = 3             # upload.js CONCURRENCY
MAX_ATTEMPTS = 10           # upload.js: network and server errors
MAX_BUSY_ATTEMPTS = 100     # upload.js: answers with Retry-After
RETRYABLE = {429, 500, 502, 503, 504}


def log(message):
    print("[cd %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


class Pacer:
    """upload.js's Pacer: a token bucket at 80 % of the announced rate (files per second when
    the site announces it, else requests per second), halved on every busy answer and raised
    again by 1/rate per success; without a limit, none until the first busy answer."""

    def __init__(self, limits):
        limits = limits or {}
        files = "filesPerSecond" in limits
        rps = float(limits.get("filesPerSecond" if files else "requestsPerSecond", 0) or 0)
        burst = float(limits.get("fileBurst" if files else "requestBurst", 0) or 0)
        self.max = rps * 0.8 if rps > 0 else float("inf")
        self.rate = self.max
        self.capacity = max(1.0, (burst if burst > 0 else rps) * 0.5) if rps > 0 else float("inf")
        self.tokens = self.capacity
        self.refilled = time.perf_counter()
        self.paused_until = 0.0
        self.last_slowdown = float("-inf")
        self.starts = []
        self.lock = threading.Lock()

    def _refill(self, now):
        if self.rate != float("inf"):
            self.tokens = min(self.capacity, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now

    def take(self):
        while True:
            with self.lock:
                now = time.perf_counter()
                self._refill(now)
                wait = self.paused_until - now
                if wait <= 0 and self.rate != float("inf") and self.tokens < 1:
                    wait = (1 - self.tokens) / self.rate
                if wait <= 0:
                    if self.rate != float("inf"):
                        self.tokens -= 1
                    self.starts.append(now)
                    while self.starts and now - self.starts[0] > 2:
                        self.starts.pop(0)
                    return
            time.sleep(max(0.005, wait))

    def busy(self, seconds):
        with self.lock:
            now = time.perf_counter()
            self.paused_until = max(self.paused_until, now + seconds)
            if now - self.last_slowdown > max(1.0, seconds):
                self._refill(now)
                observed = len(self.starts) / 2
                self.rate = max(1.0, (self.rate if self.rate != float("inf") else max(2.0, observed)) / 2)
                self.capacity = max(1.0, self.rate)
                self.tokens = 0
                self.last_slowdown = now

    def success(self):
        with self.lock:
            if self.rate != float("inf") and self.rate < self.max:
                self.rate = min(self.max, self.rate + 1 / self.rate)
                self.capacity = max(self.capacity, min(self.rate, self.max))


def backoff_seconds(attempt):
    return min(60, 2 ** (attempt - 1)) * (0.75 + random.random() * 0.5)


def send_cd(proxy, files, limits, make_session, target, check_answer):
    """The page's run: CONCURRENCY lanes take the next file, each request paced and retried as
    upload.js does. Returns the wall time and the answers met."""
    pacer = Pacer(limits)
    answers = {}
    lock = threading.Lock()

    def send_one(session, f):
        attempt = busy_attempts = 0
        while True:
            pacer.take()
            r = session.request(*target(f), data=f["body"], timeout=120,
                                allow_redirects=False, verify=proxy.cert)
            with lock:
                answers[r.status_code] = answers.get(r.status_code, 0) + 1
            if r.status_code in (200, 201):
                check_answer(f, r)
                pacer.success()
                return
            if r.status_code not in RETRYABLE:
                raise BenchmarkError("%s: %d %s" % (f["name"], r.status_code, r.text[:300]))
            retry_after = r.headers.get("Retry-After")
            told = retry_after is not None and r.status_code in (429, 503)
            if told:
                busy_attempts += 1
            else:
                attempt += 1
            if attempt >= MAX_ATTEMPTS or busy_attempts >= MAX_BUSY_ATTEMPTS:
                raise BenchmarkError("%s: given up after %d" % (f["name"], r.status_code))
            seconds = max(1.0, float(retry_after)) if told else backoff_seconds(attempt)
            if told:
                pacer.busy(seconds)
            time.sleep(seconds)

    start = time.perf_counter()
    bench_support.run_clients(files, CONCURRENCY, send_one, make_session)
    return time.perf_counter() - start, answers


def run_plugin(server, proxy, files):
    info = proxy.request("GET", "/inbound/api/info", source=SENDER).json()
    body = harness.open_body(consent={"version": info["privacy"]["version"], "accepted": True},
                             sender=harness.sender(email="bench.cd@clinic.example"))
    start = time.perf_counter()
    with proxy.session(SENDER) as s:
        opened = bench_support.check(s.post(proxy.url + "/inbound/api/uploads", json=body,
                                            verify=proxy.cert, timeout=60), "open")
    upload = opened.json()
    limits = upload.get("limits") or info["limits"]
    base = "%s/inbound/api/uploads/%s" % (proxy.url, upload["id"])

    def make_session():
        s = proxy.session(SENDER)
        s.headers.update({"X-Inbound-Token": upload["token"],
                          "Content-Type": "application/octet-stream"})
        return s

    def check_answer(f, r):
        if r.status_code != 201:
            raise BenchmarkError("PUT %s answered %d" % (f["name"], r.status_code))

    sent, answers = send_cd(proxy, files, limits, make_session,
                            lambda f: ("PUT", "%s/files/%s" % (base, f["sha256"])), check_answer)
    with make_session() as s:
        receipt = bench_support.check(s.post(base + "/complete", verify=proxy.cert, timeout=300),
                                      "complete").json()
    if receipt.get("files") != len(files) or receipt.get("state") != "complete":
        raise BenchmarkError("unexpected receipt: %s" % json.dumps(receipt)[:300])
    return time.perf_counter() - start, answers, limits


def run_native(server, proxy, files):
    def make_session():
        s = proxy.session(SENDER)
        s.auth = harness.ADMIN
        s.headers["Content-Type"] = "application/dicom"
        return s

    def check_answer(f, r):
        if r.json().get("Status") != "Success":
            raise BenchmarkError("POST /instances %s: %s" % (f["name"], r.text[:300]))

    seconds, answers = send_cd(proxy, files, None, make_session,
                               lambda f: ("POST", proxy.url + "/instances"), check_answer)
    return seconds, answers, None


def start_pair(mode, plugin, workdir):
    if mode == "native":
        server = flood.NativeOrthanc(workdir)
    else:
        # The sample as shipped; the free-space levels are the test machine's (samples.py).
        server = samples.SampleServer(plugin, "Standalone.json")
        bench_support.relocate(server, workdir, "plugin")
        server.data_directory = os.path.join(server.workdir, "inbound")
    server.start()
    proxy = NginxProxy(server.port, edit_site=flood.native_site if mode == "native" else None).start()
    return server, proxy


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="images on the CD (2000)")
    parser.add_argument("--kib", type=int, default=200, help="KiB of pixels per image (200)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each mode (2)")
    parser.add_argument("--pause", type=float, default=12.0,
                        help="seconds between runs, for every bucket to refill (12)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"))
    parser.add_argument("--plugin", default=bench_support.PLUGIN)
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)
    files = load_cd(args.files, args.kib)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB, plugin %s" % (len(files), total / MB, args.plugin))
    started = time.time()
    runs = []
    servers = {}
    try:
        for mode in ("plugin", "native"):
            workdir = tempfile.mkdtemp(prefix="cd-%s-" % mode, dir=WORK)
            servers[mode] = start_pair(mode, args.plugin, workdir)
        for repeat in range(args.repeats):
            order = ("plugin", "native") if repeat % 2 == 0 else ("native", "plugin")
            for mode in order:
                server, proxy = servers[mode]
                bench_support.settle()
                run = run_plugin if mode == "plugin" else run_native
                seconds, answers, limits = run(server, proxy, files)
                if mode == "native":
                    bench_support.delete_everything(server)
                r = {"mode": mode, "repeat": repeat + 1, "seconds": seconds,
                     "filesPerSecond": len(files) / seconds, "mbPerSecond": total / MB / seconds,
                     "answers": {str(k): v for k, v in sorted(answers.items())}, "limits": limits}
                runs.append(r)
                log("%-6s #%d %6.1f s %6.1f files/s %5.1f MB/s answers %s" % (
                    mode, repeat + 1, seconds, r["filesPerSecond"], r["mbPerSecond"], r["answers"]))
                time.sleep(args.pause)
        for mode, (server, proxy) in servers.items():
            if server.process.poll() is not None:
                raise BenchmarkError("the %s Orthanc died" % mode)
    finally:
        for server, proxy in servers.values():
            proxy.stop()
            proxy.cleanup()
            server.stop()
    medians = {m: statistics.median(r["mbPerSecond"] for r in runs if r["mode"] == m)
               for m in ("plugin", "native")}
    report = {"runId": bench_support.RUN_ID, "files": len(files), "bytes": total,
              "plugin": bench_support.describe_plugin(), "runs": runs,
              "medianMbPerSecond": medians, "ratio": medians["plugin"] / medians["native"],
              "durationSeconds": time.time() - started,
              "finishedAt": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    with open(os.path.join(args.output, "cd.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(args.output, "cd.md"), "w") as f:
        f.write("# CD benchmark: %d files, %.1f MB, through nginx as the upload page sends them\n\n"
                "| mode | run | s | files/s | MB/s | answers |\n| --- | --- | ---: | ---: | ---: | --- |\n"
                % (len(files), total / MB))
        for r in runs:
            f.write("| %s | %d | %.1f | %.1f | %.1f | %s |\n" % (
                r["mode"], r["repeat"], r["seconds"], r["filesPerSecond"], r["mbPerSecond"],
                ", ".join("%s: %d" % kv for kv in r["answers"].items())))
        f.write("\nMedian MB/s: plugin %.1f, native %.1f: plugin / native **%.2f**.\n" % (
            medians["plugin"], medians["native"], report["ratio"]))
    log("plugin %.1f MB/s, native %.1f MB/s: ratio %.2f" % (
        medians["plugin"], medians["native"], report["ratio"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("cd.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
