// The Internal's puller of one gateway: pulls, verifies, stores, then acknowledges each upload.
#pragma once

#include "Ledger/LeaseStore.h"
#include "Peering/IPeerClient.h"
#include "Peering/InternalKeys.h"
#include "Peering/PulledManifest.h"
#include "Toolbox/Time.h"
#include "Upload/UploadService.h"

#include <json/value.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <map>
#include <set>

namespace Inbound
{
  // The figures of one gateway that the metrics publish (Metrics/Metrics.h).
  struct GatewaySnapshot
  {
    std::string name;
    int64_t lastContact = 0;  // ms since the epoch; 0: never
    unsigned int backlog = 0;
    uint64_t failures = 0;
    uint64_t delivered = 0;
    size_t held = 0;
  };

  // The Internal role's side of one gateway: long-polls its outbox, checks each manifest with
  // the rules of a public upload, pulls each upload's items through the limits, quotas and
  // data monitor of a public upload, checks every SHA-256 and size against the manifest,
  // isolates and stores them exactly as a Standalone server does, and only then acknowledges.
  // Every step is recorded in the ledger first, so a crash on either side resumes without loss
  // or duplication; bad data is never acknowledged. The inside trusts a gateway no more than
  // the Internet: an upload with bad data (a manifest breaking a rule, an answer of the wrong
  // size, status or syntax, a hash mismatch) is held durably, the gateway is backed off and an
  // admin alerted; an item being processed is recorded first, so an item on which the process
  // died is held at the next start instead of being parsed again.
  class Puller : public boost::noncopyable
  {
  private:
    UploadService& uploads_;
    Ledger& ledger_;
    IPeerClient& peer_;
    const IClock& clock_;
    unsigned int maxAttempts_;
    unsigned int parallelItems_;
    InternalKeys* keys_ = nullptr;  // opens sealed uploads; set before Loop
    // Several Internals pull one gateway at once, never the same upload: each upload is
    // pulled under lease "pull:<gateway>:<upload>" of this node (doc/Ledger.md, "Leases").
    LeaseStore leases_;
    std::string node_;
    int64_t leaseMs_ = 60 * 1000;
    std::string pieceFolder_;       // where big items are gathered piece by piece

    enum ItemOutcome
    {
      ItemOutcome_Stored,
      ItemOutcome_Unreachable,  // or refused for now (503, 507): the next round tries again
      ItemOutcome_Refused,      // the file failed the checks of a public upload: held
      ItemOutcome_BadData,      // the gateway sent what no honest gateway sends: held, backed off
      ItemOutcome_Retry         // a plain file with another SHA-256 (damaged on the way?): again
    };

    enum CallResult
    {
      CallResult_Ok,
      CallResult_Failed,   // unreachable, or an error status: an outage
      CallResult_BadData   // a wrong status (redirect...), an oversize or malformed answer
    };

    mutable std::mutex mutex_;
    int64_t lastContact_ = 0;
    int64_t lastFailure_ = 0;
    std::string lastError_;
    uint64_t failures_ = 0;
    uint64_t delivered_ = 0;
    unsigned int backlog_ = 0;
    std::map<std::string, PullingRecord> held_;  // a copy of the ledger's, by upload id
    // SHA-256 of each item the Internal died processing -> the upload held for it (rebuilt
    // from the holds' reasons at start): the same file under another id is not fetched again.
    std::map<std::string, std::string> crashed_;
    // The markers this process has counted as a crash already ("upload/sha256/since"): found
    // again when it claims the upload, they are not counted twice.
    std::set<std::string> recovered_;
    int64_t started_ = 0;
    unsigned int alertAfterSeconds_ = 0;
    bool alerted_ = false;  // an unreachable alert was raised for the current outage
    // Bad data: rounds with some, in the current episode (ended by a clean delivery or an
    // hour without any), whether the episode was alerted, and the last round's.
    bool roundFailed_ = false;
    bool roundBadData_ = false;
    bool lastRoundBadData_ = false;
    unsigned int strikes_ = 0;
    bool misbehaviourAlerted_ = false;
    int64_t lastBadData_ = 0;
    std::string lastBadDataRule_;
    uint64_t badData_ = 0;

    CallResult Call(PeerAnswer& answer, bool post, const std::string& uri,
                    const std::string& body, unsigned int timeoutSeconds, uint64_t maxBytes,
                    std::string& problem);
    CallResult GetJson(Json::Value& json, const std::string& uri, unsigned int timeoutSeconds,
                       uint64_t maxBytes, std::string& problem);
    bool Acknowledge(const std::string& id);
    ItemOutcome PullItem(const std::string& id, const std::string& sha256, uint64_t size,
                         bool sealed, std::string& problem);
    // An item the manifest gives "partBytes": fetched piece by piece into a file
    // (PullerPieces.cpp), never whole in memory.
    ItemOutcome PullPieces(const std::string& id, const PulledItem& item, bool sealed,
                           std::string& problem);
    ItemOutcome FetchPieces(const std::string& id, const PulledItem& item, bool sealed,
                            std::string& problem);
    // Hands a fetched and checked file to "store" (the upload service), and tells what its
    // refusal means for the upload (Retry: a plain file whose SHA-256 differed, "attempt" times).
    ItemOutcome Receive(const std::function<void()>& store, const std::string& id,
                        const std::string& sha256, const std::string& what, bool sealed,
                        const std::string& keyId, unsigned int attempt, std::string& problem);
    // A file that does not have the manifest's SHA-256: bad data when sealed (authenticated,
    // hence not damaged on the way), else Retry.
    ItemOutcome HashMismatch(const std::string& what, bool sealed, const std::string& keyId,
                             unsigned int attempt, std::string& problem);
    // Replaces the envelope in "body" by what it holds; false, with the reason ("what" names
    // the item), if it does not open under "context". At most one extra copy is held meanwhile.
    bool OpenItem(std::string& body, std::string& keyId, const std::string& what,
                  const std::string& context, std::string& problem);
    // Whether an upload recorded here came from this gateway (one recorded before gateways
    // were, becomes this one's); if not, bad data: held, never touched.
    bool CheckOrigin(const std::string& id);
    bool Pull(const Json::Value& listing, const LeaseRenewer& lease);
    void Fail(const std::string& what);
    void Contact();
    void BadData(const std::string& id, const std::string& rule);
    void Hold(const std::string& id, const std::string& reason);
    void EndRound();
    void Recover();
    // A marker of an item in progress whose process died (its upload's lease is this node's).
    void RecoverMarker(const PullingRecord& marker);
    // The markers of "id", right after this node claimed it: left by an Orthanc that died.
    void RecoverUpload(const std::string& id);
    // held_ and crashed_ as the ledger has them: another Internal's holds and an admin's
    // releases on any of them count here too.
    void RefreshHolds();
    bool IsHeld(const std::string& id) const;
    // The claim of one upload, pulled while it is held.
    void PullClaimed(const Json::Value& listing, const std::string& id);

  public:
    Puller(UploadService& uploads, Ledger& ledger, IPeerClient& peer, const IClock& clock,
           unsigned int maxAttempts = 3, unsigned int parallelItems = 4);

    // One round: waits up to "waitSeconds" for the outbox, pulls what it lists. Returns
    // false when the gateway could not be reached, or an upload was refused for now (quotas,
    // data monitor): the caller backs off.
    bool RunOnce(unsigned int waitSeconds);

    // How long to wait after a round that started at "roundStartedMs" and reached the
    // gateway: at least a second between outbox requests, growing pauses after bad data.
    unsigned int GetPauseMs(int64_t roundStartedMs) const;

    // Until "stopping": rounds of long polls, with a growing pause while the gateway is down.
    void Loop(const std::atomic<bool>& stopping);

    Json::Value Describe() const;

    GatewaySnapshot GetSnapshot() const;

    // An admin releases a held upload: it is pulled (and its items parsed) again at the next
    // round. False when it is not held.
    bool Release(const std::string& id, const std::string& by);

    const std::string& GetName() const
    {
      return peer_.GetName();
    }

    // This Orthanc's id and Inbound.LeaseSeconds (doc/Ledger.md, "Leases"); before Loop. By
    // default a node of its own and 60 s.
    void SetNode(const std::string& node, unsigned int leaseSeconds)
    {
      node_ = node;
      leaseMs_ = int64_t(leaseSeconds) * 1000;
    }

    // The lease under which "uploadId" of "gateway" is pulled.
    static std::string GetLeaseName(const std::string& gateway, const std::string& uploadId)
    {
      return "pull:" + gateway + ":" + uploadId;
    }

    // The Internal's keys, which open the uploads a gateway sealed (doc/Security.md, "Sealed
    // staging"); without them a sealed upload is held.
    void SetKeys(InternalKeys* keys)
    {
      keys_ = keys;
    }

    // The folder where items in pieces are gathered ("<DataDirectory>/pulls"), emptied by the
    // caller at start; required before an item in pieces is pulled.
    void SetPieceFolder(const std::string& folder)
    {
      pieceFolder_ = folder;
    }

    // Raises "alert-gateway-unreachable" once per outage longer than this (0: never).
    void SetAlertAfter(unsigned int seconds)
    {
      alertAfterSeconds_ = seconds;
    }
  };
}
