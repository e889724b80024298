#include "Puller.h"

#include "Http/ApiError.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"

#include <Logging.h>

#include <limits>
#include <thread>

namespace Inbound
{
  namespace
  {
    // Short enough that stopping Orthanc, which waits for a poll in progress, stays quick;
    // an upload is still seen at once, as the gateway answers as soon as one completes.
    const unsigned int kLongPollSeconds = 5;
    const unsigned int kItemTimeoutSeconds = 120;
    // Outbox listings, manifests and acknowledgements are small; a manifest of the largest
    // upload (100,000 items of about 100 bytes) stays well below.
    const uint64_t kMaxJsonAnswerBytes = 32 * 1024 * 1024;

    UploadRecord FromManifest(const Json::Value& manifest)
    {
      UploadRecord record;
      record.id = manifest["id"].asString();
      record.state = UploadState_Open;
      int64_t created = 0;
      ParseIso8601(created, manifest.get("createdAt", "").asString());
      record.createdAt = record.updatedAt = created;
      record.sender = Sender::FromJson(manifest["sender"]);
      record.recipientId = manifest["recipient"].isObject()
                             ? manifest["recipient"].get("id", "").asString() : "";
      record.message = manifest.get("message", "").asString();
      record.consentVersion = manifest["consent"].get("version", "").asString();
      record.language = manifest["language"].isString() ? manifest["language"].asString() : "";
      record.clientIp = manifest["client"].get("ip", "").asString();
      record.userAgent = manifest["client"].get("userAgent", "").asString();
      return record;
    }
  }

  Puller::Puller(UploadService& uploads, Ledger& ledger, IPeerClient& peer, const IClock& clock,
                 unsigned int maxAttempts, unsigned int parallelItems) :
    uploads_(uploads),
    ledger_(ledger),
    peer_(peer),
    clock_(clock),
    maxAttempts_(maxAttempts),
    parallelItems_(std::max(1u, parallelItems)),
    started_(clock.NowMs())
  {
  }

  void Puller::Fail(const std::string& what)
  {
    bool alert = false;
    int64_t silentFor = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
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
      ledger_.AddAudit(clock_.NowMs(), "alert-gateway-unreachable", "", peer_.GetName(),
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
      ledger_.AddAudit(clock_.NowMs(), "gateway-reachable", "", peer_.GetName(),
                       "gateway \"" + peer_.GetName() + "\" reached again");
    }
  }

  bool Puller::Get(Json::Value& json, const std::string& uri, unsigned int timeoutSeconds)
  {
    PeerAnswer answer;
    if (!peer_.Call(answer, false, uri, "", timeoutSeconds, kMaxJsonAnswerBytes))
    {
      Fail("unreachable (" + uri + ")");
      return false;
    }
    if (answer.status != 200 || !JsonText::ParseStrict(json, answer.body.data(), answer.body.size()))
    {
      Fail("HTTP " + std::to_string(answer.status) + " for " + uri);
      return false;
    }
    Contact();
    return true;
  }

  bool Puller::Acknowledge(const std::string& id)
  {
    Json::Value body(Json::objectValue);
    body["items"] = Json::arrayValue;
    for (const ItemRecord& item : ledger_.ListItems(id))
    {
      body["items"].append(item.sha256);
    }
    PeerAnswer answer;
    if (!peer_.Call(answer, true, "/inbound/peer/outbox/" + id + "/ack", JsonText::Compact(body),
                    kItemTimeoutSeconds, kMaxJsonAnswerBytes) || answer.status != 200)
    {
      Fail("acknowledgement of " + id + " failed (HTTP " + std::to_string(answer.status) + ")");
      return false;
    }
    Contact();
    std::lock_guard<std::mutex> lock(mutex_);
    delivered_++;
    return true;
  }

  Puller::ItemOutcome Puller::PullItem(const std::string& id, const std::string& sha256)
  {
    for (unsigned int attempt = 1; attempt <= maxAttempts_; attempt++)
    {
      PeerAnswer answer;
      const bool reached = peer_.Call(answer, false, "/inbound/peer/outbox/" + id + "/items/" + sha256, "",
                                      kItemTimeoutSeconds, std::numeric_limits<uint64_t>::max());
      if (reached)
      {
        Contact();  // a long pull is contact all along, not an outage
      }
      if (!reached || answer.status != 200)
      {
        Fail("item " + sha256 + " of " + id + " could not be fetched");
        return ItemOutcome_Unreachable;
      }
      try
      {
        uploads_.ReceivePulledFile(id, sha256, answer.body.data(), answer.body.size(),
                                   peer_.GetName());
        return ItemOutcome_Stored;
      }
      catch (const ApiError& e)
      {
        Fail("item " + sha256 + " of " + id + " refused: " + e.what());
        if (e.GetStatus() == 503)
        {
          // Busy (server-busy: the in-flight budget is used up for now): the file is not at
          // fault; the next round fetches it again instead of holding the upload.
          return ItemOutcome_Unreachable;
        }
        if (e.GetCode() != "hash-mismatch")
        {
          return ItemOutcome_Refused;  // fetching it again would not change the file
        }
      }
    }
    return ItemOutcome_Refused;
  }

  bool Puller::Pull(const std::string& id)
  {
    UploadRecord known;
    if (ledger_.LookupUpload(known, id) && known.state != UploadState_Open)
    {
      // Stored (or removed here by an admin) already: the gateway only missed the
      // acknowledgement, e.g. because one side crashed right before it.
      return Acknowledge(id);
    }

    Json::Value manifest;
    if (!Get(manifest, "/inbound/peer/outbox/" + id, kItemTimeoutSeconds) ||
        manifest.get("id", "").asString() != id || !manifest["items"].isArray())
    {
      return false;
    }
    uploads_.BeginPulledUpload(FromManifest(manifest));

    std::vector<std::string> pending;
    for (const Json::Value& item : manifest["items"])
    {
      const std::string sha256 = item.get("sha256", "").asString();
      ItemRecord stored;
      if (Crypto::IsSha256Hex(sha256) && !ledger_.LookupItem(stored, id, sha256))
      {
        pending.push_back(sha256);
      }
    }

    // A few items at a time: the transfer is bound by round trips more than by bytes.
    std::atomic<size_t> next(0);
    std::atomic<bool> unreachable(false);
    std::mutex refusedMutex;
    std::string refused;
    auto worker = [&]() {
      for (size_t i = next++; i < pending.size() && !unreachable; i = next++)
      {
        switch (PullItem(id, pending[i]))
        {
          case ItemOutcome_Unreachable:
            unreachable = true;
            break;
          case ItemOutcome_Refused:
          {
            std::lock_guard<std::mutex> lock(refusedMutex);
            refused = pending[i];
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

    if (!refused.empty())
    {
      // Never acknowledged: the gateway keeps the original, an admin looks at it.
      std::lock_guard<std::mutex> lock(mutex_);
      if (held_.insert(id).second)
      {
        ledger_.AddAudit(clock_.NowMs(), "alert-upload-held", id, "",
                         "item " + refused + " from gateway " + peer_.GetName() +
                           " failed its checks " + std::to_string(maxAttempts_) +
                           " times; the upload is held and not acknowledged");
      }
      return false;
    }
    if (unreachable)
    {
      return false;  // the next round resumes with the items still missing
    }

    uploads_.CompletePulledUpload(id, manifest.get("receiptCode", "").asString(), peer_.GetName());
    return Acknowledge(id);
  }

  bool Puller::RunOnce(unsigned int waitSeconds)
  {
    Json::Value outbox;
    if (!Get(outbox, "/inbound/peer/outbox?limit=20&wait=" + std::to_string(waitSeconds),
             waitSeconds + 30) ||
        !outbox["uploads"].isArray())
    {
      return false;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      backlog_ = outbox["uploads"].size();
    }
    for (const Json::Value& upload : outbox["uploads"])
    {
      const std::string id = upload.get("id", "").asString();
      bool held;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        held = held_.count(id) > 0;
      }
      if (!id.empty() && !held)
      {
        try
        {
          Pull(id);
        }
        catch (...)
        {
          Fail("pulling " + id + ": " + DescribeCurrentException());
        }
      }
    }
    return true;
  }

  void Puller::Loop(const std::atomic<bool>& stopping)
  {
    unsigned int pause = 1;
    while (!stopping)
    {
      bool reached = false;
      try
      {
        reached = RunOnce(kLongPollSeconds);
      }
      catch (...)
      {
        Fail(DescribeCurrentException());
      }
      if (reached)
      {
        pause = 1;
        continue;
      }
      // The gateway is down or failing: back off, up to a minute, without blocking the stop.
      for (unsigned int i = 0; i < pause * 10 && !stopping; i++)
      {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      pause = std::min(60u, pause * 2);
    }
  }

  Json::Value Puller::Describe() const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Json::Value json(Json::objectValue);
    json["name"] = peer_.GetName();
    json["lastContact"] = lastContact_ > 0 ? Json::Value(FormatIso8601(lastContact_)) : Json::Value();
    json["lastFailure"] = lastFailure_ > 0 ? Json::Value(FormatIso8601(lastFailure_)) : Json::Value();
    json["lastError"] = lastError_;
    json["failures"] = Json::UInt64(failures_);
    json["delivered"] = Json::UInt64(delivered_);
    json["backlog"] = backlog_;
    json["held"] = Json::arrayValue;
    for (const std::string& id : held_)
    {
      json["held"].append(id);
    }
    return json;
  }
}
