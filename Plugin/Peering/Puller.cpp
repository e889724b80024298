// One gateway's crash-safe pull: rounds, items, holds of bad data, back-off, acknowledgement.
// Over 500 lines: a pull is crash-safe by the order of its steps, which must be read as one.
#include "Puller.h"

#include "Http/ApiError.h"
#include "Peering/PulledManifest.h"
#include "Toolbox/Backoff.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"
#include "Toolbox/UploadId.h"
#include "Upload/TextRules.h"

#include <Logging.h>

#include <thread>

namespace Inbound
{
  namespace
  {
    // Short enough that stopping Orthanc, which waits for a poll in progress, stays quick;
    // an upload is still seen at once, as the gateway answers as soon as one completes.
    const unsigned int kLongPollSeconds = 5;
    const unsigned int kItemTimeoutSeconds = 120;
    // Outbox listings (20 entries) and acknowledgements are small; manifests are capped by
    // PulledManifest::GetMaxManifestBytes, items by their size in the manifest.
    const uint64_t kMaxListingBytes = 64 * 1024;
    const unsigned int kOutboxLimit = 20;
    // A gateway answering at once (nothing waiting, or only held uploads) is asked at most
    // once a second; long polls (wait=5) still bring new uploads at once.
    const int64_t kMinRoundIntervalMs = 1000;
    // After a round with bad data: 2 s, 4 s, ... up to 5 minutes.
    const int64_t kFirstBadDataPauseMs = 2000;
    const int64_t kMaxBadDataPauseMs = 300 * 1000;
    const int64_t kBadDataEpisodeMs = 3600 * 1000;
    const std::string kCrashReason = "the Internal stopped while processing item ";

    // While a gateway is down or its uploads are refused for now: 1 s, 2 s, ... up to a minute.
    const int64_t kFirstUnreachablePauseMs = 1000;
    const int64_t kMaxUnreachablePauseMs = 60 * 1000;

    // "strikes": the rounds with bad data in this episode, the last one included.
    int64_t BadDataPauseMs(unsigned int strikes)
    {
      return Backoff(kFirstBadDataPauseMs, kMaxBadDataPauseMs).NextDelay(strikes);
    }

    std::string ReleaseRoute(const std::string& gateway, const std::string& id)
    {
      return "POST /inbound/admin/gateways/" + gateway + "/held/" + id + "/retry";
    }

    // Ends the record of an item in progress on every path but the death of the process.
    class PullingMark : public boost::noncopyable
    {
    private:
      Ledger& ledger_;
      std::string gateway_;
      std::string id_;
      std::string sha256_;

    public:
      PullingMark(Ledger& ledger, const std::string& gateway, const std::string& id,
                  const std::string& sha256, int64_t now) :
        ledger_(ledger), gateway_(gateway), id_(id), sha256_(sha256)
      {
        ledger_.Pulls().MarkPulling(gateway, id, sha256, now);
      }

      ~PullingMark()
      {
        try
        {
          ledger_.Pulls().ClearPulling(gateway_, id_, sha256_);
        }
        catch (...)
        {
          // At worst the upload is held at the next start: safe.
        }
      }
    };
  }

  Puller::Puller(UploadService& uploads, Ledger& ledger, IPeerClient& peer, const IClock& clock,
                 unsigned int maxAttempts, unsigned int parallelItems) :
    uploads_(uploads),
    ledger_(ledger),
    peer_(peer),
    clock_(clock),
    maxAttempts_(maxAttempts),
    parallelItems_(std::max(1u, parallelItems)),
    leases_(ledger.GetDatabase()),
    node_(MakeNodeId("")),
    started_(clock.NowMs())
  {
    Recover();
  }

  void Puller::Recover()
  {
    // An item still recorded as in progress: the process died while parsing or storing it —
    // unless another Internal of the ledger is pulling that upload now (it holds the upload's
    // lease): its markers are its own, live. A dead Internal's markers whose lease has not
    // expired yet are looked at when the upload is claimed (RecoverUpload).
    for (const PullingRecord& marker : ledger_.Pulls().ListPulling(peer_.GetName()))
    {
      const std::string lease = GetLeaseName(peer_.GetName(), marker.uploadId);
      if (!leases_.TryAcquire(lease, node_, clock_.NowMs(), leaseMs_))
      {
        continue;
      }
      try
      {
        RecoverMarker(marker);
      }
      catch (...)
      {
        leases_.Release(lease, node_);
        throw;
      }
      leases_.Release(lease, node_);
    }
    RefreshHolds();
  }

  void Puller::RecoverMarker(const PullingRecord& marker)
  {
    // Once may be a power cut, a kill or the OOM killer: the item is tried once more. Found
    // again at the next start (or claim), it is taken for a file that crashes the server (it
    // would crash every Internal in turn): the upload is held, not retried.
    const std::string key = marker.uploadId + "/" + marker.sha256 + "/" + std::to_string(marker.since);
    if (recovered_.count(key) > 0)
    {
      return;  // counted by this process already
    }
    ItemRecord stored;
    if (ledger_.Uploads().LookupItem(stored, marker.uploadId, marker.sha256))
    {
      // Died after the item was recorded, before the marker was cleared: nothing to redo.
      ledger_.Pulls().ClearPulling(peer_.GetName(), marker.uploadId, marker.sha256);
      return;
    }
    if (marker.crashes < 1)
    {
      ledger_.Pulls().RecordCrash(peer_.GetName(), marker.uploadId, marker.sha256);
      recovered_.insert(key);
      LOG(WARNING) << "Inbound: gateway " << peer_.GetName() << ": the server stopped while "
                   << "processing item " << marker.sha256 << " of upload " << marker.uploadId
                   << "; it is tried once more";
      return;
    }
    Hold(marker.uploadId, kCrashReason + marker.sha256 +
                            " (since " + FormatIso8601(marker.since) + "); a file that crashes "
                            "the server is not processed again");
    ledger_.Pulls().ClearPulling(peer_.GetName(), marker.uploadId, marker.sha256);
  }

  void Puller::RecoverUpload(const std::string& id)
  {
    for (const PullingRecord& marker : ledger_.Pulls().ListPulling(peer_.GetName()))
    {
      if (marker.uploadId == id)
      {
        RecoverMarker(marker);
      }
    }
  }

  void Puller::RefreshHolds()
  {
    const std::vector<PullingRecord> holds = ledger_.Pulls().ListHeld(peer_.GetName());
    std::lock_guard<std::mutex> lock(mutex_);
    held_.clear();
    crashed_.clear();
    for (const PullingRecord& held : holds)
    {
      held_[held.uploadId] = held;
      const std::string& reason = held.reason;
      if (reason.compare(0, kCrashReason.size(), kCrashReason) == 0 &&
          Crypto::IsSha256Hex(reason.substr(kCrashReason.size(), 64)))
      {
        crashed_[reason.substr(kCrashReason.size(), 64)] = held.uploadId;
      }
    }
  }

  bool Puller::IsHeld(const std::string& id) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.count(id) > 0;
  }

  void Puller::Fail(const std::string& what)
  {
    bool alert = false;
    int64_t silentFor = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      roundFailed_ = true;
      failures_++;
      lastFailure_ = clock_.NowMs();
      lastError_ = what;
      silentFor = lastFailure_ - std::max(lastContact_, started_);
      if (alertAfterSeconds_ != 0 && !alerted_ &&
          silentFor >= static_cast<int64_t>(alertAfterSeconds_) * 1000)
      {
        alert = alerted_ = true;
      }
    }
    LOG(WARNING) << "Inbound: gateway " << peer_.GetName() << ": " << what;
    if (alert)
    {
      ledger_.Audit().Add(clock_.NowMs(), AuditEventType_AlertGatewayUnreachable, "",
                          peer_.GetName(),
                          "gateway \"" + peer_.GetName() + "\" not reached for " +
                              std::to_string(silentFor / 1000) + " s: " + what);
    }
  }

  void Puller::Contact()
  {
    bool recovered = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lastContact_ = clock_.NowMs();
      recovered = alerted_;
      alerted_ = false;
    }
    if (recovered)
    {
      ledger_.Audit().Add(clock_.NowMs(), AuditEventType_GatewayReachable, "", peer_.GetName(),
                          "gateway \"" + peer_.GetName() + "\" reached again");
    }
  }

  void Puller::Hold(const std::string& id, const std::string& reason)
  {
    PullingRecord held;
    held.gateway = peer_.GetName();
    held.uploadId = TextRules::MakeSafe(id, 64);
    held.reason = reason;
    held.since = clock_.NowMs();
    if (ledger_.Pulls().Hold(held))
    {
      ledger_.Audit().Add(held.since, AuditEventType_AlertUploadHeld, IsUploadId(id) ? id : "",
                          peer_.GetName(),
                          "upload " + held.uploadId + " from gateway \"" + peer_.GetName() +
                              "\" held, not acknowledged: " + reason +
                              "; once understood: " + ReleaseRoute(peer_.GetName(), held.uploadId));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    held_.emplace(held.uploadId, held);
  }

  void Puller::BadData(const std::string& id, const std::string& rule)
  {
    LOG(WARNING) << "Inbound: gateway " << peer_.GetName() << " sent bad data: " << rule;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      roundBadData_ = true;
      badData_++;
      lastBadDataRule_ = rule;
    }
    if (!id.empty())
    {
      Hold(id, rule);
    }
  }

  void Puller::EndRound()
  {
    bool alert = false;
    std::string rule;
    unsigned int strikes = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lastRoundBadData_ = roundBadData_;
      roundBadData_ = false;
      if (!lastRoundBadData_)
      {
        return;
      }
      const int64_t now = clock_.NowMs();
      if (lastBadData_ != 0 && now - lastBadData_ > kBadDataEpisodeMs)
      {
        strikes_ = 0;
        misbehaviourAlerted_ = false;
      }
      lastBadData_ = now;
      strikes_++;
      strikes = strikes_;
      rule = lastBadDataRule_;
      alert = !misbehaviourAlerted_;
      misbehaviourAlerted_ = true;
    }
    if (alert)
    {
      ledger_.Audit().Add(
          clock_.NowMs(), AuditEventType_AlertGatewayMisbehaving, "", peer_.GetName(),
          "gateway \"" + peer_.GetName() + "\" sent data that breaks the rules (" + rule +
              "); its uploads concerned are held and it is asked less often, "
              "up to every " +
              std::to_string(kMaxBadDataPauseMs / 1000) + " s, while this goes on (" +
              std::to_string(strikes) + " round(s))");
    }
  }

  Puller::CallResult Puller::Call(PeerAnswer& answer, bool post, const std::string& uri,
                                  const std::string& body, unsigned int timeoutSeconds,
                                  uint64_t maxBytes, std::string& problem)
  {
    if (!peer_.Call(answer, post, uri, body, timeoutSeconds, maxBytes))
    {
      Fail("unreachable (" + uri + ")");
      return CallResult_Failed;
    }
    Contact();  // a long pull is contact all along, not an outage
    if (answer.truncated)
    {
      problem = "the answer to " + uri + " is larger than " + std::to_string(maxBytes) + " bytes";
      return CallResult_BadData;
    }
    if (answer.status >= 400)
    {
      Fail("HTTP " + std::to_string(answer.status) + " for " + uri);
      return CallResult_Failed;
    }
    if (answer.status != 200)
    {
      // A redirect, or a success that is not the one asked for: never followed.
      problem = "HTTP status " + std::to_string(answer.status) + " for " + uri;
      return CallResult_BadData;
    }
    return CallResult_Ok;
  }

  Puller::CallResult Puller::GetJson(Json::Value& json, const std::string& uri,
                                     unsigned int timeoutSeconds, uint64_t maxBytes,
                                     std::string& problem)
  {
    PeerAnswer answer;
    const CallResult result = Call(answer, false, uri, "", timeoutSeconds, maxBytes, problem);
    if (result == CallResult_Ok &&
        (!JsonText::ParseStrict(json, answer.body.data(), answer.body.size()) || !json.isObject()))
    {
      problem = "the answer to " + uri + " is not a JSON object";
      return CallResult_BadData;
    }
    return result;
  }

  bool Puller::Acknowledge(const std::string& id)
  {
    Json::Value body(Json::objectValue);
    body["items"] = Json::arrayValue;
    for (const ItemRecord& item : ledger_.Uploads().ListItems(id))
    {
      body["items"].append(item.sha256);
    }
    PeerAnswer answer;
    std::string problem;
    switch (Call(answer, true, "/inbound/peer/outbox/" + id + "/ack", JsonText::Compact(body),
                 kItemTimeoutSeconds, kMaxListingBytes, problem))
    {
      case CallResult_Ok:
        break;
      case CallResult_BadData:
        BadData("", "acknowledgement of " + id + ": " + problem);
        return false;
      default:
        return false;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    delivered_++;
    if (!roundBadData_)
    {
      strikes_ = 0;  // a clean delivery ends an episode of bad data
      misbehaviourAlerted_ = false;
    }
    return true;
  }

  bool Puller::OpenItem(std::string& body, std::string& keyId, const std::string& what,
                        const std::string& context, std::string& problem)
  {
    if (keys_ == nullptr)
    {
      problem = what + " is sealed, but this server has no sealing key";
      return false;
    }
    // The context binds the envelope to this upload and this file: one moved from another
    // upload or item, even of the same size, does not open.
    std::string plaintext, error;
    const bool opened = keys_->Open(plaintext, error, keyId, body.data(), body.size(), context,
                                    clock_.NowMs());
    std::string().swap(body);  // freed before the file is checked and stored
    if (!opened)
    {
      problem = what + (keyId.empty() ? ": the upload is sealed, but the item is not an envelope"
                                      : ": " + error);
      return false;
    }
    body.swap(plaintext);
    return true;
  }

  Puller::ItemOutcome Puller::PullItem(const std::string& id, const std::string& sha256,
                                       uint64_t size, bool sealed, std::string& problem)
  {
    const std::string what = "item " + sha256 + " of " + id;
    for (unsigned int attempt = 1; attempt <= maxAttempts_; attempt++)
    {
      PeerAnswer answer;
      // Capped at its size in the manifest (with the envelope's overhead when sealed): a
      // longer answer is cut off, never buffered.
      switch (Call(answer, false, "/inbound/peer/outbox/" + id + "/items/" + sha256, "",
                   kItemTimeoutSeconds, sealed ? size + Sealing::GetOverhead() : size, problem))
      {
        case CallResult_Ok:
          break;
        case CallResult_BadData:
          return ItemOutcome_BadData;
        default:
          return ItemOutcome_Unreachable;
      }
      // Tampered, truncated, moved or sealed for an unknown key: held, never stored.
      std::string keyId;
      if (sealed && !OpenItem(answer.body, keyId, what, "item:" + id + ":" + sha256, problem))
      {
        return ItemOutcome_BadData;
      }
      const ItemOutcome outcome = Receive(
        [&]() {
          uploads_.ReceivePulledFile(id, sha256, size, answer.body.data(), answer.body.size(),
                                     peer_.GetName());
        },
        id, sha256, what, sealed, keyId, attempt, problem);
      if (outcome != ItemOutcome_Retry)
      {
        return outcome;
      }
    }
    return ItemOutcome_BadData;
  }

  Puller::ItemOutcome Puller::HashMismatch(const std::string& what, bool sealed,
                                          const std::string& keyId, unsigned int attempt,
                                          std::string& problem)
  {
    if (sealed)
    {
      // Authenticated, hence not damaged on the way: the gateway sealed another file.
      problem = what + ": the file opened from what was sealed for key " + keyId +
                " does not have the SHA-256 of the manifest";
      return ItemOutcome_BadData;
    }
    problem = what + ": its SHA-256 differed from the manifest " + std::to_string(attempt) +
              " time(s)";
    return ItemOutcome_Retry;
  }

  Puller::ItemOutcome Puller::Receive(const std::function<void()>& store, const std::string& id,
                                      const std::string& sha256, const std::string& what,
                                      bool sealed, const std::string& keyId,
                                      unsigned int attempt, std::string& problem)
  {
    try
    {
      // Recorded durably before the item is parsed and stored (crash-loop guard, Recover);
      // not while it is fetched, so that a stop during a long transfer holds nothing.
      PullingMark mark(ledger_, peer_.GetName(), id, sha256, clock_.NowMs());
      store();
      return ItemOutcome_Stored;
    }
    catch (const ApiError& e)
    {
      problem = what + " refused: " + e.GetCode() + ": " + e.what();
      if (e.GetStatus() == 503 || e.GetStatus() == 507)
      {
        // Busy, rate-limited, over a quota, or the data monitor stopped intake: the file is
        // not at fault; a later round fetches it again instead of holding the upload.
        Fail(problem);
        return ItemOutcome_Unreachable;
      }
      if (e.GetCode() == "size-mismatch" || e.GetCode() == "other-gateway")
      {
        return ItemOutcome_BadData;
      }
      if (e.GetCode() != "hash-mismatch")
      {
        return ItemOutcome_Refused;  // fetching it again would not change the file
      }
      return HashMismatch(what, sealed, keyId, attempt, problem);
    }
    catch (...)
    {
      problem = what + " refused: " + DescribeCurrentException();
      return ItemOutcome_Refused;
    }
  }

  bool Puller::CheckOrigin(const std::string& id)
  {
    const std::string owner =
        ledger_.Uploads().ClaimPulledUpload(id, peer_.GetName(), clock_.NowMs());
    if (owner == peer_.GetName())
    {
      return true;
    }
    // A compromised gateway naming another's upload, to have it acknowledged (deleted there
    // unseen) or to add its own files to it: held under this gateway, the other one's pull
    // goes on untouched.
    BadData(id, "upload " + id + " came " +
                  (owner.empty() ? std::string("to this server directly")
                                 : "from gateway \"" + owner + "\"") +
                  ", not from this gateway: it may not list, add to or acknowledge it");
    return false;
  }

  void Puller::PullClaimed(const Json::Value& listing, const std::string& id)
  {
    // Another Internal of the ledger pulls it now: its turn, not ours (never stored twice).
    const std::string lease = GetLeaseName(peer_.GetName(), id);
    if (!leases_.TryAcquire(lease, node_, clock_.NowMs(), leaseMs_))
    {
      return;
    }
    try
    {
      // A big upload takes longer than a lease: renewed every third of one meanwhile.
      LeaseRenewer renewer(
        [this, &lease] { return leases_.Renew(lease, node_, clock_.NowMs(), leaseMs_); },
        leaseMs_ / 3);
      RecoverUpload(id);  // what an Internal that died on it left
      RefreshHolds();     // held meanwhile by another Internal, or just now
      if (!IsHeld(id))
      {
        Pull(listing, renewer);
      }
    }
    catch (...)
    {
      Fail("pulling " + id + ": " + DescribeCurrentException());
    }
    try
    {
      leases_.Release(lease, node_);
    }
    catch (...)
    {
      // It expires.
    }
  }

  bool Puller::Pull(const Json::Value& listing, const LeaseRenewer& lease)
  {
    const std::string id = listing["id"].asString();
    UploadRecord known;
    if (ledger_.Uploads().Lookup(known, id) && !CheckOrigin(id))
    {
      return false;
    }
    if (ledger_.Uploads().Lookup(known, id) &&
        (known.state == UploadState_Expired || known.state == UploadState_Cancelled))
    {
      // Removed here while incomplete (it stayed open too long): acknowledging would make the
      // gateway delete the only complete copy.
      Hold(id, "the upload expired here before all its items were pulled; the gateway keeps "
               "it: send it again from there, or delete it there");
      return false;
    }
    if (ledger_.Uploads().Lookup(known, id) && known.state != UploadState_Open)
    {
      // Stored (or removed here by an admin) already: the gateway only missed the
      // acknowledgement, e.g. because one side crashed right before it.
      return Acknowledge(id);
    }

    Json::Value json;
    std::string problem;
    switch (GetJson(json, "/inbound/peer/outbox/" + id, kItemTimeoutSeconds,
                    PulledManifest::GetMaxManifestBytes(uploads_.GetConfiguration()), problem))
    {
      case CallResult_Ok:
        break;
      case CallResult_BadData:
        BadData(id, "manifest: " + problem);
        return false;
      default:
        return false;
    }

    // Every field with the public rules, before anything is recorded.
    PulledManifest manifest;
    try
    {
      manifest = PulledManifest::Parse(json, listing, uploads_.GetConfiguration(), clock_.NowMs(),
                                       keys_);
    }
    catch (const GatewayDataError& e)
    {
      BadData(id, e.what());
      return false;
    }

    // A file the Internal died on, listed again (under another id): not fetched, not parsed.
    for (const PulledItem& item : manifest.items)
    {
      std::string crashedIn;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = crashed_.find(item.sha256);
        if (found != crashed_.end() && found->second != id)
        {
          crashedIn = found->second;
        }
      }
      if (!crashedIn.empty())
      {
        BadData(id, "item " + item.sha256 + " is the file the Internal stopped while "
                      "processing in upload " + crashedIn + " (held): not fetched again");
        return false;
      }
    }

    manifest.record.gateway = peer_.GetName();
    manifest.record.requestId = manifest.requestId;  // checked by BeginPulledUpload
    try
    {
      uploads_.BeginPulledUpload(manifest.record);
    }
    catch (const ApiError& e)
    {
      if (e.GetCode() == "requests-only")
      {
        Hold(id, e.what());  // unbound, and this Internal takes request uploads only
        return false;
      }
      Fail("upload " + id + " waits: " + e.GetCode() + ": " + e.what());  // quota, disk
      return false;
    }
    if (!CheckOrigin(id))
    {
      return false;  // another gateway's pull of the same id recorded it first
    }

    std::vector<const PulledItem*> pending;
    for (const PulledItem& item : manifest.items)
    {
      ItemRecord stored;
      if (!ledger_.Uploads().LookupItem(stored, id, item.sha256))
      {
        pending.push_back(&item);
      }
    }

    // A few items at a time: the transfer is bound by round trips more than by bytes.
    std::atomic<size_t> next(0);
    std::atomic<bool> stop(false);
    std::atomic<bool> unreachable(false);
    std::mutex outcomeMutex;
    std::string refused, bad;
    auto worker = [&]() {
      for (size_t i = next++; i < pending.size() && !stop && !lease.IsLost(); i = next++)
      {
        std::string why;
        const PulledItem& item = *pending[i];
        switch (item.partBytes > 0 ? PullPieces(id, item, manifest.sealed, why)
                                   : PullItem(id, item.sha256, item.size, manifest.sealed, why))
        {
          case ItemOutcome_Unreachable:
            unreachable = stop = true;
            break;
          case ItemOutcome_Refused:
          {
            std::lock_guard<std::mutex> lock(outcomeMutex);
            refused = why;
            break;
          }
          case ItemOutcome_BadData:
          {
            std::lock_guard<std::mutex> lock(outcomeMutex);
            bad = why;
            stop = true;  // no more of this gateway's data for this upload
            break;
          }
          default:
            break;
        }
      }
    };
    std::vector<std::thread> workers;
    const size_t count = std::min<size_t>(parallelItems_, pending.size());
    for (size_t i = 1; i < count; i++)
    {
      workers.emplace_back(worker);
    }
    worker();
    for (std::thread& t : workers)
    {
      t.join();
    }

    if (!bad.empty())
    {
      BadData(id, bad);
      return false;
    }
    if (!refused.empty())
    {
      // Never acknowledged: the gateway keeps the original, an admin looks at it.
      Hold(id, refused);
      return false;
    }
    if (unreachable)
    {
      return false;  // the next round resumes with the items still missing
    }
    if (lease.IsLost())
    {
      // This Internal could not renew its lease for a while (the ledger out of reach) and
      // another one took the upload over: it completes it.
      LOG(WARNING) << "Inbound: gateway " << peer_.GetName() << ": upload " << id
                   << " was taken over by another Orthanc";
      return false;
    }

    try
    {
      uploads_.CompletePulledUpload(id, manifest.receiptCode, peer_.GetName());
    }
    catch (const ApiError& e)
    {
      BadData(id, "completing " + id + ": " + e.GetCode() + ": " + e.what());
      return false;
    }
    return Acknowledge(id);
  }

  bool Puller::RunOnce(unsigned int waitSeconds)
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      roundFailed_ = false;
    }
    Json::Value outbox;
    std::string problem;
    const CallResult result =
      GetJson(outbox, "/inbound/peer/outbox?limit=" + std::to_string(kOutboxLimit) +
                        "&wait=" + std::to_string(waitSeconds),
              waitSeconds + 30, kMaxListingBytes, problem);
    if (result == CallResult_Ok && !outbox["uploads"].isArray())
    {
      problem = "the outbox has no \"uploads\" array";
    }
    if (result == CallResult_Failed)
    {
      EndRound();
      return false;
    }
    if (!problem.empty())
    {
      BadData("", "outbox: " + problem);
      EndRound();
      return true;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      backlog_ = outbox["uploads"].size();
    }
    RefreshHolds();  // holds and releases made on the other Internals of the ledger
    unsigned int seen = 0;
    for (const Json::Value& listing : outbox["uploads"])
    {
      if (seen++ == kOutboxLimit)
      {
        BadData("", "outbox: more entries than the " + std::to_string(kOutboxLimit) + " asked for");
        break;
      }
      const Json::Value& rawId = listing.isObject() ? listing["id"] : listing;
      const std::string raw = rawId.isString() ? rawId.asString() : JsonText::Compact(rawId);
      // Not an id: held under a name that an admin can put in a route.
      const std::string key = IsUploadId(raw) ? raw : "invalid-" + Crypto::Sha256Hex(raw).substr(0, 16);
      bool held;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        held = held_.count(key) > 0;
      }
      if (held)
      {
        continue;
      }
      if (!listing.isObject() || !rawId.isString() || !IsUploadId(rawId.asString()))
      {
        BadData(key, "outbox entry id \"" + TextRules::MakeSafe(raw, 64) +
                       "\" is not an upload id (12 characters of " + kUploadIdAlphabet + ")");
        continue;
      }
      PullClaimed(listing, key);
    }
    EndRound();
    std::lock_guard<std::mutex> lock(mutex_);
    return !roundFailed_;
  }

  unsigned int Puller::GetPauseMs(int64_t roundStartedMs) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (lastRoundBadData_)
    {
      return static_cast<unsigned int>(BadDataPauseMs(strikes_));
    }
    const int64_t elapsed = clock_.NowMs() - roundStartedMs;
    return elapsed >= kMinRoundIntervalMs || elapsed < 0
             ? 0 : static_cast<unsigned int>(kMinRoundIntervalMs - elapsed);
  }

  void Puller::Loop(const std::atomic<bool>& stopping)
  {
    int64_t failures = 0;  // rounds in a row that did not reach the gateway
    while (!stopping)
    {
      const int64_t started = clock_.NowMs();
      bool reached = false;
      try
      {
        reached = RunOnce(kLongPollSeconds);
      }
      catch (...)
      {
        Fail(DescribeCurrentException());
      }
      unsigned int waitMs = 0;
      if (reached)
      {
        failures = 0;
        waitMs = GetPauseMs(started);
      }
      else
      {
        // The gateway is down or failing, or its uploads are refused for now (quotas, data
        // monitor): back off, up to a minute.
        failures++;
        const Backoff backoff(kFirstUnreachablePauseMs, kMaxUnreachablePauseMs);
        waitMs = std::max(static_cast<unsigned int>(backoff.NextDelay(failures)),
                          GetPauseMs(started));
      }
      // Without blocking the stop.
      for (unsigned int i = 0; i < waitMs && !stopping; i += 100)
      {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100u, waitMs - i)));
      }
    }
  }

  bool Puller::Release(const std::string& id, const std::string& by)
  {
    const bool released = ledger_.Pulls().Release(peer_.GetName(), id, clock_.NowMs(), by);
    std::lock_guard<std::mutex> lock(mutex_);
    held_.erase(id);
    for (auto it = crashed_.begin(); it != crashed_.end();)
    {
      it = it->second == id ? crashed_.erase(it) : std::next(it);  // understood by an admin
    }
    return released;
  }

  GatewaySnapshot Puller::GetSnapshot() const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    GatewaySnapshot snapshot;
    snapshot.name = peer_.GetName();
    snapshot.lastContact = lastContact_;
    snapshot.backlog = backlog_;
    snapshot.failures = failures_;
    snapshot.delivered = delivered_;
    snapshot.held = held_.size();
    return snapshot;
  }

  Json::Value Puller::Describe() const
  {
    const std::vector<PullingRecord> pulling = ledger_.Pulls().ListPulling(peer_.GetName());
    std::lock_guard<std::mutex> lock(mutex_);
    Json::Value json(Json::objectValue);
    json["name"] = peer_.GetName();
    json["lastContact"] = lastContact_ > 0 ? Json::Value(FormatIso8601(lastContact_)) : Json::Value();
    json["lastFailure"] = lastFailure_ > 0 ? Json::Value(FormatIso8601(lastFailure_)) : Json::Value();
    json["lastError"] = lastError_;
    json["failures"] = Json::UInt64(failures_);
    json["delivered"] = Json::UInt64(delivered_);
    json["backlog"] = backlog_;
    json["minRoundIntervalMs"] = Json::Int64(kMinRoundIntervalMs);
    json["held"] = Json::arrayValue;
    json["heldUploads"] = Json::arrayValue;
    for (const auto& held : held_)
    {
      json["held"].append(held.first);
      Json::Value h(Json::objectValue);
      h["id"] = held.first;
      h["reason"] = held.second.reason;
      h["since"] = FormatIso8601(held.second.since);
      h["release"] = ReleaseRoute(peer_.GetName(), held.first);
      json["heldUploads"].append(h);
    }
    json["processing"] = Json::arrayValue;
    for (const PullingRecord& p : pulling)
    {
      Json::Value item(Json::objectValue);
      item["uploadId"] = p.uploadId;
      item["sha256"] = p.sha256;
      item["since"] = FormatIso8601(p.since);
      json["processing"].append(item);
    }
    json["badData"]["count"] = Json::UInt64(badData_);
    json["badData"]["last"] = lastBadData_ > 0 ? Json::Value(FormatIso8601(lastBadData_)) : Json::Value();
    json["badData"]["lastRule"] = lastBadDataRule_;
    json["badData"]["rounds"] = strikes_;
    json["badData"]["pauseSeconds"] =
      lastRoundBadData_ ? Json::Int64(BadDataPauseMs(strikes_) / 1000) : Json::Int64(0);
    return json;
  }
}
