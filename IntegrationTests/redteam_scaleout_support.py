"""Red-team support for the scale-out site (doc/Operations.md, "Scale-out"): the shipped nginx
site, rendered by render-nginx-site.sh for several gateways, in front of recording gateways.

A recording gateway is a small HTTP server standing where a gateway Orthanc stands: it answers
every request with 200 and JSON naming itself, and keeps every request it received (method,
path as nginx passed it on, headers). The attacks are on nginx's choice of the gateway, so the
tests assert what each gateway received - which a real gateway cannot tell afterwards - and
that a refused request reached none."""

import http.server
import json
import os
import subprocess
import threading

import harness
import proxy
from scaleout_support import GatewaysProxy


class RecordingGateway:
    """An HTTP/1.1 server on 127.0.0.1 that records what nginx sends it."""

    def __init__(self, name):
        self.name = name
        self.received = []          # (method, path, {header: value}) in arrival order
        self.lock = threading.Lock()
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with gateway.lock:
                    gateway.received.append(
                        (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = json.dumps({"gateway": gateway.name, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = answer

            def log_message(self, *args):
                pass

        self.port = harness.free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self):
        with self.lock:
            return [path for _, path, _ in self.received]

    def clear(self):
        with self.lock:
            self.received.clear()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class RecordingSite:
    """The shipped site for several gateways (each (prefix or "", RecordingGateway)), with the
    peer network 127.0.0.1 only: every other loopback address (127.0.0.2, ...) is the
    Internet."""

    def __init__(self, prefixes, peer_nets="127.0.0.1", admin_nets="127.0.0.1"):
        self.gateways = [RecordingGateway("g%d" % (i + 1)) for i in range(len(prefixes))]
        self.proxy = GatewaysProxy([(p, g.port) for p, g in zip(prefixes, self.gateways)],
                                   peer_nets=peer_nets, admin_nets=admin_nets)

    def start(self):
        self.proxy.start()
        return self

    def stop(self):
        try:
            self.proxy.cleanup()
        finally:
            for g in self.gateways:
                g.stop()

    def clear(self):
        for g in self.gateways:
            g.clear()

    def request(self, method, path, source="127.0.0.2", **kwargs):
        return self.proxy.request(method, path, source=source, **kwargs)

    def raw(self, request_line, source="127.0.0.2", headers=()):
        """A request written by hand (paths that requests would normalise), over TLS; returns
        (status, body)."""
        sock = self.proxy.tls_socket(source=source)
        try:
            lines = [request_line, "Host: localhost", "Connection: close"] + list(headers)
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            sock.close()
        reply = b"".join(chunks)
        head, _, body = reply.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, body

    def reached(self):
        """{gateway name: [paths]} of the gateways that received something."""
        return {g.name: g.paths() for g in self.gateways if g.paths()}


def render(gateways, peer_nets="127.0.0.1"):
    """render-nginx-site.sh's exit code and output (stdout + stderr) for ORTHANC = gateways."""
    result = subprocess.run(
        [proxy.RENDER, "443", "inbound.hospital.example", "/c.pem", "/k.pem", gateways, "512m",
         "127.0.0.1", peer_nets, os.devnull, ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return result.returncode, result.stdout.decode() + result.stderr.decode()


def serve(prefixes, partner_nets=""):
    """A recording site for the gateways' prefixes, started for a module's tests."""
    s = RecordingSite(prefixes)
    s.proxy.partner_nets = partner_nets   # render-nginx-site.sh's PARTNER_NETS
    try:
        s.start()
    except BaseException:
        s.stop()
        raise
    yield s
    s.stop()
