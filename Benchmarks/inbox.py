#!/usr/bin/python3
"""Inbox benchmark of Orthanc Inbound: how soon after a sender has sent a study through the DMZ
does the chosen recipient have the mail that says it is there?
Over 500 lines: one benchmark, read top to bottom: method, set-up, measurements, report.

Set-up, all on loopback (ports chosen free, every process stopped by its pid):
  plugin   the plugin's pair of pull.py — a gateway (Role Gateway) and an internal Orthanc
           (Role Internal, pulling from it through its OrthancPeers entry) — whose internal
           Orthanc mails the recipient through a real SMTP server: Resources/Scripts/smtp-sink.py
           (Debian's python3-aiosmtpd), which writes every message it accepts into a folder.
           Inbound.Smtp {"Host": "127.0.0.1", "Port": <sink>, "Security": "None", "From": ...},
           Inbound.Notifications {"MailRecipient": true, "OrthancUrl": ...}; the recipient
           "neuroradiology" of Inbound.Recipients (neuro@hospital.example).
  native   what a hospital has without the plugin: two Orthancs without the plugin (Orthanc's own
           authentication on); the sender's files are POSTed to the native gateway
           (POST /instances), which is then told to push the study to the internal Orthanc with
           POST /peers/inside/store (Synchronous). Native Orthanc sends no mail: its
           "notification" is the moment the push answers — the earliest anyone inside could be
           told, by a script that pushes at once.

Timed, for a 1-file upload and for the 300-file study of the ingest benchmark:
  plugin   from the sender's POST .../complete at the gateway until the recipient's mail file
           appears in the sink's folder (the folder is stat-polled every 5 ms; the sink's own
           time of receipt is recorded too); the parts — stored inside (the internal Orthanc's
           completedAt), notification queued and delivered (its notification queue) — are read
           afterwards from the admin routes, so nothing polls Orthanc during the timed interval;
  native   from the answer to the sender's last POST /instances (the sender is done, as after
           "complete") until POST /peers/inside/store answers.
The whole path, from the sender's first request to the mail (or the push's end), is reported
too. Sending (untimed for the main figure) uses 4 keep-alive sessions in both modes.

Plugin and native runs alternate. This is a measurement, not a test: nothing is asserted about
the timings. The script exits non-zero when something goes wrong: an answer that is not 2xx, an
instance missing inside, an Orthanc or the SMTP sink dying, no mail (or a mail for another
upload, or to another address) within the timeout.

Outputs: results/inbox.json, results/inbox.md, results/inbox.png (beside this script).
"""

import argparse
import datetime
import email
import email.policy
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


import bench_study  # noqa: E402  Benchmarks: the generated CT study
import bench_support  # noqa: E402  Benchmarks: /proc readers, clients, machine
import harness  # noqa: E402      IntegrationTests: Orthanc processes, the upload's open body
import pull  # noqa: E402         Benchmarks: the two pairs of Orthancs, CPU/RSS windows
from bench_support import MB, BenchmarkError  # noqa: E402
from mail_support import SmtpSink  # noqa: E402   IntegrationTests: smtp-sink.py in a process

RECIPIENT = "neuroradiology"
RECIPIENT_MAIL = "neuro@hospital.example"  # harness.RECIPIENTS
FROM = "Orthanc Inbound <inbound@hospital.example>"
API = pull.API
POLL = 0.005  # the sink's folder is stat-polled every 5 ms


def log(message):
    print("[inbox %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def wall_ms(iso):
    """Unix ms of an ISO 8601 time of the plugin ("2026-11-23T12:00:00.123Z") or of the sink."""
    if not iso:
        return None
    text = iso.replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp() * 1000


# --------------------------------------------------------------------------- the SMTP sink

class Inbox:
    """The recipient's inbox: the sink's folder, read without inotify."""

    def __init__(self, sink):
        self.sink = sink
        self.folder = sink.mail_folder

    def stems(self):
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return set()
        return {n[:-4] for n in names if n.endswith(".eml") and not n.startswith(".")}

    def wait_for_new(self, known, timeout):
        """Polls every 5 ms until a message not in "known" is there; returns (perf_counter when
        seen, its stem)."""
        deadline = time.perf_counter() + timeout
        checks = 0
        while True:
            now = time.perf_counter()
            new = self.stems() - known
            if new:
                return now, sorted(new)[0]
            if now > deadline:
                raise BenchmarkError("no mail within %.0f s in %s\nsink log:\n%s"
                                     % (timeout, self.folder, self.sink.log()[-2000:]))
            checks += 1
            if checks % 200 == 0 and not self.sink.running():
                raise BenchmarkError("the SMTP sink died:\n%s" % self.sink.log()[-2000:])
            time.sleep(POLL)

    def read(self, stem):
        with open(os.path.join(self.folder, stem + ".eml"), "rb") as f:
            raw = f.read()
        with open(os.path.join(self.folder, stem + ".json")) as f:
            envelope = json.load(f)
        return email.message_from_bytes(raw, policy=email.policy.default), envelope, len(raw)


# --------------------------------------------------------------------------- one run

def notification_of(internal, upload_id):
    answer = internal.json("GET", "/inbound/admin/notifications", params={"limit": 50})
    mails = [n for n in answer.get("notifications", [])
             if n.get("uploadId") == upload_id and n.get("channel") == "mail"]
    return mails


def run_plugin(gateway, internal, inbox, files, args, label):
    gateway.alive()
    internal.alive()
    if not inbox.sink.running():
        raise BenchmarkError("the SMTP sink is not running:\n%s" % inbox.sink.log()[-2000:])
    time.sleep(1.0)  # the puller is back in its long poll
    known = inbox.stems()
    first = time.perf_counter()
    upload_id, headers = pull.stage(gateway, files, args.clients)
    sent = time.perf_counter()
    bench_support.settle()
    with pull.Window(gateway, internal) as w:
        start_wall = time.time()
        start = time.perf_counter()
        pull.complete(gateway, upload_id, headers, len(files))
        answered = time.perf_counter()
        seen, stem = inbox.wait_for_new(known, args.timeout)
    message, envelope, size = inbox.read(stem)
    if message["X-Inbound-Upload"] != upload_id or envelope.get("rcpt_tos") != [RECIPIENT_MAIL]:
        raise BenchmarkError("%s: the mail is not the recipient's mail of upload %s: "
                             "X-Inbound-Upload %s, to %s" % (label, upload_id,
                                                             message["X-Inbound-Upload"],
                                                             envelope.get("rcpt_tos")))
    # Not timed: the state inside and at the gateway, the notification queue.
    with pull.admin_session() as s, pull.admin_session() as gs:
        pull.wait_for(s, internal, upload_id, "complete", len(files), 0.05, args.timeout)
        pull.wait_for(gs, gateway, upload_id, "delivered", None, 0.05, args.timeout)
    inside = internal.json("GET", "/inbound/admin/uploads/%s" % upload_id)
    stored = internal.instances()
    if stored != len(files):
        raise BenchmarkError("%s: %d instances inside, not %d" % (label, stored, len(files)))
    mails = notification_of(internal, upload_id)
    if len(mails) != 1 or mails[0].get("state") != "delivered":
        raise BenchmarkError("%s: the internal Orthanc's queue has %s for upload %s"
                             % (label, json.dumps(mails)[:500], upload_id))
    n = mails[0]
    t0 = start_wall * 1000
    parts = {
        "storedInsideSeconds": (wall_ms(inside.get("completedAt")) - t0) / 1000,
        "queuedSeconds": (wall_ms(n.get("createdAt")) - t0) / 1000,
        "deliveredSeconds": (wall_ms(n.get("deliveredAt")) - t0) / 1000,
        "sinkReceivedSeconds": (wall_ms(envelope.get("received")) - t0) / 1000,
    }
    seconds = seen - start
    # The notifier's own part: from the upload complete inside to the mail in the inbox.
    parts["notifierSeconds"] = seconds - parts["storedInsideSeconds"]
    pull.cleanup_inside(internal, upload_id)
    return dict(pull.per_file(w.result, len(files)), **{
        "label": label, "mode": "plugin", "files": len(files),
        "bytes": sum(len(f["body"]) for f in files), "uploadId": upload_id,
        "seconds": seconds, "completeAnswerSeconds": answered - start,
        "sendingSeconds": sent - first, "wholeSeconds": (sent - first) + seconds,
        "attempts": n.get("attempts"), "mailBytes": size, "mailSubject": str(message["Subject"]),
        **parts})


def run_native(gateway, internal, files, args, label):
    gateway.alive()
    internal.alive()
    first = time.perf_counter()
    bench_support.ingest_native(gateway, files, args.clients)
    sent = time.perf_counter()
    studies = gateway.json("GET", "/studies")
    if len(studies) != 1 or gateway.instances() != len(files):
        raise BenchmarkError("%s: the native gateway holds %d studies, %d instances"
                             % (label, len(studies), gateway.instances()))
    bench_support.settle()
    body = {"Resources": studies, "Synchronous": True}
    with pull.Window(gateway, internal) as w:
        start = time.perf_counter()
        r = bench_support.check(
            gateway.admin("POST", "/peers/%s/store" % pull.INTERNAL_PEER, json=body,
                          timeout=args.timeout),
            "POST /peers/%s/store" % pull.INTERNAL_PEER)
        seconds = time.perf_counter() - start
    answer = r.json() if r.content else None
    if isinstance(answer, dict) and answer.get("FailedInstancesCount"):
        raise BenchmarkError("%s: the push failed for %s instances" % (label, answer["FailedInstancesCount"]))
    stored = internal.instances()
    if stored != len(files):
        raise BenchmarkError("%s: %d instances inside after the push, not %d" % (label, stored, len(files)))
    bench_support.delete_everything(internal)
    bench_support.delete_everything(gateway)
    return dict(pull.per_file(w.result, len(files)), **{
        "label": label, "mode": "native", "files": len(files),
        "bytes": sum(len(f["body"]) for f in files), "seconds": seconds,
        "sendingSeconds": sent - first, "wholeSeconds": (sent - first) + seconds})


# --------------------------------------------------------------------------- reports

def summarize(runs):
    summary = {}
    for size in sorted({r["files"] for r in runs}):
        entry = {}
        for mode in ("plugin", "native"):
            chosen = [r for r in runs if r["files"] == size and r["mode"] == mode]
            if not chosen:
                continue
            v = {"repeats": len(chosen)}
            keys = ["seconds", "wholeSeconds", "sendingSeconds"]
            if mode == "plugin":
                keys += ["storedInsideSeconds", "queuedSeconds", "deliveredSeconds",
                         "sinkReceivedSeconds", "notifierSeconds", "completeAnswerSeconds"]
            for k in keys:
                v[k] = statistics.median(r[k] for r in chosen)
            v["secondsMin"] = min(r["seconds"] for r in chosen)
            v["secondsMax"] = max(r["seconds"] for r in chosen)
            if mode == "plugin":
                v["notifierSecondsMin"] = min(r["notifierSeconds"] for r in chosen)
                v["notifierSecondsMax"] = max(r["notifierSeconds"] for r in chosen)
                v["attempts"] = max(r["attempts"] or 0 for r in chosen)
            entry[mode] = v
        if "plugin" in entry and "native" in entry:
            entry["ratio"] = entry["plugin"]["seconds"] / entry["native"]["seconds"]
            entry["wholeRatio"] = entry["plugin"]["wholeSeconds"] / entry["native"]["wholeSeconds"]
        summary[str(size)] = entry
    return summary


def fmt_s(x):
    return "%.3f" % x if x < 10 else "%.1f" % x


def write_markdown(path, report):
    s, m = report["summary"], report["machine"]
    mem = report["memory"]
    lines = [
        "# Inbox benchmark — results",
        "",
        "Generated by `Benchmarks/run.sh inbox` on %s (UTC). Plugin: a gateway and an internal "
        "Orthanc %s with the plugin, the internal one mailing the recipient through "
        "`Resources/Scripts/smtp-sink.py` (plain SMTP on loopback). Native: a gateway and an "
        "internal Orthanc without the plugin, the study POSTed to the gateway and pushed with "
        "`POST /peers/inside/store`. Runs alternate; medians (min – max)."
        % (report["finishedAt"], m.get("orthancVersion", "?")),
        "",
        "| files | plugin: `complete` → mail in the inbox, s | native: sent → push done, s "
        "| plugin / native | whole path (first request → mail / push done), plugin; native, s "
        "| plugin / native |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, e in s.items():
        p, n = e.get("plugin"), e.get("native")
        lines.append("| %s | %s (%s – %s) | %s (%s – %s) | **%.2f** | %s; %s | %.2f |" % (
            size, fmt_s(p["seconds"]), fmt_s(p["secondsMin"]), fmt_s(p["secondsMax"]),
            fmt_s(n["seconds"]), fmt_s(n["secondsMin"]), fmt_s(n["secondsMax"]), e["ratio"],
            fmt_s(p["wholeSeconds"]), fmt_s(n["wholeSeconds"]), e["wholeRatio"]))
    lines += [
        "",
        "Native Orthanc sends no mail: its figure is the moment the push answers, the earliest "
        "a script that pushes at once could tell anyone. The plugin's figure ends when the "
        "recipient's mail is in the SMTP server's folder.",
        "",
        "## Where the plugin's time goes (medians, s after `POST .../complete`)",
        "",
        "| files | `complete` answered | stored inside (internal `completedAt`) | mail queued "
        "| mail accepted by the relay (`deliveredAt`) | sink's time of receipt | mail file seen "
        "| notifier's own part: stored inside → mail seen (min – max) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, e in s.items():
        p = e["plugin"]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | **%s** (%s – %s) |" % (
            size, fmt_s(p["completeAnswerSeconds"]), fmt_s(p["storedInsideSeconds"]),
            fmt_s(p["queuedSeconds"]), fmt_s(p["deliveredSeconds"]), fmt_s(p["sinkReceivedSeconds"]),
            fmt_s(p["seconds"]), fmt_s(p["notifierSeconds"]), fmt_s(p["notifierSecondsMin"]),
            fmt_s(p["notifierSecondsMax"])))
    lines += [
        "",
        "The plugin's times are milliseconds of the wall clock (`completedAt`, `createdAt`, "
        "`deliveredAt` of the admin routes; the sink's `received`), so each part is good to about "
        "1 ms. Delivery attempts per mail: at most %s (1 = no retry)." % max(
            e["plugin"]["attempts"] for e in s.values()),
        "",
        "## Peak memory (VmHWM at the end, MiB)",
        "",
        "| | plugin's pair | native pair | plugin / native |",
        "| --- | ---: | ---: | ---: |",
        "| gateway | %.0f | %.0f | %.2f |" % (mem["plugin"]["gateway"] / 1024, mem["native"]["gateway"] / 1024,
                                               mem["plugin"]["gateway"] / mem["native"]["gateway"]),
        "| internal | %.0f | %.0f | %.2f |" % (mem["plugin"]["internal"] / 1024, mem["native"]["internal"] / 1024,
                                                mem["plugin"]["internal"] / mem["native"]["internal"]),
        "| both | %.0f | %.0f | **%.2f** |" % (mem["plugin"]["sum"] / 1024, mem["native"]["sum"] / 1024,
                                              mem["ratio"]),
        "",
        "Each pair serves only its own mode. The SMTP sink (a Python process) is not counted.",
        "",
        "## Every run, in order",
        "",
        "| # | run | sending s | timed s | stored inside s | notifier s | whole s | gateway CPU ms/file "
        "| internal CPU ms/file | other CPU s | load | peak RSS gateway / internal MiB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(report["runs"], 1):
        lines.append("| %d | %s | %.3f | %.3f | %s | %s | %.3f | %.2f | %.2f | %.2f | %.2f | %.0f / %.0f |" % (
            i, r["label"], r["sendingSeconds"], r["seconds"],
            "%.3f" % r["storedInsideSeconds"] if "storedInsideSeconds" in r else "",
            "%.3f" % r["notifierSeconds"] if "notifierSeconds" in r else "",
            r["wholeSeconds"], r["gateway"]["cpuMsPerFile"], r["internal"]["cpuMsPerFile"],
            r["otherCpuSeconds"], r["loadAverageBefore"], r["gateway"]["rssKbPeakSampled"] / 1024,
            r["internal"]["rssKbPeakSampled"] / 1024))
    lines += ["", "\"Other CPU\": what the rest of the machine used during the timed interval; "
              "load: 1-minute load average before the run.", "", "## Machine", ""]
    lines += bench_support.machine_lines(m) + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_plot(path, report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    sizes = list(s)
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 4.6), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        p, n = s[size]["plugin"], s[size]["native"]
        inside = p["storedInsideSeconds"]
        notifier = p["seconds"] - inside
        ax.barh([1], [inside], color="#dd8452", label="plugin: complete → stored inside")
        ax.barh([1], [notifier], left=[inside], color="#c44e52",
                label="plugin: stored inside → mail in the inbox")
        ax.barh([0], [n["seconds"]], color="#4c72b0", label="native: push (no mail)")
        for y, v in ((1, p["seconds"]), (0, n["seconds"])):
            ax.text(v, y, " %s s" % fmt_s(v), va="center", fontsize=9)
        runs = [r for r in report["runs"] if str(r["files"]) == size]
        ax.plot([r["seconds"] for r in runs if r["mode"] == "plugin"],
                [1.3] * len([r for r in runs if r["mode"] == "plugin"]), "|", color="#555555")
        ax.plot([r["seconds"] for r in runs if r["mode"] == "native"],
                [0.3] * len([r for r in runs if r["mode"] == "native"]), "|", color="#555555")
        ax.set_yticks([0, 1])
        ax.set_yticklabels(["native\nsent → push done", "plugin\ncomplete → mail"], fontsize=9)
        ax.set_xlim(0, max(p["secondsMax"], n["secondsMax"]) * 1.3)
        ax.set_xlabel("seconds (median; ticks: every run)")
        ax.set_title("%s file%s (%.1f MB): plugin / native = %.2f" % (
            size, "" if size == "1" else "s", runs[0]["bytes"] / MB, s[size]["ratio"]), fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
    m = report["machine"]
    fig.text(0.01, 0.01, "%s, %s CPUs; load average at start %s; all on loopback" % (
        m.get("cpuModel", "?"), m.get("nproc"),
        ", ".join("%.2f" % v for v in m.get("loadAverageAtStart", []))), fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the large study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of the large study per mode (5)")
    parser.add_argument("--small-repeats", type=int, default=5, help="runs of 1 file per mode (5)")
    parser.add_argument("--clients", type=int, default=4, help="sessions sending the files (4)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds a run may take before it counts as failed (120)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of inbox.json/.md/.png")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()

    if not os.path.isfile(bench_support.PLUGIN):
        raise BenchmarkError("no plugin at %s: build it (cmake --build build) or set INBOUND_PLUGIN"
                             % bench_support.PLUGIN)
    os.makedirs(bench_support.WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()

    _, files = bench_study.load_dataset(args.files)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB" % (len(files), total / MB))
    machine = bench_support.describe_machine(bench_support.WORK)
    machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]

    workdir = tempfile.mkdtemp(prefix="inbox-", dir=bench_support.WORK)
    sink = SmtpSink(os.path.join(workdir, "sink"))
    servers = []
    runs = []
    try:
        plugin, machine["plugin"] = bench_support.snapshot_plugin(workdir)
        sink.start()
        gateway, internal = pull.topology(workdir, plugin, {
            "Smtp": {"Host": "127.0.0.1", "Port": sink.port, "Security": "None", "From": FROM,
                     "Timeout": 10},
            "Notifications": {"MailRecipient": True, "OrthancUrl": "https://orthanc.hospital.example"}})
        native = pull.native_topology(workdir)
        servers = [gateway, internal] + list(native)
        pull.start_all(servers)
        machine["orthancVersion"] = gateway.json("GET", "/system").get("Version")
        log("plugin: gateway pid %d, internal pid %d; native: gateway pid %d, internal pid %d; "
            "SMTP sink pid %d port %d; %s" % (
                gateway.process.pid, internal.process.pid, native[0].process.pid,
                native[1].process.pid, sink.process.pid, sink.port, workdir))
        inbox = Inbox(sink)

        # Warm-up, unreported: one file each way.
        run_plugin(gateway, internal, inbox, files[:1], args, "warm-up plugin")
        run_native(native[0], native[1], files[:1], args, "warm-up native")

        plan = [(1, args.small_repeats), (len(files), args.repeats)]
        for size, repeats in plan:
            for repeat in range(repeats):
                order = ("plugin", "native") if repeat % 2 == 0 else ("native", "plugin")
                chosen = files[(repeat * 7) % len(files):][:1] if size == 1 else files
                for mode in order:
                    label = "%s, %d file%s #%d" % (mode, size, "" if size == 1 else "s", repeat + 1)
                    if mode == "plugin":
                        r = run_plugin(gateway, internal, inbox, chosen, args, label)
                    else:
                        r = run_native(native[0], native[1], chosen, args, label)
                    r["repeat"] = repeat + 1
                    runs.append(r)
                    if mode == "plugin":
                        log("%-24s %6.3f s complete → mail (stored inside %.3f, notifier %.3f); "
                            "whole %.2f s; load %.2f" % (
                                label, r["seconds"], r["storedInsideSeconds"], r["notifierSeconds"],
                                r["wholeSeconds"], r["loadAverageBefore"]))
                    else:
                        log("%-24s %6.3f s push; whole %.2f s; load %.2f" % (
                            label, r["seconds"], r["wholeSeconds"], r["loadAverageBefore"]))
        rss = {"plugin": pull.memory_of((gateway, internal)), "native": pull.memory_of(native)}
        if not sink.running():
            raise BenchmarkError("the SMTP sink died:\n%s" % sink.log()[-2000:])
    finally:
        pull.stop_all(servers, log)
        sink.stop()
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    machine["loadAverageAtEnd"] = [round(v, 2) for v in os.getloadavg()]

    memory = {}
    for mode in ("plugin", "native"):
        memory[mode] = {role: rss[mode][role]["endHwmKb"] for role in ("gateway", "internal")}
        memory[mode]["sum"] = memory[mode]["gateway"] + memory[mode]["internal"]
    memory["ratio"] = memory["plugin"]["sum"] / memory["native"]["sum"]
    summary = summarize(runs)
    report = {
        "benchmark": "Orthanc Inbound inbox latency",
        "runId": bench_support.RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": total},
        "arguments": {k: v for k, v in vars(args).items() if k != "output"},
        "units": {"seconds": "wall time", "rss": "kB from /proc/PID/status"},
        "machine": machine,
        "summary": summary,
        "rss": rss,
        "memory": memory,
        "runs": runs,
    }
    with open(os.path.join(args.output, "inbox.json"), "w") as f:
        json.dump(report, f, indent=1)
    write_markdown(os.path.join(args.output, "inbox.md"), report)
    write_plot(os.path.join(args.output, "inbox.png"), report)
    for size, e in summary.items():
        log("%s file(s): plugin complete → mail %.3f s (notifier %.3f s), native push %.3f s: "
            "ratio %.2f" % (size, e["plugin"]["seconds"], e["plugin"]["notifierSeconds"],
                            e["native"]["seconds"], e["ratio"]))
    log("peak memory, both Orthancs: plugin %.0f MiB, native %.0f MiB: ratio %.2f" % (
        memory["plugin"]["sum"] / 1024, memory["native"]["sum"] / 1024, memory["ratio"]))
    log("results in %s (%.0f s in all)" % (args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchmarkError, harness.ServerError, AssertionError) as e:
        print("inbox.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
