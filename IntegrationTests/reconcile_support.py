"""Real DICOM parts for the reconciliation assistant's tests (doc/Reconciliation.md): a PACS, a
worklist, a hung peer, the patient CD.

How the DCMTK parts run: IntegrationTests/README.md, "Reconciliation sources".
- `QueryPacs`: dcmqrscp (fork mode, never `-s`) filled by `dcmqridx` with `PACS_PATIENTS`,
  near-misses included (same name other birth date, transposed, accents in ISO_IR 100 and 192,
  OtherPatientIDs holding an ID the CD uses, a UTF-8 `Łukasiewicz^Zoë`).
- `Worklist`: wlmscpfs `-csk` with one complete `.wl` file per procedure of `WORKLIST`.
- `HungPeer`: accepts TCP connections and never answers.
- `Environment`: all of them, a refused port and a storescp (pacs.Pacs) receiving releases;
  `server_kwargs()` for conftest's `_start`/`start_server` (DicomModalities, `"DefaultEncoding":
  "Utf8"`, `Inbound.Reconciliation`); `running()` for a module fixture.
- `make_cd()` / `send()`: the patient CD with the identities of `CD_PATIENTS`, uploaded.
Every process listens on 127.0.0.1 on a free port and is stopped by its pid.
"""

import io
import os
import socket
import subprocess
import threading
import time

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

import data
import harness
from pacs import Pacs
import request_links
import test_release
from test_requests_delivery import wait_until

# The release tests' helpers, also offered here: send() uploads files through the public API
# and completes the upload; forwards() lists an upload's forwards.
send, forwards = test_release.send, test_release.forwards

PACS_AET = "QRPACS"
WORKLIST_AET = "RIS"
HOSPITAL_ISSUER = "HOSP"

# The hospital's patients in the PACS: (PatientID, name, birth date, sex, charset, OtherPatientIDs).
PACS_PATIENTS = [
    ("H1001", "MÜLLER^JÜRGEN", "19600101", "M", "ISO_IR 100", "OLD-77"),
    ("H1002", "Müller^Jürgen", "19610202", "M", "ISO_IR 192", ""),    # same name, other birth date
    ("H1003", "DOE^JANE", "19700303", "F", "", "EXT-555"),           # the CD's EXT-555
    ("H1004", "JANE^DOE", "19700303", "F", "", ""),                   # transposed
    ("H1005", "Doe^Jane^Q", "19800505", "F", "", ""),                 # partial name, other date
    ("H1006", "Ærøskøbing^Zoë", "19900909", "F", "ISO_IR 192", ""),
    ("H1007", "MULLER^JURGEN", "19600101", "M", "", ""),              # accents left out
    ("H1008", "Łukasiewicz^Zoë", "19850707", "F", "ISO_IR 192", ""),
    ("H1009", "DOE^JANE", "19650612", "F", "", ""),                   # same name, other birth date
]

# Scheduled procedures: (file, charset, PatientID, name, birth date, sex, AccessionNumber,
# RequestedProcedureID, Modality, SPS start date, description).
WORKLIST = [
    ("wl1", "ISO_IR 100", "H1003", "DOE^JANE", "19700303", "F", "A2026-001", "RP001", "CT",
     "20260512", "CT HEAD"),
    ("wl2", "ISO_IR 192", "H1002", "Müller^Jürgen", "19610202", "M", "A2026-002", "RP002", "MR",
     "20260512", "MR KNEE"),
    ("wl3", "ISO_IR 100", "H1001", "MÜLLER^JÜRGEN", "19600101", "M", "A2026-003", "RP003", "MR",
     "20260514", "MR ABDOMEN"),
    ("wl4", "ISO_IR 192", "H1006", "Ærøskøbing^Zoë", "19900909", "F", "A2026-004", "RP004", "CR",
     "20260513", "CR CHEST"),
    ("wl5", "ISO_IR 192", "H1008", "Łukasiewicz^Zoë", "19850707", "F", "A2026-008", "RP008", "CT",
     "20260520", "CT THORAX"),
]

# The patients of the CD as a practice sends them, keyed by a short name. "folder": the CD
# folder their images come from; "other": an OtherPatientIDsSequence item of the sender's own.
CD_PATIENTS = {
    # H1003 in the PACS (OtherPatientIDs EXT-555) and wl1; near-misses H1004 (85), H1009, H1005.
    "doe": {"id": "EXT-555", "issuer": "CLINIC-X", "name": "DOE^JANE", "birthDate": "19700303",
            "sex": "F", "accession": "CLIN-0042", "studyDate": "20260512",
            "description": "Schädel nativ", "folder": "98892001",
            "other": ("CLINIC-X-OLD-1", "CLINIC-X-OLD")},
    # H1001 (OtherPatientIDs OLD-77) and wl3 (its accession A2026-003); H1007, H1002 near.
    "mueller": {"id": "OLD-77", "issuer": "", "name": "MÜLLER^JÜRGEN", "birthDate": "19600101",
                "sex": "M", "accession": "A2026-003", "studyDate": "20260514",
                "description": "Abdomen", "folder": "98892003"},
    # Nobody of the hospital.
    "roe": {"id": "PRAXIS-12", "issuer": "", "name": "Roe^Richard", "birthDate": "19811124",
            "sex": "M", "accession": "CLIN-0099", "studyDate": "20260301",
            "description": "Knie", "folder": "77654033"},
    # H1008 (UTF-8 "Łukasiewicz^Zoë", and wl5), written by a Latin-1 system that has no "Ł".
    "zoe": {"id": "PRAXIS-31", "issuer": "", "name": "Lukasiewicz^Zoë", "birthDate": "19850707",
            "sex": "F", "accession": "CLIN-0100", "studyDate": "20260518",
            "description": "Schädel nativ", "folder": "98892001"},
    # H1001 and H1007 alike (no ID in common): ambiguous.
    "jurgen": {"id": "PRAXIS-50", "issuer": "", "name": "Muller^Jurgen", "birthDate": "19600101",
               "sex": "M", "accession": "CLIN-0050", "studyDate": "20250101",
               "description": "Knie", "folder": "77654033"},
}

# A patient of the hospital stored in the Orthanc under test itself (source "local").
LOCAL_PATIENT = {"id": "L-3003", "name": "Doe^Jane", "birthDate": "19700303", "sex": "F"}


def wait_for_port(port, process, what, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("%s exited with code %s" % (what, process.returncode))
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("%s did not listen on port %d" % (what, port))


def _save(ds, path, sop_class):
    """Writes "ds" as a Part 10 file (explicit VR little endian) to a path or a file object."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID") or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta, ds.is_little_endian, ds.is_implicit_VR = meta, True, False
    ds.save_as(path, write_like_original=False)


def pacs_file(path, patient):
    pid, name, birth, sex, charset, other = patient
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = pid, name, birth, sex
    ds.IssuerOfPatientID = HOSPITAL_ISSUER
    if other:
        ds.OtherPatientIDs = other
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20240101", "120000", "1"
    ds.AccessionNumber = "PACS-" + pid
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "OT", "1", "1"
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 7, 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes([1, 2, 3, 4])
    _save(ds, path, ds.SOPClassUID)


def worklist_file(path, entry):
    name_, charset, pid, name, birth, sex, accession, rpid, modality, date, description = entry
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.AccessionNumber = accession
    ds.PatientName = name
    ds.PatientID = pid
    ds.IssuerOfPatientID = HOSPITAL_ISSUER
    ds.PatientBirthDate = birth
    ds.PatientSex = sex
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.19.%d" % int(rpid[2:])
    ds.RequestedProcedureDescription = description
    ds.RequestedProcedureID = rpid
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = "CT01"
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledProcedureStepStartTime = "083000"
    step.ScheduledProcedureStepDescription = description
    step.ScheduledProcedureStepID = "SPS-" + rpid
    ds.ScheduledProcedureStepSequence = Sequence([step])
    _save(ds, path, "1.2.840.10008.5.1.4.31")


class QueryPacs:
    """dcmqrscp (fork mode) answering C-FIND (and C-STORE) as AE `PACS_AET`."""

    def __init__(self, folder, patients=PACS_PATIENTS):
        self.folder = folder
        self.patients = patients
        self.port = harness.free_port()
        self.process = None

    def start(self):
        db = os.path.join(self.folder, "db")
        os.makedirs(db, exist_ok=True)
        files = []
        for patient in self.patients:
            files.append(os.path.join(db, "%s.dcm" % patient[0]))
            pacs_file(files[-1], patient)
        subprocess.run(["dcmqridx", db] + files, check=True)
        config = os.path.join(self.folder, "dcmqrscp.cfg")
        with open(config, "w") as f:
            f.write("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
                    "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                    "AETable BEGIN\n%s %s RW (200, 1024mb) ANY\nAETable END\n"
                    % (self.port, PACS_AET, db))
        self.log = open(os.path.join(self.folder, "dcmqrscp.log"), "ab")
        # Fork mode: no "-s" (single-process mode segfaults after the first association).
        self.process = subprocess.Popen(["dcmqrscp", "-c", config, str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "dcmqrscp")
        return self

    def modality(self, timeout=None):
        entry = {"AET": PACS_AET, "Host": "127.0.0.1", "Port": self.port}
        if timeout:
            entry["Timeout"] = timeout
        return entry

    def stop(self):
        harness.stop_process(self.process)
        self.process = None


class Worklist:
    """wlmscpfs -csk answering worklist C-FIND as AE `WORKLIST_AET` from complete .wl files."""

    def __init__(self, folder, entries=WORKLIST):
        self.folder = folder
        self.entries = entries
        self.port = harness.free_port()
        self.process = None

    def start(self):
        aet_folder = os.path.join(self.folder, "wl", WORKLIST_AET)
        os.makedirs(aet_folder, exist_ok=True)
        open(os.path.join(aet_folder, "lockfile"), "w").close()
        for entry in self.entries:
            worklist_file(os.path.join(aet_folder, "%s.wl" % entry[0]), entry)
        self.log = open(os.path.join(self.folder, "wlmscpfs.log"), "ab")
        self.process = subprocess.Popen(
            ["wlmscpfs", "-v", "-csk", "-dfp", os.path.join(self.folder, "wl"), str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "wlmscpfs")
        return self

    def modality(self):
        return {"AET": WORKLIST_AET, "Host": "127.0.0.1", "Port": self.port}

    def stop(self):
        harness.stop_process(self.process)
        self.process = None


class HungPeer:
    """Accepts TCP connections and never answers (a thread of the test)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.held = []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.socket.listen(64)
        self.socket.settimeout(0.2)
        self.thread.start()
        return self

    def _run(self):
        while not self.stopped:
            try:
                connection, _ = self.socket.accept()
                self.held.append(connection)
            except socket.timeout:
                continue
            except OSError:
                return

    def modality(self):
        return {"AET": "HUNG", "Host": "127.0.0.1", "Port": self.port}

    def stop(self):
        self.stopped = True
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.socket.close()


class Environment:
    """The PACS, the worklist, a hung peer, a refused port and a storescp PACS ("store")."""

    def __init__(self, folder):
        self.folder = folder
        self.pacs = QueryPacs(os.path.join(folder, "pacs"))
        self.worklist = Worklist(os.path.join(folder, "worklist"))
        self.hung = HungPeer()
        self.store = Pacs(os.path.join(folder, "store"))
        self.refused = harness.free_port()  # nobody listens there: connections refused

    def start(self):
        try:
            os.makedirs(os.path.join(self.folder, "pacs"), exist_ok=True)
            os.makedirs(os.path.join(self.folder, "worklist"), exist_ok=True)
            self.pacs.start()
            self.worklist.start()
            self.hung.start()
            self.store.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        for part in (self.store, self.hung, self.worklist, self.pacs):
            try:
                part.stop()
            except Exception:
                pass

    def modalities(self):
        """DicomModalities: "pacs" (dcmqrscp), "ris" (wlmscpfs), "store" (storescp),
        "down" (refused), "hung" (never answers)."""
        return {"pacs": self.pacs.modality(), "ris": self.worklist.modality(),
                "store": {"AET": "PACS", "Host": "127.0.0.1", "Port": self.store.port},
                "down": {"AET": "DOWN", "Host": "127.0.0.1", "Port": self.refused},
                "hung": self.hung.modality()}

    def server_kwargs(self, sources=None, encoding="Utf8", inbound=None, orthanc=None,
                      **reconciliation):
        """inbound=/orthanc= for conftest's start: the modalities, DefaultEncoding (None:
        left out) and Inbound.Reconciliation with "sources" ([(modality, query)], default
        the PACS and the worklist) and further Reconciliation options."""
        if sources is None:
            sources = [("pacs", "Patient"), ("ris", "Worklist")]
        section = {"Sources": [{"Modality": m, "Query": q} for m, q in sources]}
        section.update(reconciliation)
        orthanc_section = {"DicomModalities": self.modalities()}
        if encoding is not None:
            orthanc_section["DefaultEncoding"] = encoding
        inbound_section = {"Reconciliation": section,
                           "Forwarding": {"RetryInterval": 1, "MaxRetryInterval": 2}}
        return {"inbound": harness.merge(inbound_section, inbound),
                "orthanc": harness.merge(orthanc_section, orthanc)}


def running(plugin, folder, **server_kwargs):
    """A module fixture's body (use with "yield from"): the Environment in "folder" and one
    Orthanc configured by Environment.server_kwargs(**server_kwargs); yields (server, env);
    the server must still run and stop cleanly at the end."""
    import conftest
    env = Environment(folder).start()
    server = None
    try:
        server = conftest._start(plugin, **env.server_kwargs(**server_kwargs))
        yield server, env
    finally:
        try:
            if server is not None:
                conftest._cleanup(server, check=True)
        finally:
            env.stop()


# ---------------------------------------------------------------- the patient CD

def make_cd(*names, per_patient=2):
    """The patient CD with the patients CD_PATIENTS[name] (in this order), "per_patient" images
    of each, each patient one study with new UIDs: [data.Original]. The files keep the CD's
    ISO_IR 100; names with characters outside Latin-1 are not possible there."""
    made = []
    for name in names:
        p = CD_PATIENTS[name]
        study, series = generate_uid(), {}
        for path in data.cd_images([p["folder"]])[:per_patient]:
            ds = pydicom.dcmread(path)
            ds.SpecificCharacterSet = "ISO_IR 100"
            ds.PatientID = p["id"]
            if p["issuer"]:
                ds.IssuerOfPatientID = p["issuer"]
            ds.PatientName = p["name"]
            ds.PatientBirthDate = p["birthDate"]
            if p["sex"]:
                ds.PatientSex = p["sex"]
            elif "PatientSex" in ds:
                del ds.PatientSex
            if "other" in p:
                item = Dataset()
                item.PatientID, item.IssuerOfPatientID = p["other"]
                item.TypeOfPatientID = "TEXT"
                ds.OtherPatientIDsSequence = Sequence([item])
            ds.AccessionNumber = p["accession"]
            ds.StudyDate = p["studyDate"]
            ds.StudyDescription = p["description"]
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = series.setdefault(str(ds.SeriesInstanceUID), generate_uid())
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            # Pixels of their own (8 random bytes first), to tell this CD's images apart at
            # the PACS from the same CD images sent by another test.
            pixels = bytes(ds.PixelData)
            ds.PixelData = os.urandom(8) + pixels[8:]
            out = io.BytesIO()
            ds.save_as(out, write_like_original=False)
            made.append(data.Original(data=out.getvalue()))
    return made


def send_through_link(server, patient, files, forward_to="store"):
    """A request link for "patient" (challenge: its birth date) forwarding to "forward_to",
    and "files" sent through it: (the created request, the Upload)."""
    created, token = request_links.create(server, patient=patient, forwardTo=forward_to)
    ticket = request_links.ticket_of(server, token, patient["birthDate"])
    upload = request_links.upload_of(server, request_links.open_bound(server, token, ticket))
    for o in files:
        upload.put_ok(o.data)
    upload.complete_ok()
    return created, upload


def store_local_patient(server, patient=LOCAL_PATIENT):
    """A hospital patient put straight into this Orthanc (not through Inbound: not isolated)."""
    ds = Dataset()
    ds.PatientID, ds.PatientName = patient["id"], patient["name"]
    ds.PatientBirthDate, ds.PatientSex = patient["birthDate"], patient["sex"]
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality, ds.StudyDate = "OT", "20250101"
    out = io.BytesIO()
    _save(ds, out, ds.SOPClassUID)
    r = server.admin("POST", "/instances", data=out.getvalue())
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- the assistant's answers

def candidates(server, upload_id, fresh=False, expected=200):
    params = {"fresh": "true"} if fresh else None
    r = server.admin("GET", "/inbound/admin/uploads/%s/candidates" % upload_id, params=params)
    assert r.status_code == expected, "candidates: %d %s" % (r.status_code, r.text[:1000])
    return r.json()


def patient_of(answer, original_patient_id):
    found = [p for p in answer["patients"] if p["originalPatientId"] == original_patient_id]
    assert len(found) == 1, (original_patient_id, answer["patients"])
    return found[0]


def source_of(answer, name, query=None):
    found = [s for s in answer["sources"]
             if s["source"] == name and (query is None or s["query"] == query)]
    assert len(found) == 1, (name, query, answer["sources"])
    return found[0]


def release(server, upload_id, body, expected=202):
    r = server.admin("POST", "/inbound/admin/uploads/%s/release" % upload_id, json=body)
    assert r.status_code == expected, "release: %d %s" % (r.status_code, r.text[:1000])
    return r


def audit_events(server, event=None):
    events = server.admin_json("GET", "/inbound/admin/audit", params={"limit": 1000})["events"]
    return [e for e in events if event is None or e["event"] == event]


def done_forward(server, upload_id, timeout=60.0):
    """The upload's one forward, once done."""
    done = wait_until("the forward of %s done" % upload_id, lambda: [
        f for f in forwards(server, upload_id) if f["state"] == "done"], timeout)
    assert len(done) == 1, done
    return done[0]


def identity(received):
    """(PatientID, IssuerOfPatientID, name, birth date, sex) of a received dataset."""
    return (received.PatientID, received.get("IssuerOfPatientID"), str(received.PatientName),
            received.PatientBirthDate, received.get("PatientSex"))


def received_of(store, originals):
    """What the storescp PACS received of "originals", keyed by the sent file's pixel data
    (every image of the CD has other pixels; UIDs may be new): {pixel data: dataset}."""
    wanted = {bytes(o.ds.PixelData) for o in originals}
    return {bytes(r.PixelData): r for r in store.received() if bytes(r.PixelData) in wanted}


def arrived(store, originals, timeout=60.0):
    """[(sent original, dataset the PACS received)] once all of "originals" arrived."""
    received = wait_received(store, originals, timeout)
    return [(o, received[bytes(o.ds.PixelData)]) for o in originals]


def wait_received(store, originals, timeout=60.0):
    return wait_until("%d instances at the PACS" % len(originals),
                      lambda: len(received_of(store, originals)) == len(originals)
                      and received_of(store, originals), timeout)
