#pragma once

#include "Ledger/Records.h"

#include <cstdint>
#include <string>
#include <vector>

namespace Inbound
{
  struct ClientInfo
  {
    std::string ip;
    std::string userAgent;
  };

  // The limits that the upload service consults (rates, quotas, data monitor). Refusals are
  // ApiErrors (503 rate-limited / quota-exceeded with Retry-After, 507 storage-full).
  class IUploadPolicy
  {
  public:
    virtual ~IUploadPolicy() = default;

    virtual void CheckOpen(const ClientInfo& client, const std::string& senderEmail) = 0;

    virtual void CheckFile(const ClientInfo& client, const UploadRecord& upload,
                           uint64_t size) = 0;

    // The quota counters that an upload or a file counts against, and today's day number.
    virtual std::vector<std::string> GetQuotaScopes(const std::string& clientIp,
                                                    const std::string& senderEmail) const = 0;

    virtual int64_t GetDay() const = 0;
  };

  // No limits at all (unit tests of the upload logic).
  class NoUploadPolicy : public IUploadPolicy
  {
  public:
    void CheckOpen(const ClientInfo&, const std::string&) override
    {
    }

    void CheckFile(const ClientInfo&, const UploadRecord&, uint64_t) override
    {
    }

    std::vector<std::string> GetQuotaScopes(const std::string&, const std::string&) const override
    {
      return {};
    }

    int64_t GetDay() const override
    {
      return 0;
    }
  };
}
