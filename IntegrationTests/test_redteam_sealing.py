"""Red-team attacks on issue 16 (sealed staging, scanning, preambles), kept as regression
tests: what a sender, a compromised gateway or a local mistake could do to what rests sealed.
Over 500 lines: the red-team attacks on one issue, kept together as the record of what was tried."""

import io
import os
import threading
import time

import pydicom
import pytest

import data
import gateway_support
import harness
import sealing
from clamd_support import MARKER, MARKER_FOUND, Clamd, MuteClamd, dicom_with
from harness import Upload
from mail_support import SmtpSink, metric
from test_sealing import write
from test_sealing_gateway import PULLER, gateway as gateway_server


# Typed by the senders and written in the files: distinctive, so that any trace is found.
SENDERS = {
    "kept": harness.sender(name="Dr. Redteamkept Wolkenstein", email="Redteam.Kept@Clinic.example",
                           institution="Redteamkept Spital Ost", phone="+41 44 7771001"),
    "cancelled": harness.sender(name="Dr. Redteamcancel Ambrosius",
                                email="redteam.cancel@clinic.example",
                                institution="Redteamcancel Hospital", phone="+41 44 7771002"),
    "expired": harness.sender(name="Dr. Redteamexpire Philippa",
                              email="redteam.expire@clinic.example",
                              institution="Redteamexpire Kliniken", phone="+41 44 7771003"),
}
MESSAGES = {kind: "Redteam %s message: Zitronenfalter %s 4242" % (kind, kind) for kind in SENDERS}
USER_AGENT = "RedteamBrowser/9.1 (sealing attack)"


def internal_server(plugin, gateway_url, private_key_path):
    peers = {"dmz": {"Url": gateway_url, "Username": PULLER[0], "Password": PULLER[1]}}
    return harness.OrthancServer(plugin, inbound={
        "Role": "Internal", "Gateways": ["dmz"], "Sealing": {"PrivateKey": private_key_path}},
        orthanc={"OrthancPeers": peers})


def stop_all(*servers):
    for s in servers:
        if s is not None:
            s.stop()
            s.cleanup()


def staged(gateway, upload_id):
    folder = os.path.join(gateway.storage, "inbound", "staging", upload_id)
    return {name: os.path.join(folder, name) for name in os.listdir(folder)}


def wait_for_state(server, upload_id, state, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = server.admin("GET", "/inbound/admin/uploads/%s" % upload_id)
        last = r.text
        if r.status_code == 200 and r.json()["state"] == state:
            return r.json()
        time.sleep(0.2)
    raise AssertionError("upload %s never became %s: %s\n%s" % (
        upload_id, state, last, server.admin("GET", "/inbound/admin/gateways").text))


def patient_file(name, patient_id, pixels=None, sop_uid=None):
    """A small DICOM file of a made-up patient with random pixels: (bytes, a run of them)."""
    ds = pydicom.dcmread(io.BytesIO(data.make_dicom(patient_id=patient_id, rows=8, columns=8)))
    ds.PatientName = name
    ds.PixelData = pixels if pixels is not None else os.urandom(8 * 8 * 2)
    if sop_uid:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue(), bytes(ds.PixelData)[40:72]


# ----------------------------------------------------------------------------- a preamble


def test_a_preamble_that_looks_like_an_envelope_is_sealed_all_the_same(plugin):
    """The 128-byte preamble is the sender's (PS3.10 7.1): one that starts like an envelope
    ("INBSEAL1" and the Internal's key id) must not pass for one. A gateway that staged such a
    file in plain text, then got the Internal's key, must seal it at its next start like any
    other plain file; else the patient data stays readable at rest, and the Internal holds
    the whole upload because its item "does not open"."""
    private, public = sealing.new_key_pair()
    key_id = sealing.key_id(public)
    payload, _ = patient_file("Preambletrick^Gisela", "PREAMBLE-TRICK-77")
    tricked = b"INBSEAL1" + bytes.fromhex(key_id) + payload[16:]
    assert tricked[128:132] == b"DICM" and len(tricked) == len(payload)
    honest, _ = patient_file("Preamblehonest^Gisela", "PREAMBLE-HONEST-78")

    gateway = gateway_server(plugin, [])
    internal = None
    try:
        gateway.start()
        upload = Upload.open(gateway, sender=SENDERS["kept"], message=MESSAGES["kept"])
        assert upload.put(tricked).status_code == 201
        assert upload.put(honest).status_code == 201
        upload.complete_ok()

        # The admin gives the gateway the Internal's key: what it holds gets sealed.
        gateway.inbound["Sealing"]["PublicKeys"] = [public.decode()]
        gateway.restart()
        for sha256, original in ((harness.sha256(tricked), tricked),
                                 (harness.sha256(honest), honest)):
            at_rest = harness.read(staged(gateway, upload.id)[sha256])
            assert len(at_rest) == len(original) + sealing.OVERHEAD, sha256
            assert sealing.open_envelope(private, at_rest, "item:%s:%s" % (
                upload.id, sha256)) == original, sha256
        assert b"PREAMBLE-TRICK-77" not in harness.read(staged(gateway, upload.id)[
            harness.sha256(tricked)])

        # And the Internal opens both and stores the upload, nothing held.
        internal = internal_server(plugin, gateway.url + "/", write(
            os.path.join(gateway.workdir, "inside-keys", "key.pem"), private))
        internal.start()
        inside = wait_for_state(internal, upload.id, "complete")
        assert inside["files"] == 2
        assert internal.admin_json("GET", "/inbound/admin/gateways")["gateways"][0]["held"] == []
        wait_for_state(gateway, upload.id, "delivered")
    finally:
        stop_all(internal, gateway)


# ----------------------------------------------------------------------------- at rest


def needles(patients, pixel_runs):
    """What must not be readable on the gateway: (label, bytes, case-insensitive)."""
    found = []
    for kind, typed in SENDERS.items():
        for key in ("name", "email", "institution", "phone"):
            found.append(("%s sender %s" % (kind, key), typed[key].encode(), True))
        found.append(("%s e-mail's local part" % kind, typed["email"].split("@")[0].encode(),
                      True))
        found.append(("%s message" % kind, MESSAGES[kind].encode(), True))
    found.append(("message word", b"Zitronenfalter", True))
    found.append(("user agent", USER_AGENT.encode(), True))
    for name, patient_id in patients:
        found.append(("patient name", name.encode(), True))
        found += [("patient name part", part.encode(), True) for part in name.split("^")]
        found.append(("PatientID", patient_id.encode(), False))
    found += [("pixel data %d" % i, run, False) for i, run in enumerate(pixel_runs)]
    return found


def readable(root, what):
    hits, searched = [], []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            content = harness.read(path)
            searched.append(os.path.relpath(path, root))
            for label, needle, fold in what:
                if (needle.lower() in content.lower()) if fold else (needle in content):
                    hits.append("%s in %s" % (label, os.path.relpath(path, root)))
    return hits, searched


def open_upload(gateway, kind):
    body = harness.open_body(sender=SENDERS[kind], message=MESSAGES[kind])
    r = gateway.request("POST", "/inbound/api/uploads", json=body,
                        headers={"User-Agent": USER_AGENT})
    assert r.status_code == 201, r.text
    return Upload(gateway, r.json(), body)


def test_refused_cancelled_and_expired_uploads_leave_nothing_readable_on_a_gateway(plugin):
    """Not only the upload that goes through: the files refused before and after they are
    parsed, the opens refused with the sender's typed fields, an upload cancelled and one
    expired with a file staged each -- none of them leaves a typed word, a patient's name or
    id, or a run of pixels in the gateway's ledger (and its -wal), staging, storage or log,
    nor in what its admin and the sender are shown."""
    private, public = sealing.new_key_pair()
    gateway = gateway_server(plugin, [public.decode()],
                             Upload={"OpenTimeout": 4, "ExpiryCheckInterval": 1})
    patients, runs = [], []

    def make(name, patient_id, **kwargs):
        payload, run = patient_file(name, patient_id, **kwargs)
        patients.append((name, patient_id))
        runs.append(run)
        return payload

    try:
        gateway.start()
        # Opens refused with the sender's fields in them: nothing of them kept.
        refused_open = dict(harness.open_body(sender=SENDERS["kept"], message=MESSAGES["kept"]))
        refused_open["consent"] = {"version": refused_open["consent"]["version"],
                                   "accepted": False}
        harness.assert_error(gateway.request("POST", "/inbound/api/uploads", json=refused_open,
                                             headers={"User-Agent": USER_AGENT}),
                             400, "consent-required")
        bad_email = harness.open_body(sender=dict(SENDERS["kept"],
                                                  email=SENDERS["kept"]["email"] + "@@"),
                                      message=MESSAGES["kept"])
        harness.assert_error(gateway.request("POST", "/inbound/api/uploads", json=bad_email),
                             400, "invalid-field")

        kept = open_upload(gateway, "kept")
        first = make("Redteamkept^Walburga", "KEPT-PID-5151")
        assert kept.put(first).status_code == 201
        sop = pydicom.dcmread(io.BytesIO(first)).SOPInstanceUID
        # Refused after parsing: another file with the same SOP Instance UID.
        harness.assert_error(kept.put(make("Refuseddup^Konstantin", "REFUSED-DUP-PID",
                                           sop_uid=sop)), 409, "duplicate-instance")
        # Refused by DicomGuard before parsing: a truncated file.
        r = kept.put(make("Refusedtrunc^Leopoldine", "REFUSED-TRUNC-PID")[:-40])
        assert r.status_code == 400 and r.json()["error"] == "invalid-dicom", r.text
        # Not DICOM at all, but patient data in plain text.
        harness.assert_error(kept.put(b"Patient Refusedtext^Mechthild REFUSED-TEXT-PID\n" * 20),
                             400, "not-dicom")
        patients.append(("Refusedtext^Mechthild", "REFUSED-TEXT-PID"))
        # Damaged on the way (the route's hash is not the body's).
        harness.assert_error(kept.put(make("Refusedhash^Notburga", "REFUSED-HASH-PID"),
                                      digest="0" * 64), 409, "hash-mismatch")
        kept.complete_ok()

        cancelled = open_upload(gateway, "cancelled")
        assert cancelled.put(make("Redteamcancel^Hiltrud", "CANCEL-PID-5252")).status_code == 201
        assert cancelled.cancel().status_code in (200, 204)
        expired = open_upload(gateway, "expired")
        assert expired.put(make("Redteamexpire^Irmtraud", "EXPIRE-PID-5353")).status_code == 201
        wait_for_state(gateway, expired.id, "expired", timeout=30)
        wait_for_state(gateway, cancelled.id, "cancelled", timeout=5)
        time.sleep(2)   # the refusals are written to the audit once a second

        what = needles(patients, runs)
        shown = [kept.status_json(), kept.complete_ok(),
                 gateway.admin_json("GET", "/inbound/admin/uploads"),
                 gateway.admin_json("GET", "/inbound/admin/audit", params={"limit": 1000})]
        shown += [gateway.admin_upload(u.id) for u in (kept, cancelled, expired)]
        text = repr(shown).lower()
        leaks = [label for label, needle, _ in what
                 if not label.startswith("pixel") and needle.decode().lower() in text]
        assert leaks == [], leaks
        events = [e["event"] for e in shown[3]["events"]]   # the search saw them:
        for event in ("refused", "upload-cancelled", "upload-expired", "file-stored"):
            assert event in events, (event, events)

        hits, searched = readable(gateway.workdir, what)
        assert hits == [], hits
        for name in ("ledger.sqlite", "ledger.sqlite-wal", "orthanc.log"):
            assert name in [os.path.basename(p) for p in searched], searched
        gateway.stop_cleanly()
        hits, _ = readable(gateway.workdir, what)
        assert hits == [], hits
    finally:
        stop_all(gateway)


def test_malware_refused_on_a_sealing_gateway_leaves_nothing_readable(plugin, tmp_path):
    """A sealing gateway that scans: the infected file of a patient is refused 422 and the
    admins are alerted (audit, mail queued in the ledger and sent), yet neither the gateway's
    files nor the alert mail carry the patient's data or what the sender typed."""
    private, public = sealing.new_key_pair()
    clamd = Clamd(str(tmp_path / "clamd")).start()
    sink = SmtpSink(str(tmp_path / "sink")).start()
    gateway = gateway_server(plugin, [public.decode()], **{
        "Scan": {"Clamd": clamd.address, "Timeout": 10},
        "Upload": {"MaxFileBytes": 1024 * 1024},
        "Smtp": {"Host": "127.0.0.1", "Port": sink.port, "Security": "None",
                 "From": "Orthanc Inbound <inbound@hospital.example>", "Timeout": 10},
        "Notifications": {"AdminEmails": ["pacs-admins@hospital.example"],
                          "AdminAlertInterval": 0, "MailRecipient": False}})
    try:
        gateway.start()
        ds = pydicom.dcmread(io.BytesIO(dicom_with(MARKER, patient_id="MALWARE-PID-6161")))
        ds.PatientName = "Malwaretest^Roswitha"
        ds.PixelData = os.urandom(len(ds.PixelData))
        out = io.BytesIO()
        ds.save_as(out, write_like_original=False)
        infected = out.getvalue()
        clean, clean_run = patient_file("Malwareclean^Adelheid", "MALWARE-CLEAN-6262")
        upload = open_upload(gateway, "kept")
        assert upload.put(clean).status_code == 201
        harness.assert_error(upload.put(infected), 422, "malware")
        upload.complete_ok()
        assert staged(gateway, upload.id).keys() == {harness.sha256(clean)}
        [alert] = [e for e in gateway_support.wait_for_audit(
            gateway, lambda e: e.get("event") == "alert-malware", what="alert-malware")
            if e.get("event") == "alert-malware"]
        assert MARKER_FOUND in alert["detail"], alert
        mail = [m for m in sink.wait_for(1) if MARKER_FOUND in m.text][0]

        what = needles([("Malwaretest^Roswitha", "MALWARE-PID-6161"),
                        ("Malwareclean^Adelheid", "MALWARE-CLEAN-6262")],
                       [bytes(ds.PixelData)[40:72], clean_run])
        told = mail.everything().lower()
        assert [l for l, n, _ in what if not l.startswith("pixel") and
                n.decode().lower() in told] == [], mail.text
        hits, searched = readable(gateway.workdir, what)
        assert hits == [], hits
        assert "ledger.sqlite" in [os.path.basename(p) for p in searched]
        gateway.stop_cleanly()
        assert readable(gateway.workdir, what)[0] == []
    finally:
        stop_all(gateway)
        sink.stop()
        clamd.stop()


def peak_growth(server, payload):
    """(VmHWM after one PUT - VmRSS before) / size, as Benchmarks/body_memory.py measures the
    per-role figure that LimitsGuard reserves per body byte."""
    def status(field):
        with open("/proc/%d/status" % server.process.pid) as f:
            return [int(l.split()[1]) * 1024 for l in f if l.startswith(field + ":")][0]
    upload = Upload.open(server)
    with open("/proc/%d/clear_refs" % server.process.pid, "w") as f:
        f.write("5")
    before = status("VmRSS")
    assert upload.put(payload).status_code == 201
    return (status("VmHWM") - before) / len(payload)


def test_a_sealing_gateway_stays_within_its_memory_figure(plugin):
    """A gateway reserves 2 bytes of MaxBytesInFlight per body byte (Orthanc's body and the
    parse): sealing must not add a third copy (the whole envelope in memory took it to 3.0,
    so a flood of large files overran the budget by half). Sealed as it is written: 2.0."""
    side = int((32 * 1024 * 1024 / 2) ** 0.5)
    payload = data.make_dicom(patient_id="MEM-SEAL", rows=side, columns=side)
    gateway = gateway_server(plugin, [sealing.new_key_pair()[1].decode()]).start()
    try:
        assert Upload.open(gateway).put(data.make_dicom(patient_id="WARM")).status_code == 201
        figures = [peak_growth(gateway, payload) for _ in range(2)]
        assert max(figures) < 2.3, figures
        assert gateway.admin_json("GET", "/inbound/admin/limits")["inFlight"][
            "bytesPerBodyByte"] == 2
    finally:
        stop_all(gateway)


# ----------------------------------------------------------------------------- keys


def test_key_files_are_owner_only_even_under_umask_000(plugin):
    """An Orthanc started with umask 000 (a careless unit file): the Internal's private key
    and the gateway's quota secret are still made readable by their owner only."""
    internal = internal_server(plugin, "http://127.0.0.1:9/", "")   # "": in DataDirectory
    gateway = gateway_server(plugin, [sealing.new_key_pair()[1].decode()])
    previous = os.umask(0)
    try:
        internal.start()
        gateway.start()
    finally:
        os.umask(previous)
    try:
        described = internal.admin_json("GET", "/inbound/admin/sealing")
        key = described["file"]
        assert key.startswith(internal.storage), key   # made by the plugin, in DataDirectory
        secret = os.path.join(gateway.storage, "inbound", "quota-key")
        for path in (key, secret):
            assert os.stat(path).st_mode & 0o777 == 0o600, (path, oct(os.stat(path).st_mode))
        assert described["keyId"] == sealing.key_id(sealing.public_pem_of(harness.read(key)))
    finally:
        stop_all(internal, gateway)


def start_fails_naming(server, option, path):
    with pytest.raises(harness.ServerError):
        server.start()
    assert not server.running()
    log = harness.read(server.log_path).decode("utf-8", "replace")
    lines = [l for l in log.splitlines() if "Orthanc Inbound cannot start" in l]
    assert lines and option in lines[0] and path in lines[0], log[-3000:]
    return lines[0]


@pytest.mark.parametrize("case", ["a dangling symbolic link", "a folder", "a named pipe"])
def test_a_private_key_path_that_is_no_file_stops_the_start_up(plugin, case):
    """A key path that is a dangling symbolic link (into a folder another user may own) is
    never followed to create a key there; a folder or a named pipe is no key either, and
    stops the start-up at once rather than hanging it."""
    internal = internal_server(plugin, "http://127.0.0.1:9/", "")
    keys = os.path.join(internal.workdir, "keys")
    elsewhere = os.path.join(internal.workdir, "elsewhere")
    os.makedirs(keys)
    os.makedirs(elsewhere)
    path = os.path.join(keys, "key.pem")
    if case == "a folder":
        os.makedirs(path)
    elif case == "a named pipe":
        os.mkfifo(path, 0o600)   # opening it for reading waits for a writer: no start-up hang
    else:
        os.symlink(os.path.join(elsewhere, "planted.pem"), path)
    internal.inbound["Sealing"]["PrivateKey"] = path
    try:
        start_fails_naming(internal, "Inbound.Sealing.PrivateKey", path)
        assert os.listdir(elsewhere) == []
        assert os.path.lexists(path) and not os.path.isfile(path)
        assert sorted(os.listdir(keys)) == ["key.pem"]   # no temporary file left either
    finally:
        stop_all(internal)


@pytest.mark.parametrize("case", ["a named pipe", "a large file"])
def test_a_quota_secret_that_is_no_secret_file_stops_the_gateway_at_once(plugin, case):
    """The gateway's quota secret ("quota-key", mode 600): a named pipe in its place must not
    hang the start-up, nor a large file be read whole; both stop it naming the file."""
    gateway = gateway_server(plugin, [sealing.new_key_pair()[1].decode()])
    path = os.path.join(gateway.storage, "inbound", "quota-key")
    os.makedirs(os.path.dirname(path))
    if case == "a named pipe":
        os.mkfifo(path, 0o600)
    else:
        write(path, b"\0" * (64 * 1024 * 1024))
    try:
        started = time.monotonic()
        line = start_fails_naming(gateway, "quota secret", path)
        assert "32 bytes" in line and time.monotonic() - started < 20
    finally:
        stop_all(gateway)


@pytest.mark.parametrize("case", ["a folder", "the same key twice", "a private key as text"])
def test_a_public_key_entry_that_is_no_usable_public_key_stops_the_start_up(plugin, case):
    """Gateway side: a folder, one key given twice in two spellings (a PEM text and a file with
    other line endings: "rotation" that rotates nothing), or the private key pasted as text."""
    private, public = sealing.new_key_pair()
    gateway = gateway_server(plugin, [])
    if case == "a folder":
        entry = os.path.join(gateway.workdir, "keys.d")
        os.makedirs(entry)
        why = "is not a readable PEM file"
    elif case == "the same key twice":
        entry = write(os.path.join(gateway.workdir, "again.pub"),
                      public.replace(b"\n", b"\r\n") + b"\n")
        why = "is the same key as entry 0"
    else:
        entry = private.decode()
        why = "is a private key"
    gateway.inbound["Sealing"]["PublicKeys"] = [public.decode(), entry]
    try:
        line = start_fails_naming(gateway, "Inbound.Sealing.PublicKeys[1]", why)
        if case == "a folder":
            assert entry in line
        log = harness.read(gateway.log_path).decode("utf-8", "replace")
        assert private.decode().splitlines()[1] not in log   # never echoed
        assert not os.path.exists(os.path.join(gateway.storage, "inbound", "staging"))
    finally:
        stop_all(gateway)


# ----------------------------------------------------------------------------- scanning


class TricklingClamd(MuteClamd):
    """A clamd that takes the stream, but slowly (64 KiB every 0.25 s, as an overloaded one
    might), and never answers a scan; it hangs up without a word once the client hangs up
    (which is how the plugin's StreamMaxLength check passes)."""

    @staticmethod
    def _drain(connection):
        with connection:
            try:
                while connection.recv(65536):
                    time.sleep(0.25)
            except OSError:
                pass


def test_a_clamd_that_drains_slowly_gives_503_within_a_bounded_time(plugin, tmp_path):
    """Inbound.Scan.Timeout bounds the whole scan, not each part of it: a clamd that takes a
    file at 256 KiB/s, each part within the timeout, must not hold an HTTP thread for 4 s per
    megabyte (over half an hour for a file at the default limit of 512 MiB). Allowed here:
    the timeout for the connection and the verdict, and 1 s per MiB sent."""
    clamd = TricklingClamd(str(tmp_path))
    timeout = 2
    server = gateway_support.start(plugin, inbound={
        "Scan": {"Clamd": clamd.address, "Timeout": timeout, "RetryAfter": 7},
        "Upload": {"MaxFileBytes": 8 * 1024 * 1024}})
    try:
        deadline = time.monotonic() + 20
        while metric(server, "inbound_scan_ready") != 1 and time.monotonic() < deadline:
            time.sleep(0.2)   # the start-up check of clamd's StreamMaxLength passed
        assert metric(server, "inbound_scan_ready") == 1
        upload = Upload.open(server)
        payload = dicom_with(b"", size=8000000, patient_id="TRICKLE-1")
        started = time.monotonic()
        r = server.request("PUT", upload.path("/files/%s" % harness.sha256(payload)),
                           data=payload, headers=dict(upload.headers(), **{
                               "Content-Type": "application/dicom"}), timeout=180)
        elapsed = time.monotonic() - started
        harness.assert_error(r, 503, "scanner-unavailable")
        assert elapsed < 2 * timeout + len(payload) / 2 ** 20 + 5, "the PUT took %.0f s" % elapsed
        assert server.count_instances() == 0
    finally:
        gateway_support.finish(server)
        clamd.stop()


class SlowClamd(MuteClamd):
    """A clamd that reads a whole INSTREAM at once, then takes "delay" seconds to find it
    clean (a big file, a busy clamd); it hangs up without a word on a client that stops
    sending first (the plugin's StreamMaxLength check)."""

    delay = 3.0

    @staticmethod
    def _read(connection, size):
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    @classmethod
    def _drain(cls, connection):
        with connection:
            try:
                if cls._read(connection, 10) != b"zINSTREAM\0":
                    return
                while True:
                    length = cls._read(connection, 4)
                    if length is None:
                        return
                    size = int.from_bytes(length, "big")
                    if size == 0:
                        break
                    if cls._read(connection, size) is None:
                        return
                time.sleep(cls.delay)
                connection.sendall(b"stream: OK\0")
            except OSError:
                pass


def test_slow_scans_never_take_every_http_thread(plugin, tmp_path):
    """Orthanc with 4 HTTP threads, Scan.MaxParallel 2, a clamd that takes 3 s per file: of 4
    files sent at once, 2 are scanned and stored, 2 are refused at once with 503 server-busy
    and Retry-After (and stored when sent again), and a page asked meanwhile is served at
    once: slow scans never hold every thread."""
    clamd = SlowClamd(str(tmp_path))
    server = gateway_support.start(plugin, inbound={
        "Scan": {"Clamd": clamd.address, "Timeout": 20, "MaxParallel": 2}},
        orthanc={"HttpThreadsCount": 4})
    try:
        deadline = time.monotonic() + 20
        while metric(server, "inbound_scan_ready") != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert metric(server, "inbound_scan_ready") == 1
        upload = Upload.open(server)
        files = [data.make_dicom(patient_id="SLOW-%d" % i) for i in range(4)]
        answers = {}

        def put(index):
            started = time.monotonic()
            r = upload.put(files[index])
            answers[index] = (r, time.monotonic() - started)

        threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(1)   # two files in clamd, two refused
        started = time.monotonic()
        info = server.request("GET", "/inbound/api/info", timeout=30)
        served = time.monotonic() - started
        for t in threads:
            t.join(60)
        assert info.status_code == 200 and served < 1.5, served
        statuses = sorted(r.status_code for r, _ in answers.values())
        assert statuses == [201, 201, 503, 503], [(r.status_code, r.text) for r, _ in
                                                    answers.values()]
        for r, took in answers.values():
            if r.status_code == 503:
                harness.assert_error(r, 503, "server-busy")
                assert r.headers["Retry-After"] == "5" and took < 1.5, (dict(r.headers), took)
            else:
                assert took >= SlowClamd.delay, took
        assert metric(server, "inbound_scan_busy_total") == 2
        assert metric(server, "inbound_scan_ready") == 1   # busy is no outage: no alert
        assert [e for e in gateway_support.audit(server)
                if e["event"] == "alert-scanner-unavailable"] == []
        for index, (r, _) in answers.items():
            if r.status_code == 503:
                assert upload.put(files[index]).status_code == 201
        assert server.count_instances() == 4
    finally:
        gateway_support.finish(server)
        clamd.stop()
