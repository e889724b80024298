// Every limit of the public side in one place: bodies in flight, rates, quotas, bans, disk space.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Limits/BanList.h"
#include "Limits/DataMonitor.h"
#include "Limits/InFlight.h"
#include "Limits/Quotas.h"
#include "Limits/RateLimiter.h"
#include "Limits/RefusalAudit.h"
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

  // Bytes of memory that Orthanc and the plugin take, at their peak, per byte of a file body
  // on this role (measured: see LimitsGuard.cpp). The in-flight budget counts this many.
  unsigned int GetBodyMemoryMultiple(Role role);

  // Every limit of the public side in one place: what the access filter checks before a body
  // is read (bans, body caps, bodies in flight), and what the upload service checks before
  // data is kept (rates, quotas, data monitor). Refusals are audited, in batches, and feed
  // the automatic bans. Every per-client count is kept per client key (GetClientKey: IPv6
  // clients by their network prefix); bans are checked against the address itself.
  // The figures of the public side that the metrics publish (Metrics/Metrics.h).
  struct LimitsSnapshot
  {
    int64_t bytesReceivedToday = 0;
    int64_t uploadsOpenedToday = 0;
    uint64_t bytesInFlight = 0;
    uint64_t refusals = 0;  // every refusal since start, all codes
    size_t activeBans = 0;
    int dataMonitorState = 0;
  };

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
    RefusalAudit refusalAudit_;
    AuditPruner auditPruner_;
    const unsigned int bodyMultiple_;

    std::mutex refusalsMutex_;
    std::map<std::string, uint64_t> refusalCounts_;  // by code, since start

    std::string senderSecret_;  // set at start-up, before any request

    std::string GetKey(const std::string& address) const;

  public:
    LimitsGuard(const Configuration& configuration, Ledger& ledger, const IClock& clock,
                const std::vector<std::string>& watchedPaths,
                const DataMonitor::FreeSpaceProbe& probe = DataMonitor::GetFreeSpace);

    // Before the body is read. "isFile": a file upload (PUT), whose memory (Content-Length
    // times GetBodyMemoryMultiple) stays reserved under "ticket" (0: nothing reserved) until
    // ReleaseBody(); contentLength < 0 when absent.
    // "isPart": a part of a big file (doc/Api.md, "Files in parts"), which takes
    // kPartBodyMultiple times its length instead.
    Admission AdmitBody(const std::string& address, bool hasBody, bool isFile,
                        int64_t contentLength, uint64_t& ticket, bool isPart = false);

    // Orthanc's copy of a part's body and, on a sealing gateway, its envelope.
    static constexpr unsigned int kPartBodyMultiple = 2;

    // The memory of one file assembled from its parts (UploadService::Assemble): "size" times
    // kAssemblyMultiple on a role that stores in Orthanc, kGatewayAssemblyBytes on a Gateway
    // (the file stays on disk). 413 too-large when it could never fit Limits.MaxBytesInFlight,
    // 503 server-busy with Retry-After when it does not fit now.
    std::unique_ptr<MemoryHold> ReserveAssembly(uint64_t size) override;

    // A partner's STOW-RS request (doc/Api.md, "Partner routes"): a body with a Content-Length
    // is held whole by Orthanc, and the part being parsed takes up to kPartnerPartBytes more;
    // both are reserved in Limits.MaxBytesInFlight under "partner:<id>" (ServerBusy or
    // ClientBusy when they do not fit). contentLength < 0: chunked.
    Admission AdmitPartnerBody(const std::string& partnerId, int64_t contentLength, uint64_t& ticket);

    // The parts being stored by the request's workers (StowReader::kMaxPipelineBytes, each
    // taking a few times its size while it is parsed and isolated) and the part being read up
    // to StowReader::kUnreservedBuffering; beyond, the reader reserves more as it reads.
    static constexpr uint64_t kPartnerPartBytes = 64 * 1024 * 1024;

    // The handler of the request has started: its reservation no longer lapses after
    // Limits.BodyTimeout; the handler releases it when it ends.
    void StartBody(uint64_t ticket);

    void ReleaseBody(uint64_t ticket);

    // Every public API call: 503 rate-limited with Retry-After when over the request rate.
    void CheckRequestRate(const std::string& address);

    // The secret of the senders' quota keys (SenderKey::LoadOrCreateSecret); set once, before
    // any request. Without it GetSenderKey throws: never an address as a scope.
    void SetSenderSecret(const std::string& secret)
    {
      senderSecret_ = secret;
    }

    std::string GetSenderKey(const std::string& senderEmail) const override;

    void CheckOpen(const ClientInfo& client, const std::string& senderKey) override;

    void CheckFile(const ClientInfo& client, const UploadRecord& upload, uint64_t size) override;

    // Takes from the client's files bucket (503 rate-limited with Retry-After when empty) and
    // gives back the request that CheckRequestRate took for the call.
    void PaceFile(const ClientInfo& client) override;

    std::vector<std::string> GetQuotaScopes(const std::string& clientIp,
                                            const std::string& senderKey) const override
    {
      return Quotas::GetScopes(GetKey(clientIp), senderKey);
    }

    int64_t GetDay() const override
    {
      return quotas_.GetDay();
    }

    void CheckPartner(const std::string& partnerId, uint64_t maxUploads, uint64_t maxBytes,
                      uint64_t addUploads, uint64_t addBytes) override;

    // "extraBytes" times GetBodyMemoryMultiple, held in the in-flight budget (not as a body of
    // the client: the file's body holds that place already); 503 server-busy otherwise.
    std::unique_ptr<MemoryHold> ReserveParsingGrowth(uint64_t extraBytes) override;

    // The part times the body multiple (less the part itself when the body is held), less
    // kPartnerPartBytes that the admission reserved: the largest part fits the smallest
    // Limits.MaxBytesInFlight allowed, as the largest file of a sender does.
    std::unique_ptr<MemoryHold> ReservePartnerPart(uint64_t partBytes, bool bodyHeld) override;

    // RecordRefusal without an offence (no ban counts it).
    void AuditRefusal(const std::string& address, int status, const std::string& code,
                      const std::string& what) override
    {
      RecordRefusal(address, status, code, what, Offence_None);
    }

    // An answered refusal: audited (client key and reason, never the body; one entry per
    // client, code and Audit.RefusalInterval) and counted towards an automatic ban.
    void RecordRefusal(const std::string& address, int status, const std::string& code,
                       const std::string& what, Offence offence);

    // Background work (once a second): lapses reservations whose handler never started,
    // writes the refusals' audit entries, prunes the audit trail and the expired bans.
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

    LimitsSnapshot GetSnapshot();
  };
}
