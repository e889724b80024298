// Unit tests of PartnerStore: per-day figures, last contact, the silence flag.

#include "Ledger/Ledger.h"
#include "LedgerBackends.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const int64_t kDay = 86400000;
  const int64_t kNoon = 1764936000000;  // 2025-12-05 12:00 UTC
}

TEST(PartnerStore, AddsRequestsPerDayAndKeepsTheLastContact)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  PartnerActivity a;
  EXPECT_FALSE(ledger.Partners().Lookup(a, "clinic-a", kNoon, 7));

  PartnerRequestTally stored;
  stored.instances = 3;
  stored.bytes = 3000;
  stored.studies = 1;
  ledger.Partners().RecordRequest("clinic-a", kNoon - kDay, stored);
  ledger.Partners().RecordRequest("clinic-a", kNoon, stored);
  PartnerRequestTally failed;
  failed.failures = 2;
  failed.lastFailureCode = "not-dicom";
  ledger.Partners().RecordRequest("clinic-a", kNoon + 1000, failed);

  ASSERT_TRUE(ledger.Partners().Lookup(a, "clinic-a", kNoon + 2000, 7));
  EXPECT_EQ("clinic-a", a.partnerId);
  EXPECT_EQ(kNoon + 1000, a.lastContactAt);
  EXPECT_EQ(kNoon, a.lastStudyAt);  // the failed request stored nothing
  EXPECT_EQ(kNoon + 1000, a.lastFailureAt);
  EXPECT_EQ("not-dicom", a.lastFailureCode);
  ASSERT_EQ(2u, a.days.size());
  EXPECT_EQ("2025-12-05", a.days[0].day);
  EXPECT_EQ(2u, a.days[0].requests);
  EXPECT_EQ(3u, a.days[0].instances);
  EXPECT_EQ(3000u, a.days[0].bytes);
  EXPECT_EQ(2u, a.days[0].failures);
  EXPECT_EQ(1u, a.days[0].studies);
  EXPECT_EQ("2025-12-04", a.days[1].day);
  EXPECT_EQ(1u, a.days[1].requests);

  // A window of one day leaves yesterday out; a later success keeps the last failure.
  ASSERT_TRUE(ledger.Partners().Lookup(a, "clinic-a", kNoon + 2000, 1));
  ASSERT_EQ(1u, a.days.size());
  ledger.Partners().RecordRequest("clinic-a", kNoon + 3000, stored);
  ASSERT_TRUE(ledger.Partners().Lookup(a, "clinic-a", kNoon + 4000, 7));
  EXPECT_EQ("not-dicom", a.lastFailureCode);
  EXPECT_EQ(kNoon + 3000, a.lastStudyAt);

  const std::vector<PartnerActivity> all = ledger.Partners().List(kNoon, 7);
  ASSERT_EQ(1u, all.size());
  EXPECT_EQ("clinic-a", all[0].partnerId);
  const std::map<std::string, PartnerActivity> byId = ledger.Partners().ListByPartner(kNoon, 7);
  ASSERT_EQ(1u, byId.size());
  EXPECT_EQ(2u, byId.at("clinic-a").days.size());
}

TEST(PartnerStore, TheSilenceAlertIsMarkedOncePerSilence)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Partners().RecordRequest("clinic-a", kNoon, PartnerRequestTally());
  EXPECT_TRUE(ledger.Partners().MarkSilenceAlerted("clinic-a"));
  EXPECT_FALSE(ledger.Partners().MarkSilenceAlerted("clinic-a"));
  PartnerActivity a;
  ASSERT_TRUE(ledger.Partners().Lookup(a, "clinic-a", kNoon, 7));
  EXPECT_TRUE(a.silenceAlerted);

  // It calls again: "resumed" until partner-resumed is written (once); then the next
  // silence raises the alert again.
  EXPECT_FALSE(ledger.Partners().MarkResumeAudited("clinic-a"));
  ledger.Partners().RecordRequest("clinic-a", kNoon + kDay, PartnerRequestTally());
  ASSERT_TRUE(ledger.Partners().Lookup(a, "clinic-a", kNoon + kDay, 7));
  EXPECT_FALSE(a.silenceAlerted);
  EXPECT_TRUE(a.resumed);
  EXPECT_FALSE(ledger.Partners().MarkSilenceAlerted("clinic-a"));
  ledger.Partners().RecordRequest("clinic-a", kNoon + kDay, PartnerRequestTally());
  EXPECT_TRUE(ledger.Partners().MarkResumeAudited("clinic-a"));
  EXPECT_FALSE(ledger.Partners().MarkResumeAudited("clinic-a"));
  ASSERT_TRUE(ledger.Partners().Lookup(a, "clinic-a", kNoon + kDay, 7));
  EXPECT_FALSE(a.resumed);
  ledger.Partners().RecordRequest("clinic-a", kNoon + kDay, PartnerRequestTally());
  EXPECT_FALSE(ledger.Partners().MarkResumeAudited("clinic-a"));  // no alert: nothing resumed
  EXPECT_TRUE(ledger.Partners().MarkSilenceAlerted("clinic-a"));

  // A partner that never called is marked too, once.
  EXPECT_TRUE(ledger.Partners().MarkSilenceAlerted("clinic-b"));
  EXPECT_FALSE(ledger.Partners().MarkSilenceAlerted("clinic-b"));
  ASSERT_TRUE(ledger.Partners().Lookup(a, "clinic-b", kNoon, 7));
  EXPECT_EQ(0, a.lastContactAt);
}
