// Daily quotas per client, per sender and for the whole site, counted in the ledger.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"

namespace Inbound
{
  // Daily quotas per client address, per sender (the keyed hash of the e-mail address,
  // Limits/SenderKey.h) and for the whole site, counted in the ledger (so a restart does not reset them) and checked before data is accepted.
  class Quotas
  {
  private:
    QuotaLimits limits_;
    const Ledger& ledger_;
    const IClock& clock_;

    void Check(const std::string& scope, const std::string& what, uint64_t maxUploads,
               uint64_t maxBytes, uint64_t addUploads, uint64_t addBytes) const;

  public:
    Quotas(const QuotaLimits& limits, const Ledger& ledger, const IClock& clock);

    static int64_t DayOf(int64_t ms)
    {
      return ms / 86400000;
    }

    int64_t GetDay() const
    {
      return DayOf(clock_.NowMs());
    }

    // Seconds until the quotas of today reset (midnight UTC), at least 1.
    int64_t GetSecondsUntilReset() const;

    // "senderKey": SenderKey::Compute of the address ("" : no sender scope).
    static std::vector<std::string> GetScopes(const std::string& clientIp,
                                              const std::string& senderKey);

    // Throws 503 quota-exceeded, naming the quota, with Retry-After.
    void CheckUpload(const std::string& clientIp, const std::string& senderKey) const;

    void CheckBytes(const std::string& clientIp, const std::string& senderKey,
                    uint64_t bytes) const;

    // A partner's part: the site's quotas and the partner's (IUploadPolicy::CheckPartner).
    void CheckPartner(const std::string& partnerId, uint64_t maxUploads, uint64_t maxBytes,
                      uint64_t addUploads, uint64_t addBytes) const;

    uint64_t GetBytesToday() const;

    // What the whole site received today.
    QuotaUsage GetGlobalUsage() const;

    Json::Value Describe(const std::string& clientIp) const;
  };
}
