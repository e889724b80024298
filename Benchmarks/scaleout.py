#!/usr/bin/python3
"""Scale-out benchmark of Orthanc Inbound (issue 21): the pull with one and with two internal
Orthancs sharing one PostgreSQL index, storage and ledger, and the PostgreSQL ledger against
the SQLite ledger for the pull (report: scaleout_report.py).

Set-up, all on loopback, on one machine: a real PostgreSQL 15 server (Debian's, as
IntegrationTests/postgres.py starts it, but durable: fsync and full page writes on), one
database for Orthanc's index (Debian's orthanc-postgresql, "Lock": false), one storage folder
on disk, and
  - one gateway (Role Gateway, plain staging, its own SQLite ledger: a DMZ host never reaches
    the inside's PostgreSQL, doc/Operations.md "Scale-out"), configured as pull.py's;
  - the internal Orthancs of the run's mode, each with Inbound {"Role": "Internal",
    "Gateways": ["dmz"]} and the gateway in its OrthancPeers:
      two       two Internals, Inbound.Ledger "PostgreSQL" (one ledger in the index's database);
      one       one of them alone;
      sqlite    one Internal on the same PostgreSQL index with the SQLite ledger (the default).
Each run (the modes alternate, the order rotating every round): the gateway and the mode's
Internals are started, a 5-file upload is pulled as a warm-up (untimed), N uploads (the
benchmarks' CT study split between them) are staged on the gateway without completing them
(untimed), then, timed: the sender's POST .../complete of every upload, one after the other,
until every upload is "complete" with all its files on the Internal (GET
/inbound/admin/uploads/{id}; Orthanc's GET /statistics is polled until every instance is in
first). Then the gateway must say "delivered" for each, the index must hold exactly the study
(no item stored twice), everything is removed and every Orthanc stopped (gateway first).
CPU time of every Orthanc, of the PostgreSQL server (all its processes), of this script and of
the rest of the machine over the timed interval.

This is a measurement, not a test: nothing is asserted about the timings. The script exits
non-zero only if something went wrong (an answer that is not 2xx, an instance missing or
stored twice, an Orthanc or PostgreSQL dying, a transfer that never finishes).

Outputs: results/scaleout.json, results/scaleout.md (beside this script).
"""

import argparse
import datetime
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

import bench_postgres  # noqa: E402  Benchmarks: durable PostgreSQL, its CPU, Orthanc's settings
import bench_study  # noqa: E402    Benchmarks: the generated CT study
import bench_support  # noqa: E402  Benchmarks: /proc readers, clients, machine
import pull  # noqa: E402           Benchmarks: the pull benchmark's servers, sender and waits
import scaleout_gateways  # noqa: E402  Benchmarks: uploads through nginx to 1 and 2 gateways
import scaleout_report  # noqa: E402  Benchmarks: medians, ratios, results/scaleout.md
from bench_support import MB, BenchmarkError  # noqa: E402

MODES = ("one", "two", "sqlite")


def log(message):
    print("[scaleout %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------- the Orthancs

class Topology:
    """The gateway and the three Internals (two on the PostgreSQL ledger, one on SQLite), all
    configured once; each run starts the gateway and its mode's Internals."""

    def __init__(self, workdir, plugin, database):
        self.storage = os.path.join(workdir, "shared-storage")
        os.makedirs(self.storage)
        self.gateway = pull.Server("gateway", workdir, plugin, {
            "Role": "Gateway", "Sealing": {"PublicKeys": []},
            "Pullers": [{"Username": pull.PULLER[0], "Password": pull.PULLER[1],
                         "Networks": ["127.0.0.1"]}]})
        self.internals = {}
        for name, ledger in (("internal-1", "PostgreSQL"), ("internal-2", "PostgreSQL"),
                             ("internal-sqlite", "SQLite")):
            orthanc, index_plugins, inbound = bench_postgres.orthanc_settings(database, ledger)
            srv = pull.Server(name, workdir, plugin, dict(
                inbound, Role="Internal", Gateways=[pull.GATEWAY_PEER],
                DataDirectory=os.path.join(workdir, name, "inbound")))
            srv.orthanc_overrides = dict(orthanc, **{
                "Name": name, "Plugins": [plugin] + index_plugins,
                "StorageDirectory": self.storage,  # shared; IndexDirectory stays its own
                "OrthancPeers": {pull.GATEWAY_PEER: {
                    "Url": self.gateway.url + "/", "Username": pull.PULLER[0],
                    "Password": pull.PULLER[1]}}})
            self.internals[name] = srv
        self.modes = {"one": ["internal-1"], "two": ["internal-1", "internal-2"],
                      "sqlite": ["internal-sqlite"]}

    def servers(self):
        return [self.gateway] + list(self.internals.values())

    def start(self, mode):
        self.gateway.start()
        internals = [self.internals[n] for n in self.modes[mode]]
        for srv in internals:
            srv.start()
        return internals

    def stop(self):
        pull.stop_all([s for s in self.servers() if s.running()], log)


# --------------------------------------------------------------------------- one run

class Window(pull.Window):
    """pull.Window over any number of Orthancs, and the PostgreSQL server's CPU."""

    def __init__(self, servers, postgresql):
        self.servers = servers
        self.postgresql = postgresql

    def __enter__(self):
        self.pg_cpu = bench_postgres.cpu_seconds(self.postgresql)
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        if exc[0] is None:
            cpu = bench_postgres.cpu_seconds(self.postgresql) - self.pg_cpu
            self.result["postgresql"] = {"cpuSeconds": cpu}
            self.result["otherCpuSeconds"] = max(0.0, self.result["otherCpuSeconds"] - cpu)


def split(files, uploads):
    """The study's files in "uploads" groups of (nearly) equal size."""
    size, extra = divmod(len(files), uploads)
    groups, start = [], 0
    for i in range(uploads):
        end = start + size + (1 if i < extra else 0)
        groups.append(files[start:end])
        start = end
    return groups


def pull_uploads(gateway, internals, groups, args, interval):
    """Stages every group as an upload (untimed), then completes them all and waits until the
    Internals hold them: returns (seconds to every upload complete inside, seconds to every
    instance in the index, seconds to every upload delivered, upload ids)."""
    staged = [pull.stage(gateway, group, args.clients) for group in groups]
    bench_support.settle()
    total = sum(len(g) for g in groups)
    watcher = internals[0]  # one index and, but for "sqlite", one ledger for all
    with pull.admin_session() as s, pull.admin_session() as gs:
        start = time.perf_counter()
        for (upload_id, headers), group in zip(staged, groups):
            pull.complete(gateway, upload_id, headers, len(group))
        wait_for_index(s, watcher, total, interval, args.timeout)
        indexed = time.perf_counter()
        inside = max(pull.wait_for(s, watcher, upload_id, "complete", len(group), interval,
                                   args.timeout)[0]
                     for (upload_id, _), group in zip(staged, groups))
        delivered = max(pull.wait_for(gs, gateway, upload_id, "delivered", None, interval,
                                      args.timeout)[0] for upload_id, _ in staged)
    return inside - start, indexed - start, delivered - start, [u for u, _ in staged]


def wait_for_index(session, server, count, interval, timeout):
    """Polls Orthanc's GET /statistics (cheap, unlike an upload's status) until the index holds
    "count" instances."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        r = bench_support.check(session.get(server.url + "/statistics", timeout=30),
                                "GET /statistics (%s)" % server.name)
        if r.json()["CountInstances"] >= count:
            return
        time.sleep(interval)
    server.alive()
    raise BenchmarkError("the %s Orthanc's index holds %d instances, not %d, after %.0f s\n%s"
                         % (server.name, server.instances(), count, timeout, server.log_tail(30)))


def check_and_clean(internals, uploads, total, label):
    """Exactly the study inside (nothing stored twice), then every upload removed."""
    for srv in internals:
        srv.alive()
        stored = srv.instances()
        if stored != total:
            raise BenchmarkError("%s: the %s Orthanc's index holds %d instances, not %d" % (
                label, srv.name, stored, total))
    for upload_id in uploads:
        pull.cleanup_inside(internals[0], upload_id)


def run(topology, postgresql, mode, groups, args, label):
    internals = topology.start(mode)
    gateway = topology.gateway
    try:
        time.sleep(1.0)  # every puller in its long poll
        warm = groups[-1][-5:]  # sent again in the timed run: removed in between
        _, _, _, ids = pull_uploads(gateway, internals, [warm], args, 0.02)
        check_and_clean(internals, ids, len(warm), label + " (warm-up)")
        servers = dict({"gateway": gateway}, **{s.name: s for s in internals})
        files = [f for g in groups for f in g]
        with Window(servers, postgresql) as w:
            seconds, indexed, delivered, ids = pull_uploads(gateway, internals, groups, args,
                                                            0.02)
        check_and_clean(internals, ids, len(files), label)
    finally:
        topology.stop()
    total = sum(len(f["body"]) for f in files)
    result = w.result
    for name in servers:
        result[name]["cpuMsPerFile"] = 1000 * result[name]["cpuSeconds"] / len(files)
        result[name]["cpuShare"] = result[name]["cpuSeconds"] / seconds
    result["postgresql"]["cpuMsPerFile"] = 1000 * result["postgresql"]["cpuSeconds"] / len(files)
    result["postgresql"]["cpuShare"] = result["postgresql"]["cpuSeconds"] / seconds
    result.update({
        "label": label, "mode": mode, "internals": [s.name for s in internals],
        "files": len(files), "uploads": len(groups), "bytes": total, "seconds": seconds,
        "indexedSeconds": indexed, "deliveredSeconds": delivered,
        "filesPerSecond": len(files) / seconds, "mbPerSecond": total / MB / seconds,
        "machineCpuShare": sum(result[k]["cpuSeconds"] for k in list(servers) + ["postgresql"])
        / seconds})
    return result


def log_run(r):
    cpu = "  ".join("%s %.2f" % (k, r[k]["cpuShare"]) for k in ["gateway"] + r["internals"]
                    + ["postgresql"])
    log("%-10s %6.2f s %6.1f items/s %6.1f MB/s (index %.2f s, delivered %.2f s)  cores: %s  "
        "other %.2f  load %.2f" % (r["label"], r["seconds"], r["filesPerSecond"],
                                   r["mbPerSecond"], r["indexedSeconds"], r["deliveredSeconds"],
                                   cpu, r["otherCpuSeconds"] / r["seconds"],
                                   r["loadAverageBefore"]))


def log_gateways(r):
    log("%-12s %6.2f s %6.1f items/s %6.1f MB/s  shares %s  cores: gateways %.2f nginx %.2f "
        "senders %.2f other %.2f  busy answers %d" % (
            r["label"], r["seconds"], r["filesPerSecond"], r["mbPerSecond"],
            " / ".join("%d uploads" % h["uploads"] for h in r["shares"]), r["cores"]["gateways"],
            r["cores"]["nginx"], r["cores"]["client"], r["cores"]["other"], r["busyAnswers"]))


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=600, help="instances in all (600)")
    parser.add_argument("--uploads", type=int, default=12,
                        help="uploads the files are split between (12)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each mode (3)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="the pull's, comma-separated, of %s (all)" % ", ".join(MODES))
    parser.add_argument("--parts", default="pull,gateways",
                        help="pull (1 or 2 Internals), gateways (uploads through nginx to 1 or "
                        "2 gateways), comma-separated (both)")
    parser.add_argument("--senders", type=int, default=8,
                        help="gateways: senders, each from its own loopback address (8)")
    parser.add_argument("--clients", type=int, default=4,
                        help="parallel sessions staging the uploads, untimed (4)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a transfer may take")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of scaleout.json/.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    parts = [p for p in args.parts.split(",") if p]
    if not parts or any(p not in ("pull", "gateways") for p in parts):
        parser.error("--parts: pull, gateways")
    if not 1 <= args.senders <= 200:
        parser.error("--senders: from 1 to 200")
    if not modes or any(m not in MODES for m in modes):
        parser.error("--modes: of %s" % ", ".join(MODES))
    if "pull" not in parts:
        modes = []
    if not 1 <= args.uploads <= args.files:
        parser.error("--uploads: from 1 to --files")

    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()
    _, files = bench_study.load_dataset(args.files)
    groups = split(files, args.uploads)
    log("%d files, %.1f MB, in %d uploads" % (
        len(files), sum(len(f["body"]) for f in files) / MB, len(groups)))
    machine = bench_support.describe_machine(bench_support.WORK)
    machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]
    log("load average at start: %s" % machine["loadAverageAtStart"])

    workdir = tempfile.mkdtemp(prefix="scaleout-", dir=bench_support.WORK)
    postgresql = None
    runs = []
    topology = None
    try:
        plugin, machine["plugin"] = bench_support.snapshot_plugin(workdir)
        postgresql = bench_postgres.start_server(bench_support.WORK)
        database = postgresql.create_database("orthanc", "orthanc", "bench-orthanc-2026")
        machine["postgresql"] = bench_postgres.describe(postgresql)
        log("PostgreSQL %s, pid %d, port %d, %s" % (postgresql.version, postgresql.pid,
                                                    postgresql.port, postgresql.settings))
        topology = Topology(workdir, plugin, database)
        for repeat in range(args.repeats if "gateways" in parts else 0):
            for count in (1, 2) if repeat % 2 == 0 else (2, 1):
                r = scaleout_gateways.run(count, groups, args.senders, workdir, plugin,
                                          "%d gateway%s #%d" % (count, "s" * (count > 1), repeat + 1))
                r["repeat"] = repeat + 1
                runs.append(r)
                log_gateways(r)
        for repeat in range(args.repeats):
            for mode in modes[repeat % len(modes):] + modes[:repeat % len(modes)]:
                r = run(topology, postgresql, mode, groups, args, "%s #%d" % (mode, repeat + 1))
                r["repeat"] = repeat + 1
                runs.append(r)
                log_run(r)
        for name, srv in topology.internals.items():
            if any(name in topology.modes[m] for m in modes):
                bench_postgres.check_ledger(database, srv.workdir, name != "internal-sqlite")
        configurations = {s.name: s.configuration() for s in topology.servers()}
    finally:
        if topology is not None:
            topology.stop()
        bench_postgres.stop_server(postgresql, args.keep)
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    machine["loadAverageAtEnd"] = [round(v, 2) for v in os.getloadavg()]

    summary, ratios = scaleout_report.summarize(runs, modes)
    gateway_summary, gateway_ratio = scaleout_report.summarize_gateways(runs)
    ratios.update(gateway_ratio)
    report = {
        "benchmark": "Orthanc Inbound scale-out",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "uploads": len(groups),
                    "bytes": sum(len(f["body"]) for f in files), "modality": "CT"},
        "arguments": {k: v for k, v in vars(args).items() if k != "output"},
        "machine": machine,
        "configurations": scaleout_report.without_secrets(configurations),
        "summary": summary,
        "gatewaySummary": gateway_summary,
        "ratios": ratios,
        "runs": runs,
    }
    for mode, s in list(summary.items()) + list(gateway_summary.items()):
        log("median %-10s %6.1f items/s %6.1f MB/s" % (mode, s["filesPerSecond"], s["mbPerSecond"]))
    scaleout_report.save(args.output, "scaleout", report, scaleout_report.write_markdown, log)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("scaleout.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
