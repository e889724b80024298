// Unit tests of upload ids: the prefix of Inbound.UploadIdPrefix, by which the nginx site in
// front of several Orthancs routes an upload's requests, on every id an Orthanc mints.
#include "TestSupport.h"
#include "LedgerBackends.h"
#include "Toolbox/UploadId.h"
#include "Upload/ArchiveSink.h"
#include "Upload/IUploadPolicy.h"
#include "Upload/UploadService.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

#include <set>
#include <vector>

using namespace Inbound;

TEST(UploadId, ANewIdStartsWithThePrefixAndKeepsItsForm)
{
  for (const std::string prefix : {"", "A", "G2", "Z29X"})
  {
    std::set<std::string> seen;
    for (int i = 0; i < 200; i++)
    {
      const std::string id = NewUploadId(prefix);
      EXPECT_TRUE(IsUploadId(id)) << id;
      EXPECT_EQ(prefix, id.substr(0, prefix.size())) << id;
      seen.insert(id);
    }
    EXPECT_EQ(200u, seen.size()) << prefix;  // the rest stays random
  }
}

TEST(UploadId, APrefixOutsideTheRulesIsRefused)
{
  for (const std::string& prefix :
       std::vector<std::string>{"ABCDE", "a", "1", "O", "A-", std::string("A\0", 2)})
  {
    EXPECT_THROW(NewUploadId(prefix), Orthanc::OrthancException) << prefix;
  }
}

namespace
{
  // An Orthanc with a prefix: the ids of its uploads, a sender's and a partner's.
  class PrefixedServiceTest : public ::testing::Test
  {
  protected:
    Configuration configuration_;
    Ledger ledger_;
    InboundTests::FakeStore store_;
    InboundTests::FakeClock clock_;
    ArchiveSink sink_;
    NoUploadPolicy policy_;
    UploadService service_;
    ClientInfo client_;

    static Configuration Load()
    {
      Configuration c = InboundTests::MakeConfiguration();
      c.upload.idPrefix = "G2";
      return c;
    }

  public:
    PrefixedServiceTest() :
      configuration_(Load()),
      ledger_(InboundTests::TestLedgerLocation()),
      sink_(configuration_, ledger_, store_, clock_),
      service_(configuration_, ledger_, sink_, policy_, clock_)
    {
      client_.ip = "203.0.113.9";
      client_.userAgent = "test";
    }
  };
}

TEST_F(PrefixedServiceTest, ASendersUploadGetsThePrefix)
{
  const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
    "recipient": "neuro", "consent": {"version": "2026-01", "accepted": true}})";
  for (int i = 0; i < 5; i++)
  {
    const ApiAnswer a = service_.Open(body.data(), body.size(), client_);
    ASSERT_EQ(201, a.status);
    const std::string id = a.body["id"].asString();
    EXPECT_TRUE(IsUploadId(id)) << id;
    EXPECT_EQ("G2", id.substr(0, 2)) << id;
  }
}

TEST_F(PrefixedServiceTest, APartnersUploadGetsThePrefix)
{
  PartnerSettings partner;
  partner.id = "clinic-a";
  partner.name = "Clinic A";
  partner.recipient = "neuro";
  partner.limits.maxFileBytes = configuration_.upload.maxFileBytes;
  partner.limits.maxFilesPerUpload = 5;
  partner.limits.maxBytesPerUpload = configuration_.upload.maxBytesPerUpload;
  configuration_.partners.push_back(partner);

  std::unique_ptr<IPartnerSession> session = service_.OpenPartnerSession(partner, client_);
  const std::string file = InboundTests::MakeDicom("P1", "1.2", "1.2.3", "1.2.3.1");
  const StowItemResult r = session->Add(file.data(), file.size(), "");
  ASSERT_TRUE(r.ok) << r.code;
  session->Close();

  const std::vector<UploadRecord> uploads = ledger_.Uploads().List("", 0, 10);
  ASSERT_EQ(1u, uploads.size());
  EXPECT_TRUE(IsUploadId(uploads[0].id)) << uploads[0].id;
  EXPECT_EQ("G2", uploads[0].id.substr(0, 2)) << uploads[0].id;
}
