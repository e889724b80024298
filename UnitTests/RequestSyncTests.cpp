// Unit tests of the Internal's push of request links to gateways and of a pulled upload's binding.
#include "Peering/RequestPush.h"
#include "LedgerBackends.h"
#include "PullerTestSupport.h"
#include "Requests/RequestSync.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const int64_t kDay = 24 * 3600 * 1000;

  // A gateway's request routes, reached in-process: its own ledger and configuration.
  class FakeRequestGateway : public IPeerClient
  {
  public:
    std::string name;
    Configuration configuration = InboundTests::MakeConfiguration("Gateway");
    std::unique_ptr<Ledger> ledger{new Ledger(InboundTests::TestLedgerLocation())};
    const IClock& clock;
    bool down = false;
    int pushes = 0;
    int reads = 0;
    std::function<void(PeerAnswer&)> forge;  // a lying gateway

    FakeRequestGateway(const std::string& n, const IClock& c) :
      name(n),
      clock(c)
    {
    }

    const std::string& GetName() const override
    {
      return name;
    }

    bool Call(PeerAnswer& answer, bool post, const std::string& uri, const std::string& body,
              unsigned int, uint64_t cap) override
    {
      EXPECT_EQ("/inbound/peer/requests", uri);
      if (down)
      {
        return false;
      }
      answer.status = 200;
      try
      {
        (post ? pushes : reads)++;
        answer.body = JsonText::Compact(
          post ? RequestPush::Receive(body.data(), body.size(), configuration, ledger->Requests(),
                                      clock.NowMs())
               : RequestPush::ListStates(ledger->Requests(), clock.NowMs()));
      }
      catch (const ApiError& e)
      {
        answer.status = static_cast<uint16_t>(e.GetStatus());
        answer.body = JsonText::Compact(e.ToJson());
      }
      if (forge)
      {
        forge(answer);
      }
      InboundTests::FakePeer::Cap(answer, cap);
      return true;
    }
  };

  class RequestSyncTest : public ::testing::Test
  {
  protected:
    InboundTests::FakeClock clock_;
    Ledger internal_;
    FakeRequestGateway dmz_;
    FakeRequestGateway second_;
    RequestSync sync_;

    RequestSyncTest() :
      internal_(InboundTests::TestLedgerLocation()),
      dmz_("dmz", clock_),
      second_("second", clock_),
      sync_(internal_, clock_, {&dmz_, &second_})
    {
    }

    RequestRecord Create(const std::string& id, const std::string& recipient = "neuro")
    {
      RequestRecord r;
      r.id = id;
      r.tokenHash = Crypto::Sha256Hex("token " + id);
      r.createdAt = r.updatedAt = clock_.now;
      r.expiresAt = clock_.now + 14 * kDay;
      r.createdBy = "admin";
      r.recipientId = recipient;
      r.message = "Please send the CT";
      r.maxUploads = 1;
      r.challenge = ChallengeKind_BirthDate;
      r.secret = std::string(64, 'B');
      r.revision = 1;
      r.patient.id = "HOSP-0042";
      r.patient.name = "DOE^JANE";
      r.patient.birthDate = "19700101";
      r.senderEmail = "sender@clinic.example";
      internal_.Requests().Create(r);
      EXPECT_TRUE(internal_.Requests().Lookup(r, id));
      return r;
    }

    RequestRecord Inside(const std::string& id)
    {
      RequestRecord r;
      EXPECT_TRUE(internal_.Requests().Lookup(r, id));
      return r;
    }

    // A round now, and another once the states are due again.
    void Rounds()
    {
      sync_.RunOnce();
      clock_.now += RequestSync::kStatesIntervalMs;
      sync_.RunOnce();
    }
  };
}

TEST_F(RequestSyncTest, ARequestIsOnEveryGatewayAtOnceWithoutItsPatient)
{
  const RequestRecord created = Create("REQ234567892");
  const Json::Value gateways = sync_.Publish(created);
  for (FakeRequestGateway* g : {&dmz_, &second_})
  {
    EXPECT_EQ("pushed", gateways[g->name]["state"].asString()) << JsonText::Compact(gateways);
    EXPECT_TRUE(gateways[g->name]["syncedAt"].isString());
    RequestRecord held;
    ASSERT_TRUE(g->ledger->Requests().Lookup(held, "REQ234567892"));
    EXPECT_EQ(created.tokenHash, held.tokenHash);
    EXPECT_EQ(created.secret, held.secret);
    EXPECT_EQ("", held.patient.id);
    EXPECT_EQ("", held.patient.name);
    EXPECT_EQ("", held.patient.birthDate);
    EXPECT_EQ("", held.senderEmail);
    EXPECT_EQ("internal", held.createdBy);
    EXPECT_EQ(1u, InboundTests::CountEvents(*g->ledger, "request-received"));
  }
  // Nothing left to push: a round only reads the states.
  const int pushes = dmz_.pushes;
  Rounds();
  EXPECT_EQ(pushes, dmz_.pushes);
  EXPECT_GE(dmz_.reads, 1);
}

TEST_F(RequestSyncTest, AGatewayDownAtCreationGetsTheRequestAtTheNextRound)
{
  dmz_.down = true;
  const RequestRecord created = Create("REQ234567892");
  Json::Value gateways = sync_.Publish(created);
  EXPECT_EQ("pending", gateways["dmz"]["state"].asString());
  EXPECT_EQ("pushed", gateways["second"]["state"].asString());
  sync_.RunOnce();  // still down: backed off
  RequestRecord held;
  EXPECT_FALSE(dmz_.ledger->Requests().Lookup(held, created.id));

  dmz_.down = false;
  sync_.RunOnce();  // within the back-off: not asked yet
  EXPECT_FALSE(dmz_.ledger->Requests().Lookup(held, created.id));
  clock_.now += 60 * 1000;
  sync_.RunOnce();
  EXPECT_TRUE(dmz_.ledger->Requests().Lookup(held, created.id));
  EXPECT_EQ("pushed", sync_.Describe(created)["dmz"]["state"].asString());
}

TEST_F(RequestSyncTest, ARevocationReachesTheGatewaysAndAGatewaysLockComesBack)
{
  sync_.Publish(Create("REQ234567892"));
  sync_.Publish(Create("REQ234567893"));

  // Revoked inside while "dmz" is down: pending there, pushed at its next round.
  dmz_.down = true;
  ASSERT_TRUE(internal_.Requests().Revoke("REQ234567892", clock_.now, "admin"));
  const Json::Value gateways = sync_.Publish(Inside("REQ234567892"));
  EXPECT_EQ("pending", gateways["dmz"]["state"].asString());
  EXPECT_EQ("pushed", gateways["second"]["state"].asString());
  dmz_.down = false;
  clock_.now += 60 * 1000;
  sync_.RunOnce();
  RequestRecord held;
  ASSERT_TRUE(dmz_.ledger->Requests().Lookup(held, "REQ234567892"));
  EXPECT_EQ("revoked", held.GetStatus(clock_.now));

  // Someone guesses at the challenge on "dmz" until it locks there.
  RequestRecord after;
  for (int i = 0; i < 5; i++)
  {
    dmz_.ledger->Requests().RecordFailure(after, "REQ234567893", clock_.now, "198.51.100.7", 5);
  }
  ASSERT_EQ("locked", after.GetStatus(clock_.now));
  Rounds();
  const RequestRecord inside = Inside("REQ234567893");
  EXPECT_EQ("locked", inside.GetStatus(clock_.now));
  const Json::Value described = sync_.Describe(inside);
  EXPECT_TRUE(described["dmz"]["locked"].asBool()) << JsonText::Compact(described);
  EXPECT_EQ(5, described["dmz"]["failures"].asInt());
  // ... and so it is on the other gateway too: a guesser gets no fresh attempts there.
  Rounds();
  ASSERT_TRUE(second_.ledger->Requests().Lookup(held, "REQ234567893"));
  EXPECT_EQ("locked", held.GetStatus(clock_.now));
  EXPECT_EQ("pushed", sync_.Describe(Inside("REQ234567893"))["second"]["state"].asString());
}

TEST_F(RequestSyncTest, ARecordAGatewayRefusesIsShownAndOfferedAgainLater)
{
  const RequestRecord created = Create("REQ234567892", "trauma");
  const Json::Value gateways = sync_.Publish(created);
  EXPECT_EQ("refused", gateways["dmz"]["state"].asString());
  EXPECT_NE(std::string::npos, gateways["dmz"]["error"].asString().find("unknown-recipient"));
  const int pushes = dmz_.pushes;
  sync_.RunOnce();
  EXPECT_EQ(pushes, dmz_.pushes) << "not every round";

  // Its admin adds the recipient: the next offer is stored.
  Json::Value section;
  std::string errors;
  JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors);
  section["Role"] = "Gateway";
  Json::Value trauma;
  trauma["Id"] = "trauma";
  trauma["Name"] = "Trauma";
  trauma["Email"] = "trauma@hospital.example";
  section["Recipients"].append(trauma);
  dmz_.configuration = Configuration::Parse(section);
  clock_.now += 61 * 1000;
  sync_.RunOnce();
  EXPECT_EQ(pushes + 1, dmz_.pushes);
  EXPECT_EQ("pushed", sync_.Describe(created)["dmz"]["state"].asString());
}

TEST_F(RequestSyncTest, AGatewayThatLostARequestGetsItAgain)
{
  const RequestRecord created = Create("REQ234567892");
  sync_.Publish(created);
  dmz_.ledger.reset(new Ledger(InboundTests::TestLedgerLocation()));  // restored from a backup older than the request
  Rounds();
  RequestRecord held;
  EXPECT_TRUE(dmz_.ledger->Requests().Lookup(held, created.id));
  EXPECT_EQ("pushed", sync_.Describe(created)["dmz"]["state"].asString());
}

TEST_F(RequestSyncTest, ALyingGatewayChangesNothingInside)
{
  const RequestRecord created = Create("REQ234567892");
  sync_.Publish(created);
  const std::vector<std::string> lies = {
    "{\"requests\": [{\"id\": \"REQ234567892\", \"revision\": 1, \"status\": \"locked\","
    " \"usedUploads\": -4, \"failures\": 0, \"lockedAt\": null}]}",
    "{\"requests\": [{\"id\": \"REQ234567892\", \"revision\": 1, \"status\": \"locked\","
    " \"usedUploads\": 0, \"failures\": 0, \"lockedAt\": \"2099-01-01T00:00:00Z\"}]}",
    "<html>",
    std::string(RequestPush::kMaxStatesBytes + 10, ' ')};
  for (const std::string& lie : lies)
  {
    dmz_.forge = [&](PeerAnswer& answer) { answer.body = lie; };
    clock_.now += 5 * 60 * 1000;  // past any back-off
    Rounds();
    EXPECT_EQ("active", Inside(created.id).GetStatus(clock_.now)) << lie.substr(0, 80);
  }
  // Another Internal's request, or a made-up one, in a gateway's list: ignored.
  dmz_.forge = [&](PeerAnswer& answer) {
    answer.body = "{\"requests\": [{\"id\": \"ZZZZZZZZZZZZ\", \"revision\": 9, \"status\": "
                  "\"locked\", \"usedUploads\": 0, \"failures\": 5, \"lockedAt\": \"" +
                  FormatIso8601(clock_.now) + "\"}]}";
  };
  clock_.now += 5 * 60 * 1000;
  Rounds();
  RequestRecord none;
  EXPECT_FALSE(internal_.Requests().Lookup(none, "ZZZZZZZZZZZZ"));
  EXPECT_EQ("active", Inside(created.id).GetStatus(clock_.now));
}

TEST_F(RequestSyncTest, APulledBindingIsCheckedAgainstTheInternalsOwnRequest)
{
  const RequestRecord request = Create("REQ234567892");
  UploadRecord upload = InboundTests::MakePulledUpload("dmz");
  upload.recipientId = "neuro";
  upload.requestId = request.id;
  upload.createdAt = clock_.now + 1000;
  EXPECT_EQ("", RequestSync::CheckPulledBinding(internal_.Requests(), upload));

  UploadRecord other = upload;
  other.requestId = "ZZZZZZZZZZZZ";
  EXPECT_NE("", RequestSync::CheckPulledBinding(internal_.Requests(), other));
  other = upload;
  other.recipientId = "trauma";
  EXPECT_NE("", RequestSync::CheckPulledBinding(internal_.Requests(), other));
  other = upload;
  other.createdAt = request.expiresAt;
  EXPECT_NE("", RequestSync::CheckPulledBinding(internal_.Requests(), other));
  other = upload;
  other.createdAt = request.createdAt - kDay;  // before the request existed
  EXPECT_NE("", RequestSync::CheckPulledBinding(internal_.Requests(), other));

  // Revoked: an upload opened before the revocation keeps its binding, one after does not.
  clock_.now += 3600 * 1000;
  ASSERT_TRUE(internal_.Requests().Revoke(request.id, clock_.now, "admin"));
  EXPECT_EQ("", RequestSync::CheckPulledBinding(internal_.Requests(), upload));
  other = upload;
  other.createdAt = clock_.now + 1;
  EXPECT_NE("", RequestSync::CheckPulledBinding(internal_.Requests(), other));
}

namespace
{
  // The pull of an upload whose manifest names a request (PullerTestSupport's pair).
  class BoundPullTest : public InboundTests::PullerTest
  {
  protected:
    RequestRecord MakeRequest(const std::string& id, int64_t maxUploads)
    {
      RequestRecord r;
      r.id = id;
      r.tokenHash = Crypto::Sha256Hex("token " + id);
      r.createdAt = r.updatedAt = clock_.now - 1000;
      r.expiresAt = clock_.now + 14 * kDay;
      r.recipientId = "neuro";
      r.maxUploads = maxUploads;
      r.secret = std::string(64, 'B');
      r.revision = 1;
      r.patient.id = "HOSP-0042";
      internalLedger_.Requests().Create(r);
      return r;
    }

    // The gateway names "requestId" in the manifest of every upload.
    void Name(const std::string& requestId)
    {
      peer_.forge = [requestId](const std::string& kind, PeerAnswer& answer) {
        Json::Value manifest;
        if (kind == "manifest" &&
            JsonText::ParseStrict(manifest, answer.body.data(), answer.body.size()))
        {
          manifest["request"] = requestId;
          answer.body = JsonText::Compact(manifest);
        }
      };
    }

    std::string BoundTo(const std::string& id)
    {
      UploadRecord r;
      EXPECT_TRUE(internalLedger_.Uploads().Lookup(r, id));
      EXPECT_EQ(UploadState_Complete, r.state);
      return r.requestId;
    }
  };
}

TEST_F(BoundPullTest, AnUploadIsBoundInsideOnlyWithinTheRequestsOwnChecks)
{
  MakeRequest("REQ234567892", 1);
  Name("REQ234567892");
  std::vector<std::string> hashes;
  const std::string first = Send(1, hashes);
  ASSERT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ("REQ234567892", BoundTo(first));
  EXPECT_EQ(0u, InboundTests::CountEvents(internalLedger_, "alert-request-unknown"));

  // Used up (one use): the next one the gateway binds to it is pulled, as an ordinary upload.
  const std::string second = Send(1, hashes);
  ASSERT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ("", BoundTo(second));
  EXPECT_EQ(1u, InboundTests::CountEvents(internalLedger_, "alert-request-unknown"));

  // A request the Internal does not hold: the same.
  Name("ZZZZZZZZZZZZ");
  const std::string third = Send(1, hashes);
  ASSERT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ("", BoundTo(third));
  EXPECT_EQ(2u, InboundTests::CountEvents(internalLedger_, "alert-request-unknown"));
  EXPECT_EQ(GatewayState(third), UploadState_Delivered);

  // Not an id at all: the manifest breaks a rule, the upload is held.
  Name("../../x");
  const std::string fourth = Send(1, hashes);
  puller_.RunOnce(0);
  UploadRecord none;
  EXPECT_FALSE(internalLedger_.Uploads().Lookup(none, fourth));
  EXPECT_EQ(UploadState_Complete, GatewayState(fourth));
}

TEST_F(BoundPullTest, TheGatewaysManifestNamesTheRequestOfABoundUpload)
{
  RequestRecord pushed = MakeRequest("REQ234567892", 2);
  gatewayLedger_.Requests().Upsert(pushed, clock_.now);
  UploadRecord bound;
  bound.id = "ABCDEFGHJKLM";
  bound.state = UploadState_Complete;
  bound.createdAt = bound.updatedAt = bound.completedAt = clock_.now;
  bound.recipientId = "neuro";
  bound.requestId = pushed.id;
  bound.clientIp = "203.0.113.9";
  ASSERT_EQ("", gatewayLedger_.Uploads().Create(bound));
  EXPECT_EQ("REQ234567892", outbox_.GetManifest(bound.id)["request"].asString());

  std::vector<std::string> hashes;
  const std::string open = Send(1, hashes);
  EXPECT_FALSE(outbox_.GetManifest(open).isMember("request"));
}

TEST_F(BoundPullTest, AnInternalTakingRequestUploadsOnlyHoldsEveryOtherUpload)
{
  internalConfiguration_.openUploads = false;
  MakeRequest("REQ234567892", 1);
  Name("REQ234567892");
  std::vector<std::string> hashes;
  const std::string bound = Send(1, hashes);
  ASSERT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ("REQ234567892", BoundTo(bound));

  // Used up, and one bound to nothing: neither is taken, neither acknowledged; both held.
  const std::string usedUp = Send(1, hashes);
  puller_.RunOnce(0);
  peer_.forge = nullptr;
  const std::string open = Send(1, hashes);
  puller_.RunOnce(0);
  for (const std::string& id : {usedUp, open})
  {
    UploadRecord none;
    EXPECT_FALSE(internalLedger_.Uploads().Lookup(none, id)) << id;
    EXPECT_EQ(UploadState_Complete, GatewayState(id)) << id;
  }
  const Json::Value held = puller_.Describe()["held"];
  ASSERT_EQ(2u, held.size()) << JsonText::Compact(held);
  EXPECT_EQ(1u, InboundTests::CountEvents(internalLedger_, "alert-request-unknown"));
  EXPECT_EQ(2u, InboundTests::CountEvents(internalLedger_, "alert-upload-held"));
  EXPECT_EQ(0u, InboundTests::CountEvents(internalLedger_, "alert-gateway-misbehaving"));
}
