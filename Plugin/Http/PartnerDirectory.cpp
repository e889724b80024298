// Authenticates partner sites by the SHA-256 of their Bearer token, in constant time (doc/Configuration.md).
#include "PartnerDirectory.h"

#include "../Toolbox/Crypto.h"

#include <boost/algorithm/string/predicate.hpp>

namespace Inbound
{
  PartnerDirectory::PartnerDirectory(const std::vector<PartnerSettings>& partners)
  {
    for (const PartnerSettings& partner : partners)
    {
      entries_.push_back(Entry{partner, AddressRules(partner.networks)});
    }
  }

  std::string PartnerDirectory::ExtractBearerToken(const std::string& authorization)
  {
    static const std::string kScheme = "bearer ";
    if (authorization.size() < kScheme.size() ||
        !boost::algorithm::iequals(authorization.substr(0, kScheme.size()), kScheme))
    {
      return "";
    }
    const std::string token = authorization.substr(kScheme.size());
    if (token.size() < 16 || token.size() > 256)
    {
      return "";
    }
    for (char c : token)
    {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
      if (!ok)
      {
        return "";
      }
    }
    return token;
  }

  const PartnerSettings* PartnerDirectory::Authenticate(const std::string& authorization,
                                                        const std::string& client,
                                                        std::string& refusal) const
  {
    const std::string token = ExtractBearerToken(authorization);
    // A malformed token is hashed and compared too: the same work whatever the header.
    const std::string hash = Crypto::Sha256Hex(token);
    const Entry* found = nullptr;
    for (const Entry& entry : entries_)
    {
      for (const std::string& known : entry.settings.tokenSha256s)
      {
        // No early exit: every hash is compared, the first match kept (hashes are unique).
        const bool match = Crypto::ConstantTimeEquals(hash, known);
        if (match && found == nullptr)
        {
          found = &entry;
        }
      }
    }
    if (token.empty() || found == nullptr)
    {
      refusal = "partner-bad-token";
      return nullptr;
    }
    if (!found->settings.enabled)
    {
      refusal = "partner-revoked";
      return nullptr;
    }
    if (!found->networks.IsEmpty() && !found->networks.Contains(client))
    {
      refusal = "partner-network";
      return nullptr;
    }
    refusal.clear();
    return &found->settings;
  }

  const PartnerSettings* PartnerDirectory::Lookup(const std::string& id) const
  {
    for (const Entry& entry : entries_)
    {
      if (entry.settings.id == id)
      {
        return &entry.settings;
      }
    }
    return nullptr;
  }
}
