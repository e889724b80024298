"""A gateway's peer routes (doc/Api.md, "Peer routes") served by the test, honest or not: what an
Internal pulls from, with every request counted, and each upload's manifest, outbox entry and item
answers open to forgery (a compromised DMZ host)."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import base64

import harness
import sealing

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PASSWORD = "a-long-random-secret-for-tests"


def new_id():
    return "".join(ALPHABET[b % 32] for b in os.urandom(12))


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class FakeGateway:
    """Uploads made up by the test. "add" returns the id; "forge" changes the manifest,
    "listing" the outbox entry, "serve(sha256, data)" answers an item: (status, body[,
    headers]) or the bytes to send as a 200. "empty_delay": how long an empty outbox waits
    (a real gateway long-polls; 0 answers at once)."""

    def __init__(self, empty_delay=0.5):
        self.uploads = {}     # id -> dict(manifest, items, listing, serve)
        self.acknowledged = []
        self.requests = []    # (time, method, path)
        self.empty_delay = empty_delay
        self.outbox_answer = None   # (status, body, content type[, headers]) instead of the list
        # Request links (doc/Requests.md, "Gateways"): every push received is kept; with
        # "take_pushes" it is answered as a gateway that stored each record, else 404 (a
        # gateway that takes none). "request_states": a function giving the body of
        # GET /inbound/peer/requests (None: 404).
        self.pushes = []
        self.take_pushes = False
        self.request_states = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body, content_type="application/json", headers=None):
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?")[0].rstrip("/")
                parts = path.split("/")
                with fake.lock:
                    fake.requests.append((time.monotonic(), "GET", path))
                    pending = [i for i in fake.uploads if i not in fake.acknowledged]
                if path == "/inbound/peer/requests" and fake.request_states is not None:
                    return self.answer(200, fake.request_states())
                if path == "/inbound/peer/outbox" and fake.outbox_answer:
                    return self.answer(*fake.outbox_answer)
                if path == "/inbound/peer/outbox":
                    if not pending and fake.empty_delay:
                        time.sleep(fake.empty_delay)
                    return self.answer(200, {"uploads": [fake.listing(i) for i in pending]})
                if len(parts) == 5 and parts[4] in fake.uploads:
                    return self.answer(200, fake.uploads[parts[4]]["manifest"])
                if len(parts) == 9 and parts[4] in fake.uploads and parts[5] == "items" and \
                        parts[7] == "parts" and parts[6] in fake.uploads[parts[4]]["pieces"]:
                    # A big item piece by piece (doc/Api.md, "Peer routes"), honest or not.
                    upload = fake.uploads[parts[4]]
                    pieces = upload["pieces"][parts[6]]
                    n = int(parts[8]) if parts[8].isdigit() else -1
                    honest = pieces[n] if 0 <= n < len(pieces) else None
                    served = upload["serve_piece"](parts[6], n, honest) \
                        if upload["serve_piece"] else honest
                    if served is None:
                        return self.answer(404, {"error": "not-found"})
                    if callable(served):
                        return served(self)  # writes the answer itself (endless, slow, ...)
                    if isinstance(served, bytes):
                        return self.answer(200, served, "application/octet-stream")
                    return self.answer(*served)
                if len(parts) == 7 and parts[4] in fake.uploads and parts[5] == "items" and \
                        parts[6] in fake.uploads[parts[4]]["items"]:
                    upload = fake.uploads[parts[4]]
                    data = upload["items"][parts[6]]
                    served = upload["serve"](parts[6], data) if upload["serve"] else data
                    if isinstance(served, bytes):
                        return self.answer(200, served, "application/octet-stream")
                    return self.answer(*served)
                return self.answer(404, {"error": "not-found"})

            def do_POST(self):
                parts = self.path.split("?")[0].split("/")
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with fake.lock:
                    fake.requests.append((time.monotonic(), "POST", self.path))
                if self.path == "/inbound/peer/requests":
                    pushed = json.loads(body or b"null")
                    with fake.lock:
                        fake.pushes.append(pushed)
                    if fake.take_pushes and isinstance(pushed, dict):
                        return self.answer(200, {"requests": [
                            {"id": r["id"], "revision": r["revision"], "status": r["state"],
                             "usedUploads": 0, "failures": 0, "lockedAt": None}
                            for r in pushed["requests"]]})
                if len(parts) == 6 and parts[5] == "ack" and parts[4] in fake.uploads:
                    with fake.lock:
                        fake.acknowledged.append(parts[4])
                    return self.answer(200, {})
                return self.answer(404, {"error": "not-found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def peer_settings(self, name="dmz"):
        """Orthanc's "OrthancPeers" section naming this gateway "name"."""
        return {"OrthancPeers": {name: {"Url": "http://127.0.0.1:%d/" % self.port,
                                        "Username": "inside", "Password": PASSWORD}}}

    def listing(self, upload_id):
        upload = self.uploads[upload_id]
        manifest = upload["manifest"]
        items = upload["items"]
        entry = {"id": upload_id,
                 "completedAt": manifest["completedAt"] if isinstance(manifest, dict) else now_iso(),
                 "files": len(items), "bytes": sum(len(b) for b in items.values())}
        if isinstance(manifest, dict) and isinstance(manifest.get("items"), list):
            # As an honest gateway counts: what its manifest lists.
            entry["files"] = len(manifest["items"])
            entry["bytes"] = sum(i.get("size", 0) for i in manifest["items"]
                                 if isinstance(i, dict) and isinstance(i.get("size"), int))
        entry.update(upload["listing"])
        return entry

    def add(self, files, forge=None, listing=None, serve=None, upload_id=None, seal=None,
            fields=None, part_bytes=0, serve_piece=None):
        """"seal": a public key PEM: the upload is sealed as a sealing gateway seals it (doc/Api.md,
        "Sealed uploads in the outbox"), its items served as envelopes; "fields(dict)" then changes (or
        returns the bytes of) what is sealed in "sealedFields"; "forge" comes after sealing.
        "part_bytes": files above it are listed with "partBytes" and served in pieces (sealed:
        one envelope each, context "item:<id>:<sha256>:<n>/<count>"); "serve_piece(sha256, n,
        honest)" answers a piece as "serve" does, or a callable that writes the answer itself."""
        upload_id = upload_id or new_id()
        now = now_iso()
        items = {harness.sha256(f): f for f in files}
        pieces = {}
        for s, f in items.items():
            if part_bytes and len(f) > part_bytes:
                chunks = [f[i:i + part_bytes] for i in range(0, len(f), part_bytes)]
                if seal:
                    chunks = [sealing.seal_envelope(seal, c, "item:%s:%s:%d/%d" % (
                        upload_id, s, n, len(chunks))) for n, c in enumerate(chunks)]
                pieces[s] = chunks
        manifest = {
            "id": upload_id, "createdAt": now, "completedAt": now, "receiptCode": "K7QZ-2M9X",
            "sender": harness.sender(), "recipient": {"id": harness.RECIPIENTS[0]["Id"],
                                                      "name": harness.RECIPIENTS[0]["Name"]},
            "message": "", "consent": {"version": harness.PRIVACY_VERSION, "accepted": True},
            "language": "en", "client": {"ip": "203.0.113.7", "userAgent": "test"},
            "items": [dict({"sha256": s, "size": len(f)},
                           **({"partBytes": part_bytes} if s in pieces else {}))
                      for s, f in items.items()]}
        if seal:
            seal_manifest(manifest, seal, fields)
            items = {s: sealing.seal_envelope(seal, f, "item:%s:%s" % (upload_id, s))
                     for s, f in items.items()}
        if forge:
            manifest = forge(manifest) or manifest
        with self.lock:
            self.uploads[upload_id] = {"manifest": manifest, "items": items,
                                       "listing": listing or {}, "serve": serve,
                                       "pieces": pieces, "serve_piece": serve_piece}
        return upload_id

    def count(self, method, prefix, since=0.0):
        with self.lock:
            return sum(1 for t, m, p in self.requests
                       if m == method and p.startswith(prefix) and t >= since)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def seal_manifest(manifest, public_pem, fields=None, context=None):
    """Moves what a sender typed into "sealedFields" as a sealing gateway does; "fields(dict)"
    may change the dict or return the exact bytes to seal; "context" replaces the right one."""
    typed = {"sender": manifest["sender"], "message": manifest["message"],
             "userAgent": manifest["client"]["userAgent"]}
    changed = fields(typed) if fields else None
    plaintext = changed if isinstance(changed, bytes) else json.dumps(typed).encode()
    envelope = sealing.seal_envelope(public_pem, plaintext,
                                     context or "fields:%s" % manifest["id"])
    manifest["sealing"] = {"keyId": sealing.key_id(public_pem)}
    manifest["sealedFields"] = base64.b64encode(envelope).decode()
    manifest["sender"] = {"name": "", "email": "", "institution": "", "phone": ""}
    manifest["message"] = ""
    manifest["client"]["userAgent"] = ""
    return manifest


def wait_until(predicate, timeout, what, interval=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)
