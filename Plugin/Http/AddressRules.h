// Address lists and CIDR blocks, and the client's address behind trusted proxies.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <string>
#include <vector>

namespace Inbound
{
  // A list of addresses and CIDR blocks ("127.0.0.1", "10.0.0.0/8", "2001:db8::/32").
  class AddressRules
  {
  private:
    struct Block
    {
      boost::asio::ip::address network;
      unsigned int prefix;
    };
    std::vector<Block> blocks_;

  public:
    AddressRules() = default;

    // Throws std::invalid_argument naming the bad entry.
    explicit AddressRules(const std::vector<std::string>& entries);

    bool Contains(const std::string& address) const;

    bool IsEmpty() const
    {
      return blocks_.empty();
    }

    // Parses an address, mapping IPv4-mapped IPv6 to IPv4; false if it is not an address.
    static bool ParseAddress(boost::asio::ip::address& target, const std::string& text);
  };

  // The client's address: the TCP peer, or, only when that peer is a trusted proxy, the
  // right-most address of X-Forwarded-For that is not itself a trusted proxy. Anything to
  // its left was written by the client and proves nothing.
  std::string ResolveClientAddress(const AddressRules& trustedProxies, const std::string& tcpPeer,
                                   const std::string& forwardedFor);
}
