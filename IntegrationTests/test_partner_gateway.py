"""The hospital's real topology for a partner clinic: the clinic's Orthanc (Partner.json +
Partner.lua) sends over HTTPS to the shipped nginx site (partner location opened for the
clinic's network by render-nginx-site.sh), which streams to a sealing Gateway; the Internal
pulls through nginx too, and receives every study by itself: isolated, with the hashes of the
bytes sent, one upload and one mail per study, while the gateway keeps nothing readable."""

import os
import re

import pytest

import conftest
import data
import harness
import partner_support
from mail_support import SmtpSink
from partner_support import (PartnerSender, assert_arrived, assert_one_mail_per_upload,
                             assert_partner_figures, assert_sent, uploads_of, wait_uploads)
from proxy import NginxProxy
from test_sealing_gateway import readable

PULLER = ("inside", "a-long-random-secret-for-tests")
CLINIC_NETWORK = "127.0.0.1"


@pytest.fixture
def start_topology(plugin, tmp_path):
    """start_topology(**sender options) -> (gateway, proxy, internal, sink, sender)."""
    made = []

    def start(**options):
        sink = SmtpSink(str(tmp_path / "sink")).start()
        gateway = partner_support.hospital(plugin, role="Gateway", inbound={
            "TrustedProxies": ["127.0.0.1"],
            "Pullers": [{"Username": PULLER[0], "Password": PULLER[1],
                         "Networks": ["127.0.0.1"]}]})
        assert gateway.inbound["Partners"][0]["Networks"] == [CLINIC_NETWORK + "/32"]
        made.append(sink)
        conftest.LIVE_SERVERS.append(gateway)
        made.append(gateway)
        gateway.start()
        proxy = NginxProxy(gateway.port, admin_nets="127.0.0.1", peer_nets="127.0.0.1",
                           partner_nets=CLINIC_NETWORK).start()
        made.append(proxy)
        # The Internal pulls through nginx's peer location, checking its certificate.
        internal = partner_support.hospital(
            plugin, sink, role="Internal", inbound={"Gateways": ["dmz"]},
            orthanc={"OrthancPeers": {"dmz": {"Url": proxy.url + "/", "Username": PULLER[0],
                                              "Password": PULLER[1]}},
                     "HttpsVerifyPeers": True, "HttpsCACertificates": proxy.cert})
        sender = PartnerSender(proxy.url + "/inbound/dicom-web/", stable_age=2,
                               ca_file=proxy.cert, **options)
        for server in (internal, sender):
            conftest.LIVE_SERVERS.append(server)
            made.append(server)
            server.start()
        return gateway, proxy, internal, sink, sender

    yield start
    errors = []
    for thing in reversed(made):
        if isinstance(thing, harness.OrthancServer):
            try:
                conftest._cleanup(thing, check=True)
            except AssertionError as e:
                errors.append(str(e))
        elif isinstance(thing, NginxProxy):
            thing.cleanup()
        else:
            thing.stop()
    assert not errors, "\n".join(errors)


def needles(originals):
    """What the gateway must not hold readable once the uploads are pulled, as
    test_sealing_gateway.readable takes it: (label, bytes, case-blind)."""
    found = [("DICM", b"DICM", False)]
    for o in originals:
        found.append(("PatientID", o.patient_id.encode(), False))
        name = str(o.ds.PatientName)
        # Parts of 5 letters and more: shorter ones occur by chance in keys and tokens.
        for part in [name] + name.split("^"):
            if len(part) >= 5:
                found.append(("PatientName", part.encode(), True))
        description = str(o.ds.get("StudyDescription", ""))
        if len(description) >= 6:
            found.append(("StudyDescription", description.encode(), True))
    largest = max(originals, key=lambda o: len(o.ds.PixelData))
    pixels = bytes(largest.ds.PixelData)
    middle = pixels[len(pixels) // 2:len(pixels) // 2 + 24]
    assert len(set(middle)) > 4, "a distinctive piece of pixel data"
    found.append(("pixel data", middle, False))
    return sorted(set(found))


def wait_delivered(gateway, uploads, timeout=60):
    ids = sorted(u["id"] for u in uploads)
    found = wait_uploads(gateway, len(ids), state="delivered", timeout=timeout)
    assert sorted(u["id"] for u in found) == ids
    return found


def assert_through_nginx(proxy, count):
    """nginx passed "count" STOW-RS requests, each answered 200 by the gateway."""
    with open(os.path.join(proxy.workdir, "access.log")) as f:
        lines = [l for l in f if "/inbound/dicom-web/" in l]
    assert len(lines) == count, lines
    assert all(re.search(r'"POST /inbound/dicom-web/studies HTTP/1\.1" 200 ', l)
               for l in lines), lines


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_the_patient_cd_reaches_the_internal_through_nginx_and_the_gateway(start_topology,
                                                                           chunked):
    gateway, proxy, internal, sink, sender = start_topology(chunked=chunked)
    originals = [data.Original(p) for p in data.cd_images()]
    studies = data.studies_of(originals)
    if chunked:
        for o in originals:   # put in by REST, as the clinic's staff would
            sender.store(o.data)
    else:
        sender.c_store(data.cd_images())   # sent by the clinic's modality

    inside = wait_uploads(internal, len(studies), timeout=90)
    sent = sender.files()
    assert len(sent) == len(originals)
    if chunked:
        assert sorted(sent) == sorted(o.sha256 for o in originals)
    assert_arrived(internal, inside, sent)
    assert all(u["gateway"] == "dmz" for u in inside), inside
    # The Internal's admin sees the partner's uploads as received through the gateway.
    [pulled] = internal.admin_json("GET", "/inbound/admin/partners")["pulled"]
    assert (pulled["partner"], pulled["gateway"]) == (partner_support.PARTNER["Id"], "dmz")
    assert pulled["last7Days"] == {"uploads": len(studies), "instances": len(sent),
                                   "bytes": sum(o.size for o in sent.values())}, pulled
    assert_one_mail_per_upload(sink, internal, inside)
    assert len(uploads_of(internal)) == len(studies)
    assert_sent(sender, len(studies))
    assert_through_nginx(proxy, len(studies))

    # The gateway: each upload delivered and its data removed, nothing stored in Orthanc,
    # nothing readable left on the gateway's host (Orthanc's folders and nginx's).
    delivered = wait_delivered(gateway, inside)
    assert all(u["dataRemoved"] is True for u in delivered), delivered
    assert len(uploads_of(gateway)) == len(studies)
    assert_partner_figures(gateway, delivered, sent, requests_=len(studies))
    assert gateway.count_instances() == 0
    for u in delivered:
        staging = os.path.join(gateway.storage, "inbound", "staging", u["id"])
        assert not os.path.exists(staging) or os.listdir(staging) == [], u["id"]
    assert gateway.admin_json("GET", "/inbound/admin/sealing")["sealing"] is True
    secrets = needles(list(sent.values()))
    assert readable(sender.workdir, secrets), "the needles are found where they are"
    assert readable(gateway.workdir, secrets) == []
    assert readable(proxy.workdir, secrets) == []


def test_the_clinic_sends_nothing_to_a_certificate_it_does_not_trust(plugin):
    """The sample as shipped checks the hospital's certificate against the system's
    authorities: nginx's self-signed one is refused before the token leaves the clinic."""
    gateway = partner_support.hospital(plugin, role="Gateway",
                                       inbound={"TrustedProxies": ["127.0.0.1"]})
    proxy = sender = None
    try:
        conftest.LIVE_SERVERS.append(gateway)
        gateway.start()
        proxy = NginxProxy(gateway.port, partner_nets=CLINIC_NETWORK).start()
        sender = PartnerSender(proxy.url + "/inbound/dicom-web/", retry_base=30, retry_max=30)
        conftest.LIVE_SERVERS.append(sender)
        sender.start()
        sender.store(data.make_dicom("CLINIC-TLS"))
        [study] = sender.admin_json("GET", "/studies")
        assert sender.wait_state(study, "retry 2 ")
        assert [j["State"] for j in sender.stow_jobs()] == ["Failure"]
        assert "SSL peer certificate or SSH remote key was not OK" in harness.read(
            sender.log_path).decode(errors="replace")
        with open(os.path.join(proxy.workdir, "access.log")) as f:
            assert "/inbound/dicom-web/" not in f.read()   # no request, no token sent
        assert uploads_of(gateway) == []
    finally:
        if proxy is not None:
            proxy.cleanup()
        try:
            if sender is not None:
                conftest._cleanup(sender, check=True)
        finally:
            conftest._cleanup(gateway, check=True)
