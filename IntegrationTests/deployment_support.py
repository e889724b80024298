"""What the deployment tests need: processes of their own (Orthanc, nginx, the image's
entrypoint) stopped by their pid, the Dockerfile and compose files read as Docker reads them,
and Docker/entrypoint.sh run outside Docker on a `cmake --install` of the plugin under test."""

import fnmatch
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import requests
import yaml

import conftest
import harness
import proxy
import samples
from harness import ADMIN

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOCKER = os.path.join(REPO, "Docker")
DOCKERFILE = os.path.join(DOCKER, "Dockerfile")
ENTRYPOINT = os.path.join(DOCKER, "entrypoint.sh")
COMPOSE = {"standalone": os.path.join(DOCKER, "docker-compose.standalone.yml"),
           "dmz": os.path.join(DOCKER, "docker-compose.dmz.yml")}
EXAMPLE_ENV = os.path.join(DOCKER, "example.env")
SHARE = "usr/share/orthanc-inbound"
INSTALLED = {
    "usr/share/orthanc/plugins/libOrthancInbound.so": None,
    SHARE + "/configurations/Standalone.json": "Resources/Configurations/Standalone.json",
    SHARE + "/configurations/Gateway.json": "Resources/Configurations/Gateway.json",
    SHARE + "/configurations/Internal.json": "Resources/Configurations/Internal.json",
    SHARE + "/configurations/InternalPostgreSQL.json": "Resources/Configurations/InternalPostgreSQL.json",
    SHARE + "/configurations/Partner.json": "Resources/Configurations/Partner.json",
    SHARE + "/configurations/Partner.lua": "Resources/Configurations/Partner.lua",
    SHARE + "/nginx/inbound-site.conf": "Resources/Nginx/inbound-site.conf",
    SHARE + "/scripts/render-nginx-site.sh": "Resources/Scripts/render-nginx-site.sh",
    SHARE + "/scripts/configtool.py": "Resources/Scripts/configtool.py",
}
EXECUTABLE = {SHARE + "/scripts/render-nginx-site.sh", SHARE + "/scripts/configtool.py"}
# The secrets the tests give where an admin gives theirs.
SECRETS = {"INBOUND_ADMIN_PASSWORD": ADMIN[1],
           "INBOUND_PULLER_PASSWORD": "a-long-random-secret-for-tests"}
# The image's PATH (Debian's), also given to the entrypoint when it runs here.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the test machine changes of the image's surroundings: nothing else.
TEST_MACHINE_SETTINGS = ["Inbound.DataMonitor.WarnFreeBytes=0",   # depends on this disk
                         "Inbound.DataMonitor.StopFreeBytes=0"]


# ------------------------------------------------------------------------- processes


def temporary_directory(prefix):
    """A folder that Orthanc's and nginx's own users can enter (the services drop root)."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


def remove(path):
    if not os.environ.get("INBOUND_KEEP_TMP"):
        shutil.rmtree(path, ignore_errors=True)


class Process:
    """A process of a test, its output in a log file, stopped by its pid. Listed in conftest's
    LIVE_SERVERS while it runs, so that its log is shown under a failed test."""

    def __init__(self, name, argv, log_path, env=None, port=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.port = port
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env)
        conftest.LIVE_SERVERS.append(self)
        return self

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout):
        return self.process.wait(timeout)

    def stop(self, timeout=20.0):
        """SIGTERM; the exit code (None when it had to be killed)."""
        if self in conftest.LIVE_SERVERS:
            conftest.LIVE_SERVERS.remove(self)
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                return None
        return self.process.returncode

    def log_tail(self, lines=80):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return "(no log at %s)" % self.log_path
        return "----- %s %s -----\n%s" % (self.name, self.log_path, "\n".join(text))


class Orthanc(Process):
    """/usr/sbin/Orthanc on a configuration file or folder, answering on 127.0.0.1:port."""

    def __init__(self, configuration, port, log_path, user=None):
        argv = [harness.ORTHANC, configuration]
        if user:   # as Debian's service runs it
            argv = ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups"] + argv
        super().__init__("Orthanc", argv, log_path, port=port)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, **kwargs):
        """Without credentials, as a sender (the harness's Upload takes this)."""
        kwargs.setdefault("timeout", harness.REQUEST_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, **kwargs)

    def admin(self, method, path, **kwargs):
        # A script says it is one: admin writes without it are refused as cross-site.
        kwargs["headers"] = dict(kwargs.get("headers") or {})
        kwargs["headers"].setdefault("X-Requested-With", "XMLHttpRequest")
        return self.request(method, path, auth=ADMIN, **kwargs)

    def admin_json(self, method, path, **kwargs):
        r = self.admin(method, path, **kwargs)
        assert r.status_code == 200, "%s %s: %d %s\n%s" % (method, path, r.status_code,
                                                         r.text[:300], self.log_tail())
        return r.json()

    def start(self, timeout=30.0):
        super().start()
        wait_until(lambda: self.admin("GET", "/system", timeout=2).status_code == 200,
                   timeout, "Orthanc on port %d" % self.port, self)
        return self


class Https:
    """A client of an nginx site whose certificate names "localhost"."""

    def __init__(self, port, certificate):
        self.url = "https://localhost:%d" % port
        self.certificate = certificate

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", harness.REQUEST_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("verify", self.certificate)
        return requests.request(method, self.url + path, **kwargs)


def wait_until(predicate, timeout, what, process=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and not process.running():
            raise AssertionError("%s exited with %s\n%s" % (
                what, process.process.returncode, process.log_tail()))
        try:
            if predicate():
                return
        except (requests.RequestException, OSError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError("%s not ready within %.0f s (%s)\n%s" % (
        what, timeout, last, process.log_tail() if process else ""))


class Installation:
    """What `cmake --install` put into root/destdir (prefix /usr)."""

    def __init__(self, root):
        self.root = root
        self.destdir = os.path.join(root, "destdir")
        self.share = os.path.join(self.destdir, SHARE)
        self.plugin = os.path.join(self.destdir, "usr/share/orthanc/plugins/libOrthancInbound.so")
        self.scripts = os.path.join(self.share, "scripts")


# ------------------------------------------------------------------------- Docker files


def dockerfile_instructions(path=DOCKERFILE):
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments left out."""
    instructions, current = [], ""
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip().startswith("#") or (not current and not line.strip()):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            word, _, rest = current.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
            current = ""
    return instructions


def dockerignore_patterns():
    with open(DOCKERFILE + ".dockerignore") as f:
        return [line.strip().lstrip("/") for line in f
                if line.strip() and not line.startswith("#")]


def ignored(path, patterns):
    parts = path.strip("/").split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1)):
            return True
    return False


def stages():
    return [re.search(r"\bAS\s+(\S+)", rest, re.I).group(1)
            for word, rest in dockerfile_instructions() if word == "FROM"]


def package_of(path):
    """The Debian package that installed a file (following one symbolic link if needed)."""
    for candidate in (path, os.path.realpath(path)):
        result = subprocess.run(["dpkg", "-S", candidate], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        if result.returncode == 0:
            return result.stdout.decode().split(":")[0].split(",")[0].strip()
    raise AssertionError("no Debian package has %s" % path)


def runtime_closure():
    """Every package the runtime stage's packages bring, with the Essential ones of the base."""
    (packages,) = re.findall(r'^ARG RUNTIME_PACKAGES="([^"]+)"', open(DOCKERFILE).read(), re.M)
    result = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + packages.split(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 0, "apt-cache (are there package lists? apt-get update): %s" % (
        result.stderr.decode())
    closure = {line.strip() for line in result.stdout.decode().splitlines()
               if line and not line.startswith(" ")}
    essential = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Essential}\n"],
                               stdout=subprocess.PIPE, check=True).stdout.decode()
    closure |= {line.split()[0] for line in essential.splitlines() if line.endswith(" yes")}
    return packages.split(), closure


def read_env_file(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip("\"'")
    return values


class RequiredVariable(Exception):
    """A ${VAR:?error} without a value: Compose refuses to start."""


INTERPOLATION = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(node, variables, used):
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    if isinstance(node, dict):
        return {k: interpolate(v, variables, used) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, variables, used) for v in node]
    if not isinstance(node, str):
        return node

    def substitute(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        used.add(name)
        value, operator, argument = variables.get(name), m.group(2), m.group(3)
        if operator in (":-", "-"):
            return value if value or (operator == "-" and value is not None) else argument
        if operator in (":?", "?") and not value:
            raise RequiredVariable("%s: %s" % (name, argument))
        return value or ""
    return INTERPOLATION.sub(substitute, node)


def compose(name, variables=None):
    """A compose file as Docker Compose reads it with the env file "variables"."""
    with open(COMPOSE[name]) as f:
        document = yaml.safe_load(f)
    used = set()
    resolved = interpolate(document, variables or dict(read_env_file(EXAMPLE_ENV), **SECRETS),
                           used)
    return resolved, used


def service_environment(document, service):
    environment = document["services"][service].get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {k: "" if v is None else str(v) for k, v in environment.items()}


# ------------------------------------------------------------------------- the entrypoint


def leaves(node, prefix=""):
    """{dotted path: value} of a configuration (objects opened, lists as values)."""
    if not isinstance(node, dict):
        return {prefix: node}
    result = {}
    for key, value in node.items():
        result.update(leaves(value, prefix + "." + key if prefix else key))
    return result


# What the entrypoint may change in a sample: the machine's paths and ports, the site's
# secrets and names, its relay, PACS and gateway; and what the test machine adds.
MACHINE_AND_SITE = ("StorageDirectory", "IndexDirectory", "Plugins", "HttpPort", "DicomPort",
                    "RegisteredUsers", "Inbound.DataDirectory", "Inbound.Pullers",
                    "Inbound.SiteName", "Inbound.Smtp.", "Inbound.Notifications.OrthancUrl",
                    "Inbound.Notifications.AdminEmails", "OrthancPeers.dmz.",
                    "HttpsCACertificates", "DicomModalities.pacs", "Inbound.DataMonitor.",
                    "RemoteAccessAllowed", "Inbound.Sealing.PublicKeys",
                    "Inbound.Sealing.PrivateKey")


class Entrypoint:
    """Docker/entrypoint.sh run here on the installed files, with a compose service's
    environment; the test machine's folders and ports replace the container's."""

    def __init__(self, installed, environment, name, machine=None, settings=()):
        self.installed = installed
        self.folder = temporary_directory("inbound-entrypoint-%s-" % name)
        self.config = os.path.join(self.folder, "etc")
        self.run_dir = os.path.join(self.folder, "run")
        self.orthanc_port = harness.free_port()
        self.https_port = harness.free_port()
        self.environment = dict(environment)
        self.environment.update({
            "PATH": SYSTEM_PATH,
            "INBOUND_SHARE": installed.share, "INBOUND_PLUGIN": installed.plugin,
            "INBOUND_DATA_DIR": os.path.join(self.folder, "data"),
            "INBOUND_CONFIG_DIR": self.config, "INBOUND_RUN_DIR": self.run_dir,
            "INBOUND_ORTHANC_PORT": str(self.orthanc_port),
            "INBOUND_DICOM_PORT": str(harness.free_port()),
            "INBOUND_HTTPS_LISTEN": "127.0.0.1:%d" % self.https_port,
            # This machine's clients come from loopback, by the name "localhost".
            "INBOUND_SERVER_NAME": "localhost", "INBOUND_ADMIN_NETWORKS": "127.0.0.1"})
        self.environment.update(machine or {})
        self.environment["INBOUND_SETTINGS"] = "\n".join(
            [environment.get("INBOUND_SETTINGS", "")] + TEST_MACHINE_SETTINGS + list(settings))
        self.processes = []

    @property
    def certificate(self):
        return os.path.join(self.config, "tls", "inbound.crt")

    def run(self, *arguments, **overrides):
        return subprocess.run([ENTRYPOINT] + list(arguments),
                              env=dict(self.environment, **overrides),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def render(self):
        result = self.run(INBOUND_RENDER_ONLY="1")
        assert result.returncode == 0, result.stdout.decode()
        return samples.configtool.load(os.path.join(self.config, "orthanc.json"))

    def healthcheck(self):
        return self.run("healthcheck").returncode

    def start(self, process):
        self.processes.append(process)
        return process.start()

    def orthanc(self):
        return self.start(Orthanc(os.path.join(self.config, "orthanc.json"), self.orthanc_port,
                                  os.path.join(self.folder, "orthanc.log")))

    def nginx(self):
        nginx = self.start(Process("nginx", [proxy.NGINX, "-e", "stderr", "-c",
                                             os.path.join(self.config, "nginx", "nginx.conf")],
                                   os.path.join(self.folder, "nginx.log"), port=self.https_port))
        site = self.https()
        wait_until(lambda: site.request("GET", "/inbound/api/info").status_code == 200, 20,
                   "nginx on port %d" % self.https_port, nginx)
        return nginx

    def https(self):
        return Https(self.https_port, self.certificate)

    def cleanup(self):
        for process in reversed(self.processes):
            process.stop()
        remove(self.folder)


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
