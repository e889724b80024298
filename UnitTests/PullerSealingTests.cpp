// Unit tests of the pull of sealed uploads: opening, rotation, every envelope that must not open.
#include "Peering/InternalKeys.h"
#include "PullerTestSupport.h"

#include <Toolbox.h>

using namespace Inbound;
using namespace InboundTests;

namespace
{
  // A gateway that seals what its outbox serves, as a sealing gateway does (doc/Api.md,
  // "Sealed uploads in the outbox"); each test then spoils one part of it.
  class PullerSealingTest : public PullerTest
  {
  protected:
    boost::filesystem::path keys_;
    SealingPrivateKey current_;
    SealingPrivateKey previous_;
    std::unique_ptr<InternalKeys> internalKeys_;
    std::string id_;
    std::vector<std::string> hashes_;
    const SealingPublicKey* sealFor_;  // the gateway seals with this key
    // Changes what is sealed or served: (kind, the plaintext's SHA-256 for items, answer).
    std::function<void(const std::string&, const std::string&, PeerAnswer&)> spoil;

    static SealingPrivateKey NewKey(const boost::filesystem::path& path)
    {
      return SealingPrivateKey::LoadOrCreate(path.string());
    }

  public:
    PullerSealingTest() :
      keys_(boost::filesystem::temp_directory_path() /
            boost::filesystem::unique_path("keys-%%%%%%")),
      current_(NewKey(keys_ / "b.pem")),
      previous_(NewKey(keys_ / "a.pem")),
      internalKeys_(new InternalKeys({current_, previous_}, {"b.pem", "a.pem"})),
      sealFor_(&current_.GetPublicKey())
    {
      puller_.SetKeys(internalKeys_.get());
      peer_.forge = [this](const std::string& kind, PeerAnswer& answer) {
        if (answer.status != 200)
        {
          return;
        }
        std::string sha256;
        if (kind == "manifest")
        {
          SealManifest(answer);
        }
        else if (kind == "item")
        {
          sha256 = Crypto::Sha256Hex(answer.body);
          answer.body = Sealing::Seal(*sealFor_, answer.body, "item:" + id_ + ":" + sha256);
        }
        if (spoil)
        {
          spoil(kind, sha256, answer);
        }
      };
    }

    ~PullerSealingTest()
    {
      boost::filesystem::remove_all(keys_);
    }

    void SealManifest(PeerAnswer& answer)
    {
      Json::Value manifest, fields;
      ASSERT_TRUE(JsonText::ParseStrict(manifest, answer.body.data(), answer.body.size()));
      fields["sender"] = manifest["sender"];
      fields["message"] = manifest["message"];
      fields["userAgent"] = manifest["client"]["userAgent"];
      SetSealedFields(manifest, JsonText::Compact(fields), "fields:" + id_);
      answer.body = JsonText::Compact(manifest);
    }

    void SetSealedFields(Json::Value& manifest, const std::string& fields,
                         const std::string& context)
    {
      std::string base64;
      Orthanc::Toolbox::EncodeBase64(base64, Sealing::Seal(*sealFor_, fields, context));
      manifest["sealing"]["keyId"] = sealFor_->GetId();
      manifest["sealedFields"] = base64;
      manifest["sender"] = Json::objectValue;
      manifest["message"] = "";
      manifest["client"]["userAgent"] = "";
    }

    // The current upload is held for a reason containing "text".
    void ExpectHeldFor(const std::string& text)
    {
      const Json::Value described = puller_.Describe();
      for (const Json::Value& held : described["heldUploads"])
      {
        if (held["id"].asString() == id_ &&
            held["reason"].asString().find(text) != std::string::npos)
        {
          return;
        }
      }
      ADD_FAILURE() << "not held for \"" << text << "\": "
                    << JsonText::Compact(described["heldUploads"]);
    }

    void Send(int files)
    {
      id_ = PullerTest::Send(files, hashes_);
    }

    // What a held upload shows: not acknowledged, kept at the gateway, nothing stored of the
    // item "spoilt" (a hash of hashes_), one alert whose reason contains "reason".
    void ExpectHeld(const std::string& reason, size_t spoilt = 0)
    {
      EXPECT_EQ(0, peer_.acks);
      EXPECT_EQ(UploadState_Complete, GatewayState(id_));
      EXPECT_TRUE(staging_.Exists(id_, hashes_[spoilt]));
      for (const auto& instance : store_.instances)
      {
        EXPECT_NE(hashes_[spoilt], store_.metadata[instance.first]["InboundSha256"]);
      }
      ItemRecord item;
      EXPECT_FALSE(internalLedger_.Uploads().LookupItem(item, id_, hashes_[spoilt]));
      const Json::Value described = puller_.Describe();
      ASSERT_EQ(1u, described["heldUploads"].size());
      EXPECT_EQ(id_, described["heldUploads"][0]["id"].asString());
      const std::string why = described["heldUploads"][0]["reason"].asString();
      EXPECT_NE(std::string::npos, why.find(reason)) << why;
      EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-upload-held"));
      // Never the content: the sender's words are not in the reason.
      EXPECT_EQ(std::string::npos, why.find("a@example.org")) << why;
      EXPECT_EQ(std::string::npos, why.find("stroke")) << why;
    }
  };
}

TEST_F(PullerSealingTest, ASealedUploadIsOpenedCheckedStoredAndAcknowledged)
{
  Send(3);
  EXPECT_TRUE(puller_.RunOnce(0));
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id_));
  EXPECT_EQ(UploadState_Complete, inside.state);
  EXPECT_EQ("a@example.org", inside.sender.email);  // the fields opened and merged
  EXPECT_EQ("Dr. A", inside.sender.name);
  EXPECT_EQ("stroke", inside.message);
  ASSERT_EQ(3u, store_.instances.size());
  for (const auto& instance : store_.instances)
  {
    const std::string sha = store_.metadata[instance.first]["InboundSha256"];
    EXPECT_NE(hashes_.end(), std::find(hashes_.begin(), hashes_.end(), sha));
  }
  EXPECT_EQ(UploadState_Delivered, GatewayState(id_));
  EXPECT_EQ(1, peer_.acks);
  // Each item's answer was capped at its size plus the envelope's overhead.
  UploadRecord staged;
  ASSERT_TRUE(gatewayLedger_.Uploads().Lookup(staged, id_));
  EXPECT_GT(peer_.maxAnswerBytes["item"], Sealing::GetOverhead());
  EXPECT_LE(peer_.maxAnswerBytes["item"], staged.bytes + Sealing::GetOverhead());

  const Json::Value described = internalKeys_->Describe();
  EXPECT_EQ(current_.GetId(), described["keyId"].asString());
  EXPECT_EQ(4u, described["opened"].asUInt());  // the fields and three items
  EXPECT_EQ(0u, described["refused"].asUInt());
  EXPECT_EQ(0u, described["previousKeys"][0]["opened"].asUInt());
}

TEST_F(PullerSealingTest, UploadsSealedForThePreviousKeyAreOpenedToo)
{
  sealFor_ = &previous_.GetPublicKey();
  Send(2);
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(id_));
  EXPECT_EQ(2u, store_.instances.size());
  const Json::Value described = internalKeys_->Describe();
  EXPECT_EQ(3u, described["previousKeys"][0]["opened"].asUInt());
  EXPECT_EQ(previous_.GetId(), described["previousKeys"][0]["keyId"].asString());
}

TEST_F(PullerSealingTest, ItemsOfOneUploadMaySealForDifferentKeys)
{
  // The gateway rotated while the upload was open: its first file sealed for the old key.
  Send(2);
  spoil = [this](const std::string& kind, const std::string& sha256, PeerAnswer& answer) {
    if (kind == "item" && sha256 == hashes_[0])
    {
      const std::string first = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3.0");
      answer.body = Sealing::Seal(previous_.GetPublicKey(), first, "item:" + id_ + ":" + sha256);
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(id_));
  EXPECT_EQ(2u, store_.instances.size());
}

TEST_F(PullerSealingTest, ATamperedEnvelopeIsHeld)
{
  Send(2);
  spoil = [this](const std::string& kind, const std::string& sha256, PeerAnswer& answer) {
    if (kind == "item" && sha256 == hashes_[1])
    {
      answer.body[answer.body.size() / 2] ^= 0x01;
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("sealed for key " + current_.GetId() + " does not open", 1);
  // Nothing of that item stored; the intact one may be, the upload stays incomplete inside.
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id_));
  EXPECT_EQ(UploadState_Open, inside.state);
  EXPECT_EQ(1u, internalKeys_->Describe()["refused"].asUInt());
  Json::Value gateways;
  gateways["gateways"].append(puller_.Describe());
  const Json::Value holds = InternalKeys::ListSealingHolds(gateways);
  ASSERT_EQ(1u, holds.size());
  EXPECT_EQ(current_.GetId(), holds[0]["keyId"].asString());
  EXPECT_EQ("dmz", holds[0]["gateway"].asString());
}

TEST_F(PullerSealingTest, ATruncatedEnvelopeIsHeld)
{
  Send(1);
  spoil = [](const std::string& kind, const std::string&, PeerAnswer& answer) {
    if (kind == "item")
    {
      answer.body.resize(answer.body.size() - 1);
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("does not open");
}

TEST_F(PullerSealingTest, AnEnvelopeMovedFromAnotherItemOrUploadIsHeld)
{
  // The first item's envelope served for the second one: same size, other context.
  Send(2);
  spoil = [this](const std::string& kind, const std::string& sha256, PeerAnswer& answer) {
    if (kind == "item" && sha256 == hashes_[1])
    {
      const std::string first = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3.0");
      answer.body = Sealing::Seal(*sealFor_, first, "item:" + id_ + ":" + hashes_[0]);
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("does not open", 1);
}

TEST_F(PullerSealingTest, AnItemSealedForAnotherUploadIsHeld)
{
  Send(1);
  spoil = [this](const std::string& kind, const std::string& sha256, PeerAnswer& answer) {
    if (kind == "item")
    {
      const std::string file = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3.0");
      answer.body = Sealing::Seal(*sealFor_, file, "item:ZZZZZZZZZZZZ:" + sha256);
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("does not open");
}

TEST_F(PullerSealingTest, APlainItemOfASealedUploadIsHeld)
{
  Send(1);
  spoil = [this](const std::string& kind, const std::string&, PeerAnswer& answer) {
    if (kind == "item")
    {
      answer.body = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3.0");
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("the upload is sealed, but the item is not an envelope");
}

TEST_F(PullerSealingTest, AnEnvelopeForAnUnknownKeyIsHeldAndShown)
{
  const SealingPrivateKey stranger = NewKey(keys_ / "c.pem");
  Send(1);
  spoil = [&](const std::string& kind, const std::string& sha256, PeerAnswer& answer) {
    if (kind == "item")
    {
      const std::string file = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3.0");
      answer.body = Sealing::Seal(stranger.GetPublicKey(), file, "item:" + id_ + ":" + sha256);
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("sealed for key " + stranger.GetId());
  const Json::Value unknown = internalKeys_->Describe()["unknownKeys"];
  ASSERT_EQ(1u, unknown.size());
  EXPECT_EQ(stranger.GetId(), unknown[0]["keyId"].asString());
  EXPECT_EQ(1u, unknown[0]["refused"].asUInt());
}

TEST_F(PullerSealingTest, ASealedFileWithAnotherHashIsHeldAfterOneFetch)
{
  // Sealed correctly, for the right item, but another file of the same size.
  Send(1);
  spoil = [this](const std::string& kind, const std::string& sha256, PeerAnswer& answer) {
    if (kind == "item")
    {
      std::string other = InboundTests::MakeDicom("777", "1.2", "1.2.3", "1.2.3.0");
      other[other.size() - 1] ^= 0x01;
      answer.body = Sealing::Seal(*sealFor_, other, "item:" + id_ + ":" + sha256);
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("does not have the SHA-256 of the manifest");
  EXPECT_EQ(1, peer_.calls["item"]);  // authenticated: fetching again would not help
}

TEST_F(PullerSealingTest, SealedFieldsThatDoNotOpenAreHeld)
{
  Send(1);
  spoil = [this](const std::string& kind, const std::string&, PeerAnswer& answer) {
    if (kind == "manifest")
    {
      Json::Value manifest;
      JsonText::ParseStrict(manifest, answer.body.data(), answer.body.size());
      SetSealedFields(manifest, R"({"sender": {"name": "X", "email": "x@example.org"}})",
                      "fields:ZZZZZZZZZZZZ");  // another upload's
      answer.body = JsonText::Compact(manifest);
    }
  };
  puller_.RunOnce(0);
  ExpectHeld("manifest field \"sealedFields\" does not open");
  UploadRecord inside;
  EXPECT_FALSE(internalLedger_.Uploads().Lookup(inside, id_));  // nothing recorded
  EXPECT_EQ(0, peer_.calls["item"]);
}

TEST_F(PullerSealingTest, SealedFieldsAreCheckedWithThePublicRules)
{
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
    // name -> (fields as sealed, what the hold names)
    {"control characters", {R"({"sender": {"name": "Dr. X\r\nBcc: all@h.example",
                                "email": "x@example.org"}, "message": "", "userAgent": ""})",
                            "sender.name"}},
    {"no e-mail", {R"({"sender": {"name": "Dr. X"}, "message": ""})", "sender.email"}},
    {"not an object", {R"(["sender"])", "does not hold a JSON object"}},
    {"not JSON", {"sender=x", "does not hold a JSON object"}},
    {"an unknown field", {R"({"sender": {"name": "Dr. X", "email": "x@example.org"},
                            "recipient": "trauma"})", "unknown field \"recipient\""}},
  };
  for (const auto& c : cases)
  {
    SCOPED_TRACE(c.first);
    Send(1);
    const std::string fields = c.second.first;
    spoil = [this, fields](const std::string& kind, const std::string&, PeerAnswer& answer) {
      if (kind == "manifest")
      {
        Json::Value manifest;
        JsonText::ParseStrict(manifest, answer.body.data(), answer.body.size());
        SetSealedFields(manifest, fields, "fields:" + id_);
        answer.body = JsonText::Compact(manifest);
      }
    };
    puller_.RunOnce(0);
    ExpectHeldFor(c.second.second);
    EXPECT_EQ(UploadState_Complete, GatewayState(id_));
  }
  EXPECT_EQ(0, peer_.acks);
  EXPECT_TRUE(store_.instances.empty());
}

TEST_F(PullerSealingTest, AManifestSealedAndPlainAtOnceIsHeld)
{
  const std::map<std::string, std::function<void(Json::Value&)>> cases = {
    {"sender", [](Json::Value& m) { m["sender"]["email"] = "other@example.org"; }},
    {"message", [](Json::Value& m) { m["message"] = "other words"; }},
    {"client.userAgent", [](Json::Value& m) { m["client"]["userAgent"] = "Mozilla"; }},
    // A sealed sender's upload relabelled as a partner site's: the label is sealed, or absent.
    {"partner", [](Json::Value& m) { m["partner"] = "clinic-a"; }},
    {"sealing.keyId", [](Json::Value& m) { m["sealing"]["keyId"] = "0123456789abcdef"; }},
    {"sealing.keyId", [](Json::Value& m) { m.removeMember("sealing"); }},
    {"sealedFields", [](Json::Value& m) { m["sealedFields"] = "not base64!"; }},
    {"sealedFields", [](Json::Value& m) { m.removeMember("sealedFields"); }},
  };
  for (const auto& c : cases)
  {
    SCOPED_TRACE(c.first);
    Send(1);
    const auto change = c.second;
    spoil = [change](const std::string& kind, const std::string&, PeerAnswer& answer) {
      if (kind == "manifest")
      {
        Json::Value manifest;
        JsonText::ParseStrict(manifest, answer.body.data(), answer.body.size());
        change(manifest);
        answer.body = JsonText::Compact(manifest);
      }
    };
    puller_.RunOnce(0);
    ExpectHeldFor("\"" + c.first + "\"");
  }
  EXPECT_EQ(0, peer_.acks);
  EXPECT_TRUE(store_.instances.empty());
}

TEST_F(PullerSealingTest, APlainUploadIsStillPulled)
{
  // Staged before sealing was turned on, or by a gateway without keys.
  Send(2);
  peer_.forge = nullptr;
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(id_));
  EXPECT_EQ(2u, store_.instances.size());
}

TEST_F(PullerSealingTest, ASealedUploadWithoutKeysIsHeld)
{
  puller_.SetKeys(nullptr);
  Send(1);
  puller_.RunOnce(0);
  ExpectHeld("the manifest is sealed, but this server has no sealing key");
}
