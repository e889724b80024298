#!/usr/bin/python3
"""Summary of one "Benchmarks/run.sh all": every benchmark's figure against native Orthanc.
Over 500 lines: the one report of "run.sh all": machine, consistency checks, table and plot.

    summary.py machine OUT.json        describes the machine (before the benchmarks run)
    summary.py report [--machine M] [--seconds S] [--results DIR]
                                       reads results/{ingest,pull,inbox,flood,stow}.json (and
                                       reconcile/bigfile/cd.json when of the same run), checks that
                                       they come from one invocation (INBOUND_BENCH_RUN_ID), and
                                       writes results/summary.json, summary.md, summary.png

Every ratio is plugin / native, measured in the same invocation. Whether higher or lower is
better depends on the measurement (throughput: higher; latency, CPU, memory: lower): the table
says which, and the plot colours each bar by it. Nothing is asserted about the figures; the
script fails only when a result is missing, from another invocation or incomplete.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_support  # noqa: E402  the plugin's path, fsync probe, the working directory
import bigfile_report  # noqa: E402  the big file's rows

BENCHMARKS = ("ingest", "pull", "inbox", "flood", "stow")
# Added later: in the summary when its results come from the same "run.sh all" (an older run's
# summary is still made without them).
OPTIONAL = ("reconcile", "bigfile", "cd")
RUN_ID = os.environ.get("INBOUND_BENCH_RUN_ID")


class SummaryError(Exception):
    pass


def run(cmd, **kwargs):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kwargs)
    except (OSError, subprocess.TimeoutExpired):
        return None


# --------------------------------------------------------------------------- the machine

def lscpu():
    out = run(["lscpu"])
    info = {}
    if out and out.returncode == 0:
        for line in out.stdout.splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    return info


def meminfo_gib(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def mount_of(path):
    """(device, mount point, file system, options) of the file system holding path."""
    path = os.path.realpath(path)
    best = None
    with open("/proc/mounts") as f:
        for line in f:
            device, point, fstype, options = line.split()[:4]
            point = point.replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and \
                    (best is None or len(point) > len(best[1])):
                best = (device, point, fstype, options)
    return best


def ext4_journal(device):
    """True/False when the kernel (a jbd2 journal of the device) or dumpe2fs can tell."""
    name = os.path.basename(os.path.realpath(device))
    if os.path.isdir("/sys/fs/ext4/%s" % name) and os.path.isdir("/proc/fs/jbd2"):
        return any(j.startswith(name + "-") for j in os.listdir("/proc/fs/jbd2"))
    out = run(["dumpe2fs", "-h", device])
    if not out or out.returncode != 0:
        return None
    for line in out.stdout.splitlines():
        if line.startswith("Filesystem features:"):
            return "has_journal" in line.split()
    return None


def busiest_processes(count=5):
    """The processes that used the most CPU over one second (other helpers, CI, ...)."""
    def sample():
        ticks = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    text = f.read()
                name = text[text.index("(") + 1:text.rindex(")")]
                fields = text.rsplit(")", 1)[1].split()
                ticks[int(entry)] = (name, int(fields[11]) + int(fields[12]))
            except (OSError, ValueError, IndexError):
                pass
        return ticks
    before = sample()
    time.sleep(1.0)
    after = sample()
    hz = os.sysconf("SC_CLK_TCK")
    used = []
    for pid, (name, t) in after.items():
        if pid in before and pid != os.getpid():
            delta = (t - before[pid][1]) / hz
            if delta > 0.02:
                used.append({"pid": pid, "name": name, "cores": round(delta, 2)})
    return sorted(used, key=lambda u: -u["cores"])[:count]


def describe_machine():
    cpu = lscpu()
    info = {
        "describedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S UTC"),
        "loadAverageBefore": [round(v, 2) for v in os.getloadavg()],
        "busiestProcessesBefore": busiest_processes(),
        "cpuModel": cpu.get("Model name"),
        "cpus": os.cpu_count(),
        "usableCpus": len(os.sched_getaffinity(0)),
        "threadsPerCore": cpu.get("Thread(s) per core"),
        "coresPerSocket": cpu.get("Core(s) per socket"),
        "sockets": cpu.get("Socket(s)"),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "memTotalGiB": meminfo_gib("MemTotal"),
        "memAvailableGiB": meminfo_gib("MemAvailable"),
        "kernel": platform.release(),
        "kernelVersion": platform.version(),
        "python": platform.python_version(),
    }
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                info["cpuMHz"] = float(line.split(":")[1])
                break
    try:
        with open("/etc/debian_version") as f:
            info["debianVersion"] = f.read().strip()
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    out = run([bench_support.ORTHANC, "--version"])
    if out and out.returncode == 0:
        info["orthancVersion"] = out.stdout.splitlines()[0].strip()
    out = run(["/usr/sbin/nginx", "-v"])
    if out:
        info["nginxVersion"] = out.stderr.strip()
    for module in ("pydicom", "numpy", "matplotlib", "requests", "aiosmtpd"):
        try:
            info.setdefault("pythonPackages", {})[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            pass

    os.makedirs(bench_support.WORK, exist_ok=True)
    mount = mount_of(bench_support.WORK)
    disk = {"workDirectory": bench_support.WORK}
    if mount:
        disk.update({"device": mount[0], "mountPoint": mount[1], "filesystem": mount[2],
                     "options": mount[3]})
        if mount[2].startswith("ext"):
            disk["journal"] = ext4_journal(mount[0])
        name = os.path.basename(os.path.realpath(mount[0]))
        for path, key in (("/sys/block/%s/queue/rotational" % name, "rotational"),):
            if os.path.exists(path):
                with open(path) as f:
                    disk[key] = f.read().strip() == "1"
    st = os.statvfs(bench_support.WORK)
    disk["sizeGiB"] = round(st.f_blocks * st.f_frsize / 1024 ** 3, 1)
    disk["freeGiB"] = round(st.f_bavail * st.f_frsize / 1024 ** 3, 1)
    disk["fsync4KiBMs"] = bench_support.fsync_latency_ms(bench_support.WORK)
    info["disk"] = disk

    git = {}
    for key, cmd in (("commit", ["git", "-C", REPO, "rev-parse", "HEAD"]),
                     ("subject", ["git", "-C", REPO, "log", "-1", "--format=%s"]),
                     ("date", ["git", "-C", REPO, "log", "-1", "--format=%cI"])):
        out = run(cmd)
        if out and out.returncode == 0:
            git[key] = out.stdout.strip()
    out = run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--", "Plugin",
               "CMakeLists.txt"])
    if out and out.returncode == 0:
        git["pluginSourceChanges"] = [l.strip() for l in out.stdout.splitlines() if l.strip()]
    info["repository"] = git
    if os.path.isfile(bench_support.PLUGIN):
        with open(bench_support.PLUGIN, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        info["plugin"] = {"path": os.path.relpath(bench_support.PLUGIN, REPO)
                          if bench_support.PLUGIN.startswith(REPO) else bench_support.PLUGIN,
                          "sha256": digest[:16],
                          "built": datetime.datetime.utcfromtimestamp(
                              os.path.getmtime(bench_support.PLUGIN))
                          .strftime("%Y-%m-%d %H:%M:%S UTC")}
    return info


# --------------------------------------------------------------------------- the figures

def load(results):
    reports = {}
    for name in BENCHMARKS:
        path = os.path.join(results, name + ".json")
        if not os.path.exists(path):
            raise SummaryError("%s is missing: run Benchmarks/run.sh all" % path)
        with open(path) as f:
            reports[name] = json.load(f)
        got = reports[name].get("runId")
        if got is None:
            raise SummaryError("%s comes from \"run.sh %s\" alone, not from \"run.sh all\""
                               % (path, name))
        if got != (RUN_ID or reports[BENCHMARKS[0]].get("runId")):
            raise SummaryError("%s comes from another invocation (run %s, not %s)"
                               % (path, got, RUN_ID or reports[BENCHMARKS[0]].get("runId")))
    for name in OPTIONAL:
        path = os.path.join(results, name + ".json")
        if os.path.exists(path):
            with open(path) as f:
                report = json.load(f)
            if report.get("runId") == reports[BENCHMARKS[0]].get("runId"):
                reports[name] = report
    return reports


def row(benchmark, measurement, unit, plugin, native, better, fmt="%.1f", note=""):
    ratio = plugin / native if (plugin is not None and native) else None
    return {"benchmark": benchmark, "measurement": measurement, "unit": unit, "plugin": plugin,
            "native": native, "ratio": ratio, "better": better, "format": fmt, "note": note}


def both_cpu(mode):
    """CPU ms per file of both Orthancs of a pull.py mode: the median of the runs' sums since
    the sealed mode came (pull_report.py), the sum of the medians before."""
    if "cpuMsPerFile" in mode:
        return mode["cpuMsPerFile"]
    return mode["gateway"]["cpuMsPerFile"] + mode["internal"]["cpuMsPerFile"]


def rows_of(r):
    rows = []
    ing = r["ingest"]["summary"]
    clients = r["ingest"]["concurrency"][-1]
    rows.append(row("ingest", "Ingest, 1 client (upload API vs POST /instances)", "MB/s",
                    ing["plugin-1"]["mbPerSecond"], ing["native-1"]["mbPerSecond"], "higher"))
    rows.append(row("ingest", "Ingest, %d clients" % clients, "MB/s",
                    ing["plugin-%d" % clients]["mbPerSecond"],
                    ing["native-%d" % clients]["mbPerSecond"], "higher"))
    rows.append(row("ingest", "Ingest, Orthanc CPU per file, 1 client", "ms",
                    ing["plugin-1"]["orthancCpuMsPerFile"], ing["native-1"]["orthancCpuMsPerFile"],
                    "lower", "%.2f"))

    p = r["pull"]["summary"]
    files = r["pull"]["dataset"]["files"]
    rows.append(row("pull", "DMZ → inside, %d files (pull vs peer push)" % files, "MB/s",
                    p["pull"]["mbPerSecond"], p["push"]["mbPerSecond"], "higher"))
    rows.append(row("pull", "DMZ → inside, CPU per file, both Orthancs", "ms",
                    both_cpu(p["pull"]), both_cpu(p["push"]), "lower", "%.2f"))
    if "sealed" in p:  # sealed staging (pull.py's third pair, since issue 16)
        rows.append(row("pull", "DMZ → inside, %d files, sealed staging (sealed pull vs peer push)"
                        % files, "MB/s", p["sealed"]["mbPerSecond"], p["push"]["mbPerSecond"],
                        "higher"))
        rows.append(row("pull", "… sealed pull vs plain pull", "MB/s", p["sealed"]["mbPerSecond"],
                        p["pull"]["mbPerSecond"], "higher", "%.1f",
                        "both the plugin's: the native column is the plain pull"))
        rows.append(row("pull", "DMZ → inside, CPU per file, both Orthancs, sealed", "ms",
                        both_cpu(p["sealed"]), both_cpu(p["push"]), "lower", "%.2f"))

    ib = r["inbox"]["summary"]
    for size, e in ib.items():
        rows.append(row("inbox", "Latency to the recipient, %s file%s (complete → mail vs sent → "
                        "push done)" % (size, "" if size == "1" else "s"), "s",
                        e["plugin"]["seconds"], e["native"]["seconds"], "lower", "%.3f",
                        "native sends no mail"))
    for size, e in ib.items():
        rows.append(row("inbox", "… of which the notifier (stored inside → mail), %s file%s"
                        % (size, "" if size == "1" else "s"), "s",
                        e["plugin"]["notifierSeconds"], None, "lower", "%.3f",
                        "no native counterpart"))
    for size, e in ib.items():
        if size != "1":
            rows.append(row("inbox", "Whole path, %s files (first request → mail vs → push done)"
                            % size, "s", e["plugin"]["wholeSeconds"], e["native"]["wholeSeconds"],
                            "lower", "%.2f"))

    fl = r["flood"]["summary"]
    if "native" not in fl:
        raise SummaryError("flood.json has no native scenario")
    for scenario in ("shipped", "no-autoban"):
        e = fl.get(scenario)
        if not e or "versusNative" not in e:
            continue
        suffix = "" if scenario == "shipped" else " (AutoBan off)"
        rows.append(row("flood", "Legitimate upload during a flood, through nginx%s" % suffix,
                        "MB/s", e["loaded"]["mbPerSecond"], fl["native"]["loaded"]["mbPerSecond"],
                        "higher", "%.1f", "both paced by nginx's 50 requests/s"))
        rows.append(row("flood", "… kept under the flood (flood / unloaded)%s" % suffix, "×",
                        e["ratio"], fl["native"]["ratio"], "higher", "%.2f"))
        if e.get("burstRatio") and fl["native"].get("burstRatio"):
            rows.append(row("flood", "… kept at full speed, before the first 503/429%s" % suffix,
                            "×", e["burstRatio"], fl["native"]["burstRatio"], "higher", "%.2f"))
    if "cd" in r:
        c = r["cd"]
        rows.append(row("cd", "A CD of %d files of %.0f KB through nginx, as the upload page sends "
                        "it (upload API vs POST /instances)" % (c["files"], c["bytes"] / c["files"] / 1e3),
                        "MB/s", c["medianMbPerSecond"]["plugin"], c["medianMbPerSecond"]["native"],
                        "higher", "%.1f", "both held by nginx's 50 requests/s"))

    everything = r["stow"]["summary"]
    # Throughput and CPU as configured by default (Orthanc's storage cache on); memory of every
    # mode (the storage cache off shows the STOW-RS path alone).
    st = {m["name"]: everything[m["name"]] for m in r["stow"].get("modes", [])
          if m["storageCacheMB"] is None and m["name"] in everything} or everything
    files = r["stow"]["dataset"]["files"]
    for transfer, e in st.items():
        if "inbound" in e and "native" in e:
            rows.append(row("stow", "Partner STOW-RS, %d instances, %s (Inbound vs the DICOMweb "
                            "plugin's STOW-RS)" % (files, transfer), "MB/s",
                            e["inbound"]["mbPerSecond"], e["native"]["mbPerSecond"], "higher"))
    for transfer, e in st.items():
        if "gateway" in e and "native" in e:
            rows.append(row("stow", "… to a sealing gateway (staged), %s" % transfer, "MB/s",
                            e["gateway"]["mbPerSecond"], e["native"]["mbPerSecond"], "higher"))
    for transfer, e in st.items():
        if "inbound" in e and "native" in e:
            rows.append(row("stow", "Partner STOW-RS, receiver CPU per instance, %s" % transfer,
                            "ms", e["inbound"]["receiverCpuMsPerInstance"],
                            e["native"]["receiverCpuMsPerInstance"], "lower", "%.2f"))

    if "reconcile" in r:
        rows += reconcile_rows(r["reconcile"])
    if "bigfile" in r:
        rows += [x for x in bigfile_report.rows(r["bigfile"], row) if x["benchmark"] != "memory"]

    im, pm, bm = r["ingest"]["memory"], r["pull"]["memory"], r["inbox"]["memory"]
    rows.append(row("memory", "Peak memory, ingest (VmHWM)", "MiB",
                    im["plugin"]["hwmKb"] / 1024, im["native"]["hwmKb"] / 1024, "lower", "%.0f"))
    rows.append(row("memory", "Peak memory, DMZ → inside (gateway + internal)", "MiB",
                    pm["pull"]["sum"] / 1024, pm["push"]["sum"] / 1024, "lower", "%.0f"))
    if "sealed" in pm:
        rows.append(row("memory", "Peak memory, DMZ → inside, sealing pair", "MiB",
                        pm["sealed"]["sum"] / 1024, pm["push"]["sum"] / 1024, "lower", "%.0f"))
    rows.append(row("memory", "Peak memory, inbox runs (gateway + internal)", "MiB",
                    bm["plugin"]["sum"] / 1024, bm["native"]["sum"] / 1024, "lower", "%.0f"))
    hwm = r["flood"]["machine"].get("orthancHwmKbAtEnd", {})
    if "shipped" in hwm and "native" in hwm:
        rows.append(row("memory", "Peak memory, flood (the Orthanc behind nginx)", "MiB",
                        hwm["shipped"] / 1024, hwm["native"] / 1024, "lower", "%.0f",
                        "native stores the study, the gateway stages it"))
    for transfer, e in everything.items():
        for kind, what in (("inbound", "the receiver"), ("gateway", "a sealing gateway")):
            if kind in e and "native" in e:
                rows.append(row("memory", "Peak memory, partner STOW-RS %s (%s, VmHWM)"
                                % (transfer, what), "MiB", e[kind]["hwmKb"] / 1024,
                                e["native"]["hwmKb"] / 1024, "lower", "%.0f"))
    if "reconcile" in r:
        e = r["reconcile"]["summary"]["release"]
        rows.append(row("memory", "Peak memory, one reconciled release (VmHWM, fresh process)",
                        "MiB", e["plugin"]["firstRunHwmKb"] / 1024,
                        e["native"]["firstRunHwmKb"] / 1024, "lower", "%.0f",
                        "native: modify, POST and store job by hand"))
    if "bigfile" in r:
        rows += [x for x in bigfile_report.rows(r["bigfile"], row) if x["benchmark"] == "memory"]
    return rows


def reconcile_rows(report):
    e, c = report["summary"]["release"], report["summary"]["candidates"]
    files = report["dataset"]["files"]
    return [
        row("reconcile", "Release of %d instances under the hospital's identity, until done "
            "(release vs modify + POST + store job)" % files, "inst./s",
            e["plugin"]["instancesPerSecond"], e["native"]["instancesPerSecond"], "higher"),
        row("reconcile", "… until the last instance is at the PACS", "inst./s",
            e["plugin"]["arrivedInstancesPerSecond"], e["native"]["arrivedInstancesPerSecond"],
            "higher"),
        row("reconcile", "Candidates round, local + PACS + worklist (the same %d queries one "
            "by one)" % c["native"]["queries"], "ms", c["plugin"]["ms"], c["native"]["ms"],
            "lower", "%.0f"),
    ]


def other_cpu(r):
    """Cores that other processes used, on average, during the timed intervals."""
    other = seconds = 0.0
    for name in r:
        for run_ in r[name]["runs"]:
            interval = run_.get("intervalSeconds", run_.get("seconds"))
            if interval and "otherCpuSeconds" in run_:
                other += run_["otherCpuSeconds"]
                seconds += interval
    return other / seconds if seconds else None


def fmt(value, f):
    return "—" if value is None else f % value


def machine_lines(m):
    d = m.get("disk", {})
    git = m.get("repository", {})
    plugin = m.get("plugin", {})
    journal = {True: ", with a journal", False: ", without a journal"}.get(d.get("journal"), "")
    lines = [
        "- CPU: %s, %s CPUs (%s socket × %s cores × %s threads)%s%s" % (
            m.get("cpuModel"), m.get("cpus"), m.get("sockets"), m.get("coresPerSocket"),
            m.get("threadsPerCore"), ", %s virtual machine" % m["hypervisor"] if m.get("hypervisor") else "",
            ", %.0f MHz" % m["cpuMHz"] if m.get("cpuMHz") else ""),
        "- Memory: %s GiB (%s GiB available before the run)" % (m.get("memTotalGiB"), m.get("memAvailableGiB")),
        "- Disk of `%s`: `%s` mounted on `%s`, %s%s (%s), %s GiB, %s GiB free%s; fsync of 4 KiB: median %s ms" % (
            d.get("workDirectory"), d.get("device"), d.get("mountPoint"), d.get("filesystem"), journal,
            d.get("options"), d.get("sizeGiB"), d.get("freeGiB"),
            {True: ", reported rotational", False: ", reported non-rotational"}.get(d.get("rotational"), ""),
            d.get("fsync4KiBMs")),
        "- %s (Debian %s), kernel %s; %s; %s; Python %s (%s)" % (
            m.get("os"), m.get("debianVersion"), m.get("kernel"), m.get("orthancVersion"),
            m.get("nginxVersion", "nginx ?"), m.get("python"),
            ", ".join("%s %s" % kv for kv in sorted(m.get("pythonPackages", {}).items()))),
        "- Plugin: `%s`, built %s, SHA-256 %s…; repository at `%s` (%s, %s)%s" % (
            plugin.get("path"), plugin.get("built"), plugin.get("sha256"),
            git.get("commit", "?")[:12], git.get("subject", ""), git.get("date", ""),
            "; plugin sources changed in the working tree: %s" % ", ".join(
                "`%s`" % c for c in git["pluginSourceChanges"]) if git.get("pluginSourceChanges") else
            "; plugin sources as committed"),
        "- Load average (1, 5, 15 min) before the run: %s; busiest processes then: %s" % (
            ", ".join("%.2f" % v for v in m.get("loadAverageBefore", [])),
            ", ".join("%s %.2f cores" % (p["name"], p["cores"]) for p in m.get("busiestProcessesBefore", []))
            or "none above 0.02 cores"),
    ]
    return lines


def table_lines(summary, image):
    lines = [
        "| measurement | plugin | native Orthanc | plugin / native | better |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for r in summary["rows"]:
        lines.append("| %s%s | %s %s | %s | %s | %s |" % (
            r["measurement"], " — *%s*" % r["note"] if r["note"] else "",
            fmt(r["plugin"], r["format"]), r["unit"],
            (fmt(r["native"], r["format"]) + " " + r["unit"]) if r["native"] is not None else "—",
            "**%.2f**" % r["ratio"] if r["ratio"] is not None else "—",
            r["better"]))
    return lines + ["", "![plugin / native, and the figures of each benchmark](%s)" % image]


README_BEGIN = "<!-- run.sh all: figures of the latest run, begin -->"
README_END = "<!-- run.sh all: figures of the latest run, end -->"


def update_readme(path, summary):
    """Copies the table of the latest run into Benchmarks/README.md between its markers."""
    with open(path) as f:
        text = f.read()
    if README_BEGIN not in text or README_END not in text:
        return False
    m = summary["machine"]
    block = [
        README_BEGIN,
        "",
        "`run.sh all` of %s UTC (run `%s`), %s in all; plugin at `%s`%s. Load average before "
        "the run %s; other processes used **%s cores** on average during the timed intervals "
        "(%s). Copied here by `run.sh all` from [`results/summary.md`](results/summary.md)." % (
            summary["finishedAt"], summary["runId"], duration_text(summary.get("totalSeconds")),
            m.get("repository", {}).get("commit", "?")[:7],
            " (plugin sources changed in the working tree)"
            if m.get("repository", {}).get("pluginSourceChanges") else "",
            ", ".join("%.2f" % v for v in m.get("loadAverageBefore", [])),
            fmt(summary.get("otherCores"), "%.2f"),
            "an idle machine" if (summary.get("otherCores") or 0) < 0.05 else
            "the machine was shared: figures are noisier and slower than on an idle one"),
        "",
    ] + table_lines(summary, "results/summary.png") + [
        "", "The machine of that run (from [`results/machine.json`](results/machine.json)):", ""
    ] + machine_lines(m) + ["", README_END]
    start = text.index(README_BEGIN)
    end = text.index(README_END) + len(README_END)
    with open(path, "w") as f:
        f.write(text[:start] + "\n".join(block) + text[end:])
    return True


def write_markdown(path, summary):
    m = summary["machine"]
    lines = [
        "# All benchmarks — summary",
        "",
        "Generated by `Benchmarks/run.sh all` on %s (UTC) in %s; every figure of this table comes "
        "from that one invocation (run `%s`). Ratio = plugin / native; the last column says which "
        "way is better for the plugin. Details, every run and the method: "
        "[ingest](ingest.md), [pull](pull.md), [inbox](inbox.md), [flood](flood.md), "
        "[stow](stow.md)%s." % (
            summary["finishedAt"], duration_text(summary.get("totalSeconds")), summary.get("runId"),
            "".join(", [%s](%s.md)" % (n, n) for n in OPTIONAL if n in summary["durations"])),
        "",
    ] + table_lines(summary, "summary.png")[:-2]
    lines += [
        "",
        "Time per benchmark: %s." % ", ".join("%s %s" % (n, duration_text(s))
                                              for n, s in summary["durations"].items()),
        "Other processes on the machine used %s cores on average during the timed intervals "
        "(\"other CPU\" of every run); load average %s before, %s after." % (
            fmt(summary.get("otherCores"), "%.2f"),
            ", ".join("%.2f" % v for v in m.get("loadAverageBefore", [])),
            ", ".join("%.2f" % v for v in summary.get("loadAverageAfter", []))),
        "",
        "![plugin / native, and the figures of each benchmark](summary.png)",
        "",
        "## Machine",
        "",
    ] + machine_lines(m) + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def duration_text(seconds):
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return "%d min %02d s" % (seconds // 60, seconds % 60) if seconds >= 60 else "%d s" % seconds


def write_plot(path, summary, reports):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in summary["rows"] if r["ratio"] is not None]
    top_height = 0.34 * len(rows) + 1.2
    fig = plt.figure(figsize=(12, top_height + 3.4), layout="constrained")
    upper, lower = fig.subfigures(2, 1, height_ratios=[top_height, 3.4])
    ax = upper.subplots()
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        good = r["ratio"] >= 1 if r["better"] == "higher" else r["ratio"] <= 1
        color = "#b0b0b0" if abs(r["ratio"] - 1) < 0.05 else ("#55a868" if good else "#dd8452")
        ax.barh(y, r["ratio"], left=0, color=color, height=0.65)
        ax.text(r["ratio"] * 1.04, y, "%.2f  (%s vs %s %s)" % (
            r["ratio"], fmt(r["plugin"], r["format"]), fmt(r["native"], r["format"]), r["unit"]),
            va="center", fontsize=8)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    top = max(r["ratio"] for r in rows)
    low = min(r["ratio"] for r in rows)
    ax.set_xlim(min(0.2, low / 1.5), max(4, top * 6))
    ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128) if min(0.2, low / 1.5) <= t <= max(4, top * 6)]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["%g" % t for t in ticks])
    ax.set_yticks(ys)
    ax.set_yticklabels(["%s [%s is better]" % (r["measurement"], r["better"]) for r in rows], fontsize=8)
    ax.set_xlabel("plugin / native, log scale\n(green: the plugin does better, orange: worse, "
                  "grey: within ±5 %)", fontsize=9)
    upper.suptitle("Orthanc Inbound against native Orthanc 1.10.1: one invocation of run.sh all, "
                   "%s UTC" % summary["finishedAt"], fontsize=10)

    colors = {"plugin": "#dd8452", "native": "#4c72b0"}
    ing = reports["ingest"]["summary"]
    clients = reports["ingest"]["concurrency"]
    a1, a2, a3, a4 = lower.subplots(1, 4)
    for j, mode in enumerate(("native", "plugin")):
        a1.bar([i + (j - 0.5) * 0.38 for i in range(len(clients))],
               [ing["%s-%d" % (mode, c)]["mbPerSecond"] for c in clients], 0.38,
               color=colors[mode], label=mode)
    a1.set_xticks(range(len(clients)))
    a1.set_xticklabels(["%d client%s" % (c, "s" if c > 1 else "") for c in clients], fontsize=8)
    a1.set_ylabel("MB/s", fontsize=8)
    a1.set_title("Ingest", fontsize=9)
    a1.legend(fontsize=7)

    p = reports["pull"]["summary"]
    bars = [("native push", p["push"], colors["native"]), ("plugin pull", p["pull"], colors["plugin"])]
    if "sealed" in p:
        bars.append(("sealed pull", p["sealed"], "#8172b3"))
    a2.bar(range(len(bars)), [b[1]["mbPerSecond"] for b in bars], 0.6, color=[b[2] for b in bars])
    a2.set_xticks(range(len(bars)))
    a2.set_xticklabels([b[0] for b in bars], fontsize=8)
    a2.set_ylabel("MB/s", fontsize=8)
    a2.set_title("DMZ → inside, %d files" % reports["pull"]["dataset"]["files"], fontsize=9)

    ib = reports["inbox"]["summary"]
    sizes = list(ib)
    for j, mode in enumerate(("native", "plugin")):
        a3.bar([i + (j - 0.5) * 0.38 for i in range(len(sizes))],
               [ib[s][mode]["seconds"] for s in sizes], 0.38, color=colors[mode], label=mode)
    a3.set_xticks(range(len(sizes)))
    a3.set_xticklabels(["%s file%s" % (s, "" if s == "1" else "s") for s in sizes], fontsize=8)
    a3.set_ylabel("s (plugin: to the mail;\nnative: push done)", fontsize=8)
    a3.set_title("Latency to the recipient", fontsize=9)

    fl = reports["flood"]["summary"]
    scen = [s for s in ("native", "shipped") if s in fl]
    for j, key in enumerate(("unloaded", "loaded")):
        a4.bar([i + (j - 0.5) * 0.38 for i in range(len(scen))],
               [fl[s][key]["mbPerSecond"] for s in scen], 0.38,
               color="#8c8c8c" if key == "unloaded" else "#c44e52",
               label="unloaded" if key == "unloaded" else "during the flood")
    a4.set_xticks(range(len(scen)))
    a4.set_xticklabels(["native" if s == "native" else "plugin" for s in scen], fontsize=8)
    a4.set_ylabel("legitimate upload, MB/s", fontsize=8)
    a4.set_title("Flood, through nginx", fontsize=9)
    a4.legend(fontsize=7)
    m = summary["machine"]
    lower.supxlabel("%s, %s CPUs, %s GiB; %s; load average before %s; other processes used "
             "%s cores during the timed intervals" % (
                 m.get("cpuModel"), m.get("cpus"), m.get("memTotalGiB"), m.get("os"),
                 ", ".join("%.2f" % v for v in m.get("loadAverageBefore", [])),
                 fmt(summary.get("otherCores"), "%.2f")), fontsize=7, color="#555555")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(args):
    reports = load(args.results)
    if args.machine and os.path.exists(args.machine):
        with open(args.machine) as f:
            machine = json.load(f)
    else:
        machine = describe_machine()
    rows = rows_of(reports)
    previous = os.path.join(args.results, "summary.json")
    load_after = [round(v, 2) for v in os.getloadavg()]
    if args.seconds is None and os.path.exists(previous):  # "run.sh summary": the same run again
        with open(previous) as f:
            earlier = json.load(f)
        if earlier.get("runId") == reports["ingest"]["runId"]:
            args.seconds = earlier.get("totalSeconds")
            load_after = earlier.get("loadAverageAfter", load_after)
    summary = {
        "runId": reports["ingest"]["runId"],
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"),
        "totalSeconds": args.seconds,
        "durations": {n: reports[n].get("durationSeconds") for n in reports},
        "loadAverageAfter": load_after,
        "otherCores": other_cpu(reports),
        "machine": machine,
        "rows": rows,
    }
    with open(os.path.join(args.results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    write_markdown(os.path.join(args.results, "summary.md"), summary)
    write_plot(os.path.join(args.results, "summary.png"), summary, reports)
    if args.readme and update_readme(args.readme, summary):
        print("figures copied into %s" % args.readme)
    width = max(len(r["measurement"]) for r in rows)
    for r in rows:
        print("%-*s  plugin %10s  native %10s  ratio %s (%s is better)" % (
            width, r["measurement"], fmt(r["plugin"], r["format"]), fmt(r["native"], r["format"]),
            fmt(r["ratio"], "%.2f"), r["better"]))
    print("summary in %s (summary.md, summary.json, summary.png)" % args.results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("machine", help="describe the machine into a JSON file")
    m.add_argument("output")
    r = sub.add_parser("report", help="write summary.json, .md, .png")
    r.add_argument("--results", default=os.path.join(HERE, "results"))
    r.add_argument("--machine", help="the machine's description written before the run")
    r.add_argument("--seconds", type=float, help="wall time of the whole invocation")
    r.add_argument("--readme", help="copy the table into this README, between its markers")
    args = parser.parse_args()
    if args.command == "machine":
        info = describe_machine()
        with open(args.output, "w") as f:
            json.dump(info, f, indent=1)
        print("machine: %s, %s CPUs, %s GiB; load average %s" % (
            info.get("cpuModel"), info.get("cpus"), info.get("memTotalGiB"),
            ", ".join("%.2f" % v for v in info["loadAverageBefore"])))
        return 0
    report(args)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SummaryError as e:
        print("summary.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
