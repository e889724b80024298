// Unit tests of a partner's STOW-RS intake: uploads per study, refusals, quotas, quiet completion.
#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "Limits/Quotas.h"
#include "Partners/StowResponse.h"
#include "Peering/Outbox.h"
#include "Peering/PulledManifest.h"
#include "Staging/StagingArea.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Upload/ArchiveSink.h"
#include "Upload/UploadService.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace Inbound;
using InboundTests::MakeDicom;

namespace
{
  // The partner checks of LimitsGuard (the site's and the partner's daily quotas), without
  // its other limits.
  class QuotaPolicy : public NoUploadPolicy
  {
  private:
    Quotas quotas_;

  public:
    QuotaPolicy(const Configuration& configuration, const Ledger& ledger, const IClock& clock) :
      quotas_(configuration.quotas, ledger, clock)
    {
    }

    int64_t GetDay() const override
    {
      return quotas_.GetDay();
    }

    void CheckPartner(const std::string& partnerId, uint64_t maxUploads, uint64_t maxBytes,
                      uint64_t addUploads, uint64_t addBytes) override
    {
      quotas_.CheckPartner(partnerId, maxUploads, maxBytes, addUploads, addBytes);
    }
  };

  // The partner checks of a PostgreSQL ledger whose server is away: the quotas read the
  // ledger first, and the ledger throws what PostgresLedgerConnection.cpp throws then.
  class LedgerAwayPolicy : public NoUploadPolicy
  {
  public:
    void CheckPartner(const std::string&, uint64_t, uint64_t, uint64_t, uint64_t) override
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_DatabaseUnavailable,
                                      "The ledger's PostgreSQL server cannot be reached");
    }
  };

  class PartnerSessionTest : public ::testing::Test
  {
  protected:
    Configuration configuration_;
    Ledger ledger_;
    InboundTests::FakeStore store_;
    InboundTests::FakeClock clock_;
    ArchiveSink sink_;
    QuotaPolicy policy_;
    UploadService service_;
    PartnerSettings partner_;
    ClientInfo client_;

  public:
    PartnerSessionTest() :
      configuration_(InboundTests::MakeConfiguration()),
      ledger_(InboundTests::TestLedgerLocation()),
      sink_(configuration_, ledger_, store_, clock_),
      policy_(configuration_, ledger_, clock_),
      service_(configuration_, ledger_, sink_, policy_, clock_)
    {
      partner_.id = "clinic-a";
      partner_.name = "Clinic A";
      partner_.institution = "Clinic A Radiology";
      partner_.email = "pacs@clinic-a.example";
      partner_.recipient = "neuro";
      partner_.limits.quietSeconds = 60;
      partner_.limits.maxFileBytes = configuration_.upload.maxFileBytes;
      partner_.limits.maxFilesPerUpload = 5;
      partner_.limits.maxBytesPerUpload = configuration_.upload.maxBytesPerUpload;
      partner_.limits.dailyStudies = 3;
      configuration_.partners.push_back(partner_);
      client_.ip = "198.51.100.7";
    }

    std::unique_ptr<IPartnerSession> Open()
    {
      return service_.OpenPartnerSession(partner_, client_);
    }

    std::vector<UploadRecord> Uploads(const std::string& state = "")
    {
      return ledger_.Uploads().List(state, 0, 100);
    }

    std::vector<AuditEvent> Audited(const std::string& event)
    {
      std::vector<AuditEvent> found;
      for (const AuditEvent& e : ledger_.Audit().List(0, 1000))
      {
        if (e.event == event)
        {
          found.push_back(e);
        }
      }
      return found;
    }
  };
}

TEST_F(PartnerSessionTest, PartsOfOneStudyGoIntoOneUploadWithThePartnerAsSender)
{
  std::unique_ptr<IPartnerSession> session = Open();
  for (const char* sop : {"1.2.3.1", "1.2.3.2", "1.2.3.3"})
  {
    const std::string file = MakeDicom("P1", "1.2", "1.2.3", sop);
    const StowItemResult r = session->Add(file.data(), file.size(), "");
    EXPECT_TRUE(r.ok) << r.code;
    EXPECT_EQ(sop, r.sopInstance);
    EXPECT_EQ("1.2", r.study);
    EXPECT_EQ("1.2.3", r.series);
    EXPECT_FALSE(r.sopClass.empty());
  }
  session->Close();

  const std::vector<UploadRecord> uploads = Uploads();
  ASSERT_EQ(1u, uploads.size());
  const UploadRecord& u = uploads[0];
  EXPECT_EQ(UploadState_Open, u.state);
  EXPECT_EQ(3, u.files);
  EXPECT_EQ("clinic-a", u.partnerId);
  EXPECT_EQ("1.2", u.partnerStudy);
  EXPECT_EQ("Clinic A", u.sender.name);
  EXPECT_EQ("Clinic A Radiology", u.sender.institution);
  EXPECT_EQ("pacs@clinic-a.example", u.sender.email);
  EXPECT_EQ("neuro", u.recipientId);
  EXPECT_EQ("partner", u.consentVersion);
  EXPECT_EQ("", u.message);
  EXPECT_EQ("", u.userAgent);
  EXPECT_EQ(3u, store_.instances.size());  // isolated in Orthanc, as a sender's files

  // Counted against the partner's quota scope, never a per-address one.
  const int64_t day = policy_.GetDay();
  EXPECT_EQ(1, ledger_.Quotas().GetUsage("partner:clinic-a", day).uploads);
  EXPECT_EQ(u.bytes, ledger_.Quotas().GetUsage("partner:clinic-a", day).bytes);
  EXPECT_EQ(1, ledger_.Quotas().GetUsage("global", day).uploads);
  EXPECT_EQ(0, ledger_.Quotas().GetUsage("client:198.51.100.7", day).bytes);

  PartnerActivity activity;
  ASSERT_TRUE(ledger_.Partners().Lookup(activity, "clinic-a", clock_.now, 1));
  ASSERT_EQ(1u, activity.days.size());
  EXPECT_EQ(1u, activity.days[0].requests);
  EXPECT_EQ(3u, activity.days[0].instances);
  EXPECT_EQ(1u, activity.days[0].studies);
  const std::vector<AuditEvent> audit = Audited("partner-stow");
  ASSERT_EQ(1u, audit.size());
  EXPECT_NE(std::string::npos, audit[0].detail.find("3 stored, 0 failed"));
}

TEST_F(PartnerSessionTest, TwoStudiesInOneRequestAreTwoUploadsAndALaterRequestJoins)
{
  std::unique_ptr<IPartnerSession> session = Open();
  const std::string a = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.1");
  const std::string b = MakeDicom("P2", "1.5", "1.5.3", "1.5.3.1");
  EXPECT_TRUE(session->Add(a.data(), a.size(), "").ok);
  EXPECT_TRUE(session->Add(b.data(), b.size(), "").ok);
  session->Close();
  EXPECT_EQ(2u, Uploads().size());

  clock_.now += 10000;  // within the quiet time: the same upload
  std::unique_ptr<IPartnerSession> second = Open();
  const std::string a2 = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.2");
  EXPECT_TRUE(second->Add(a2.data(), a2.size(), "").ok);
  second->Close();
  EXPECT_EQ(2u, Uploads().size());
}

TEST_F(PartnerSessionTest, SameBytesAgainAreReferencedOtherBytesWithTheSameSopAreRefused)
{
  std::unique_ptr<IPartnerSession> session = Open();
  const std::string first = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.4", "CT");
  const std::string other = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.4", "MR");
  EXPECT_TRUE(session->Add(first.data(), first.size(), "").ok);
  const StowItemResult again = session->Add(first.data(), first.size(), "");
  EXPECT_TRUE(again.ok);
  EXPECT_EQ("1.2.3.4", again.sopInstance);
  const StowItemResult refused = session->Add(other.data(), other.size(), "");
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(StowFailureReason_DuplicateInstance, refused.failureReason);
  EXPECT_EQ("duplicate-instance", refused.code);
  EXPECT_FALSE(refused.transient);
  session->Close();
  EXPECT_EQ(1u, store_.instances.size());
  EXPECT_EQ(1, Uploads()[0].files);
}

TEST_F(PartnerSessionTest, RefusalsAreFailureReasonsAndStoreNothing)
{
  std::unique_ptr<IPartnerSession> session = Open();
  const std::string text = "not a DICOM file at all";
  const StowItemResult notDicom = session->Add(text.data(), text.size(), "");
  EXPECT_EQ(StowFailureReason_CannotUnderstand, notDicom.failureReason);
  EXPECT_EQ("not-dicom", notDicom.code);

  const std::string file = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.1");
  const StowItemResult mismatch = session->Add(file.data(), file.size(), "1.9");
  EXPECT_FALSE(mismatch.ok);
  EXPECT_EQ(StowFailureReason_StudyMismatch, mismatch.failureReason);
  EXPECT_EQ("study-mismatch", mismatch.code);
  EXPECT_EQ("1.2.3.1", mismatch.sopInstance);

  session->Close();
  clock_.now += 1000;  // a later request: its failure is the partner's last one
  partner_.limits.maxFileBytes = file.size() - 1;
  std::unique_ptr<IPartnerSession> small = Open();
  const StowItemResult tooLarge = small->Add(file.data(), file.size(), "");
  EXPECT_EQ(StowFailureReason_TooLarge, tooLarge.failureReason);
  small->Close();

  EXPECT_TRUE(store_.instances.empty());
  EXPECT_TRUE(Uploads().empty());
  PartnerActivity activity;
  ASSERT_TRUE(ledger_.Partners().Lookup(activity, "clinic-a", clock_.now, 1));
  EXPECT_EQ(3u, activity.days[0].failures);
  EXPECT_EQ("too-large", activity.lastFailureCode);
}

TEST_F(PartnerSessionTest, PerUploadCapsOfThePartner)
{
  std::unique_ptr<IPartnerSession> session = Open();
  for (int i = 1; i <= 6; i++)
  {
    const std::string file = MakeDicom("P1", "1.2", "1.2.3", "1.2.3." + std::to_string(i));
    const StowItemResult r = session->Add(file.data(), file.size(), "");
    EXPECT_EQ(i <= 5, r.ok) << i;
    if (i == 6)
    {
      EXPECT_EQ(StowFailureReason_TooLarge, r.failureReason);
    }
  }
  session->Close();
}

TEST_F(PartnerSessionTest, DailyStudiesQuotaIsTransientWithRetryAfter)
{
  std::unique_ptr<IPartnerSession> session = Open();
  for (int i = 1; i <= 4; i++)
  {
    const std::string study = "1." + std::to_string(i);
    const std::string file = MakeDicom("P1", study, study + ".1", study + ".1.1");
    const StowItemResult r = session->Add(file.data(), file.size(), "");
    if (i <= 3)
    {
      EXPECT_TRUE(r.ok) << r.code;
    }
    else
    {
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(StowFailureReason_QuotaExceeded, r.failureReason);
      EXPECT_EQ("quota-exceeded", r.code);
      EXPECT_TRUE(r.transient);
      EXPECT_GE(r.retryAfter, 1u);
      EXPECT_LE(r.retryAfter, 86400u);
    }
  }
  // A study already open still takes parts.
  const std::string more = MakeDicom("P1", "1.1", "1.1.1", "1.1.1.2");
  EXPECT_TRUE(session->Add(more.data(), more.size(), "").ok);
  session->Close();
  EXPECT_EQ(3u, Uploads().size());
}

TEST_F(PartnerSessionTest, TheLedgerAwayIsTransientWithTheRetryAfterOfEveryOtherRoute)
{
  LedgerAwayPolicy away;
  UploadService service(configuration_, ledger_, sink_, away, clock_);
  std::unique_ptr<IPartnerSession> session = service.OpenPartnerSession(partner_, client_);
  const std::string first = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.1");
  const std::string second = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.2");
  std::vector<StowItemResult> results;
  results.push_back(session->Add(first.data(), first.size(), ""));
  results.push_back(session->Add(second.data(), second.size(), ""));
  session->Close();
  for (const StowItemResult& r : results)
  {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ("ledger-unavailable", r.code);  // not "internal-error"
    EXPECT_EQ(StowFailureReason_ServerBusy, r.failureReason);  // A7xx: send it again later
    EXPECT_TRUE(r.transient);
    EXPECT_EQ(5u, r.retryAfter);  // the Retry-After that every other route gives
  }
  // The partner's answer: 503 with "Retry-After: 5", as a sender's upload gets then.
  const StowResponse response = StowResponse::Build(results, "");
  EXPECT_EQ(503, response.status);
  EXPECT_EQ(5u, response.retryAfter);
  EXPECT_TRUE(store_.instances.empty());
  EXPECT_TRUE(Uploads().empty());
}

TEST_F(PartnerSessionTest, QuietUploadsCompleteUnlessARequestStillFeedsThem)
{
  std::unique_ptr<IPartnerSession> session = Open();
  const std::string file = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.1");
  ASSERT_TRUE(session->Add(file.data(), file.size(), "").ok);
  int completions = 0;
  service_.AddCompletionListener([&completions] { completions++; });

  clock_.now += 120000;  // quiet for longer than 60 s, but the request is still running
  service_.CompleteQuietPartnerUploads();
  service_.Sweep();  // Upload.OpenTimeout does not expire partner uploads
  EXPECT_EQ(UploadState_Open, Uploads()[0].state);
  EXPECT_EQ(0, completions);

  session->Close();
  service_.CompleteQuietPartnerUploads();
  const UploadRecord done = Uploads()[0];
  EXPECT_EQ(UploadState_Complete, done.state);
  EXPECT_FALSE(done.receiptCode.empty());
  EXPECT_EQ(1, completions);
  EXPECT_EQ(1u, Audited("upload-complete").size());

  // The study sent again later: a new upload.
  std::unique_ptr<IPartnerSession> later = Open();
  ASSERT_TRUE(later->Add(file.data(), file.size(), "").ok);
  later->Close();
  EXPECT_EQ(2u, Uploads().size());
  EXPECT_EQ(1u, Uploads("open").size());
  service_.CompleteQuietPartnerUploads();  // not quiet yet
  EXPECT_EQ(1u, Uploads("open").size());
  clock_.now += 60000;
  service_.CompleteQuietPartnerUploads();
  EXPECT_EQ(0u, Uploads("open").size());
  EXPECT_EQ(2, completions);
}

TEST_F(PartnerSessionTest, ConcurrentRequestsForOneStudyShareOneUpload)
{
  const int threads = 8;
  partner_.limits.maxFilesPerUpload = 100;
  std::atomic<int> stored(0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; t++)
  {
    workers.emplace_back([this, t, &stored] {
      std::unique_ptr<IPartnerSession> session = Open();
      const std::string file = MakeDicom("P1", "1.2", "1.2.3", "1.2.3." + std::to_string(t + 1));
      if (session->Add(file.data(), file.size(), "").ok)
      {
        stored++;
      }
      session->Close();
    });
  }
  for (std::thread& w : workers)
  {
    w.join();
  }
  EXPECT_EQ(threads, stored.load());
  const std::vector<UploadRecord> uploads = Uploads();
  ASSERT_EQ(1u, uploads.size());  // one upload for the study, whoever came first
  EXPECT_EQ(threads, uploads[0].files);
  EXPECT_EQ(1, ledger_.Quotas().GetUsage("partner:clinic-a", policy_.GetDay()).uploads);
}

TEST(PartnerGateway, TheManifestLabelsThePartnerAndTheInternalTakesItAsALabel)
{
  const boost::filesystem::path folder =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("partner-%%%%%%");
  Configuration gateway = InboundTests::MakeConfiguration("Gateway");
  Ledger ledger(InboundTests::TestLedgerLocation());
  StagingArea staging(folder.string());
  InboundTests::FakeClock clock;
  NoUploadPolicy policy;
  UploadService service(gateway, ledger, staging, policy, clock);
  Outbox outbox(gateway, ledger, staging, clock);
  PartnerSettings partner;
  partner.id = "clinic-a";
  partner.name = "Clinic A";
  partner.recipient = "neuro";  // no e-mail address: optional for a partner
  partner.limits.maxFileBytes = gateway.upload.maxFileBytes;
  partner.limits.maxFilesPerUpload = gateway.upload.maxFilesPerUpload;
  partner.limits.maxBytesPerUpload = gateway.upload.maxBytesPerUpload;
  partner.limits.quietSeconds = 5;
  gateway.partners.push_back(partner);  // its quiet time is read from the configuration

  std::unique_ptr<IPartnerSession> session = service.OpenPartnerSession(partner, ClientInfo{"198.51.100.7", ""});
  const std::string file = MakeDicom("P1", "1.2", "1.2.3", "1.2.3.1");
  ASSERT_TRUE(session->Add(file.data(), file.size(), "").ok);
  session->Close();
  clock.now += 5000;
  service.CompleteQuietPartnerUploads();
  const std::vector<UploadRecord> complete = ledger.Uploads().ListOutbox(10);
  ASSERT_EQ(1u, complete.size());  // in the outbox, as a sender's completed upload

  const Json::Value manifest = outbox.GetManifest(complete[0].id);
  EXPECT_EQ("clinic-a", manifest["partner"].asString());
  EXPECT_EQ("Clinic A", manifest["sender"]["name"].asString());
  EXPECT_EQ("partner", manifest["consent"]["version"].asString());

  Json::Value listing(Json::objectValue);
  listing["id"] = complete[0].id;
  listing["files"] = 1;
  listing["bytes"] = Json::UInt64(file.size());
  Configuration internal = gateway;  // the same recipients and limits inside
  internal.role = Role_Internal;
  const PulledManifest pulled = PulledManifest::Parse(manifest, listing, internal, clock.now);
  EXPECT_EQ("clinic-a", pulled.record.partnerId);
  EXPECT_EQ("", pulled.record.sender.email);
  EXPECT_EQ("Clinic A", pulled.record.sender.name);

  for (const Json::Value& forged : {Json::Value("Clinic A"), Json::Value(7), Json::Value("../x"),
                                    Json::Value(std::string(33, 'a'))})
  {
    Json::Value m = manifest;
    m["partner"] = forged;
    EXPECT_THROW(PulledManifest::Parse(m, listing, internal, clock.now), GatewayDataError);
  }
  Json::Value noPartner = manifest;  // without the label, a sender needs an e-mail address
  noPartner.removeMember("partner");
  EXPECT_THROW(PulledManifest::Parse(noPartner, listing, internal, clock.now), GatewayDataError);
  boost::filesystem::remove_all(folder);
}
