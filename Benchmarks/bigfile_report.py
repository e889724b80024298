"""Medians, ratios and the Markdown report of Benchmarks/bigfile.py; summary.py's rows from it."""

import statistics

from bench_support import MB

ROLE = {"native-store": ("orthanc",), "native-push": ("gateway", "internal"),
        "standalone": ("standalone",), "gateway": ("gateway", "internal")}


def label(size):
    return "%.1f GiB" % (size / 1024 ** 3) if size >= 1024 ** 3 else "%.0f MB" % (size / MB)


def summarize(runs):
    """{"<bytes>": {"label", "bytes", "<mode>[/whole]": {seconds, growth per process, …}}}."""
    out = {}
    for r in runs:
        entry = out.setdefault(str(r["bytes"]), {"label": label(r["bytes"]), "bytes": r["bytes"],
                                                  "frames": r["frames"]})
        key = r["mode"] + ("/whole" if r["transfer"] == "whole" else "")
        entry.setdefault(key, []).append(r)
    for entry in out.values():
        for key in [k for k in entry if isinstance(entry[k], list)]:
            rs = entry[key]
            m = {"runs": len(rs), "transfer": rs[0]["transfer"],
                 "storedSeconds": statistics.median(x["storedSeconds"] for x in rs),
                 "processes": {}}
            for field in ("sendSeconds", "assembleSeconds", "completeToStoredInsideSeconds",
                          "parts"):
                values = [x[field] for x in rs if x.get(field) is not None]
                if values:
                    m[field] = statistics.median(values)
            m["mbPerSecond"] = entry["bytes"] / MB / m["storedSeconds"]
            for name in rs[0]["processes"]:
                m["processes"][name] = {
                    f: statistics.median(x["processes"][name][f] for x in rs)
                    for f in ("growthPerFileByte", "growthKb", "hwmKbAfter", "rssKbBefore",
                              "cpuSeconds")}
            entry[key] = m
    return out


def rows(report, row):
    """summary.py's rows: for each file, the plugin's modes (in parts) against native."""
    result = []
    for entry in report["summary"].values():
        size, name = entry["bytes"], entry["label"]
        store, push = entry.get("native-store"), entry.get("native-push")
        # In parts; with a plugin that takes no parts, the whole-file PUT (the figures before).
        sa = entry.get("standalone") or entry.get("standalone/whole")
        gw = entry.get("gateway") or entry.get("gateway/whole")
        how = lambda m: "in parts" if m["transfer"] == "parts" else "whole-file PUT"  # noqa: E731
        if sa and store:
            result.append(row("bigfile", "Big file %s, Standalone, %s, until stored (vs POST "
                              "/instances)" % (name, how(sa)), "MB/s", sa["mbPerSecond"],
                              store["mbPerSecond"], "higher"))
        if gw and store and push:
            native = size / MB / (store["storedSeconds"] + push["storedSeconds"])
            result.append(row("bigfile", "Big file %s, sealing Gateway → Internal, %s, until "
                              "stored inside (vs POST /instances + peer push)" % (name, how(gw)),
                              "MB/s",
                              gw["mbPerSecond"], native, "higher"))
        if sa and store:
            result.append(row("memory", "Peak memory growth, big file %s: Standalone (vs native "
                              "POST /instances)" % name, "× file",
                              sa["processes"]["standalone"]["growthPerFileByte"],
                              store["processes"]["orthanc"]["growthPerFileByte"], "lower", "%.2f"))
        if gw and push:
            result.append(row("memory", "… Internal pulling it (vs the peer receiving the push)",
                              "× file", gw["processes"]["internal"]["growthPerFileByte"],
                              push["processes"]["internal"]["growthPerFileByte"], "lower", "%.2f"))
        if gw and store:
            result.append(row("memory", "… sealing Gateway receiving it (vs native POST "
                              "/instances)", "× file",
                              gw["processes"]["gateway"]["growthPerFileByte"],
                              store["processes"]["orthanc"]["growthPerFileByte"], "lower", "%.2f",
                              "the gateway stages, native stores"))
    return result


def fmt(v, f="%.2f"):
    return "—" if v is None else f % v


def write_markdown(path, report):
    lines = [
        "# Big file in parts — peak memory and time (`bigfile.py`)", "",
        "Run of %s UTC%s, %.0f s. Growth = VmHWM after − VmRSS before the operation (VmHWM reset "
        "before it), as a multiple of the file's size; time from the first byte sent until the "
        "file is stored (the Internal: stored inside). Medians of %d run(s) per mode, fresh "
        "processes for each." % (report["finishedAt"], " (run %s)" % report["runId"]
                                  if report.get("runId") else "", report["durationSeconds"],
                                  report["arguments"]["repeats"]), "",
        "| file | mode | transfer | until stored | MB/s | assembly "
        "| process: growth (× file), peak |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for entry in report["summary"].values():
        for key, m in entry.items():
            if not isinstance(m, dict):
                continue
            lines.append("| %s | %s | %s | %.2f s | %.1f | %s | %s |" % (
                entry["label"], key.split("/")[0], m["transfer"] or "native",
                m["storedSeconds"], m["mbPerSecond"],
                "%.2f s" % m["assembleSeconds"] if m.get("assembleSeconds") is not None else "—",
                "; ".join("%s +%.0f MiB (**%.2f×**), %.0f MiB" % (
                    n, p["growthKb"] / 1024, p["growthPerFileByte"], p["hwmKbAfter"] / 1024)
                    for n, p in m["processes"].items())))
    lines += ["", "## Every run", "",
              "| file | mode | transfer | repeat | until stored | send | assembly "
              "| complete → inside | processes (growth × file; VmRSS before → VmHWM after, "
              "peak RssAnon and RssFile sampled, MiB; CPU s) | other CPU s |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in report["runs"]:
        lines.append("| %s | %s | %s | %d | %.2f s | %s | %s | %s | %s | %.1f |" % (
            label(r["bytes"]), r["mode"], r["transfer"] or "native", r["repeat"],
            r["storedSeconds"],
            fmt(r.get("sendSeconds"), "%.2f s"), fmt(r.get("assembleSeconds"), "%.2f s"),
            fmt(r.get("completeToStoredInsideSeconds"), "%.2f s"),
            "; ".join("%s %.2f× (%.0f → %.0f, sampled anon %.0f file %.0f; %.1f)" % (
                n, p["growthPerFileByte"], p["rssKbBefore"] / 1024, p["hwmKbAfter"] / 1024,
                p.get("rssAnonKbPeakSampled", 0) / 1024, p.get("rssFileKbPeakSampled", 0) / 1024,
                p["cpuSeconds"]) for n, p in r["processes"].items()), r["otherCpuSeconds"]))
    lines += ["", "Files: " + "; ".join(
        "%s: %d frames of %d × %d × 16 bit, %d bytes, SHA-256 %s…" % (
            label(f["bytes"]), f["frames"], f["rows"], f["columns"], f["bytes"], f["sha256"][:16])
        for f in report["files"]), ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
