"""The reconciliation benchmark's data: a hospital PACS of generated patients (dcmqrscp), its
worklist (wlmscpfs), local patients, and the patient a clinic sends; the same C-FIND queries as
the plugin's for that patient (doc/Reconciliation.md, "Candidates"), for native Orthanc."""

import io
import os
import random
import subprocess

import pydicom
from pydicom.uid import generate_uid

import reconcile_support as rs  # IntegrationTests: pacs_file, worklist_file, Worklist, ports

SURNAMES = ["SCHMIDT", "MÜLLER", "SCHNEIDER", "FISCHER", "WEBER", "MEYER", "WAGNER", "BECKER",
            "SCHULZ", "HOFFMANN", "SCHÄFER", "KOCH", "BAUER", "RICHTER", "KLEIN", "WOLF",
            "SCHRÖDER", "NEUMANN", "SCHWARZ", "ZIMMERMANN", "BRAUN", "KRÜGER", "HOFMANN",
            "HARTMANN", "LANGE", "SCHMITT", "WERNER", "SCHMITZ", "KRAUSE", "MEIER", "LEHMANN",
            "SCHMID", "SCHULZE", "MAIER", "KÖHLER", "HERRMANN", "KÖNIG", "WALTER", "MAYER",
            "HUBER", "KAISER", "FUCHS", "PETERS", "LANG", "SCHOLZ", "MÖLLER", "WEIß", "JUNG",
            "HAHN", "SCHUBERT", "VOGEL", "FRIEDRICH", "KELLER", "GÜNTHER", "FRANK", "BERGER",
            "WINKLER", "ROTH", "BECK", "LORENZ", "MARIANI", "MARIAS"]
FIRST_NAMES = ["ANNA", "MARIA", "EMMA", "SOPHIA", "MIA", "HANNAH", "LEA", "LENA", "JULIA",
               "LAURA", "SARAH", "LISA", "KATHARINA", "JOHANNA", "CLARA", "PAUL", "JONAS",
               "BEN", "LUKAS", "FINN", "ELIAS", "LEON", "FELIX", "MAX", "NOAH", "LUIS", "JAKOB",
               "DAVID", "TIM", "JAN", "PETER", "MICHAEL", "THOMAS", "ANDREAS", "STEFAN",
               "JÜRGEN", "KLAUS", "WOLFGANG", "GÜNTER", "ZOË"]

# The clinic's patient, as its CD names it; in the PACS as H0177 (OtherPatientIDs = the CD's
# PatientID), scheduled in the worklist under the accession number the CD carries.
SENT = {"id": "EXT-4711", "issuer": "CLINIC-X", "name": "Schmidt^Anna^Maria",
        "birthDate": "19700303", "sex": "F", "accession": "A2026-0177"}
TRUE_ID = "H0177"


def _name(rng):
    surname, first = rng.choice(SURNAMES), rng.choice(FIRST_NAMES)
    if rng.random() < 0.2:
        first += "^" + rng.choice(FIRST_NAMES)
    name = surname + "^" + first
    # Half as a RIS types it, half capitalised (dcmqrscp matches case-sensitively).
    return name if rng.random() < 0.5 else "^".join(w.capitalize() for w in name.split("^"))


def _birth_date(rng):
    if rng.random() < 0.03:
        return SENT["birthDate"]  # the sent patient's birth date: ~3 % of the patients share it
    return "%04d%02d%02d" % (rng.randint(1930, 2015), rng.randint(1, 12), rng.randint(1, 28))


def hospital_patients(count, seed=19):
    """[(PatientID, name, birth date, sex, charset, OtherPatientIDs)], deterministic; the true
    patient H0177 among them."""
    rng = random.Random(seed)
    patients = []
    for i in range(count):
        pid = "H%04d" % i
        if pid == TRUE_ID:
            patients.append((pid, "SCHMIDT^ANNA^MARIA", SENT["birthDate"], "F", "ISO_IR 192",
                             SENT["id"]))
            continue
        name = _name(rng)
        charset = "ISO_IR 192" if rng.random() < 0.5 else "ISO_IR 100"
        patients.append((pid, name, _birth_date(rng), rng.choice("MF"), charset,
                         "OLD-%05d" % i if rng.random() < 0.1 else ""))
    return patients


def worklist_entries(patients, count, seed=20):
    """Scheduled procedures of "count" of the patients (the true one included), in the shape of
    reconcile_support.WORKLIST."""
    rng = random.Random(seed)
    chosen = [p for p in patients if p[0] == TRUE_ID] + rng.sample(
        [p for p in patients if p[0] != TRUE_ID], count - 1)
    entries = []
    for n, (pid, name, birth, sex, charset, _) in enumerate(chosen):
        accession = SENT["accession"] if pid == TRUE_ID else "A2026-%05d" % n
        modality, description = rng.choice([("CT", "CT HEAD"), ("MR", "MR KNEE"),
                                            ("CR", "CR CHEST"), ("US", "US ABDOMEN")])
        entries.append(("wl%05d" % n, charset, pid, name, birth, sex, accession,
                        "RP%05d" % (n + 1), modality, "202605%02d" % rng.randint(1, 28),
                        description))
    return entries


def local_patients(count, seed=21):
    """The hospital's patients stored in this Orthanc itself (not through Inbound)."""
    rng = random.Random(seed)
    return [{"id": "L%05d" % i, "name": _name(rng), "birthDate": _birth_date(rng),
             "sex": rng.choice("MF")} for i in range(count)]


MAX_PACS_PATIENTS = 500  # DCMTK 3.6.7: at most 500 studies per storage area (DB_UpperMaxStudies)


class Pacs(rs.QueryPacs):
    """reconcile_support's dcmqrscp, with room for every generated patient, one study each (its
    configuration there allows 200 studies; DCMTK's own limit is MAX_PACS_PATIENTS)."""

    def start(self):
        db = os.path.join(self.folder, "db")
        os.makedirs(db, exist_ok=True)
        files = [os.path.join(db, "%s.dcm" % p[0]) for p in self.patients]
        for path, patient in zip(files, self.patients):
            rs.pacs_file(path, patient)
        subprocess.run(["dcmqridx", db] + files, check=True)
        config = os.path.join(self.folder, "dcmqrscp.cfg")
        with open(config, "w") as f:
            f.write("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
                    "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                    "AETable BEGIN\n%s %s RW (%d, 1024mb) ANY\nAETable END\n"
                    % (self.port, rs.PACS_AET, db, MAX_PACS_PATIENTS))
        self.log = open(os.path.join(self.folder, "dcmqrscp.log"), "ab")
        self.process = subprocess.Popen(["dcmqrscp", "-c", config, str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        rs.wait_for_port(self.port, self.process, "dcmqrscp")
        return self


def sent_file(body):
    """One instance of the benchmark's CT as the clinic's CD has it for SENT: its identity,
    new UIDs."""
    ds = pydicom.dcmread(io.BytesIO(body))
    ds.PatientID, ds.IssuerOfPatientID = SENT["id"], SENT["issuer"]
    ds.PatientName, ds.PatientBirthDate = SENT["name"], SENT["birthDate"]
    ds.PatientSex, ds.AccessionNumber = SENT["sex"], SENT["accession"]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


# ----------------------------------------------------------------------------- the queries
# What the plugin asks for SENT (Plugin/Reconcile/CandidateQueries.cpp), written out for the
# native side: the admin types the same queries. SENT has no other IDs and an ASCII name.

NAME_WORDS = ["SCHMIDT", "MARIA"]  # the two longest words of the name
PATIENT_KEYS = {"PatientName": "", "PatientID": "", "PatientBirthDate": "", "PatientSex": "",
                "IssuerOfPatientID": "", "0010,1000": "", "SpecificCharacterSet": "ISO_IR 192"}
WORKLIST_KEYS = {"PatientName": "", "PatientID": "", "IssuerOfPatientID": "",
                 "PatientBirthDate": "", "PatientSex": "", "AccessionNumber": "",
                 "RequestedProcedureID": "", "RequestedProcedureDescription": "",
                 "StudyInstanceUID": "", "SpecificCharacterSet": "ISO_IR 192",
                 "ScheduledProcedureStepSequence": [{
                     "Modality": "", "ScheduledProcedureStepStartDate": "",
                     "ScheduledProcedureStepDescription": "", "ScheduledStationAETitle": ""}]}


def _with(keys, key, value):
    q = dict(keys)
    q[key] = value
    return q


def _prefixes():
    return [p for w in NAME_WORDS for p in (w + "*", w.capitalize() + "*")]


def native_queries(timeout, max_answers):
    """[(source, method path suffix, body)] in the plugin's order: PACS, worklist, local."""
    identity = [("PatientBirthDate", SENT["birthDate"]), ("PatientID", SENT["id"])]
    pacs = [_with(PATIENT_KEYS, k, v) for k, v in identity + [("0010,1000", SENT["id"])]]
    pacs += [_with(PATIENT_KEYS, "PatientName", p) for p in _prefixes()]
    ris = [_with(WORKLIST_KEYS, k, v) for k, v in [("AccessionNumber", SENT["accession"])]
           + identity]
    ris += [_with(WORKLIST_KEYS, "PatientName", p) for p in _prefixes()]
    local = [{k: v} for k, v in identity + [("0010,1000", SENT["id"])]]
    local += [{"PatientName": "*%s*" % w} for w in NAME_WORDS]
    return ([("pacs", {"Level": "Patient", "Query": q, "Normalize": True, "Timeout": timeout})
             for q in pacs]
            + [("ris", {"Query": q, "Simplify": True, "Timeout": timeout}) for q in ris]
            + [("local", {"Level": "Patient", "Query": q, "Expand": True, "CaseSensitive": False,
                          "Limit": max_answers + 1}) for q in local])
