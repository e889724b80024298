// Unit tests of address lists and CIDR blocks, and of the client address behind trusted proxies.
#include "Http/AddressRules.h"

#include <gtest/gtest.h>

using namespace Inbound;

TEST(AddressRules, AddressesAndBlocks)
{
  const AddressRules rules({"127.0.0.1", "10.0.0.0/8", "2001:db8::/32", "192.168.1.0/24"});
  EXPECT_TRUE(rules.Contains("127.0.0.1"));
  EXPECT_FALSE(rules.Contains("127.0.0.2"));
  EXPECT_TRUE(rules.Contains("10.200.3.4"));
  EXPECT_FALSE(rules.Contains("11.0.0.1"));
  EXPECT_TRUE(rules.Contains("192.168.1.255"));
  EXPECT_FALSE(rules.Contains("192.168.2.1"));
  EXPECT_TRUE(rules.Contains("2001:db8:1::5"));
  EXPECT_FALSE(rules.Contains("2001:db9::1"));
  EXPECT_TRUE(rules.Contains("::ffff:10.1.2.3"));  // IPv4-mapped IPv6 counts as IPv4
  EXPECT_FALSE(rules.Contains("not an address"));
  EXPECT_FALSE(rules.Contains(""));
}

TEST(AddressRules, ZeroPrefixMatchesAllOfTheFamily)
{
  const AddressRules rules({"0.0.0.0/0"});
  EXPECT_TRUE(rules.Contains("8.8.8.8"));
  EXPECT_FALSE(rules.Contains("::1"));
}

TEST(AddressRules, BadEntriesAreRefused)
{
  EXPECT_THROW(AddressRules({"10.0.0.0/33"}), std::invalid_argument);
  EXPECT_THROW(AddressRules({"10.0.0/8"}), std::invalid_argument);
  EXPECT_THROW(AddressRules({"example.org"}), std::invalid_argument);
  EXPECT_THROW(AddressRules({"10.0.0.0/x"}), std::invalid_argument);
  EXPECT_THROW(AddressRules({"::1/129"}), std::invalid_argument);
}

TEST(ClientAddress, ForwardedForIsBelievedOnlyFromTrustedProxies)
{
  const AddressRules trusted({"127.0.0.1"});
  EXPECT_EQ("203.0.113.9", ResolveClientAddress(trusted, "127.0.0.1", "203.0.113.9"));
  // Not through the proxy: the header is the client's own words.
  EXPECT_EQ("198.51.100.7", ResolveClientAddress(trusted, "198.51.100.7", "1.2.3.4"));
  EXPECT_EQ("127.0.0.1", ResolveClientAddress(trusted, "127.0.0.1", ""));
}

TEST(ClientAddress, RightMostUntrustedEntryWins)
{
  const AddressRules trusted({"127.0.0.1", "10.0.0.0/8"});
  // A client that forges "1.1.1.1" gets its real address, appended by the proxy, used.
  EXPECT_EQ("203.0.113.9", ResolveClientAddress(trusted, "127.0.0.1", "1.1.1.1, 203.0.113.9"));
  EXPECT_EQ("203.0.113.9",
            ResolveClientAddress(trusted, "127.0.0.1", "1.1.1.1, 203.0.113.9, 10.1.1.1"));
  EXPECT_EQ("10.2.2.2", ResolveClientAddress(trusted, "127.0.0.1", "10.2.2.2, 10.1.1.1"));
  EXPECT_EQ("127.0.0.1", ResolveClientAddress(trusted, "127.0.0.1", "1.1.1.1, garbage"));
  EXPECT_EQ("203.0.113.9", ResolveClientAddress(trusted, "127.0.0.1", "  203.0.113.9  "));
  EXPECT_EQ("2001:db8::1", ResolveClientAddress(trusted, "127.0.0.1", "2001:db8::1"));
}
