"""Large files in parts from the upload page in Chromium (Browser/parts.test.mjs) against a real
Standalone with Upload.PartBytes 1 MiB: a 12.5 MiB multi-frame file goes in parts and lands
byte-for-byte (InboundSha256 of the archive = the file's, every element but the isolated
patient kept); a connection cut in the middle of the file sends only what is missing; a page
closed during the parts, opened again, continues with the parts the server lacks."""

import hashlib
import io
import json
import os

import pydicom

import checks
import data
from test_browser import node_packages, run_browser_test  # noqa: F401 (a fixture)

PART_BYTES = 1024 * 1024
FRAMES = 50  # 256 KiB a frame (data.multiframe): 12.5 MiB of pixel data


def make_case(folder, patient_id):
    """A folder holding one large file: what the page needs to know of it, and its Original."""
    os.makedirs(folder)
    path = os.path.join(folder, "CINE0001.dcm")
    original = data.multiframe(path, patient_id, FRAMES)
    content = original.data
    parts = [hashlib.sha256(content[i:i + PART_BYTES]).hexdigest()
             for i in range(0, len(content), PART_BYTES)]
    case = {"dir": folder, "name": "CINE0001.dcm", "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "parts": parts}
    return case, original


def test_large_files_in_parts_from_chromium(node_packages, start_server, tmp_path):  # noqa: F811
    server = start_server(inbound={"Upload": {"PartBytes": PART_BYTES}})
    info = server.request("GET", "/inbound/api/info").json()
    assert info["limits"]["partBytes"] == PART_BYTES, info["limits"]
    cases, originals = {}, {}
    for name in ("plain", "dropped", "closed"):
        cases[name], originals[name] = make_case(str(tmp_path / name), "CINE-" + name.upper())
        assert cases[name]["size"] > 12 * PART_BYTES
    result = tmp_path / "result.json"
    fixture = {"partBytes": PART_BYTES, "result": str(result), "cases": cases}
    run_browser_test("parts.test.mjs", {"INBOUND_URL": server.url + "/inbound/",
                                        "INBOUND_PARTS_FIXTURE": json.dumps(fixture)})

    uploads = json.loads(result.read_text())
    assert sorted(uploads) == ["closed", "dropped", "plain"], uploads
    for name, upload_id in uploads.items():
        original = originals[name]
        upload = server.admin_upload(upload_id)
        assert upload["state"] == "complete", (name, upload["state"])
        items = upload["items"]
        assert [(i["sha256"], i["size"]) for i in items] == [(original.sha256, original.size)], (name, items)
        orthanc_id = items[0]["orthancId"]
        assert server.metadata("instances", orthanc_id, "InboundSha256") == original.sha256, name
        stored = server.instance_file(orthanc_id)
        checks.assert_same_dicom_but_patient(original, stored, upload_id)
        frames = pydicom.dcmread(io.BytesIO(stored))
        assert int(frames.NumberOfFrames) == FRAMES
        assert frames.PixelData == original.ds.PixelData, "%s: the pixels as sent" % name
    # Nothing of the parts is left once the files are assembled.
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(server.workdir) for f in files
                 if "%sparts%s" % (os.sep, os.sep) in d + os.sep]
    assert leftovers == [], leftovers
