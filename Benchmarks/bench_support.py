"""Helpers the benchmarks share: paths and settings, /proc readers, the client threads, native
POST /instances, the RSS sampler, the description of the machine and of the plugin."""

import datetime
import hashlib
import os
import platform
import queue
import shutil
import statistics
import subprocess
import threading
import time

import pydicom
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ORTHANC = os.environ.get("INBOUND_ORTHANC", "/usr/sbin/Orthanc")
PLUGIN = os.environ.get("INBOUND_PLUGIN", os.path.join(REPO, "build", "libOrthancInbound.so"))
WORK = os.environ.get("INBOUND_BENCH_WORK", "/var/tmp/orthanc-inbound-bench")
# Set by "run.sh all" for every benchmark of one invocation: the summary checks that every
# result it reads comes from the same invocation.
RUN_ID = os.environ.get("INBOUND_BENCH_RUN_ID")

ADMIN = ("admin", "admin-secret-4bX9qL2mT7vR")
MB = 1e6  # throughputs are in MB = 10^6 bytes


class BenchmarkError(Exception):
    pass


# --------------------------------------------------------------------------- processes, answers

def proc_status(pid):
    values = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])  # kB for VmRSS/VmHWM
    return values


def system_busy_seconds():
    """CPU time spent by the whole machine (every CPU, everything but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def check(response, what):
    if not 200 <= response.status_code < 300:
        raise BenchmarkError("%s answered %d: %s" % (what, response.status_code, response.text[:500]))
    return response


def admin_get(orthanc, path):
    return check(requests.get(orthanc.url + path, auth=ADMIN, timeout=60), "GET " + path).json()


def delete_everything(orthanc):
    for patient in admin_get(orthanc, "/patients"):
        # Admin writes are same-origin only: a script says so with this header.
        check(requests.delete(orthanc.url + "/patients/" + patient, auth=ADMIN, timeout=300,
                              headers={"X-Requested-With": "XMLHttpRequest"}),
              "DELETE /patients/" + patient)
    count = admin_get(orthanc, "/statistics")["CountInstances"]
    if count != 0:
        raise BenchmarkError("%d instances remain after deleting every patient" % count)


# --------------------------------------------------------------------------- the clients

def run_clients(files, clients, send_one, make_session):
    """Sends every file, with `clients` threads that each own one keep-alive session.
    Returns the per-file latencies (s)."""
    work = queue.Queue()
    for f in files:
        work.put(f)
    latencies = []
    errors = []
    lock = threading.Lock()

    def worker():
        session = make_session()
        try:
            while not errors:
                try:
                    f = work.get_nowait()
                except queue.Empty:
                    return
                start = time.perf_counter()
                send_one(session, f)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
        except Exception as e:  # reported by the main thread
            errors.append(e)
        finally:
            session.close()

    threads = [threading.Thread(target=worker, name="client-%d" % i) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return latencies


def ingest_native(orthanc, files, clients):
    def make_session():
        s = requests.Session()
        s.auth = ADMIN
        s.headers["Content-Type"] = "application/dicom"
        return s

    def send_one(session, f):
        r = check(session.post(orthanc.url + "/instances", data=f["body"], timeout=120),
                  "POST /instances (%s)" % f["name"])
        if r.json().get("Status") != "Success":
            raise BenchmarkError("POST /instances (%s): %s" % (f["name"], r.text[:300]))

    latencies = run_clients(files, clients, send_one, make_session)
    return {"latencies": latencies}


class RssSampler:
    """Samples VmRSS of Orthanc during a run: VmHWM only ever grows over the life of the
    process, so the peak *within* a phase needs sampling."""

    def __init__(self, pid, interval=0.02):
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="rss-sampler", daemon=True)

    def loop(self):
        while not self.stop_event.is_set():
            try:
                self.peak_kb = max(self.peak_kb, proc_status(self.pid)["VmRSS"])
            except OSError:
                return
            self.stop_event.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()


def relocate(server, workdir, name):
    """Moves a harness server's folders under the run's directory (INBOUND_BENCH_WORK, the disk
    the other benchmarks measure)."""
    shutil.rmtree(server.workdir, ignore_errors=True)
    server.name = name
    server.workdir = os.path.join(workdir, name)
    server.storage = os.path.join(server.workdir, "db")
    os.makedirs(server.storage)
    server.config_path = os.path.join(server.workdir, "config.json")
    server.log_path = os.path.join(server.workdir, "orthanc.log")
    return server


def settle():
    """Flushes the page cache's dirty pages (untimed), so that no run pays for the write-back of
    the previous one."""
    os.sync()
    time.sleep(0.5)


# --------------------------------------------------------------------------- the machine

def describe_machine(path):
    info = {"nproc": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "pydicom": pydicom.__version__}
    try:
        info["usableCpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpuModel"] = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                info["ramGiB"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    try:
        out = subprocess.run(["df", "-P", "-T", path], capture_output=True, text=True,
                             check=True).stdout.splitlines()[-1].split()
        device, fstype = out[0], out[1]
        info["disk"] = {"device": device, "filesystem": fstype,
                        "sizeGiB": round(int(out[2]) / 1024 / 1024, 1)}
        name = os.path.basename(os.path.realpath(device))
        rotational = "/sys/block/%s/queue/rotational" % name
        if os.path.exists(rotational):
            with open(rotational) as f:
                info["disk"]["rotational"] = f.read().strip() == "1"
        info["disk"]["fsyncMs"] = fsync_latency_ms(path)
    except (subprocess.CalledProcessError, IndexError, OSError):
        pass
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        info["repository"] = head + ("+modified" if dirty else "")
    except (subprocess.CalledProcessError, OSError):
        pass
    return info


def describe_plugin():
    with open(PLUGIN, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"path": PLUGIN, "bytes": os.path.getsize(PLUGIN), "sha256": digest[:16],
            "built": datetime.datetime.utcfromtimestamp(os.path.getmtime(PLUGIN))
                     .strftime("%Y-%m-%d %H:%M:%S UTC")}


def snapshot_plugin(workdir):
    """Copies the plugin into the run's directory and loads that copy: the build may be
    rewritten while the benchmark runs (a half-written library makes Orthanc refuse to start,
    a replaced one would mix two builds in one report). Waits until the file has not changed for
    3 s; returns (path of the copy, its description)."""
    copy = os.path.join(workdir, os.path.basename(PLUGIN))
    deadline = time.time() + 120
    while True:
        before = os.stat(PLUGIN)
        if time.time() - before.st_mtime >= 3:
            shutil.copy2(PLUGIN, copy)
            after = os.stat(PLUGIN)
            if (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size):
                break
        if time.time() > deadline:
            raise BenchmarkError("%s keeps changing (being rebuilt?)" % PLUGIN)
        time.sleep(1)
    described = describe_plugin()
    with open(copy, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest()[:16] != described["sha256"]:
            raise BenchmarkError("%s changed while it was copied" % PLUGIN)
    described["loadedFrom"] = copy
    try:
        described["workingTreeChanges"] = subprocess.run(
            ["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--", "Plugin"],
            capture_output=True, text=True, check=True).stdout.split("\n")
        described["workingTreeChanges"] = [l.strip() for l in described["workingTreeChanges"] if l.strip()]
    except (subprocess.CalledProcessError, OSError):
        pass
    return copy, described


def fsync_latency_ms(directory, rounds=50):
    """Median time of one small write + fsync in the storage directory's file system: the price
    of one durable SQLite commit, roughly."""
    path = os.path.join(directory, "fsync-probe")
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for i in range(rounds):
            os.pwrite(fd, b"x" * 4096, (i % 4) * 4096)
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)
    return round(1000 * statistics.median(times), 3)


# --------------------------------------------------------------------------- reports

def machine_lines(m):
    disk = m.get("disk", {})
    return [
        "- CPU: %s, `nproc` = %s" % (m.get("cpuModel", "?"), m.get("nproc")),
        "- RAM: %s GiB" % m.get("ramGiB", "?"),
        "- Disk: %s (%s, %s GiB%s), fsync of 4 KiB: median %s ms" % (
            disk.get("device", "?"), disk.get("filesystem", "?"), disk.get("sizeGiB", "?"),
            "" if "rotational" not in disk else
            (", reported rotational" if disk["rotational"] else ", reported non-rotational"),
            disk.get("fsyncMs", "?")),
        "- Load average (1, 5, 15 min) when the benchmark started: %s — the machine may be "
        "shared; see \"other CPU\" per run" % ", ".join("%.2f" % v for v in m.get("loadAverageAtStart", [])),
        "- Kernel %s, Orthanc %s, Python %s, pydicom %s" % (
            m.get("kernel"), m.get("orthancVersion", "?"), m.get("python"), m.get("pydicom")),
        "- Plugin: `%s`, built %s, SHA-256 %s…; repository at %s" % (
            os.path.relpath(m.get("plugin", {}).get("path", "?"), REPO),
            m.get("plugin", {}).get("built", "?"), m.get("plugin", {}).get("sha256", "?"),
            m.get("repository", "?")),
    ]
