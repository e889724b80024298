// Unit tests of the public limits: quotas, rates, bodies in flight, the data monitor, the guard.
#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "Limits/DataMonitor.h"
#include "Limits/InFlight.h"
#include "Limits/LimitsGuard.h"
#include "Limits/Quotas.h"
#include "Limits/RateLimiter.h"
#include "Limits/TokenBucket.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"

#include <gtest/gtest.h>

using namespace Inbound;

TEST(TokenBucket, TakesRefillsAndTellsTheWait)
{
  TokenBucket bucket(10, 2, 0);  // 10 tokens, 2 per second
  double wait = 0;
  EXPECT_TRUE(bucket.TryTake(10, 0, wait));
  EXPECT_FALSE(bucket.TryTake(1, 0, wait));
  EXPECT_DOUBLE_EQ(0.5, wait);
  EXPECT_TRUE(bucket.TryTake(1, 500, wait));   // half a second later: one token
  EXPECT_FALSE(bucket.TryTake(4, 1000, wait)); // one token now, 4 wanted: 1.5 s more
  EXPECT_DOUBLE_EQ(1.5, wait);
  EXPECT_FALSE(bucket.TryTake(11, 100000, wait));  // more than the capacity: never
  EXPECT_EQ(-1, wait);
  EXPECT_DOUBLE_EQ(10, bucket.GetTokens(100000));  // capped at the capacity
  EXPECT_TRUE(bucket.IsFull(100000));
}

TEST(RateLimiter, PerClientRequestsAndBytes)
{
  InboundTests::FakeClock clock;
  RateLimiter limiter(RateLimits{1, 3, 100, 1000}, clock);
  double wait = 0;
  for (int i = 0; i < 3; i++)
  {
    EXPECT_TRUE(limiter.TakeRequest("a", wait));
  }
  EXPECT_FALSE(limiter.TakeRequest("a", wait));
  EXPECT_DOUBLE_EQ(1, wait);
  EXPECT_TRUE(limiter.TakeRequest("b", wait));  // another client has its own bucket
  clock.now += 1000;
  EXPECT_TRUE(limiter.TakeRequest("a", wait));

  EXPECT_TRUE(limiter.TakeBytes("a", 1000, wait));
  EXPECT_FALSE(limiter.TakeBytes("a", 50, wait));
  EXPECT_DOUBLE_EQ(0.5, wait);
  clock.now += 10000;
  EXPECT_TRUE(limiter.TakeBytes("a", 5000, wait));  // larger than the burst: charged as a burst
}

TEST(RateLimiter, ZeroMeansNoLimit)
{
  InboundTests::FakeClock clock;
  RateLimiter limiter(RateLimits{0, 1, 0, 1}, clock);
  double wait = 0;
  for (int i = 0; i < 100; i++)
  {
    EXPECT_TRUE(limiter.TakeRequest("a", wait));
    EXPECT_TRUE(limiter.TakeBytes("a", 1000000, wait));
  }
  EXPECT_EQ(0u, limiter.CountTrackedClients());
}

TEST(RateLimiter, FilesHaveTheirOwnBucketAndARequestCanBeGivenBack)
{
  InboundTests::FakeClock clock;
  RateLimiter limiter(RateLimits{1, 2, 0, 1, 10, 3}, clock);  // 2 requests, 3 files
  double wait = 0;
  for (int i = 0; i < 3; i++)
  {
    EXPECT_TRUE(limiter.TakeFile("a", wait));
  }
  EXPECT_FALSE(limiter.TakeFile("a", wait));
  EXPECT_DOUBLE_EQ(0.1, wait);
  EXPECT_TRUE(limiter.TakeFile("b", wait));  // per client
  // The files took nothing from the requests; a request given back is there again, never
  // beyond the burst.
  EXPECT_TRUE(limiter.TakeRequest("a", wait));
  EXPECT_TRUE(limiter.TakeRequest("a", wait));
  EXPECT_FALSE(limiter.TakeRequest("a", wait));
  limiter.ReturnRequest("a");
  EXPECT_TRUE(limiter.TakeRequest("a", wait));
  for (int i = 0; i < 5; i++)
  {
    limiter.ReturnRequest("c");
  }
  EXPECT_TRUE(limiter.TakeRequest("c", wait));
  EXPECT_TRUE(limiter.TakeRequest("c", wait));
  EXPECT_FALSE(limiter.TakeRequest("c", wait));
  clock.now += 100;
  EXPECT_TRUE(limiter.TakeFile("a", wait));  // 10 files per second
}

TEST(LimitsGuard, AFileOfAnOpenUploadIsPacedByTheFilesNotTheRequests)
{
  Configuration configuration = InboundTests::MakeConfiguration();
  configuration.limits.requestsPerSecond = 1;
  configuration.limits.requestBurst = 2;
  configuration.limits.filesPerSecond = 1;
  configuration.limits.fileBurst = 5;
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  ClientInfo client;
  client.ip = "192.0.2.7";
  // Each public call takes a request (Routes.cpp); a file of an open upload gives it back.
  for (int i = 0; i < 5; i++)
  {
    guard.CheckRequestRate(client.ip);
    guard.PaceFile(client);
  }
  guard.CheckRequestRate(client.ip);
  try
  {
    guard.PaceFile(client);
    FAIL() << "a sixth file within the burst of five";
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(503, e.GetStatus());
    EXPECT_EQ("rate-limited", e.GetCode());
    EXPECT_EQ("1", e.GetHeaders().at("Retry-After"));
  }
  // That refused file kept its request; a call that is no file (a wrong token) keeps its own:
  // the burst of two is used up now.
  guard.CheckRequestRate(client.ip);
  EXPECT_THROW(guard.CheckRequestRate(client.ip), ApiError);
  clock.now += 1000;
  guard.CheckRequestRate(client.ip);
  guard.PaceFile(client);
  EXPECT_EQ(1, guard.Describe(client.ip)["limits"]["filesPerSecond"].asInt());
  EXPECT_EQ(5, guard.Describe(client.ip)["limits"]["fileBurst"].asInt());
}

TEST(InFlight, BoundsPerClientAndInBytes)
{
  InFlight inFlight(2, 1000);
  uint64_t a1, a2, t;
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(a1, "a", 400, 0));
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(a2, "a", 400, 0));
  EXPECT_EQ(InFlight::Result_ClientBusy, inFlight.Reserve(t, "a", 1, 0));
  EXPECT_EQ(0u, t);
  EXPECT_EQ(InFlight::Result_ServerBusy, inFlight.Reserve(t, "b", 300, 0));
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(t, "b", 200, 0));
  EXPECT_EQ(1000u, inFlight.GetBytes());
  inFlight.Release(a1);
  inFlight.Release(a1);  // twice: no effect
  EXPECT_EQ(1u, inFlight.GetCount("a"));
  EXPECT_EQ(600u, inFlight.GetBytes());
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(t, "c", 400, 0));
  EXPECT_EQ(2u, inFlight.GetRefusals());
  EXPECT_EQ(0u, inFlight.GetCount("nobody"));
}

TEST(InFlight, AbandonedReservationsLapse)
{
  InFlight inFlight(1, 1000);
  uint64_t old, fresh, t;
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(old, "a", 900, 1000));
  EXPECT_EQ(InFlight::Result_ClientBusy, inFlight.Reserve(t, "a", 10, 2000));
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(fresh, "b", 100, 5000));
  EXPECT_EQ(1u, inFlight.Expire(3000));  // the client went away: only its old body lapses
  EXPECT_EQ(100u, inFlight.GetBytes());
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(t, "a", 10, 6000));
  inFlight.Release(old);  // its late release changes nothing
  EXPECT_EQ(110u, inFlight.GetBytes());
  EXPECT_EQ(1u, inFlight.GetLapsed());
}

TEST(InFlight, BytesOnlyReservationsCountInTheBudgetNotPerClient)
{
  InFlight inFlight(1, 1000);
  uint64_t body, extra, more, t;
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(body, "a", 300, 0));
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.ReserveBytes(extra, 500, 0));
  EXPECT_NE(0u, extra);
  EXPECT_EQ(800u, inFlight.GetBytes());
  EXPECT_EQ(500u, inFlight.GetExtraBytes());
  EXPECT_EQ(1u, inFlight.GetCount("a"));   // not another body of the client
  EXPECT_EQ(0u, inFlight.GetCount(""));
  EXPECT_EQ(0u, inFlight.CountInUse());    // nor a body whose handler runs
  EXPECT_EQ(InFlight::Result_ServerBusy, inFlight.ReserveBytes(more, 201, 0));
  EXPECT_EQ(0u, more);
  EXPECT_EQ(InFlight::Result_ServerBusy, inFlight.Reserve(t, "b", 201, 0));
  EXPECT_EQ(2u, inFlight.GetRefusals());
  // Never lapses: its handler runs, however long.
  EXPECT_EQ(1u, inFlight.Expire(1000000));  // the body not marked in use, only
  EXPECT_EQ(500u, inFlight.GetBytes());
  EXPECT_EQ(InFlight::Result_Reserved, inFlight.Reserve(t, "a", 500, 0));
  EXPECT_EQ(InFlight::Result_ServerBusy, inFlight.ReserveBytes(more, uint64_t(1) << 63, 0));
  inFlight.Release(extra);
  EXPECT_EQ(500u, inFlight.GetBytes());
  EXPECT_EQ(0u, inFlight.GetExtraBytes());
  EXPECT_EQ(1u, inFlight.GetCount("a"));  // releasing it leaves the client's body counted
  inFlight.Release(extra);
  EXPECT_EQ(500u, inFlight.GetBytes());

  InFlight unlimited(1, 0);
  EXPECT_EQ(InFlight::Result_Reserved, unlimited.ReserveBytes(more, uint64_t(1) << 40, 0));
}

TEST(Quotas, DailyCountersAndRetryAfterUntilMidnight)
{
  InboundTests::FakeClock clock;
  clock.now = 86400000LL * 20000 + 3600000;  // 01:00 UTC
  Ledger ledger(InboundTests::TestLedgerLocation());
  QuotaLimits limits;
  limits.uploadsPerClient = 2;
  limits.bytesPerSender = 1000;
  Quotas quotas(limits, ledger, clock);
  EXPECT_EQ(23 * 3600, quotas.GetSecondsUntilReset());

  UploadRecord upload;
  upload.id = "U1";
  upload.sender.email = "A@Example.org";
  for (int i = 0; i < 2; i++)
  {
    quotas.CheckUpload("1.2.3.4", upload.sender.email);
    upload.id = "U" + std::to_string(i);
    ledger.Uploads().Create(upload, Quotas::GetScopes("1.2.3.4", upload.sender.email),
                            quotas.GetDay());
  }
  try
  {
    quotas.CheckUpload("1.2.3.4", "other@example.org");
    FAIL();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(503, e.GetStatus());
    EXPECT_EQ("quota-exceeded", e.GetCode());
    EXPECT_EQ(std::to_string(23 * 3600), e.GetHeaders().at("Retry-After"));
  }
  quotas.CheckUpload("5.6.7.8", "other@example.org");  // another address is fine

  ItemRecord item;
  item.uploadId = "U1";
  item.sha256 = "aa";
  item.size = 900;
  ledger.Uploads().AddItem(item, "1.2.3.4", Quotas::GetScopes("1.2.3.4", "a@example.org"),
                           quotas.GetDay());
  quotas.CheckBytes("9.9.9.9", "a@example.org", 100);
  EXPECT_THROW(quotas.CheckBytes("9.9.9.9", "A@EXAMPLE.ORG", 101), ApiError);  // case-blind
  EXPECT_EQ(900u, quotas.GetBytesToday());

  clock.now += 23 * 3600 * 1000;  // the next day
  quotas.CheckUpload("1.2.3.4", "a@example.org");
  quotas.CheckBytes("9.9.9.9", "a@example.org", 1000);
}

TEST(DataMonitor, WarnsStopsAndRecovers)
{
  uint64_t free = 100;
  std::vector<std::string> alerts;
  DataMonitorLimits limits;
  limits.warnFreeBytes = 50;
  limits.stopFreeBytes = 20;
  limits.warnBytesPerDay = 500;
  limits.stopBytesPerDay = 1000;
  DataMonitor monitor(limits, {"/data"}, [&](const std::string&) { return free; },
                      [&](AuditEventType alert, const std::string&) {
                        alerts.push_back(EnumerationToString(alert));
                      });
  monitor.Update(1, 0);
  EXPECT_EQ(DataMonitorState_Ok, monitor.GetState());
  EXPECT_TRUE(alerts.empty());

  free = 40;
  monitor.Update(1, 0);
  EXPECT_EQ(DataMonitorState_Warning, monitor.GetState());
  monitor.CheckAccepting();
  monitor.Update(1, 0);
  EXPECT_EQ(1u, alerts.size());  // once per change, not once per check

  free = 10;
  monitor.Update(1, 0);
  EXPECT_EQ(DataMonitorState_Stopped, monitor.GetState());
  try
  {
    monitor.CheckAccepting();
    FAIL();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(507, e.GetStatus());
    EXPECT_EQ("storage-full", e.GetCode());
  }
  free = 100;
  monitor.Update(1, 0);
  EXPECT_EQ(DataMonitorState_Ok, monitor.GetState());  // space returned
  ASSERT_EQ(3u, alerts.size());
  EXPECT_EQ("alert-data-monitor-warning", alerts[0]);
  EXPECT_EQ("alert-data-monitor-stopped", alerts[1]);
  EXPECT_EQ("alert-data-monitor-ok", alerts[2]);

  monitor.Update(1, 1000);  // the daily volume
  EXPECT_EQ(DataMonitorState_Stopped, monitor.GetState());
  EXPECT_TRUE(monitor.Lift(1));
  monitor.CheckAccepting();
  monitor.Update(1, 1200);
  EXPECT_EQ(DataMonitorState_Warning, monitor.GetState());  // lifted for the day
  monitor.Update(2, 1200);
  EXPECT_EQ(DataMonitorState_Stopped, monitor.GetState());  // not for the next
}

TEST(LimitsGuard, AdmissionBeforeTheBody)
{
  Json::Value section;
  std::string errors;
  JsonText::ParseConfiguration(section, R"({"Upload": {"MaxFileBytes": 1024, "MaxBytesPerUpload": 100000},
    "Limits": {"MaxUploadsInFlightPerClient": 1, "MaxBytesInFlight": 9000},
    "Bans": ["192.0.2.1"], "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})", errors);
  const Configuration configuration = Configuration::Parse(section);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  uint64_t reserved = 0, first = 0;
  EXPECT_EQ(Admission_Banned, guard.AdmitBody("192.0.2.1", false, false, -1, reserved));
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("a", false, false, -1, reserved));
  EXPECT_EQ(Admission_NoLength, guard.AdmitBody("a", true, true, -1, reserved));
  EXPECT_EQ(Admission_TooLarge, guard.AdmitBody("a", true, true, 2049, reserved));
  EXPECT_EQ(Admission_TooLarge, guard.AdmitBody("a", true, false, 131073, reserved));
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("a", true, true, 1000, first));
  EXPECT_NE(0u, first);  // a Standalone counts 5 bytes per body byte: 4000 of 9000 left
  EXPECT_EQ(5000u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  EXPECT_EQ(5u, guard.Describe("")["inFlight"]["bytesPerBodyByte"].asUInt());
  EXPECT_EQ(Admission_ClientBusy, guard.AdmitBody("a", true, true, 10, reserved));
  EXPECT_EQ(Admission_ServerBusy, guard.AdmitBody("b", true, true, 801, reserved));
  guard.ReleaseBody(first);
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("b", true, true, 801, reserved));

  // A file that parses bigger than its body: the growth times 5, in the same budget (4995
  // used by b's body), not as another body of the client; 503 with Retry-After when it does
  // not fit; released with its holder.
  std::unique_ptr<MemoryHold> growth = guard.ReserveParsingGrowth(800);
  EXPECT_EQ(4005u + 4000u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  EXPECT_EQ(4000u, guard.Describe("")["inFlight"]["growthBytes"].asUInt64());
  try
  {
    guard.ReserveParsingGrowth(200);
    ADD_FAILURE() << "reserved beyond the budget";
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(503, e.GetStatus());
    EXPECT_EQ("server-busy", e.GetCode());
    ASSERT_EQ(1u, e.GetHeaders().count("Retry-After"));
    EXPECT_GE(std::stoi(e.GetHeaders().at("Retry-After")), 1);
  }
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("c", true, true, 100, first));  // 500 more
  guard.ReleaseBody(first);
  growth.reset();
  EXPECT_EQ(4005u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  EXPECT_EQ(0u, guard.Describe("")["inFlight"]["growthBytes"].asUInt64());
  EXPECT_NE(nullptr, guard.ReserveParsingGrowth(0));  // nothing to hold, never refused
  EXPECT_NE(nullptr, guard.ReserveParsingGrowth(999));  // 4995 fits again

  guard.RecordRefusal("a", 400, "not-dicom", "PUT ...", Offence_Refusal);
  guard.Flush();
  const std::vector<AuditEvent> audit = ledger.Audit().List(0, 10);
  ASSERT_EQ(1u, audit.size());
  EXPECT_EQ("refused", audit[0].event);
  EXPECT_EQ("a", audit[0].ip);
  EXPECT_EQ("400 not-dicom: PUT ...", audit[0].detail);
  EXPECT_EQ(1u, guard.Describe("")["refusals"]["not-dicom"].asUInt());
}

TEST(LimitsGuard, PartnerStreamsReserveTheirMemory)
{
  Json::Value section;
  std::string errors;
  JsonText::ParseConfiguration(section, R"({"Upload": {"MaxFileBytes": 1024, "MaxBytesPerUpload": 100000},
    "Limits": {"MaxUploadsInFlightPerClient": 2, "MaxBytesInFlight": 160000000},
    "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})", errors);
  const Configuration configuration = Configuration::Parse(section);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  const uint64_t part = LimitsGuard::kPartnerPartBytes;
  uint64_t chunked = 0, sized = 0, refused = 0;
  EXPECT_EQ(Admission_Allowed, guard.AdmitPartnerBody("clinic-a", -1, chunked));
  EXPECT_NE(0u, chunked);
  EXPECT_EQ(part, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  // A body with a length: held whole by Orthanc, plus the part being parsed.
  EXPECT_EQ(Admission_Allowed, guard.AdmitPartnerBody("clinic-b", 1000000, sized));
  EXPECT_EQ(2 * part + 1000000, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  EXPECT_EQ(Admission_ServerBusy, guard.AdmitPartnerBody("clinic-c", 20000000, refused));
  EXPECT_EQ(0u, refused);
  guard.ReleaseBody(sized);
  EXPECT_EQ(Admission_Allowed, guard.AdmitPartnerBody("clinic-a", -1, sized));
  EXPECT_EQ(Admission_ClientBusy, guard.AdmitPartnerBody("clinic-a", -1, refused));  // per key
  guard.ReleaseBody(chunked);
  guard.ReleaseBody(sized);
  EXPECT_EQ(0u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
}

TEST(LimitsGuard, APartnersLargestPartFitsTheSmallestBudgetLikeASendersFile)
{
  // Limits.MaxBytesInFlight at the least it may be: Upload.MaxFileBytes times the multiple.
  const uint64_t maxFile = 64 * 1024 * 1024;
  Json::Value section;
  std::string errors;
  JsonText::ParseConfiguration(section, "{\"Upload\": {\"MaxFileBytes\": " + std::to_string(maxFile) +
    "}, \"Limits\": {\"MaxBytesInFlight\": " + std::to_string(5 * maxFile) +
    "}, \"DataMonitor\": {\"WarnFreeBytes\": 0, \"StopFreeBytes\": 0}}", errors);
  const Configuration configuration = Configuration::Parse(section);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  for (bool bodyHeld : {false, true})
  {
    SCOPED_TRACE(bodyHeld);
    uint64_t ticket = 0;
    ASSERT_EQ(Admission_Allowed,
              guard.AdmitPartnerBody("clinic-a", bodyHeld ? int64_t(maxFile) : -1, ticket));
    {
      std::unique_ptr<MemoryHold> hold = guard.ReservePartnerPart(maxFile, bodyHeld);
      EXPECT_EQ(5 * maxFile, guard.Describe("")["inFlight"]["bytes"].asUInt64());
      // Nothing more fits: a second such part waits (503 server-busy).
      EXPECT_THROW(guard.ReservePartnerPart(maxFile, bodyHeld), ApiError);
    }
    guard.ReleaseBody(ticket);
    EXPECT_EQ(0u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  }
  // A small part takes nothing beyond what the admission reserved.
  EXPECT_EQ(0u, [&] {
    std::unique_ptr<MemoryHold> hold = guard.ReservePartnerPart(1024 * 1024, false);
    return guard.Describe("")["inFlight"]["bytes"].asUInt64();
  }());
}
