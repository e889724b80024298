// The public limits together, and the measured memory each byte of a body takes per role.
#include "LimitsGuard.h"

#include "Http/ApiError.h"
#include "Http/RouteTable.h"
#include "Limits/ClientKey.h"
#include "Limits/SenderKey.h"

#include <OrthancException.h>

#include <algorithm>
#include <cmath>

namespace Inbound
{
  namespace
  {
    const int64_t kMaxJsonBody = 64 * 1024;

    // Peak memory per byte of a file body, measured with Benchmarks/body_memory.py (one PUT of
    // a 64 MiB and of a 96 MiB uncompressed DICOM file, Orthanc 1.10.1 on Debian 12: increase
    // of VmHWM over VmRSS before the request, divided by the size; the same figure both times).
    // Standalone: 5.00 - Orthanc's copy of the body, the plugin's parse (DCMTK), Orthanc's own
    // parse and copies when it stores the instance. Gateway: 2.00 - Orthanc's copy and the
    // plugin's parse; the file is staged on disk as received (a sealing gateway frees the parse
    // before it makes the envelope: 2.00 as well). Measure again when the upload path changes.
    const unsigned int kStandaloneBodyMultiple = 5;
    const unsigned int kGatewayBodyMultiple = 2;

    // Peak memory per byte of a file assembled from parts where it is stored in Orthanc,
    // measured as kStandaloneBodyMultiple (VmHWM, 300 MiB multi-frame file in parts of 16 MiB):
    // 3.00 - the rewritten file, then Orthanc's store of it (its copy and its parse); the
    // plugin's parse is freed before. Native POST /instances of the same file: 3.00 as well.
    // A Gateway keeps the file on disk: two parts (a plaintext chunk and its envelope) and the
    // DCMTK parse of the headers.
    const unsigned int kAssemblyMultiple = 3;
    const uint64_t kGatewayAssemblyBytes = 16 * 1024 * 1024;

    // A file refused for want of memory can come back once the files being stored now are
    // done: they take seconds, not minutes.
    const unsigned int kServerBusyRetrySeconds = 5;

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

  unsigned int GetBodyMemoryMultiple(Role role)
  {
    // An Internal has no public routes: its bodies come from admins, who are not limited; it
    // stores pulled files as a Standalone does (ReserveParsingGrowth).
    return role == Role_Gateway ? kGatewayBodyMultiple : kStandaloneBodyMultiple;
  }

  LimitsGuard::LimitsGuard(const Configuration& configuration, Ledger& ledger,
                           const IClock& clock, const std::vector<std::string>& watchedPaths,
                           const DataMonitor::FreeSpaceProbe& probe) :
    configuration_(configuration),
    ledger_(ledger),
    clock_(clock),
    rates_(RateLimits{configuration.limits.requestsPerSecond, configuration.limits.requestBurst,
                      configuration.limits.bytesPerSecond, configuration.limits.byteBurst,
                      configuration.limits.filesPerSecond, configuration.limits.fileBurst},
           clock),
    inFlight_(configuration.limits.maxUploadsInFlightPerClient,
              configuration.limits.maxBytesInFlight),
    bans_(ledger, clock, configuration.bans),
    autoBan_(bans_, clock, configuration.autoBan.refusals, configuration.autoBan.limitHits,
             configuration.autoBan.windowSeconds, configuration.autoBan.banSeconds),
    quotas_(configuration.quotas, ledger, clock),
    monitor_(configuration.dataMonitor, watchedPaths, probe,
             [this](AuditEventType alert, const std::string& detail) {
               ledger_.Audit().Add(clock_.NowMs(), alert, "", "", detail);
             }),
    refusalAudit_(ledger, clock, configuration.audit.refusalIntervalSeconds),
    auditPruner_(ledger, clock, configuration.audit.retentionDays),
    bodyMultiple_(GetBodyMemoryMultiple(configuration.role))
  {
    // Whole bodies stop at kMaxWholeBodyBytes; a bigger file comes in parts and reserves its
    // assembly (ReserveAssembly), which answers 413 for a file that can never fit.
    const uint64_t largest =
      std::min(configuration.upload.maxFileBytes, kMaxWholeBodyBytes) * bodyMultiple_;
    if (configuration.limits.maxBytesInFlight != 0 && configuration.limits.maxBytesInFlight < largest)
    {
      // Else a file of the largest size accepted could never be received.
      throw Orthanc::OrthancException(
        Orthanc::ErrorCode_BadFileFormat,
        "Configuration option \"Inbound.Limits.MaxBytesInFlight\": must be 0 or at least " +
          std::to_string(largest) + " (Upload.MaxFileBytes times " +
          std::to_string(bodyMultiple_) + ", the memory a file takes on this role; "
          "Upload.MaxFileBytes counts as 512 MiB at most)");
    }
  }

  std::string LimitsGuard::GetKey(const std::string& address) const
  {
    return GetClientKey(address, configuration_.limits.ipv6PrefixLength);
  }

  Admission LimitsGuard::AdmitBody(const std::string& address, bool hasBody, bool isFile,
                                   int64_t contentLength, uint64_t& ticket, bool isPart)
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
    // A whole file's body is at most kMaxWholeBodyBytes (bigger files come in parts); a part
    // is at most Upload.PartBytes.
    const uint64_t fileCap = isPart ? configuration_.upload.partBytes
                                    : std::min(configuration_.upload.maxFileBytes, kMaxWholeBodyBytes);
    const uint64_t cap = 2 * (isFile || isPart ? fileCap : uint64_t(kMaxJsonBody));
    if (uint64_t(contentLength) > cap)
    {
      return Admission_TooLarge;
    }
    if (!isFile && !isPart)
    {
      return Admission_Allowed;
    }
    // The memory the body will take at its peak. One over the file cap is answered 413 by the
    // handler before the plugin copies or parses it: only Orthanc's copy then. A part is
    // hashed and written to disk: Orthanc's copy, and its envelope on a sealing gateway.
    const uint64_t length = uint64_t(contentLength);
    const uint64_t bytes = (length > fileCap ? length : length * (isPart ? kPartBodyMultiple
                                                                          : bodyMultiple_));
    switch (inFlight_.Reserve(ticket, GetKey(address), bytes, clock_.NowMs()))
    {
      case InFlight::Result_Reserved:
        return Admission_Allowed;
      case InFlight::Result_ClientBusy:
        return Admission_ClientBusy;
      default:
        return Admission_ServerBusy;
    }
  }

  Admission LimitsGuard::AdmitPartnerBody(const std::string& partnerId, int64_t contentLength,
                                          uint64_t& ticket)
  {
    ticket = 0;
    const uint64_t bytes = (contentLength > 0 ? uint64_t(contentLength) : 0) + kPartnerPartBytes;
    switch (inFlight_.Reserve(ticket, "partner:" + partnerId, bytes, clock_.NowMs()))
    {
      case InFlight::Result_Reserved:
        return Admission_Allowed;
      case InFlight::Result_ClientBusy:
        return Admission_ClientBusy;
      default:
        return Admission_ServerBusy;
    }
  }

  void LimitsGuard::StartBody(uint64_t ticket)
  {
    inFlight_.MarkInUse(ticket);
  }

  void LimitsGuard::ReleaseBody(uint64_t ticket)
  {
    inFlight_.Release(ticket);
  }

  std::unique_ptr<MemoryHold> LimitsGuard::ReserveParsingGrowth(uint64_t extraBytes)
  {
    if (extraBytes == 0)
    {
      return std::unique_ptr<MemoryHold>(new MemoryHold(nullptr));
    }
    uint64_t ticket = 0;
    // Bounded by kMaxWholeBodyBytes (the inflated cap): no overflow.
    const uint64_t budget = configuration_.limits.maxBytesInFlight;
    if (budget != 0 && extraBytes * bodyMultiple_ > budget)
    {
      // Could never fit: a retry would only inflate it again.
      throw ApiError(413, "too-large", "The file grows to more than this server may hold in "
                                       "memory when unpacked (Limits.MaxBytesInFlight)");
    }
    if (inFlight_.ReserveBytes(ticket, extraBytes * bodyMultiple_, clock_.NowMs()) !=
        InFlight::Result_Reserved)
    {
      throw ApiError(503, "server-busy", "The server is storing too much at once to take this "
                                         "file (it grows when unpacked); the file will be retried")
        .WithHeader("Retry-After", std::to_string(kServerBusyRetrySeconds));
    }
    return std::unique_ptr<MemoryHold>(new MemoryHold([this, ticket]() {
      inFlight_.Release(ticket);
    }));
  }

  std::unique_ptr<MemoryHold> LimitsGuard::ReserveAssembly(uint64_t size)
  {
    const uint64_t bytes = configuration_.role == Role_Gateway
                             ? 2 * configuration_.upload.partBytes + kGatewayAssemblyBytes
                             : size * kAssemblyMultiple;  // size < 4 GiB: no overflow
    const uint64_t budget = configuration_.limits.maxBytesInFlight;
    if (budget != 0 && bytes > budget)
    {
      throw ApiError(413, "too-large",
                     "The file is too large for the memory this server may use to store it (" +
                       std::to_string(bytes) + " bytes, Limits.MaxBytesInFlight is " +
                       std::to_string(budget) + ")");
    }
    uint64_t ticket = 0;
    if (inFlight_.ReserveBytes(ticket, bytes, clock_.NowMs()) != InFlight::Result_Reserved)
    {
      throw ApiError(503, "server-busy", "The server is storing too much at once to take this "
                                         "file now; ask to assemble it again later")
        .WithHeader("Retry-After", std::to_string(kServerBusyRetrySeconds));
    }
    return std::unique_ptr<MemoryHold>(new MemoryHold([this, ticket]() {
      inFlight_.Release(ticket);
    }));
  }

  std::unique_ptr<MemoryHold> LimitsGuard::ReservePartnerPart(uint64_t partBytes, bool bodyHeld)
  {
    // Bounded by the partner's MaxFileBytes (the reader's cap): no overflow.
    const uint64_t takes = partBytes * bodyMultiple_ - (bodyHeld ? partBytes : 0);
    if (takes <= kPartnerPartBytes)
    {
      return std::unique_ptr<MemoryHold>(new MemoryHold(nullptr));
    }
    uint64_t ticket = 0;
    if (inFlight_.ReserveBytes(ticket, takes - kPartnerPartBytes, clock_.NowMs()) !=
        InFlight::Result_Reserved)
    {
      throw ApiError(503, "server-busy", "The server is storing too much at once to take this "
                                         "part; send it again later")
        .WithHeader("Retry-After", std::to_string(kServerBusyRetrySeconds));
    }
    return std::unique_ptr<MemoryHold>(new MemoryHold([this, ticket]() {
      inFlight_.Release(ticket);
    }));
  }

  void LimitsGuard::CheckRequestRate(const std::string& address)
  {
    double wait = 0;
    if (!rates_.TakeRequest(GetKey(address), wait))
    {
      throw ApiError(503, "rate-limited", "Too many requests from your network address; "
                                          "please slow down")
        .WithHeader("Retry-After", RetryAfter(wait));
    }
  }

  void LimitsGuard::PaceFile(const ClientInfo& client)
  {
    const std::string key = GetKey(client.ip);
    double wait = 0;
    if (!rates_.TakeFile(key, wait))
    {
      throw ApiError(503, "rate-limited", "Your network address is sending more files per "
                                          "second than this site accepts; the file will be "
                                          "retried")
        .WithHeader("Retry-After", RetryAfter(wait));
    }
    // A file of an open upload, sent with its token: paced by the files, not by the requests
    // (doc/Security.md, "Rate limits for files").
    rates_.ReturnRequest(key);
  }

  std::string LimitsGuard::GetSenderKey(const std::string& senderEmail) const
  {
    if (senderSecret_.empty())
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                      "The quota secret of the senders is not loaded");
    }
    return SenderKey::Compute(senderSecret_, senderEmail);
  }

  void LimitsGuard::CheckOpen(const ClientInfo& client, const std::string& senderKey)
  {
    monitor_.CheckAccepting();
    quotas_.CheckUpload(GetKey(client.ip), senderKey);
  }

  void LimitsGuard::CheckFile(const ClientInfo& client, const UploadRecord& upload,
                              uint64_t size)
  {
    monitor_.CheckAccepting();
    double wait = 0;
    const std::string key = GetKey(client.ip);
    if (!rates_.TakeBytes(key, size, wait))
    {
      throw ApiError(503, "rate-limited", "Your network address is sending faster than this "
                                          "site accepts; the file will be retried")
        .WithHeader("Retry-After", RetryAfter(wait));
    }
    quotas_.CheckBytes(key, upload.senderKey, size);
  }

  void LimitsGuard::CheckPartner(const std::string& partnerId, uint64_t maxUploads,
                                 uint64_t maxBytes, uint64_t addUploads, uint64_t addBytes)
  {
    monitor_.CheckAccepting();
    quotas_.CheckPartner(partnerId, maxUploads, maxBytes, addUploads, addBytes);
  }

  void LimitsGuard::RecordRefusal(const std::string& address, int status,
                                  const std::string& code, const std::string& what,
                                  Offence offence)
  {
    const std::string key = GetKey(address);
    {
      std::lock_guard<std::mutex> lock(refusalsMutex_);
      refusalCounts_[code]++;
    }
    // A banned client's refusals too are one entry per interval, not one per request.
    // The path of a refusal may hold a request link's token: never kept.
    refusalAudit_.Record(key, status, code, MaskRequestTokens(what));
    autoBan_.Record(key, offence);
  }

  void LimitsGuard::Flush()
  {
    inFlight_.Expire(clock_.NowMs() - int64_t(configuration_.limits.bodyTimeoutSeconds) * 1000);
    refusalAudit_.Flush();
    auditPruner_.Run();
    bans_.Prune();
  }

  void LimitsGuard::UpdateMonitor()
  {
    monitor_.Update(quotas_.GetDay(), quotas_.GetBytesToday());
  }

  LimitsSnapshot LimitsGuard::GetSnapshot()
  {
    LimitsSnapshot snapshot;
    const QuotaUsage global = quotas_.GetGlobalUsage();
    snapshot.bytesReceivedToday = global.bytes;
    snapshot.uploadsOpenedToday = global.uploads;
    snapshot.bytesInFlight = inFlight_.GetBytes();
    snapshot.activeBans = bans_.CountActive();
    snapshot.dataMonitorState = static_cast<int>(monitor_.GetState());
    std::lock_guard<std::mutex> lock(refusalsMutex_);
    for (const auto& count : refusalCounts_)
    {
      snapshot.refusals += count.second;
    }
    return snapshot;
  }

  Json::Value LimitsGuard::Describe(const std::string& clientAddress)
  {
    Json::Value json(Json::objectValue);
    const ClientLimits& l = configuration_.limits;
    json["limits"]["requestsPerSecond"] = l.requestsPerSecond;
    json["limits"]["requestBurst"] = l.requestBurst;
    json["limits"]["filesPerSecond"] = l.filesPerSecond;
    json["limits"]["fileBurst"] = l.fileBurst;
    json["limits"]["bytesPerSecond"] = l.bytesPerSecond;
    json["limits"]["byteBurst"] = l.byteBurst;
    json["limits"]["maxUploadsInFlightPerClient"] = l.maxUploadsInFlightPerClient;
    json["limits"]["maxBytesInFlight"] = Json::UInt64(l.maxBytesInFlight);
    json["limits"]["ipv6PrefixLength"] = l.ipv6PrefixLength;
    // "bytes": the memory counted for the bodies in flight, "bytesPerBodyByte" times their
    // Content-Length (see AdmitBody).
    json["inFlight"]["bytes"] = Json::UInt64(inFlight_.GetBytes());
    json["inFlight"]["bytesPerBodyByte"] = bodyMultiple_;
    // Of "bytes", those held for files that parse bigger than their body (deflated).
    json["inFlight"]["growthBytes"] = Json::UInt64(inFlight_.GetExtraBytes());
    json["inFlight"]["inUse"] = Json::UInt64(inFlight_.CountInUse());
    json["inFlight"]["refusals"] = Json::UInt64(inFlight_.GetRefusals());
    json["inFlight"]["lapsed"] = Json::UInt64(inFlight_.GetLapsed());
    json["trackedClients"] = Json::UInt64(rates_.CountTrackedClients());
    json["quotas"] = quotas_.Describe(GetKey(clientAddress));
    json["dataMonitor"] = monitor_.Describe();
    json["bans"] = bans_.Describe();
    json["autoBan"]["refusals"] = configuration_.autoBan.refusals;
    json["autoBan"]["limitHits"] = configuration_.autoBan.limitHits;
    json["autoBan"]["windowSeconds"] = configuration_.autoBan.windowSeconds;
    json["autoBan"]["banSeconds"] = configuration_.autoBan.banSeconds;
    json["audit"]["refusalIntervalSeconds"] = configuration_.audit.refusalIntervalSeconds;
    json["audit"]["retentionDays"] = configuration_.audit.retentionDays;
    json["audit"]["pruned"] = Json::Int64(auditPruner_.GetPruned());
    std::lock_guard<std::mutex> lock(refusalsMutex_);
    json["refusals"] = Json::objectValue;
    for (const auto& count : refusalCounts_)
    {
      json["refusals"][count.first] = Json::UInt64(count.second);
    }
    return json;
  }
}
