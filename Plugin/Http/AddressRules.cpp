// Parsing and matching of address lists and CIDR blocks; the right X-Forwarded-For entry.
#include "AddressRules.h"

#include <boost/algorithm/string/trim.hpp>
#include <boost/lexical_cast.hpp>

#include <stdexcept>

namespace Inbound
{
  bool AddressRules::ParseAddress(boost::asio::ip::address& target, const std::string& text)
  {
    boost::system::error_code error;
    boost::asio::ip::address parsed = boost::asio::ip::make_address(text, error);
    if (error)
    {
      return false;
    }
    if (parsed.is_v6() && parsed.to_v6().is_v4_mapped())
    {
      parsed = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, parsed.to_v6());
    }
    target = parsed;
    return true;
  }

  AddressRules::AddressRules(const std::vector<std::string>& entries)
  {
    for (const std::string& entry : entries)
    {
      Block block;
      const size_t slash = entry.find('/');
      if (!ParseAddress(block.network, entry.substr(0, slash)))
      {
        throw std::invalid_argument("\"" + entry + "\" is not an address or CIDR block");
      }
      const unsigned int bits = block.network.is_v4() ? 32 : 128;
      block.prefix = bits;
      if (slash != std::string::npos)
      {
        try
        {
          block.prefix = boost::lexical_cast<unsigned int>(entry.substr(slash + 1));
        }
        catch (const boost::bad_lexical_cast&)
        {
          block.prefix = bits + 1;
        }
        if (block.prefix > bits)
        {
          throw std::invalid_argument("\"" + entry + "\" has a bad prefix length");
        }
      }
      blocks_.push_back(block);
    }
  }

  bool AddressRules::Contains(const std::string& text) const
  {
    boost::asio::ip::address address;
    if (!ParseAddress(address, text))
    {
      return false;
    }
    for (const Block& block : blocks_)
    {
      if (block.network.is_v4() != address.is_v4())
      {
        continue;
      }
      if (address.is_v4())
      {
        const uint32_t mask = block.prefix == 0 ? 0 : ~uint32_t(0) << (32 - block.prefix);
        if ((address.to_v4().to_uint() & mask) == (block.network.to_v4().to_uint() & mask))
        {
          return true;
        }
      }
      else
      {
        const auto a = address.to_v6().to_bytes();
        const auto n = block.network.to_v6().to_bytes();
        bool match = true;
        for (unsigned int bit = 0; bit < block.prefix && match; bit++)
        {
          const unsigned int byte = bit / 8;
          const unsigned char m = static_cast<unsigned char>(0x80 >> (bit % 8));
          match = ((a[byte] & m) == (n[byte] & m));
        }
        if (match)
        {
          return true;
        }
      }
    }
    return false;
  }

  std::string ResolveClientAddress(const AddressRules& trustedProxies, const std::string& tcpPeer,
                                   const std::string& forwardedFor)
  {
    if (forwardedFor.empty() || !trustedProxies.Contains(tcpPeer))
    {
      return tcpPeer;
    }

    std::string rest = forwardedFor;
    while (!rest.empty())
    {
      const size_t comma = rest.rfind(',');
      std::string entry = (comma == std::string::npos ? rest : rest.substr(comma + 1));
      rest = (comma == std::string::npos ? "" : rest.substr(0, comma));
      boost::algorithm::trim(entry);

      boost::asio::ip::address address;
      if (!AddressRules::ParseAddress(address, entry))
      {
        // Garbage where the proxy should have written an address: trust nothing further.
        return tcpPeer;
      }
      const std::string normalized = address.to_string();
      if (!trustedProxies.Contains(normalized))
      {
        return normalized;
      }
      if (rest.empty())
      {
        return normalized;  // every hop is a trusted proxy: the left-most is the origin
      }
    }
    return tcpPeer;
  }
}
