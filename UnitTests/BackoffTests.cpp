// Unit tests of the back-off rule shared by notifications, forwards and pulls.
#include "Toolbox/Backoff.h"

#include <gtest/gtest.h>

#include <cstdint>

using namespace Inbound;

TEST(Backoff, DoublesFromTheFirstDelayAfterEachFailureUpToTheCap)
{
  const Backoff backoff(30, 600);
  EXPECT_EQ(30, backoff.NextDelay(1));  // after the first failure: the first delay
  EXPECT_EQ(60, backoff.NextDelay(2));
  EXPECT_EQ(120, backoff.NextDelay(3));
  EXPECT_EQ(240, backoff.NextDelay(4));
  EXPECT_EQ(480, backoff.NextDelay(5));
  EXPECT_EQ(600, backoff.NextDelay(6));  // 960 capped
  EXPECT_EQ(600, backoff.NextDelay(7));
}

TEST(Backoff, NoFailureCountIsReadAsOne)
{
  const Backoff backoff(2000, 300000);
  EXPECT_EQ(2000, backoff.NextDelay(0));
  EXPECT_EQ(2000, backoff.NextDelay(-5));
}

TEST(Backoff, AHugeFailureCountNeitherOverflowsNorTakesLong)
{
  const Backoff backoff(1000, 60000);
  EXPECT_EQ(60000, backoff.NextDelay(INT64_MAX));
  const Backoff wide(1, INT64_MAX / 2 + 1);
  EXPECT_EQ(INT64_MAX / 2 + 1, wide.NextDelay(1000));
}

TEST(Backoff, AFirstDelayAboveTheCapIsTheCap)
{
  EXPECT_EQ(10, Backoff(30, 10).NextDelay(1));
  EXPECT_EQ(10, Backoff(30, 10).NextDelay(3));
}

TEST(Backoff, ACapEqualToTheFirstDelayNeverGrows)
{
  const Backoff backoff(1, 1);
  for (int64_t failures = 1; failures < 10; failures++)
  {
    EXPECT_EQ(1, backoff.NextDelay(failures));
  }
}

TEST(Backoff, ZeroFirstDelayStaysZero)
{
  EXPECT_EQ(0, Backoff(0, 100).NextDelay(5));
}

TEST(Backoff, TheScheduleOfTheGatewayPullsAndTheirBadData)
{
  // Unreachable gateway: 1 s, 2 s, ... up to a minute; bad data: 2 s, 4 s, ... up to 5 min.
  const Backoff unreachable(1000, 60000);
  const int64_t expectedUnreachable[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
  const Backoff badData(2000, 300000);
  const int64_t expectedBadData[] = {2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000,
                                     300000, 300000};
  for (int64_t i = 0; i < 8; i++)
  {
    EXPECT_EQ(expectedUnreachable[i], unreachable.NextDelay(i + 1)) << i;
  }
  for (int64_t i = 0; i < 10; i++)
  {
    EXPECT_EQ(expectedBadData[i], badData.NextDelay(i + 1)) << i;
  }
}
