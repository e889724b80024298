// Issue 13: IPv6 clients per prefix, refusals audited per client and interval, the audit
// trail pruned by age and free of control characters, in-flight memory counted honestly.

#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "Ledger/Ledger.h"
#include "Ledger/SqliteLedgerConnection.h"
#include "Limits/ClientKey.h"
#include "Limits/InFlight.h"
#include "Limits/LimitsGuard.h"
#include "Limits/RefusalAudit.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"
#include "Upload/TextRules.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  Configuration MakeConfiguration(const std::string& json)
  {
    Json::Value section;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(section, json, errors)) << errors;
    return Configuration::Parse(section);
  }

  const char* const kGuardConfiguration = R"({
    "Upload": {"MaxFileBytes": 1024, "MaxBytesPerUpload": 100000},
    "Limits": {"MaxUploadsInFlightPerClient": 1, "MaxBytesInFlight": 20480, "BodyTimeout": 60,
               "RequestsPerSecond": 1, "RequestBurst": 2},
    "AutoBan": {"Refusals": 3, "WindowSeconds": 60, "BanSeconds": 600},
    "Audit": {"RefusalInterval": 60, "RetentionDays": 0},
    "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})";

  std::vector<AuditEvent> Refusals(const Ledger& ledger)
  {
    std::vector<AuditEvent> result;
    for (const AuditEvent& e : ledger.Audit().List(0, 100000))
    {
      if (e.Is(AuditEventType_Refused))
      {
        result.push_back(e);
      }
    }
    return result;
  }
}

// ------------------------------------------------------------------------- client keys

TEST(ClientKey, IPv4AsSuchIPv6ByPrefix)
{
  EXPECT_EQ("203.0.113.9", GetClientKey("203.0.113.9", 64));
  EXPECT_EQ("203.0.113.9", GetClientKey("::ffff:203.0.113.9", 64));  // IPv4-mapped
  EXPECT_EQ("2001:db8:1:2::/64", GetClientKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64));
  EXPECT_EQ("2001:db8:1:2::/64", GetClientKey("2001:DB8:1:2::1", 64));  // one spelling
  EXPECT_EQ("2001:db8:1::/48", GetClientKey("2001:db8:1:ffff::1", 48));
  EXPECT_EQ("2001:db8:1:2:a000::/68", GetClientKey("2001:db8:1:2:afff::1", 68));  // mid-byte
  EXPECT_EQ("2001:db8:1:2:0:4:0:1", GetClientKey("2001:db8:1:2:0:4:0:1", 128));
  EXPECT_EQ("::/64", GetClientKey("::1", 64));
  EXPECT_EQ("", GetClientKey("", 64));                      // internal callers
  EXPECT_EQ("not an address", GetClientKey("not an address", 64));
  EXPECT_EQ(GetClientKey("2001:db8::1", 64), GetClientKey("2001:db8::ffff:1", 64));
  EXPECT_NE(GetClientKey("2001:db8::1", 64), GetClientKey("2001:db8:0:1::1", 64));
}

// ------------------------------------------------------------------------- safe text

TEST(TextRules, MakeSafeReplacesControlsAndInvalidUtf8)
{
  const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_EQ("a" + replacement + replacement + "b", TextRules::MakeSafe("a\r\nb", 100));
  EXPECT_EQ(replacement + "[31mred", TextRules::MakeSafe("\x1b[31mred", 100));
  EXPECT_EQ(replacement + replacement + replacement + replacement,
            TextRules::MakeSafe(std::string("\t\x7f\0", 3) + "\xc2\x9b", 100));  // TAB DEL NUL CSI
  EXPECT_EQ("Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac", TextRules::MakeSafe("Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac", 100));
  EXPECT_EQ(replacement + "A", TextRules::MakeSafe("\xc3" "A", 100));     // the A survives
  EXPECT_EQ(replacement + replacement, TextRules::MakeSafe("\xc0\xaf", 100));  // overlong
  EXPECT_EQ(replacement + replacement + replacement,
            TextRules::MakeSafe("\xed\xa0\x80", 100));                   // a surrogate
  EXPECT_EQ(replacement, TextRules::MakeSafe("\xff", 100));
  EXPECT_EQ(replacement, TextRules::MakeSafe("\xe2\x80\xae", 100));    // right-to-left override
  EXPECT_EQ(replacement, TextRules::MakeSafe("\xe2\x80\xa8", 100));    // line separator
  EXPECT_EQ("ab", TextRules::MakeSafe("abcdef", 2));
  EXPECT_EQ("\xc3\xbc\xc3\xbc", TextRules::MakeSafe("\xc3\xbc\xc3\xbc\xc3\xbc", 2));
  EXPECT_EQ("", TextRules::MakeSafe("", 10));
  std::string everyByte;
  for (int i = 0; i < 256; i++)
  {
    everyByte += static_cast<char>(i);
  }
  EXPECT_TRUE(TextRules::IsCleanText(TextRules::MakeSafe(everyByte, 1000)));
}

// ------------------------------------------------------------------------- the ledger

TEST(Ledger, AuditStoresNoControlCharactersAndIsCapped)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Audit().Add(1, AuditEventType_Refused, "U\x1b", "1.2.3.4\r\nforged",
                     "GET /x\r\n\x1b[2J" + std::string(5000, 'a'));
  const AuditEvent e = ledger.Audit().List(0, 10).at(0);
  EXPECT_EQ("refused", e.event);
  for (const std::string& text : {e.event, e.uploadId, e.ip, e.detail})
  {
    EXPECT_TRUE(TextRules::IsCleanText(text)) << text;
    EXPECT_EQ(std::string::npos, text.find_first_of("\r\n\x1b"));
  }
  EXPECT_EQ(1000u, TextRules::CountCharacters(e.detail));
  EXPECT_EQ(0u, e.detail.find("GET /x"));
}

TEST(Ledger, AuditWrittenByAnEarlierVersionIsReadSafe)
{
  const boost::filesystem::path path =
    boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("ledger-%%%%%%.sqlite");
  {
    Ledger ledger(path.string());
  }
  {
    SqliteLedgerConnection db(path.string());
    db.Execute("INSERT INTO audit (time, event, upload_id, ip, detail) VALUES"
               " (1, 'refused', '', '1.2.3.4', '400 bad: /x' || char(13, 10, 27) || '[2J')");
  }
  {
    Ledger ledger(path.string());
    const AuditEvent e = ledger.Audit().List(0, 10).at(0);
    EXPECT_EQ("400 bad: /x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd[2J", e.detail);
  }
  boost::filesystem::remove(path);
  boost::filesystem::remove(path.string() + "-wal");
  boost::filesystem::remove(path.string() + "-shm");
}

TEST(Ledger, WriteRefusalsAddsThenUpdatesOnlyRefusals)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Audit().Add(1, AuditEventType_UploadOpened, "U1", "1.2.3.4", "sender a@example.org");
  std::vector<AuditEvent> events(1);
  events[0].time = 2;
  events[0].ip = "1.2.3.4";
  events[0].detail = "403 banned: /x";
  ledger.Audit().WriteRefusals(events);
  ASSERT_NE(0, events[0].seq);
  events[0].detail = "403 banned: /x [7 refusals]\n";
  ledger.Audit().WriteRefusals(events);
  std::vector<AuditEvent> audit = ledger.Audit().List(0, 10);
  ASSERT_EQ(2u, audit.size());
  EXPECT_TRUE(audit[1].Is(AuditEventType_Refused));
  EXPECT_EQ("403 banned: /x [7 refusals]\xef\xbf\xbd", audit[1].detail);
  // A forged seq cannot change another kind of entry.
  events[0].seq = audit[0].seq;
  events[0].detail = "changed";
  ledger.Audit().WriteRefusals(events);
  EXPECT_EQ("sender a@example.org", ledger.Audit().List(0, 10)[0].detail);
}

TEST(Ledger, PruneAuditByAgeInBatchesNeverPastAReader)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  for (int i = 0; i < 10; i++)
  {
    ledger.Audit().Add(1000 + i, AuditEventType_Refused, "", "", std::to_string(i));
  }
  EXPECT_EQ(3, ledger.Audit().Prune(1005, 3));  // a batch at a time, the oldest first
  EXPECT_EQ(2, ledger.Audit().Prune(1005, 3));
  EXPECT_EQ(0, ledger.Audit().Prune(1005, 3));
  EXPECT_EQ("5", ledger.Audit().List(0, 100).front().detail);

  // A reader (the notifier) that has read up to here: nothing after it goes.
  const int64_t cursor = ledger.Notifications().GetCursor();
  for (int i = 0; i < 5; i++)
  {
    ledger.Audit().Add(2000 + i, AuditEventType_Ban, "", "", "unread");
  }
  EXPECT_EQ(5, ledger.Audit().Prune(100000, 100));  // only the five read ones
  const std::vector<AuditEvent> left = ledger.Audit().List(0, 100);
  ASSERT_EQ(5u, left.size());
  for (const AuditEvent& e : left)
  {
    EXPECT_EQ("unread", e.detail);
    EXPECT_GT(e.seq, cursor);
  }
  ledger.Forwards().GetCursor();  // a second reader, at the newest entry
  ledger.Notifications().Enqueue({}, left.back().seq);  // the notifier catches up
  EXPECT_EQ(5, ledger.Audit().Prune(100000, 100));
  ledger.Audit().Add(3000, AuditEventType_Unban, "", "", "after");
  EXPECT_EQ(0, ledger.Audit().Prune(100000, 100));  // newer than every cursor
}

// ------------------------------------------------------------------------- refusal audit

TEST(RefusalAudit, OneEntryPerClientCodeAndIntervalWithACount)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  RefusalAudit audit(ledger, clock, 60);
  audit.Record("203.0.113.1", 503, "rate-limited", "/inbound/api/info: first");
  audit.Flush();  // the first refusal is visible at once
  ASSERT_EQ(1u, Refusals(ledger).size());
  EXPECT_EQ("503 rate-limited: /inbound/api/info: first", Refusals(ledger)[0].detail);
  for (int i = 1; i < 500; i++)
  {
    clock.now += 10;
    audit.Record("203.0.113.1", 503, "rate-limited", "/inbound/api/info: later");
    if (i % 100 == 0)
    {
      audit.Flush();
    }
  }
  audit.Record("203.0.113.1", 403, "not-a-puller", "/peer");  // another code
  audit.Record("203.0.113.2", 503, "rate-limited", "/x");     // another client
  audit.Flush();
  std::vector<AuditEvent> rows = Refusals(ledger);
  ASSERT_EQ(3u, rows.size());
  EXPECT_EQ("503 rate-limited: /inbound/api/info: first [500 refusals]", rows[0].detail);
  EXPECT_EQ("203.0.113.1", rows[0].ip);
  EXPECT_EQ("403 not-a-puller: /peer", rows[1].detail);
  EXPECT_EQ("203.0.113.2", rows[2].ip);

  // The next interval gets an entry of its own; the finished ones are forgotten.
  clock.now += 60000;
  audit.Flush();
  EXPECT_EQ(0u, audit.CountOpenEntries());
  audit.Record("203.0.113.1", 503, "rate-limited", "/again");
  audit.Flush();
  rows = Refusals(ledger);
  ASSERT_EQ(4u, rows.size());
  EXPECT_EQ("503 rate-limited: /again", rows[3].detail);
  EXPECT_EQ("503 rate-limited: /inbound/api/info: first [500 refusals]", rows[0].detail);
}

TEST(RefusalAudit, AnIntervalEndsOnlyOnceItsLastCountIsWritten)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  RefusalAudit audit(ledger, clock, 60);
  audit.Record("a", 403, "banned", "/1");
  audit.Flush();
  clock.now += 59000;
  audit.Record("a", 403, "banned", "/2");
  clock.now += 2000;  // over, but its count of 2 is not written yet
  audit.Record("a", 403, "banned", "/3");
  audit.Flush();
  std::vector<AuditEvent> rows = Refusals(ledger);
  ASSERT_EQ(1u, rows.size());
  EXPECT_EQ("403 banned: /1 [3 refusals]", rows[0].detail);
  audit.Record("a", 403, "banned", "/4");  // written: a new interval starts
  audit.Flush();
  rows = Refusals(ledger);
  ASSERT_EQ(2u, rows.size());
  EXPECT_EQ("403 banned: /4", rows[1].detail);
}

TEST(RefusalAudit, ClientsBeyondTheLimitShareOneEntry)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  RefusalAudit audit(ledger, clock, 60, 3);
  for (int i = 0; i < 1000; i++)
  {
    audit.Record("198.51.100." + std::to_string(i % 250), 403, "banned", "/x");
  }
  audit.Flush();
  const std::vector<AuditEvent> rows = Refusals(ledger);
  ASSERT_EQ(4u, rows.size());
  unsigned int itemized = 0;
  for (const AuditEvent& row : rows)
  {
    if (row.ip.empty())
    {
      EXPECT_EQ("refusals of further clients, not itemized [988 refusals]", row.detail);
    }
    else
    {
      EXPECT_EQ("403 banned: /x [4 refusals]", row.detail);
      itemized++;
    }
  }
  EXPECT_EQ(3u, itemized);
}

TEST(RefusalAudit, WhatIsMadeSafeAndShort)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  RefusalAudit audit(ledger, clock, 60);
  audit.Record("a", 400, "bad", "/x\r\nrefused 1.2.3.4\x1b[0m" + std::string(1000, 'y'));
  audit.Record("a", 400, "bad", "/x");
  audit.Flush();
  const std::string detail = Refusals(ledger).at(0).detail;
  EXPECT_TRUE(TextRules::IsCleanText(detail)) << detail;
  EXPECT_LT(TextRules::CountCharacters(detail), 250u);
  EXPECT_NE(std::string::npos, detail.find("[2 refusals]"));  // the count is never cut off
}

TEST(AuditPruner, DeletesOldEntriesInBatchesThenWaits)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  for (int i = 0; i < 25; i++)
  {
    ledger.Audit().Add(clock.now - 91LL * 86400000, AuditEventType_Refused, "", "", "old");
  }
  ledger.Audit().Add(clock.now - 89LL * 86400000, AuditEventType_Refused, "", "", "recent");
  AuditPruner off(ledger, clock, 0, 10);
  EXPECT_EQ(0, off.Run());
  AuditPruner pruner(ledger, clock, 90, 10);
  EXPECT_EQ(10, pruner.Run());
  EXPECT_EQ(10, pruner.Run());
  EXPECT_EQ(5, pruner.Run());   // caught up: the next run is 10 s later
  ledger.Audit().Add(clock.now - 100LL * 86400000, AuditEventType_Refused, "", "", "late");
  EXPECT_EQ(0, pruner.Run());
  clock.now += 10000;
  EXPECT_EQ(1, pruner.Run());
  EXPECT_EQ(26, pruner.GetPruned());
  ASSERT_EQ(1u, ledger.Audit().List(0, 100).size());
  EXPECT_EQ("recent", ledger.Audit().List(0, 100)[0].detail);
}

// ------------------------------------------------------------------------- the guard

TEST(LimitsGuard, IPv6ClientsAreLimitedAndBannedPerPrefix)
{
  const Configuration configuration = MakeConfiguration(kGuardConfiguration);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  uint64_t first = 0, t = 0;
  // One body in flight per client: the whole /64 is one client.
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("2001:db8:1:1::1", true, true, 100, first));
  EXPECT_EQ(Admission_ClientBusy, guard.AdmitBody("2001:db8:1:1::2", true, true, 100, t));
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("2001:db8:1:2::1", true, true, 100, t));
  guard.ReleaseBody(first);

  // The request rate: one bucket for the /64.
  guard.CheckRequestRate("2001:db8:1:1::a");
  guard.CheckRequestRate("2001:db8:1:1::b");
  EXPECT_THROW(guard.CheckRequestRate("2001:db8:1:1::c"), ApiError);
  guard.CheckRequestRate("2001:db8:1:3::c");  // another /64
  // IPv4-mapped IPv6 is the IPv4 client.
  guard.CheckRequestRate("192.0.2.50");
  guard.CheckRequestRate("::ffff:192.0.2.50");
  EXPECT_THROW(guard.CheckRequestRate("192.0.2.50"), ApiError);

  // Quotas count the /64.
  EXPECT_EQ(guard.GetQuotaScopes("2001:db8:1:1::1", "a@example.org"),
            guard.GetQuotaScopes("2001:db8:1:1:ffff::9", "a@example.org"));
  EXPECT_NE(guard.GetQuotaScopes("2001:db8:1:1::1", "a@example.org"),
            guard.GetQuotaScopes("2001:db8:1:2::1", "a@example.org"));

  // Refusals from three addresses of one /64 ban the /64, stored as a CIDR block.
  guard.RecordRefusal("2001:db8:1:1::1", 403, "unauthorized", "/system", Offence_Refusal);
  guard.RecordRefusal("2001:db8:1:1::2", 403, "unauthorized", "/system", Offence_Refusal);
  guard.RecordRefusal("2001:db8:1:1::3", 403, "unauthorized", "/system", Offence_Refusal);
  EXPECT_TRUE(guard.GetBans().IsBanned("2001:db8:1:1:dead:beef::1"));
  EXPECT_FALSE(guard.GetBans().IsBanned("2001:db8:1:2::1"));
  EXPECT_EQ(Admission_Banned, guard.AdmitBody("2001:db8:1:1::77", false, false, -1, t));
  const Json::Value bans = guard.GetBans().Describe();
  ASSERT_EQ(1u, bans.size());
  EXPECT_EQ("2001:db8:1:1::/64", bans[0]["entry"].asString());
  guard.Flush();
  const std::vector<AuditEvent> rows = Refusals(ledger);
  ASSERT_EQ(1u, rows.size());  // one client, one code, one interval
  EXPECT_EQ("2001:db8:1:1::/64", rows[0].ip);
  EXPECT_EQ("403 unauthorized: /system [3 refusals]", rows[0].detail);
}

TEST(LimitsGuard, IPv6PrefixLengthIsConfigurable)
{
  EXPECT_THROW(MakeConfiguration(R"({"Limits": {"IPv6PrefixLength": 47}})"), Orthanc::OrthancException);
  EXPECT_THROW(MakeConfiguration(R"({"Limits": {"IPv6PrefixLength": 129}})"), Orthanc::OrthancException);
  const Configuration configuration = MakeConfiguration(
    R"({"Limits": {"IPv6PrefixLength": 128, "RequestsPerSecond": 1, "RequestBurst": 1},
        "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})");
  EXPECT_EQ(128u, configuration.limits.ipv6PrefixLength);
  EXPECT_EQ(64u, MakeConfiguration("{}").limits.ipv6PrefixLength);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  guard.CheckRequestRate("2001:db8::1");
  guard.CheckRequestRate("2001:db8::2");  // per address now
  EXPECT_THROW(guard.CheckRequestRate("2001:db8::1"), ApiError);
}

TEST(LimitsGuard, ABannedClientIsNotItemized)
{
  const Configuration configuration = MakeConfiguration(kGuardConfiguration);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  guard.GetBans().Ban("198.51.100.0/24", 0, "test", false, "admin");
  for (int i = 0; i < 1000; i++)
  {
    guard.RecordRefusal("198.51.100.7", 403, "banned", "/inbound/api/info", Offence_None);
    if (i % 300 == 0)
    {
      clock.now += 1000;
      guard.Flush();
    }
  }
  guard.Flush();
  const std::vector<AuditEvent> rows = Refusals(ledger);
  ASSERT_EQ(1u, rows.size());
  EXPECT_EQ("403 banned: /inbound/api/info [1000 refusals]", rows[0].detail);
  EXPECT_EQ(1000u, guard.Describe("")["refusals"]["banned"].asUInt());
}

TEST(LimitsGuard, ReservationsAreTheMeasuredMultipleAndLapseOnlyBeforeTheirHandler)
{
  const Configuration configuration = MakeConfiguration(kGuardConfiguration);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  uint64_t running = 0, abandoned = 0, overCap = 0;
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("192.0.2.1", true, true, 1000, running));
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("192.0.2.2", true, true, 1000, abandoned));
  // Over the file cap the handler refuses before copying: only Orthanc's copy counts.
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("192.0.2.3", true, true, 2000, overCap));
  EXPECT_EQ(12000u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  guard.StartBody(running);  // its handler runs (and runs long)
  guard.StartBody(overCap);
  EXPECT_EQ(2u, guard.Describe("")["inFlight"]["inUse"].asUInt());
  clock.now += 59000;
  guard.Flush();
  EXPECT_EQ(12000u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  clock.now += 3600 * 1000;  // an hour later, the handler still runs
  guard.Flush();
  EXPECT_EQ(7000u, guard.Describe("")["inFlight"]["bytes"].asUInt64());  // only the abandoned one lapsed
  EXPECT_EQ(1u, guard.Describe("")["inFlight"]["lapsed"].asUInt());
  uint64_t t = 0;
  EXPECT_EQ(Admission_ClientBusy, guard.AdmitBody("192.0.2.1", true, true, 10, t));
  guard.ReleaseBody(running);  // the handler ends
  guard.ReleaseBody(overCap);
  EXPECT_EQ(0u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("192.0.2.1", true, true, 10, t));
  guard.StartBody(abandoned);  // late: nothing happens
  guard.ReleaseBody(abandoned);
  EXPECT_EQ(50u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
}

TEST(LimitsGuard, MultiplePerRoleAndABudgetThatFitsTheLargestFile)
{
  EXPECT_EQ(5u, GetBodyMemoryMultiple(Role_Standalone));
  EXPECT_EQ(2u, GetBodyMemoryMultiple(Role_Gateway));
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  // 1024 bytes take 5120 on a Standalone: a smaller budget could never admit such a file.
  const Configuration tooSmall = MakeConfiguration(
    R"({"Upload": {"MaxFileBytes": 1024, "MaxBytesPerUpload": 100000},
        "Limits": {"MaxBytesInFlight": 5119}})");
  EXPECT_THROW(LimitsGuard(tooSmall, ledger, clock, {"/"}), Orthanc::OrthancException);
  const Configuration gateway = MakeConfiguration(
    R"({"Role": "Gateway", "Upload": {"MaxFileBytes": 1024, "MaxBytesPerUpload": 100000},
        "Limits": {"MaxBytesInFlight": 2048, "MaxUploadsInFlightPerClient": 0},
        "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})");
  LimitsGuard guard(gateway, ledger, clock, {"/"});
  uint64_t t = 0;
  EXPECT_EQ(Admission_Allowed, guard.AdmitBody("192.0.2.1", true, true, 1024, t));
  EXPECT_EQ(2048u, guard.Describe("")["inFlight"]["bytes"].asUInt64());
  EXPECT_EQ(2u, guard.Describe("")["inFlight"]["bytesPerBodyByte"].asUInt());
  EXPECT_EQ(Admission_ServerBusy, guard.AdmitBody("192.0.2.2", true, true, 1, t));
}

TEST(LimitsGuard, TheAuditIsPrunedByTheBackgroundWork)
{
  const Configuration configuration = MakeConfiguration(
    R"({"Audit": {"RetentionDays": 1}, "DataMonitor": {"WarnFreeBytes": 0, "StopFreeBytes": 0}})");
  EXPECT_EQ(60u, MakeConfiguration("{}").audit.refusalIntervalSeconds);
  EXPECT_EQ(90u, MakeConfiguration("{}").audit.retentionDays);
  EXPECT_THROW(MakeConfiguration(R"({"Audit": {"RefusalInterval": 0}})"), Orthanc::OrthancException);
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  ledger.Audit().Add(clock.now - 2 * 86400000LL, AuditEventType_Refused, "", "", "old");
  ledger.Audit().Add(clock.now, AuditEventType_Refused, "", "", "new");
  LimitsGuard guard(configuration, ledger, clock, {"/"});
  guard.Flush();
  const std::vector<AuditEvent> left = ledger.Audit().List(0, 10);
  ASSERT_EQ(1u, left.size());
  EXPECT_EQ("new", left[0].detail);
  EXPECT_EQ(1, guard.Describe("")["audit"]["pruned"].asInt64());
}
