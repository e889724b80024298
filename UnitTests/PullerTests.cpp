#include "Http/ApiError.h"
#include "Peering/Outbox.h"
#include "Peering/Puller.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/Time.h"
#include "Upload/ArchiveSink.h"

#include <boost/filesystem.hpp>

#include <fstream>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  Configuration Load(const std::string& role)
  {
    Json::Value section;
    std::string errors;
    JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors);
    section["Role"] = role;
    if (role == "Internal")
    {
      section["Gateways"].append("dmz");
    }
    return Configuration::Parse(section);
  }

  // The gateway's outbox, reached in-process, with failures to order.
  class FakePeer : public IPeerClient
  {
  public:
    std::string name = "dmz";
    Outbox& outbox;
    std::atomic<bool> stopping{false};
    bool down = false;
    int failAcks = 0;
    int acks = 0;
    int64_t* clockNow = nullptr;  // moved by "itemDelayMs" on every item fetched
    int64_t itemDelayMs = 0;
    int64_t ackDelayMs = 0;    // and by "ackDelayMs" on every acknowledgement

    explicit FakePeer(Outbox& o) : outbox(o)
    {
    }

    const std::string& GetName() const override
    {
      return name;
    }

    bool Call(PeerAnswer& answer, bool post, const std::string& uri, const std::string& body,
              unsigned int timeoutSeconds, uint64_t) override
    {
      if (down)
      {
        return false;
      }
      try
      {
        const std::string prefix = "/inbound/peer/outbox";
        std::string rest = uri.substr(prefix.size());
        answer.status = 200;
        if (rest.empty() || rest[0] == '?')
          answer.body = JsonText::Compact(outbox.List(0, 20, stopping));
        else if (post)
        {
          const std::string id = rest.substr(1, rest.find("/ack") - 1);
          if (failAcks > 0)
          {
            failAcks--;
            return false;  // the link is cut during the acknowledgement
          }
          acks++;
          if (clockNow != nullptr)
          {
            *clockNow += ackDelayMs;  // a slow answer to the acknowledgement
          }
          answer.body = JsonText::Compact(outbox.Acknowledge(id, body.data(), body.size(), "10.0.0.5"));
        }
        else if (rest.find("/items/") != std::string::npos)
        {
          const size_t items = rest.find("/items/");
          if (clockNow != nullptr)
          {
            *clockNow += itemDelayMs;  // a large file over a slow link
          }
          answer.body = outbox.ReadItem(rest.substr(1, items - 1), rest.substr(items + 7));
        }
        else
          answer.body = JsonText::Compact(outbox.GetManifest(rest.substr(1)));
      }
      catch (const ApiError& e)
      {
        answer.status = static_cast<uint16_t>(e.GetStatus());
        answer.body = JsonText::Compact(e.ToJson());
      }
      return true;
    }
  };

  class PullerTest : public ::testing::Test
  {
  protected:
    boost::filesystem::path folder_;
    InboundTests::FakeClock clock_;
    NoUploadPolicy policy_;
    // the gateway
    Configuration gatewayConfiguration_;
    Ledger gatewayLedger_;
    StagingArea staging_;
    UploadService gateway_;
    Outbox outbox_;
    // the inside
    Configuration internalConfiguration_;
    Ledger internalLedger_;
    InboundTests::FakeStore store_;
    ArchiveSink archive_;
    UploadService internal_;
    FakePeer peer_;
    Puller puller_;

  public:
    PullerTest() :
      folder_(boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("pull-%%%%%%")),
      gatewayConfiguration_(Load("Gateway")),
      gatewayLedger_(""),
      staging_(folder_.string()),
      gateway_(gatewayConfiguration_, gatewayLedger_, staging_, policy_, clock_),
      outbox_(gatewayConfiguration_, gatewayLedger_, staging_, clock_),
      internalConfiguration_(Load("Internal")),
      internalLedger_(""),
      archive_(internalConfiguration_, internalLedger_, store_),
      internal_(internalConfiguration_, internalLedger_, archive_, policy_, clock_),
      peer_(outbox_),
      puller_(internal_, internalLedger_, peer_, clock_)
    {
    }

    ~PullerTest()
    {
      boost::filesystem::remove_all(folder_);
    }

    std::string Send(int files, std::vector<std::string>& hashes)
    {
      ClientInfo client;
      client.ip = "203.0.113.9";
      const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
        "recipient": "neuro", "message": "stroke", "consent": {"version": "2026-01", "accepted": true}})";
      const ApiAnswer u = gateway_.Open(body.data(), body.size(), client);
      const std::string id = u.body["id"].asString(), token = u.body["token"].asString();
      for (int i = 0; i < files; i++)
      {
        const std::string file = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3." + std::to_string(i));
        hashes.push_back(Crypto::Sha256Hex(file));
        gateway_.PutFile(id, token, hashes.back(), file.data(), file.size(), client);
      }
      gateway_.Complete(id, token, client);
      return id;
    }

    UploadState GatewayState(const std::string& id)
    {
      UploadRecord r;
      EXPECT_TRUE(gatewayLedger_.LookupUpload(r, id));
      return r.state;
    }
  };
}

TEST_F(PullerTest, PullsVerifiesIsolatesStoresThenAcknowledges)
{
  int completedInside = 0, completedAtGateway = 0;
  internal_.AddCompletionListener([&] { completedInside++; });
  gateway_.AddCompletionListener([&] { completedAtGateway++; });
  std::vector<std::string> hashes;
  const std::string id = Send(3, hashes);
  EXPECT_EQ(1, completedAtGateway);  // a long poll answers at once
  EXPECT_EQ(0, completedInside);
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(1, completedInside);  // the notifier and the forwarder start at once

  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.LookupUpload(inside, id));
  EXPECT_EQ(UploadState_Complete, inside.state);
  EXPECT_EQ("a@example.org", inside.sender.email);
  EXPECT_EQ("neuro", inside.recipientId);
  EXPECT_EQ("203.0.113.9", inside.clientIp);
  EXPECT_EQ(3, inside.files);
  ASSERT_EQ(3u, store_.instances.size());
  for (const auto& instance : store_.instances)
  {
    EXPECT_EQ("INB-" + id + "-1-777", instance.second.patientId);
    const std::string sha = store_.metadata[instance.first]["InboundSha256"];
    EXPECT_NE(hashes.end(), std::find(hashes.begin(), hashes.end(), sha));
  }
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_FALSE(staging_.Exists(id, hashes[0]));
  EXPECT_EQ(1u, puller_.Describe()["delivered"].asUInt());

  EXPECT_TRUE(puller_.RunOnce(0));  // nothing more
  EXPECT_EQ(1, completedInside);
  EXPECT_EQ(3u, store_.instances.size());
}

TEST_F(PullerTest, ACutDuringTheAcknowledgementIsResumedWithoutStoringTwice)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  peer_.failAcks = 1;
  puller_.RunOnce(0);
  EXPECT_EQ(UploadState_Complete, GatewayState(id));  // not acknowledged: still staged
  EXPECT_TRUE(staging_.Exists(id, hashes[1]));
  const int stores = store_.stores;

  puller_.RunOnce(0);
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(stores, store_.stores);  // acknowledged from the ledger, not pulled again
  EXPECT_EQ(2u, store_.instances.size());
}

TEST_F(PullerTest, ATamperedItemIsNeverAcknowledged)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  {
    std::ofstream tamper(staging_.GetPath(id, hashes[1]), std::ios::binary | std::ios::app);
    tamper << "x";
  }
  puller_.RunOnce(0);
  EXPECT_EQ(0, peer_.acks);
  EXPECT_EQ(UploadState_Complete, GatewayState(id));
  EXPECT_TRUE(staging_.Exists(id, hashes[0]));
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.LookupUpload(inside, id));
  EXPECT_EQ(UploadState_Open, inside.state);  // not visible as complete inside
  bool alerted = false;
  for (const AuditEvent& e : internalLedger_.ListHistory(id))
  {
    alerted = alerted || e.event == "alert-upload-held";
  }
  EXPECT_TRUE(alerted);
  ASSERT_EQ(1u, puller_.Describe()["held"].size());
}

TEST_F(PullerTest, AnUnreachableGatewayIsReported)
{
  peer_.down = true;
  EXPECT_FALSE(puller_.RunOnce(0));
  const Json::Value state = puller_.Describe();
  EXPECT_EQ(1u, state["failures"].asUInt());
  EXPECT_TRUE(state["lastContact"].isNull());
  peer_.down = false;
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_FALSE(puller_.Describe()["lastContact"].isNull());
}

namespace
{
  size_t CountEvents(const Ledger& ledger, const std::string& event)
  {
    size_t count = 0;
    for (const AuditEvent& e : ledger.ListAudit(0, 100000))
    {
      count += e.event == event ? 1 : 0;
    }
    return count;
  }
}

TEST_F(PullerTest, AnUnreachableGatewayRaisesOneAlertPerOutage)
{
  puller_.SetAlertAfter(600);
  peer_.down = true;
  EXPECT_FALSE(puller_.RunOnce(0));
  clock_.now += 599 * 1000;
  EXPECT_FALSE(puller_.RunOnce(0));
  EXPECT_EQ(0u, CountEvents(internalLedger_, "alert-gateway-unreachable"));

  clock_.now += 1000;
  EXPECT_FALSE(puller_.RunOnce(0));
  ASSERT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-unreachable"));
  const std::vector<AuditEvent> audit = internalLedger_.ListAudit(0, 100000);
  const AuditEvent& alert = audit.back();
  EXPECT_EQ("alert-gateway-unreachable", alert.event);
  EXPECT_EQ("dmz", alert.ip);
  EXPECT_NE(std::string::npos, alert.detail.find("600 s"));

  clock_.now += 3600 * 1000;
  EXPECT_FALSE(puller_.RunOnce(0));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-unreachable"));  // same outage

  peer_.down = false;
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "gateway-reachable"));
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "gateway-reachable"));

  peer_.down = true;  // a new outage, counted from the last contact
  clock_.now += 1000;
  EXPECT_FALSE(puller_.RunOnce(0));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-unreachable"));
  clock_.now += 600 * 1000;
  EXPECT_FALSE(puller_.RunOnce(0));
  EXPECT_EQ(2u, CountEvents(internalLedger_, "alert-gateway-unreachable"));
}

TEST_F(PullerTest, NoUnreachableAlertWithoutAlertAfter)
{
  peer_.down = true;
  for (int i = 0; i < 5; i++)
  {
    clock_.now += 86400 * 1000;
    EXPECT_FALSE(puller_.RunOnce(0));
  }
  EXPECT_EQ(0u, CountEvents(internalLedger_, "alert-gateway-unreachable"));
}

TEST_F(PullerTest, ALongPullIsNoOutage)
{
  // The gateway answers every call, but fetching the item takes 700 s; the acknowledgement
  // right after is cut once. The gateway was reached a moment ago: no "unreachable" alert.
  puller_.SetAlertAfter(600);
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  peer_.clockNow = &clock_.now;
  peer_.itemDelayMs = 700 * 1000;
  peer_.failAcks = 1;
  puller_.RunOnce(0);
  EXPECT_EQ(UploadState_Complete, GatewayState(id));  // not acknowledged yet
  EXPECT_EQ(0u, CountEvents(internalLedger_, "alert-gateway-unreachable"));
}

TEST_F(PullerTest, AnAcknowledgementIsContactWithTheGateway)
{
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  peer_.clockNow = &clock_.now;
  peer_.ackDelayMs = 300 * 1000;  // the gateway takes 5 minutes to answer the acknowledgement
  ASSERT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  // The last contact is the acknowledgement's answer, not the item's 5 minutes earlier.
  int64_t last = 0;
  ASSERT_TRUE(ParseIso8601(last, puller_.Describe()["lastContact"].asString()));
  EXPECT_EQ(clock_.now, last);
}
