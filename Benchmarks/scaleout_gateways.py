"""The gateway side of scale-out (scaleout.py --parts gateways): uploads from several senders
through the shipped nginx site in front of one gateway, and of two gateways routed by upload id
(doc/Operations.md "Scale-out": the site rendered by render-nginx-site.sh with each gateway's
Inbound.UploadIdPrefix; the opens are hashed by the client's address).

Each sender is a client from a loopback address of its own (127.0.0.2, .3, ...: nginx and its
per-address limits see distinct clients) with one keep-alive TLS session, sending its share of
the uploads one after the other: POST /inbound/api/uploads, a PUT per file, POST .../complete.
Timed from the first open until the last receipt; no Internal runs (the gateways stage). An
answer 429/503 is waited out (Retry-After) and counted. Each gateway's share: the uploads and
files its own ledger holds (GET /inbound/admin/uploads on it directly); every upload's id must
carry the prefix of the gateway that holds it."""

import os
import threading
import time

import bench_support
import flood  # Benchmarks: nginx's processes and their CPU
import harness
import pull
import scaleout_support  # IntegrationTests: the shipped site rendered for several gateways
from bench_support import MB, BenchmarkError

PREFIXES = ("G2", "G3")
API = "/inbound/api/uploads"


def start_gateways(count, workdir, plugin, label):
    gateways = []
    for n in range(1, count + 1):
        inbound = {"Role": "Gateway", "TrustedProxies": ["127.0.0.1"],
                   "Sealing": {"PublicKeys": []},
                   "Pullers": [{"Username": pull.PULLER[0], "Password": pull.PULLER[1],
                                "Networks": ["127.0.0.1"]}]}
        if count > 1:
            inbound["UploadIdPrefix"] = PREFIXES[n - 1]
        srv = pull.Server("%s-gateway-%d" % (label, n), workdir, plugin, inbound,
                          {"Name": "gateway-%d" % n})
        gateways.append(srv)
        srv.start()
    site = scaleout_support.GatewaysProxy(
        [(PREFIXES[i] if count > 1 else "", g.port) for i, g in enumerate(gateways)],
        admin_nets="127.0.0.1", peer_nets="127.0.0.1").start()
    return gateways, site


class Sender(threading.Thread):
    def __init__(self, site, source, groups):
        super().__init__(name="sender-" + source)
        self.site, self.source, self.groups = site, source, groups
        self.busy = 0
        self.uploads = []
        self.error = None

    def call(self, session, method, path, expected, **kwargs):
        while True:
            # verify explicit: REQUESTS_CA_BUNDLE would win over the session's
            r = session.request(method, self.site.url + path, timeout=120,
                                verify=self.site.cert, **kwargs)
            if r.status_code in (429, 503):
                self.busy += 1
                time.sleep(min(5.0, float(r.headers.get("Retry-After") or 1)))
                continue
            if r.status_code != expected:
                raise BenchmarkError("%s %s from %s answered %d: %s" % (
                    method, path, self.source, r.status_code, r.text[:300]))
            return r

    def run(self):
        try:
            with self.site.session(self.source) as s:
                for group in self.groups:
                    body = harness.open_body(sender=harness.sender(
                        email=scaleout_support.sender_email(self.source)))
                    upload = self.call(s, "POST", API, 201, json=body).json()
                    headers = {"X-Inbound-Token": upload["token"],
                               "Content-Type": "application/octet-stream"}
                    for f in group:
                        self.call(s, "PUT", "%s/%s/files/%s" % (API, upload["id"], f["sha256"]),
                                  201, data=f["body"], headers=headers)
                    receipt = self.call(s, "POST", "%s/%s/complete" % (API, upload["id"]), 200,
                                        headers=headers).json()
                    if receipt.get("files") != len(group):
                        raise BenchmarkError("receipt of %s: %s" % (upload["id"], receipt))
                    self.uploads.append(upload["id"])
        except Exception as e:  # reported by the main thread
            self.error = e


def shares(gateways, uploads, count):
    """Uploads and files each gateway's ledger holds; every upload on exactly one gateway,
    under its prefix."""
    result, seen = [], set()
    for n, g in enumerate(gateways):
        held = g.json("GET", "/inbound/admin/uploads?limit=1000")["uploads"]
        ids = {u["id"] for u in held}
        if len(gateways) > 1 and any(not i.startswith(PREFIXES[n]) for i in ids):
            raise BenchmarkError("%s holds uploads without its prefix %s" % (g.name, PREFIXES[n]))
        seen |= ids
        result.append({"gateway": g.name, "uploads": len(ids),
                       "files": sum(u.get("files", 0) for u in held)})
    if seen != set(uploads) or sum(r["files"] for r in result) != count:
        raise BenchmarkError("the gateways hold %d uploads / %d files, not %d / %d" % (
            len(seen), sum(r["files"] for r in result), len(uploads), count))
    return result


def run(count, groups, senders, workdir, plugin, label):
    """One run: "count" gateways behind the site, the groups dealt to the senders in turn."""
    gateways, site = start_gateways(count, workdir, plugin, label.replace(" ", "").replace("#", "-"))
    try:
        dealt = [groups[i::senders] for i in range(senders)]
        threads = [Sender(site, "127.0.0.%d" % (i + 2), dealt[i]) for i in range(senders)]
        pids = {g.name: g.process.pid for g in gateways}
        nginx = flood.nginx_pids(site)
        bench_support.settle()
        busy = bench_support.system_busy_seconds()
        cpu = {k: bench_support.proc_cpu_seconds(p) for k, p in pids.items()}
        nginx_cpu, me = flood.cpu_seconds(nginx), os.times()
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
        me2 = os.times()
        client = (me2.user + me2.system) - (me.user + me.system)
        cpu = {k: bench_support.proc_cpu_seconds(p) - cpu[k] for k, p in pids.items()}
        nginx_cpu = flood.cpu_seconds(nginx) - nginx_cpu
        other = (bench_support.system_busy_seconds() - busy) - sum(cpu.values()) - nginx_cpu - client
        for t in threads:
            if t.error:
                raise t.error
        files = sum(len(g) for g in groups)
        held = shares(gateways, [u for t in threads for u in t.uploads], files)
    finally:
        site.cleanup()
        for g in gateways:
            g.stop()
    total = sum(len(f["body"]) for g in groups for f in g)
    for h in held:
        h["cores"] = cpu[h["gateway"]] / seconds
    return {"label": label, "mode": "gateways-%d" % count, "gateways": count,
            "senders": senders, "uploads": len(groups), "files": files, "bytes": total,
            "seconds": seconds, "filesPerSecond": files / seconds, "mbPerSecond": total / MB / seconds,
            "shares": held, "busyAnswers": sum(t.busy for t in threads),
            "cores": {"gateways": sum(cpu.values()) / seconds, "nginx": nginx_cpu / seconds,
                      "client": client / seconds, "other": max(0.0, other) / seconds}}
