"""Helpers of the hardened public side's tests: clients with their own addresses, the audit
trail, the staging folder, raw HTTP, and DICOM files of a known size."""

import io
import os
import socket
import time

import pydicom

import conftest
import data
import harness
from harness import Upload

PLUGIN_ROUTE = "/inbound/api/uploads"


def start(plugin, **kwargs):
    """An Orthanc of a module's own (conftest's bookkeeping: its log is shown on failures)."""
    return conftest._start(plugin, **kwargs)


def finish(server):
    """Stops a server started by start(): it must not have died and must stop on SIGTERM."""
    conftest._cleanup(server, check=True)


def xff(address):
    """Headers of a request that the trusted proxy (127.0.0.1) forwards for "address"."""
    return {"X-Forwarded-For": address}


def open_upload(server, address=None, email=None, expected_status=201, **overrides):
    """POST /inbound/api/uploads as the client "address" (through X-Forwarded-For)."""
    if email is not None:
        overrides["sender"] = harness.sender(email=email)
    body = harness.open_body(**overrides)
    r = server.request("POST", PLUGIN_ROUTE, json=body,
                       headers=xff(address) if address else None)
    if expected_status is not None:
        assert r.status_code == expected_status, "open as %s: %d %s" % (
            address, r.status_code, r.text[:300])
    return r


def upload_of(server, response):
    body = harness.open_body()
    return Upload(server, response.json(), body)


def put(upload, payload, address=None, digest=None):
    headers = upload.headers()
    headers["Content-Type"] = "application/dicom"
    if address:
        headers.update(xff(address))
    return upload.server.request(
        "PUT", upload.path("/files/%s" % (digest or harness.sha256(payload))), data=payload,
        headers=headers)


def audit(server, limit=1000):
    return server.admin_json("GET", "/inbound/admin/audit", params={"limit": limit})["events"]


def wait_for_audit(server, predicate, timeout=5.0, what="audit event"):
    """Refusals are written in batches every second: polls until one event matches."""
    deadline = time.monotonic() + timeout
    events = []
    while time.monotonic() < deadline:
        events = audit(server)
        found = [e for e in events if predicate(e)]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("no %s within %.0f s; last events: %s" % (
        what, timeout, [(e.get("event"), e.get("ip"), e.get("detail")) for e in events[-15:]]))


def refused(ip, status, code):
    """An audit predicate: a refusal of "ip" with "STATUS CODE: ..." as detail."""
    prefix = "%d %s:" % (status, code)
    return lambda e: e.get("event") == "refused" and e.get("ip") == ip and \
        str(e.get("detail", "")).startswith(prefix)


def limits(server, client=None):
    params = {"client": client} if client else None
    return server.admin_json("GET", "/inbound/admin/limits", params=params)


def seconds_to_utc_midnight():
    now = time.time()
    day = int(now // 86400)
    return (day + 1) * 86400 - now


def assert_retry_after(response, low, high):
    value = response.headers.get("Retry-After")
    assert value is not None and value.isdigit(), "Retry-After %r in %s" % (
        value, dict(response.headers))
    assert low <= int(value) <= high, "Retry-After %s not within [%s, %s]" % (value, low, high)
    return int(value)


def staged_files(server, data_directory=None, opened=False):
    """Every file under the staging folder: {relative path: bytes}; with "opened", each
    "<upload id>/<sha256>" envelope opened with the session's key (harness.SealingKeys, which
    the harness's gateways seal for): what the sender sent, as the Internal will see it."""
    root = os.path.join(data_directory or os.path.join(server.storage, "inbound"), "staging")
    result = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            content = harness.read(path)
            if opened:
                content = harness.SealingKeys.open_item(os.path.basename(folder), name, content)
            result[os.path.relpath(path, root)] = content
    return result


# ------------------------------------------------------------------------- DICOM


def fixed_size_dicom(index, rows=16, columns=16):
    """A valid file whose size depends only on rows/columns: its UIDs have a fixed length."""
    def uid(kind):
        return "1.2.826.0.1.3680043.8.498.%d%012d" % (kind, index)
    study, series = uid(1), uid(2)
    payload = data.make_dicom(patient_id="FIX-%06d" % index, rows=rows, columns=columns,
                              study_uid=study, series_uid=series)
    ds = pydicom.dcmread(io.BytesIO(payload))
    ds.SOPInstanceUID = uid(3)
    ds.file_meta.MediaStorageSOPInstanceUID = uid(3)
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


# ------------------------------------------------------------------------- raw HTTP


def raw_exchange(port, request_bytes, timeout=10.0, host="127.0.0.1"):
    """Sends bytes as written; returns (status or None, whole answer)."""
    with socket.create_connection((host, port), timeout=timeout) as c:
        c.sendall(request_bytes)
        answer = b""
        try:
            while not complete(answer):
                chunk = c.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    return parse_status(answer), answer


def complete(answer):
    """Whether "answer" holds a whole response with a Content-Length (keep-alive answers)."""
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            try:
                return len(body) >= int(value.strip())
            except ValueError:
                return False
    return False


def parse_status(answer):
    try:
        line = answer.split(b"\r\n", 1)[0].decode("latin-1")
        return int(line.split(" ")[1])
    except (IndexError, ValueError):
        return None


def slow_put(port, upload, declared, sent, address=None, host="127.0.0.1"):
    """Starts a PUT of "declared" bytes, sends "sent" of them and keeps the socket open."""
    digest = "0" * 64
    headers = ["PUT %s HTTP/1.1" % upload.path("/files/%s" % digest),
               "Host: 127.0.0.1", "Content-Type: application/dicom",
               "X-Inbound-Token: %s" % upload.token, "Content-Length: %d" % declared]
    if address:
        headers.append("X-Forwarded-For: %s" % address)
    c = socket.create_connection((host, port), timeout=30)
    c.sendall(("\r\n".join(headers) + "\r\n\r\n").encode() + b"\0" * sent)
    return c


def utc_day():
    return time.strftime("%Y-%m-%d", time.gmtime())

