// Unit tests of the pull from gateways: crash-safe resumption, tampered or forged data, outages.
// Over 500 lines: the tests of one feature, the pull, over the one fake gateway they share.
#include "Http/ApiError.h"
#include "Peering/Outbox.h"
#include "Peering/PulledManifest.h"
#include "Peering/Puller.h"
#include "PullerTestSupport.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/Time.h"
#include "Upload/ArchiveSink.h"

#include <boost/filesystem.hpp>

#include <fstream>
#include <functional>

#include <gtest/gtest.h>

using namespace Inbound;
using namespace InboundTests;

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
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
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
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ(UploadState_Open, inside.state);  // not visible as complete inside
  bool alerted = false;
  for (const AuditEvent& e : internalLedger_.Audit().ListHistory(id))
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
  const std::vector<AuditEvent> audit = internalLedger_.Audit().List(0, 100000);
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

// --- A gateway trusted no more than the Internet ------------------------------------------

namespace
{
  bool HasEvent(const Ledger& ledger, const std::string& event, const std::string& text)
  {
    for (const AuditEvent& e : ledger.Audit().List(0, 100000))
    {
      if (e.event == event && e.detail.find(text) != std::string::npos)
      {
        return true;
      }
    }
    return false;
  }

  Json::Value Parsed(const std::string& text)
  {
    Json::Value v;
    EXPECT_TRUE(JsonText::ParseStrict(v, text.data(), text.size())) << text;
    return v;
  }

  Json::Value ValidListing()
  {
    return Parsed(R"({"id": "ABCDEFGHJKLM", "files": 2, "bytes": 3000})");
  }
}

TEST(PulledManifest, EveryFieldIsCheckedWithThePublicRules)
{
  const Configuration configuration = Load("Internal");
  const int64_t now = 1770000000000;  // 2026-02-02T02:40Z
  const Json::Value valid = Parsed(R"({"id": "ABCDEFGHJKLM",
      "createdAt": "2026-02-02T01:00:00.000Z", "completedAt": "2026-02-02T01:10:00.000Z",
      "receiptCode": "K7QZ-2M9X",
      "sender": {"name": "Dr. A", "email": "a@example.org", "institution": "", "phone": ""},
      "recipient": {"id": "neuro", "name": "Neuroradiology"}, "message": "stroke",
      "consent": {"version": "2025-07", "accepted": true}, "language": "",
      "client": {"ip": "::ffff:203.0.113.9", "userAgent": "Firefox\u001b[31m"},
      "items": [{"sha256": ")" + std::string(64, 'a') + R"(", "size": 1000},
                {"sha256": ")" + std::string(64, 'b') + R"(", "size": 2000}]})");
  const PulledManifest ok = PulledManifest::Parse(valid, ValidListing(), configuration, now);
  EXPECT_EQ("ABCDEFGHJKLM", ok.record.id);
  EXPECT_EQ("203.0.113.9", ok.record.clientIp);  // as the public side records it
  EXPECT_EQ("2025-07", ok.record.consentVersion);  // the version the sender accepted
  EXPECT_EQ(std::string::npos, ok.record.userAgent.find('\x1b'));  // made safe
  EXPECT_EQ("neuro", ok.record.recipientId);
  EXPECT_EQ("K7QZ-2M9X", ok.receiptCode);
  EXPECT_EQ(3000u, ok.bytes);
  ASSERT_EQ(2u, ok.items.size());

  struct Case
  {
    const char* name;
    std::function<void(Json::Value& manifest, Json::Value& listing)> forge;
    const char* rule;
  };
  const std::string a(64, 'a');
  const std::vector<Case> cases = {
    {"id not in the public format", [](Json::Value& m, Json::Value& l) { m["id"] = l["id"] = "abc/../x"; }, "not an upload id"},
    {"id with 0 and O", [](Json::Value& m, Json::Value& l) { m["id"] = l["id"] = "ABCDEFGHJK0O"; }, "not an upload id"},
    {"id mismatch", [](Json::Value& m, Json::Value&) { m["id"] = "ABCDEFGHJKLN"; }, "not the id listed"},
    {"not an object", [](Json::Value& m, Json::Value&) { m = Json::arrayValue; }, "not a JSON object"},
    {"client ip", [](Json::Value& m, Json::Value&) { m["client"]["ip"] = "not-an-ip"; }, "client.ip"},
    {"client ip with zone", [](Json::Value& m, Json::Value&) { m["client"]["ip"] = "fe80::1%eth0"; }, "client.ip"},
    {"client missing", [](Json::Value& m, Json::Value&) { m.removeMember("client"); }, "client.ip"},
    {"client as text", [](Json::Value& m, Json::Value&) { m["client"] = "203.0.113.9"; }, "client.ip"},
    {"client as a list", [](Json::Value& m, Json::Value&) { m["client"] = Json::arrayValue; m["client"].append(1); }, "client.ip"},
    {"listing not an object", [](Json::Value&, Json::Value& l) { l = "stroke"; }, "not an upload id"},
    {"user agent not text", [](Json::Value& m, Json::Value&) { m["client"]["userAgent"] = 5; }, "userAgent"},
    {"made-up receipt code", [](Json::Value& m, Json::Value&) { m["receiptCode"] = "ABCD-1234"; }, "receiptCode"},
    {"receipt code format", [](Json::Value& m, Json::Value&) { m["receiptCode"] = "whatever"; }, "receiptCode"},
    {"control character in the name", [](Json::Value& m, Json::Value&) { m["sender"]["name"] = "Dr.\nBcc: x@y"; }, "sender.name"},
    {"name too long", [](Json::Value& m, Json::Value&) { m["sender"]["name"] = std::string(5000, 'x'); }, "sender.name"},
    {"bad e-mail", [](Json::Value& m, Json::Value&) { m["sender"]["email"] = "a@b"; }, "sender.email"},
    {"no sender", [](Json::Value& m, Json::Value&) { m.removeMember("sender"); }, "sender"},
    {"unknown recipient", [](Json::Value& m, Json::Value&) { m["recipient"]["id"] = "cardio"; }, "unknown-recipient"},
    {"recipient as text", [](Json::Value& m, Json::Value&) { m["recipient"] = "neuro"; }, "recipient"},
    {"message with bidi override", [](Json::Value& m, Json::Value&) { m["message"] = "a\x7f"; }, "message"},
    {"consent not accepted", [](Json::Value& m, Json::Value&) { m["consent"]["accepted"] = false; }, "consent-required"},
    {"consent version empty", [](Json::Value& m, Json::Value&) { m["consent"]["version"] = ""; }, "consent.version"},
    {"unknown language", [](Json::Value& m, Json::Value&) { m["language"] = "xx"; }, "language"},
    {"createdAt not a time", [](Json::Value& m, Json::Value&) { m["createdAt"] = "yesterday"; }, "createdAt"},
    {"createdAt in the future", [](Json::Value& m, Json::Value&) { m["createdAt"] = m["completedAt"] = "2026-02-02T03:00:00.000Z"; }, "future"},
    {"completedAt before createdAt", [](Json::Value& m, Json::Value&) { m["completedAt"] = "2026-02-01T00:00:00.000Z"; }, "before createdAt"},
    {"items not an array", [](Json::Value& m, Json::Value&) { m["items"] = Json::objectValue; }, "items"},
    {"no items", [](Json::Value& m, Json::Value& l) { m["items"] = Json::arrayValue; l["files"] = l["bytes"] = 0; }, "non-empty"},
    {"upper-case hash", [](Json::Value& m, Json::Value&) { m["items"][0]["sha256"] = std::string(64, 'A'); }, "sha256"},
    {"duplicate item", [a](Json::Value& m, Json::Value& l) { m["items"][1]["sha256"] = a; m["items"][1]["size"] = 1000; l["bytes"] = 2000; }, "twice"},
    {"size zero", [](Json::Value& m, Json::Value& l) { m["items"][0]["size"] = 0; l["bytes"] = 2000; }, "size"},
    {"size negative", [](Json::Value& m, Json::Value&) { m["items"][0]["size"] = -1; }, "size"},
    {"size not integral", [](Json::Value& m, Json::Value&) { m["items"][0]["size"] = 1.5; }, "size"},
    {"size over MaxFileBytes", [](Json::Value& m, Json::Value& l) { m["items"][0]["size"] = 100001; l["bytes"] = 102001; }, "MaxFileBytes"},
    {"count over MaxFilesPerUpload", [](Json::Value& m, Json::Value& l) {
       m["items"] = Json::arrayValue;
       for (char c : std::string("abcdef")) { Json::Value i; i["sha256"] = std::string(64, c); i["size"] = 10; m["items"].append(i); }
       l["files"] = 6; l["bytes"] = 60; }, "MaxFilesPerUpload"},
    {"sum over MaxBytesPerUpload", [](Json::Value& m, Json::Value& l) {
       m["items"] = Json::arrayValue;
       for (char c : std::string("abc")) { Json::Value i; i["sha256"] = std::string(64, c); i["size"] = 90000; m["items"].append(i); }
       l["files"] = 3; l["bytes"] = 270000; }, "MaxBytesPerUpload"},
    {"listing announces other files", [](Json::Value&, Json::Value& l) { l["files"] = 3; }, "announced"},
    {"listing announces other bytes", [](Json::Value&, Json::Value& l) { l["bytes"] = 1; }, "announced"},
    {"listing without counts", [](Json::Value&, Json::Value& l) { l.removeMember("files"); }, "files of the outbox"},
  };
  for (const Case& c : cases)
  {
    Json::Value m = valid, l = ValidListing();
    c.forge(m, l);
    try
    {
      PulledManifest::Parse(m, l, configuration, now);
      ADD_FAILURE() << c.name << ": accepted";
    }
    catch (const GatewayDataError& e)
    {
      EXPECT_NE(std::string::npos, std::string(e.what()).find(c.rule)) << c.name << ": " << e.what();
    }
  }
}

TEST(PulledManifest, ManifestAnswersAreCappedFromTheFileLimit)
{
  Configuration configuration = Load("Internal");
  const uint64_t small = PulledManifest::GetMaxManifestBytes(configuration);
  EXPECT_GE(small, 64u * 1024);
  EXPECT_LT(small, 1024u * 1024);
  configuration.upload.maxFilesPerUpload = 100000;
  EXPECT_GE(PulledManifest::GetMaxManifestBytes(configuration), 100000u * 100);
  configuration.upload.maxFilesPerUpload = 1000000000;
  EXPECT_EQ(256u * 1024 * 1024, PulledManifest::GetMaxManifestBytes(configuration));
  EXPECT_TRUE(IsReceiptCode("K7QZ-2M9X"));
  EXPECT_FALSE(IsReceiptCode("K7QZ2M9XA"));
  EXPECT_FALSE(IsReceiptCode("k7qz-2m9x"));
  EXPECT_FALSE(IsReceiptCode(std::string("K7QZ-2M9\0", 9)));
}

TEST_F(PullerTest, AForgedManifestIsHeldWithNothingRecorded)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "manifest")
    {
      Json::Value m = Parsed(answer.body);
      m["client"]["ip"] = "not-an-ip";
      answer.body = JsonText::Compact(m);
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  UploadRecord inside;
  EXPECT_FALSE(internalLedger_.Uploads().Lookup(inside, id)); // no row half-made
  EXPECT_EQ(0u, store_.instances.size());
  EXPECT_EQ(0, peer_.calls["item"]);
  EXPECT_EQ(0, peer_.acks);
  EXPECT_EQ(UploadState_Complete, GatewayState(id));
  EXPECT_TRUE(insidePolicy_.opens.empty());
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "gateway \"dmz\""));
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "client.ip"));
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "/inbound/admin/gateways/dmz/held/" + id + "/retry"));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-misbehaving"));
  const Json::Value state = puller_.Describe();
  ASSERT_EQ(1u, state["held"].size());
  EXPECT_EQ(id, state["held"][0].asString());
  EXPECT_NE(std::string::npos, state["heldUploads"][0]["reason"].asString().find("client.ip"));
  EXPECT_EQ(1u, state["badData"]["count"].asUInt());

  // Held: not asked for again, not alerted again, and so after a restart too.
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(1, peer_.calls["manifest"]);
  Puller restarted(internal_, internalLedger_, peer_, clock_);
  EXPECT_TRUE(restarted.RunOnce(0));
  EXPECT_EQ(1, peer_.calls["manifest"]);
  EXPECT_EQ(id, restarted.Describe()["held"][0].asString());
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-upload-held"));

  // An admin releases it: pulled again (the gateway behaves now), delivered.
  peer_.forge = nullptr;
  EXPECT_FALSE(restarted.Release("ZZZZZZZZZZZZ", "admin"));
  EXPECT_TRUE(restarted.Release(id, "admin"));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "pull-released"));
  EXPECT_TRUE(restarted.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(0u, restarted.Describe()["held"].size());
}

TEST_F(PullerTest, AnOutboxEntryWithABadIdIsHeldAndNeverRequested)
{
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "outbox")
    {
      answer.body = R"({"uploads": [{"id": "../../tools/reset", "files": 1, "bytes": 1}]})";
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(0, peer_.calls["manifest"]);
  ASSERT_EQ(1u, puller_.Describe()["held"].size());
  const std::string key = puller_.Describe()["held"][0].asString();
  EXPECT_EQ(0u, key.find("invalid-"));
  EXPECT_EQ(std::string::npos, key.find('/'));  // an admin can release it by a route
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "not an upload id"));
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-upload-held"));
}

TEST_F(PullerTest, AnswersOfTheWrongStatusOrSyntaxAreBadData)
{
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  // A redirect for the outbox: not followed, the gateway is backed off.
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "outbox")
    {
      answer.status = 302;
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(0, peer_.calls["manifest"]);
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-misbehaving"));
  EXPECT_EQ(2000u, puller_.GetPauseMs(clock_.now));

  // A manifest that is not JSON: held.
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "manifest")
    {
      answer.body = "<html>hello</html>";
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(id, puller_.Describe()["held"][0].asString());
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "not a JSON object"));
  EXPECT_EQ(4000u, puller_.GetPauseMs(clock_.now));  // growing
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-misbehaving"));  // once
  EXPECT_EQ(0, peer_.acks);
  EXPECT_EQ(0u, store_.instances.size());
}

TEST_F(PullerTest, AnswersAreCappedAndItemsMustHaveTheirManifestSize)
{
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  ItemRecord item;
  ASSERT_TRUE(gatewayLedger_.Uploads().LookupItem(item, id, hashes[0]));
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "item")
    {
      answer.body += std::string(1000000, 'x');  // more than the manifest says
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(uint64_t(item.size), peer_.maxAnswerBytes["item"]);
  EXPECT_EQ(64u * 1024, peer_.maxAnswerBytes["outbox"]);
  EXPECT_EQ(PulledManifest::GetMaxManifestBytes(internalConfiguration_),
            peer_.maxAnswerBytes["manifest"]);
  EXPECT_EQ(1, peer_.calls["item"]);  // bad data: not fetched again
  EXPECT_EQ(0u, store_.instances.size());
  EXPECT_EQ(0, peer_.acks);
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "larger than"));
  EXPECT_EQ(0u, internalLedger_.Pulls().ListPulling("dmz").size());
}

TEST_F(PullerTest, AShorterItemIsRefused)
{
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "item")
    {
      answer.body.resize(answer.body.size() - 1);
    }
  };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(0u, store_.instances.size());
  EXPECT_EQ(0, peer_.acks);
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "size-mismatch"));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-misbehaving"));
}

TEST_F(PullerTest, PulledFilesPassTheLimitsOfAPublicUpload)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  insidePolicy_.refuseFiles.reset(new ApiError(507, "storage-full", "stopped"));
  EXPECT_FALSE(puller_.RunOnce(0));  // the caller backs off
  ASSERT_EQ(1u, insidePolicy_.opens.size());
  EXPECT_EQ("203.0.113.9 a@example.org", insidePolicy_.opens[0]);
  ASSERT_FALSE(insidePolicy_.files.empty());
  EXPECT_EQ(0u, insidePolicy_.files[0].find("203.0.113.9 a@example.org "));
  EXPECT_EQ(0u, store_.instances.size());
  EXPECT_EQ(0, peer_.acks);
  EXPECT_EQ(0u, puller_.Describe()["held"].size());  // refused for now, not held
  EXPECT_EQ(0u, CountEvents(internalLedger_, "alert-gateway-misbehaving"));

  insidePolicy_.refuseFiles.reset();
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(2u, store_.instances.size());
  // Quotas counted against the sender's address and e-mail.
  EXPECT_EQ(1, internalLedger_.Quotas().GetUsage("ip:203.0.113.9", 0).uploads);
  EXPECT_GT(internalLedger_.Quotas().GetUsage("email:a@example.org", 0).bytes, 0);
}

TEST_F(PullerTest, RoundsHaveAMinimumInterval)
{
  const int64_t started = clock_.now;
  EXPECT_TRUE(puller_.RunOnce(0));  // an empty outbox, answered at once
  EXPECT_EQ(1000u, puller_.GetPauseMs(started));
  clock_.now += 400;
  EXPECT_EQ(600u, puller_.GetPauseMs(started));
  clock_.now += 5000;  // a long poll of 5 s: the next round at once
  EXPECT_EQ(0u, puller_.GetPauseMs(started));
}

TEST_F(PullerTest, BadDataPausesGrowUpToACap)
{
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "outbox")
    {
      answer.body = "not json";
    }
  };
  unsigned int last = 0;
  for (int i = 0; i < 12; i++)
  {
    EXPECT_TRUE(puller_.RunOnce(0));
    const unsigned int pause = puller_.GetPauseMs(clock_.now);
    EXPECT_GE(pause, last);
    last = pause;
  }
  EXPECT_EQ(300000u, last);
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-misbehaving"));
  EXPECT_EQ(300u, puller_.Describe()["badData"]["pauseSeconds"].asUInt());
}

TEST_F(PullerTest, AnItemInProgressIsRetriedOnceAfterACrashAndHeldAfterTwo)
{
  std::vector<std::string> hashes;
  const std::string id = Send(1, hashes);
  size_t whileFetched = 99, whileParsed = 0;
  peer_.onItem = [&] { whileFetched = internalLedger_.Pulls().ListPulling("dmz").size(); };
  insidePolicy_.onFile = [&] { whileParsed = internalLedger_.Pulls().ListPulling("dmz").size(); };
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(0u, whileFetched); // a stop during the transfer holds nothing
  EXPECT_EQ(1u, whileParsed);  // recorded before the checks and the parse
  EXPECT_EQ(0u, internalLedger_.Pulls().ListPulling("dmz").size()); // and cleared after
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));

  // The process dies once while parsing an upload's item (a kill, a power cut): the next
  // start tries it again, and it goes in.
  std::vector<std::string> once;
  const std::string killed = Send(1, once);
  internalLedger_.Pulls().MarkPulling("dmz", killed, once[0], clock_.now);
  {
    Puller restarted(internal_, internalLedger_, peer_, clock_);
    EXPECT_EQ(0u, restarted.Describe()["held"].size());
    ASSERT_EQ(1u, internalLedger_.Pulls().ListPulling("dmz").size());
    EXPECT_EQ(1, internalLedger_.Pulls().ListPulling("dmz")[0].crashes);
    EXPECT_TRUE(restarted.RunOnce(0));
    EXPECT_EQ(UploadState_Delivered, GatewayState(killed));
    EXPECT_EQ(0u, internalLedger_.Pulls().ListPulling("dmz").size());
  }

  // It dies on the same item at two starts in a row: a file that crashes the server is held.
  std::vector<std::string> second;
  const std::string crashed = Send(1, second);
  internalLedger_.Pulls().MarkPulling("dmz", crashed, second[0], clock_.now);
  {
    Puller first(internal_, internalLedger_, peer_, clock_);  // counted, not held
    EXPECT_EQ(0u, first.Describe()["held"].size());
  }
  internalLedger_.Pulls().MarkPulling("dmz", crashed, second[0], clock_.now);  // taken up again
  ASSERT_EQ(1, internalLedger_.Pulls().ListPulling("dmz")[0].crashes);       // count kept
  Puller restarted(internal_, internalLedger_, peer_, clock_);
  EXPECT_EQ(crashed, restarted.Describe()["held"][0].asString());
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "stopped while processing item " + second[0]));
  EXPECT_EQ(0u, internalLedger_.Pulls().ListPulling("dmz").size());
  const int items = peer_.calls["item"];
  EXPECT_TRUE(restarted.RunOnce(0));
  EXPECT_EQ(items, peer_.calls["item"]);  // not parsed again
  EXPECT_EQ(UploadState_Complete, GatewayState(crashed));

  // A marker of another gateway is that gateway's business.
  internalLedger_.Pulls().MarkPulling("other", crashed, second[0], clock_.now);
  Puller again(internal_, internalLedger_, peer_, clock_);
  EXPECT_EQ(1u, internalLedger_.Pulls().ListPulling("other").size());

  // A marker left by a death after the item was recorded is cleared, nothing held.
  internalLedger_.Pulls().MarkPulling("dmz", id, hashes[0], clock_.now);
  Puller afterStore(internal_, internalLedger_, peer_, clock_);
  EXPECT_EQ(0u, internalLedger_.Pulls().ListPulling("dmz").size());
  EXPECT_EQ(1u, afterStore.Describe()["held"].size());  // only the crashed one
}

TEST_F(PullerTest, AnUploadExpiredInsideIsHeldNotAcknowledged)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  peer_.forge = [](const std::string& kind, PeerAnswer& answer) {
    if (kind == "item")
    {
      answer.status = 503;  // the gateway is busy: the upload stays open inside
    }
  };
  EXPECT_FALSE(puller_.RunOnce(0));
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ(clock_.now, inside.updatedAt); // activity here, not the gateway's createdAt
  ASSERT_TRUE(internalLedger_.Uploads().ChangeState(id, {UploadState_Open}, UploadState_Expired,
                                                    clock_.now, "", "idle"));
  peer_.forge = nullptr;
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(0, peer_.acks);  // the gateway keeps the only complete copy
  EXPECT_EQ(UploadState_Complete, GatewayState(id));
  EXPECT_EQ(id, puller_.Describe()["held"][0].asString());
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "expired here"));
}

namespace
{
  // A second (compromised) gateway that replays the first one's outbox: same ids, manifests
  // and items, under its own OrthancPeers name.
  struct SecondGateway
  {
    FakePeer peer;
    Puller puller;

    SecondGateway(Outbox& outbox, UploadService& uploads, Ledger& ledger, const IClock& clock) :
      peer(outbox),
      puller((peer.name = "dmz2", uploads), ledger, peer, clock)
    {
    }
  };

  // "id" listed in an outbox answer, whatever the outbox holds.
  void ListAgain(FakePeer& peer, const std::string& id, size_t files, uint64_t bytes)
  {
    peer.forge = [id, files, bytes](const std::string& kind, PeerAnswer& answer) {
      if (kind == "outbox")
      {
        Json::Value outbox;
        Json::Value entry;
        entry["id"] = id;
        entry["files"] = Json::UInt64(files);
        entry["bytes"] = Json::UInt64(bytes);
        outbox["uploads"].append(entry);
        answer.body = JsonText::Compact(outbox);
      }
    };
  }
}

TEST_F(PullerTest, AGatewayCannotHaveAnotherGatewaysUploadAcknowledged)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  EXPECT_TRUE(puller_.RunOnce(0));
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ("dmz", inside.gateway);

  SecondGateway b(outbox_, internal_, internalLedger_, clock_);
  ListAgain(b.peer, id, 2, inside.bytes);
  EXPECT_TRUE(b.puller.RunOnce(0));
  EXPECT_EQ(0, b.peer.acks);  // never acknowledged to the gateway that did not deliver it
  EXPECT_EQ(0, b.peer.calls["manifest"]);
  EXPECT_EQ(0, b.peer.calls["item"]);
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ("dmz", inside.gateway);
  EXPECT_EQ(2, inside.files);
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "came from gateway \"dmz\""));
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "/inbound/admin/gateways/dmz2/held/" + id));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "alert-gateway-misbehaving"));
  EXPECT_EQ(id, b.puller.Describe()["held"][0].asString());
  EXPECT_EQ(0u, puller_.Describe()["held"].size());  // the honest gateway is not concerned

  // Released by an admin, it is refused again: the origin does not change.
  EXPECT_TRUE(b.puller.Release(id, "admin"));
  EXPECT_TRUE(b.puller.RunOnce(0));
  EXPECT_EQ(0, b.peer.acks);
  EXPECT_EQ(id, b.puller.Describe()["held"][0].asString());
}

TEST_F(PullerTest, AGatewayCannotAddToAnUploadAnotherIsDelivering)
{
  std::vector<std::string> hashes;
  const std::string id = Send(3, hashes);
  int served = 0;
  peer_.forge = [&served](const std::string& kind, PeerAnswer& answer) {
    if (kind == "item" && ++served > 1)
    {
      answer.status = 503;  // busy after one item: the upload stays open inside
    }
  };
  EXPECT_FALSE(puller_.RunOnce(0));
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ(UploadState_Open, inside.state);
  EXPECT_EQ(1, inside.files);
  const int stores = store_.stores;

  // The second gateway names it (with the same manifest and items, or its own): nothing of
  // it is fetched, stored, completed or acknowledged.
  SecondGateway b(outbox_, internal_, internalLedger_, clock_);
  EXPECT_TRUE(b.puller.RunOnce(0));
  EXPECT_EQ(0, b.peer.calls["manifest"]);
  EXPECT_EQ(0, b.peer.calls["item"]);
  EXPECT_EQ(0, b.peer.acks);
  EXPECT_EQ(stores, store_.stores);
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ(UploadState_Open, inside.state);
  EXPECT_EQ(1, inside.files);
  EXPECT_TRUE(HasEvent(internalLedger_, "alert-upload-held", "came from gateway \"dmz\""));

  // The service refuses it too, whatever path a puller takes.
  const std::string file = InboundTests::MakeDicom("999", "9.1", "9.1.2", "9.1.2.3");
  try
  {
    internal_.ReceivePulledFile(id, Crypto::Sha256Hex(file), file.size(), file.data(), file.size(), "dmz2");
    ADD_FAILURE() << "a file of another gateway was accepted";
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ("other-gateway", e.GetCode());
  }
  EXPECT_THROW(internal_.CompletePulledUpload(id, "K7QZ-2M9X", "dmz2"), ApiError);

  // The gateway it came from finishes it as before.
  peer_.forge = nullptr;
  EXPECT_TRUE(puller_.RunOnce(0));
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ(UploadState_Complete, inside.state);
  EXPECT_EQ(3, inside.files);
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(0u, puller_.Describe()["held"].size());
}

TEST_F(PullerTest, TwoGatewaysPullingOneIdAtOnceLeaveItToTheFirst)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  SecondGateway b(outbox_, internal_, internalLedger_, clock_);
  // While the second gateway's manifest is on its way, the first one delivers the upload.
  b.peer.forge = [this](const std::string& kind, PeerAnswer&) {
    if (kind == "manifest")
    {
      EXPECT_TRUE(puller_.RunOnce(0));
    }
  };
  EXPECT_TRUE(b.puller.RunOnce(0));
  EXPECT_EQ(1, b.peer.calls["manifest"]);
  EXPECT_EQ(0, b.peer.calls["item"]);
  EXPECT_EQ(0, b.peer.acks);
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ("dmz", inside.gateway);
  EXPECT_EQ(UploadState_Complete, inside.state);
  EXPECT_EQ(1, peer_.acks);
  EXPECT_EQ(id, b.puller.Describe()["held"][0].asString());
}

TEST_F(PullerTest, AnUploadPulledBeforeOriginsWereRecordedBelongsToTheFirstGatewayNamingIt)
{
  std::vector<std::string> hashes;
  const std::string id = Send(2, hashes);
  // As a ledger of schema 3 has it, half pulled: no token, no gateway recorded.
  UploadRecord legacy;
  ASSERT_TRUE(gatewayLedger_.Uploads().Lookup(legacy, id));
  legacy.tokenHash.clear();
  legacy.gateway.clear();
  legacy.state = UploadState_Open;
  legacy.receiptCode.clear();
  legacy.files = legacy.bytes = 0;
  legacy.completedAt = 0;
  internalLedger_.Uploads().Create(legacy);

  EXPECT_TRUE(puller_.RunOnce(0));  // the only gateway: works exactly as before
  UploadRecord inside;
  ASSERT_TRUE(internalLedger_.Uploads().Lookup(inside, id));
  EXPECT_EQ("dmz", inside.gateway);
  EXPECT_EQ(UploadState_Complete, inside.state);
  EXPECT_EQ(2, inside.files);
  EXPECT_EQ(UploadState_Delivered, GatewayState(id));
  EXPECT_EQ(1u, CountEvents(internalLedger_, "upload-gateway-recorded"));

  // Now the first gateway's: another one naming it is refused.
  SecondGateway b(outbox_, internal_, internalLedger_, clock_);
  ListAgain(b.peer, id, 2, inside.bytes);
  EXPECT_TRUE(b.puller.RunOnce(0));
  EXPECT_EQ(0, b.peer.acks);
  EXPECT_EQ(id, b.puller.Describe()["held"][0].asString());
}
