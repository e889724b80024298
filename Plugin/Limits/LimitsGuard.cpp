#include "LimitsGuard.h"

#include "Http/ApiError.h"

#include <cmath>

namespace Inbound
{
  namespace
  {
    const int64_t kMaxJsonBody = 64 * 1024;
    const size_t kMaxPendingRefusals = 10000;

    std::string RetryAfter(double seconds)
    {
      return std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds))));
    }
  }

  const char* EnumerationToString(Admission admission)
  {
    switch (admission)
    {
      case Admission_Allowed:
        return "allowed";
      case Admission_Banned:
        return "banned";
      case Admission_TooLarge:
        return "too-large";
      case Admission_NoLength:
        return "no-content-length";
      case Admission_ClientBusy:
        return "client-busy";
      default:
        return "server-busy";
    }
  }

  LimitsGuard::LimitsGuard(const Configuration& configuration, Ledger& ledger,
                           const IClock& clock, const std::vector<std::string>& watchedPaths,
                           const DataMonitor::FreeSpaceProbe& probe) :
    configuration_(configuration),
    ledger_(ledger),
    clock_(clock),
    rates_(RateLimits{configuration.limits.requestsPerSecond, configuration.limits.requestBurst,
                      configuration.limits.bytesPerSecond, configuration.limits.byteBurst},
           clock),
    inFlight_(configuration.limits.maxUploadsInFlightPerClient,
              configuration.limits.maxBytesInFlight),
    bans_(ledger, clock, configuration.bans),
    autoBan_(bans_, clock, configuration.autoBan.refusals, configuration.autoBan.limitHits,
             configuration.autoBan.windowSeconds, configuration.autoBan.banSeconds),
    quotas_(configuration.quotas, ledger, clock),
    monitor_(configuration.dataMonitor, watchedPaths, probe,
             [this](const std::string& event, const std::string& detail) {
               ledger_.AddAudit(clock_.NowMs(), "alert-" + event, "", "", detail);
             })
  {
  }

  Admission LimitsGuard::AdmitBody(const std::string& address, bool hasBody, bool isFile,
                                   int64_t contentLength, uint64_t& ticket)
  {
    ticket = 0;
    if (bans_.IsBanned(address))
    {
      return Admission_Banned;
    }
    if (!hasBody)
    {
      return Admission_Allowed;
    }
    if (contentLength < 0)
    {
      return Admission_NoLength;
    }
    // Bodies a little over their cap still reach the handler, which answers a clear 413
    // "too-large"; far over it (twice the cap) they are refused before being read. Either
    // way the bodies in flight are bounded by Limits.MaxBytesInFlight.
    const uint64_t cap = 2 * (isFile ? configuration_.upload.maxFileBytes : uint64_t(kMaxJsonBody));
    if (uint64_t(contentLength) > cap)
    {
      return Admission_TooLarge;
    }
    if (!isFile)
    {
      return Admission_Allowed;
    }
    switch (inFlight_.Reserve(ticket, address, uint64_t(contentLength), clock_.NowMs()))
    {
      case InFlight::Result_Reserved:
        return Admission_Allowed;
      case InFlight::Result_ClientBusy:
        return Admission_ClientBusy;
      default:
        return Admission_ServerBusy;
    }
  }

  void LimitsGuard::ReleaseBody(uint64_t ticket)
  {
    inFlight_.Release(ticket);
  }

  void LimitsGuard::CheckRequestRate(const std::string& address)
  {
    double wait = 0;
    if (!rates_.TakeRequest(address, wait))
    {
      throw ApiError(503, "rate-limited", "Too many requests from your network address; "
                                          "please slow down")
        .WithHeader("Retry-After", RetryAfter(wait));
    }
  }

  void LimitsGuard::CheckOpen(const ClientInfo& client, const std::string& senderEmail)
  {
    monitor_.CheckAccepting();
    quotas_.CheckUpload(client.ip, senderEmail);
  }

  void LimitsGuard::CheckFile(const ClientInfo& client, const UploadRecord& upload,
                              uint64_t size)
  {
    monitor_.CheckAccepting();
    double wait = 0;
    if (!rates_.TakeBytes(client.ip, size, wait))
    {
      throw ApiError(503, "rate-limited", "Your network address is sending faster than this "
                                          "site accepts; the file will be retried")
        .WithHeader("Retry-After", RetryAfter(wait));
    }
    quotas_.CheckBytes(client.ip, upload.sender.email, size);
  }

  void LimitsGuard::RecordRefusal(const std::string& address, int status,
                                  const std::string& code, const std::string& what,
                                  Offence offence)
  {
    {
      std::lock_guard<std::mutex> lock(refusalsMutex_);
      refusalCounts_[code]++;
      if (pendingRefusals_.size() < kMaxPendingRefusals)
      {
        AuditEvent event;
        event.time = clock_.NowMs();
        event.event = "refused";
        event.ip = address;
        event.detail = std::to_string(status) + " " + code + ": " + what.substr(0, 200);
        pendingRefusals_.push_back(event);
      }
      else
      {
        droppedRefusals_++;  // a flood: counted, itemized no further
      }
    }
    autoBan_.Record(address, offence);
  }

  void LimitsGuard::Flush()
  {
    inFlight_.Expire(clock_.NowMs() - int64_t(configuration_.limits.bodyTimeoutSeconds) * 1000);

    std::vector<AuditEvent> events;
    uint64_t dropped = 0;
    {
      std::lock_guard<std::mutex> lock(refusalsMutex_);
      events.swap(pendingRefusals_);
      std::swap(dropped, droppedRefusals_);
    }
    if (dropped > 0)
    {
      AuditEvent summary;
      summary.time = clock_.NowMs();
      summary.event = "refused";
      summary.detail = std::to_string(dropped) + " further refusals during a flood, not itemized";
      events.push_back(summary);
    }
    ledger_.AddAuditBatch(events);
  }

  void LimitsGuard::UpdateMonitor()
  {
    monitor_.Update(quotas_.GetDay(), quotas_.GetBytesToday());
  }

  Json::Value LimitsGuard::Describe(const std::string& clientAddress)
  {
    Json::Value json(Json::objectValue);
    const ClientLimits& l = configuration_.limits;
    json["limits"]["requestsPerSecond"] = l.requestsPerSecond;
    json["limits"]["requestBurst"] = l.requestBurst;
    json["limits"]["bytesPerSecond"] = l.bytesPerSecond;
    json["limits"]["byteBurst"] = l.byteBurst;
    json["limits"]["maxUploadsInFlightPerClient"] = l.maxUploadsInFlightPerClient;
    json["limits"]["maxBytesInFlight"] = Json::UInt64(l.maxBytesInFlight);
    json["inFlight"]["bytes"] = Json::UInt64(inFlight_.GetBytes());
    json["inFlight"]["refusals"] = Json::UInt64(inFlight_.GetRefusals());
    json["inFlight"]["lapsed"] = Json::UInt64(inFlight_.GetLapsed());
    json["trackedClients"] = Json::UInt64(rates_.CountTrackedClients());
    json["quotas"] = quotas_.Describe(clientAddress);
    json["dataMonitor"] = monitor_.Describe();
    json["bans"] = bans_.Describe();
    json["autoBan"]["refusals"] = configuration_.autoBan.refusals;
    json["autoBan"]["limitHits"] = configuration_.autoBan.limitHits;
    json["autoBan"]["windowSeconds"] = configuration_.autoBan.windowSeconds;
    json["autoBan"]["banSeconds"] = configuration_.autoBan.banSeconds;
    std::lock_guard<std::mutex> lock(refusalsMutex_);
    json["refusals"] = Json::objectValue;
    for (const auto& count : refusalCounts_)
    {
      json["refusals"][count.first] = Json::UInt64(count.second);
    }
    return json;
  }
}
