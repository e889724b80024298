"""The reports of the benchmarks of issue 21: results/scaleout.md (scaleout.py: the pull with one
and two Internals, the PostgreSQL ledger against SQLite) and results/ledger.md (ledger.py: the
ingest with either ledger against native POST /instances)."""

import copy
import json
import os
import statistics

from bench_support import MB, machine_lines

NAMES = {"one": "1 Internal, PostgreSQL ledger", "two": "2 Internals, PostgreSQL ledger",
         "sqlite": "1 Internal, SQLite ledger"}


def write_lines(path, lines, machine):
    """The report's lines, then the machine, PostgreSQL's version and settings."""
    pg = machine.get("postgresql")
    lines = lines + ["", "## Machine", ""] + machine_lines(machine) + ([
        "- PostgreSQL %s: %s" % (pg.get("version", "?"), ", ".join(
            "%s = %s" % kv for kv in sorted(pg.get("settings", {}).items())))] if pg else []) + [
        "- Load average at the end: %s" % ", ".join(
            "%.2f" % v for v in machine.get("loadAverageAtEnd", [])), ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def save(output, name, report, write_markdown, log):
    """results/<name>.json and .md, and the ratios in the log."""
    with open(os.path.join(output, name + ".json"), "w") as f:
        json.dump(report, f, indent=1)
    write_markdown(os.path.join(output, name + ".md"), report)
    for key, value in report["ratios"].items():
        log("%s: %.2f" % (key, value))
    log("results in %s (%.0f s in all)" % (output, report["durationSeconds"]))


def without_secrets(configurations):
    result = copy.deepcopy(configurations)
    for c in result.values():
        for peer in c.get("OrthancPeers", {}).values():
            peer["Password"] = "***"
        for puller in c.get("Inbound", {}).get("Pullers", []):
            puller["Password"] = "***"
        if "PostgreSQL" in c:
            c["PostgreSQL"]["Password"] = "***"
        c["RegisteredUsers"] = {u: "***" for u in c.get("RegisteredUsers", {})}
    return result


def median(runs, get):
    return statistics.median(get(r) for r in runs)


def summarize(runs, modes):
    """Medians per mode, the CPU of each role (gateway, the Internals together, PostgreSQL) in
    cores and ms per file; ratios 2 Internals / 1 and PostgreSQL ledger / SQLite ledger."""
    summary = {}
    for mode in modes:
        chosen = [r for r in runs if r["mode"] == mode]
        if not chosen:
            continue

        def internals(r, key):
            return sum(r[name][key] for name in r["internals"])

        summary[mode] = {
            "repeats": len(chosen),
            "seconds": median(chosen, lambda r: r["seconds"]),
            "filesPerSecond": median(chosen, lambda r: r["filesPerSecond"]),
            "filesPerSecondMin": min(r["filesPerSecond"] for r in chosen),
            "filesPerSecondMax": max(r["filesPerSecond"] for r in chosen),
            "mbPerSecond": median(chosen, lambda r: r["mbPerSecond"]),
            "cores": {"gateway": median(chosen, lambda r: r["gateway"]["cpuShare"]),
                      "internals": median(chosen, lambda r: internals(r, "cpuShare")),
                      "postgresql": median(chosen, lambda r: r["postgresql"]["cpuShare"]),
                      "client": median(chosen, lambda r: r["clientCpuSeconds"] / r["seconds"]),
                      "other": median(chosen, lambda r: r["otherCpuSeconds"] / r["seconds"]),
                      "all": median(chosen, lambda r: r["machineCpuShare"])},
            "cpuMsPerFile": {"gateway": median(chosen, lambda r: r["gateway"]["cpuMsPerFile"]),
                             "internals": median(chosen, lambda r: internals(r, "cpuMsPerFile")),
                             "postgresql": median(chosen,
                                                  lambda r: r["postgresql"]["cpuMsPerFile"])},
        }
    ratios = {}
    if "one" in summary and "two" in summary:
        ratios["two / one, items/s"] = (summary["two"]["filesPerSecond"]
                                        / summary["one"]["filesPerSecond"])
    if "one" in summary and "sqlite" in summary:
        ratios["PostgreSQL / SQLite ledger, items/s"] = (summary["one"]["filesPerSecond"]
                                                         / summary["sqlite"]["filesPerSecond"])
        ratios["PostgreSQL / SQLite ledger, CPU per item (all processes)"] = (
            sum(summary["one"]["cpuMsPerFile"].values())
            / sum(summary["sqlite"]["cpuMsPerFile"].values()))
    return summary, ratios


def summarize_gateways(runs):
    """Medians per number of gateways behind nginx; the ratio 2 gateways / 1."""
    summary = {}
    for count in (1, 2):
        chosen = [r for r in runs if r["mode"] == "gateways-%d" % count]
        if chosen:
            summary["gateways-%d" % count] = {
                "repeats": len(chosen),
                "filesPerSecond": median(chosen, lambda r: r["filesPerSecond"]),
                "filesPerSecondMin": min(r["filesPerSecond"] for r in chosen),
                "filesPerSecondMax": max(r["filesPerSecond"] for r in chosen),
                "mbPerSecond": median(chosen, lambda r: r["mbPerSecond"]),
                "seconds": median(chosen, lambda r: r["seconds"]),
                "cores": {k: median(chosen, lambda r: r["cores"][k])
                          for k in ("gateways", "nginx", "client", "other")},
                "busyAnswers": sum(r["busyAnswers"] for r in chosen)}
    ratio = {}
    if len(summary) == 2:
        ratio["2 gateways / 1 behind nginx, items/s"] = (
            summary["gateways-2"]["filesPerSecond"] / summary["gateways-1"]["filesPerSecond"])
    return summary, ratio


def gateway_lines(report):
    g, d = report["gatewaySummary"], report["dataset"]
    if not g:
        return []
    keys = list(g)
    runs = [r for r in report["runs"] if r["mode"].startswith("gateways-")]
    lines = [
        "## Uploads through nginx to 1 and 2 gateways",
        "",
        "The same %d uploads sent by %d senders, each from its own loopback address with one "
        "keep-alive TLS session, through the shipped nginx site (render-nginx-site.sh) in front "
        "of one gateway, and of two gateways routed by upload id (`Inbound.UploadIdPrefix` "
        "`G2` and `G3`; opens hashed by the client's address). Timed from the first open to the "
        "last receipt; no Internal pulls meanwhile. Medians of %d runs." % (
            d["uploads"], runs[0]["senders"], len(runs) // len(keys)),
        "",
        "| | %s |" % " | ".join(k.replace("gateways-", "") + " gateway(s)" for k in keys),
        "| --- |" + " ---: |" * len(keys),
        "| items/s (median; min – max) | %s |" % " | ".join(
            "**%.1f** (%.1f – %.1f)" % (g[k]["filesPerSecond"], g[k]["filesPerSecondMin"],
                                        g[k]["filesPerSecondMax"]) for k in keys),
        "| MB/s | %s |" % " | ".join("%.1f" % g[k]["mbPerSecond"] for k in keys),
    ] + ["| cores: %s | %s |" % (label, " | ".join("%.2f" % g[k]["cores"][role] for k in keys))
         for role, label in (("gateways", "gateway(s)"), ("nginx", "nginx"),
                             ("client", "senders (this script)"), ("other", "rest of the machine"))
         ] + [
        "| answers 429/503 waited out, all runs | %s |" % " | ".join(
            "%d" % g[k]["busyAnswers"] for k in keys),
        "",
        "| # | run | s | items/s | each gateway: uploads, files, cores |",
        "| ---: | --- | ---: | ---: | --- |",
    ] + ["| %d | %s | %.2f | %.1f | %s |" % (
        i, r["label"], r["seconds"], r["filesPerSecond"], "; ".join(
            "%d, %d, %.2f" % (h["uploads"], h["files"], h["cores"]) for h in r["shares"]))
        for i, r in enumerate(runs, 1)] + [""]
    return lines


def write_markdown(path, report):
    s, d, m = report["summary"], report["dataset"], report["machine"]
    modes = list(s)
    pg = m.get("postgresql", {})
    lines = ["# Scale-out benchmark — results", ""] + gateway_lines(report)
    if not modes:
        write_lines(path, lines, m)
        return
    lines += [
        "## The pull with one and two Internals",
        "",
        "Generated by `Benchmarks/run.sh scaleout` on %s (UTC). One gateway (its own SQLite "
        "ledger) with %d uploads staged (%d CT files, %.1f MB in all), pulled by the Internals "
        "of each mode: every Internal on one PostgreSQL %s index (Debian's orthanc-postgresql, "
        "`\"Lock\": false`) and one storage folder on disk; the PostgreSQL ledger in the same "
        "database. Timed from the first `POST .../complete` until every upload is `complete` "
        "inside. %d runs per mode, alternating; medians. Cores = CPU seconds per second of the "
        "run (the machine has %s)." % (
            report["finishedAt"], d["uploads"], d["files"], d["bytes"] / MB,
            pg.get("version", "?"), report["arguments"]["repeats"], m.get("nproc")),
        "",
        "| | %s |" % " | ".join(NAMES[k] for k in modes),
        "| --- |" + " ---: |" * len(modes),
        "| items/s (median; min – max) | %s |" % " | ".join(
            "**%.1f** (%.1f – %.1f)" % (s[k]["filesPerSecond"], s[k]["filesPerSecondMin"],
                                        s[k]["filesPerSecondMax"]) for k in modes),
        "| MB/s | %s |" % " | ".join("%.1f" % s[k]["mbPerSecond"] for k in modes),
        "| s until all stored inside | %s |" % " | ".join("%.2f" % s[k]["seconds"] for k in modes),
    ]
    for role, label in (("gateway", "gateway"), ("internals", "Internal(s)"),
                        ("postgresql", "PostgreSQL server"), ("client", "this script"),
                        ("other", "rest of the machine"), ("all", "gateway + Internals + PostgreSQL")):
        lines.append("| cores: %s | %s |" % (label, " | ".join(
            "%.2f" % s[k]["cores"][role] for k in modes)))
    for role in ("gateway", "internals", "postgresql"):
        lines.append("| CPU ms per item: %s | %s |" % (role, " | ".join(
            "%.2f" % s[k]["cpuMsPerFile"][role] for k in modes)))
    lines += ["", "Ratios (medians):", ""]
    lines += ["- %s: **%.2f**" % (k, v) for k, v in report["ratios"].items()]
    lines += [
        "",
        "### Every run of the pull, in order",
        "",
        "| # | run | s | items/s | to index s | delivered s | cores: gateway | Internals | "
        "PostgreSQL | other | load |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(report["runs"], 1):
        lines.append("| %d | %s | %.2f | %.1f | %.2f | %.2f | %.2f | %s | %.2f | %.2f | %.2f |" % (
            i, r["label"], r["seconds"], r["filesPerSecond"], r["indexedSeconds"],
            r["deliveredSeconds"], r["gateway"]["cpuShare"],
            " + ".join("%.2f" % r[n]["cpuShare"] for n in r["internals"]),
            r["postgresql"]["cpuShare"], r["otherCpuSeconds"] / r["seconds"],
            r["loadAverageBefore"]))
    write_lines(path, lines, m)


# --------------------------------------------------------------------------- ledger.py

LEDGER_NAMES = {"native": "native `POST /instances`", "sqlite": "upload API, SQLite ledger",
                "postgresql": "upload API, PostgreSQL ledger"}


def summarize_ledger(runs, modes, concurrency):
    """ingest_report's medians per mode and number of clients, the PostgreSQL server's CPU per
    file beside Orthanc's, and the ratios between the modes."""
    import ingest_report
    summary, _ = ingest_report.summarize(runs, modes, concurrency)
    for key, v in summary.items():
        chosen = [r for r in runs if r["mode"] == v["mode"] and r["clients"] == v["clients"]]
        v["postgresqlCpuMsPerFile"] = median(chosen, lambda r: r["postgresqlCpuMsPerFile"])
        v["cpuMsPerFile"] = median(chosen, lambda r: r["orthancCpuMsPerFile"]
                                   + r["postgresqlCpuMsPerFile"])
    ratios = {}
    for clients in concurrency:
        n, q, p = (summary.get("%s-%d" % (m, clients)) for m in ("native", "sqlite", "postgresql"))
        if not (n and q and p):
            continue
        ratios["PostgreSQL / SQLite ledger, MB/s, %d client%s" % (clients, "s" * (clients > 1))] = \
            p["mbPerSecond"] / q["mbPerSecond"]
        ratios["SQLite ledger / native, MB/s, %d client%s" % (clients, "s" * (clients > 1))] = \
            q["mbPerSecond"] / n["mbPerSecond"]
        ratios["PostgreSQL ledger / native, MB/s, %d client%s" % (clients, "s" * (clients > 1))] = \
            p["mbPerSecond"] / n["mbPerSecond"]
        ratios["PostgreSQL / SQLite ledger, CPU per file (Orthanc + PostgreSQL), %d client%s" % (
            clients, "s" * (clients > 1))] = p["cpuMsPerFile"] / q["cpuMsPerFile"]
    return summary, ratios


def write_ledger_markdown(path, report):
    s, d, m = report["summary"], report["dataset"], report["machine"]
    pg = m.get("postgresql", {})
    lines = [
        "# Ledger benchmark — results",
        "",
        "Generated by `Benchmarks/run.sh ledger` on %s (UTC). The ingest benchmark's %d CT files "
        "(%.1f MB) stored by three Orthanc processes side by side, each serving only its own "
        "mode, all with Orthanc's index in %s: native `POST /instances`, and the plugin "
        "(Standalone, upload API) with its ledger in SQLite and in PostgreSQL %s (durable: "
        "fsync on). Median of %d runs each, the modes alternating; MB = 10^6 bytes." % (
            report["finishedAt"], d["files"], d["bytes"] / MB,
            "PostgreSQL (a database per process)" if report["index"] == "postgresql"
            else "SQLite (Orthanc's default)", pg.get("version", "?"), report["repeats"]),
        "",
        "| mode | clients | MB/s (median) | min – max | files/s | Orthanc CPU ms/file | "
        "PostgreSQL CPU ms/file |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in sorted(s.values(), key=lambda v: (v["clients"], list(LEDGER_NAMES).index(v["mode"]))):
        lines.append("| %s | %d | %.1f | %.1f – %.1f | %.1f | %.2f | %.2f |" % (
            LEDGER_NAMES[v["mode"]], v["clients"], v["mbPerSecond"], v["mbPerSecondMin"],
            v["mbPerSecondMax"], v["filesPerSecond"], v["orthancCpuMsPerFile"],
            v["postgresqlCpuMsPerFile"]))
    lines += ["", "Ratios (medians):", ""]
    lines += ["- %s: **%.2f**" % (k, v) for k, v in report["ratios"].items()]
    lines += ["", "## Every run, in order", "",
              "| # | run | s | MB/s | Orthanc CPU s | PostgreSQL CPU s | other CPU s | load |",
              "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i, r in enumerate(report["runs"], 1):
        lines.append("| %d | %s | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f |" % (
            i, r["label"], r["seconds"], r["mbPerSecond"], r["orthancCpuSeconds"],
            r["postgresqlCpuSeconds"], r["otherCpuSeconds"], r["loadAverageBefore"]))
    write_lines(path, lines, m)
