"""Notifications, checked where a user sees them.
Over 500 lines: the tests of one feature, notifications, each channel and its failures.

The mails in a real SMTP server's folder (Resources/Scripts/smtp-sink.py, Debian's
python3-aiosmtpd), parsed with Python's email package; the webhook calls at a real HTTPS receiver;
the admin route, the audit trail and the Prometheus metrics. Every delivery channel is also made to
fail for a while: what was due arrives exactly once when it comes back."""

import email.utils
import io
import json
import re
import time

import pydicom
import pytest

import checks
import data
import gateway_support
import harness
import mail_support
from harness import Upload, assert_error
from mail_support import SmtpSink, WebhookReceiver, notifications, wait_for_notifications

FROM_ADDRESS = "inbound@hospital.example"
FROM = "Orthanc Inbound <%s>" % FROM_ADDRESS
NEURO = "neuro@hospital.example"
ADMIN_MAIL = "pacs-admin@hospital.example"
SITE = "Test Hospital"
ORTHANC_URL = "https://orthanc.hospital.example"
EXPLORER_LINK = re.compile(re.escape(ORTHANC_URL) +
                           r"/app/explorer\.html#study\?uuid=([0-9a-f]{8}(?:-[0-9a-f]{8}){4})")
SENDER = harness.sender()
SECRET = "a-webhook-secret-of-some-length"
PULLER = ("inside", "a-long-random-secret-for-tests")


# ---------------------------------------------------------------------------- configuration


def smtp(sink_or_port, **overrides):
    port = sink_or_port if isinstance(sink_or_port, int) else sink_or_port.port
    section = {"Host": "127.0.0.1", "Port": port, "Security": "None", "From": FROM, "Timeout": 10}
    section.update(overrides)
    return section


def notify(**overrides):
    section = {"OrthancUrl": ORTHANC_URL, "RetryInterval": 1, "MaxRetryInterval": 2}
    section.update(overrides)
    return section


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def sinks(tmp_path):
    """Makes SMTP sinks (not started), each with a folder of its own; stops them by pid."""
    made = []

    def make(**kwargs):
        sink = SmtpSink(str(tmp_path / ("sink%d" % len(made))), **kwargs)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.stop()


@pytest.fixture
def certificate(tmp_path):
    return mail_support.make_certificate(str(tmp_path))


@pytest.fixture
def receivers():
    made = []

    def make(certificate, **kwargs):
        receiver = WebhookReceiver(certificate, **kwargs)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


def phi_file():
    """A file with what the CD lacks: a birth date (and a study date and description of its
    own), so that every kind of patient data is looked for in the mails."""
    payload = data.make_dicom(patient_id="PHI-4711-0815")
    ds = pydicom.dcmread(io.BytesIO(payload))
    ds.PatientName = "Mustermann^Erika"
    ds.PatientBirthDate = "19640812"
    ds.StudyDate = "20190317"
    ds.StudyDescription = "Knee left MRI"
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return data.Original(data=out.getvalue())


@pytest.fixture(scope="module")
def cd():
    """The patient CD of pydicom (31 images, 2 patients, 6 studies) and the file above."""
    originals = [data.Original(p) for p in data.cd_images()]
    assert len(originals) == 31 and len(data.studies_of(originals)) == 6
    return originals + [phi_file()]


def send(server, originals, **overrides):
    """Opens an upload, sends every file, completes it: (upload, receipt)."""
    upload = Upload.open(server, **overrides)
    for original in originals:
        upload.put_ok(original.data)
    return upload, upload.complete_ok()


def small_files():
    return [data.Original(data.CT_SMALL), data.Original(data.MR_SMALL)]


# ---------------------------------------------------------------------------- checks


def date_forms(value):
    """A DICOM date as a mail could show it."""
    if not re.match(r"^\d{8}$", value):
        return [value] if value else []
    y, m, d = value[:4], value[4:6], value[6:]
    return [value, "%s-%s-%s" % (y, m, d), "%s.%s.%s" % (d, m, y), "%s/%s/%s" % (m, d, y),
            "%s/%s/%s" % (d, m, y)]


def patient_data(originals):
    """{what: [forms]} of every piece of patient data the files hold, as pydicom reads it."""
    found = {}
    for o in originals:
        ds = o.ds
        name = str(ds.get("PatientName", "") or "")
        if name:
            parts = [p for p in re.split(r"[\^=]", name) if p]
            forms = [name, " ".join(parts), " ".join(reversed(parts)), ", ".join(parts)] + parts
            found.setdefault("PatientName " + name, set()).update(forms)
        for keyword in ("PatientID", "StudyDescription"):
            value = str(ds.get(keyword, "") or "").strip()
            if value:
                found.setdefault("%s %s" % (keyword, value), set()).add(value)
        for keyword in ("PatientBirthDate", "StudyDate"):
            value = str(ds.get(keyword, "") or "").strip()
            if value:
                found.setdefault("%s %s" % (keyword, value), set()).update(date_forms(value))
    return found


def occurrences(text, forms):
    """The forms found in the text, as whole words, whatever the case."""
    return [f for f in forms
            if re.search(r"(?<![0-9A-Za-z])" + re.escape(f) + r"(?![0-9A-Za-z])", text, re.I)]


def assert_no_patient_data(mail, originals):
    seen = mail.everything()
    raw = mail.raw.decode("ascii", "replace")
    leaks = {}
    for what, forms in patient_data(originals).items():
        hits = occurrences(seen, forms)
        # In the raw bytes (base64 included) only forms long enough not to occur by chance.
        hits += [f for f in forms if len(f) >= 6 and f in raw]
        if hits:
            leaks[what] = sorted(set(hits))
    assert not leaks, "patient data in the mail %r: %s" % (mail, leaks)


def assert_well_formed(mail):
    """RFC 5322 as a mail client and a relay see it."""
    raw = mail.raw
    raw.decode("ascii")  # 7-bit: every header encoded, every body part base64
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF in the message"
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998, "a line of %d octets" % len(line)
    message = mail.message
    assert not message.defects, message.defects
    for name in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version"):
        mail.header(name)  # exactly one
    date = email.utils.parsedate_to_datetime(mail.header("Date"))
    assert date.tzinfo is not None and abs(date.timestamp() - time.time()) < 600, date
    assert re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", mail.header("Message-ID")), mail.header("Message-ID")
    assert mail.header("MIME-Version") == "1.0"
    assert mail.header("Auto-Submitted") == "auto-generated"
    assert mail.addresses("From") == [FROM_ADDRESS], mail.headers("From")
    assert mail.mail_from == FROM_ADDRESS, mail.envelope
    assert mail.headers("Bcc") == [] and mail.headers("Cc") == [], mail.raw_head()
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"], parts
    for p in parts:
        assert p.get_content_charset() == "utf-8", p["Content-Type"]
        assert p["Content-Transfer-Encoding"].lower() == "base64", p["Content-Transfer-Encoding"]


def links(mail):
    """Orthanc study ids of the Explorer links, in the text part and in the html part."""
    in_text = EXPLORER_LINK.findall(mail.text)
    in_html = EXPLORER_LINK.findall(mail.html)
    return in_text, in_html


def recipient_mail(mails, upload_id):
    found = [m for m in mails if m.rcpt_tos == [NEURO] and
             m.headers("X-Inbound-Upload") == [upload_id]]
    assert len(found) == 1, "one recipient mail for %s expected: %s" % (upload_id, mails)
    return found[0]


def receipt_mail(mails, email_address):
    return [m for m in mails if m.rcpt_tos == [email_address]]


def by_kind(answer, kind):
    return [n for n in answer["notifications"] if n["kind"] == kind]


# ---------------------------------------------------------------------------- the recipient


def test_the_recipient_gets_one_mail_with_a_link_per_study_and_no_patient_data(
        start_server, sinks, cd):
    sink = sinks().start()
    server = start_server(inbound={"Smtp": smtp(sink), "Notifications": notify()})
    upload, receipt = send(server, cd)

    mail = sink.wait_for(1)[0]
    assert mail.rcpt_tos == [NEURO], mail.envelope
    assert mail.addresses("To") == [NEURO], mail.headers("To")
    assert mail.header("X-Inbound-Upload") == upload.id
    assert mail.addresses("Reply-To") == [SENDER["email"]]
    assert_well_formed(mail)
    assert mail.subject == "[%s] New images from %s (%s)" % (
        SITE, SENDER["name"], SENDER["institution"])

    message = harness.open_body()["message"]
    for shown in (mail.text, mail.html_as_text):
        for expected in (SENDER["name"], SENDER["institution"], SENDER["email"], SENDER["phone"],
                         message, receipt["receiptCode"]):
            assert expected in shown, "%r not in the mail:\n%s" % (expected, shown)
        assert re.search(r"(?<!\d)%d(?!\d)" % len(cd), shown), "the file count %d:\n%s" % (
            len(cd), shown)

    # One link per study, the same in both parts, each opening the isolated study.
    in_text, in_html = links(mail)
    expected_studies = data.studies_of(cd)
    assert len(set(in_text)) == len(in_text) == len(expected_studies), in_text
    assert set(in_html) == set(in_text), (in_html, in_text)
    uids = set()
    for study_id in in_text:
        study = server.admin_json("GET", "/studies/%s" % study_id)
        assert study["PatientMainDicomTags"]["PatientID"].startswith("INB-%s-" % upload.id), study
        uids.add(study["MainDicomTags"]["StudyInstanceUID"])
    assert uids == set(expected_studies)
    assert set(in_text) == {s["orthancId"] for s in server.admin_upload(upload.id)["studies"]}

    assert_no_patient_data(mail, cd)
    sink.assert_stays(1, 2.0)   # no second mail, and no receipt (SenderReceipt is off)

    answer = notifications(server)
    assert answer["counts"] == {"pending": 0, "delivered": 1, "failed": 0}, answer
    [n] = answer["notifications"]
    assert (n["channel"], n["kind"], n["event"], n["uploadId"], n["target"], n["state"]) == \
        ("mail", "recipient", "upload-complete", upload.id, NEURO, "delivered"), n
    assert n["subject"] == mail.subject and n["attempts"] == 1, n
    checks.assert_iso_time(n["deliveredAt"], "deliveredAt")
    checks.assert_iso_time(n["createdAt"], "createdAt")

    assert mail_support.metric(server, "inbound_notifications_delivered") == 1
    assert mail_support.metric(server, "inbound_notifications_pending") == 0
    assert mail_support.metric(server, "inbound_notifications_failed") == 0


def test_patient_data_is_in_the_mail_only_when_configured(start_server, sinks, cd):
    sink = sinks().start()
    server = start_server(inbound={"Smtp": smtp(sink),
                                   "Notifications": notify(IncludePatientData=True)})
    send(server, cd)
    mail = sink.wait_for(1)[0]
    assert mail.rcpt_tos == [NEURO]
    assert_well_formed(mail)
    shown = mail.text
    missing = {what: sorted(forms) for what, forms in patient_data(cd).items()
               if not occurrences(shown, forms)}
    assert not missing, "patient data missing from the mail: %s\n%s" % (missing, shown)


# ---------------------------------------------------------------------------- the sender


def test_sender_receipt_at_most_n_per_address_and_day(start_server, sinks):
    sink = sinks().start()
    server = start_server(inbound={"Smtp": smtp(sink), "Notifications": notify(
        SenderReceipt=True, ReceiptsPerAddressPerDay=1)})
    first, receipt = send(server, small_files()[:1])
    mails = sink.wait_for(2)
    recipient_mail(mails, first.id)
    [mail] = receipt_mail(mails, SENDER["email"])
    assert mail.addresses("To") == [SENDER["email"]]
    assert_well_formed(mail)
    code = receipt["receiptCode"]
    assert mail.subject == "[%s] Your images were received \u2013 receipt %s" % (SITE, code)
    assert code in mail.text and code in mail.html_as_text
    assert not EXPLORER_LINK.search(mail.everything()), "a link to the archive in a receipt"

    # The second upload from the same address on the same day: the recipient is told, the
    # sender gets no second receipt.
    second, _ = send(server, small_files()[1:])
    mails = sink.wait_for(3)
    recipient_mail(mails, second.id)
    mails = sink.assert_stays(3, 2.0)
    assert len(receipt_mail(mails, SENDER["email"])) == 1, mails


def test_the_receipt_speaks_the_language_of_the_senders_page(start_server, sinks):
    """The page sends its language with the upload; the receipt follows it, the recipient's
    mail stays in the site's language; without one (or with one the site has not) it is
    the site's; one the site does not offer is refused."""
    sink = sinks().start()
    server = start_server(inbound={"Smtp": smtp(sink), "Notifications": notify(
        SenderReceipt=True, Language="en")})
    german, receipt = send(server, small_files()[:1], language="de")
    assert server.admin_upload(german.id)["language"] == "de"
    mails = sink.wait_for(2)
    assert recipient_mail(mails, german.id).subject.startswith("[%s] New images from " % SITE)
    [mail] = receipt_mail(mails, SENDER["email"])
    assert mail.subject == "[%s] Ihre Bilder sind eingegangen \u2013 Best\u00e4tigungscode %s" % (
        SITE, receipt["receiptCode"])
    assert_well_formed(mail)

    other = harness.sender(email="b.example@practice.example")
    english, receipt = send(server, small_files()[1:], sender=other)
    mails = sink.wait_for(4)
    [mail] = receipt_mail(mails, other["email"])
    assert mail.subject == "[%s] Your images were received \u2013 receipt %s" % (
        SITE, receipt["receiptCode"])
    assert server.admin_upload(english.id)["language"] == ""

    # A language the site does not offer is refused before anything is created.
    before = len(server.admin_uploads())
    answer = server.request("POST", "/inbound/api/uploads",
                            json=harness.open_body(language="fr"))
    harness.assert_error(answer, 400, "invalid-field")
    assert "language" in answer.json()["message"]
    assert len(server.admin_uploads()) == before


# ---------------------------------------------------------------------------- gateway → inside


def test_the_mail_leaves_from_the_internal_orthanc_after_the_pull(start_server, sinks):
    outside_sink, inside_sink = sinks().start(), sinks().start()
    gateway = start_server(inbound={
        "Role": "Gateway", "Smtp": smtp(outside_sink), "Notifications": notify(SenderReceipt=True),
        "Pullers": [{"Username": PULLER[0], "Password": PULLER[1], "Networks": ["127.0.0.1"]}]})
    peers = {"dmz": {"Url": gateway.url + "/", "Username": PULLER[0], "Password": PULLER[1]}}
    internal = start_server(
        inbound={"Role": "Internal", "Gateways": ["dmz"], "Smtp": smtp(inside_sink),
                 "Notifications": notify(SenderReceipt=True)},
        orthanc={"OrthancPeers": peers})

    upload, receipt = send(gateway, small_files(), language="de")
    mails = inside_sink.wait_for(2, timeout=30)
    # The sender's receipt, from inside, in the language of the page at the gateway.
    [sent] = receipt_mail(mails, SENDER["email"])
    assert "Ihre Bilder sind eingegangen" in sent.subject, sent.subject
    assert internal.admin_upload(upload.id)["language"] == "de"
    mail = recipient_mail(mails, upload.id)
    assert mail.rcpt_tos == [NEURO] and mail.header("X-Inbound-Upload") == upload.id
    assert_well_formed(mail)
    assert receipt["receiptCode"] in mail.text
    inside = internal.admin_upload(upload.id)
    assert inside["state"] == "complete", inside
    in_text, _ = links(mail)
    assert sorted(in_text) == sorted(s["orthancId"] for s in inside["studies"]) and \
        len(in_text) == 2, (in_text, inside["studies"])
    for study_id in in_text:
        study = internal.admin_json("GET", "/studies/%s" % study_id)
        assert study["PatientMainDicomTags"]["PatientID"].startswith("INB-%s-" % upload.id)
        assert gateway.admin("GET", "/studies/%s" % study_id).status_code == 404

    inside_sink.assert_stays(2, 2.0)
    assert outside_sink.mails() == [], "the gateway mailed: %s" % outside_sink.mails()
    answer = notifications(gateway)
    assert [n for n in answer["notifications"] if n["channel"] == "mail"] == [], answer


# ---------------------------------------------------------------------------- relay down


def test_relay_down_across_a_restart_every_mail_arrives_once(start_server, sinks):
    sink = sinks()          # its port, with nothing listening yet
    server = start_server(inbound={"Smtp": smtp(sink), "Notifications": notify(SenderReceipt=True)})
    first, first_receipt = send(server, small_files()[:1])
    second, second_receipt = send(server, small_files()[1:], sender=harness.sender(
        email="b.example@practice.example"))

    answer = wait_for_notifications(
        server, lambda a: len(a["notifications"]) == 4 and
        all(n["attempts"] >= 1 and n["lastError"] for n in a["notifications"]),
        what="four notifications tried and failed")
    assert answer["counts"] == {"pending": 4, "delivered": 0, "failed": 0}, answer
    assert mail_support.metric(server, "inbound_notifications_pending") == 4

    server.stop_cleanly()
    server.start()          # the relay is still down
    time.sleep(1.5)
    assert notifications(server)["counts"]["pending"] == 4
    sink.start()

    mails = sink.wait_for(4, timeout=30)
    mails = sink.assert_stays(4, 2.0)
    recipient_mail(mails, first.id)
    recipient_mail(mails, second.id)
    [a] = receipt_mail(mails, SENDER["email"])
    [b] = receipt_mail(mails, "b.example@practice.example")
    assert first_receipt["receiptCode"] in a.subject and second_receipt["receiptCode"] in b.subject
    assert len({m.header("Message-ID") for m in mails}) == 4

    answer = wait_for_notifications(server, lambda a: a["counts"]["delivered"] == 4)
    assert answer["counts"] == {"pending": 0, "delivered": 4, "failed": 0}, answer
    for n in answer["notifications"]:
        assert n["state"] == "delivered" and n["attempts"] > 1, n
    assert mail_support.metric(server, "inbound_notifications_delivered") == 4
    assert mail_support.metric(server, "inbound_notifications_pending") == 0


def test_give_up_after_marks_failed_and_alerts_once_and_retry_delivers(start_server, sinks):
    sink = sinks()          # nothing listening
    server = start_server(inbound={"Smtp": smtp(sink), "Notifications": notify(
        GiveUpAfter=3, RetryInterval=1, MaxRetryInterval=1, AdminEmails=[ADMIN_MAIL])})
    upload, _ = send(server, small_files()[:1])

    # The recipient's mail is given up, then the admin's alert about it (which raises no
    # further alert).
    answer = wait_for_notifications(server, lambda a: a["counts"]["failed"] == 2, timeout=20,
                                    what="two failed notifications")
    assert answer["counts"]["pending"] == 0, answer
    [failed] = by_kind(answer, "recipient")
    assert failed["state"] == "failed" and failed["lastError"] and failed["attempts"] >= 2, failed
    assert failed["uploadId"] == upload.id
    [alert] = by_kind(answer, "alert")
    assert alert["target"] == ADMIN_MAIL and alert["state"] == "failed", alert
    events = gateway_support.wait_for_audit(
        server, lambda e: e.get("event") == "alert-notification-failed")
    time.sleep(1.0)
    events = [e for e in gateway_support.audit(server)
              if e.get("event") == "alert-notification-failed"]
    assert len(events) == 1, events
    assert mail_support.metric(server, "inbound_notifications_failed") == 2
    assert mail_support.metric(server, "inbound_notifications_pending") == 0

    # The relay is back; nothing goes out on its own, an admin's retry delivers.
    sink.start()
    time.sleep(1.5)
    assert sink.mails() == []
    r = server.admin("POST", "/inbound/admin/notifications/%s/retry" % failed["id"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "pending" and str(r.json()["id"]) == str(failed["id"]), r.json()
    mail = sink.wait_for(1)[0]
    assert mail.rcpt_tos == [NEURO] and mail.header("X-Inbound-Upload") == upload.id
    sink.assert_stays(1, 2.0)
    assert server.admin("POST", "/inbound/admin/notifications/999999/retry").status_code == 404


# ---------------------------------------------------------------------------- TLS and AUTH


def test_starttls_with_authentication(start_server, sinks, certificate):
    sink = sinks(certificate=certificate, auth=("inbound", "correct-horse-battery"),
                 require_starttls=True).start()
    settings = smtp(sink, Security="StartTls", Username="inbound", Password="wrong-password",
                    CACertificates=certificate[0])
    server = start_server(inbound={"Smtp": settings, "Notifications": notify()})
    upload, _ = send(server, small_files()[:1])

    answer = wait_for_notifications(
        server, lambda a: a["notifications"] and a["notifications"][0]["attempts"] >= 2,
        what="two failed attempts")
    [n] = answer["notifications"]
    assert n["state"] == "pending" and n["lastError"], n
    assert sink.mails() == []
    assert "refused" in sink.log(), sink.log()   # the relay saw the wrong password

    # The admin corrects the password and restarts Orthanc: the waiting mail goes out.
    server.stop_cleanly()
    server.inbound["Smtp"]["Password"] = "correct-horse-battery"
    server.start()
    mail = sink.wait_for(1)[0]
    assert mail.envelope["tls"] is True and mail.envelope["user"] == "inbound", mail.envelope
    assert mail.rcpt_tos == [NEURO] and mail.header("X-Inbound-Upload") == upload.id
    assert_well_formed(mail)
    sink.assert_stays(1, 2.0)
    answer = wait_for_notifications(server, lambda a: a["counts"]["delivered"] == 1)
    assert answer["notifications"][0]["state"] == "delivered"


def test_implicit_tls_checks_the_relay_certificate(start_server, sinks, certificate):
    sink = sinks(certificate=certificate, auth=("inbound", "correct-horse-battery"),
                 implicit_tls=True).start()
    settings = smtp(sink, Security="Tls", Username="inbound", Password="correct-horse-battery")
    # First without the relay's CA: the system's CAs do not know the self-signed certificate.
    server = start_server(inbound={"Smtp": settings, "Notifications": notify()})
    send(server, small_files()[:1])
    answer = wait_for_notifications(
        server, lambda a: a["notifications"] and a["notifications"][0]["lastError"],
        what="a failed attempt")
    assert answer["notifications"][0]["state"] == "pending"
    time.sleep(1.0)
    assert sink.mails() == []

    server.stop_cleanly()
    server.inbound["Smtp"]["CACertificates"] = certificate[0]
    server.start()
    mail = sink.wait_for(1)[0]
    assert mail.envelope["tls"] is True and mail.envelope["user"] == "inbound", mail.envelope
    assert mail.rcpt_tos == [NEURO]
    assert_well_formed(mail)
    sink.assert_stays(1, 1.0)


# ---------------------------------------------------------------------------- hostile text


def padded(text, length, filler):
    assert len(text) <= length
    return text + filler * (length - len(text))


def test_hostile_sender_text_stays_in_its_place(start_server, sinks):
    sink = sinks().start()
    server = start_server(inbound={"Smtp": smtp(sink), "Notifications": notify()})

    # Line breaks never get in: the open-upload API refuses them.
    for name in ("Dr. J\u00fcrgen \u015cmith \U0001F600\r\nBcc: victim@evil.example",
                 "Mallory\nBcc: victim@evil.example", "Mallory\rX-Evil: 1"):
        r = server.request("POST", "/inbound/api/uploads",
                           json=harness.open_body(sender=harness.sender(name=name)))
        assert_error(r, 400, "invalid-field")

    # What passes, at the longest the limits allow (characters, not bytes).
    name = padded('Dr. "J\u00fcrgen" \u015cmith \U0001F600 <root@evil.example>, '
                  '=?UTF-8?B?QmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?= Bcc: victim@evil.example; ',
                  128, "\u00e4")
    institution = padded("Klinik f\u00fcr \u00d6ffentliche Gesundheit & <b>Co</b> "
                         "=?ISO-8859-1?Q?=0D=0ABcc:_x@evil.example?= ", 128, "\u00df")
    message = padded("<script>alert('x')</script> Subject: injected\tno; "
                     "\u202eRTL\u202c \u4e2d\u6587 \U0001F4A9 .\r\n.\r\n", 2000, "\u00fc")
    assert "\r" in message   # ... and the message does not get in with them either
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(message=message))
    assert_error(r, 400, "invalid-field")
    message = message.replace("\t", " ").replace("\r\n", "  ")
    phone = padded("+49 (0)251 83-\u00e4 <b>", 40, "0")
    address = "very.long.local-part+tag@a-rather-long-subdomain.clinic-example.example"
    hostile = harness.sender(name=name, institution=institution, phone=phone, email=address)
    too_long = dict(hostile, name=name + "x")
    r = server.request("POST", "/inbound/api/uploads", json=harness.open_body(sender=too_long))
    assert_error(r, 400, "invalid-field")

    upload, receipt = send(server, small_files()[:1], sender=hostile, message=message)
    mail = sink.wait_for(1)[0]
    assert_well_formed(mail)
    assert mail.rcpt_tos == [NEURO], mail.envelope
    assert mail.addresses("To") == [NEURO], mail.headers("To")
    assert mail.addresses("Reply-To") == [address], mail.headers("Reply-To")
    assert mail.subject == "[%s] New images from %s (%s)" % (SITE, name, institution), mail.subject
    names = mail.raw_header_names()
    assert all(re.match(r"^[A-Za-z][A-Za-z0-9-]*$", n) for n in names), names
    assert not {"Bcc", "Cc", "X-Evil"} & {n.title() for n in names}, names
    for key, value in mail.message.items():
        if key.lower() != "subject":
            assert "evil.example" not in str(value), (key, str(value))
    for shown in (mail.text, mail.html_as_text):
        for expected in (name, institution, message, phone, address):
            assert expected in shown, "%r not in:\n%s" % (expected, shown)
    assert "<script>" not in mail.html and "<b>Co</b>" not in mail.html, mail.html
    sink.assert_stays(1, 1.0)

    # Plain ASCII that looks like an encoded word is shown as written, not decoded by the
    # recipient's mail client into something else.
    name = 'Eve =?UTF-8?B?QmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?= "Q" <angle> \\ end'
    second, _ = send(server, small_files()[1:], sender=harness.sender(name=name))
    mail = recipient_mail(sink.wait_for(2), second.id)
    assert_well_formed(mail)
    assert mail.subject == "[%s] New images from %s (%s)" % (
        SITE, name, SENDER["institution"]), mail.raw_head()


# ---------------------------------------------------------------------------- webhooks


def assert_upload_event(call, server, upload, receipt, originals):
    body = json.loads(call["body"])
    headers = call["headers"]
    assert headers["Content-Type"].startswith("application/json"), headers
    assert headers["X-Inbound-Event"] == "upload.completed" == body["event"], headers
    assert body["delivery"] == headers["X-Inbound-Delivery"], (body, headers)
    assert body["site"] == SITE and body["role"] == "Standalone", body
    checks.assert_iso_time(body["time"], "time")
    u = body["upload"]
    assert u["id"] == upload.id and u["receiptCode"] == receipt["receiptCode"], u
    assert u["recipient"] == {"id": "neuroradiology", "name": "Neuroradiology"}, u
    assert u["sender"] == {k: SENDER[k] for k in ("name", "email", "institution", "phone")}, u
    assert u["message"] == harness.open_body()["message"]
    assert u["files"] == len(originals) and u["bytes"] == sum(o.size for o in originals), u
    checks.assert_iso_time(u["completedAt"], "completedAt")
    expected = data.studies_of(originals)
    assert {s["studyInstanceUid"] for s in u["studies"]} == set(expected), u["studies"]
    for s in u["studies"]:
        study = server.admin_json("GET", "/studies/%s" % s["orthancStudyId"])
        assert study["MainDicomTags"]["StudyInstanceUID"] == s["studyInstanceUid"]
        assert s["link"] == "%s/app/explorer.html#study?uuid=%s" % (ORTHANC_URL,
                                                                    s["orthancStudyId"]), s
        e = expected[s["studyInstanceUid"]]
        assert sorted(s["modalities"]) == sorted(e["modalities"]), s
        assert s["instances"] == e["instances"] and s["series"] == 1, s
    for original in originals:
        assert str(original.ds.PatientName) not in call["body"].decode(), "patient data"
    return body


def test_webhook_signed_retried_and_delivered_once(start_server, receivers, certificate):
    receiver = receivers(certificate).start()
    alerts_only = receiver.url + "-alerts"
    server = start_server(inbound={"Notifications": notify(), "Webhooks": [
        {"Url": receiver.url, "Secret": SECRET, "CACertificates": certificate[0]},
        {"Url": alerts_only, "Secret": SECRET, "CACertificates": certificate[0],
         "Events": ["alert"]}]})

    # The target answers 503 for a while.
    receiver.status = 503
    originals = small_files()
    upload, receipt = send(server, originals)
    receiver.wait_for(2, ok_only=False, timeout=15)
    receiver.status = 200
    [call] = receiver.wait_for(1)
    time.sleep(1.5)
    calls = receiver.received()
    assert len([c for c in calls if c["status"] == 200]) == 1, calls
    assert {c["headers"]["X-Inbound-Delivery"] for c in calls} == \
        {call["headers"]["X-Inbound-Delivery"]}, "one delivery, the same id on every attempt"
    assert all(c["path"] == receiver.path for c in calls), "the alerts-only hook got an upload"
    for c in calls:
        assert mail_support.verify_signature(SECRET, c["headers"], c["body"]), c["headers"]
        assert not mail_support.verify_signature(SECRET + "x", c["headers"], c["body"])
        assert not mail_support.verify_signature(SECRET, c["headers"], c["body"] + b" ")
    assert call["headers"]["X-Inbound-Signature"] == mail_support.signature(
        SECRET, call["headers"]["X-Inbound-Timestamp"], call["body"])
    body = assert_upload_event(call, server, upload, receipt, originals)

    answer = notifications(server)
    [n] = answer["notifications"]
    assert (n["channel"], n["kind"], n["target"], n["state"]) == \
        ("webhook", "webhook", receiver.url, "delivered"), n
    assert n["attempts"] >= 3, n

    # The target is down (nothing listens) for a while, then back.
    receiver.stop()
    second, second_receipt = send(server, originals[:1])
    wait_for_notifications(server, lambda a: any(
        x["state"] == "pending" and x["attempts"] >= 1 and x["lastError"]
        for x in a["notifications"]), what="a failed webhook attempt")
    receiver.start()
    receiver.wait_for(2)
    time.sleep(1.5)
    ok = receiver.received(ok_only=True)
    assert len(ok) == 2, ok
    assert len({c["headers"]["X-Inbound-Delivery"] for c in ok}) == 2
    assert_upload_event(ok[1], server, second, second_receipt, originals[:1])
    assert mail_support.verify_signature(SECRET, ok[1]["headers"], ok[1]["body"])
    answer = notifications(server)
    assert answer["counts"] == {"pending": 0, "delivered": 2, "failed": 0}, answer

    # X-Inbound-Delivery (and "delivery") names the notification in the admin route, so that
    # an admin finds a call the receiver logged in /inbound/admin/notifications.
    deliveries = {x["delivery"] for x in answer["notifications"]}
    assert {c["headers"]["X-Inbound-Delivery"] for c in ok} == deliveries, (
        sorted(c["headers"]["X-Inbound-Delivery"] for c in ok), sorted(deliveries))
    assert body["delivery"] == n["delivery"], (body["delivery"], n)


def test_a_plain_http_webhook_is_refused_at_start_up(plugin):
    server = harness.OrthancServer(plugin, inbound={"Webhooks": [
        {"Url": "http://127.0.0.1:9/hook", "Secret": SECRET}]}, startup_timeout=10)
    try:
        with pytest.raises(harness.ServerError) as e:
            server.start()
        assert "Webhooks" in str(e.value), str(e.value)[-2000:]
    finally:
        server.cleanup()


# ---------------------------------------------------------------------------- alerts


def test_alerts_reach_the_admins_once_per_kind_and_interval(start_server, sinks, receivers,
                                                             certificate):
    sink = sinks().start()
    receiver = receivers(certificate).start()
    size = len(gateway_support.fixed_size_dicom(500))
    server = start_server(inbound={
        "Smtp": smtp(sink), "Notifications": notify(AdminEmails=[ADMIN_MAIL],
                                                    AdminAlertInterval=3600),
        "Webhooks": [{"Url": receiver.url, "Secret": SECRET, "CACertificates": certificate[0],
                      "Events": ["alert"]}],
        "TrustedProxies": ["127.0.0.1"],
        "DataMonitor": {"WarnBytesPerDay": size, "CheckInterval": 1},
        "AutoBan": {"Refusals": 3, "WindowSeconds": 60, "BanSeconds": 60}})

    # The day's volume passes the warning level: one alert.
    upload = Upload.open(server)
    upload.put_ok(gateway_support.fixed_size_dicom(500))
    gateway_support.wait_for_audit(server, lambda e: e.get("event") == "alert-data-monitor-warning")
    mail = sink.wait_for(1)[0]
    assert mail.rcpt_tos == [ADMIN_MAIL] and mail.addresses("To") == [ADMIN_MAIL], mail.envelope
    assert_well_formed(mail)
    assert "received today" in mail.text, mail.text      # the alert's detail
    [call] = receiver.wait_for(1)
    body = json.loads(call["body"])
    assert body["event"] == "alert" == call["headers"]["X-Inbound-Event"], body
    assert body["alert"]["type"] == "data-monitor-warning", body
    assert mail_support.verify_signature(SECRET, call["headers"], call["body"])

    # Two clients banned automatically, one after the other: one alert of that kind.
    for client in ("203.0.113.7", "203.0.113.8"):
        for _ in range(3):
            assert server.request("GET", "/system",
                                  headers=gateway_support.xff(client)).status_code == 403
        gateway_support.wait_for_audit(
            server, lambda e: e.get("event") == "ban" and client in json.dumps(e))
    mails = sink.wait_for(2)
    ban_mail = mails[1]
    assert ban_mail.rcpt_tos == [ADMIN_MAIL]
    assert "203.0.113.7" in ban_mail.subject + ban_mail.text, ban_mail.text
    mails = sink.assert_stays(2, 2.5)
    calls = receiver.received()
    assert len(calls) == 2, [json.loads(c["body"])["alert"] for c in calls]
    assert json.loads(calls[1]["body"])["alert"]["address"] == "203.0.113.7", calls[1]["body"]
    # No upload was completed: nobody else was mailed.
    assert {m.rcpt_tos[0] for m in mails} == {ADMIN_MAIL}


# ---------------------------------------------------------------------------- From


def test_the_from_address_in_its_usual_forms(plugin, sinks):
    """Smtp.From as admins write it: the mail shows the name as written, nothing more."""
    sink = sinks().start()
    results = {}
    for written in ("Orthanc Inbound <%s>" % FROM_ADDRESS,
                    '"Orthanc Inbound" <%s>' % FROM_ADDRESS):
        server = harness.OrthancServer(plugin, startup_timeout=15, inbound={
            "Smtp": smtp(sink, From=written), "Notifications": notify()})
        try:
            try:
                server.start()
            except harness.ServerError as e:
                results[written] = "refused at start-up: %s" % [
                    line for line in str(e).splitlines() if "Smtp.From" in line][:1]
                continue
            upload, _ = send(server, small_files()[:1])
            mail = recipient_mail(sink.wait_for(len(results) + 1), upload.id)
            [address] = mail.message["From"].addresses
            results[written] = (address.display_name, address.addr_spec)
        finally:
            server.cleanup()
    assert results == {written: ("Orthanc Inbound", FROM_ADDRESS) for written in results}, results


# ---------------------------------------------------------------------------- gateways


def test_an_unreachable_gateway_alerts_the_admins_once(start_server, sinks):
    """The inside cannot reach its gateway for longer than GatewayAlert: one admin mail per
    outage, naming the gateway, and the audit trail has the alert."""
    sink = sinks().start()
    nobody = harness.free_port()
    server = start_server(
        inbound={"Role": "Internal", "Gateways": ["dmz"], "GatewayAlert": 2,
                 "Smtp": smtp(sink), "Notifications": notify(AdminEmails=[ADMIN_MAIL])},
        orthanc={"OrthancPeers": {"dmz": {"Url": "http://127.0.0.1:%d/" % nobody,
                                          "Username": PULLER[0], "Password": PULLER[1]}}})
    [mail] = sink.wait_for(1, timeout=30)
    assert mail.rcpt_tos == [ADMIN_MAIL], mail.envelope
    assert_well_formed(mail)
    assert "gateway" in mail.subject.lower(), mail.subject
    assert '"dmz"' in mail.text, mail.text
    sink.assert_stays(1, 4)
    alerts = [e for e in server.admin_json("GET", "/inbound/admin/audit")["events"]
              if e["event"] == "alert-gateway-unreachable"]
    assert len(alerts) == 1 and alerts[0]["ip"] == "dmz", alerts
