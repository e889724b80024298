"""Red team, cross-site scripting through the reconciliation assistant (doc/Security.md): PACS and worklist records and a sender's CD whose names, IDs and procedures are HTML, shown in the admin page's release dialog in Chromium (Browser/redteam-reconcile.test.mjs) as text only."""

import json

import pytest

import harness
import reconcile_support as rs
import test_browser
from redteam_reconcile_support import craft
from test_browser import run_browser_test

node_packages = test_browser.node_packages  # the fixture: npm ci of Browser/

PACS_NAME = "<img src=x onerror=window.__xss=1>^Jane"
SCRIPT_NAME = "DOE^<script>window.__xss=2</script>"
PROCEDURE = "<iframe src=javascript:window.__xss=3>"
CD_NAME = "<svg onload=window.__xss=4>^Doe"
CD_OTHER_ID = "<img src=y onerror=window.__xss=5>"

# (PatientID, name, birth date, sex, charset, OtherPatientIDs), as reconcile_support's.
HOSTILE_PATIENTS = [("HX01", PACS_NAME, "19700303", "F", "ISO_IR 192", "<b>OLD</b>"),
                    ("HX02", SCRIPT_NAME, "19700303", "F", "ISO_IR 192", "")]
HOSTILE_WORKLIST = [("wl9", "ISO_IR 192", "HX01", PACS_NAME, "19700303", "F", "<i>A9</i>", "RP099",
                     "CT", "20260512", PROCEDURE)]


@pytest.mark.usefixtures("node_packages")
def test_hostile_names_stay_text_in_the_release_dialog_in_chromium(start_server, tmp_path):
    env = rs.Environment(str(tmp_path / "parts"))
    env.pacs = rs.QueryPacs(env.pacs.folder, patients=rs.PACS_PATIENTS + HOSTILE_PATIENTS)
    env.worklist = rs.Worklist(env.worklist.folder, entries=rs.WORKLIST + HOSTILE_WORKLIST)
    env.start()
    try:
        server = start_server(**env.server_kwargs(TimeoutSeconds=3))
        plain = rs.send(server, rs.make_cd("doe", per_patient=1))
        hostile = rs.send(server, [craft(pid="<b>P1</b>", name=CD_NAME, birth="19700303",
                                         sex="F", accession="<i>A1</i>", other=[CD_OTHER_ID],
                                         charset="ISO_IR 192")])
        # The hostile records are candidates of both uploads (same birth date).
        for upload in (plain, hostile):
            answer = rs.candidates(server, upload.id)
            ids = {c["patientId"] for p in answer["patients"] for c in p["candidates"]}
            assert {"HX01", "HX02"} <= ids, answer["patients"]
        fixture = {"admin": "%s:%s" % harness.ADMIN, "uploads": [plain.id, hostile.id],
                   "texts": [PACS_NAME, SCRIPT_NAME, PROCEDURE, CD_NAME, CD_OTHER_ID]}
        run_browser_test("redteam-reconcile.test.mjs", {
            "INBOUND_URL": server.url + "/inbound/", "INBOUND_REDTEAM_FIXTURE": json.dumps(fixture)})
    finally:
        env.stop()
