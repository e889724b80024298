"""What the partner red-team tests share (test_partner_attacks*.py): partners and their tokens,
requests sent byte for byte, the STOW-RS answer read, what an admin sees stored, Orthanc's peak
memory."""

import hashlib
import socket

from harness import RECIPIENTS

TOKEN_A = "Ra7_kQ-2b8VtY4bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"   # clinic-a: loopback + 192.0.2.0/24
REVOKED = "Rb7_kQ-2b8VtY4bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"   # clinic-b: Enabled false
TOKEN_C = "Rc7_kQ-2b8VtY4bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"   # clinic-c: 198.51.100.0/24 only
TOKEN_D = "Rd7_kQ-2b8VtY4bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko"   # clinic-d: anywhere
BOUNDARY = "rt0b0"
STOW = 'multipart/related; type="application/dicom"; boundary=' + BOUNDARY
BODY = ("--%s\r\nContent-Type: application/dicom\r\n\r\nnot dicom\r\n--%s--"
        % (BOUNDARY, BOUNDARY)).encode()
ROUTE = "/inbound/dicom-web/studies"
MAX_UNCHUNKED = 65536


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def partner(pid, token, **extra):
    entry = {"Id": pid, "Name": "Clinic " + pid[-1].upper(), "Institution": "Clinic",
             "TokenSha256": sha(token), "Recipient": RECIPIENTS[0]["Id"]}
    entry.update(extra)
    return entry


PARTNERS = [
    partner("clinic-a", TOKEN_A, Networks=["127.0.0.0/8", "192.0.2.0/24"]),
    partner("clinic-b", REVOKED, Enabled=False),
    partner("clinic-c", TOKEN_C, Networks=["198.51.100.0/24"]),
    partner("clinic-d", TOKEN_D),
]



def raw(server, method, path, headers, body=b"", timeout=10.0, chunks=None):
    """Sends a request exactly as written (header bytes included); returns (status or None,
    headers dict, body). "chunks": a list of chunk payloads sent with chunked framing."""
    head = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1", "Connection: close"]
    data = b"\r\n".join(h.encode("latin-1") if isinstance(h, str) else h for h in head)
    for name, value in headers:
        value = value if isinstance(value, bytes) else value.encode("latin-1")
        data += b"\r\n" + name.encode() + b": " + value
    data += b"\r\n\r\n"
    if chunks is not None:
        data = b"".join([data] + [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in chunks] +
                        [b"0\r\n\r\n"])
    else:
        data += body
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as c:
        try:
            c.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole request was read: the answer may be there
        try:
            while not complete(answer):
                got = c.recv(65536)
                if not got:
                    break
                answer += got
        except (socket.timeout, ConnectionResetError):
            pass
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ")[1])
    except (IndexError, ValueError):
        return None, {}, answer
    found = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return status, found, rest


def complete(answer):
    """Whether "answer" holds a whole response (its Content-Length read)."""
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or b"0")
    return False


def stow(server, token=TOKEN_A, body=BODY, content_type=STOW, path=ROUTE, extra=(),
         chunked=False, timeout=10.0):
    headers = [("Content-Type", content_type)]
    if token is not None:
        headers.append(("Authorization", "Bearer " + token))
    headers.extend(extra)
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
        pieces = [body[i:i + 4096] for i in range(0, len(body), 4096)]
        return raw(server, "POST", path, headers, chunks=pieces, timeout=timeout)
    headers.append(("Content-Length", str(len(body))))
    return raw(server, "POST", path, headers, body, timeout=timeout)


def snapshot(server):
    """What an admin sees stored: Orthanc's instances and the plugin's uploads."""
    uploads = server.admin_json("GET", "/inbound/admin/uploads")["uploads"]
    return sorted(server.admin_json("GET", "/instances")), sorted(u["id"] for u in uploads)


def passes_the_door(server, token=TOKEN_A):
    """The STOW-RS handler answered (JSON of the plugin), not the filter's plain 403."""
    status, headers, _ = stow(server, token=token)
    return status != 403 and headers.get("content-type", "").startswith("application/")


def vm_hwm_kib(server):
    with open("/proc/%d/status" % server.process.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def assert_refused_and_nothing_stored(server, before, status, expected=403):
    assert status == expected, status
    assert snapshot(server) == before
    assert server.running()
    assert passes_the_door(server)  # alive, and the right token still works



FAILED_SOP = "00081198"
OTHER_FAILURES = "0008119A"
REFERENCED_SOP = "00081199"


def reasons(answer):
    """The FailureReason (0008,1197) values of a STOW-RS answer (FailedSOPSequence and
    OtherFailuresSequence), in order."""
    found = []
    for key in (FAILED_SOP, OTHER_FAILURES):
        for item in answer.get(key, {}).get("Value", []):
            found.append(item["00081197"]["Value"][0])
    return found


def referenced(answer):
    """The SOP Instance UIDs the answer says are stored."""
    return [item["00081155"]["Value"][0]
            for item in answer.get(REFERENCED_SOP, {}).get("Value", [])]


def multipart(parts, boundary=BOUNDARY, end=True):
    """A STOW-RS body: parts are bytes (application/dicom) or (headers text, bytes)."""
    pieces = []
    for part in parts:
        headers, data = part if isinstance(part, tuple) else ("Content-Type: application/dicom",
                                                             part)
        pieces.append(b"--%s\r\n%s\r\n\r\n%s\r\n" % (boundary.encode(),
                                                        headers.encode("latin-1"), data))
    if end:
        pieces.append(b"--%s--" % boundary.encode())
    return b"".join(pieces)
