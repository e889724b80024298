"""What the notification tests need besides Orthanc: a real SMTP server (Resources/Scripts/
smtp-sink.py on Debian's python3-aiosmtpd) whose messages are read back with Python's email
package, a small HTTPS webhook receiver, self-signed certificates made by openssl, and the
check of a webhook's signature.

Every server listens on 127.0.0.1 on a free port and is stopped by its pid (the sink) or by
its own thread (the receiver)."""

import email
import email.policy
import email.utils
import hashlib
import hmac
import html
import http.server
import json
import os
import re
import ssl
import subprocess
import threading
import time

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SINK = os.path.join(REPO, "Resources", "Scripts", "smtp-sink.py")
PYTHON = "/usr/bin/python3"


# ------------------------------------------------------------------------- certificates


def make_certificate(folder, name="server"):
    """A self-signed certificate for 127.0.0.1 (and localhost): (certificate, key) paths.
    The certificate is its own CA: give it to the client as the CA file."""
    cert = os.path.join(folder, name + ".crt")
    key = os.path.join(folder, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


# ------------------------------------------------------------------------- SMTP


class Mail:
    """One message the sink received: the raw bytes, the envelope and the parsed message."""

    def __init__(self, folder, stem):
        self.stem = stem
        with open(os.path.join(folder, stem + ".eml"), "rb") as f:
            self.raw = f.read()
        with open(os.path.join(folder, stem + ".json")) as f:
            self.envelope = json.load(f)
        self.message = email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def mail_from(self):
        return self.envelope["mail_from"]

    @property
    def rcpt_tos(self):
        return self.envelope["rcpt_tos"]

    @property
    def subject(self):
        return str(self.message["Subject"])

    def headers(self, name):
        """Every value of a header, decoded (RFC 2047), as strings."""
        return [str(v) for v in self.message.get_all(name, [])]

    def header(self, name):
        """The one value of a header; fails when it is absent or repeated."""
        values = self.headers(name)
        assert len(values) == 1, "header %s: %d values %r\n%s" % (
            name, len(values), values, self.raw_head())
        return values[0]

    def addresses(self, name):
        """The bare addresses of an address header (To, From, Reply-To)."""
        return [address for _, address in email.utils.getaddresses(self.headers(name))]

    def raw_head(self):
        return self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")

    def raw_header_names(self):
        """The names of the header fields as they are in the raw bytes, in order (continuation
        lines belong to the field above them)."""
        names = []
        for line in self.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
            if line[:1] in (b" ", b"\t"):
                continue
            names.append(line.split(b":", 1)[0].decode("ascii", "replace"))
        return names

    @property
    def text(self):
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self):
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    @property
    def html_as_text(self):
        """The html part's text as a reader sees it: tags removed, entities decoded."""
        return html.unescape(re.sub(r"<[^>]*>", " ", self.html))

    def everything(self):
        """Every form of the message a reader or a filter could see: the raw bytes (as text),
        the decoded headers, the plain text and the html (raw and as rendered text)."""
        decoded_headers = "\n".join("%s: %s" % (k, v) for k, v in self.message.items())
        return "\n".join([self.raw.decode("utf-8", "replace"), decoded_headers, self.text,
                          self.html, self.html_as_text])

    def __repr__(self):
        return "Mail(%s, to %s, %r)" % (self.stem, self.rcpt_tos, self.subject)


class SmtpSink:
    """smtp-sink.py in a process of its own. start() waits for its "ready" line."""

    def __init__(self, folder, port=None, certificate=None, auth=None, implicit_tls=False,
                 require_starttls=False):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.mail_folder = os.path.join(folder, "mail")
        self.port = port or harness.free_port()
        self.certificate = certificate          # (cert, key) or None
        self.auth = auth                        # (user, password) or None
        self.implicit_tls = implicit_tls
        self.require_starttls = require_starttls
        self.log_path = os.path.join(folder, "smtp-sink-%d.log" % self.port)
        self.process = None

    def command(self):
        cmd = [PYTHON, SINK, "--host", "127.0.0.1", "--port", str(self.port),
               "--dir", self.mail_folder]
        if self.certificate:
            cmd += ["--tls-cert", self.certificate[0], "--tls-key", self.certificate[1]]
        if self.auth:
            cmd += ["--auth", "%s:%s" % self.auth]
        if self.implicit_tls:
            cmd.append("--implicit-tls")
        if self.require_starttls:
            cmd.append("--require-starttls")
        return cmd

    def start(self, timeout=15.0):
        assert self.process is None, "the sink is running already"
        with open(self.log_path, "ab") as log:
            offset = log.tell()
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "smtp-sink ready" in self._log(offset):
                return self
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise AssertionError("smtp-sink exited with %s:\n%s" % (code, self._log(offset)))
            time.sleep(0.05)
        self.stop()
        raise AssertionError("smtp-sink not ready within %.0f s:\n%s" % (timeout, self._log(offset)))

    def stop(self):
        process, self.process = self.process, None
        harness.stop_process(process, 10)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def _log(self, offset=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log(self):
        return self._log()

    def mails(self):
        """Every message received so far, in the order of arrival."""
        if not os.path.isdir(self.mail_folder):
            return []
        stems = sorted(name[:-4] for name in os.listdir(self.mail_folder)
                       if name.endswith(".eml") and not name.startswith("."))
        return [Mail(self.mail_folder, stem) for stem in stems]

    def wait_for(self, count, timeout=20.0, what="messages"):
        """Waits until at least "count" messages arrived; returns all of them."""
        deadline = time.monotonic() + timeout
        mails = []
        while time.monotonic() < deadline:
            mails = self.mails()
            if len(mails) >= count:
                return mails
            time.sleep(0.1)
        raise AssertionError("%d %s expected within %.0f s, %d arrived: %s\nsink log:\n%s" % (
            count, what, timeout, len(mails), mails, self.log()[-3000:]))

    def assert_stays(self, count, seconds=2.0):
        """No further message within "seconds": exactly "count" arrived."""
        time.sleep(seconds)
        mails = self.mails()
        assert len(mails) == count, "expected exactly %d messages, got %d: %s" % (
            count, len(mails), mails)
        return mails


# ------------------------------------------------------------------------- webhooks


class _HookHandler(http.server.BaseHTTPRequestHandler):
    server_version = "webhook-receiver"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        status = receiver.status
        with receiver.lock:
            receiver.requests.append({
                "path": self.path, "headers": {k: v for k, v in self.headers.items()},
                "body": body, "status": status, "time": time.time()})
        payload = b'{"ok": true}' if 200 <= status < 300 else b'{"error": "unavailable"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


class _TlsServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, context, receiver):
        self.context = context
        self.receiver = receiver
        super().__init__(address, _HookHandler)

    def get_request(self):
        # The TLS handshake happens in the request's thread, not in the accepting one: a
        # client that fails it (wrong CA) cannot hold up the others.
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        self.receiver.errors.append(repr(client_address))

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as e:
            self.receiver.errors.append("handshake: %s" % e)
            return
        super().finish_request(request, client_address)


class WebhookReceiver:
    """An HTTPS server recording every POST (headers, body, the status it answered).
    "status" is what it answers (200, or 503 to play a target that is down); stop() and
    start() again keep the port."""

    def __init__(self, certificate, port=None, path="/hooks/inbound"):
        self.certificate = certificate
        self.port = port or harness.free_port()
        self.path = path
        self.status = 200
        self.requests = []
        self.errors = []
        self.lock = threading.Lock()
        self.httpd = None
        self.thread = None

    @property
    def url(self):
        return "https://127.0.0.1:%d%s" % (self.port, self.path)

    def start(self):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self.certificate)
        self.httpd = _TlsServer(("127.0.0.1", self.port), context, self)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)
            self.httpd = self.thread = None

    def received(self, ok_only=False):
        with self.lock:
            return [r for r in self.requests if not ok_only or 200 <= r["status"] < 300]

    def wait_for(self, count, ok_only=True, timeout=20.0, predicate=None):
        deadline = time.monotonic() + timeout
        found = []
        while time.monotonic() < deadline:
            found = [r for r in self.received(ok_only) if predicate is None or predicate(r)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError("%d webhook calls expected within %.0f s, %d came; all: %s; "
                             "errors: %s" % (count, timeout, len(found),
                                             [(r["status"], r["headers"].get("X-Inbound-Event"))
                                              for r in self.received()], self.errors[-5:]))


def signature(secret, timestamp, body):
    """The X-Inbound-Signature value of the spec: HMAC-SHA256(secret, "<timestamp>.<body>")."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret, headers, body, max_age=300):
    """What a webhook receiver does: the signature matches the body and the timestamp, and the
    timestamp is recent. True or False."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get("x-inbound-timestamp", "")
    given = lower.get("x-inbound-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > max_age:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))


# ------------------------------------------------------------------------- admin views


def notifications(server, **params):
    return server.admin_json("GET", "/inbound/admin/notifications", params=params)


def wait_for_notifications(server, predicate, timeout=20.0, what="notifications"):
    """Polls the admin route until predicate(answer) is true; returns the answer."""
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline:
        answer = notifications(server)
        if predicate(answer):
            return answer
        time.sleep(0.2)
    raise AssertionError("%s not reached within %.0f s: %s" % (
        what, timeout, json.dumps(answer, indent=1)[:4000]))


def metric(server, name):
    """The value of one Prometheus metric of Orthanc's endpoint, or None when absent."""
    text = server.admin("GET", "/tools/metrics-prometheus").text
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == name:
            return float(parts[1])
    return None
