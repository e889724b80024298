// The unit the public limits count and ban: an IPv4 address, or an IPv6 network prefix.
#pragma once

#include <string>

namespace Inbound
{
  // The unit that the public side's limits count and ban: an IPv4 address as such, an IPv6
  // address by its network prefix (Inbound.Limits.IPv6PrefixLength, /64 by default). One
  // IPv6 subscriber usually gets a whole /64 and can use any of its 2^64 addresses: counting
  // per /128 would give them that many rate buckets, quotas and bans to walk through.
  // IPv4-mapped IPv6 ("::ffff:192.0.2.1") is the IPv4 address. Not an address (empty, for an
  // internal caller): returned unchanged.
  //
  // An IPv6 key is a CIDR block ("2001:db8:1:2::/64"), so that it can be banned as such;
  // with a prefix length of 128 it is the plain address.
  std::string GetClientKey(const std::string& address, unsigned int ipv6PrefixLength);
}
