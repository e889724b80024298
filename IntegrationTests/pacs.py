"""A real PACS for the release tests: DCMTK's storescp (Debian's dcmtk), accepting every
transfer syntax and writing each received instance to a folder; stopped by its pid."""

import os
import signal
import socket
import subprocess
import time

import pydicom

import harness

AET = "PACS"


class Pacs:
    def __init__(self, folder, port=None, options=()):
        self.folder = folder
        self.port = port or harness.free_port()
        self.options = list(options)  # more storescp options, e.g. ["--bit-preserving"]
        self.process = None
        os.makedirs(folder, exist_ok=True)

    def modality(self):
        """The DicomModalities entry of this PACS in Orthanc's configuration."""
        return [AET, "127.0.0.1", self.port]

    def start(self):
        self.process = subprocess.Popen(
            ["storescp", "--aetitle", AET, "--output-directory", self.folder,
             "+xa"] + self.options + [str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("storescp did not start on port %d" % self.port)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def received(self):
        """Every instance received so far, read by pydicom."""
        result = []
        for name in sorted(os.listdir(self.folder)):
            path = os.path.join(self.folder, name)
            if os.path.isfile(path) and not name.startswith("."):
                result.append(pydicom.dcmread(path))
        return result

    def wait_for(self, count, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            files = self.received()
            if len(files) >= count:
                return files
            time.sleep(0.2)
        raise AssertionError("the PACS received %d instances, expected %d"
                             % (len(self.received()), count))
