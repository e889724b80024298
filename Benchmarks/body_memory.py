#!/usr/bin/python3
"""Peak memory of Orthanc + the plugin per byte of an uploaded file body, per role.

Starts a Standalone and a Gateway (each alone, no limits), sends one small file to warm up,
resets the peak resident set size (/proc/<pid>/clear_refs, "5"), sends one big file
(--megabytes, default 64) with PUT /inbound/api/uploads/<id>/files/<sha256>, and reports
(VmHWM after - VmRSS before) / size. These figures are the per-role multiples that the
access filter reserves per byte of Content-Length (Plugin/Limits/LimitsGuard.cpp).

    Benchmarks/body_memory.py [--megabytes 64] [--repeats 2]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "IntegrationTests"))


import harness  # noqa: E402
from data import make_dicom  # noqa: E402


def big_dicom(megabytes):
    side = int((megabytes * 1024 * 1024 / 2) ** 0.5)
    return make_dicom(patient_id="MEM-1", rows=side, columns=side)


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no %s for %d" % (field, pid))


def measure(plugin, role, payload, repeats):
    server = harness.OrthancServer(plugin, inbound={"Role": role})
    server.start()
    try:
        pid = server.process.pid
        warm = harness.Upload.open(server)
        assert warm.put(big_dicom(1)).status_code == 201
        figures = []
        for _ in range(repeats):
            upload = harness.Upload.open(server)
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")
            before = status(pid, "VmRSS")
            r = upload.put(payload)
            assert r.status_code == 201, r.text[:300]
            peak = status(pid, "VmHWM")
            figures.append((peak - before) / len(payload))
        return figures
    finally:
        server.stop()
        server.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    plugin = os.path.abspath(os.environ.get(
        "INBOUND_PLUGIN", os.path.join(HERE, "..", "build", "libOrthancInbound.so")))
    payload = big_dicom(args.megabytes)
    print("file: %d bytes" % len(payload))
    for role in ("Standalone", "Gateway"):
        figures = measure(plugin, role, payload, args.repeats)
        print("%-10s peak RSS increase per body byte: %s" % (
            role, ", ".join("%.2f" % f for f in figures)))


if __name__ == "__main__":
    main()
