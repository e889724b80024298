#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "Limits/BanList.h"
#include "Notify/Notifier.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"

#include <SQLite/Connection.h>
#include <Toolbox.h>

#include <boost/filesystem.hpp>
#include <boost/regex.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <gtest/gtest.h>

#include <memory>
#include <set>

using namespace Inbound;

namespace
{
  const char* const kSecret = "0123456789abcdef-webhook-secret";
  const char* const kHookUrl = "https://hooks.hospital.example/inbound";

  // Patient data of every test file: none of it may reach a mail without IncludePatientData.
  const char* const kPatientName = "Mustermann^Erika";
  const char* const kPatientBirthDate = "19640812";
  const char* const kPatientId = "PID-4711";
  const char* const kStudyDescription = "Schaedel nativ";
  const char* const kStudyDate = "20251224";

  // The test configuration with "overrides" merged over it (objects one level deep).
  Configuration MakeConfiguration(const std::string& overrides)
  {
    Json::Value section, extra;
    std::string errors;
    EXPECT_TRUE(
        JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors));
    EXPECT_TRUE(JsonText::ParseConfiguration(section["__"], R"({
      "Recipients": [
        {"Id": "neuro", "Name": "Neuroradiology", "Email": "neuro@hospital.example"},
        {"Id": "kardio", "Name": "Kardiologie", "Email": "kardio@hospital.example",
         "Language": "de"}],
      "Smtp": {"Host": "smtp.hospital.example",
               "From": "Orthanc Inbound <inbound@hospital.example>"},
      "Notifications": {"OrthancUrl": "https://orthanc.hospital.example",
                        "AdminEmails": ["admin@hospital.example",
                                        "Ops Team <ops@hospital.example>"]},
      "Webhooks": [{"Url": "https://hooks.hospital.example/inbound",
                    "Secret": "0123456789abcdef-webhook-secret"}]
    })",
                                             errors))
        << errors;
    const Json::Value base = section["__"];
    section.removeMember("__");
    EXPECT_TRUE(JsonText::ParseConfiguration(extra, overrides, errors)) << errors;
    for (const Json::Value* layer : {&base, static_cast<const Json::Value*>(&extra)})
    {
      for (const std::string& key : layer->getMemberNames())
      {
        if (section[key].isObject() && (*layer)[key].isObject())
        {
          for (const std::string& sub : (*layer)[key].getMemberNames())
          {
            section[key][sub] = (*layer)[key][sub];
          }
        }
        else
        {
          section[key] = (*layer)[key];
        }
      }
    }
    return Configuration::Parse(section);
  }

  class FakeMailTransport : public IMailTransport
  {
  public:
    struct Sent
    {
      std::string from;
      std::vector<std::string> recipients;
      std::string message;
    };

    std::vector<Sent> attempts;  // every call
    std::vector<Sent> delivered; // the calls that succeeded
    std::set<std::string> failFor;
    bool failAll = false;

    void Send(const std::string& from, const std::vector<std::string>& recipients,
              const std::string& message) override
    {
      attempts.push_back(Sent{from, recipients, message});
      if (failAll || (!recipients.empty() && failFor.count(recipients[0]) > 0))
      {
        throw std::runtime_error("relay down");
      }
      delivered.push_back(attempts.back());
    }

    std::vector<Sent> To(const std::string& address) const
    {
      std::vector<Sent> result;
      for (const Sent& s : delivered)
      {
        if (s.recipients.size() == 1 && s.recipients[0] == address)
        {
          result.push_back(s);
        }
      }
      return result;
    }
  };

  class FakeWebhookTransport : public IWebhookTransport
  {
  public:
    struct Call
    {
      std::string url;
      std::map<std::string, std::string> headers;
      std::string body;
    };

    std::vector<Call> calls;
    long status = 200;
    bool fail = false;

    long Post(const WebhookSettings& hook, const std::vector<std::string>& headers,
              const std::string& body) override
    {
      Call call{hook.url, {}, body};
      for (const std::string& h : headers)
      {
        const size_t colon = h.find(": ");
        call.headers[h.substr(0, colon)] = colon == std::string::npos ? "" : h.substr(colon + 2);
      }
      calls.push_back(call);
      if (fail)
      {
        throw std::runtime_error("connection refused");
      }
      return status;
    }

    std::vector<Call> To(const std::string& url) const
    {
      std::vector<Call> result;
      for (const Call& c : calls)
      {
        if (c.url == url)
        {
          result.push_back(c);
        }
      }
      return result;
    }
  };

  std::string DecodeBase64(const std::string& text)
  {
    std::string result;
    Orthanc::Toolbox::DecodeBase64(result, text);
    return result;
  }

  // A received mail, taken apart the way a mail client would.
  struct ParsedMail
  {
    std::map<std::string, std::string> headers; // unfolded; "#Name" counts repetitions
    std::string subject;                        // RFC 2047 decoded
    std::string text;
    std::string html;
  };

  std::string DecodeUnstructured(const std::string& value)
  {
    if (value.find("=?UTF-8?B?") == std::string::npos)
    {
      return value;
    }
    std::string result;
    size_t start = 0;
    while ((start = value.find("=?UTF-8?B?", start)) != std::string::npos)
    {
      const size_t end = value.find("?=", start + 10);
      result += DecodeBase64(value.substr(start + 10, end - start - 10));
      start = end + 2;
    }
    return result;
  }

  std::string DecodePart(const std::string& raw, const std::string& type,
                         const std::string& boundary)
  {
    const std::string marker =
        "Content-Type: " + type + "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    const size_t start = raw.find(marker);
    if (start == std::string::npos)
    {
      return "";
    }
    const size_t end = raw.find("--" + boundary, start);
    std::string base64;
    for (size_t i = start + marker.size(); i < end; i++)
    {
      if (raw[i] != '\r' && raw[i] != '\n')
      {
        base64 += raw[i];
      }
    }
    return DecodeBase64(base64);
  }

  ParsedMail ParseMail(const std::string& raw)
  {
    ParsedMail mail;
    const size_t end = raw.find("\r\n\r\n");
    std::vector<std::string> headers;
    size_t start = 0;
    while (start < end)
    {
      size_t eol = raw.find("\r\n", start);
      eol = std::min(eol, end);
      const std::string line = raw.substr(start, eol - start);
      if (!line.empty() && line[0] == ' ' && !headers.empty())
      {
        headers.back() += line;
      }
      else
      {
        headers.push_back(line);
      }
      start = eol + 2;
    }
    for (const std::string& h : headers)
    {
      const size_t colon = h.find(':');
      const std::string name = h.substr(0, colon);
      std::string value = h.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
      {
        value = value.substr(1);
      }
      mail.headers[name] = value;
      mail.headers["#" + name] += "x";
    }
    mail.subject = DecodeUnstructured(mail.headers["Subject"]);
    boost::smatch match;
    const std::string contentType = mail.headers["Content-Type"];
    if (boost::regex_search(contentType, match, boost::regex("boundary=\"([^\"]+)\"")))
    {
      mail.text = DecodePart(raw, "text/plain", match[1]);
      mail.html = DecodePart(raw, "text/html", match[1]);
    }
    return mail;
  }

  std::string Hmac(const std::string& key, const std::string& data)
  {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
    std::string hex;
    char buffer[3];
    for (unsigned int i = 0; i < length; i++)
    {
      snprintf(buffer, sizeof(buffer), "%02x", digest[i]);
      hex += buffer;
    }
    return hex;
  }

  Json::Value ParseJson(const std::string& text)
  {
    Json::Value json;
    EXPECT_TRUE(JsonText::ParseStrict(json, text.data(), text.size())) << text;
    return json;
  }

  class NotifierTest : public ::testing::Test
  {
  protected:
    InboundTests::FakeClock clock_;
    Ledger ledger_;
    MailTemplates templates_;
    FakeMailTransport mail_;
    FakeWebhookTransport hooks_;
    Configuration configuration_;
    std::unique_ptr<Notifier> notifier_;
    std::atomic<bool> stopping_{false};
    int uploads_ = 0;

  public:
    NotifierTest() : ledger_(""), templates_("")
    {
    }

    // Starts the notifier; its first Collect() puts the cursor on the newest audit event.
    void Start(const std::string& overrides = "{}", bool withMail = true, bool withHooks = true)
    {
      configuration_ = MakeConfiguration(overrides);
      notifier_.reset(new Notifier(configuration_, ledger_, clock_, templates_,
                                   withMail ? &mail_ : nullptr, withHooks ? &hooks_ : nullptr));
      notifier_->Collect();
    }

    size_t Run()
    {
      notifier_->Collect();
      return notifier_->DeliverDue(stopping_);
    }

    // A complete upload: "studies" studies of two CT files each, with patient data.
    std::string CompleteUpload(const std::string& recipient = "neuro",
                               const std::string& senderEmail = "a@example.org", int studies = 1,
                               const std::string& senderName = "Dr. A")
    {
      const std::string id = "U" + std::to_string(++uploads_);
      UploadRecord r;
      r.id = id;
      r.tokenHash = "hash";
      r.createdAt = r.updatedAt = clock_.now;
      r.sender.name = senderName;
      r.sender.email = senderEmail;
      r.sender.institution = "Clinic West";
      r.sender.phone = "+49 30 1234";
      r.recipientId = recipient;
      r.message = "Please look at the CT";
      r.clientIp = "203.0.113.9";
      ledger_.Uploads().Create(r);
      for (int s = 0; s < studies; s++)
      {
        for (int f = 0; f < 2; f++)
        {
          const std::string n = std::to_string(uploads_) + "." + std::to_string(s);
          ItemRecord i;
          i.uploadId = id;
          i.sha256 = Crypto::Sha256Hex(n + "." + std::to_string(f));
          i.size = 1000;
          i.sopInstanceUid = "1.2.826.0.1." + n + "." + std::to_string(f);
          i.seriesInstanceUid = "1.2.826.0.2." + n;
          i.studyInstanceUid = "1.2.826.0.3." + n;
          i.modality = "CT";
          i.studyDate = kStudyDate;
          i.studyDescription = kStudyDescription;
          i.originalPatientId = kPatientId;
          i.patientName = kPatientName;
          i.patientBirthDate = kPatientBirthDate;
          i.isolatedPatientId = "INB-" + id;
          i.orthancInstanceId = "oinstance-" + n + "-" + std::to_string(f);
          i.orthancSeriesId = "oseries-" + n;
          i.orthancStudyId = "ostudy-" + id + "-" + std::to_string(s);
          i.orthancPatientId = "opatient-" + id;
          i.storedAt = clock_.now;
          EXPECT_EQ(UploadStore::AddItemResult_Added, ledger_.Uploads().AddItem(i, "203.0.113.9"));
        }
      }
      EXPECT_TRUE(ledger_.Uploads().ChangeState(id, {UploadState_Open}, UploadState_Complete,
                                                clock_.now, "203.0.113.9", "", "RCPT-" + id));
      return id;
    }

    std::vector<NotificationRecord> Queue(const std::string& state = "")
    {
      return ledger_.Notifications().List(state, 1000);
    }

    NotificationRecord Only(const std::string& kind)
    {
      std::vector<NotificationRecord> found;
      for (const NotificationRecord& n : Queue())
      {
        if (n.kind == kind)
        {
          found.push_back(n);
        }
      }
      EXPECT_EQ(1u, found.size()) << kind;
      return found.empty() ? NotificationRecord() : found[0];
    }

    std::vector<AuditEvent> Audit(const std::string& event)
    {
      std::vector<AuditEvent> result;
      for (const AuditEvent& e : ledger_.Audit().List(0, 100000))
      {
        if (e.event == event)
        {
          result.push_back(e);
        }
      }
      return result;
    }

    // Moves the clock to each next attempt until nothing is pending any more.
    void RunUntilSettled()
    {
      for (int round = 0; round < 100; round++)
      {
        Run();
        const std::vector<NotificationRecord> pending = Queue("pending");
        if (pending.empty())
        {
          return;
        }
        int64_t next = pending[0].nextAttemptAt;
        for (const NotificationRecord& n : pending)
        {
          next = std::min(next, n.nextAttemptAt);
        }
        clock_.now = std::max(clock_.now, next);
      }
      ADD_FAILURE() << "the queue never settles";
    }
  };

  std::string AllOf(const FakeMailTransport::Sent& sent)
  {
    const ParsedMail m = ParseMail(sent.message);
    return sent.message + "\n" + m.subject + "\n" + m.text + "\n" + m.html;
  }

  void ExpectNoPatientData(const std::string& text)
  {
    for (const char* secret : {kPatientName, "Mustermann", "Erika", kPatientBirthDate, kPatientId,
                               kStudyDescription, kStudyDate})
    {
      EXPECT_EQ(std::string::npos, text.find(secret)) << secret << " in:\n" << text;
    }
  }
} // namespace

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

TEST_F(NotifierTest, AFailingRelayIsRetriedWithDoublingCappedBackOff)
{
  Start(R"({"Notifications": {"RetryInterval": 10, "MaxRetryInterval": 35, "GiveUpAfter": 3600},
            "Webhooks": []})");
  mail_.failAll = true;
  const int64_t t0 = clock_.now;
  CompleteUpload();
  Run();
  NotificationRecord n = Only("recipient");
  EXPECT_EQ(NotificationState_Pending, n.state);
  EXPECT_EQ(1, n.attempts);
  EXPECT_EQ(t0 + 10000, n.nextAttemptAt);
  EXPECT_NE(std::string::npos, n.lastError.find("relay down"));

  Run(); // not due yet
  EXPECT_EQ(1u, mail_.attempts.size());

  const int64_t expected[] = {20000, 35000, 35000, 35000};
  for (int64_t delay : expected)
  {
    clock_.now = Only("recipient").nextAttemptAt;
    Run();
    n = Only("recipient");
    EXPECT_EQ(clock_.now + delay, n.nextAttemptAt);
  }
  EXPECT_EQ(5, n.attempts);
  EXPECT_EQ(5u, mail_.attempts.size());

  mail_.failAll = false;
  clock_.now = n.nextAttemptAt;
  EXPECT_EQ(1u, Run());
  EXPECT_EQ(NotificationState_Delivered, Only("recipient").state);
  EXPECT_EQ(6, Only("recipient").attempts);
  EXPECT_EQ("", Only("recipient").lastError);
  for (const FakeMailTransport::Sent& s : mail_.attempts)
  {
    EXPECT_EQ(mail_.attempts[0].message, s.message); // same bytes, same Message-ID
  }
}

TEST_F(NotifierTest, AGivenUpNotificationIsDeadLetteredAndAlertsTheAdmins)
{
  Start(R"({"Notifications": {"RetryInterval": 30, "GiveUpAfter": 100, "AdminAlertInterval": 0},
            "Webhooks": []})");
  mail_.failFor = {"neuro@hospital.example"};
  const int64_t t0 = clock_.now;
  const std::string id = CompleteUpload();
  Run();
  clock_.now = t0 + 30000;
  Run();
  EXPECT_EQ(t0 + 90000, Only("recipient").nextAttemptAt);
  clock_.now = t0 + 90000;
  Run();
  EXPECT_EQ(t0 + 100000, Only("recipient").nextAttemptAt); // the last attempt at the deadline
  EXPECT_TRUE(Audit("alert-notification-failed").empty());
  clock_.now = t0 + 100000;
  Run();

  const NotificationRecord failed = Only("recipient");
  EXPECT_EQ(NotificationState_Failed, failed.state);
  EXPECT_EQ(4, failed.attempts);
  const std::vector<AuditEvent> dead = Audit("alert-notification-failed");
  ASSERT_EQ(1u, dead.size());
  EXPECT_EQ(id, dead[0].uploadId);
  EXPECT_NE(std::string::npos, dead[0].detail.find("neuro@hospital.example"));

  Run(); // the alert
  ASSERT_EQ(1u, mail_.To("admin@hospital.example").size());
  ASSERT_EQ(1u, mail_.To("ops@hospital.example").size());
  const ParsedMail alert = ParseMail(mail_.To("admin@hospital.example")[0].message);
  EXPECT_EQ("[Test Hospital] Alert: A notification could not be delivered", alert.subject);
  EXPECT_EQ("\"Ops Team\" <ops@hospital.example>",
            ParseMail(mail_.To("ops@hospital.example")[0].message).headers["To"]);
  EXPECT_NE(std::string::npos, alert.text.find(id));
  EXPECT_EQ(0u, alert.headers.count("Reply-To"));
}

TEST_F(NotifierTest, AFailedAlertAboutAFailedNotificationRaisesNoFurtherAlert)
{
  Start(R"({"Notifications": {"RetryInterval": 30, "GiveUpAfter": 100, "AdminAlertInterval": 0}})");
  mail_.failAll = true;
  hooks_.status = 500;
  CompleteUpload();
  RunUntilSettled();
  RunUntilSettled();
  RunUntilSettled();

  // The recipient mail and the webhook call failed: two alerts. The alerts about them
  // (two mails, two webhook calls) failed too: recorded, not announced.
  EXPECT_EQ(2u, Audit("alert-notification-failed").size());
  EXPECT_EQ(2u * 3u, Audit("notification-failed").size());
  EXPECT_EQ(0u, Queue("pending").size());
  const size_t queued = Queue().size();
  EXPECT_EQ(2u + 2u * 3u, queued);
  clock_.now += 3600 * 1000;
  Run();
  EXPECT_EQ(queued, Queue().size());
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

TEST_F(NotifierTest, WebhooksAreSignedAndKeepTheirDeliveryIdAcrossRetries)
{
  Start("{}", false, true);
  hooks_.fail = true;
  const std::string id = CompleteUpload();
  Run();
  hooks_.fail = false;
  hooks_.status = 503;
  clock_.now = Queue()[0].nextAttemptAt + 1234;
  Run();
  EXPECT_NE(std::string::npos, Queue()[0].lastError.find("503"));
  EXPECT_EQ(NotificationState_Pending, Queue()[0].state);
  hooks_.status = 204;
  clock_.now = Queue()[0].nextAttemptAt + 5678;
  EXPECT_EQ(1u, Run());
  EXPECT_EQ(NotificationState_Delivered, Queue()[0].state);

  ASSERT_EQ(3u, hooks_.calls.size());
  const Json::Value body = ParseJson(hooks_.calls[0].body);
  const std::string delivery = body["delivery"].asString();
  EXPECT_TRUE(boost::regex_match(delivery, boost::regex("[0-9a-f]{32}"))) << delivery;
  std::set<std::string> timestamps;
  for (FakeWebhookTransport::Call& call : hooks_.calls)
  {
    EXPECT_EQ(kHookUrl, call.url);
    EXPECT_EQ(hooks_.calls[0].body, call.body);
    EXPECT_EQ("application/json", call.headers["Content-Type"]);
    EXPECT_EQ("upload.completed", call.headers["X-Inbound-Event"]);
    EXPECT_EQ(delivery, call.headers["X-Inbound-Delivery"]);
    const std::string timestamp = call.headers["X-Inbound-Timestamp"];
    timestamps.insert(timestamp);
    EXPECT_EQ("sha256=" + Hmac(kSecret, timestamp + "." + call.body),
              call.headers["X-Inbound-Signature"]);
  }
  EXPECT_EQ(3u, timestamps.size());
  EXPECT_EQ(std::to_string(clock_.now / 1000), hooks_.calls[2].headers["X-Inbound-Timestamp"]);

  EXPECT_EQ("upload.completed", body["event"].asString());
  EXPECT_EQ("Test Hospital", body["site"].asString());
  EXPECT_EQ("Standalone", body["role"].asString());
  const Json::Value& upload = body["upload"];
  EXPECT_EQ(id, upload["id"].asString());
  EXPECT_EQ("RCPT-" + id, upload["receiptCode"].asString());
  EXPECT_EQ("neuro", upload["recipient"]["id"].asString());
  EXPECT_EQ("Neuroradiology", upload["recipient"]["name"].asString());
  EXPECT_EQ("a@example.org", upload["sender"]["email"].asString());
  EXPECT_EQ(2, upload["files"].asInt());
  EXPECT_EQ(2000, upload["bytes"].asInt());
  ASSERT_EQ(1u, upload["studies"].size());
  const Json::Value& study = upload["studies"][0];
  EXPECT_EQ("ostudy-" + id + "-0", study["orthancStudyId"].asString());
  EXPECT_EQ("https://orthanc.hospital.example/app/explorer.html#study?uuid=ostudy-" + id + "-0",
            study["link"].asString());
  EXPECT_EQ("CT", study["modalities"][0].asString());
  EXPECT_EQ(1, study["series"].asInt());
  EXPECT_EQ(2, study["instances"].asInt());

  // The admin's view names the same delivery id.
  EXPECT_EQ(delivery, notifier_->Describe("", 10)["notifications"][0]["delivery"].asString());
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

TEST_F(NotifierTest, RetryMakesAFailedNotificationPendingAndDueNow)
{
  Start(R"({"Notifications": {"GiveUpAfter": 1, "AdminEmails": []}, "Webhooks": []})");
  mail_.failAll = true;
  CompleteUpload();
  Run();
  clock_.now += 1000;
  Run();
  const NotificationRecord failed = Only("recipient");
  ASSERT_EQ(NotificationState_Failed, failed.state);

  clock_.now += 5000;
  EXPECT_TRUE(notifier_->Retry(failed.id, "admin"));
  NotificationRecord n = Only("recipient");
  EXPECT_EQ(NotificationState_Pending, n.state);
  EXPECT_EQ(clock_.now, n.nextAttemptAt);
  ASSERT_EQ(1u, Audit("notification-retry").size());
  EXPECT_NE(std::string::npos, Audit("notification-retry")[0].detail.find("admin"));
  EXPECT_FALSE(notifier_->Retry(failed.id + 1000, "admin"));

  mail_.failAll = false;
  EXPECT_EQ(1u, Run());
  EXPECT_EQ(NotificationState_Delivered, Only("recipient").state);
  EXPECT_FALSE(notifier_->Retry(failed.id, "admin")); // delivered: nothing to retry
}

TEST_F(NotifierTest, DescribeCountsAndListsNewestFirst)
{
  Start(R"({"Notifications": {"GiveUpAfter": 1, "AdminAlertInterval": 0}})");
  mail_.failFor = {"neuro@hospital.example"};
  CompleteUpload();
  Run(); // webhook delivered, mail failed once
  clock_.now += 1000;
  Run();                // mail given up
  notifier_->Collect(); // the two admin alert mails and the alert webhook: pending

  const Json::Value all = notifier_->Describe("", 100);
  EXPECT_EQ(3, all["counts"]["pending"].asInt());
  EXPECT_EQ(1, all["counts"]["delivered"].asInt());
  EXPECT_EQ(1, all["counts"]["failed"].asInt());
  ASSERT_EQ(5u, all["notifications"].size());
  for (Json::ArrayIndex i = 1; i < all["notifications"].size(); i++)
  {
    EXPECT_GT(all["notifications"][i - 1]["id"].asInt64(), all["notifications"][i]["id"].asInt64());
  }
  for (const Json::Value& n : all["notifications"])
  {
    const std::string state = n["state"].asString();
    EXPECT_EQ(state == "pending", n["nextAttemptAt"].isString()) << state;
    EXPECT_EQ(state == "delivered", n["deliveredAt"].isString()) << state;
    if (state == "failed")
    {
      EXPECT_EQ("recipient", n["kind"].asString());
      EXPECT_EQ("mail", n["channel"].asString());
      EXPECT_EQ("neuro@hospital.example", n["target"].asString());
      EXPECT_EQ("upload-complete", n["event"].asString());
      EXPECT_EQ(2, n["attempts"].asInt());
      EXPECT_NE(std::string::npos, n["lastError"].asString().find("relay down"));
    }
  }
  const Json::Value failed = notifier_->Describe("failed", 100);
  ASSERT_EQ(1u, failed["notifications"].size());
  EXPECT_EQ(1, failed["counts"]["failed"].asInt());
  EXPECT_EQ(2u, notifier_->Describe("", 2)["notifications"].size());
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

TEST(NotifierStatic, MakeViewerLinkForEachNamedViewer)
{
  const std::string base = "https://orthanc.hospital.example";
  const std::pair<const char*, std::string> expected[] = {
      {"Explorer", base + "/app/explorer.html#study?uuid=OSTUDY"},
      {"Stone", base + "/stone-webviewer/index.html?study=1.2.3"},
      {"OHIF", base + "/ohif/viewer?StudyInstanceUIDs=1.2.3"},
      {"OsimisViewer", base + "/osimis-viewer/app/index.html?study=OSTUDY"},
      {"WebViewer", base + "/web-viewer/app/viewer.html?series=OSERIES"},
      {"https://viewer.example/view?uid={StudyInstanceUID}",
       "https://viewer.example/view?uid=1.2.3"},
      {"{OrthancUrl}/x/{OrthancStudyId}/{OrthancSeriesId}", base + "/x/OSTUDY/OSERIES"}};
  for (const auto& e : expected)
  {
    const Configuration c = MakeConfiguration(
        std::string(
            R"({"Notifications": {"OrthancUrl": "https://orthanc.hospital.example/",
                                  "Viewer": ")") +
        e.first + "\"}}");
    const NotificationSettings& s = c.notifications;
    EXPECT_EQ(e.second, NotificationPayloads::MakeViewerLink(s, "OSTUDY", "1.2.3", "OSERIES")) << e.first;
  }

  const NotificationSettings explorer = MakeConfiguration("{}").notifications;
  EXPECT_EQ("", NotificationPayloads::MakeViewerLink(explorer, "", "1.2.3", "OSERIES"));
  NotificationSettings noUrl = explorer;
  noUrl.orthancUrl = "";
  EXPECT_EQ("", NotificationPayloads::MakeViewerLink(noUrl, "OSTUDY", "1.2.3", "OSERIES"));
  const NotificationSettings web =
      MakeConfiguration(R"({"Notifications": {"Viewer": "WebViewer"}})").notifications;
  EXPECT_EQ("", NotificationPayloads::MakeViewerLink(web, "OSTUDY", "1.2.3", ""));
}

TEST(NotifierStatic, MakeViewerLinkEncodesTheIdentifiers)
{
  // The StudyInstanceUID comes from the sender's file, unchecked: it must not add query
  // parameters, fragments or blanks to a link that the hospital's mail invites to click.
  for (const char* viewer : {"Stone", "OHIF"})
  {
    const NotificationSettings s =
        MakeConfiguration(std::string(R"({"Notifications": {"Viewer": ")") + viewer + "\"}}")
            .notifications;
    const std::string link =
        NotificationPayloads::MakeViewerLink(s, "OSTUDY", "1.2.3&url=https://evil.example/x#y z\nClick", "S");
    EXPECT_EQ(std::string::npos, link.find("&url=")) << link;
    EXPECT_EQ(std::string::npos, link.find_first_of(" \n#")) << link;
  }
}

TEST(NotifierStatic, FormatSizeInEnglishAndGerman)
{
  EXPECT_EQ("0 B", NotificationPayloads::FormatSize(0, "en"));
  EXPECT_EQ("999 B", NotificationPayloads::FormatSize(999, "en"));
  EXPECT_EQ("1.0 kB", NotificationPayloads::FormatSize(1000, "en"));
  EXPECT_EQ("1.2 kB", NotificationPayloads::FormatSize(1234, "en"));
  EXPECT_EQ("12.4 MB", NotificationPayloads::FormatSize(12400000, "en"));
  EXPECT_EQ("5.0 GB", NotificationPayloads::FormatSize(5000000000LL, "en"));
  EXPECT_EQ("3.2 TB", NotificationPayloads::FormatSize(3200000000000LL, "en"));
  EXPECT_EQ("4000.0 TB", NotificationPayloads::FormatSize(4000000000000000LL, "en"));
  EXPECT_EQ("12,4 MB", NotificationPayloads::FormatSize(12400000, "de"));
  EXPECT_EQ("999 B", NotificationPayloads::FormatSize(999, "de"));
  EXPECT_EQ("1,2 kB", NotificationPayloads::FormatSize(1234, "de"));
}

TEST(NotifierStatic, FormatSizeNeverShowsAThousandOfAUnit)
{
  // 999,950 bytes round to "1000.0 kB" when the unit is chosen before rounding.
  EXPECT_EQ("1.0 MB", NotificationPayloads::FormatSize(999950, "en"));
  EXPECT_EQ("1,0 GB", NotificationPayloads::FormatSize(999999999, "de"));
}

TEST(NotifierStatic, SignWebhookMatchesAnIndependentHmac)
{
  const std::vector<std::string> headers = NotificationDelivery::SignWebhook(
      kSecret, "alert", "0123456789abcdef0123456789abcdef", 1770000000, "{\"a\":1}");
  std::map<std::string, std::string> h;
  for (const std::string& line : headers)
  {
    ASSERT_EQ(std::string::npos, line.find_first_of("\r\n"));
    h[line.substr(0, line.find(": "))] = line.substr(line.find(": ") + 2);
  }
  EXPECT_EQ("alert", h["X-Inbound-Event"]);
  EXPECT_EQ("0123456789abcdef0123456789abcdef", h["X-Inbound-Delivery"]);
  EXPECT_EQ("1770000000", h["X-Inbound-Timestamp"]);
  EXPECT_EQ("sha256=" + Hmac(kSecret, "1770000000.{\"a\":1}"), h["X-Inbound-Signature"]);
}

TEST(NotifierLedger, ALedgerWithTheOldItemsSchemaGetsThePatientColumns)
{
  const boost::filesystem::path folder =
      boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%");
  boost::filesystem::create_directories(folder);
  const std::string path = (folder / "ledger.db").string();
  {
    // The schema before notifications (commit 48a1f55), with one upload and one item.
    Orthanc::SQLite::Connection db;
    db.Open(path);
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
