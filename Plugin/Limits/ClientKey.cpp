// Maps a client address to its key: the IPv4 address, or its IPv6 network as a CIDR block.
#include "ClientKey.h"

#include "Http/AddressRules.h"

namespace Inbound
{
  std::string GetClientKey(const std::string& address, unsigned int ipv6PrefixLength)
  {
    boost::asio::ip::address parsed;
    if (!AddressRules::ParseAddress(parsed, address))
    {
      return address;
    }
    if (parsed.is_v4() || ipv6PrefixLength >= 128)
    {
      return parsed.to_string();
    }
    boost::asio::ip::address_v6::bytes_type bytes = parsed.to_v6().to_bytes();
    for (unsigned int i = 0; i < bytes.size(); i++)
    {
      const unsigned int first = i * 8;  // the first bit of this byte
      if (first >= ipv6PrefixLength)
      {
        bytes[i] = 0;
      }
      else if (first + 8 > ipv6PrefixLength)
      {
        bytes[i] &= static_cast<unsigned char>(0xff << (8 - (ipv6PrefixLength - first)));
      }
    }
    return boost::asio::ip::address_v6(bytes).to_string() + "/" +
           std::to_string(ipv6PrefixLength);
  }
}
