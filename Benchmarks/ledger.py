#!/usr/bin/python3
"""Ledger benchmark of Orthanc Inbound (issue 21): the ingest benchmark (ingest.py) with the
plugin's ledger in PostgreSQL against the same with the SQLite ledger, and native POST
/instances as the reference, in one run.

Three Orthanc 1.10.1 processes side by side, each serving only its own mode, with the same
kind of Orthanc index (--index: "postgresql", the default — each its own database on one real
PostgreSQL 15 server, Debian's orthanc-postgresql, "Lock": false, as several Orthancs sharing
a ledger run it — or "sqlite", Orthanc's default):
  native      Orthanc without the plugin: POST /instances as admin;
  sqlite      the plugin, Standalone, Inbound.Ledger "SQLite" (the default): the upload API;
  postgresql  the same with Inbound.Ledger "PostgreSQL" (the ledger in its index's database;
              with --index sqlite, in a database of its own on the same server).
The server is durable (fsync on: bench_postgres.py), as the SQLite ledger's own commits are.
With 1 client and with 4, the modes alternating (the order rotating every round), 5 runs each
by default; medians; CPU of the Orthanc and of the PostgreSQL server per file. Everything is
deleted between runs (ingest.measure).

This is a measurement, not a test: nothing is asserted about the timings. The script exits
non-zero only if something went wrong (an answer that is not 2xx, an instance missing, an
Orthanc or PostgreSQL dying).

Outputs: results/ledger.json, results/ledger.md (beside this script).
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

import harness  # noqa: E402       IntegrationTests: merge of configurations
import bench_postgres  # noqa: E402  Benchmarks: durable PostgreSQL, its CPU, Orthanc's settings
import bench_study  # noqa: E402    Benchmarks: the generated CT study
import bench_support  # noqa: E402  Benchmarks: /proc readers, machine, plugin snapshot
import ingest  # noqa: E402         Benchmarks: the ingest benchmark's Orthanc and measurement
import scaleout_report  # noqa: E402  Benchmarks: the reports of issue 21
from bench_support import MB, BenchmarkError  # noqa: E402

MODES = ("native", "sqlite", "postgresql")


def log(message):
    print("[ledger %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


class Orthanc(ingest.Orthanc):
    """ingest.py's Orthanc (native, or the plugin as a Standalone), its index and the plugin's
    ledger as the mode says."""

    def __init__(self, root, mode, database, index_in_postgresql, plugin_path, postgresql):
        super().__init__(root, plugin=mode != "native")
        self.mode = mode
        self.database = database  # None: no PostgreSQL at all
        self.index_in_postgresql = index_in_postgresql
        self.plugin_path = plugin_path
        self.postgresql = postgresql

    def configuration(self):
        config = super().configuration()
        if self.database is None:
            return config
        ledger = "PostgreSQL" if self.mode == "postgresql" else "SQLite"
        orthanc, plugins, inbound = bench_postgres.orthanc_settings(self.database, ledger)
        if not self.index_in_postgresql:
            orthanc["PostgreSQL"]["EnableIndex"] = False
            plugins = []  # Orthanc's own index; the section names the ledger's database
        config = harness.merge(config, orthanc)
        config["Plugins"] = config["Plugins"] + plugins
        if self.plugin:
            config["Inbound"].update(inbound)
        return config


def measure(server, files, clients, label):
    """ingest.measure() (the plugin's upload API or native POST /instances, every patient
    deleted afterwards) and the PostgreSQL server's CPU over the same interval."""
    pg = server.postgresql
    before = bench_postgres.cpu_seconds(pg)
    r = ingest.measure(server, files, "native" if server.mode == "native" else "plugin",
                       clients, label)
    pg_cpu = bench_postgres.cpu_seconds(pg) - before
    r.update({"mode": server.mode, "postgresqlCpuSeconds": pg_cpu,
              "postgresqlCpuMsPerFile": 1000 * pg_cpu / len(files),
              "otherCpuSeconds": max(0.0, r["otherCpuSeconds"] - pg_cpu)})
    return r


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (5)")
    parser.add_argument("--clients", type=int, default=4, help="parallel clients (4)")
    parser.add_argument("--index", choices=("postgresql", "sqlite"), default="postgresql",
                        help="Orthanc's index in all three (postgresql)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="files sent once per mode before measuring, not reported (20)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of ledger.json/.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()

    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()
    _, files = bench_study.load_dataset(args.files)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB; Orthanc's index: %s" % (len(files), total / MB, args.index))

    root = tempfile.mkdtemp(prefix="ledger-", dir=bench_support.WORK)
    postgresql = None
    servers = {}
    runs = []
    try:
        plugin, described = bench_support.snapshot_plugin(root)
        postgresql = bench_postgres.start_server(bench_support.WORK)
        for mode in MODES:
            database = postgresql.create_database("orthanc_" + mode, "orthanc_" + mode,
                                                  "bench-%s-2026" % mode)
            if args.index == "sqlite" and mode != "postgresql":
                database = None
            servers[mode] = Orthanc(os.path.join(root, mode), mode, database,
                                    args.index == "postgresql", plugin, postgresql)
        versions = {mode: s.start().get("Version") for mode, s in servers.items()}
        machine = bench_support.describe_machine(servers["sqlite"].storage)
        machine.update({"orthancVersion": versions["sqlite"], "plugin": described,
                        "loadAverageAtStart": [round(v, 2) for v in os.getloadavg()],
                        "postgresql": bench_postgres.describe(postgresql)})
        log("PostgreSQL %s (%s); load average %s" % (postgresql.version, postgresql.settings,
                                                     machine["loadAverageAtStart"]))
        for mode, server in servers.items():
            measure(server, files[:args.warmup], 1, "warm-up " + mode)
        concurrency = [1, args.clients]
        for repeat in range(args.repeats):
            order = MODES[repeat % 3:] + MODES[:repeat % 3]
            for clients in concurrency:
                for mode in order:
                    label = "%s, %d client%s, #%d" % (mode, clients, "s" * (clients > 1),
                                                       repeat + 1)
                    r = measure(servers[mode], files, clients, label)
                    r["repeat"] = repeat + 1
                    runs.append(r)
                    log("%-28s %5.2f s %6.1f MB/s  Orthanc CPU %4.1f ms/file  PostgreSQL %4.1f "
                        "ms/file  other CPU %4.2f s" % (
                            label, r["seconds"], r["mbPerSecond"], r["orthancCpuMsPerFile"],
                            r["postgresqlCpuMsPerFile"], r["otherCpuSeconds"]))
        for mode in ("sqlite", "postgresql"):
            bench_postgres.check_ledger(servers[mode].database, servers[mode].root,
                                        mode == "postgresql")
        configurations = {m: s.configuration() for m, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
        bench_postgres.stop_server(postgresql, args.keep)
        if args.keep:
            log("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    machine["loadAverageAtEnd"] = [round(v, 2) for v in os.getloadavg()]

    summary, ratios = scaleout_report.summarize_ledger(runs, MODES, concurrency)
    report = {
        "benchmark": "Orthanc Inbound ledger (ingest)",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": total, "modality": "CT"},
        "index": args.index,
        "repeats": args.repeats,
        "concurrency": concurrency,
        "machine": machine,
        "configurations": scaleout_report.without_secrets(configurations),
        "summary": summary,
        "ratios": ratios,
        "runs": runs,
    }
    scaleout_report.save(args.output, "ledger", report, scaleout_report.write_ledger_markdown, log)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("ledger.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
