// Unit tests of PartnerStreams: at most MaxStreams per partner and MaxStreamsTotal in all.
#include "Limits/PartnerStreams.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace Inbound;

TEST(PartnerStreams, PerPartnerAndTotalCaps)
{
  PartnerStreams streams(3);
  EXPECT_TRUE(streams.Acquire("a", 2));
  EXPECT_TRUE(streams.Acquire("a", 2));
  EXPECT_FALSE(streams.Acquire("a", 2));  // the third stream of one partner
  EXPECT_EQ(2u, streams.GetCount("a"));
  EXPECT_TRUE(streams.Acquire("b", 2));
  EXPECT_FALSE(streams.Acquire("c", 2));  // the total
  EXPECT_EQ(0u, streams.GetCount("c"));
  EXPECT_EQ(3u, streams.GetTotal());
  streams.Release("a");
  EXPECT_TRUE(streams.Acquire("c", 2));
  EXPECT_FALSE(streams.Acquire("a", 2));
  // Releasing what is not held changes nothing.
  streams.Release("nobody");
  EXPECT_EQ(3u, streams.GetTotal());
  streams.Release("a");
  streams.Release("b");
  streams.Release("c");
  streams.Release("c");
  EXPECT_EQ(0u, streams.GetTotal());
  EXPECT_EQ(0u, streams.GetCount("a"));
}

TEST(PartnerStreams, ConcurrentAcquiresNeverExceedTheCaps)
{
  PartnerStreams streams(8);
  std::vector<std::thread> threads;
  std::vector<int> granted(16, 0);
  for (int i = 0; i < 16; i++)
  {
    threads.emplace_back([&streams, &granted, i] {
      granted[i] = streams.Acquire(i % 2 == 0 ? "a" : "b", 3) ? 1 : 0;
    });
  }
  for (std::thread& t : threads)
  {
    t.join();
  }
  int total = 0;
  for (int g : granted)
  {
    total += g;
  }
  EXPECT_EQ(6, total);  // 3 for each partner, under the total of 8
  EXPECT_EQ(3u, streams.GetCount("a"));
  EXPECT_EQ(3u, streams.GetCount("b"));
}
