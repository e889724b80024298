// Unit tests of a gateway's outbox: listing, manifests, acknowledgements, long polls, retention.
#include "Http/AccessPolicy.h"
#include "LedgerBackends.h"
#include "Http/ApiError.h"
#include "Peering/Outbox.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Upload/UploadService.h"

#include <Toolbox.h>

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  class OutboxTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;
    Configuration configuration_;
    Ledger ledger_;
    StagingArea staging_;
    InboundTests::FakeClock clock_;
    NoUploadPolicy policy_;
    UploadService uploads_;
    Outbox outbox_;
    ClientInfo client_;
    std::atomic<bool> stopping_;

    static Configuration Load()
    {
      Json::Value section;
      std::string errors;
      JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors);
      section["Role"] = "Gateway";
      section["RetentionAlert"] = 3600;
      return Configuration::Parse(section);
    }

  public:
    OutboxTest() :
      folder_(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("outbox-%%%%%%")),
      configuration_(Load()),
      ledger_(InboundTests::TestLedgerLocation()),
      staging_(folder_.string()),
      uploads_(configuration_, ledger_, staging_, policy_, clock_),
      outbox_(configuration_, ledger_, staging_, clock_),
      stopping_(false)
    {
      client_.ip = "203.0.113.9";
    }

    ~OutboxTest()
    {
      boost::filesystem::remove_all(folder_);
    }

    // An upload with "files" files; completed when asked. Returns its id; "hashes" gets them.
    std::string MakeUpload(int files, bool complete, std::vector<std::string>& hashes)
    {
      const std::string body = R"({"sender": {"name": "A", "email": "a@example.org"},
        "recipient": "neuro", "consent": {"version": "2026-01", "accepted": true}})";
      const ApiAnswer u = uploads_.Open(body.data(), body.size(), client_);
      const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
      for (int i = 0; i < files; i++)
      {
        const std::string file = InboundTests::MakeDicom("1", "1.2", "1.2.3", "1.2.3." + std::to_string(i));
        hashes.push_back(Crypto::Sha256Hex(file));
        uploads_.PutFile(id, token, hashes.back(), file.data(), file.size(), client_);
      }
      if (complete)
      {
        uploads_.Complete(id, token, client_);
      }
      return id;
    }

    std::string AckBody(const std::vector<std::string>& hashes)
    {
      Json::Value body(Json::objectValue);
      body["items"] = Json::arrayValue;
      for (const std::string& h : hashes)
      {
        body["items"].append(h);
      }
      return JsonText::Compact(body);
    }
  };
}

TEST_F(OutboxTest, ListsCompleteUploadsOldestFirstWithManifestAndBytes)
{
  std::vector<std::string> first, second, open;
  const std::string a = MakeUpload(2, true, first);
  clock_.now += 1000;
  const std::string b = MakeUpload(1, true, second);
  MakeUpload(1, false, open);  // still open: not in the outbox

  const Json::Value list = outbox_.List(0, 10, stopping_);
  ASSERT_EQ(2u, list["uploads"].size());
  EXPECT_EQ(a, list["uploads"][0]["id"].asString());
  EXPECT_EQ(2, list["uploads"][0]["files"].asInt());
  EXPECT_EQ(b, list["uploads"][1]["id"].asString());

  const Json::Value manifest = outbox_.GetManifest(a);
  EXPECT_EQ("a@example.org", manifest["sender"]["email"].asString());
  EXPECT_EQ("neuro", manifest["recipient"]["id"].asString());
  EXPECT_EQ("203.0.113.9", manifest["client"]["ip"].asString());
  ASSERT_EQ(2u, manifest["items"].size());
  EXPECT_EQ(std::string::npos, JsonText::Compact(manifest).find("neuro@hospital"));  // no address

  const std::string bytes = outbox_.ReadItem(a, first[0]);
  EXPECT_EQ(first[0], Crypto::Sha256Hex(bytes));
  EXPECT_THROW(outbox_.ReadItem(a, Crypto::Sha256Hex("not in this upload")), ApiError);
  EXPECT_THROW(outbox_.ReadItem(a, "../../etc/passwd"), ApiError);
  EXPECT_THROW(outbox_.GetManifest("NOSUCHUPLOAD"), ApiError);
}

TEST_F(OutboxTest, AcknowledgementOfEveryItemDeletesTheStagedData)
{
  std::vector<std::string> hashes;
  const std::string id = MakeUpload(3, true, hashes);

  const std::string partial = AckBody({hashes[0], hashes[1]});
  try
  {
    outbox_.Acknowledge(id, partial.data(), partial.size(), "10.0.0.5");
    FAIL();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(409, e.GetStatus());
    EXPECT_EQ("incomplete-ack", e.GetCode());
  }
  EXPECT_TRUE(staging_.Exists(id, hashes[2]));  // nothing deleted

  const std::string all = AckBody(hashes);
  EXPECT_EQ("delivered", outbox_.Acknowledge(id, all.data(), all.size(), "10.0.0.5")["state"].asString());
  for (const std::string& h : hashes)
  {
    EXPECT_FALSE(staging_.Exists(id, h));
  }
  EXPECT_EQ("delivered", outbox_.Acknowledge(id, all.data(), all.size(), "10.0.0.5")["state"].asString());
  EXPECT_TRUE(outbox_.List(0, 10, stopping_)["uploads"].empty());
  UploadRecord r;
  ASSERT_TRUE(ledger_.Uploads().Lookup(r, id));
  EXPECT_EQ(UploadState_Delivered, r.state);
  EXPECT_TRUE(r.purged);
  EXPECT_THROW(outbox_.ReadItem(id, hashes[0]), ApiError);
}

TEST_F(OutboxTest, LongPollReturnsAtTheDeadlineWhenEmpty)
{
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(outbox_.List(1, 10, stopping_)["uploads"].empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  stopping_ = true;
  const auto again = std::chrono::steady_clock::now();
  outbox_.List(60, 10, stopping_);  // stopping: no wait
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::seconds(1));
}

TEST_F(OutboxTest, UnpulledUploadsRaiseOneRetentionAlert)
{
  std::vector<std::string> hashes;
  const std::string id = MakeUpload(1, true, hashes);
  outbox_.CheckRetention();
  clock_.now += 3601 * 1000;
  outbox_.CheckRetention();
  outbox_.CheckRetention();
  int alerts = 0;
  for (const AuditEvent& e : ledger_.Audit().ListHistory(id))
  {
    alerts += (e.event == "alert-retention") ? 1 : 0;
  }
  EXPECT_EQ(1, alerts);
  EXPECT_TRUE(staging_.Exists(id, hashes[0]));  // an alert, never a deletion
}

TEST(PullerAccess, CredentialsAndNetworkBothRequired)
{
  PullerAccount puller;
  puller.username = "inside";
  puller.password = "a-long-random-secret";
  puller.networks = {"10.1.0.0/16"};
  const AccessPolicy policy({{"admin", "pw"}}, AddressRules(), {puller});
  std::string good, admin;
  Orthanc::Toolbox::EncodeBase64(good, "inside:a-long-random-secret");
  Orthanc::Toolbox::EncodeBase64(admin, "admin:pw");
  EXPECT_EQ(RouteClass_Peer, AccessPolicy::Classify(Orthanc::HttpMethod_Get, "/inbound/peer/outbox"));
  EXPECT_EQ(RouteClass_Peer, AccessPolicy::Classify(Orthanc::HttpMethod_Post, "/inbound/peer/outbox/ABC/ack"));
  EXPECT_TRUE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/inbound/peer/outbox", "Basic " + good, "10.1.2.3"));
  EXPECT_FALSE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/inbound/peer/outbox", "Basic " + good, "203.0.113.9"));
  EXPECT_FALSE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/inbound/peer/outbox", "Basic " + admin, "10.1.2.3"));
  EXPECT_FALSE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/inbound/peer/outbox", "", "10.1.2.3"));
}
