"""A real ClamAV clamd for the malware tests (Debian's clamav-daemon), started in the foreground
with a configuration and a signature database of the test's own, and files it finds.

No signature can be downloaded here, and the official database would not be wanted anyway:
the database is made at test time — a body signature (.ndb) matching a marker byte string,
and an MD5 signature (.hdb) of one whole file. clamd listens on a Unix socket in the test's
folder (never the system service's) and is stopped by its pid."""

import hashlib
import io
import os
import socket
import struct
import subprocess
import threading
import time

import pydicom

import data
import harness

CLAMD = "/usr/sbin/clamd"

# A byte string that no real file holds, and the body signature that matches it anywhere.
MARKER = b"INBOUND-MALWARE-TEST-MARKER-7f3a9c0e51d2"
MARKER_SIGNATURE = "Inbound.Test.Marker"
# clamd names what it finds in a database that is not ClamAV's own with this suffix.
MARKER_FOUND = MARKER_SIGNATURE + ".UNOFFICIAL"

# A file that is not DICOM, known to the database by the MD5 of its bytes (.hdb).
WHOLE_FILE = b"MZ\x90\x00" + b"not an image, a program a CD could carry " * 40
WHOLE_FILE_SIGNATURE = "Inbound.Test.WholeFile"


class Clamd:
    """clamd -c <folder>/clamd.conf in the foreground; start() waits until it answers PING."""

    def __init__(self, folder, stream_max_length="1M"):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.socket_path = os.path.join(folder, "clamd.ctl")
        self.log_path = os.path.join(folder, "clamd.log")
        self.stream_max_length = stream_max_length
        self.process = None

    @property
    def address(self):
        """The plugin's Inbound.Scan.Clamd."""
        return "unix:" + self.socket_path

    def write_configuration(self):
        database = os.path.join(self.folder, "db")
        os.makedirs(database, exist_ok=True)
        with open(os.path.join(database, "inbound.ndb"), "w") as f:
            # Name:TargetType(0: any file):Offset(*: anywhere):HexSignature
            f.write("%s:0:*:%s\n" % (MARKER_SIGNATURE, MARKER.hex()))
        with open(os.path.join(database, "inbound.hdb"), "w") as f:
            f.write("%s:%d:%s\n" % (hashlib.md5(WHOLE_FILE).hexdigest(), len(WHOLE_FILE),
                                    WHOLE_FILE_SIGNATURE))
        temporary = os.path.join(self.folder, "tmp")
        os.makedirs(temporary, exist_ok=True)
        path = os.path.join(self.folder, "clamd.conf")
        with open(path, "w") as f:
            f.write("\n".join([
                "LocalSocket %s" % self.socket_path,
                "DatabaseDirectory %s" % database,
                "TemporaryDirectory %s" % temporary,
                "LogFile %s" % self.log_path,
                "LogClean yes",          # one line per scan: the tests count them
                "Foreground yes",
                "User root",
                "StreamMaxLength %s" % self.stream_max_length,
                # Files up to the stream's length are scanned whole (doc/Operations.md).
                "MaxFileSize %s" % self.stream_max_length,
                "MaxScanSize %s" % self.stream_max_length,
                "MaxThreads 4",
                "SelfCheck 3600", ""]))
        return path

    def start(self, timeout=60.0):
        assert self.process is None, "clamd is running already"
        assert os.path.exists(CLAMD), "%s is missing: install Debian's clamav-daemon " \
            "(Resources/Scripts/install-dependencies.sh)" % CLAMD
        configuration = self.write_configuration()
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        with open(os.path.join(self.folder, "clamd.out"), "ab") as out:
            self.process = subprocess.Popen([CLAMD, "-c", configuration], stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise AssertionError("clamd exited with %s:\n%s" % (code, self.output()))
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError("clamd did not answer within %.0f s:\n%s" % (timeout, self.output()))

    def answers(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.socket_path)
                s.sendall(b"zPING\0")
                return s.recv(16) == b"PONG\0"
        except OSError:
            return False

    def stop(self):
        process, self.process = self.process, None
        harness.stop_process(process)

    def output(self):
        texts = []
        for name in ("clamd.out", "clamd.log"):
            try:
                with open(os.path.join(self.folder, name), "rb") as f:
                    texts.append(f.read().decode("utf-8", "replace")[-3000:])
            except OSError:
                pass
        return "\n".join(texts)

    def scans(self):
        """The lines clamd logged for INSTREAM scans ("instream(...): OK", "... FOUND")."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return [line for line in f if "instream(" in line]
        except OSError:
            return []

    def scan(self, payload):
        """Asks clamd directly, as the plugin does: its answer without the NUL."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(self.socket_path)
            s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(payload)) + payload +
                      struct.pack(">I", 0))
            answer = b""
            while not answer.endswith(b"\0"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        return answer.rstrip(b"\0").decode()


class MuteClamd:
    """Accepts connections on a Unix socket and reads all that is sent, but never answers: a
    clamd that hangs (the plugin's timeouts must end the wait). It closes a connection only
    once the client has closed its side, as clamd does after a StreamMaxLength check that fits."""

    def __init__(self, folder):
        self.socket_path = os.path.join(folder, "mute.ctl")
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.socket_path)
        self.listener.listen(16)
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "unix:" + self.socket_path

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drain, args=(connection,), daemon=True).start()

    @staticmethod
    def _drain(connection):
        with connection:
            try:
                while connection.recv(65536):
                    pass
            except OSError:
                pass

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)


def dicom_with(marker=b"", size=None, patient_id="SCAN-1"):
    """A valid DICOM file whose last element, a private OB after the pixel data, ends with
    "marker" (so it ends the file), padded before it so that the file has exactly "size" bytes
    when given."""
    payload = data.make_dicom(patient_id=patient_id)
    ds = pydicom.dcmread(io.BytesIO(payload))
    ds.add_new((0x7FE1, 0x0010), "LO", "INBOUND TEST")
    ds.add_new((0x7FE1, 0x1010), "OB", b"")

    def encoded(body):
        ds[0x7FE1, 0x1010].value = body
        out = io.BytesIO()
        ds.save_as(out, write_like_original=False)
        return out.getvalue()

    body = marker if len(marker) % 2 == 0 else marker + b" "
    if size is not None:
        padding = size - len(encoded(body))
        assert padding >= 0 and padding % 2 == 0, "cannot make %d bytes" % size
        body = b"\x20" * padding + body
    result = encoded(body)
    assert size is None or len(result) == size, (len(result), size)
    return result
