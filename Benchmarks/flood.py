#!/usr/bin/python3
"""Flood benchmark of Orthanc Inbound.
Over 500 lines: one benchmark, read top to bottom: method, flooders, samplers, report, plot.

While one client floods the gateway through the TLS proxy far over its limits, a legitimate
client uploads the 300-instance CT study of the ingest benchmark. Measured: the legitimate
client's throughput with and without the flood, the answers the flooder gets per second (nginx's
429, the plugin's 503 rate-limited, the filter's 403 once banned, ...), and the memory of
Orthanc and of nginx.

Set-up, all on loopback:
  - Orthanc 1.10.1 with the plugin, started from Resources/Configurations/Gateway.json (only
    ports, folders, the plugin's path and the admin's password replaced; Limits and Quotas as
    shipped; the AutoBan section as shipped or, in the "no-autoban" scenario, switched off);
  - the shipped nginx site in front of it (IntegrationTests/proxy.py: self-signed certificate,
    one nginx worker);
  - the legitimate client from 127.0.0.2: POST /inbound/api/uploads, PUT every file (4 keep-alive
    HTTPS sessions, as the browser sends a few files at a time), POST .../complete; a 503 or 429
    is retried after Retry-After (1 s when absent), as the upload page does;
  - the flooder from 127.0.0.3: processes of threads, each on its own TLS connection, sending
    GET /inbound/api/info and bogus PUTs (unknown upload, wrong token, 16 KiB body) as fast as
    answers come back, plus one thread per process that opens a new TLS connection for every
    request; bounded in time.

Scenario "native": Orthanc without the plugin behind the same nginx site, its locations replaced
by one proxying every path (same TLS, limits, timeouts; Orthanc's own authentication); the
legitimate client POSTs /instances with credentials, the flooder sends GET /system without and
bogus POST /instances with wrong ones. The flood starts --lead s before the legitimate upload and
ends --flood-tail s after it.

Every scenario runs "unloaded" and "flood" uploads alternately (3 of each by default) in one
gateway; the ratio of the medians is reported. This is a measurement, not a test: nothing is
asserted about the timings. The script exits non-zero only if something went wrong (an answer to
the legitimate client that is neither 2xx nor a rate limit, a wrong receipt, a process dying).

Outputs: results/flood.json, results/flood.md, results/flood.png (beside this script).
"""

import argparse
import base64
import collections
import datetime
import json
import os
import random
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (HERE, os.path.join(REPO, "IntegrationTests"), os.path.join(REPO, "Resources", "Scripts")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import bench_study  # noqa: E402  Benchmarks: the generated CT study
import bench_support  # noqa: E402  Benchmarks: /proc readers, clients, machine description
import configtool  # noqa: E402  Resources/Scripts: reads the commented sample configuration
import harness  # noqa: E402    IntegrationTests: Orthanc processes
from bench_support import MB, BenchmarkError  # noqa: E402
from proxy import NginxProxy  # noqa: E402

SAMPLE = os.path.join(REPO, "Resources", "Configurations", "Gateway.json")
LEGIT_ADDRESS = "127.0.0.2"
FLOOD_ADDRESS = "127.0.0.3"
API = "/inbound/api/uploads"
SCENARIOS = {
    # The sample's AutoBan section; LimitHits is not in it, so the plugin's default (2000) holds.
    "shipped": None,
    # Never banned: the flooder keeps meeting the rate limits for the whole flood.
    "no-autoban": {"Refusals": 0, "LimitHits": 0},
    # Native Orthanc without the plugin behind the same nginx (same TLS, same per-address
    # limit_req and limit_conn; every path proxied, Orthanc's own authentication): the
    # legitimate client POSTs /instances with credentials; the flooder sends GET /system without
    # and bogus POST /instances with wrong ones.
    "native": None,
}
NATIVE = "native"
SCENARIO_NAMES = {"shipped": "plugin, AutoBan as shipped", "no-autoban": "plugin, AutoBan off",
                  "native": "native Orthanc"}


def log(message):
    print("[flood %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------- the flooder
# Runs as separate processes (flood.py --flooder-worker JSON), stopped by their pid.

def _read_answer(sock, buffer):
    """Reads one HTTP/1.1 answer; returns (status, body, keep_alive, rest of the buffer)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        buffer += chunk
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers[key.strip().lower()] = value.strip().lower()
    keep_alive = headers.get(b"connection") != b"close"
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed within a body")
            buffer += chunk
        return status, buffer[:length], keep_alive, buffer[length:]
    if headers.get(b"transfer-encoding") == b"chunked":
        while b"0\r\n\r\n" not in buffer:  # good enough for these small answers
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed within a chunked body")
            buffer += chunk
        body, _, rest = buffer.partition(b"0\r\n\r\n")
        return status, body, keep_alive, rest
    return status, b"", False, b""  # no length: the body ends with the connection


def _label(status, body):
    if status == 429:
        return "429 nginx"
    if status == 503:
        return "503 rate-limited" if b"rate-limited" in body else "503 other"
    if status == 403:
        return "403 filter"
    if status == 401:
        return "401 Orthanc"
    if status == 404:
        return "404 not-found"
    if status == 400:
        return "400"
    if 200 <= status < 300:
        return "2xx"
    return str(status)


def flooder_worker(spec):
    """One flooder process: spec["threads"] keep-alive threads and one thread opening a new TLS
    connection per request, until spec["until"] (a time.time()). Writes counts per second."""
    t0 = spec["t0"]
    until = spec["until"]
    counts = collections.Counter()  # (second, kind, label) -> answers
    handshakes = collections.Counter()  # second -> new TLS connections
    closed = collections.Counter()  # label -> answers after which the server closed
    errors = collections.Counter()
    lock = threading.Lock()
    body = os.urandom(16384)

    def make_request(kind, rng):
        if spec.get("native"):
            if kind == "info":
                return (b"GET /system HTTP/1.1\r\nHost: localhost\r\nUser-Agent: flood\r\n\r\n")
            return (("POST /instances HTTP/1.1\r\nHost: localhost\r\n"
                     "Authorization: Basic %s\r\nContent-Type: application/dicom\r\n"
                     "Content-Length: %d\r\n\r\n"
                     % (base64.b64encode(b"admin:%032x" % rng.getrandbits(128)).decode(), len(body)))
                    .encode() + body)
        if kind == "info":
            return (b"GET /inbound/api/info HTTP/1.1\r\nHost: localhost\r\n"
                    b"User-Agent: flood\r\n\r\n")
        path = "%s/%032x/files/%064x" % (API, rng.getrandbits(128), rng.getrandbits(256))
        return (("PUT %s HTTP/1.1\r\nHost: localhost\r\nX-Inbound-Token: %032x\r\n"
                 "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                 % (path, rng.getrandbits(128), len(body))).encode() + body)

    def connect(context):
        raw = socket.create_connection(("127.0.0.1", spec["port"]), timeout=10,
                                       source_address=(spec["source"], 0))
        # A PUT is two TLS records: without this, Nagle and delayed ACKs stall each for ~40 ms.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s = context.wrap_socket(raw, server_hostname="localhost")
        except Exception:
            raw.close()
            raise
        with lock:
            handshakes[int(time.time() - t0)] += 1
        return s

    def abort(sock):
        # Closed with a reset, as a flooder would: a normal close leaves the socket in TIME_WAIT
        # for 60 s, and hundreds of new connections per second would leave no free local port
        # on this machine for anyone (Orthanc included) to listen on.
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sock.close()

    def run(index, new_connection_each_time):
        context = ssl.create_default_context(cafile=spec["cert"])
        rng = random.Random(index * 7919 + os.getpid())
        sock, buffer, n = None, b"", 0
        next_check = 0.0
        while True:
            now = time.time()
            if now >= until:
                break
            if now >= next_check:  # the run asks the flood to end once the upload is done
                if os.path.exists(spec["stopFile"]):
                    break
                next_check = now + 0.1
            kind = "info" if n % 2 == 0 else "put"
            n += 1
            try:
                if sock is None:
                    sock, buffer = connect(context), b""
                sock.sendall(make_request(kind, rng))
                status, answer, keep_alive, buffer = _read_answer(sock, buffer)
                label = _label(status, answer)
                with lock:
                    counts[(int(time.time() - t0), kind, label)] += 1
                    if not keep_alive:
                        closed[label] += 1
                if not keep_alive or new_connection_each_time:
                    abort(sock)
                    sock = None
            except (OSError, ValueError, IndexError) as e:
                with lock:
                    errors[type(e).__name__] += 1
                    counts[(int(time.time() - t0), kind, "connection error")] += 1
                if sock is not None:
                    abort(sock)
                sock = None
                time.sleep(0.01)
        if sock is not None:
            abort(sock)

    threads = [threading.Thread(target=run, args=(i, i >= spec["threads"]))
               for i in range(spec["threads"] + spec["handshakeThreads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = os.times()
    with open(spec["output"], "w") as f:
        json.dump({"stoppedAt": time.time(),
                   "counts": [[s, k, l, c] for (s, k, l), c in sorted(counts.items())],
                   "handshakes": sorted(handshakes.items()), "errors": dict(errors),
                   "closedByServer": dict(closed),
                   "cpuSeconds": cpu.user + cpu.system}, f)


class Flood:
    """The flooder processes of one loaded run."""

    def __init__(self, proxy, workdir, processes, threads, handshake_threads, seconds, native):
        self.t0 = time.time()
        self.until = self.t0 + seconds
        self.seconds = seconds
        self.outputs = []
        self.processes = []
        self.stop_file = os.path.join(workdir, "flood-stop-%d" % int(self.t0 * 1000))
        for i in range(processes):
            output = os.path.join(workdir, "flooder-%d-%d.json" % (int(self.t0), i))
            spec = {"port": proxy.port, "cert": proxy.cert, "source": FLOOD_ADDRESS,
                    "threads": threads, "handshakeThreads": handshake_threads,
                    "t0": self.t0, "until": self.until, "output": output,
                    "stopFile": self.stop_file, "native": native}
            self.outputs.append(output)
            self.processes.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--flooder-worker", json.dumps(spec)],
                stdin=subprocess.DEVNULL))
        self.pids = [p.pid for p in self.processes]

    def end(self):
        """Asks the flooders to stop (they look every 0.1 s)."""
        with open(self.stop_file, "w"):
            pass

    def wait(self):
        deadline = self.until + 30
        for p in self.processes:
            try:
                p.wait(max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
                raise BenchmarkError("a flooder process (pid %d) overran its time" % p.pid)
        for p in self.processes:
            if p.returncode != 0:
                raise BenchmarkError("a flooder process (pid %d) exited with %d" % (p.pid, p.returncode))
        counts = collections.Counter()
        handshakes = collections.Counter()
        errors = collections.Counter()
        closed = collections.Counter()
        cpu = 0.0
        stopped = self.t0
        for output in self.outputs:
            with open(output) as f:
                r = json.load(f)
            os.unlink(output)
            stopped = max(stopped, r["stoppedAt"])
            for s, k, l, c in r["counts"]:
                counts[(s, k, l)] += c
            for s, c in r["handshakes"]:
                handshakes[s] += c
            errors.update(r["errors"])
            closed.update(r["closedByServer"])
            cpu += r["cpuSeconds"]
        if os.path.exists(self.stop_file):
            os.unlink(self.stop_file)
        # Whole seconds of flood only: the last, partial one is left out of the rates.
        seconds = max(1, min(self.seconds, int(stopped - self.t0)))
        result = summarize_flood(counts, handshakes, errors, cpu, seconds)
        result["durationSeconds"] = stopped - self.t0
        result["closedByServer"] = dict(closed)
        return result

    def stop(self):
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)


def summarize_flood(counts, handshakes, errors, cpu, seconds):
    """Answers per second and by label; only whole seconds inside the flood are kept."""
    per_second = collections.defaultdict(collections.Counter)  # label -> second -> count
    by_kind = collections.defaultdict(collections.Counter)  # kind -> label -> count
    for (s, k, l), c in counts.items():
        if 0 <= s < seconds:
            per_second[l][s] += c
            by_kind[k][l] += c
    totals = {l: sum(v.values()) for l, v in per_second.items()}
    return {
        "seconds": seconds,
        "perSecond": {l: [v.get(s, 0) for s in range(seconds)] for l, v in per_second.items()},
        "handshakesPerSecond": [handshakes.get(s, 0) for s in range(seconds)],
        "totals": totals,
        "byKind": {k: dict(v) for k, v in by_kind.items()},
        "answersPerSecond": sum(totals.values()) / seconds,
        "errors": dict(errors),
        "cpuSeconds": cpu,
    }


# --------------------------------------------------------------------------- the gateway

class Gateway(harness.OrthancServer):
    """Orthanc started from the Gateway sample: only ports, folders, the plugin's path and the
    admin's password are replaced (as IntegrationTests/test_gateway.py does); AutoBan may be
    overridden per scenario."""

    def __init__(self, plugin, workdir, autoban=None):
        super().__init__(plugin, startup_timeout=60)
        shutil.rmtree(self.workdir, ignore_errors=True)  # harness made one in /tmp: use ours
        self.workdir = workdir
        self.storage = os.path.join(workdir, "db")
        os.makedirs(self.storage)
        self.config_path = os.path.join(workdir, "config.json")
        self.log_path = os.path.join(workdir, "orthanc.log")
        self.data_directory = os.path.join(workdir, "inbound")
        self.autoban = autoban

    def configuration(self):
        config = configtool.load(SAMPLE)
        config.update({"StorageDirectory": self.storage, "IndexDirectory": self.storage,
                       "HttpPort": self.port, "Plugins": [self.plugin],
                       "RegisteredUsers": {harness.ADMIN[0]: harness.ADMIN[1]}})
        config["Inbound"]["DataDirectory"] = self.data_directory
        for puller in config["Inbound"].get("Pullers", []):  # the sample's is a placeholder,
            puller["Password"] = "bench-flood-puller-secret"  # refused at start-up
        # The sample's Internal public key is a file of the hospital's: the gateway seals for
        # the harness's key pair instead (as IntegrationTests/samples.py does).
        config["Inbound"].setdefault("Sealing", {}).pop("PublicKeys", None)
        harness.SealingKeys.apply(config["Inbound"])
        if self.autoban:
            config["Inbound"]["AutoBan"] = harness.merge(config["Inbound"].get("AutoBan", {}),
                                                         self.autoban)
        return config

    def admin_json(self, method, path, **kwargs):
        r = self.admin(method, path, **kwargs)
        bench_support.check(r, "%s %s" % (method, path))
        return r.json() if r.content else None

    def alive(self):
        if not self.running():
            raise BenchmarkError("Orthanc died:\n%s" % self.log_tail(40))


class NativeOrthanc(Gateway):
    """Orthanc without the plugin, as a hospital runs it to receive files over HTTPS: Orthanc's
    own authentication on, loopback only (nginx in front)."""

    def __init__(self, workdir):
        super().__init__(None, workdir)

    def configuration(self):
        return {"Name": "NativeBench", "StorageDirectory": self.storage,
                "IndexDirectory": self.storage, "HttpPort": self.port, "DicomServerEnabled": False,
                "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
                "RegisteredUsers": {harness.ADMIN[0]: harness.ADMIN[1]},
                "HttpDescribeErrors": False, "WebDavEnabled": False, "Plugins": []}


def native_site(site):
    """The shipped site with its locations replaced by one that proxies everything to Orthanc:
    the same TLS settings, body cap, timeouts and per-address limits (limit_req 50 r/s, burst
    200; limit_conn 16), without the plugin's routes and login check."""
    start = site.index("    # The public upload page and API")
    return site[:start] + "    location / {\n        proxy_pass http://inbound_orthanc;\n    }\n}\n"


def children(pid):
    """The direct children of a process (nginx's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def nginx_pids(proxy):
    return [proxy.process.pid] + children(proxy.process.pid)


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            total += bench_support.proc_status(pid)["VmRSS"]
        except (OSError, KeyError):
            pass
    return total


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            total += bench_support.proc_cpu_seconds(pid)
        except OSError:
            pass
    return total


class Sampler:
    """VmRSS of Orthanc and of nginx (master + workers) every 50 ms, with a timeline."""

    def __init__(self, orthanc_pid, proxy, interval=0.05):
        self.orthanc_pid = orthanc_pid
        self.proxy = proxy
        self.interval = interval
        self.timeline = []  # (t, orthanc kB, nginx kB)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="sampler", daemon=True)

    def loop(self):
        pids = nginx_pids(self.proxy)
        start = time.time()
        while not self.stop_event.is_set():
            try:
                o = bench_support.proc_status(self.orthanc_pid)["VmRSS"]
            except OSError:
                return
            self.timeline.append((round(time.time() - start, 3), o, rss_kb(pids)))
            self.stop_event.wait(self.interval)

    def __enter__(self):
        self.start = time.time()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()

    def peaks(self):
        if not self.timeline:
            return 0, 0
        return max(t[1] for t in self.timeline), max(t[2] for t in self.timeline)


# --------------------------------------------------------------------------- the legitimate client

def legit_upload(gateway, proxy, files, clients, consent_version, native=False):
    """The study through nginx from LEGIT_ADDRESS, as the upload page sends it: a 503/429 is
    retried after Retry-After. Returns timings, retries and the upload's id. native: POST
    /instances of every file with credentials instead (no upload to open or complete)."""
    url = proxy.url + API
    retries = collections.Counter()
    slept = [0.0]  # summed over the sessions, which wait in parallel
    first_refusal = []  # perf_counter of the first 503/429
    done = []  # perf_counter of every file stored
    lock = threading.Lock()

    def send(session, method, target, max_attempts=200, **kwargs):
        for _ in range(max_attempts):
            r = session.request(method, target, timeout=120, allow_redirects=False,
                                verify=proxy.cert, **kwargs)  # REQUESTS_CA_BUNDLE would win
            if r.status_code in (429, 503):
                code = "429" if r.status_code == 429 else "503 " + _error_code(r)
                wait = float(r.headers.get("Retry-After", "1") or 1)
                with lock:
                    retries[code] += 1
                    slept[0] += wait
                    if not first_refusal:
                        first_refusal.append(time.perf_counter())
                time.sleep(wait)
                continue
            return r
        raise BenchmarkError("%s %s: still refused after %d attempts" % (method, target, max_attempts))

    if native:
        start = time.perf_counter()

        def make_native_session():
            s = proxy.session(LEGIT_ADDRESS)
            s.auth = harness.ADMIN
            s.headers["Content-Type"] = "application/dicom"
            return s

        def post_one(session, f):
            r = bench_support.check(send(session, "POST", proxy.url + "/instances", data=f["body"]),
                                    "POST /instances (%s)" % f["name"])
            if r.json().get("Status") != "Success":
                raise BenchmarkError("POST /instances (%s): %s" % (f["name"], r.text[:300]))
            with lock:
                done.append(time.perf_counter())

        latencies = bench_support.run_clients(files, clients, post_one, make_native_session)
        wall = time.perf_counter() - start
        burst_end = first_refusal[0] if first_refusal else time.perf_counter()
        return {"seconds": wall, "latencies": latencies, "retries": dict(retries),
                "retryWaitSessionSeconds": slept[0], "uploadId": None,
                "burstFiles": sum(1 for t in done if t <= burst_end),
                "burstSeconds": burst_end - start}

    body = harness.open_body(consent={"version": consent_version, "accepted": True},
                             sender=harness.sender(email="bench.flood@clinic.example"))
    start = time.perf_counter()
    with proxy.session(LEGIT_ADDRESS) as s:
        opened = bench_support.check(send(s, "POST", url, json=body), "POST " + API)
    if opened.status_code != 201:
        raise BenchmarkError("opening an upload answered %d" % opened.status_code)
    upload = opened.json()
    headers = {"X-Inbound-Token": upload["token"], "Content-Type": "application/octet-stream"}

    def make_session():
        s = proxy.session(LEGIT_ADDRESS)
        s.headers.update(headers)
        return s

    def send_one(session, f):
        r = bench_support.check(
            send(session, "PUT", "%s/%s/files/%s" % (url, upload["id"], f["sha256"]),
                 data=f["body"]), "PUT file %s" % f["name"])
        if r.status_code != 201:
            raise BenchmarkError("PUT file %s answered %d, not 201" % (f["name"], r.status_code))
        with lock:
            done.append(time.perf_counter())

    latencies = bench_support.run_clients(files, clients, send_one, make_session)
    with make_session() as s:
        receipt = bench_support.check(send(s, "POST", "%s/%s/complete" % (url, upload["id"])),
                                      "POST .../complete").json()
    wall = time.perf_counter() - start
    if receipt.get("files") != len(files) or receipt.get("state") != "complete":
        raise BenchmarkError("unexpected receipt: %s" % json.dumps(receipt)[:500])
    # Before the first rate-limit refusal the client sends as fast as the gateway takes files:
    # that phase shows what a flood costs the gateway, the paced rest shows the limit.
    burst_end = first_refusal[0] if first_refusal else time.perf_counter()
    burst_files = sum(1 for t in done if t <= burst_end)
    return {"seconds": wall, "latencies": latencies, "retries": dict(retries),
            "retryWaitSessionSeconds": slept[0], "uploadId": upload["id"],
            "burstFiles": burst_files, "burstSeconds": burst_end - start}


def _error_code(response):
    try:
        return str(response.json().get("error"))
    except ValueError:
        return "?"


# --------------------------------------------------------------------------- one run

def ban_list(answer):
    """The bans of GET /inbound/admin/bans or of the "bans" of GET /inbound/admin/limits."""
    if isinstance(answer, dict):
        answer = answer.get("bans", [])
    return answer if isinstance(answer, list) else []


def measure(gateway, proxy, files, args, scenario, loaded, label, workdir):
    native = scenario == NATIVE
    gateway.alive()
    bench_support.settle()
    # Each run starts alike: the flooder not banned (a ban lasts 900 s), every bucket refilled.
    limits_before = {}
    if not native:
        for ban in ban_list(gateway.admin_json("GET", "/inbound/admin/bans")):
            if ban.get("active") and ban.get("entry") in (FLOOD_ADDRESS, LEGIT_ADDRESS):
                gateway.admin_json("DELETE", "/inbound/admin/bans/" + ban["entry"])
        limits_before = gateway.admin_json("GET", "/inbound/admin/limits")
    pid = gateway.process.pid
    npids = nginx_pids(proxy)
    hwm_before = bench_support.proc_status(pid)["VmHWM"]
    load = os.getloadavg()
    busy_before = bench_support.system_busy_seconds()
    orthanc_cpu_before = bench_support.proc_cpu_seconds(pid)
    nginx_cpu_before = cpu_seconds(npids)
    me_before = os.times()
    flood = None
    try:
        with Sampler(pid, proxy) as sampler:
            if loaded:
                flood = Flood(proxy, workdir, args.flood_processes, args.flood_threads,
                              args.handshake_threads, args.flood_seconds, native)
                time.sleep(args.lead)
            upload_start = time.time()
            outcome = legit_upload(gateway, proxy, files, args.clients, args.consent_version,
                                   native)
            upload_end = time.time()
            if flood:
                if upload_end > flood.until:
                    raise BenchmarkError("%s: the upload outlasted the flood (--flood-seconds %d)"
                                         % (label, args.flood_seconds))
                time.sleep(args.flood_tail)
                flood.end()
            flood_result = flood.wait() if flood else None
    finally:
        if flood:
            flood.stop()
    me_after = os.times()
    busy_after = bench_support.system_busy_seconds()
    orthanc_cpu = bench_support.proc_cpu_seconds(pid) - orthanc_cpu_before
    nginx_cpu = cpu_seconds(npids) - nginx_cpu_before
    hwm_after = bench_support.proc_status(pid)["VmHWM"]
    gateway.alive()
    if native:
        limits_after, bans = {}, None
        staged_files = gateway.admin_json("GET", "/statistics")["CountInstances"]
        if staged_files != len(files):
            raise BenchmarkError("%s: native Orthanc holds %d instances, not %d"
                                 % (label, staged_files, len(files)))
        bench_support.delete_everything(gateway)
        deleted = True
    else:
        limits_after = gateway.admin_json("GET", "/inbound/admin/limits")
        bans = limits_after.get("bans")
        staged = gateway.admin_json("GET", "/inbound/admin/uploads/" + outcome["uploadId"])
        staged_files = staged.get("files") if isinstance(staged.get("files"), int) else \
            staged.get("upload", {}).get("files", staged.get("fileCount"))
        if staged_files != len(files):
            raise BenchmarkError("%s: the gateway staged %s files, not %d"
                                 % (label, staged_files, len(files)))
        # Keeps the disk from filling over the runs; the study was received whole (the receipt).
        r = gateway.admin("DELETE", "/inbound/admin/uploads/" + outcome["uploadId"])
        deleted = 200 <= r.status_code < 300

    total = sum(len(f["body"]) for f in files)
    wall = outcome["seconds"]
    me = (me_after.user + me_after.system) - (me_before.user + me_before.system)
    flood_cpu = flood_result["cpuSeconds"] if flood_result else 0.0
    refusals = {k: v - limits_before.get("refusals", {}).get(k, 0)
                for k, v in limits_after.get("refusals", {}).items()
                if v - limits_before.get("refusals", {}).get(k, 0)}
    window = (sampler.start, sampler.start + (sampler.timeline[-1][0] if sampler.timeline else 0))
    lat = sorted(outcome["latencies"])
    result = {
        "scenario": scenario, "loaded": loaded, "label": label,
        "files": len(files), "bytes": total,
        "seconds": wall, "mbPerSecond": total / MB / wall, "filesPerSecond": len(files) / wall,
        "retryWaitSessionSeconds": outcome["retryWaitSessionSeconds"],
        "burstFiles": outcome["burstFiles"], "burstSeconds": outcome["burstSeconds"],
        "burstMbPerSecond": (sum(len(f["body"]) for f in files[:outcome["burstFiles"]]) / MB
                             / outcome["burstSeconds"]) if outcome["burstFiles"] else 0.0,
        "legitRetries": outcome["retries"],
        "latencyMsMedian": 1000 * statistics.median(lat),
        "latencyMsP95": 1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))],
        "orthancCpuSeconds": orthanc_cpu, "nginxCpuSeconds": nginx_cpu,
        "flooderCpuSeconds": flood_cpu,
        "benchmarkProcessCpuSeconds": me,
        "otherCpuSeconds": max(0.0, (busy_after - busy_before) - orthanc_cpu - nginx_cpu - me - flood_cpu),
        "intervalSeconds": window[1] - window[0],
        "loadAverageBefore": [round(v, 2) for v in load],
        "orthancRssKbPeakSampled": sampler.peaks()[0], "nginxRssKbPeakSampled": sampler.peaks()[1],
        "orthancHwmKbBefore": hwm_before, "orthancHwmKbAfter": hwm_after,
        "rssTimeline": sampler.timeline[::4],
        "pluginRefusalsByCode": refusals,
        "bansAfter": bans,
        "stagedFiles": staged_files, "deletedAfterwards": deleted,
    }
    if flood:
        result["flood"] = flood_result
        result["flood"]["uploadStartSecond"] = upload_start - flood.t0
        result["flood"]["uploadEndSecond"] = upload_end - flood.t0
        ban = [b for b in ban_list(bans) if b.get("entry") == FLOOD_ADDRESS]
        if ban:
            created = datetime.datetime.fromisoformat(ban[0]["createdAt"].rstrip("Z")) \
                .replace(tzinfo=datetime.timezone.utc).timestamp()
            result["flood"]["bannedAfterSeconds"] = created - flood.t0
            result["flood"]["banReason"] = ban[0].get("reason")
        first403 = [s for s, c in enumerate(flood_result["perSecond"].get("403 filter", [])) if c]
        if first403:
            result["flood"]["first403Second"] = first403[0]
    return result


# --------------------------------------------------------------------------- reports

def summarize(runs):
    summary = {}
    for scenario in sorted({r["scenario"] for r in runs}, key=list(SCENARIOS).index):
        entry = {}
        for loaded in (False, True):
            chosen = [r for r in runs if r["scenario"] == scenario and r["loaded"] == loaded]
            if not chosen:
                continue
            v = {
                "runs": len(chosen),
                "mbPerSecond": statistics.median(r["mbPerSecond"] for r in chosen),
                "mbPerSecondMin": min(r["mbPerSecond"] for r in chosen),
                "mbPerSecondMax": max(r["mbPerSecond"] for r in chosen),
                "filesPerSecond": statistics.median(r["filesPerSecond"] for r in chosen),
                "seconds": statistics.median(r["seconds"] for r in chosen),
                "burstMbPerSecond": statistics.median(r["burstMbPerSecond"] for r in chosen),
                "burstFiles": statistics.median(r["burstFiles"] for r in chosen),
                "rateLimitRetries": statistics.median(sum(r["legitRetries"].values()) for r in chosen),
                "latencyMsMedian": statistics.median(r["latencyMsMedian"] for r in chosen),
                "orthancRssKbPeakSampled": max(r["orthancRssKbPeakSampled"] for r in chosen),
                "nginxRssKbPeakSampled": max(r["nginxRssKbPeakSampled"] for r in chosen),
                "orthancHwmKbAfter": max(r["orthancHwmKbAfter"] for r in chosen),
            }
            if loaded:
                floods = [r["flood"] for r in chosen]
                labels = sorted({l for f in floods for l in f["totals"]})
                v["flooderAnswersPerSecond"] = statistics.median(f["answersPerSecond"] for f in floods)
                v["flooderPerSecondByLabel"] = {
                    l: statistics.median(f["totals"].get(l, 0) / f["seconds"] for f in floods)
                    for l in labels}
                v["handshakesPerSecond"] = statistics.median(
                    sum(f["handshakesPerSecond"]) / f["seconds"] for f in floods)
                v["bannedAfterSeconds"] = [f.get("bannedAfterSeconds") for f in floods]
                v["first403Second"] = [f.get("first403Second") for f in floods]
                v["flooderCpuSecondsPerSecond"] = statistics.median(
                    f["cpuSeconds"] / f.get("durationSeconds", f["seconds"]) for f in floods)
                v["nginxCpuSecondsPerSecond"] = statistics.median(
                    r["nginxCpuSeconds"] / r["intervalSeconds"] for r in chosen)
                v["orthancCpuSecondsPerSecond"] = statistics.median(
                    r["orthancCpuSeconds"] / r["intervalSeconds"] for r in chosen)
            entry["loaded" if loaded else "unloaded"] = v
        if "loaded" in entry and "unloaded" in entry:
            entry["ratio"] = entry["loaded"]["mbPerSecond"] / entry["unloaded"]["mbPerSecond"]
            entry["burstRatio"] = (entry["loaded"]["burstMbPerSecond"]
                                   / entry["unloaded"]["burstMbPerSecond"]
                                   if entry["unloaded"]["burstMbPerSecond"] else None)
        summary[scenario] = entry
    # Each plugin scenario against native Orthanc behind the same nginx, in the same run.
    native = summary.get(NATIVE, {})
    if "ratio" in native:
        for scenario, entry in summary.items():
            if scenario == NATIVE or "ratio" not in entry:
                continue
            entry["versusNative"] = {
                "floodMbPerSecond": entry["loaded"]["mbPerSecond"] / native["loaded"]["mbPerSecond"],
                "unloadedMbPerSecond": (entry["unloaded"]["mbPerSecond"]
                                        / native["unloaded"]["mbPerSecond"]),
                "retention": entry["ratio"] / native["ratio"],
                "burstRetention": (entry["burstRatio"] / native["burstRatio"]
                                   if entry.get("burstRatio") and native.get("burstRatio") else None),
                "orthancRssPeakFlood": (entry["loaded"]["orthancRssKbPeakSampled"]
                                        / native["loaded"]["orthancRssKbPeakSampled"]),
                "orthancHwm": (max(entry[k]["orthancHwmKbAfter"] for k in ("loaded", "unloaded"))
                               / max(native[k]["orthancHwmKbAfter"] for k in ("loaded", "unloaded"))),
            }
    return summary


def fmt_rate(x):
    return "%.0f" % x if x >= 10 else "%.1f" % x


LABEL_ORDER = ["429 nginx", "503 rate-limited", "403 filter", "401 Orthanc", "404 not-found", "400", "2xx",
               "503 other", "connection error"]


def ordered_labels(labels):
    return [l for l in LABEL_ORDER if l in labels] + sorted(l for l in labels if l not in LABEL_ORDER)


def write_markdown(path, report):
    s = report["summary"]
    d = report["dataset"]
    a = report["arguments"]
    lines = [
        "# Flood benchmark — results",
        "",
        "Generated by `Benchmarks/run.sh flood` on %s (UTC). The gateway runs "
        "`Resources/Configurations/Gateway.json` (Limits and Quotas as shipped) behind the shipped "
        "nginx site (one worker). Legitimate client from %s: %d CT files, %.1f MB, through nginx "
        "over HTTPS, %d keep-alive sessions, retrying 503/429 after `Retry-After`. Flooder from "
        "%s: %d processes × (%d keep-alive + %d new-connection-per-request threads), GET "
        "`/inbound/api/info` and bogus PUTs (16 KiB); the legitimate upload "
        "starts %.0f s into the flood, which ends %.0f s after the upload. Unloaded and flood runs "
        "alternate, %d of each per scenario; medians. MB = 10^6 bytes. Scenario `native`: Orthanc "
        "without the plugin behind the same nginx (same TLS, body cap, timeouts and per-address "
        "limits; every path proxied, Orthanc's own authentication): the legitimate client POSTs "
        "`/instances` with credentials, the flooder sends `GET /system` without and bogus "
        "`POST /instances` (16 KiB) with wrong credentials (Orthanc answers 401)."
        % (report["finishedAt"], LEGIT_ADDRESS, d["files"], d["bytes"] / MB, a["clients"],
           FLOOD_ADDRESS, a["flood_processes"], a["flood_threads"], a["handshake_threads"],
           a["lead"], a["flood_tail"], a["repeats"]),
        "",
        "## The legitimate client",
        "",
        "| scenario | run | MB/s (median) | min – max | files/s | s per upload | 503/429 met | PUT latency ms (median) | flood / unloaded | before the first 503: files, MB/s | flood / unloaded |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, e in s.items():
        for key in ("unloaded", "loaded"):
            v = e.get(key)
            if not v:
                continue
            lines.append("| %s | %s | %.1f | %.1f – %.1f | %.1f | %.2f | %.0f | %.1f | %s | %.0f, %.1f | %s |" % (
                scenario, "flood" if key == "loaded" else "unloaded", v["mbPerSecond"],
                v["mbPerSecondMin"], v["mbPerSecondMax"], v["filesPerSecond"], v["seconds"],
                v["rateLimitRetries"], v["latencyMsMedian"],
                "**%.2f**" % e["ratio"] if key == "loaded" and "ratio" in e else "",
                v["burstFiles"], v["burstMbPerSecond"],
                "%.2f" % e["burstRatio"] if key == "loaded" and e.get("burstRatio") else ""))
    lines += [
        "",
        "The legitimate client has its own per-address limits (nginx: 50 r/s after 200; the "
        "plugin: its files 100/s after 1,000, `Limits.FilesPerSecond`, its other calls 20 "
        "requests/s after 200): the first ~200 files go as fast as the gateway takes them, the "
        "rest is paced by nginx's 429 (retried after 1 s), as the upload page would be. The "
        "MB/s before the first 503/429 (the burst phase) is where the flood's cost to the "
        "gateway shows.",
    ]
    versus = [(sc, e["versusNative"]) for sc, e in s.items() if "versusNative" in e]
    if versus:
        lines += [
            "",
            "## Against native Orthanc behind the same nginx (plugin / native)",
            "",
            "| scenario | legitimate MB/s during the flood | unloaded | flood / unloaded kept "
            "| … before the first 503/429 | Orthanc peak VmRSS during the floods "
            "| Orthanc VmHWM at the end |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for sc, v in versus:
            lines.append("| %s | **%.2f** | %.2f | %.2f | %s | %.2f | %.2f |" % (
                sc, v["floodMbPerSecond"], v["unloadedMbPerSecond"], v["retention"],
                "%.2f" % v["burstRetention"] if v.get("burstRetention") else "—",
                v["orthancRssPeakFlood"], v["orthancHwm"]))
        lines += [
            "",
            "Both senders meet nginx's 50 r/s after 200 first (the plugin's files limit, 100/s "
            "after 1,000, is above it): the ratio of what each keeps under the flood is the "
            "flood's own effect. Native Orthanc stores the "
            "study in its own storage and index (its memory grows with that); the plugin's "
            "gateway only stages the files.",
        ]
    lines += ["", "## What the flooder got, per second (median over the flood runs)", ""]
    labels = ordered_labels({l for e in s.values() for l in e.get("loaded", {}).get("flooderPerSecondByLabel", {})})
    lines += ["| scenario | answers/s in all | " + " | ".join(labels) + " | new TLS connections/s | banned after (s) |",
              "| --- | ---: | " + " | ".join("---:" for _ in labels) + " | ---: | --- |"]
    for scenario, e in s.items():
        v = e.get("loaded")
        if not v:
            continue
        banned = "— (no bans)" if scenario == NATIVE else ", ".join(
            "%.2f" % b if b is not None else "never" for b in v["bannedAfterSeconds"])
        lines.append("| %s | %s | %s | %s | %s |" % (
            scenario, fmt_rate(v["flooderAnswersPerSecond"]),
            " | ".join(fmt_rate(v["flooderPerSecondByLabel"].get(l, 0)) for l in labels),
            fmt_rate(v["handshakesPerSecond"]), banned))
    lines += [
        "",
        "429 comes from nginx (`limit_req` 50 r/s, burst 200, per address), 401 from native "
        "Orthanc (no or wrong credentials), 503 `rate-limited` "
        "from the plugin's handler (20 requests/s, burst 200: the bogus PUTs and info calls), "
        "403 from the plugin's filter before "
        "the body is read (the ban), 404 `not-found` from the handler (the bogus PUT's upload). "
        "\"banned after\": seconds from the start of the flood to the automatic ban, per run "
        "(the ban's `createdAt`, in ms).",
        "",
        "## CPU and memory",
        "",
        "| scenario | run | Orthanc CPU s/s | nginx CPU s/s | flooder CPU s/s | Orthanc peak VmRSS (sampled) | Orthanc VmHWM after | nginx peak RSS (master + worker) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, e in s.items():
        for key in ("unloaded", "loaded"):
            v = e.get(key)
            if not v:
                continue
            chosen = [r for r in report["runs"] if r["scenario"] == scenario and r["loaded"] == (key == "loaded")]
            oc = statistics.median(r["orthancCpuSeconds"] / r["intervalSeconds"] for r in chosen)
            nc = statistics.median(r["nginxCpuSeconds"] / r["intervalSeconds"] for r in chosen)
            fc = statistics.median(r["flooderCpuSeconds"] / r["intervalSeconds"] for r in chosen)
            lines.append("| %s | %s | %.2f | %.2f | %.2f | %.0f MiB | %.0f MiB | %.1f MiB |" % (
                scenario, "flood" if key == "loaded" else "unloaded", oc, nc, fc,
                v["orthancRssKbPeakSampled"] / 1024, v["orthancHwmKbAfter"] / 1024,
                v["nginxRssKbPeakSampled"] / 1024))
    lines += [
        "",
        "CPU s/s: CPU seconds per second of the run (2.00 = both cores). One gateway process per "
        "scenario serves all its runs, so VmHWM only grows; the sampled peak (every 50 ms) is per run.",
        "",
        "## Every run, in order",
        "",
        "| # | run | s | MB/s | 503/429 met (Retry-After waits, summed over sessions) | flood answers/s | banned after s | Orthanc CPU s | nginx CPU s | flooder CPU s | other CPU s | load avg before | Orthanc peak MiB | nginx peak MiB |",
        "| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(report["runs"], 1):
        f = r.get("flood")
        lines.append("| %d | %s | %.2f | %.1f | %s (%.0f s) | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.1f |" % (
            i, r["label"], r["seconds"], r["mbPerSecond"],
            ", ".join("%s: %d" % kv for kv in sorted(r["legitRetries"].items())) or "none",
            r["retryWaitSessionSeconds"],
            fmt_rate(f["answersPerSecond"]) if f else "",
            ("%.2f" % f["bannedAfterSeconds"] if f.get("bannedAfterSeconds") is not None else "never") if f else "",
            r["orthancCpuSeconds"], r["nginxCpuSeconds"], r["flooderCpuSeconds"],
            r["otherCpuSeconds"], r["loadAverageBefore"][0],
            r["orthancRssKbPeakSampled"] / 1024, r["nginxRssKbPeakSampled"] / 1024))
    lines += ["", "\"Other CPU\": CPU time of everything else on the machine during the run "
              "(neither Orthanc, nginx, the flooder nor this script). The flooder runs on the "
              "same two cores as the gateway: its own CPU is part of the load the legitimate "
              "client competes with, which a real flood from elsewhere would not add.", "",
              "## Machine", ""] + bench_support.machine_lines(report["machine"]) + [""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


COLORS = {"429 nginx": "#4c72b0", "401 Orthanc": "#ccb974", "503 rate-limited": "#dd8452", "403 filter": "#c44e52",
          "404 not-found": "#8172b3", "400": "#937860", "2xx": "#55a868", "503 other": "#da8bc3",
          "connection error": "#8c8c8c"}


def write_plot(path, report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    scenarios = list(s)
    fig = plt.figure(figsize=(12, 8.2))
    grid = fig.add_gridspec(2, 2 * len(scenarios), height_ratios=[1, 1.15])
    ax = fig.add_subplot(grid[0, :len(scenarios)])
    axm = fig.add_subplot(grid[0, len(scenarios):])

    width = 0.36
    for j, key in enumerate(("unloaded", "loaded")):
        xs, ys, lo, hi = [], [], [], []
        for i, scenario in enumerate(scenarios):
            v = s[scenario].get(key)
            if not v:
                continue
            xs.append(i + (j - 0.5) * width)
            ys.append(v["mbPerSecond"])
            lo.append(v["mbPerSecond"] - v["mbPerSecondMin"])
            hi.append(v["mbPerSecondMax"] - v["mbPerSecond"])
        bars = ax.bar(xs, ys, width, yerr=[lo, hi], capsize=4,
                      color="#4c72b0" if key == "unloaded" else "#c44e52",
                      label="unloaded" if key == "unloaded" else "during the flood")
        for bar, y in zip(bars, ys):
            ax.text(bar.get_x() + bar.get_width() / 2, y * 0.5, "%.1f\nMB/s" % y, ha="center",
                    va="center", fontsize=8, color="white")
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(["%s\nflood/unloaded = %s" % (
        SCENARIO_NAMES.get(sc, sc).replace(", ", "\n"),
        "%.2f" % s[sc]["ratio"] if "ratio" in s[sc] else "?") for sc in scenarios], fontsize=8)
    ax.set_ylabel("legitimate upload, MB/s\n(median; bars: min–max)")
    ax.set_title("%d-file study through nginx from %s (%d sessions)" % (
        report["dataset"]["files"], LEGIT_ADDRESS, report["arguments"]["clients"]), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_ylim(0, max(v["mbPerSecondMax"] for e in s.values() for v in (e.get("unloaded"), e.get("loaded")) if v) * 1.2)

    # Memory: the sampled peaks per scenario and phase.
    labels, orth, ngx = [], [], []
    for scenario in scenarios:
        for key in ("unloaded", "loaded"):
            v = s[scenario].get(key)
            if v:
                labels.append("%s\n%s" % ({"shipped": "shipped", "no-autoban": "no ban"}.get(
                    scenario, scenario), "flood" if key == "loaded" else "unloaded"))
                orth.append(v["orthancRssKbPeakSampled"] / 1024)
                ngx.append(v["nginxRssKbPeakSampled"] / 1024)
    xs = range(len(labels))
    b1 = axm.bar([x - 0.2 for x in xs], orth, 0.4, color="#55a868", label="Orthanc peak VmRSS")
    b2 = axm.bar([x + 0.2 for x in xs], ngx, 0.4, color="#8172b3", label="nginx peak RSS")
    for bars in (b1, b2):
        for bar in bars:
            axm.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), "%.0f" % bar.get_height(),
                     ha="center", va="bottom", fontsize=8)
    axm.set_xticks(list(xs))
    axm.set_xticklabels(labels, fontsize=8)
    axm.set_ylabel("MiB (sampled every 50 ms)")
    axm.set_title("Memory during the runs", fontsize=10)
    axm.legend(fontsize=8, loc="upper left")
    axm.set_ylim(0, max(orth + ngx) * 1.3)

    # The flooder's answers over time, one representative (median-throughput) flood run each.
    for i, scenario in enumerate(scenarios):
        axf = fig.add_subplot(grid[1, 2 * i:2 * i + 2])
        chosen = sorted([r for r in report["runs"] if r["scenario"] == scenario and r["loaded"]],
                        key=lambda r: r["mbPerSecond"])
        if not chosen:
            continue
        r = chosen[len(chosen) // 2]
        f = r["flood"]
        seconds = list(range(f["seconds"]))
        for label in ordered_labels(f["perSecond"]):
            ys = [max(v, 0.5) for v in f["perSecond"][label]]
            axf.plot([x + 0.5 for x in seconds], ys, drawstyle="steps-mid", color=COLORS.get(label),
                     label="%s (%s/s)" % (label, fmt_rate(f["totals"][label] / f["seconds"])))
        axf.plot([x + 0.5 for x in seconds], [max(v, 0.5) for v in f["handshakesPerSecond"]],
                 color="black", linestyle=":", label="new TLS connections")
        axf.axvspan(f["uploadStartSecond"], f["uploadEndSecond"], color="#f2d7a7", alpha=0.5,
                    label="legitimate upload (%.1f MB/s)" % r["mbPerSecond"])
        if f.get("bannedAfterSeconds") is not None:
            axf.axvline(max(0, f["bannedAfterSeconds"]), color="#c44e52", linestyle="--",
                        label="flooder banned")
        axf.set_yscale("log")
        axf.set_ylim(0.8, None)
        axf.set_xlim(0, f["seconds"])
        axf.set_xlabel("seconds since the flood started (run: %s)" % r["label"])
        axf.set_ylabel("flooder's answers per second")
        axf.set_title("Flood from %s, %s: %s answers/s" % (
            FLOOD_ADDRESS, SCENARIO_NAMES.get(scenario, scenario),
            fmt_rate(f["answersPerSecond"])), fontsize=9)
        axf.legend(fontsize=7, loc="center right", framealpha=0.85)
    m = report["machine"]
    fig.text(0.01, 0.005, "%s, %s CPUs, %s GiB RAM; load average at start %s; flooder on the same machine" % (
        m.get("cpuModel", "?"), m.get("nproc"), m.get("ramGiB"),
        ", ".join("%.2f" % v for v in m.get("loadAverageAtStart", []))), fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------- main

def run_scenario(scenario, files, args, runs, machine):
    workdir = tempfile.mkdtemp(prefix="flood-%s-" % scenario, dir=bench_support.WORK)
    native = scenario == NATIVE
    gateway = NativeOrthanc(workdir) if native else Gateway(args.plugin, workdir, SCENARIOS[scenario])
    proxy = None
    try:
        for attempt in range(4):  # a free port can be taken by someone else before Orthanc binds it
            try:
                gateway.start()
                break
            except harness.ServerError:
                if attempt == 3:
                    raise
                log("Orthanc did not start (port %d taken?): again on another port" % gateway.port)
                gateway.port = None
                time.sleep(5)
        proxy = NginxProxy(gateway.port, edit_site=native_site if native else None).start()
        system = gateway.admin_json("GET", "/system")
        machine.setdefault("orthancVersion", system.get("Version"))
        if native:
            log("%s: Orthanc without the plugin pid %d port %d, nginx pid %d port %d" % (
                scenario, gateway.process.pid, gateway.port, proxy.process.pid, proxy.port))
            # Warm-up: one request, unreported.
            proxy.request("GET", "/system", source=LEGIT_ADDRESS, auth=harness.ADMIN)
        else:
            described = gateway.admin_json("GET", "/inbound/admin/limits")
            machine.setdefault("effectiveLimits", {})[scenario] = {
                "limits": described.get("limits"), "autoBan": described.get("autoBan")}
            log("%s: gateway pid %d port %d, nginx pid %d port %d; limits %s; autoBan %s" % (
                scenario, gateway.process.pid, gateway.port, proxy.process.pid, proxy.port,
                json.dumps(described.get("limits")), json.dumps(described.get("autoBan"))))
            # Warm-up: one request, unreported.
            proxy.request("GET", "/inbound/api/info", source=LEGIT_ADDRESS)
        for repeat in range(args.repeats):
            for loaded in (False, True):
                label = "%s, %s, #%d" % (scenario, "flood" if loaded else "unloaded", repeat + 1)
                r = measure(gateway, proxy, files, args, scenario, loaded, label, workdir)
                r["repeat"] = repeat + 1
                runs.append(r)
                f = r.get("flood")
                log("%-26s %5.2f s %5.1f MB/s (burst %3d files %5.1f MB/s; %s)%s  Orthanc %3.0f MiB "
                    "nginx %4.1f MiB  load %.2f" % (
                        label, r["seconds"], r["mbPerSecond"], r["burstFiles"],
                        r["burstMbPerSecond"], r["legitRetries"] or "no 503",
                        ("  flood %s answers/s %s banned %s" % (
                            fmt_rate(f["answersPerSecond"]),
                            {k: fmt_rate(v / f["seconds"]) for k, v in f["totals"].items()},
                            "after %.2f s" % f["bannedAfterSeconds"]
                            if f.get("bannedAfterSeconds") is not None else "never")) if f else "",
                        r["orthancRssKbPeakSampled"] / 1024, r["nginxRssKbPeakSampled"] / 1024,
                        r["loadAverageBefore"][0]))
                # Let the legitimate client's buckets (200 requests, 20/s) and nginx's refill
                # (nginx's alone for native Orthanc: 200 requests at 50/s).
                time.sleep(args.pause_native if native else args.pause)
        machine.setdefault("orthancHwmKbAtEnd", {})[scenario] = \
            bench_support.proc_status(gateway.process.pid)["VmHWM"]
        gateway.alive()
    finally:
        if proxy:
            proxy.stop()
            if args.keep:
                log("kept nginx directory %s" % proxy.workdir)
            else:
                proxy.cleanup()
        gateway.stop()
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the study (300)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (3)")
    parser.add_argument("--clients", type=int, default=4,
                        help="parallel sessions of the legitimate client (4)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated, of: %s (all)" % ", ".join(SCENARIOS))
    parser.add_argument("--flood-seconds", type=int, default=60,
                        help="longest flood; it ends --flood-tail s after the upload (60)")
    parser.add_argument("--flood-tail", type=float, default=1.0,
                        help="seconds of flood after the legitimate upload has finished (1)")
    parser.add_argument("--flood-processes", type=int, default=2, help="flooder processes (2)")
    parser.add_argument("--flood-threads", type=int, default=3,
                        help="keep-alive connections per flooder process (3)")
    parser.add_argument("--handshake-threads", type=int, default=1,
                        help="threads per flooder process opening a new TLS connection per request (1)")
    parser.add_argument("--lead", type=float, default=3.0,
                        help="seconds of flood before the legitimate upload starts (3)")
    parser.add_argument("--pause", type=float, default=12.0,
                        help="seconds between runs, for the rate-limit buckets to refill (12)")
    parser.add_argument("--pause-native", type=float, default=5.0,
                        help="the same for native Orthanc: only nginx's bucket (5)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of flood.json/.md/.png")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--flooder-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder_worker:
        flooder_worker(json.loads(args.flooder_worker))
        return 0

    scenarios = [x for x in args.scenarios.split(",") if x]
    unknown = [x for x in scenarios if x not in SCENARIOS]
    if unknown:
        parser.error("unknown scenario %s" % ", ".join(unknown))
    if (args.flood_threads + args.handshake_threads) * args.flood_processes > 16:
        log("note: more than 16 flooder connections: nginx's limit_conn answers 429 past 16")
    if not os.path.isfile(bench_support.PLUGIN):
        raise BenchmarkError("no plugin at %s: build it (cmake --build build) or set INBOUND_PLUGIN"
                             % bench_support.PLUGIN)
    args.consent_version = configtool.load(SAMPLE)["Inbound"]["Privacy"]["Version"]
    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()

    _, files = bench_study.load_dataset(args.files)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB; legitimate client %s, flooder %s" % (len(files), total / MB,
                                                                 LEGIT_ADDRESS, FLOOD_ADDRESS))
    machine = bench_support.describe_machine(bench_support.WORK)
    machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]
    try:
        machine["nginxVersion"] = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True,
                                                 text=True).stderr.strip()
    except OSError:
        pass
    log("load average at start: %s" % machine["loadAverageAtStart"])

    runs = []
    snapshot = tempfile.mkdtemp(prefix="flood-plugin-", dir=bench_support.WORK)
    try:
        args.plugin, machine["plugin"] = bench_support.snapshot_plugin(snapshot)
        for scenario in scenarios:
            run_scenario(scenario, files, args, runs, machine)
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)
    machine["loadAverageAtEnd"] = [round(v, 2) for v in os.getloadavg()]

    summary = summarize(runs)
    report = {
        "benchmark": "Orthanc Inbound flood",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": total},
        "arguments": {k: v for k, v in vars(args).items()
                      if k not in ("flooder_worker", "output", "plugin")},
        "addresses": {"legitimate": LEGIT_ADDRESS, "flooder": FLOOD_ADDRESS},
        "scenarios": {k: SCENARIOS[k] for k in scenarios},
        "units": {"mbPerSecond": "10^6 bytes of DICOM files per second of wall time (open to receipt)",
                  "rss": "kB from /proc/PID/status", "cpu": "seconds (user + system)"},
        "machine": machine,
        "summary": summary,
        "runs": runs,
    }
    with open(os.path.join(args.output, "flood.json"), "w") as f:
        json.dump(report, f, indent=1)
    write_markdown(os.path.join(args.output, "flood.md"), report)
    write_plot(os.path.join(args.output, "flood.png"), report)
    for scenario, e in summary.items():
        if "ratio" in e:
            log("%s: legitimate %.1f MB/s unloaded, %.1f MB/s during the flood: ratio %.2f; flooder "
                "%s answers/s %s" % (scenario, e["unloaded"]["mbPerSecond"], e["loaded"]["mbPerSecond"],
                                     e["ratio"], fmt_rate(e["loaded"]["flooderAnswersPerSecond"]),
                                     {k: fmt_rate(v) for k, v in e["loaded"]["flooderPerSecondByLabel"].items()}))
    log("load average at end: %s; results in %s (%.0f s in all)" % (
        machine["loadAverageAtEnd"], args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("flood.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
