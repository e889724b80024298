// Shared by the notifier's unit tests: fake transports, a mail parser, the notifier fixture.
#pragma once

#include "Notify/Notifier.h"
#include "LedgerBackends.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"

#include <json/value.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace NotifierTesting
{
  using namespace Inbound;

  const char* const kSecret = "0123456789abcdef-webhook-secret";
  const char* const kHookUrl = "https://hooks.hospital.example/inbound";

  // Patient data of every test file: none of it may reach a mail without IncludePatientData.
  const char* const kPatientName = "Mustermann^Erika";
  const char* const kPatientBirthDate = "19640812";
  const char* const kPatientId = "PID-4711";
  const char* const kStudyDescription = "Schaedel nativ";
  const char* const kStudyDate = "20251224";

  // The test configuration with "overrides" merged over it (objects one level deep).
  Configuration MakeConfiguration(const std::string& overrides);

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

  // A received mail, taken apart the way a mail client would.
  struct ParsedMail
  {
    std::map<std::string, std::string> headers; // unfolded; "#Name" counts repetitions
    std::string subject;                        // RFC 2047 decoded
    std::string text;
    std::string html;
  };

  ParsedMail ParseMail(const std::string& raw);

  // The lower-case hex HMAC-SHA256, computed with OpenSSL directly (not Crypto).
  std::string Hmac(const std::string& key, const std::string& data);

  Json::Value ParseJson(const std::string& text);

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
    NotifierTest() : ledger_(InboundTests::TestLedgerLocation()), templates_("")
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

    // A complete upload: "studies" studies of two CT files each, with patient data; bound
    // to "request" when given.
    std::string CompleteUpload(const std::string& recipient = "neuro",
                               const std::string& senderEmail = "a@example.org", int studies = 1,
                               const std::string& senderName = "Dr. A",
                               const std::string& request = "")
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
      r.requestId = request;
      EXPECT_EQ("", ledger_.Uploads().Create(r));
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

  // The whole text of a sent mail: raw, subject, text and HTML parts decoded.
  std::string AllOf(const FakeMailTransport::Sent& sent);

  void ExpectNoPatientData(const std::string& text);
}
