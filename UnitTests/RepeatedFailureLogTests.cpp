// Unit tests of the once-a-minute log of a failure repeated by a background loop.
#include "Toolbox/RepeatedFailureLog.h"

#include <gtest/gtest.h>

#include <chrono>

using namespace Inbound;

namespace
{
  // A fixed point of the steady clock, well away from its epoch, that the tests move by hand.
  const std::chrono::steady_clock::time_point kStart =
    std::chrono::steady_clock::time_point() + std::chrono::hours(24);
}

TEST(RepeatedFailureLog, TheFirstFailureIsLogged)
{
  RepeatedFailureLog log;
  EXPECT_TRUE(log.ShouldLog("ledger: connection refused", kStart));
}

TEST(RepeatedFailureLog, TheSameFailureIsLoggedAgainOnlyAfterAMinute)
{
  RepeatedFailureLog log;
  ASSERT_TRUE(log.ShouldLog("ledger: connection refused", kStart));
  EXPECT_FALSE(log.ShouldLog("ledger: connection refused", kStart + std::chrono::seconds(1)));
  EXPECT_FALSE(log.ShouldLog("ledger: connection refused",
                             kStart + std::chrono::minutes(1) - std::chrono::milliseconds(1)));
  EXPECT_TRUE(log.ShouldLog("ledger: connection refused", kStart + std::chrono::minutes(1)));
  // The minute starts again from the last time it was logged.
  EXPECT_FALSE(log.ShouldLog("ledger: connection refused", kStart + std::chrono::seconds(90)));
  EXPECT_TRUE(log.ShouldLog("ledger: connection refused", kStart + std::chrono::minutes(2)));
}

TEST(RepeatedFailureLog, ADifferentFailureIsLoggedAtOnce)
{
  RepeatedFailureLog log;
  ASSERT_TRUE(log.ShouldLog("ledger: connection refused", kStart));
  EXPECT_TRUE(log.ShouldLog("disk full", kStart + std::chrono::seconds(1)));
  // Then the first one is a change again, not a repeat.
  EXPECT_TRUE(log.ShouldLog("ledger: connection refused", kStart + std::chrono::seconds(2)));
  EXPECT_FALSE(log.ShouldLog("ledger: connection refused", kStart + std::chrono::seconds(3)));
}

TEST(RepeatedFailureLog, EachLoopKeepsItsOwnCount)
{
  RepeatedFailureLog forwarding;
  RepeatedFailureLog notifications;
  ASSERT_TRUE(forwarding.ShouldLog("ledger: connection refused", kStart));
  EXPECT_TRUE(notifications.ShouldLog("ledger: connection refused", kStart));
}

TEST(RepeatedFailureLog, WithoutATimeItReadsTheSteadyClock)
{
  RepeatedFailureLog log;
  EXPECT_TRUE(log.ShouldLog("ledger: connection refused"));
  EXPECT_FALSE(log.ShouldLog("ledger: connection refused"));
}
