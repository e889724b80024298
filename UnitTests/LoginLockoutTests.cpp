// Unit tests of the lockout after wrong passwords, per address and per IPv6 network.
#include "Http/LoginLockout.h"
#include "LedgerBackends.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

using namespace Inbound;

TEST(LoginLockout, LocksOutAfterTheThresholdWithinTheWindow)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {});
  LoginLockout lockout(bans, clock, 3, 600, 900);
  EXPECT_FALSE(lockout.RecordFailure("203.0.113.9"));
  EXPECT_FALSE(lockout.RecordFailure("203.0.113.9"));
  EXPECT_FALSE(lockout.RecordFailure("198.51.100.1"));  // another address counts apart
  EXPECT_FALSE(bans.IsBanned("203.0.113.9"));
  EXPECT_TRUE(lockout.RecordFailure("203.0.113.9"));
  EXPECT_TRUE(bans.IsBanned("203.0.113.9"));
  EXPECT_FALSE(bans.IsBanned("198.51.100.1"));
  const Json::Value listed = bans.Describe();
  ASSERT_EQ(1u, listed.size());
  EXPECT_NE(std::string::npos, listed[0]["reason"].asString().find("failed logins"));
  clock.now += 901000;
  EXPECT_FALSE(bans.IsBanned("203.0.113.9"));  // the lockout ends by itself
}

TEST(LoginLockout, TheWindowMovesOnAndZeroTurnsItOff)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {});
  LoginLockout lockout(bans, clock, 2, 60, 900);
  EXPECT_FALSE(lockout.RecordFailure("203.0.113.9"));
  clock.now += 61000;
  EXPECT_FALSE(lockout.RecordFailure("203.0.113.9"));  // a new window
  EXPECT_FALSE(bans.IsBanned("203.0.113.9"));
  LoginLockout off(bans, clock, 0, 60, 900);
  for (int i = 0; i < 100; i++)
  {
    EXPECT_FALSE(off.RecordFailure("192.0.2.1"));
  }
  EXPECT_FALSE(bans.IsBanned("192.0.2.1"));
}

TEST(LoginLockout, AnIpv6ClientIsLockedOutWithItsNetwork)
{
  InboundTests::FakeClock clock;
  Ledger ledger(InboundTests::TestLedgerLocation());
  BanList bans(ledger, clock, {});
  LoginLockout lockout(bans, clock, 3, 600, 900, 64);
  // Three addresses of one /64: one client, however it rotates its address.
  EXPECT_FALSE(lockout.RecordFailure("2001:db8:1:2::1"));
  EXPECT_FALSE(lockout.RecordFailure("2001:db8:1:2::2"));
  EXPECT_TRUE(lockout.RecordFailure("2001:db8:1:2:ffff::3"));
  EXPECT_TRUE(bans.IsBanned("2001:db8:1:2::99"));
  EXPECT_FALSE(bans.IsBanned("2001:db8:1:3::1"));
}
