// Unit tests of PartnerWatch and PartnerStatus: the silence alert once per silence, partner-resumed, the admin's views.
#include "Partners/PartnerStatus.h"
#include "LedgerBackends.h"
#include "Partners/PartnerWatch.h"
#include "Http/ApiError.h"
#include "Toolbox/Crypto.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const int64_t kHour = 3600000;

  size_t Count(const Ledger& ledger, const std::string& event, std::string* detail = nullptr)
  {
    size_t count = 0;
    for (const AuditEvent& e : ledger.Audit().List(0, 100000))
    {
      if (e.event == event)
      {
        count++;
        if (detail != nullptr)
        {
          *detail = e.detail;
        }
      }
    }
    return count;
  }

  PartnerSettings MakePartner(const std::string& id, double hours, bool enabled = true)
  {
    PartnerSettings p;
    p.id = id;
    p.name = "Clinic " + id;
    p.institution = "Institution " + id;
    p.recipient = "radiology";
    p.networks = {"192.0.2.0/24"};
    p.enabled = enabled;
    p.limits.silenceAlertHours = hours;
    return p;
  }

  class PartnerWatchTest : public ::testing::Test
  {
  protected:
    InboundTests::FakeClock clock_;
    Ledger ledger_;
    std::vector<PartnerSettings> partners_;
    int64_t start_;

    PartnerWatchTest() :
      ledger_(InboundTests::TestLedgerLocation())
    {
      start_ = clock_.now;
    }

    void Request(const std::string& id, uint64_t instances = 1)
    {
      PartnerRequestTally tally;
      tally.instances = instances;
      tally.bytes = instances * 1000;
      tally.studies = instances > 0 ? 1 : 0;
      ledger_.Partners().RecordRequest(id, clock_.now, tally);
    }
  };
}

TEST_F(PartnerWatchTest, ASilentPartnerIsAlertedOncePerSilenceAndResumesOnItsNextRequest)
{
  partners_ = {MakePartner("clinic-a", 2)};
  PartnerWatch watch(partners_, ledger_, clock_, start_);
  Request("clinic-a");

  clock_.now += 2 * kHour - 1;  // not yet
  EXPECT_EQ(0u, watch.Check());
  clock_.now += 1;
  EXPECT_EQ(1u, watch.Check());
  std::string detail;
  EXPECT_EQ(1u, Count(ledger_, "alert-partner-silent", &detail));
  EXPECT_NE(std::string::npos, detail.find("clinic-a")) << detail;
  EXPECT_NE(std::string::npos, detail.find("Clinic clinic-a")) << detail;
  EXPECT_NE(std::string::npos, detail.find("2 h")) << detail;

  // Once per silence, also for a watch built again after a restart.
  clock_.now += 5 * kHour;
  EXPECT_EQ(0u, watch.Check());
  PartnerWatch restarted(partners_, ledger_, clock_, clock_.now);
  clock_.now += 3 * kHour;
  EXPECT_EQ(0u, restarted.Check());
  EXPECT_EQ(1u, Count(ledger_, "alert-partner-silent"));
  EXPECT_EQ(0u, Count(ledger_, "partner-resumed"));

  // It calls again: resumed once; its next silence is alerted again.
  Request("clinic-a");
  EXPECT_EQ(0u, Count(ledger_, "partner-resumed"));
  EXPECT_EQ(0u, watch.Check());
  EXPECT_EQ(1u, Count(ledger_, "partner-resumed", &detail));
  EXPECT_NE(std::string::npos, detail.find("clinic-a")) << detail;
  EXPECT_EQ(0u, watch.Check());
  EXPECT_EQ(1u, Count(ledger_, "partner-resumed"));
  clock_.now += 2 * kHour;
  EXPECT_EQ(1u, watch.Check());
  EXPECT_EQ(2u, Count(ledger_, "alert-partner-silent"));
}

TEST_F(PartnerWatchTest, APartnerThatNeverCalledIsSilentFromTheStart)
{
  partners_ = {MakePartner("never", 0.5)};
  PartnerWatch watch(partners_, ledger_, clock_, start_);
  clock_.now += kHour / 2 - 1;
  EXPECT_EQ(0u, watch.Check());
  clock_.now += 1;
  EXPECT_EQ(1u, watch.Check());
  std::string detail;
  ASSERT_EQ(1u, Count(ledger_, "alert-partner-silent", &detail));
  EXPECT_NE(std::string::npos, detail.find("no request since the start")) << detail;
  EXPECT_NE(std::string::npos, detail.find("0.5 h")) << detail;
  clock_.now += kHour;
  EXPECT_EQ(0u, watch.Check());

  // Its first request ends the silence.
  Request("never");
  watch.Check();
  EXPECT_EQ(1u, Count(ledger_, "partner-resumed"));
}

TEST_F(PartnerWatchTest, DisabledPartnersAndThoseWithoutAThresholdAreNeverAlerted)
{
  partners_ = {MakePartner("off", 0), MakePartner("revoked", 1, false), MakePartner("on", 1)};
  PartnerWatch watch(partners_, ledger_, clock_, start_);
  clock_.now += 100 * kHour;
  EXPECT_EQ(1u, watch.Check());
  std::string detail;
  EXPECT_EQ(1u, Count(ledger_, "alert-partner-silent", &detail));
  EXPECT_NE(std::string::npos, detail.find("partner on ")) << detail;
  // A partner removed from the configuration is not watched even with figures left.
  Request("removed");
  clock_.now += 100 * kHour;
  EXPECT_EQ(0u, watch.Check());
}

TEST_F(PartnerWatchTest, ASilenceCountsFromTheStartWhenTheLastContactWasBeforeIt)
{
  partners_ = {MakePartner("clinic-a", 2)};
  Request("clinic-a");
  clock_.now += 10 * kHour;  // the plugin was down meanwhile
  PartnerWatch watch(partners_, ledger_, clock_, clock_.now);
  EXPECT_EQ(0u, watch.Check());
  clock_.now += 2 * kHour;
  EXPECT_EQ(1u, watch.Check());
}

TEST_F(PartnerWatchTest, TicksEveryMinuteOrATenthOfTheShortestSilence)
{
  partners_ = {MakePartner("a", 24)};
  EXPECT_EQ(60000, PartnerWatch(partners_, ledger_, clock_, start_).GetIntervalMs());
  partners_ = {MakePartner("a", 24), MakePartner("b", 0.01)};  // 36 s
  EXPECT_EQ(3600, PartnerWatch(partners_, ledger_, clock_, start_).GetIntervalMs());
  partners_ = {MakePartner("a", 0.0001)};  // 0.36 s: at least one second
  EXPECT_EQ(1000, PartnerWatch(partners_, ledger_, clock_, start_).GetIntervalMs());

  // Tick checks at the first call, then only once the interval passed.
  partners_ = {MakePartner("a", 0.01)};
  PartnerWatch watch(partners_, ledger_, clock_, start_);
  clock_.now += 36000;
  watch.Tick();
  EXPECT_EQ(1u, Count(ledger_, "alert-partner-silent"));
  Request("a");
  clock_.now += watch.GetIntervalMs() - 1;
  watch.Tick();
  EXPECT_EQ(0u, Count(ledger_, "partner-resumed"));
  clock_.now += 1;
  watch.Tick();
  EXPECT_EQ(1u, Count(ledger_, "partner-resumed"));
}

TEST_F(PartnerWatchTest, TheListShowsEveryConfiguredPartnerWithItsFigures)
{
  partners_ = {MakePartner("clinic-b", 1), MakePartner("clinic-a", 0)};
  PartnerStatus status(partners_, ledger_, clock_, start_);
  Request("clinic-a", 3);
  PartnerRequestTally failed;
  failed.failures = 2;
  failed.lastFailureCode = "not-dicom";
  ledger_.Partners().RecordRequest("clinic-a", clock_.now, failed);
  const int64_t yesterday = clock_.now - 24 * kHour;
  PartnerRequestTally old;
  old.instances = 5;
  old.bytes = 5000;
  ledger_.Partners().RecordRequest("clinic-a", yesterday, old);
  ledger_.Partners().RecordRequest("clinic-a", clock_.now - 8 * 24 * kHour, old);  // too old

  clock_.now += 2 * kHour;
  const Json::Value list = status.List();
  ASSERT_EQ(2u, list["partners"].size());
  const Json::Value& b = list["partners"][0];  // the configuration's order
  EXPECT_EQ("clinic-b", b["id"].asString());
  EXPECT_TRUE(b["lastContactAt"].isNull());
  EXPECT_TRUE(b["lastFailure"].isNull());
  EXPECT_EQ(0u, b["today"]["requests"].asUInt());
  EXPECT_TRUE(b["silent"].asBool());  // never called, 2 h since the start, 1 h allowed
  EXPECT_EQ(1.0, b["silenceAlertHours"].asDouble());
  EXPECT_EQ("192.0.2.0/24", b["networks"][0].asString());
  EXPECT_EQ("radiology", b["recipient"].asString());
  EXPECT_TRUE(b["enabled"].asBool());

  const Json::Value& a = list["partners"][1];
  EXPECT_EQ("clinic-a", a["id"].asString());
  EXPECT_EQ("Clinic clinic-a", a["name"].asString());
  EXPECT_EQ("Institution clinic-a", a["institution"].asString());
  EXPECT_EQ(FormatIso8601(start_), a["lastContactAt"].asString());
  EXPECT_EQ(FormatIso8601(start_), a["lastStudyAt"].asString());
  EXPECT_EQ(2u, a["today"]["requests"].asUInt());
  EXPECT_EQ(3u, a["today"]["instances"].asUInt());
  EXPECT_EQ(3000u, a["today"]["bytes"].asUInt());
  EXPECT_EQ(2u, a["today"]["failures"].asUInt());
  EXPECT_EQ(1u, a["today"]["studies"].asUInt());
  EXPECT_EQ(3u, a["last7Days"]["requests"].asUInt());
  EXPECT_EQ(8u, a["last7Days"]["instances"].asUInt());
  EXPECT_EQ(8000u, a["last7Days"]["bytes"].asUInt());
  EXPECT_EQ("not-dicom", a["lastFailure"]["code"].asString());
  EXPECT_FALSE(a["silent"].asBool());  // no threshold
  EXPECT_EQ(0u, a["openUploads"].asUInt());
}

TEST_F(PartnerWatchTest, OnePartnerShowsItsUploadsAndAnUnknownOneIsNotFound)
{
  partners_ = {MakePartner("clinic-a", 0)};
  PartnerStatus status(partners_, ledger_, clock_, start_);
  for (int i = 0; i < 22; i++)
  {
    UploadRecord record;
    record.id = "P" + std::to_string(100 + i);
    record.tokenHash = std::string(63, 'a') + std::to_string(i % 10) + std::to_string(i);
    record.state = UploadState_Open;
    record.createdAt = clock_.now + i;
    record.updatedAt = clock_.now + i;
    record.sender.name = "Clinic A";
    record.recipientId = "radiology";
    record.consentVersion = "partner";
    record.partnerId = "clinic-a";
    record.partnerStudy = "1.2.3." + std::to_string(i);
    ledger_.Uploads().Create(record);
  }
  UploadRecord browser;
  browser.id = "B1";
  browser.tokenHash = std::string(64, 'b');
  browser.state = UploadState_Open;
  browser.createdAt = clock_.now + 100;
  browser.updatedAt = browser.createdAt;
  browser.sender.name = "Somebody";
  ledger_.Uploads().Create(browser);

  const Json::Value one = status.Show("clinic-a");
  EXPECT_EQ("clinic-a", one["id"].asString());
  ASSERT_EQ(20u, one["uploads"].size());
  EXPECT_EQ("1.2.3.21", one["uploads"][0]["study"].asString());  // newest first
  EXPECT_EQ("open", one["uploads"][0]["state"].asString());
  EXPECT_TRUE(one["uploads"][0]["gateway"].isNull());
  EXPECT_EQ(22u, one["openUploads"].asUInt());
  EXPECT_EQ(22u, status.List()["partners"][0]["openUploads"].asUInt());

  try
  {
    status.Show("clinic-z");
    FAIL() << "an unknown partner was shown";
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(404, e.GetStatus());
    EXPECT_EQ("not-found", e.GetCode());
  }
}

TEST_F(PartnerWatchTest, ANewTokenIsRandomItsHashMatchesAndOnlyAHashPrefixIsAudited)
{
  PartnerStatus status(partners_, ledger_, clock_, start_);
  const Json::Value first = status.MakeToken("alice", "198.51.100.7");
  const Json::Value second = status.MakeToken("bob", "198.51.100.7");
  const std::string token = first["token"].asString();
  EXPECT_EQ(43u, token.size());  // 256 bits, URL-safe base64 without padding
  EXPECT_EQ(std::string::npos, token.find_first_not_of(
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"));
  EXPECT_NE(token, second["token"].asString());
  EXPECT_EQ(Crypto::Sha256Hex(token), first["tokenSha256"].asString());
  EXPECT_EQ(first["tokenSha256"], first["configuration"]["TokenSha256"]);

  ASSERT_EQ(2u, Count(ledger_, "partner-token-made"));
  for (const AuditEvent& e : ledger_.Audit().List(0, 100))
  {
    EXPECT_EQ(std::string::npos, e.detail.find(token)) << e.detail;
    EXPECT_EQ(std::string::npos, e.detail.find(first["tokenSha256"].asString())) << e.detail;
  }
  std::string detail;
  Count(ledger_, "partner-token-made", &detail);
  EXPECT_NE(std::string::npos, detail.find("bob")) << detail;
  EXPECT_NE(std::string::npos, detail.find(second["tokenSha256"].asString().substr(0, 8)));
}

TEST_F(PartnerWatchTest, AnInternalListsThePartnerLabelsOfWhatGatewaysDelivered)
{
  PartnerStatus status(partners_, ledger_, clock_, start_);  // no Inbound.Partners here
  const auto pulled = [this](const std::string& id, const std::string& partner,
                             const std::string& gateway, int64_t createdAt, int64_t files) {
    UploadRecord record;
    record.id = id;
    record.tokenHash = std::string(60, 'c') + id;
    record.state = UploadState_Complete;
    record.createdAt = createdAt;
    record.updatedAt = createdAt;
    record.files = files;
    record.bytes = files * 100;
    record.gateway = gateway;
    record.partnerId = partner;
    record.partnerStudy = "1.2.3";
    ledger_.Uploads().Create(record);
  };
  pulled("G1", "clinic-a", "dmz", clock_.now - kHour, 3);
  pulled("G2", "clinic-a", "dmz", clock_.now - 2 * kHour, 2);
  pulled("G3", "clinic-a", "dmz", clock_.now - 8 * 24 * kHour, 9);  // before the window
  pulled("G4", "clinic-x", "dmz-2", clock_.now - kHour, 1);
  UploadRecord browser;  // a browser's upload through the gateway: no label
  browser.id = "G5";
  browser.tokenHash = std::string(64, 'd');
  browser.state = UploadState_Complete;
  browser.createdAt = clock_.now;
  browser.gateway = "dmz";
  ledger_.Uploads().Create(browser);

  const Json::Value list = status.List();
  EXPECT_EQ(0u, list["partners"].size());
  ASSERT_EQ(2u, list["pulled"].size());
  EXPECT_EQ("clinic-a", list["pulled"][0]["partner"].asString());
  EXPECT_EQ("dmz", list["pulled"][0]["gateway"].asString());
  EXPECT_EQ(2u, list["pulled"][0]["last7Days"]["uploads"].asUInt());
  EXPECT_EQ(5u, list["pulled"][0]["last7Days"]["instances"].asUInt());
  EXPECT_EQ(500u, list["pulled"][0]["last7Days"]["bytes"].asUInt());
  EXPECT_EQ(FormatIso8601(clock_.now - kHour), list["pulled"][0]["lastUploadAt"].asString());
  EXPECT_EQ("clinic-x", list["pulled"][1]["partner"].asString());
  EXPECT_EQ("dmz-2", list["pulled"][1]["gateway"].asString());
  // A label is no partner of this server.
  EXPECT_THROW(status.Show("clinic-a"), ApiError);
}

TEST_F(PartnerWatchTest, OnePartnerShowsItsRequestsAndSilencesFromTheAuditTrail)
{
  partners_ = {MakePartner("clinic-a", 1), MakePartner("clinic-ab", 0)};
  PartnerStatus status(partners_, ledger_, clock_, start_);
  PartnerWatch watch(partners_, ledger_, clock_, start_);
  clock_.now += kHour;
  watch.Check();  // alert-partner-silent for clinic-a
  Request("clinic-a");
  ledger_.Audit().Add(clock_.now, AuditEventType_PartnerStow, "", "192.0.2.1",
                      "partner clinic-a: 1 stored, 0 failed, 1000 bytes, 1 studies opened");
  ledger_.Audit().Add(clock_.now, AuditEventType_PartnerStow, "", "192.0.2.2",
                      "partner clinic-ab: 5 stored, 0 failed, 5000 bytes, 1 studies opened");
  ledger_.Audit().Add(clock_.now, AuditEventType_FileStored, "", "192.0.2.1",
                      "partner clinic-a: not a partner event");
  watch.Check();  // partner-resumed

  const Json::Value a = status.Show("clinic-a");
  ASSERT_EQ(3u, a["events"].size()) << a["events"].toStyledString();
  EXPECT_EQ("partner-resumed", a["events"][0]["event"].asString());  // newest first
  EXPECT_EQ("partner-stow", a["events"][1]["event"].asString());
  EXPECT_EQ("192.0.2.1", a["events"][1]["ip"].asString());
  EXPECT_EQ(0u, a["events"][1]["detail"].asString().find("partner clinic-a: 1 stored"));
  EXPECT_EQ("alert-partner-silent", a["events"][2]["event"].asString());
  const Json::Value ab = status.Show("clinic-ab");
  ASSERT_EQ(1u, ab["events"].size());
  EXPECT_EQ(0u, ab["events"][0]["detail"].asString().find("partner clinic-ab: 5 stored"));
}
