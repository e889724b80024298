// Unit tests of the ban list (configured, manual and automatic bans, prune, cap) and of AutoBan.
#include "Limits/BanList.h"
#include "LedgerBackends.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

using namespace Inbound;

TEST(BanList, ConfiguredManualAndAutomaticBansPersist)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  {
    BanList bans(ledger, clock, {"192.0.2.0/24"});
    EXPECT_TRUE(bans.IsBanned("192.0.2.77"));
    EXPECT_FALSE(bans.IsBanned("198.51.100.1"));
    bans.Ban("198.51.100.0/28", 0, "abuse", false, "admin");
    bans.Ban("203.0.113.5", 60, "flood", true, "");
    EXPECT_TRUE(bans.IsBanned("198.51.100.1"));
    EXPECT_TRUE(bans.IsBanned("203.0.113.5"));
    EXPECT_THROW(bans.Ban("not-an-address", 0, "", false, ""), std::invalid_argument);
  }
  BanList reloaded(ledger, clock, {});  // a restart keeps them
  EXPECT_TRUE(reloaded.IsBanned("198.51.100.1"));
  EXPECT_TRUE(reloaded.IsBanned("203.0.113.5"));
  clock.now += 61000;
  EXPECT_FALSE(reloaded.IsBanned("203.0.113.5"));  // a temporary ban ends by itself
  EXPECT_TRUE(reloaded.Unban("198.51.100.0/28", "admin"));
  EXPECT_FALSE(reloaded.Unban("198.51.100.0/28", "admin"));
  EXPECT_FALSE(reloaded.IsBanned("198.51.100.1"));
  const Json::Value listed = reloaded.Describe();
  ASSERT_EQ(1u, listed.size());  // the expired one is still listed, as inactive
  EXPECT_FALSE(listed[0]["active"].asBool());
}

TEST(BanList, LooksUpSingleAddressesPrefixKeysAndBlocks)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {"198.18.0.0/15", "2001:db8:ffff::1"});
  EXPECT_TRUE(bans.IsBanned("198.19.255.255"));
  EXPECT_FALSE(bans.IsBanned("198.20.0.0"));
  EXPECT_TRUE(bans.IsBanned("2001:db8:ffff:0::1"));
  EXPECT_FALSE(bans.IsBanned("2001:db8:ffff::2"));

  // The /64 key of an IPv6 client (GetClientKey) covers its whole /64, and nothing else.
  EXPECT_TRUE(bans.Ban("2001:db8:1:2::/64", 60, "automatic: x", true, ""));
  EXPECT_TRUE(bans.IsBanned("2001:db8:1:2:abcd:ef01:2345:6789"));
  EXPECT_TRUE(bans.IsBanned("2001:db8:1:2::"));
  EXPECT_FALSE(bans.IsBanned("2001:db8:1:3::1"));
  EXPECT_FALSE(bans.IsBanned("2001:db8:1:1:ffff:ffff:ffff:ffff"));
  // A single IPv4 address, also as IPv4-mapped IPv6.
  EXPECT_TRUE(bans.Ban("203.0.113.5", 60, "automatic: x", true, ""));
  EXPECT_TRUE(bans.IsBanned("203.0.113.5"));
  EXPECT_TRUE(bans.IsBanned("::ffff:203.0.113.5"));
  EXPECT_FALSE(bans.IsBanned("203.0.113.4"));
  EXPECT_FALSE(bans.IsBanned("203.0.113.6"));
  // An admin's blocks, of any length, written with host bits set or not.
  EXPECT_TRUE(bans.Ban("192.0.2.17/28", 0, "abuse", false, "admin"));
  EXPECT_TRUE(bans.Ban("2001:db8:aa00::/40", 0, "abuse", false, "admin"));
  EXPECT_TRUE(bans.Ban("0.0.0.0/0", 60, "everyone", false, "admin"));
  EXPECT_TRUE(bans.IsBanned("192.0.2.16"));
  EXPECT_TRUE(bans.IsBanned("192.0.2.31"));
  EXPECT_TRUE(bans.IsBanned("8.8.8.8"));               // the /0, for a minute
  EXPECT_TRUE(bans.IsBanned("2001:db8:aaff:1::1"));
  EXPECT_FALSE(bans.IsBanned("2001:db8:ab00::1"));
  EXPECT_FALSE(bans.IsBanned("not-an-address"));
  EXPECT_FALSE(bans.IsBanned(""));
  clock.now += 61000;
  EXPECT_FALSE(bans.IsBanned("8.8.8.8"));
  EXPECT_FALSE(bans.IsBanned("192.0.2.32"));
  EXPECT_TRUE(bans.IsBanned("192.0.2.16"));
  EXPECT_FALSE(bans.IsBanned("203.0.113.5"));
  EXPECT_FALSE(bans.IsBanned("2001:db8:1:2::1"));
  EXPECT_TRUE(bans.Unban("192.0.2.17/28", "admin"));
  EXPECT_FALSE(bans.IsBanned("192.0.2.16"));
  EXPECT_TRUE(bans.IsBanned("2001:db8:aaff:1::1"));
}

TEST(BanList, AddsIncrementallyAndDropsExpiredBansFromTheLookupAtOnce)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {});
  EXPECT_TRUE(bans.Ban("2001:db8:5:1::/64", 10, "automatic: x", true, ""));
  EXPECT_TRUE(bans.Ban("2001:db8:5:2::/64", 100, "automatic: x", true, ""));
  EXPECT_EQ(2u, bans.CountIndexed());
  EXPECT_TRUE(bans.IsBanned("2001:db8:5:1::9"));
  clock.now += 11000;
  EXPECT_FALSE(bans.IsBanned("2001:db8:5:1::9"));
  EXPECT_EQ(1u, bans.CountIndexed());  // seen expired: out of the lookup
  EXPECT_EQ(2u, bans.CountHeld());     // still listed until pruned
  EXPECT_TRUE(bans.IsBanned("2001:db8:5:2::9"));
  // Banned again after the expiry: in force at once, and one entry only.
  EXPECT_TRUE(bans.Ban("2001:db8:5:1::/64", 10, "automatic: x", true, ""));
  EXPECT_TRUE(bans.IsBanned("2001:db8:5:1::9"));
  EXPECT_EQ(2u, bans.CountIndexed());
  EXPECT_EQ(2u, bans.CountHeld());
  EXPECT_EQ(0u, bans.Prune()); // nothing due: the renewed ban stays
  EXPECT_EQ(2u, ledger.Bans().List().size());
  EXPECT_TRUE(bans.IsBanned("2001:db8:5:1::9"));
  // Pruned, then banned again.
  clock.now += 101000;
  EXPECT_EQ(2u, bans.Prune());
  EXPECT_EQ(0u, bans.CountHeld());
  EXPECT_EQ(0u, bans.CountIndexed());
  EXPECT_FALSE(bans.IsBanned("2001:db8:5:1::9"));
  EXPECT_TRUE(bans.Ban("2001:db8:5:1::/64", 10, "automatic: x", true, ""));
  EXPECT_TRUE(bans.IsBanned("2001:db8:5:1::9"));
  EXPECT_EQ(1u, bans.CountIndexed());
}

TEST(BanList, PrunesExpiredBansFromMemoryAndTheLedgerInBatches)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {});
  for (int i = 0; i < 10000; i++)
  {
    char entry[64];
    snprintf(entry, sizeof(entry), "2001:db8:%x:%x::/64", i / 256, i % 256);
    ASSERT_TRUE(bans.Ban(entry, 60, "automatic: x", true, ""));
  }
  EXPECT_TRUE(bans.Ban("192.0.2.1", 0, "permanent", false, "admin"));
  EXPECT_TRUE(bans.Ban("192.0.2.2", 60, "temporary", false, "admin"));
  EXPECT_TRUE(bans.Ban("192.0.2.3", 3600, "automatic: longer", true, ""));
  EXPECT_EQ(10003u, bans.CountHeld());
  EXPECT_EQ(10003u, bans.CountIndexed());
  EXPECT_EQ(0u, bans.Prune());
  EXPECT_EQ(10003u, bans.CountHeld());

  clock.now += 61000;
  EXPECT_EQ(BanList::kPruneBatch, bans.Prune());
  // Forgotten at once; the ledger rows go in batches.
  EXPECT_EQ(3u, bans.CountHeld());
  EXPECT_EQ(3u, bans.CountIndexed());
  EXPECT_EQ(10003u - BanList::kPruneBatch, ledger.Bans().List().size());
  size_t rounds = 1;
  while (bans.Prune() > 0)
  {
    rounds++;
  }
  EXPECT_EQ(10000u / BanList::kPruneBatch, rounds);
  EXPECT_EQ(3u, ledger.Bans().List().size());
  EXPECT_FALSE(bans.IsBanned("2001:db8:0:1::1"));
  EXPECT_FALSE(bans.IsBanned("192.0.2.2"));
  EXPECT_EQ(2u, bans.CountIndexed());
  // The admin's expired ban stays listed, as inactive, for a day; then it is pruned too.
  Json::Value listed = bans.Describe();
  ASSERT_EQ(3u, listed.size());
  EXPECT_EQ("192.0.2.2", listed[1]["entry"].asString());
  EXPECT_FALSE(listed[1]["active"].asBool());
  clock.now += BanList::kExpiredAdminBanListedMs;
  EXPECT_EQ(2u, bans.Prune());  // the admin's temporary one and the hour-long one
  listed = bans.Describe();
  ASSERT_EQ(1u, listed.size());
  EXPECT_EQ("192.0.2.1", listed[0]["entry"].asString());
  EXPECT_TRUE(bans.IsBanned("192.0.2.1"));

  // The audit trail keeps the history: one "ban" entry per ban, none removed by the prune.
  size_t banEvents = 0;
  for (const AuditEvent& e : ledger.Audit().List(0, 20000))
  {
    banEvents += (e.event == "ban" ? 1 : 0);
  }
  EXPECT_EQ(10003u, banEvents);
}

TEST(BanList, ExpiredBansInTheLedgerAreNotHeldAfterARestart)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  {
    BanList bans(ledger, clock, {});
    for (int i = 0; i < 20; i++)
    {
      EXPECT_TRUE(bans.Ban("203.0.113." + std::to_string(i), 60, "automatic: x", true, ""));
    }
    EXPECT_TRUE(bans.Ban("203.0.113.100", 600, "automatic: x", true, ""));
  }
  clock.now += 61000;
  BanList reloaded(ledger, clock, {});
  EXPECT_EQ(1u, reloaded.CountHeld());
  EXPECT_TRUE(reloaded.IsBanned("203.0.113.100"));
  EXPECT_FALSE(reloaded.IsBanned("203.0.113.1"));
  EXPECT_EQ(20u, reloaded.Prune());
  EXPECT_EQ(1u, ledger.Bans().List().size());
}

TEST(BanList, CapsAutomaticBansAndAlertsOnce)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {}, 5);
  for (int i = 0; i < 5; i++)
  {
    EXPECT_TRUE(bans.Ban("2001:db8:7:" + std::to_string(i) + "::/64", 60, "automatic: x", true, ""));
  }
  EXPECT_FALSE(bans.Ban("2001:db8:7:5::/64", 60, "automatic: x", true, ""));
  EXPECT_FALSE(bans.Ban("2001:db8:7:6::/64", 60, "automatic: x", true, ""));
  EXPECT_FALSE(bans.IsBanned("2001:db8:7:5::1"));
  EXPECT_EQ(5u, bans.CountHeld());
  // Renewing a held automatic ban, and an admin's ban, are not refused.
  EXPECT_TRUE(bans.Ban("2001:db8:7:0::/64", 60, "automatic: x", true, ""));
  EXPECT_TRUE(bans.Ban("2001:db8:7::/48", 0, "by hand", false, "admin"));
  EXPECT_TRUE(bans.IsBanned("2001:db8:7:5::1"));
  AutoBan autoBan(bans, clock, 1, 1, 10, 60);
  EXPECT_FALSE(autoBan.Record("198.51.100.1", Offence_Refusal));  // over the cap: not banned
  EXPECT_FALSE(bans.IsBanned("198.51.100.1"));
  size_t alerts = 0;
  for (const AuditEvent& e : ledger.Audit().List(0, 100))
  {
    alerts += (e.event == "alert-ban-cap" ? 1 : 0);
  }
  EXPECT_EQ(1u, alerts);  // once, not per refused ban

  // Once they expire and are pruned, automatic bans are added again, and alerted again.
  clock.now += 61000;
  bans.Prune();
  EXPECT_EQ(1u, bans.CountHeld());
  EXPECT_TRUE(autoBan.Record("198.51.100.1", Offence_Refusal));
  EXPECT_TRUE(bans.IsBanned("198.51.100.1"));
  for (int i = 0; i < 5; i++)
  {
    bans.Ban("2001:db8:8:" + std::to_string(i) + "::/64", 60, "automatic: x", true, "");
  }
  alerts = 0;
  for (const AuditEvent& e : ledger.Audit().List(0, 100))
  {
    alerts += (e.event == "alert-ban-cap" ? 1 : 0);
  }
  EXPECT_EQ(2u, alerts);
}

TEST(AutoBan, BansAfterTheThresholdWithinTheWindow)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {});
  AutoBan autoBan(bans, clock, 3, 5, 10, 60);
  EXPECT_FALSE(autoBan.Record("203.0.113.9", Offence_Refusal));
  EXPECT_FALSE(autoBan.Record("203.0.113.9", Offence_Refusal));
  clock.now += 11000;  // the window moved on
  EXPECT_FALSE(autoBan.Record("203.0.113.9", Offence_Refusal));
  EXPECT_FALSE(autoBan.Record("203.0.113.9", Offence_Refusal));
  for (int i = 0; i < 100; i++)
  {
    EXPECT_FALSE(autoBan.Record("203.0.113.9", Offence_None));  // never counted
  }
  EXPECT_TRUE(autoBan.Record("203.0.113.9", Offence_Refusal));
  EXPECT_TRUE(bans.IsBanned("203.0.113.9"));
  clock.now += 61000;
  EXPECT_FALSE(bans.IsBanned("203.0.113.9"));

  // Rate-limit hits count separately, against their own threshold.
  for (int i = 0; i < 4; i++)
  {
    EXPECT_FALSE(autoBan.Record("198.51.100.1", Offence_LimitHit));
  }
  EXPECT_FALSE(autoBan.Record("198.51.100.1", Offence_Refusal));
  EXPECT_TRUE(autoBan.Record("198.51.100.1", Offence_LimitHit));
}
