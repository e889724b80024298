"""Orthanc started from a shipped sample configuration (Resources/Configurations/*.json), so
that the samples admins copy cannot rot: only what a test machine needs is replaced (ports,
folders, the plugin's path, the admin's and the puller's passwords, the free-space levels of the data monitor,
which depend on this machine's disk), everything else stays as shipped."""

import os
import sys

from harness import ADMIN, OrthancServer, SealingKeys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SAMPLES = os.path.join(REPO, "Resources", "Configurations")
sys.path.insert(0, os.path.join(REPO, "Resources", "Scripts"))
import configtool  # noqa: E402


# The puller's secret on the test machine, in place of the samples' placeholder.
PULLER_PASSWORD = "a-long-random-secret-for-tests"


def path(name):
    """The shipped sample "Standalone.json", "Gateway.json" or "Internal.json"."""
    return os.path.join(SAMPLES, name)


def load(name):
    return configtool.load(path(name))


class SampleServer(OrthancServer):
    """Orthanc started from a sample. "settings" are further replacements, by dotted key as
    configtool takes them ({"OrthancPeers.dmz.Url": ...}), each a deliberate deviation of the
    test machine from the hospital's (say why where you use one)."""

    def __init__(self, plugin, sample, settings=None, free_space_levels=False):
        super().__init__(plugin)
        self.sample = sample if os.path.isabs(sample) else path(sample)
        self.settings = settings or {}
        self.free_space_levels = free_space_levels
        self.data_directory = os.path.join(self.workdir, "inbound")

    def configuration(self):
        config = configtool.load(self.sample)
        config.update({"StorageDirectory": self.storage, "IndexDirectory": self.storage,
                       "HttpPort": self.port, "DicomPort": self.dicom_port,
                       "Plugins": [self.plugin], "RegisteredUsers": {ADMIN[0]: ADMIN[1]}})
        config["Inbound"]["DataDirectory"] = self.data_directory
        # The samples ship placeholders that the plugin refuses: a machine sets its secrets.
        for puller in config["Inbound"].get("Pullers", []):
            puller["Password"] = PULLER_PASSWORD
        for peer in config.get("OrthancPeers", {}).values():
            if isinstance(peer, dict) and "Password" in peer:
                peer["Password"] = PULLER_PASSWORD
        # The Gateway sample names the file of the Internal's public key; the machine gives
        # both sides the test session's key pair (harness.SealingKeys).
        if config["Inbound"].get("Role") in ("Gateway", "Internal"):
            config["Inbound"].setdefault("Sealing", {}).pop(
                "PublicKeys" if config["Inbound"]["Role"] == "Gateway" else "PrivateKey", None)
            SealingKeys.apply(config["Inbound"])
        if not self.free_space_levels:
            monitor = config["Inbound"].setdefault("DataMonitor", {})
            monitor.update({"WarnFreeBytes": 0, "StopFreeBytes": 0})
        for key, value in self.settings.items():
            configtool.set_path(config, key, value)
        return config


def running(plugin, sample):
    """A module fixture's body: the sample started, its log shown under a failed test, and
    stopped cleanly at the end (use with "yield from")."""
    import conftest
    from gateway_support import finish
    server = SampleServer(plugin, sample)
    conftest.LIVE_SERVERS.append(server)
    try:
        server.start()
        yield server
    finally:
        finish(server)
