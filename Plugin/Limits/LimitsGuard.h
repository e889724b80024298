#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Limits/BanList.h"
#include "Limits/DataMonitor.h"
#include "Limits/InFlight.h"
#include "Limits/Quotas.h"
#include "Limits/RateLimiter.h"
#include "Upload/IUploadPolicy.h"

#include <map>

namespace Inbound
{
  enum Admission
  {
    Admission_Allowed,
    Admission_Banned,
    Admission_TooLarge,      // the announced body is over its cap
    Admission_NoLength,      // a body without Content-Length cannot be bounded beforehand
    Admission_ClientBusy,    // the client has its maximum of bodies in flight
    Admission_ServerBusy     // the server's in-flight byte budget is used up
  };

  const char* EnumerationToString(Admission admission);

  // Every limit of the public side in one place: what the access filter checks before a body
  // is read (bans, body caps, bodies in flight), and what the upload service checks before
  // data is kept (rates, quotas, data monitor). Refusals are audited, in batches, and feed
  // the automatic bans.
  class LimitsGuard : public IUploadPolicy
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    const IClock& clock_;
    RateLimiter rates_;
    InFlight inFlight_;
    BanList bans_;
    AutoBan autoBan_;
    Quotas quotas_;
    DataMonitor monitor_;

    std::mutex refusalsMutex_;
    std::vector<AuditEvent> pendingRefusals_;
    uint64_t droppedRefusals_ = 0;
    std::map<std::string, uint64_t> refusalCounts_;  // by code, since start

  public:
    LimitsGuard(const Configuration& configuration, Ledger& ledger, const IClock& clock,
                const std::vector<std::string>& watchedPaths,
                const DataMonitor::FreeSpaceProbe& probe = DataMonitor::GetFreeSpace);

    // Before the body is read. "isFile": a file upload (PUT), whose bytes stay reserved under
    // "ticket" (0: nothing reserved) until ReleaseBody(); contentLength < 0 when absent.
    Admission AdmitBody(const std::string& address, bool hasBody, bool isFile,
                        int64_t contentLength, uint64_t& ticket);

    void ReleaseBody(uint64_t ticket);

    // Every public API call: 503 rate-limited with Retry-After when over the request rate.
    void CheckRequestRate(const std::string& address);

    void CheckOpen(const ClientInfo& client, const std::string& senderEmail) override;

    void CheckFile(const ClientInfo& client, const UploadRecord& upload, uint64_t size) override;

    std::vector<std::string> GetQuotaScopes(const std::string& clientIp,
                                            const std::string& senderEmail) const override
    {
      return Quotas::GetScopes(clientIp, senderEmail);
    }

    int64_t GetDay() const override
    {
      return quotas_.GetDay();
    }

    // An answered refusal: audited (address and reason, never the body) and counted
    // towards an automatic ban.
    void RecordRefusal(const std::string& address, int status, const std::string& code,
                       const std::string& what, Offence offence);

    // Background work: writes buffered refusals, re-evaluates the data monitor.
    void Flush();

    void UpdateMonitor();

    BanList& GetBans()
    {
      return bans_;
    }

    DataMonitor& GetMonitor()
    {
      return monitor_;
    }

    Json::Value Describe(const std::string& clientAddress);
  };
}
