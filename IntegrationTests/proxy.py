"""nginx in front of an Orthanc, as deployed: the site that Resources/ ships, rendered by
Resources/Scripts/render-nginx-site.sh, with a self-signed certificate made at test time.

nginx (Debian) listens on 127.0.0.1 on a free port, keeps its configuration, certificate, logs
and temporary files in a temporary directory of its own, and is stopped by its pid. Clients
can be given their own loopback source address (127.0.0.2, 127.0.0.3, ...), so that one test
machine plays several senders, and the admin networks can be told apart from the Internet.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import requests
import requests.adapters

import harness

NGINX = os.environ.get("INBOUND_NGINX", "/usr/sbin/nginx")
OPENSSL = "/usr/bin/openssl"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RENDER = os.path.join(REPO, "Resources", "Scripts", "render-nginx-site.sh")

MAIN_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    include {dir}/site.conf;
}}
"""


class ProxyError(RuntimeError):
    pass


def make_certificate(directory, common_name="localhost"):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (certificate, key)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-keyout", key, "-out", cert, "-subj", "/CN=%s" % common_name,
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connections from a chosen loopback address, e.g. 127.0.0.2 (Linux routes 127/8 to lo)."""

    def __init__(self, source, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class NginxProxy:
    """The shipped nginx site in front of the Orthanc at orthanc_port."""

    def __init__(self, orthanc_port, admin_nets="", peer_nets="", max_body="512m",
                 edit_site=None, partner_nets=""):
        self.orthanc_port = orthanc_port
        self.admin_nets = admin_nets
        self.peer_nets = peer_nets
        self.partner_nets = partner_nets   # the script's PARTNER_NETS ("": the route closed)
        self.max_body = max_body
        self.edit_site = edit_site
        self.workdir = tempfile.mkdtemp(prefix="inbound-nginx-")
        # nginx's workers run as "nobody": they need to reach the temporary folders.
        os.chmod(self.workdir, 0o755)
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            path = os.path.join(self.workdir, "tmp", name)
            os.makedirs(path)
            os.chmod(path, 0o777)
        os.chmod(os.path.join(self.workdir, "tmp"), 0o755)
        self.port = None
        self.process = None
        self.cert = self.key = None
        self.site = None

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def render_site(self):
        result = subprocess.run(
            [RENDER, "127.0.0.1:%d" % self.port, "localhost", self.cert, self.key,
             "127.0.0.1:%d" % self.orthanc_port, self.max_body, self.admin_nets,
             self.peer_nets, os.path.join(self.workdir, "access.log"), self.partner_nets],
            check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        site = result.stdout.decode()
        for line in site.splitlines():
            if re.search(r"@[A-Z_]+@", line.split("#")[0]):
                raise ProxyError("placeholder left in the rendered site: %s" % line)
        return self.edit_site(site) if self.edit_site else site

    def start(self):
        self.port = harness.free_port()
        self.cert, self.key = make_certificate(self.workdir)
        self.site = self.render_site()
        with open(os.path.join(self.workdir, "site.conf"), "w") as f:
            f.write(self.site)
        conf = os.path.join(self.workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(MAIN_CONF.format(dir=self.workdir))
        check = subprocess.run([NGINX, "-t", "-p", self.workdir, "-c", conf],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise ProxyError("nginx -t refused the configuration:\n%s" % check.stdout.decode())
        log = open(os.path.join(self.workdir, "nginx.out"), "ab")
        try:
            self.process = subprocess.Popen([NGINX, "-p", self.workdir, "-c", conf],
                                            stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise ProxyError("nginx exited with code %s\n%s" % (code, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ProxyError("nginx did not listen on port %d\n%s" % (self.port, self.log_tail()))

    def stop(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # fast shutdown of the master and its workers
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def cleanup(self):
        self.stop()
        if not os.environ.get("INBOUND_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=60):
        out = []
        for name in ("nginx.out", "error.log"):
            try:
                with open(os.path.join(self.workdir, name), "rb") as f:
                    text = f.read().decode("utf-8", "replace").splitlines()[-lines:]
                out.append("----- nginx %s -----\n%s" % (name, "\n".join(text)))
            except OSError:
                pass
        return "\n".join(out)

    # ---------------------------------------------------------------- clients

    def session(self, source="127.0.0.1"):
        """A requests session that trusts the test certificate, from a loopback address."""
        s = requests.Session()
        s.verify = self.cert
        adapter = SourceAddressAdapter(source)
        s.mount("https://", adapter)
        return s

    def request(self, method, path, source="127.0.0.1", **kwargs):
        kwargs.setdefault("timeout", harness.REQUEST_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("verify", self.cert)  # explicit: REQUESTS_CA_BUNDLE would win
        with self.session(source) as s:
            return s.request(method, self.url + path, **kwargs)

    def tls_socket(self, source="127.0.0.1", timeout=30):
        """A raw TLS connection to the proxy (for slow clients and hand-made requests)."""
        context = ssl.create_default_context(cafile=self.cert)
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout,
                                       source_address=(source, 0))
        return context.wrap_socket(raw, server_hostname="localhost")
