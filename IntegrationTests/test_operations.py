"""doc/Operations.md, checked against real servers: every Prometheus metric the plugin
publishes is documented (and nothing documented is missing), the backup procedure it gives
restores a gateway whose uploads then reach the inside, and a ledger of a newer version stops
Orthanc with the line the document names."""

import os
import re
import shutil
import sqlite3
import subprocess

import pytest

import checks
import data
import harness
from harness import sha256
from test_pull import make_gateway, make_internal, send, wait_for_upload

HERE = os.path.dirname(os.path.abspath(__file__))
OPERATIONS = os.path.join(HERE, "..", "doc", "Operations.md")
ROLES = ("Standalone", "Gateway", "Internal")


def section(title):
    """The text of one "## title" section of doc/Operations.md."""
    with open(OPERATIONS, encoding="utf-8") as f:
        text = f.read()
    return text.split("\n## %s\n" % title, 1)[1].split("\n## ", 1)[0]


def documented_metrics():
    """{metric: set of roles} from the metrics table of doc/Operations.md, and the set of those
    published with labels (one series per configured partner or source: maybe none)."""
    table = section("Metrics")
    metrics = {}
    labelled = set()
    for line in table.splitlines():
        m = re.match(r"\| `(inbound_[a-z_<>]+)(\{[^`]*\})?` \| ([^|]+) \|", line)
        if m:
            roles = m.group(3).strip()
            metrics[m.group(1)] = set(ROLES) if roles == "all" else \
                {r.strip() for r in roles.split(",")}
            if m.group(2):
                labelled.add(m.group(1))
    assert len(metrics) > 20, "the metrics table of doc/Operations.md was not found"
    return metrics, labelled


def published_metrics(server, gateway_names=()):
    text = server.admin("GET", "/tools/metrics-prometheus").text
    names = set()
    for line in text.splitlines():
        if line.startswith("inbound_"):
            name = line.split()[0].split("{")[0]  # labels: the table names the metric
            for gateway in gateway_names:
                name = name.replace("inbound_gateway_%s_" % gateway, "inbound_gateway_<name>_")
            names.add(name)
    return names


def test_every_metric_is_documented_with_its_roles(plugin):
    documented, labelled = documented_metrics()
    standalone = harness.OrthancServer(plugin).start()
    gateway = make_gateway(plugin)
    internal = make_internal(plugin, {"dmz": gateway}).start()
    try:
        for role, server, gateways in (("Standalone", standalone, ()), ("Gateway", gateway, ()),
                                       ("Internal", internal, ("dmz",))):
            published = published_metrics(server, gateways)
            expected = {name for name, roles in documented.items() if role in roles}
            # No partner is configured here: their series are absent, no omission. (The
            # reconciliation sources' are there: "local" is asked by default.)
            published |= {n for n in expected & labelled if n.startswith("inbound_partner_")}
            assert published == expected, "%s: published but not documented %s, documented " \
                "but not published %s" % (role, sorted(published - expected),
                                          sorted(expected - published))
    finally:
        for s in (internal, gateway, standalone):
            s.stop()
            s.cleanup()


def documented_backup_commands():
    """The two commands of the backup section of doc/Operations.md, with its paths."""
    block = section("Backups").split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands[0].startswith("sqlite3 ") and commands[1].startswith("rsync ")
    return commands


def run_backup(data_directory, backup):
    """The documented commands, pointed at this test's folders instead of /var/lib, /backup."""
    os.makedirs(backup)
    for command in documented_backup_commands():
        command = command.replace("/var/lib/orthanc/inbound", data_directory) \
                         .replace("/backup", backup)
        subprocess.run(["bash", "-c", command], check=True, timeout=60)


def restore(backup, server):
    """A fresh server (not started yet) given the backed-up data directory."""
    target = os.path.join(server.storage, "inbound")
    os.makedirs(target)
    shutil.copy(os.path.join(backup, "ledger.sqlite"), target)
    shutil.copytree(os.path.join(backup, "staging"), os.path.join(target, "staging"))


def test_a_gateway_restored_from_the_backup_delivers_once(plugin, tmp_path):
    files = data.cd_images()[:3]
    gateway = make_gateway(plugin)
    restored = again = internal = None
    try:
        # Taken while the gateway runs, with a complete upload waiting for the pull.
        upload = send(gateway, files)
        run_backup(os.path.join(gateway.storage, "inbound"), str(tmp_path / "backup"))
        gateway.kill()  # the DMZ host is lost

        restored = harness.OrthancServer(plugin, inbound=gateway.inbound)
        restore(str(tmp_path / "backup"), restored)
        restored.start()
        assert restored.admin_upload(upload.id)["state"] == "complete"
        internal = make_internal(plugin, {"dmz": restored}).start()
        inside = wait_for_upload(internal, upload.id, "complete")
        assert inside["files"] == len(files)
        wait_for_upload(restored, upload.id, "delivered")
        originals = {}
        for path in files:
            with open(path, "rb") as f:
                originals[sha256(f.read())] = path
        stored = internal.instances_of_upload(upload.id)
        assert len(stored) == len(files)
        for instance in stored.values():
            digest = internal.metadata("instances", instance["ID"], "InboundSha256")
            checks.assert_same_dicom_but_patient(data.Original(originals[digest]),
                                                 internal.instance_file(instance["ID"]),
                                                 upload.id)

        # The same backup restored once more, after the upload went inside: offered again,
        # only acknowledged, nothing stored twice.
        restored.stop()
        again = harness.OrthancServer(plugin, inbound=gateway.inbound)
        restore(str(tmp_path / "backup"), again)
        again.start()
        internal.stop()
        internal.orthanc_overrides["OrthancPeers"]["dmz"]["Url"] = again.url + "/"
        internal.start()
        wait_for_upload(again, upload.id, "delivered")
        assert internal.count_instances() == len(files)
        assert len(internal.admin_uploads()) == 1
    finally:
        for s in (internal, again, restored, gateway):
            if s is not None:
                s.stop()
                s.cleanup()


def test_a_ledger_of_a_newer_version_stops_orthanc_and_stays_as_it_was(plugin):
    server = harness.OrthancServer(plugin).start()
    try:
        upload = harness.Upload.open(server)
        server.stop()
        ledger = os.path.join(server.storage, "inbound", "ledger.sqlite")
        with sqlite3.connect(ledger) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
            db.execute("PRAGMA user_version = 999")
        with pytest.raises(harness.ServerError):
            server.start()
        with open(server.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        assert "Orthanc Inbound cannot start" in log
        assert "was written by a newer version of Orthanc Inbound" in log
        with sqlite3.connect(ledger) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 999
            assert db.execute("SELECT COUNT(*) FROM uploads WHERE id = ?",
                              (upload.id,)).fetchone()[0] == 1
    finally:
        server.stop()
        server.cleanup()
