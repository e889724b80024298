"""Deployment as an admin does it. `cmake --install` of the plugin under test (into a DESTDIR,
prefix /usr): every file lands in its place, the installed nginx site renders and passes
`nginx -t`, the installed Standalone sample runs the installed plugin in Debian's /etc/orthanc
layout. The Docker files: what the Dockerfile copies exists, the image's packages bring every
library the plugin links and every command it runs, the compose files refer to what exists and
agree with each other; and since no Docker engine runs here, the image's start-up
(Docker/entrypoint.sh) runs outside Docker on the installed files with each compose file's
environment, and the Orthancs and nginx it configures serve an upload end to end."""

import glob
import ipaddress
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
from urllib.parse import urlparse

import pytest
import requests

import data
import harness
import proxy
import samples
from deployment_support import (
    DOCKER, ENTRYPOINT, COMPOSE, EXAMPLE_ENV, EXECUTABLE, INSTALLED, MACHINE_AND_SITE, REPO,
    SECRETS, SYSTEM_PATH, Entrypoint, Installation, Orthanc, Process, RequiredVariable, alive,
    compose, dockerfile_instructions, dockerignore_patterns, ignored, leaves, package_of,
    read_env_file, remove, runtime_closure, service_environment, stages, temporary_directory,
    wait_until)
from harness import ADMIN, Upload
from mail_support import SmtpSink
from test_pull import wait_for_upload


# ============================================================================ cmake --install


@pytest.fixture(scope="module")
def installed(plugin):
    """`cmake --install` of the build that made the plugin under test, as a package or the
    Docker image does it: into a DESTDIR, with the prefix /usr."""
    build = os.path.dirname(plugin)
    if not os.path.isfile(os.path.join(build, "cmake_install.cmake")):
        pytest.fail("%s is not a CMake build folder (INBOUND_PLUGIN must be the built plugin)"
                    % build, pytrace=False)
    root = temporary_directory("inbound-install-")
    result = subprocess.run(["cmake", "--install", build, "--prefix", "/usr"],
                            env=dict(os.environ, DESTDIR=os.path.join(root, "destdir")),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert result.returncode == 0, result.stdout.decode()
    yield Installation(root)
    remove(root)


def test_cmake_install_lays_out_every_file(installed, plugin):
    found = sorted(os.path.relpath(os.path.join(folder, name), installed.destdir)
                   for folder, _, names in os.walk(installed.destdir) for name in names)
    assert found == sorted(INSTALLED), "installed: %s" % found
    for path, source in INSTALLED.items():
        content = harness.read(os.path.join(installed.destdir, path))
        assert content == harness.read(plugin if source is None else os.path.join(REPO, source)), \
            "%s differs from what it was installed from" % path
        mode = os.stat(os.path.join(installed.destdir, path)).st_mode
        assert bool(mode & 0o111) == (path in EXECUTABLE), "%s: mode %o" % (path, mode)


def test_the_installed_nginx_site_renders_and_passes_nginx_t(installed):
    folder = temporary_directory("inbound-nginx-t-")
    try:
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(folder, "tmp", name))
        cert, key = proxy.make_certificate(folder)
        rendered = subprocess.run(
            [os.path.join(installed.scripts, "render-nginx-site.sh"),
             "127.0.0.1:%d" % harness.free_port(), "inbound.hospital.example", cert, key,
             "127.0.0.1:8042", "512m", "10.0.0.0/8", "10.1.2.3"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert rendered.returncode == 0, rendered.stderr.decode()
        site = rendered.stdout.decode()
        code = "\n".join(line.split("#")[0] for line in site.splitlines())
        assert not re.search(r"@[A-Z_]+@", code), "a placeholder is left"
        assert "allow 10.1.2.3;" in code and "allow 10.0.0.0/8;" in code
        with open(os.path.join(folder, "site.conf"), "w") as f:
            f.write(site)
        conf = os.path.join(folder, "nginx.conf")
        with open(conf, "w") as f:
            f.write(proxy.MAIN_CONF.format(dir=folder))
        check = subprocess.run([proxy.NGINX, "-t", "-p", folder, "-c", conf],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert check.returncode == 0, check.stdout.decode()
    finally:
        remove(folder)


def test_the_installed_sample_runs_in_debians_etc_orthanc(installed):
    """Debian's service runs `Orthanc /etc/orthanc` as the user "orthanc", every file of the
    folder merged, none naming an option twice: the installed sample replaces orthanc.json and
    holds the admin's password itself (Debian's credentials.json goes, orthanc.json becomes
    root:orthanc 640); Debian's other files stay."""
    folder = temporary_directory("inbound-debian-")
    etc = os.path.join(folder, "etc-orthanc")
    os.makedirs(etc)
    for path in glob.glob("/etc/orthanc/*.json"):
        if os.path.basename(path) not in ("orthanc.json", "credentials.json"):
            shutil.copy(path, etc)
    as_service = os.geteuid() == 0   # else: as this user
    if as_service:
        for name in ("db", "inbound"):   # /var/lib/orthanc is the service's
            os.makedirs(os.path.join(folder, name))
            shutil.chown(os.path.join(folder, name), "orthanc", "orthanc")
    port = harness.free_port()
    config = samples.configtool.load(os.path.join(installed.share, "configurations",
                                                  "Standalone.json"))
    config.update({"StorageDirectory": os.path.join(folder, "db"),
                   "IndexDirectory": os.path.join(folder, "db"), "HttpPort": port,
                   "DicomPort": harness.free_port(), "Plugins": [installed.plugin],
                   "RegisteredUsers": {ADMIN[0]: ADMIN[1]}})
    config["Inbound"]["DataDirectory"] = os.path.join(folder, "inbound")
    config["Inbound"]["DataMonitor"].update({"WarnFreeBytes": 0, "StopFreeBytes": 0})
    with open(os.path.join(etc, "orthanc.json"), "w") as f:
        json.dump(config, f, indent=2)
    os.chmod(os.path.join(etc, "orthanc.json"), 0o640)
    if as_service:
        shutil.chown(os.path.join(etc, "orthanc.json"), "root", "orthanc")
    orthanc = Orthanc(etc, port, os.path.join(folder, "orthanc.log"),
                      user="orthanc" if as_service else None)
    try:
        orthanc.start()
        log = orthanc.log_tail(1000)
        assert "Inbound: role Standalone" in log and "unknown configuration option" not in log
        plugins = set(orthanc.admin_json("GET", "/plugins")) - {"explorer.js"}
        assert plugins == {"inbound"}, plugins  # none of the Debian package's other plugins
        upload = Upload.open(orthanc)
        original = data.Original(data.cd_images()[0])
        assert upload.put(original.data).status_code == 201
        upload.complete_ok()
        assert orthanc.admin_json("GET", "/inbound/admin/uploads/%s" % upload.id)["files"] == 1
        assert requests.get(orthanc.url + "/inbound/admin/uploads", timeout=10).status_code == 403
        assert orthanc.stop() == 0, orthanc.log_tail()
    finally:
        orthanc.stop()
        remove(folder)


# ============================================================================ Docker files


def test_the_dockerfile_copies_only_what_the_repository_has():
    patterns = dockerignore_patterns()
    copied = []
    for word, rest in dockerfile_instructions():
        assert word != "ADD", "ADD %s: COPY is enough" % rest
        if word != "COPY":
            continue
        args = shlex.split(rest)
        flags = [a for a in args if a.startswith("--")]
        paths = [a for a in args if not a.startswith("--")]
        origin = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
        if origin:
            assert origin[0] in stages(), "COPY --from=%s: no such stage" % origin[0]
            continue
        for source in paths[:-1]:
            assert os.path.exists(os.path.join(REPO, source)), "COPY %s: no such file" % source
            assert not ignored(source, patterns), "COPY %s: not in the build context" % source
            copied.append(source)
    # The image is built from the very files the tests use, not from copies of them.
    assert "Docker/entrypoint.sh" in copied and "Resources" in copied
    assert stages()[-1] == "runtime", "the default target is the last stage"
    assert not glob.glob(os.path.join(DOCKER, "*.json")) and \
        not glob.glob(os.path.join(DOCKER, "*.conf")), "a configuration copied into Docker/"


def test_the_image_has_every_library_of_the_plugin_and_every_command_it_runs(plugin):
    packages, closure = runtime_closure()
    assert "orthanc" in packages and "nginx-light" in packages
    ldd = subprocess.run(["ldd", plugin], stdout=subprocess.PIPE, check=True).stdout.decode()
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", subprocess.run(
        ["readelf", "-d", plugin], stdout=subprocess.PIPE, check=True).stdout.decode())
    assert len(needed) > 10
    missing = []
    for library in needed:
        path = resolved.get(library) or re.search(r"(/\S+%s)" % re.escape(library), ldd).group(1)
        package = package_of(path)
        if package not in closure:
            missing.append("%s (%s)" % (library, package))
    # The commands of the entrypoint, of its health check, of the compose files' PACS and of
    # the backup (Docker/README.md).
    for command in ("nginx", "openssl", "python3", "curl", "setpriv", "Orthanc", "storescp",
                    "echoscu", "sqlite3"):
        path = shutil.which(command, path=SYSTEM_PATH)
        assert path, "%s is not installed here" % command
        package = package_of(path)
        if package not in closure:
            missing.append("%s (%s)" % (command, package))
    assert not missing, "not in the image (RUNTIME_PACKAGES): %s" % missing


def test_the_entrypoint_is_valid_bash():
    result = subprocess.run(["bash", "-n", ENTRYPOINT], stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr.decode()
    assert os.access(ENTRYPOINT, os.X_OK)


# ---------------------------------------------------------------------------- compose

ROLES = ("standalone", "gateway", "internal")


@pytest.mark.parametrize("name", sorted(COMPOSE))
def test_a_compose_file_refers_to_what_exists(name):
    document, used = compose(name)
    folder = os.path.dirname(COMPOSE[name])
    documented = read_env_file(EXAMPLE_ENV)
    assert used <= set(documented), "not in example.env: %s" % sorted(used - set(documented))
    # No password ships: without the admin's own, Compose refuses to start.
    with pytest.raises(RequiredVariable):
        compose(name, read_env_file(EXAMPLE_ENV))
    for service, definition in document["services"].items():
        build = definition.get("build")
        if build:
            context = os.path.normpath(os.path.join(folder, build["context"]))
            assert os.path.isdir(context), "%s: build context %s" % (service, context)
            assert os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile")))
            assert build.get("target", stages()[-1]) in stages(), "%s: target" % service
        for env_file in definition.get("env_file", []):
            env_file = env_file["path"] if isinstance(env_file, dict) else env_file
            assert os.path.isfile(os.path.join(folder, env_file)), "%s: %s" % (service, env_file)
        for volume in definition.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source.startswith((".", "/", "~")):
                assert os.path.exists(os.path.join(folder, source)), "%s: %s" % (service, volume)
            else:
                assert source in (document.get("volumes") or {}), (service, source)
        for network in definition.get("networks", []):
            assert network in (document.get("networks") or {}), (service, network)
        if definition.get("image") == "orthanc-inbound:latest" and "entrypoint" not in definition:
            assert definition["environment"]["INBOUND_ROLE"] in ROLES, service
            # A one-shot step of the entrypoint (sealing-keys) runs once and is not restarted.
            one_shot = definition.get("command") == ["sealing-keys"]
            assert not one_shot or definition.get("restart") == "no", service
            assert one_shot or definition["healthcheck"]["test"] == [
                "CMD", "/usr/local/bin/inbound-entrypoint", "healthcheck"], service
            assert any(str(v).split(":")[-1] == "/var/lib/orthanc"
                       for v in definition["volumes"]), "%s keeps no data" % service


def test_the_dmz_services_agree_with_each_other():
    document, _ = compose("dmz")
    services = document["services"]
    gateway, internal = (service_environment(document, s) for s in ("gateway", "internal"))
    network = document["networks"]["dmz"]
    subnet = ipaddress.ip_network(network["ipam"]["config"][0]["subnet"])
    address = ipaddress.ip_address(services["internal"]["networks"]["dmz"]["ipv4_address"])
    # The gateway lets the internal Orthanc, and only it, pull.
    assert address in subnet
    assert gateway["INBOUND_PULLER_NETWORKS"].split() == [str(address)]
    # The internal Orthanc reaches the gateway by a name the gateway answers to (and that its
    # self-signed certificate names), and trusts the certificate the gateway made.
    url = urlparse(internal["INBOUND_GATEWAY_URL"])
    assert url.scheme == "https" and url.path == "/"
    assert url.hostname in services["gateway"]["networks"]["dmz"]["aliases"]
    assert url.hostname == gateway["INBOUND_SERVER_NAME"]
    assert url.hostname != "localhost", "each container's localhost is itself"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["internal"]["volumes"]}
    ca_folder, ca_name = os.path.split(internal["INBOUND_GATEWAY_CA"])
    gateway_mounts = {v.split(":")[0]: v.split(":")[1] for v in services["gateway"]["volumes"]}
    assert ca_name == "inbound.crt"   # the entrypoint's certificate, in /etc/orthanc-inbound/tls
    assert gateway_mounts[mounts[ca_folder]] == "/etc/orthanc-inbound/tls"
    assert all("private" not in target for target in mounts), "the gateway's key is shared"
    # The PACS and the mail relay are services on the internal Orthanc's network.
    aet, host, port = re.match(r"^([^@]+)@(.+):(\d+)$", internal["INBOUND_PACS"]).groups()
    pacs = services["pacs"]["entrypoint"]
    assert pacs[pacs.index("--aetitle") + 1] == aet and pacs[-1] == port and host in services
    assert internal["INBOUND_SMTP_HOST"] in services
    for peer in (host, internal["INBOUND_SMTP_HOST"]):
        assert set(services[peer]["networks"]) & set(services["internal"]["networks"])
    assert "gateway" not in services[host]["networks"]
    assert services["internal"]["depends_on"]["gateway"]["condition"] == "service_healthy"


# ---------------------------------------------------------------------------- the entrypoint


def assert_rendered_from_the_sample(config, sample, entrypoint):
    """The rendered configuration is the shipped sample but for the machine's and the site's
    values, and Orthanc gets exactly those."""
    shipped = leaves(samples.configtool.load(os.path.join(entrypoint.installed.share,
                                                          "configurations", sample)))
    rendered = leaves(config)
    changed = {k for k in set(shipped) | set(rendered) if shipped.get(k) != rendered.get(k)}
    unexpected = sorted(k for k in changed if not any(
        k == p or (p.endswith(".") and k.startswith(p)) or k.startswith(p + ".")
        for p in MACHINE_AND_SITE))
    assert not unexpected, "%s: the entrypoint changed %s" % (sample, unexpected)
    data_dir = entrypoint.environment["INBOUND_DATA_DIR"]
    assert config["Plugins"] == [entrypoint.installed.plugin]
    assert config["StorageDirectory"] == config["IndexDirectory"] == data_dir + "/db"
    assert config["Inbound"]["DataDirectory"] == data_dir + "/inbound"
    assert config["HttpPort"] == entrypoint.orthanc_port
    assert config["RegisteredUsers"] == {"admin": SECRETS["INBOUND_ADMIN_PASSWORD"]}
    mode = os.stat(os.path.join(entrypoint.config, "orthanc.json")).st_mode
    assert mode & 0o077 == mode & 0o040, "orthanc.json (passwords) is %o" % mode


def test_the_entrypoint_refuses_what_would_start_an_unsafe_or_broken_site(installed):
    document, _ = compose("standalone")
    entrypoint = Entrypoint(installed, service_environment(document, "inbound"), "refusals")
    try:
        for overrides, says in (({"INBOUND_ADMIN_PASSWORD": ""}, "set INBOUND_ADMIN_PASSWORD"),
                                ({"INBOUND_ADMIN_PASSWORD": "change-me"}, "still the sample's"),
                                ({"INBOUND_ROLE": "relay"}, "INBOUND_ROLE must be"),
                                ({"INBOUND_ROLE": "gateway"}, "INBOUND_PULLER_PASSWORD"),
                                ({"INBOUND_ROLE": "internal", "INBOUND_PULLER_PASSWORD": "x" * 20},
                                 "INBOUND_GATEWAY_URL"),
                                ({"INBOUND_PACS": "pacs:104"}, "AET@HOST:PORT"),
                                ({"INBOUND_SETTINGS": "Inbound.SiteName=Example"},
                                 "INBOUND_SETTINGS")):
            result = entrypoint.run(INBOUND_RENDER_ONLY="1", **overrides)
            assert result.returncode == 2 and says in result.stdout.decode(), (
                overrides, result.returncode, result.stdout.decode())
            assert not glob.glob(os.path.join(entrypoint.config, "orthanc.json*")), overrides
    finally:
        entrypoint.cleanup()


def test_the_image_starts_a_standalone_server_as_the_compose_file_says(installed):
    document, _ = compose("standalone")
    entrypoint = Entrypoint(installed, service_environment(document, "inbound"), "standalone")
    try:
        config = entrypoint.render()
        assert_rendered_from_the_sample(config, "Standalone.json", entrypoint)
        assert config["Inbound"]["Smtp"]["Host"] == ""   # none set in the env file: no mail
        orthanc = entrypoint.orthanc()
        entrypoint.nginx()
        site = entrypoint.https()
        info = site.request("GET", "/inbound/api/info").json()
        assert info["siteName"] == config["Inbound"]["SiteName"]
        assert entrypoint.healthcheck() == 0
        assert site.request("GET", "/inbound/admin/uploads").status_code == 401
        assert site.request("GET", "/inbound/admin/uploads", auth=ADMIN).status_code == 200
        assert orthanc.stop() == 0, orthanc.log_tail()
        assert entrypoint.healthcheck() != 0, "healthy without Orthanc"
    finally:
        entrypoint.cleanup()


def test_the_image_starts_the_dmz_as_the_compose_file_says(installed):
    document, _ = compose("dmz")
    folder = temporary_directory("inbound-dmz-mail-")
    sink = SmtpSink(folder).start()
    gateway = Entrypoint(installed, service_environment(document, "gateway"), "gateway",
                         machine={"INBOUND_PULLER_NETWORKS": "127.0.0.1"})
    pacs_port = harness.free_port()
    internal = None
    # The compose file's sealing-keys service: the private key for the internal Orthanc's
    # volume, the public key where the gateway reads it.
    private_key = os.path.join(folder, "internal-data", "inbound", "sealing-key.pem")
    keys = Entrypoint(installed, service_environment(document, "sealing-keys"), "sealing-keys",
                      machine={"INBOUND_SEALING_PUBLIC_KEY_FILE": os.path.join(
                          gateway.config, "sealing", "inbound-sealing.pub")})
    try:
        made = keys.run("sealing-keys", INBOUND_SEALING_PRIVATE_KEY=private_key)
        assert made.returncode == 0, made.stdout.decode()
        assert stat.S_IMODE(os.stat(private_key).st_mode) == 0o600
        config = gateway.render()
        assert_rendered_from_the_sample(config, "Gateway.json", gateway)
        assert config["Inbound"]["Sealing"]["PublicKeys"] == [
            os.path.join(gateway.config, "sealing", "inbound-sealing.pub")]
        gateway_orthanc = gateway.orthanc()
        gateway.nginx()
        # The internal Orthanc pulls from the gateway's nginx over HTTPS and trusts the
        # certificate the gateway's start-up made, as through the compose file's shared volume.
        internal = Entrypoint(
            installed, service_environment(document, "internal"), "internal",
            machine={"INBOUND_GATEWAY_URL": "https://localhost:%d/" % gateway.https_port,
                     "INBOUND_GATEWAY_CA": gateway.certificate,
                     "INBOUND_SMTP_HOST": "127.0.0.1", "INBOUND_SMTP_PORT": str(sink.port),
                     "INBOUND_PACS": "PACS@127.0.0.1:%d" % pacs_port,
                     "INBOUND_SEALING_PRIVATE_KEY": private_key},
            # The test machine is not the hospital's network: its Orthanc answers loopback only.
            settings=["RemoteAccessAllowed=false"])
        config = internal.render()
        assert_rendered_from_the_sample(config, "Internal.json", internal)
        assert config["HttpsCACertificates"] == gateway.certificate
        assert config["DicomModalities"]["pacs"] == ["PACS", "127.0.0.1", pacs_port]
        assert config["OrthancPeers"]["dmz"]["Password"] == SECRETS["INBOUND_PULLER_PASSWORD"]
        inside = internal.orthanc()
        assert gateway.healthcheck() == 0 and internal.healthcheck() == 0

        originals = [data.Original(path) for path in data.cd_images()[:2]]
        upload = Upload.open(gateway.https())
        for o in originals:
            assert upload.put(o.data).status_code == 201
        upload.complete_ok()
        assert wait_for_upload(inside, upload.id, "complete")["files"] == 2
        wait_for_upload(gateway_orthanc, upload.id, "delivered")
        found = inside.admin_json("POST", "/tools/find", json={
            "Level": "Instance", "Query": {"PatientID": "INB-%s-*" % upload.id}})
        digests = {inside.admin("GET", "/instances/%s/metadata/InboundSha256" % i).text
                   for i in found}
        assert digests == {o.sha256 for o in originals}
        (mail,) = sink.wait_for(1, what="recipient's mail")
        assert mail.rcpt_tos == ["neuro@hospital.example"], mail.rcpt_tos
        # The pulled upload had been staged sealed for the internal Orthanc's key.
        sealed = inside.admin_json("GET", "/inbound/admin/sealing")
        assert sealed["opened"] >= 3 and sealed["refused"] == 0, sealed
    finally:
        keys.cleanup()
        for e in (internal, gateway):
            if e is not None:
                e.cleanup()
        sink.stop()
        remove(folder)


def test_the_entrypoint_runs_nginx_and_orthanc_and_stops_them_together(installed):
    document, _ = compose("standalone")
    entrypoint = Entrypoint(installed, service_environment(document, "inbound"), "supervision")
    site = entrypoint.https()
    try:
        for ending in ("docker stop", "nginx dies"):
            container = entrypoint.start(Process(
                "entrypoint", [ENTRYPOINT], os.path.join(entrypoint.folder, "container.log"),
                env=entrypoint.environment, port=entrypoint.https_port))
            wait_until(lambda: site.request("GET", "/inbound/api/info").status_code == 200, 30,
                       "the container", container)
            assert entrypoint.healthcheck() == 0
            with open(os.path.join(entrypoint.run_dir, "orthanc.pid")) as f:
                orthanc = int(f.read())
            with open(os.path.join(entrypoint.run_dir, "nginx.pid")) as f:
                nginx = int(f.read())
            if os.geteuid() == 0:   # Orthanc runs as Debian's "orthanc" user, not as root
                with open("/proc/%d/status" % orthanc) as f:
                    uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
                assert int(uid) == pwd.getpwnam("orthanc").pw_uid
            if ending == "docker stop":
                assert container.stop(30) == 0, container.log_tail()
            else:
                os.kill(nginx, signal.SIGTERM)
                assert container.wait(30) == 1, container.log_tail()
                container.stop()
            assert not alive(orthanc) and not alive(nginx), ending
    finally:
        entrypoint.cleanup()
