#!/usr/bin/python3
"""Ingest benchmark of Orthanc Inbound.

Compares how fast a 300-instance CT study is stored by two real Orthanc 1.10.1 processes running
side by side, each serving only its own mode (so that its VmHWM is that mode's peak memory):
  native  - Orthanc without the plugin (its own authentication on): POST /instances with the
            admin's credentials, and
  plugin  - Orthanc with the plugin (Standalone): the public upload API, POST
            /inbound/api/uploads, PUT .../files/{sha256} per file, POST .../complete,
each with 1 client (sequential) and with 4 parallel clients (threads, each with its own
keep-alive HTTP session). Every measurement is repeated (default 5 times, alternating which mode
goes first) and the median is reported. Between runs every patient is deleted, so that each run
stores into a similar state.

This is a measurement, not a test: nothing is asserted about the timings. The script exits with
a non-zero code only if something went wrong (any answer that is not 2xx, a missing instance,
Orthanc dying, ...).

Outputs: results/ingest.json, results/ingest.md, results/ingest.png (beside this script).
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy
import pydicom
import requests
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

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
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
DATASET_VERSION = 2  # bump when the generated files change, to invalidate the cache


class BenchmarkError(Exception):
    pass


# --------------------------------------------------------------------------- the data set

def uid(*parts):
    """A deterministic UID under the UUID root 2.25 (128 bits of a SHA-256), so that the cached
    data set is reproducible. (pydicom's generate_uid ignores its entropy sources when asked for
    a 2.25 UID, and would give every call a random one.)"""
    digest = hashlib.sha256("/".join(["orthanc-inbound-bench"] + [str(p) for p in parts]).encode())
    return "2.25.%d" % int(digest.hexdigest()[:32], 16)


def phantom_slice(index, count, rng):
    """A 512x512 CT-like slice in stored values (12 bits used, rescale intercept -1024):
    air, an elliptic skull whose size follows the slice position, brain, some noise."""
    n = 512
    y, x = numpy.mgrid[0:n, 0:n].astype(numpy.float32)
    cx, cy = n / 2 + 3.0 * numpy.sin(index / 40.0), n / 2 - 10
    position = (index + 0.5) / count  # 0 = vertex ... 1 = skull base
    scale = 0.55 + 0.45 * numpy.sin(numpy.pi * min(0.95, 0.15 + 0.85 * position))
    a, b = 170.0 * scale, 205.0 * scale
    r = numpy.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
    hu = numpy.full((n, n), -1000.0, dtype=numpy.float32)       # air
    hu[r < 1.0] = 1200.0                                          # bone
    hu[r < 0.93] = 35.0                                           # brain
    ventricles = numpy.sqrt(((x - cx) / (18 * scale)) ** 2 + ((y - cy + 10) / (45 * scale)) ** 2)
    hu[ventricles < 1.0] = 8.0                                    # CSF
    hu += rng.normal(0.0, 6.0, size=(n, n)).astype(numpy.float32)  # noise
    stored = numpy.clip(hu + 1024.0, 0, 4095).astype(numpy.uint16)
    return stored


def make_instance(index, count, rng):
    study_uid = uid("study")
    series_uid = uid("series")
    sop_uid = uid("instance", index)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "INBOUND_BENCH"

    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False

    thickness = 1.0
    z = -150.0 + index * thickness
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20260512"
    ds.StudyTime = "101500"
    ds.SeriesTime = "101722"
    ds.AcquisitionTime = ds.ContentTime = "1017%02d.%03d" % (22 + index // 100, (index * 37) % 1000)
    ds.AccessionNumber = "ACC-BENCH-0001"
    ds.Modality = "CT"
    ds.Manufacturer = "Synthetic"
    ds.InstitutionName = "Example Clinic"
    ds.ReferringPhysicianName = "EXAMPLE^REFERRER"
    ds.StationName = "CT01"
    ds.StudyDescription = "CT HEAD WITHOUT CONTRAST"
    ds.SeriesDescription = "Head 1.0 mm axial"
    ds.ManufacturerModelName = "Benchmark phantom"
    ds.PatientName = "BENCH^INGEST"
    ds.PatientID = "BENCH-0001"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "O"
    ds.PatientAge = "066Y"
    ds.BodyPartExamined = "HEAD"
    ds.SliceThickness = "%.1f" % thickness
    ds.KVP = "120"
    ds.DataCollectionDiameter = "250"
    ds.ReconstructionDiameter = "250"
    ds.ExposureTime = "1000"
    ds.XRayTubeCurrent = "300"
    ds.ConvolutionKernel = "H30s"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = "2"
    ds.AcquisitionNumber = "1"
    ds.InstanceNumber = str(index + 1)
    ds.ImagePositionPatient = ["-125.0", "-125.0", "%.1f" % z]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = uid("frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = "%.1f" % z
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 512
    ds.Columns = 512
    ds.PixelSpacing = ["0.488281", "0.488281"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "40"
    ds.WindowWidth = "80"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.PixelData = phantom_slice(index, count, rng).tobytes()
    return ds


def ensure_dataset(count):
    """Generates the study once; later runs reuse the cached files."""
    directory = os.path.join(WORK, "dataset-v%d-%d" % (DATASET_VERSION, count))
    manifest = os.path.join(directory, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            files = json.load(f)["files"]
        if len(files) == count and all(os.path.exists(os.path.join(directory, n)) for n in files):
            return directory, files
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    log("generating %d CT instances in %s" % (count, directory))
    rng = numpy.random.default_rng(20260512)
    files = []
    for i in range(count):
        name = "CT%04d.dcm" % (i + 1)
        make_instance(i, count, rng).save_as(os.path.join(directory, name), write_like_original=False)
        files.append(name)
    with open(manifest, "w") as f:  # written last: a half-generated cache is regenerated
        json.dump({"version": DATASET_VERSION, "files": files}, f)
    return directory, files


def load_dataset(count):
    directory, names = ensure_dataset(count)
    files = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            body = f.read()
        files.append({"name": name, "body": body, "sha256": hashlib.sha256(body).hexdigest()})
    check_dataset(directory, names)
    return directory, files


def check_dataset(directory, names):
    """One patient, one study, one series, distinct instances, explicit VR little endian."""
    seen = {"PatientID": set(), "StudyInstanceUID": set(), "SeriesInstanceUID": set()}
    sops = set()
    for name in names:
        ds = pydicom.dcmread(os.path.join(directory, name), stop_before_pixels=True)
        if ds.file_meta.TransferSyntaxUID != ExplicitVRLittleEndian:
            raise BenchmarkError("%s: transfer syntax %s" % (name, ds.file_meta.TransferSyntaxUID))
        for key in seen:
            seen[key].add(ds.get(key))
        sops.add(ds.SOPInstanceUID)
    problems = ["%d values of %s" % (len(v), k) for k, v in seen.items() if len(v) != 1]
    if len(sops) != len(names):
        problems.append("%d SOP Instance UIDs for %d files" % (len(sops), len(names)))
    if problems:
        raise BenchmarkError("the generated study in %s is wrong: %s (delete it to regenerate)"
                             % (directory, ", ".join(problems)))


# --------------------------------------------------------------------------- Orthanc

def log(message):
    print("[ingest %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class Orthanc:
    """One Orthanc 1.10.1 process: with the plugin (plugin=True), or native — no plugin at all,
    Orthanc's own authentication on, as a hospital's Orthanc without the plugin runs."""

    def __init__(self, root, plugin=True):
        self.plugin = plugin
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.storage = os.path.join(root, "storage")
        os.makedirs(self.storage)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.config_path = os.path.join(root, "config.json")
        self.log_path = os.path.join(root, "orthanc.log")
        self.process = None

    def configuration(self):
        if not self.plugin:
            return {
                "HttpPort": self.port,
                "StorageDirectory": self.storage,
                "IndexDirectory": self.storage,
                "RemoteAccessAllowed": False,
                "AuthenticationEnabled": True,
                "RegisteredUsers": {ADMIN[0]: ADMIN[1]},
                "DicomServerEnabled": False,
                "WebDavEnabled": False,
                "HttpDescribeErrors": False,
                "Plugins": [],
            }
        return {
            "HttpPort": self.port,
            "StorageDirectory": self.storage,
            "IndexDirectory": self.storage,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "RegisteredUsers": {ADMIN[0]: ADMIN[1]},
            "DicomServerEnabled": False,
            "WebDavEnabled": False,
            "HttpDescribeErrors": False,
            "Plugins": [getattr(self, "plugin_path", PLUGIN)],
            "UserMetadata": {"InboundUpload": 4201, "InboundSender": 4202,
                             "InboundOriginalPatientID": 4203, "InboundSha256": 4204},
            "Inbound": {"Role": "Standalone", "Privacy": {"Version": "1", "Text": "x"},
                        # The per-address rate limits (20 requests/s, 50 MiB/s by default)
                        # would throttle the one benchmark client: lifted, as a site would for
                        # a trusted sender. Their checks still run on every request.
                        "Limits": {"RequestsPerSecond": 0, "BytesPerSecond": 0}},
        }

    def start(self):
        with open(self.config_path, "w") as f:
            json.dump(self.configuration(), f, indent=2)
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([ORTHANC, self.config_path], stdout=self.log_file,
                                        stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError("Orthanc exited with code %s during start-up:\n%s"
                                     % (self.process.returncode, self.log_tail()))
            try:
                r = requests.get(self.url + "/system", auth=ADMIN, timeout=2)
                if r.status_code == 200:
                    return r.json()
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise BenchmarkError("Orthanc did not answer /system within 60 s:\n" + self.log_tail())

    def alive(self):
        if self.process.poll() is not None:
            raise BenchmarkError("Orthanc died (exit code %s):\n%s"
                                 % (self.process.returncode, self.log_tail()))

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


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


OPEN_BODY = {"sender": {"name": "Bench", "email": "bench@example.org"},
             "consent": {"version": "1", "accepted": True}}


def ingest_plugin(orthanc, files, clients):
    api = orthanc.url + "/inbound/api/uploads"
    opened = check(requests.post(api, json=OPEN_BODY, timeout=60), "POST /inbound/api/uploads")
    if opened.status_code != 201:
        raise BenchmarkError("opening an upload answered %d" % opened.status_code)
    upload = opened.json()
    headers = {"X-Inbound-Token": upload["token"], "Content-Type": "application/octet-stream"}

    def make_session():
        s = requests.Session()
        s.headers.update(headers)
        return s

    def send_one(session, f):
        r = check(session.put("%s/%s/files/%s" % (api, upload["id"], f["sha256"]),
                              data=f["body"], timeout=120), "PUT file %s" % f["name"])
        if r.status_code != 201:
            raise BenchmarkError("PUT file %s answered %d, not 201" % (f["name"], r.status_code))

    latencies = run_clients(files, clients, send_one, make_session)
    receipt = check(requests.post("%s/%s/complete" % (api, upload["id"]), headers=headers,
                                  timeout=60), "POST .../complete").json()
    if receipt.get("files") != len(files) or receipt.get("state") != "complete":
        raise BenchmarkError("unexpected receipt: %s" % json.dumps(receipt)[:500])
    return {"latencies": latencies, "uploadId": upload["id"]}


MODES = {"native": ingest_native, "plugin": ingest_plugin}


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


def settle():
    """Flushes the page cache's dirty pages (untimed), so that no run pays for the write-back of
    the previous one."""
    os.sync()
    time.sleep(0.5)


def measure(orthanc, files, mode, clients, label):
    orthanc.alive()
    settle()
    pid = orthanc.process.pid
    total_bytes = sum(len(f["body"]) for f in files)
    before = proc_status(pid)
    load_before = os.getloadavg()[0]
    busy_before = system_busy_seconds()
    cpu_before = proc_cpu_seconds(pid)
    client_before = os.times()
    with RssSampler(pid) as sampler:
        start = time.perf_counter()
        outcome = MODES[mode](orthanc, files, clients)
        wall = time.perf_counter() - start
    client_after = os.times()
    cpu_after = proc_cpu_seconds(pid)
    busy_after = system_busy_seconds()
    after = proc_status(pid)
    orthanc.alive()

    statistics_ = admin_get(orthanc, "/statistics")
    held = [statistics_[k] for k in ("CountPatients", "CountStudies", "CountSeries", "CountInstances")]
    if held != [1, 1, 1, len(files)]:
        raise BenchmarkError("%s: Orthanc holds %s patients/studies/series/instances, not %s"
                             % (label, held, [1, 1, 1, len(files)]))

    lat = sorted(outcome["latencies"])
    client_cpu = ((client_after.user + client_after.system)
                  - (client_before.user + client_before.system))
    result = {
        "label": label,
        "mode": mode,
        "clients": clients,
        "files": len(files),
        "bytes": total_bytes,
        "seconds": wall,
        "mbPerSecond": total_bytes / MB / wall,
        "filesPerSecond": len(files) / wall,
        "latencyMsMedian": 1000 * statistics.median(lat),
        "latencyMsP95": 1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))],
        "orthancCpuSeconds": cpu_after - cpu_before,
        "orthancCpuMsPerFile": 1000 * (cpu_after - cpu_before) / len(files),
        "clientCpuSeconds": client_cpu,
        # CPU time of everything else on the machine during the run: other work competing for
        # the same cores makes a run slower; runs with much of it are less trustworthy.
        "otherCpuSeconds": max(0.0, (busy_after - busy_before) - (cpu_after - cpu_before)
                               - client_cpu),
        "loadAverageBefore": load_before,
        "rssKbBefore": before["VmRSS"],
        "rssKbAfter": after["VmRSS"],
        "rssKbPeakSampled": max(sampler.peak_kb, before["VmRSS"], after["VmRSS"]),
        "hwmKbBefore": before["VmHWM"],
        "hwmKbAfter": after["VmHWM"],
    }
    if "uploadId" in outcome:
        result["uploadId"] = outcome["uploadId"]
    delete_everything(orthanc)
    return result


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

def summarize(runs, modes, concurrency):
    summary = {}
    for mode in modes:
        for clients in concurrency:
            chosen = [r for r in runs if r["mode"] == mode and r["clients"] == clients]
            if not chosen:
                continue
            key = "%s-%d" % (mode, clients)
            summary[key] = {
                "mode": mode, "clients": clients, "repeats": len(chosen),
                "mbPerSecond": statistics.median(r["mbPerSecond"] for r in chosen),
                "mbPerSecondMin": min(r["mbPerSecond"] for r in chosen),
                "mbPerSecondMax": max(r["mbPerSecond"] for r in chosen),
                "filesPerSecond": statistics.median(r["filesPerSecond"] for r in chosen),
                "seconds": statistics.median(r["seconds"] for r in chosen),
                "latencyMsMedian": statistics.median(r["latencyMsMedian"] for r in chosen),
                "orthancCpuMsPerFile": statistics.median(r["orthancCpuMsPerFile"] for r in chosen),
                "rssKbPeakSampled": max(r["rssKbPeakSampled"] for r in chosen),
            }
    ratios = {}
    for clients in concurrency:
        n, p = summary.get("native-%d" % clients), summary.get("plugin-%d" % clients)
        if n and p:
            ratios["%d" % clients] = p["mbPerSecond"] / n["mbPerSecond"]
    return summary, ratios


def describe_clients(clients):
    return "sequential (1 client)" if clients == 1 else "parallel (%d clients)" % clients


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


def write_markdown(path, report):
    s, ratios, d = report["summary"], report["ratios"], report["dataset"]
    lines = [
        "# Ingest benchmark — results",
        "",
        "Generated by `Benchmarks/run.sh ingest` on %s (UTC). %d CT instances, %dx%d, 16 bits, "
        "explicit VR little endian, %.1f MB in all (%.3f MB per file). Two Orthanc processes side "
        "by side: native (no plugin, Orthanc's authentication on) and one with the plugin "
        "(Standalone). Median of %d runs each; MB = 10^6 bytes."
        % (report["finishedAt"], d["files"], 512, 512, d["bytes"] / MB, d["bytes"] / MB / d["files"],
           report["repeats"]),
        "",
        "| mode | clients | MB/s (median) | min – max | files/s | s per run | client latency ms (median) | Orthanc CPU ms/file |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, v in s.items():
        lines.append("| %s | %d | %.1f | %.1f – %.1f | %.1f | %.2f | %.1f | %.1f |" % (
            "`POST /instances`" if v["mode"] == "native" else "upload API", v["clients"],
            v["mbPerSecond"], v["mbPerSecondMin"], v["mbPerSecondMax"], v["filesPerSecond"],
            v["seconds"], v["latencyMsMedian"], v["orthancCpuMsPerFile"]))
    lines += ["", "Ratio plugin / native (median throughput):", ""]
    for clients, ratio in ratios.items():
        lines.append("- %s: **%.2f**" % (describe_clients(int(clients)), ratio))
    lines += [
        "",
        "## Peak memory",
        "",
        "| | native | plugin | plugin / native |",
        "| --- | ---: | ---: | ---: |",
        "| VmHWM at the end (peak since start-up), MiB | %.0f | %.0f | **%.2f** |" % (
            report["memory"]["native"]["hwmKb"] / 1024, report["memory"]["plugin"]["hwmKb"] / 1024,
            report["memory"]["ratio"]),
        "| highest VmRSS sampled during a run, MiB | %.0f | %.0f | %.2f |" % (
            report["memory"]["native"]["peakSampledKb"] / 1024,
            report["memory"]["plugin"]["peakSampledKb"] / 1024,
            report["memory"]["plugin"]["peakSampledKb"] / report["memory"]["native"]["peakSampledKb"]),
        "| VmRSS after start-up, MiB | %.0f | %.0f | |" % (
            report["rss"]["native"]["startKb"] / 1024, report["rss"]["plugin"]["startKb"] / 1024),
        "",
        "Each process serves only its own mode (1 and %d clients, warm-up included), so its VmHWM "
        "is that mode's peak." % report["concurrency"][-1],
        "",
        "## Every run, in order",
        "",
        "RSS of the run's Orthanc process: VmRSS before and after the run, the "
        "highest VmRSS sampled every 20 ms during it, and VmHWM (the process's peak since "
        "start-up, so it never decreases), in MiB. \"Other CPU\" is the CPU time the rest of "
        "the machine used during the run (neither Orthanc nor the benchmark's client): "
        "competing work on the same cores slows a run down.",
        "",
        "| # | run | s | MB/s | Orthanc CPU s | client CPU s | other CPU s | RSS before | RSS after "
        "| peak during run | VmHWM before | VmHWM after |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(report["runs"], 1):
        lines.append("| %d | %s | %.2f | %.1f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
            i, r["label"], r["seconds"], r["mbPerSecond"], r["orthancCpuSeconds"],
            r["clientCpuSeconds"], r["otherCpuSeconds"], r["rssKbBefore"] / 1024,
            r["rssKbAfter"] / 1024, r["rssKbPeakSampled"] / 1024, r["hwmKbBefore"] / 1024,
            r["hwmKbAfter"] / 1024))
    lines += ["", "## Machine", ""] + machine_lines(report["machine"]) + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_plot(path, report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    concurrency = report["concurrency"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.36
    colors = {"native": "#4c72b0", "plugin": "#dd8452"}
    names = {"native": "native POST /instances", "plugin": "upload API (plugin)"}
    for j, mode in enumerate(("native", "plugin")):
        xs, ys, lo, hi, fps, cpu = [], [], [], [], [], []
        for i, clients in enumerate(concurrency):
            v = s.get("%s-%d" % (mode, clients))
            if not v:
                continue
            xs.append(i + (j - 0.5) * width)
            ys.append(v["mbPerSecond"])
            lo.append(v["mbPerSecond"] - v["mbPerSecondMin"])
            hi.append(v["mbPerSecondMax"] - v["mbPerSecond"])
            fps.append(v["filesPerSecond"])
            cpu.append(v["orthancCpuMsPerFile"])
        bars = ax.bar(xs, ys, width, yerr=[lo, hi], capsize=4, color=colors[mode], label=names[mode])
        for bar, y, f in zip(bars, ys, fps):
            ax.text(bar.get_x() + bar.get_width() / 2, y * 0.5, "%.0f MB/s\n%.0f files/s" % (y, f),
                    ha="center", va="center", fontsize=8, color="white")
        bars2 = ax2.bar(xs, cpu, width, color=colors[mode], label=names[mode])
        for bar, c in zip(bars2, cpu):
            ax2.text(bar.get_x() + bar.get_width() / 2, c, "%.1f" % c, ha="center", va="bottom",
                     fontsize=8)
    labels = []
    for clients in concurrency:
        ratio = report["ratios"].get("%d" % clients)
        labels.append("%s\nplugin/native = %s" % (describe_clients(clients),
                                                   "%.2f" % ratio if ratio else "?"))
    for a in (ax, ax2):
        a.set_xticks(range(len(concurrency)))
        a.set_xticklabels(labels, fontsize=9)
    ax.set_ylabel("throughput, MB/s (median; bars: min–max)")
    ax.set_title("Ingest of %d CT instances (%.0f MB), median of %d" % (
        report["dataset"]["files"], report["dataset"]["bytes"] / MB, report["repeats"]), fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_ylim(0, max(v["mbPerSecondMax"] for v in s.values()) * 1.25)
    ax2.set_ylabel("Orthanc process CPU time, ms per file")
    ax2.set_title("CPU spent by Orthanc (incl. the plugin)", fontsize=10)
    m = report["machine"]
    fig.text(0.01, 0.01, "%s, %s CPUs, %s GiB RAM, %s %s" % (
        m.get("cpuModel", "?"), m.get("nproc"), m.get("ramGiB"), m.get("disk", {}).get("filesystem", ""),
        m.get("disk", {}).get("device", "")), fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="instances in the study (300)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (5)")
    parser.add_argument("--clients", type=int, default=4, help="parallel clients (4)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="files sent once per mode before measuring, not reported (20)")
    parser.add_argument("--output", default=os.path.join(HERE, "results"),
                        help="directory of ingest.json/.md/.png")
    parser.add_argument("--keep", action="store_true",
                        help="keep Orthanc's temporary directory (log, storage)")
    args = parser.parse_args()

    if not os.path.isfile(PLUGIN):
        raise BenchmarkError("no plugin at %s: build it (cmake --build build) or set INBOUND_PLUGIN"
                             % PLUGIN)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    started = time.time()

    _, files = load_dataset(args.files)
    total = sum(len(f["body"]) for f in files)
    log("%d files, %.1f MB (%.3f MB per file); SHA-256 computed before timing"
        % (len(files), total / MB, total / MB / len(files)))

    root = tempfile.mkdtemp(prefix="run-", dir=WORK)
    # One Orthanc per mode, side by side: the native one without the plugin, the other with it.
    # Each process serves only its own mode, so that its VmHWM at the end is that mode's peak.
    servers = {}
    runs = []
    rss = {}
    try:
        plugin, described = snapshot_plugin(root)
        servers = {"native": Orthanc(os.path.join(root, "native"), plugin=False),
                   "plugin": Orthanc(os.path.join(root, "plugin"))}
        servers["plugin"].plugin_path = plugin
        versions = {}
        for mode, orthanc in servers.items():
            versions[mode] = orthanc.start().get("Version")
            rss[mode] = {"startKb": proc_status(orthanc.process.pid)["VmRSS"]}
            log("%s Orthanc %s, pid %d, port %d, storage %s" % (
                mode, versions[mode], orthanc.process.pid, orthanc.port, orthanc.storage))
        machine = describe_machine(servers["plugin"].storage)
        machine["orthancVersion"] = versions["plugin"]
        machine["plugin"] = described
        machine["loadAverageAtStart"] = [round(v, 2) for v in os.getloadavg()]

        if args.warmup > 0:
            for mode in MODES:
                measure(servers[mode], files[:args.warmup], mode, 1, "warm-up " + mode)
            log("warm-up done (%d files per mode, not reported)" % args.warmup)

        concurrency = [1, args.clients]
        for repeat in range(args.repeats):
            order = ["native", "plugin"] if repeat % 2 == 0 else ["plugin", "native"]
            for clients in concurrency:
                for mode in order:
                    label = "%s, %d client%s, #%d" % (mode, clients, "s" if clients > 1 else "",
                                                       repeat + 1)
                    r = measure(servers[mode], files, mode, clients, label)
                    r["repeat"] = repeat + 1
                    runs.append(r)
                    log("%-24s %5.2f s %6.1f MB/s %6.1f files/s  Orthanc CPU %4.1f ms/file  "
                        "other CPU %4.2f s  RSS %4.0f -> %4.0f MiB (peak %4.0f)" % (
                            label, r["seconds"], r["mbPerSecond"], r["filesPerSecond"],
                            r["orthancCpuMsPerFile"], r["otherCpuSeconds"], r["rssKbBefore"] / 1024,
                            r["rssKbAfter"] / 1024, r["rssKbPeakSampled"] / 1024))
        for mode, orthanc in servers.items():
            orthanc.alive()
            end = proc_status(orthanc.process.pid)
            rss[mode].update({"endKb": end["VmRSS"], "endHwmKb": end["VmHWM"]})
    finally:
        for orthanc in servers.values():
            orthanc.stop()
        if args.keep:
            log("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)

    summary, ratios = summarize(runs, list(MODES), concurrency)
    memory = {mode: {"hwmKb": rss[mode]["endHwmKb"],
                     "peakSampledKb": max(r["rssKbPeakSampled"] for r in runs if r["mode"] == mode)}
              for mode in MODES}
    memory["ratio"] = memory["plugin"]["hwmKb"] / memory["native"]["hwmKb"]
    report = {
        "benchmark": "Orthanc Inbound ingest",
        "runId": RUN_ID,
        "finishedAt": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
        "durationSeconds": round(time.time() - started, 1),
        "dataset": {"files": len(files), "bytes": total, "rows": 512, "columns": 512,
                    "bitsAllocated": 16, "transferSyntax": str(ExplicitVRLittleEndian),
                    "modality": "CT"},
        "repeats": args.repeats,
        "concurrency": concurrency,
        "units": {"mbPerSecond": "10^6 bytes of DICOM files per second of wall time",
                  "rss": "kB from /proc/PID/status"},
        "machine": machine,
        "orthancConfiguration": {mode: o.configuration() for mode, o in servers.items()},
        "summary": summary,
        "ratios": ratios,
        "memory": memory,
        "rss": rss,
        "runs": runs,
    }
    for c in report["orthancConfiguration"].values():  # no secrets in the results
        c["RegisteredUsers"] = {u: "***" for u in c.get("RegisteredUsers", {})}
    with open(os.path.join(args.output, "ingest.json"), "w") as f:
        json.dump(report, f, indent=2)
    write_markdown(os.path.join(args.output, "ingest.md"), report)
    write_plot(os.path.join(args.output, "ingest.png"), report)

    for key, v in summary.items():
        log("median %-9s %6.1f MB/s  %6.1f files/s" % (key, v["mbPerSecond"], v["filesPerSecond"]))
    for clients, ratio in ratios.items():
        log("plugin/native, %s: %.2f" % (describe_clients(int(clients)), ratio))
    log("peak memory (VmHWM) native %.0f MiB, plugin %.0f MiB: ratio %.2f" % (
        memory["native"]["hwmKb"] / 1024, memory["plugin"]["hwmKb"] / 1024, memory["ratio"]))
    log("results in %s (%.0f s in all)" % (args.output, report["durationSeconds"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print("ingest.py: error: %s" % e, file=sys.stderr)
        sys.exit(1)
