// The partner sites' door: which partner a "Bearer" token belongs to (doc/Configuration.md, "Partner sites").
#pragma once

#include "../Configuration.h"
#include "AddressRules.h"

#include <string>
#include <vector>

namespace Inbound
{
  // Built once at start-up from "Inbound.Partners"; read-only afterwards (no lock).
  class PartnerDirectory
  {
  private:
    struct Entry
    {
      PartnerSettings settings;
      AddressRules networks;
    };
    std::vector<Entry> entries_;

  public:
    PartnerDirectory() = default;

    // Throws std::invalid_argument for a bad network (the configuration parser checked them).
    explicit PartnerDirectory(const std::vector<PartnerSettings>& partners);

    // The partner whose token "authorization" ("Bearer <token>", scheme case-insensitive)
    // carries, when it is enabled and "client" (the resolved client address) is inside its
    // networks; else null, and "refusal" is the audit code: "partner-bad-token" (missing,
    // malformed or unknown token), "partner-revoked" or "partner-network". The client must
    // get the same answer for all three. The token's SHA-256 is compared, in constant time,
    // with every hash of every partner, enabled or not, whatever matches: the time taken
    // tells nothing about which partner or hash came close.
    const PartnerSettings* Authenticate(const std::string& authorization, const std::string& client,
                                        std::string& refusal) const;

    const PartnerSettings* Lookup(const std::string& id) const;

    size_t GetSize() const
    {
      return entries_.size();
    }

    bool IsEmpty() const
    {
      return entries_.empty();
    }

    // The token itself from an Authorization header, or "" when it is not a well-formed
    // "Bearer" credential (16 to 256 characters of URL-safe base64).
    static std::string ExtractBearerToken(const std::string& authorization);
  };
}
