// Unit tests of the notifications planned from the audit trail: who is told what, how often.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "NotifierTestSupport.h"

#include "Limits/BanList.h"

#include "Ledger/SqliteLedgerConnection.h"

#include <boost/filesystem.hpp>
#include <boost/regex.hpp>

using namespace NotifierTesting;

TEST_F(NotifierTest, EventsBeforeTheFirstCursorAreNeverAnnounced)
{
  CompleteUpload();
  ledger_.Audit().Add(clock_.now, AuditEventType_AlertDataMonitorWarning, "", "",
                      "before notifications");
  Start();
  EXPECT_EQ(0u, Run());
  EXPECT_TRUE(mail_.attempts.empty());
  EXPECT_TRUE(hooks_.calls.empty());
  EXPECT_TRUE(Queue().empty());

  CompleteUpload();
  Run();
  EXPECT_EQ(1u, mail_.delivered.size());
  EXPECT_EQ(1u, hooks_.calls.size());
}

TEST_F(NotifierTest, OneRecipientMailPerCompletedUpload)
{
  Start();
  const std::string id = CompleteUpload("neuro", "a@example.org", 2);
  EXPECT_EQ(1u, notifier_->Collect());
  EXPECT_EQ(2u, notifier_->DeliverDue(stopping_)); // the mail and the webhook

  ASSERT_EQ(1u, mail_.delivered.size());
  const FakeMailTransport::Sent& sent = mail_.delivered[0];
  EXPECT_EQ("inbound@hospital.example", sent.from);
  EXPECT_EQ(std::vector<std::string>{"neuro@hospital.example"}, sent.recipients);

  ParsedMail m = ParseMail(sent.message);
  EXPECT_EQ("\"Neuroradiology\" <neuro@hospital.example>", m.headers["To"]);
  EXPECT_EQ("\"Orthanc Inbound\" <inbound@hospital.example>", m.headers["From"]);
  EXPECT_EQ("<a@example.org>", m.headers["Reply-To"]);
  EXPECT_EQ(id, m.headers["X-Inbound-Upload"]);
  EXPECT_EQ("auto-generated", m.headers["Auto-Submitted"]);
  EXPECT_EQ("1.0", m.headers["MIME-Version"]);
  for (const char* name : {"#To", "#From", "#Subject", "#Date", "#Message-ID", "#Reply-To"})
  {
    EXPECT_EQ("x", m.headers[name]) << name;
  }
  EXPECT_TRUE(boost::regex_match(m.headers["Message-ID"],
                                 boost::regex("<inbound\\.[0-9a-f]{32}@hospital\\.example>")))
      << m.headers["Message-ID"];
  EXPECT_EQ("[Test Hospital] New images from Dr. A (Clinic West)", m.subject);

  for (const std::string& body : {m.text, m.html})
  {
    EXPECT_NE(std::string::npos,
              body.find("https://orthanc.hospital.example/app/explorer.html#study?uuid=ostudy-" +
                        id + "-0"));
    EXPECT_NE(std::string::npos,
              body.find("https://orthanc.hospital.example/app/explorer.html#study?uuid=ostudy-" +
                        id + "-1"));
    EXPECT_NE(std::string::npos, body.find("RCPT-" + id));
    EXPECT_NE(std::string::npos, body.find("Please look at the CT"));
    EXPECT_NE(std::string::npos, body.find("a@example.org"));
    EXPECT_NE(std::string::npos, body.find("Clinic West"));
  }
  EXPECT_NE(std::string::npos, m.text.find("4 (4.0 kB)"));

  // Read again, by this notifier and by one started afresh on the same ledger: nothing new.
  EXPECT_EQ(0u, notifier_->Collect());
  EXPECT_EQ(0u, notifier_->DeliverDue(stopping_));
  Notifier again(configuration_, ledger_, clock_, templates_, &mail_, &hooks_);
  EXPECT_EQ(0u, again.Collect());
  EXPECT_EQ(0u, again.DeliverDue(stopping_));
  EXPECT_EQ(1u, mail_.attempts.size());
  EXPECT_EQ(2u, Queue().size());
  EXPECT_EQ("recipient", Only("recipient").kind);
  EXPECT_EQ(NotificationState_Delivered, Only("recipient").state);
  EXPECT_EQ(m.subject, Only("recipient").subject);
}

TEST_F(NotifierTest, TheHtmlPartEscapesSenderText)
{
  Start();
  CompleteUpload("neuro", "a@example.org", 1, "<b onmouseover=\"alert(1)\">Dr. B</b>");
  Run();
  ASSERT_EQ(1u, mail_.delivered.size());
  const ParsedMail m = ParseMail(mail_.delivered[0].message);
  EXPECT_EQ(std::string::npos, m.html.find("<b onmouseover"));
  EXPECT_NE(std::string::npos,
            m.html.find("&lt;b onmouseover=&quot;alert(1)&quot;&gt;Dr. B&lt;/b&gt;"));
  EXPECT_NE(std::string::npos, m.text.find("<b onmouseover=\"alert(1)\">Dr. B</b>")); // plain text
  EXPECT_EQ("[Test Hospital] New images from <b onmouseover=\"alert(1)\">Dr. B</b> (Clinic West)",
            m.subject);
}

TEST_F(NotifierTest, ARecipientNoLongerConfiguredIsNotMailedButTheWebhookGoesOut)
{
  Start();
  CompleteUpload("gone");
  Run();
  EXPECT_TRUE(mail_.attempts.empty());
  EXPECT_EQ(1u, hooks_.calls.size());
}

TEST_F(NotifierTest, TheGatewayMailsNobodyButCallsTheWebhooks)
{
  Start(R"({"Role": "Gateway", "Notifications": {"SenderReceipt": true}})");
  const std::string id = CompleteUpload();
  Run();
  EXPECT_TRUE(mail_.attempts.empty());
  ASSERT_EQ(1u, hooks_.calls.size());
  EXPECT_EQ("upload.completed", hooks_.calls[0].headers["X-Inbound-Event"]);
  const Json::Value body = ParseJson(hooks_.calls[0].body);
  EXPECT_EQ("upload.completed", body["event"].asString());
  EXPECT_EQ("Gateway", body["role"].asString());
  EXPECT_EQ(id, body["upload"]["id"].asString());

  // Pulled inside: "upload.delivered".
  ASSERT_TRUE(ledger_.Uploads().ChangeState(id, {UploadState_Complete}, UploadState_Delivered,
                                            clock_.now, "10.0.0.5", ""));
  Run();
  EXPECT_TRUE(mail_.attempts.empty());
  ASSERT_EQ(2u, hooks_.calls.size());
  EXPECT_EQ("upload.delivered", hooks_.calls[1].headers["X-Inbound-Event"]);
  EXPECT_EQ("upload.delivered", ParseJson(hooks_.calls[1].body)["event"].asString());
}

TEST_F(NotifierTest, NoReceiptUnlessSenderReceipt)
{
  Start();
  CompleteUpload();
  Run();
  EXPECT_TRUE(mail_.To("a@example.org").empty());
  EXPECT_EQ(1u, mail_.delivered.size());
}

TEST_F(NotifierTest, ReceiptsAreLimitedPerAddressAndDay)
{
  Start(R"({"Notifications": {"SenderReceipt": true, "ReceiptsPerAddressPerDay": 2}})");
  const std::string first = CompleteUpload("neuro", "A@Example.org");
  CompleteUpload("neuro", "a@example.org");
  Run(); // two events in one batch
  const std::string third = CompleteUpload("neuro", "a@EXAMPLE.org");
  Run();

  const std::vector<FakeMailTransport::Sent> receipts = mail_.To("a@example.org");
  ASSERT_EQ(2u, receipts.size());
  EXPECT_EQ(3u, mail_.To("neuro@hospital.example").size());
  const ParsedMail r = ParseMail(receipts[0].message);
  EXPECT_EQ("[Test Hospital] Your images were received \xe2\x80\x93 receipt RCPT-" + first,
            r.subject);
  EXPECT_EQ(0u, r.headers.count("Reply-To"));
  EXPECT_NE(std::string::npos, r.text.find("RCPT-" + first));
  EXPECT_EQ(std::string::npos, AllOf(receipts[0]).find("explorer.html")); // no links
  EXPECT_EQ(std::string::npos, AllOf(receipts[0]).find("ostudy-"));

  const std::vector<AuditEvent> suppressed = Audit("receipt-suppressed");
  ASSERT_EQ(1u, suppressed.size());
  EXPECT_EQ(third, suppressed[0].uploadId);

  clock_.now += 86400 * 1000 + 1;
  CompleteUpload("neuro", "a@example.org");
  Run();
  EXPECT_EQ(3u, mail_.To("a@example.org").size());
}

TEST_F(NotifierTest, TheReceiptCarriesNoSenderChosenNameInItsHeaders)
{
  // The contract: no sender text in a header except the Subject and Reply-To. A display
  // name in "To" would let anyone put a phrase of their choice into a mail from the hospital.
  Start(R"({"Notifications": {"SenderReceipt": true}})");
  CompleteUpload("neuro", "victim@example.org", 1, "Claim your prize at evil.example");
  Run();
  const std::vector<FakeMailTransport::Sent> receipts = mail_.To("victim@example.org");
  ASSERT_EQ(1u, receipts.size());
  const std::string raw = receipts[0].message;
  const std::string headers = raw.substr(0, raw.find("\r\n\r\n"));
  EXPECT_EQ(std::string::npos, headers.find("prize")) << headers;
}

TEST_F(NotifierTest, NoPatientDataInMailsOrWebhooksWithoutIncludePatientData)
{
  Start(R"({"Notifications": {"SenderReceipt": true}})");
  CompleteUpload();
  Run();
  ASSERT_EQ(2u, mail_.delivered.size());
  for (const FakeMailTransport::Sent& sent : mail_.delivered)
  {
    ExpectNoPatientData(AllOf(sent));
  }
  ASSERT_EQ(1u, hooks_.calls.size());
  ExpectNoPatientData(hooks_.calls[0].body);
  EXPECT_FALSE(ParseJson(hooks_.calls[0].body)["upload"]["studies"][0].isMember("patient"));
  for (const NotificationRecord& n : Queue())
  {
    ExpectNoPatientData(n.subject);
  }
}

TEST_F(NotifierTest, PatientDataOnlyInTheRecipientMailWithIncludePatientData)
{
  Start(R"({"Notifications": {"SenderReceipt": true, "IncludePatientData": true}})");
  CompleteUpload();
  Run();
  ASSERT_EQ(1u, mail_.To("neuro@hospital.example").size());
  const ParsedMail m = ParseMail(mail_.To("neuro@hospital.example")[0].message);
  for (const std::string& body : {m.text, m.html})
  {
    for (const char* value :
         {kPatientName, kPatientBirthDate, kPatientId, kStudyDescription, kStudyDate})
    {
      EXPECT_NE(std::string::npos, body.find(value)) << value;
    }
  }
  ASSERT_EQ(1u, mail_.To("a@example.org").size());
  ExpectNoPatientData(AllOf(mail_.To("a@example.org")[0])); // never to the sender
}

TEST_F(NotifierTest, AlertsMailEachAdminOnceAndAreThrottled)
{
  Start(R"({"Webhooks": []})"); // AdminAlertInterval: 900 s by default
  ledger_.Audit().Add(clock_.now, AuditEventType_AlertDataMonitorWarning, "", "", "disk 91% full");
  Run();
  ASSERT_EQ(2u, mail_.delivered.size());
  ASSERT_EQ(1u, mail_.To("admin@hospital.example").size());
  ASSERT_EQ(1u, mail_.To("ops@hospital.example").size());
  const ParsedMail m = ParseMail(mail_.To("admin@hospital.example")[0].message);
  EXPECT_EQ("[Test Hospital] Alert: Storage is running low or much data arrived today", m.subject);
  EXPECT_NE(std::string::npos, m.text.find("disk 91% full"));
  EXPECT_NE(std::string::npos, m.html.find("disk 91% full"));
  EXPECT_EQ(0u, m.headers.count("X-Inbound-Upload"));

  Run();
  EXPECT_EQ(2u, mail_.delivered.size());

  clock_.now += 60 * 1000;
  ledger_.Audit().Add(clock_.now, AuditEventType_AlertDataMonitorWarning, "", "", "disk 92% full");
  Run();
  EXPECT_EQ(2u, mail_.delivered.size()); // throttled: the audit has it

  ledger_.Audit().Add(clock_.now, AuditEventType_AlertDataMonitorStopped, "", "", "disk 99% full");
  Run();
  EXPECT_EQ(4u, mail_.delivered.size()); // another kind

  clock_.now += 901 * 1000;
  ledger_.Audit().Add(clock_.now, AuditEventType_AlertDataMonitorWarning, "", "", "disk 93% full");
  Run();
  EXPECT_EQ(6u, mail_.delivered.size());
}

TEST_F(NotifierTest, AMisbehavingGatewayIsMailedToTheAdmins)
{
  Start(R"({"Webhooks": []})");
  ledger_.Audit().Add(
    clock_.now, AuditEventType_AlertGatewayMisbehaving, "", "dmz",
    "gateway \"dmz\" sent data that breaks the rules (manifest field \"client.ip\")");
  Run();
  ASSERT_EQ(1u, mail_.To("admin@hospital.example").size());
  const ParsedMail m = ParseMail(mail_.To("admin@hospital.example")[0].message);
  EXPECT_EQ("[Test Hospital] Alert: A gateway sent data that breaks the rules", m.subject);
  EXPECT_NE(std::string::npos, m.text.find("client.ip"));
}

TEST_F(NotifierTest, AlertWebhookCarriesTheAlert)
{
  Start(R"({"Notifications": {"AdminEmails": []}})");
  ledger_.Audit().Add(clock_.now, AuditEventType_AlertGatewayUnreachable, "", "dmz",
                      "gateway \"dmz\" down");
  Run();
  EXPECT_TRUE(mail_.attempts.empty());
  ASSERT_EQ(1u, hooks_.calls.size());
  EXPECT_EQ("alert", hooks_.calls[0].headers["X-Inbound-Event"]);
  const Json::Value body = ParseJson(hooks_.calls[0].body);
  EXPECT_EQ("alert", body["event"].asString());
  EXPECT_EQ("gateway-unreachable", body["alert"]["type"].asString());
  EXPECT_EQ("gateway \"dmz\" down", body["alert"]["detail"].asString());
  EXPECT_EQ("dmz", body["alert"]["address"].asString());
}

TEST_F(NotifierTest, AutomaticBansAlertManualOnesDoNot)
{
  Start(R"({"Notifications": {"AdminAlertInterval": 0}, "Webhooks": []})");
  BanRecord manual;
  manual.entry = "198.51.100.8";
  manual.createdAt = clock_.now;
  manual.reason = "spam";
  ledger_.Bans().Put(manual, "admin");
  Run();
  EXPECT_TRUE(mail_.attempts.empty());

  BanRecord automatic;
  automatic.entry = "198.51.100.7";
  automatic.createdAt = clock_.now;
  automatic.until = clock_.now + 3600 * 1000;
  automatic.reason = std::string(BanList::kAutomaticPrefix) + "5 refusals within 60 s";
  automatic.automatic = true;
  ledger_.Bans().Put(automatic, "");
  Run();
  ASSERT_EQ(1u, mail_.To("admin@hospital.example").size());
  const ParsedMail m = ParseMail(mail_.To("admin@hospital.example")[0].message);
  EXPECT_EQ("[Test Hospital] Alert: A client was banned automatically", m.subject);
  EXPECT_NE(std::string::npos, m.text.find("198.51.100.7"));
  EXPECT_EQ(std::string::npos, AllOf(mail_.delivered[0]).find("198.51.100.8"));
}

TEST_F(NotifierTest, WebhookEventsFilterIsRespected)
{
  Start(R"({"Webhooks": [
    {"Url": "https://a.example/hook", "Secret": "0123456789abcdef-a", "Events": ["alert"]},
    {"Url": "https://b.example/hook", "Secret": "0123456789abcdef-b",
     "Events": ["upload.completed"]},
    {"Url": "https://c.example/hook", "Secret": "0123456789abcdef-c"}]})",
        false, true);
  CompleteUpload();
  Run();
  EXPECT_EQ(0u, hooks_.To("https://a.example/hook").size());
  EXPECT_EQ(1u, hooks_.To("https://b.example/hook").size());
  EXPECT_EQ(1u, hooks_.To("https://c.example/hook").size());

  ledger_.Audit().Add(clock_.now, AuditEventType_AlertUploadHeld, "", "", "held");
  Run();
  EXPECT_EQ(1u, hooks_.To("https://a.example/hook").size());
  EXPECT_EQ(1u, hooks_.To("https://b.example/hook").size());
  EXPECT_EQ(2u, hooks_.To("https://c.example/hook").size());
  EXPECT_EQ("alert", hooks_.To("https://a.example/hook")[0].headers["X-Inbound-Event"]);
  // Each hook signs with its own secret.
  const FakeWebhookTransport::Call b = hooks_.To("https://b.example/hook")[0];
  EXPECT_EQ("sha256=" +
                Hmac("0123456789abcdef-b", b.headers.at("X-Inbound-Timestamp") + "." + b.body),
            b.headers.at("X-Inbound-Signature"));
}

TEST_F(NotifierTest, GermanRecipientsGetGermanMails)
{
  Start();
  CompleteUpload("kardio");
  Run();
  ASSERT_EQ(1u, mail_.To("kardio@hospital.example").size());
  const ParsedMail m = ParseMail(mail_.To("kardio@hospital.example")[0].message);
  EXPECT_EQ("[Test Hospital] Neue Bilder von Dr. A (Clinic West)", m.subject);
  EXPECT_NE(std::string::npos, m.text.find("Studie 1"));
  EXPECT_NE(std::string::npos, m.text.find("2,0 kB"));
  EXPECT_NE(std::string::npos, m.html.find("<html lang=\"de\">"));
  EXPECT_NE(std::string::npos, m.text.find("https://orthanc.hospital.example/app/explorer.html"));
  EXPECT_EQ(std::string::npos, m.text.find("{{"));
}

TEST_F(NotifierTest, GermanAlertsWithLanguageDe)
{
  Start(R"({"Notifications": {"Language": "de", "SenderReceipt": true}, "Webhooks": []})");
  ledger_.Audit().Add(clock_.now, AuditEventType_AlertDataMonitorStopped, "", "", "voll");
  CompleteUpload();
  Run();
  const ParsedMail alert = ParseMail(mail_.To("admin@hospital.example").at(0).message);
  EXPECT_EQ("[Test Hospital] Warnung: Die Annahme neuer Daten ist gestoppt", alert.subject);
  const ParsedMail receipt = ParseMail(mail_.To("a@example.org").at(0).message);
  EXPECT_EQ(std::string::npos, receipt.text.find("{{"));
  EXPECT_NE(std::string::npos, receipt.text.find("RCPT-U1"));
  EXPECT_NE(
      std::string::npos,
      ParseMail(mail_.To("neuro@hospital.example").at(0).message).subject.find("Neue Bilder"));
}

TEST(NotifierLedger, ALedgerWithTheOldItemsSchemaGetsThePatientColumns)
{
  const boost::filesystem::path folder =
      boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%");
  boost::filesystem::create_directories(folder);
  const std::string path = (folder / "ledger.db").string();
  {
    // The schema before notifications (commit 48a1f55), with one upload and one item.
    SqliteLedgerConnection db(path);
    db.Execute(
        "CREATE TABLE IF NOT EXISTS uploads ("
        " id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, state TEXT NOT NULL,"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER NOT NULL,"
        " sender_name TEXT NOT NULL, sender_email TEXT NOT NULL, sender_institution TEXT NOT NULL,"
        " sender_phone TEXT NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL,"
        " consent_version TEXT NOT NULL, client_ip TEXT NOT NULL, user_agent TEXT NOT NULL,"
        " expected_files INTEGER NOT NULL, expected_bytes INTEGER NOT NULL,"
        " receipt_code TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,"
        " purged INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS uploads_state ON uploads(state, updated_at);"
        "CREATE TABLE IF NOT EXISTS items ("
        " upload_id TEXT NOT NULL REFERENCES uploads(id), sha256 TEXT NOT NULL,"
        " size INTEGER NOT NULL, sop_uid TEXT NOT NULL, series_uid TEXT NOT NULL,"
        " study_uid TEXT NOT NULL, modality TEXT NOT NULL, study_date TEXT NOT NULL,"
        " study_description TEXT NOT NULL, original_patient_id TEXT NOT NULL,"
        " isolated_patient_id TEXT NOT NULL, orthanc_instance TEXT NOT NULL,"
        " orthanc_series TEXT NOT NULL, orthanc_study TEXT NOT NULL,"
        " orthanc_patient TEXT NOT NULL, stored_at INTEGER NOT NULL,"
        " PRIMARY KEY (upload_id, sha256));"
        "CREATE INDEX IF NOT EXISTS items_study ON items(upload_id, study_uid);"
        "CREATE INDEX IF NOT EXISTS items_sop ON items(upload_id, sop_uid);"
        "CREATE TABLE IF NOT EXISTS audit ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, event TEXT NOT NULL,"
        " upload_id TEXT NOT NULL, ip TEXT NOT NULL, detail TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS audit_upload ON audit(upload_id);"
        "CREATE INDEX IF NOT EXISTS audit_time ON audit(time);"
        "CREATE TABLE IF NOT EXISTS quota_usage ("
        " scope TEXT NOT NULL, day INTEGER NOT NULL, uploads INTEGER NOT NULL,"
        " bytes INTEGER NOT NULL, PRIMARY KEY (scope, day));"
        "CREATE TABLE IF NOT EXISTS bans ("
        " entry TEXT PRIMARY KEY, created_at INTEGER NOT NULL, until INTEGER NOT NULL,"
        " reason TEXT NOT NULL, automatic INTEGER NOT NULL);");
    db.Execute(
        "INSERT INTO uploads VALUES ('U1', 'hash', 'open', 1000, 1000, 0, 'Dr. A', 'a@example.org',"
        " '', '', 'neuro', '', '2026-01', '203.0.113.9', '', -1, -1, '', 1, 100, 0);"
        "INSERT INTO items VALUES ('U1', 'aa', 100, '1.2.3.1', '1.2.3.2', '1.2.3', 'CT', '', '',"
        " 'P1', 'INB-U1-P1', 'i1', 's1', 'st1', 'p1', 1000);"
        "INSERT INTO audit (time, event, upload_id, ip, detail) VALUES"
        " (1000, 'upload-opened', 'U1', '203.0.113.9', 'old');");
  }
  {
    Ledger ledger(path);
    EXPECT_EQ(1, ledger.Notifications().GetCursor());  // starts at the old audit's newest event
    ItemRecord item;
    item.uploadId = "U1";
    item.sha256 = "bb";
    item.size = 100;
    item.studyInstanceUid = "1.2.3";
    item.patientName = kPatientName;
    item.patientBirthDate = kPatientBirthDate;
    item.storedAt = 2000;
    EXPECT_EQ(UploadStore::AddItemResult_Added, ledger.Uploads().AddItem(item, "ip"));
    const std::vector<ItemRecord> items = ledger.Uploads().ListItems("U1");
    ASSERT_EQ(2u, items.size());
    for (const ItemRecord& i : items)
    {
      EXPECT_EQ(i.sha256 == "bb" ? kPatientName : "", i.patientName) << i.sha256;
      EXPECT_EQ(i.sha256 == "bb" ? kPatientBirthDate : "", i.patientBirthDate) << i.sha256;
    }
  }
  {
    Ledger reopened(path); // the migration runs once
    EXPECT_EQ(2u, reopened.Uploads().ListItems("U1").size());
  }
  boost::filesystem::remove_all(folder);
}
