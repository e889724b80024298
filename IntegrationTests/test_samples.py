"""The Standalone sample configuration (Resources/Configurations/Standalone.json), started as
shipped behind the shipped nginx site: a sender's files arrive isolated and byte for byte, the
admin gets in with the password; and the three samples name only options the plugin knows,
the Standalone one every option of its role."""

import os

import pytest

import checks
import data
import harness
import samples
from harness import ADMIN, Upload
from proxy import NginxProxy

# Options that belong to the other roles, left out of the Standalone sample.
NOT_STANDALONE = {"Pullers", "Gateways", "RetentionAlert", "GatewayAlert", "Sealing"}


def option_names(section, prefix=""):
    """Dotted names of every option of an "Inbound" section (objects opened, lists not)."""
    names = set()
    for key, value in section.items():
        name = prefix + key
        names.add(name)
        if isinstance(value, dict):
            names |= option_names(value, name + ".")
    return names


def defaults():
    return samples.configtool.load(
        os.path.join(samples.REPO, "Resources", "DefaultConfiguration.json"))


@pytest.mark.parametrize("name", ["Standalone.json", "Gateway.json", "Internal.json"])
def test_a_sample_names_only_known_options(name):
    sample = samples.load(name)
    unknown = option_names(sample["Inbound"]) - option_names(defaults())
    assert not unknown, "%s: options the plugin does not know: %s" % (name, sorted(unknown))
    # The metadata the plugin writes are declared to Orthanc under the names it uses.
    names = dict(defaults()["Metadata"], **sample["Inbound"].get("Metadata", {}))
    assert set(names.values()) <= set(sample["UserMetadata"]), name


def test_the_standalone_sample_shows_every_option_of_its_role():
    sample = samples.load("Standalone.json")
    expected = {n for n in option_names(defaults()) if n.split(".")[0] not in NOT_STANDALONE}
    missing = expected - option_names(sample["Inbound"])
    assert not missing, "Standalone.json lacks %s" % sorted(missing)
    assert sample["Inbound"]["Role"] == "Standalone"
    for key in ("RemoteAccessAllowed", "SslEnabled", "AuthenticationEnabled", "WebDavEnabled",
                "HttpDescribeErrors"):
        assert sample[key] is False, key


@pytest.fixture(scope="module")
def standalone(plugin):
    yield from samples.running(plugin, "Standalone.json")


@pytest.fixture(scope="module")
def standalone_proxy(standalone):
    p = NginxProxy(standalone.port, admin_nets="127.0.0.1").start()
    yield p
    p.cleanup()


def test_the_standalone_sample_stores_what_was_sent_through_https(standalone,
                                                                  standalone_proxy):
    s, p = standalone, standalone_proxy
    assert "unknown configuration option" not in s.log_tail(1000)
    info = p.request("GET", "/inbound/api/info").json()
    sample = samples.load("Standalone.json")["Inbound"]
    assert info["siteName"] == sample["SiteName"], info

    # Two patients of the CD, sent through nginx as a browser would.
    originals = [data.Original(path) for path in
                 data.cd_images(("77654033",))[:2] + data.cd_images(("98892003",))[:2]]
    assert len({o.patient_id for o in originals}) == 2
    upload = Upload.open(p)
    for o in originals:
        checks.assert_put_answer(upload.put_ok(o.data), o, upload.id)
    receipt = upload.complete_ok()
    assert receipt["files"] == len(originals), receipt

    stored = s.instances_of_upload(upload.id, prefix=sample["PatientIdPrefix"])
    assert sorted(stored) == sorted(o.sop_instance_uid for o in originals)
    for o in originals:
        instance = stored[o.sop_instance_uid]
        checks.assert_same_dicom_but_patient(o, s.instance_file(instance["ID"]), upload.id)
        checks.assert_instance_metadata(s, instance["ID"], o, upload.id)
    assert len(s.patients_of_upload(upload.id)) == 2  # one namespaced patient per original

    # The admin routes, through nginx from the admin network: the password opens them.
    path = "/inbound/admin/uploads/%s" % upload.id
    assert p.request("GET", path).status_code == 401
    r = p.request("GET", path, auth=ADMIN)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["state"] == "complete" and r.json()["files"] == len(originals)
    assert r.json()["receiptCode"] == receipt["receiptCode"]


def test_the_gateway_sample_seals_and_refuses_to_start_without_the_internals_key(plugin):
    sample = samples.load("Gateway.json")["Inbound"]
    assert sample["Sealing"]["PublicKeys"] == ["/etc/orthanc/inbound-sealing.pub"]
    assert not os.path.exists("/etc/orthanc/inbound-sealing.pub")  # as on a new gateway
    server = samples.SampleServer(plugin, "Gateway.json", settings={
        "Inbound.Sealing.PublicKeys": sample["Sealing"]["PublicKeys"]})
    try:
        with pytest.raises(harness.ServerError):
            server.start()
        log = harness.read(server.log_path).decode()
        assert 'Configuration option "Inbound.Sealing.PublicKeys[0]": is not a readable PEM ' \
            'file of at most 64 KiB: /etc/orthanc/inbound-sealing.pub' in log, log[-2000:]
        # Once the admin has copied the Internal's public key there, it starts and seals.
        key = os.path.join(server.workdir, "inbound-sealing.pub")
        with open(key, "w") as f:
            f.write(harness.SealingKeys.public_key())
        server.settings["Inbound.Sealing.PublicKeys"] = [key]
        server.start()
        sealing = server.admin_json("GET", "/inbound/admin/sealing")
        assert sealing["sealing"] and len(sealing["keys"]) == 1, sealing
    finally:
        server.cleanup()
