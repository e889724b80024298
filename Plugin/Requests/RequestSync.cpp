// Pushes request links to the gateways, reads back their states, checks a pulled upload's binding.
#include "RequestSync.h"

#include "Peering/PulledManifest.h"
#include "Peering/RequestPush.h"
#include "Toolbox/Backoff.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"

#include <Logging.h>

#include <set>

namespace Inbound
{
  namespace
  {
    const unsigned int kPublishTimeoutSeconds = 5;  // an admin waits for the 201
    const unsigned int kRoundTimeoutSeconds = 30;
    const uint64_t kMaxPushAnswerBytes = 1024 * 1024;
    // A record a gateway refused (a recipient it does not know...) is offered again this
    // often, not every round: its admin may fix the configuration.
    const int64_t kRefusedRetryMs = 60 * 1000;
    // While a gateway is down or answers what cannot be read: 2 s, 4 s, ... up to a minute.
    const int64_t kFirstPauseMs = 2000;
    const int64_t kMaxPauseMs = 60 * 1000;
    const int64_t kMaxClockSkewMs = 5 * 60 * 1000;

    // Why a call to a gateway did not give a usable answer.
    std::string DescribeFailure(const PeerAnswer& answer, bool reached, uint64_t cap)
    {
      return !reached          ? std::string("not reached")
             : answer.truncated ? "an answer larger than " + std::to_string(cap) + " bytes"
                                : "HTTP " + std::to_string(answer.status);
    }

    Json::Value IsoOrNull(int64_t ms)
    {
      return ms > 0 ? Json::Value(FormatIso8601(ms)) : Json::Value();
    }
  }

  RequestSync::RequestSync(Ledger& ledger, const IClock& clock,
                           const std::vector<IPeerClient*>& gateways) :
    ledger_(ledger),
    clock_(clock),
    gateways_(gateways)
  {
  }

  std::vector<RequestSync::Held> RequestSync::ListHeld(const std::string& requestId) const
  {
    return ledger_.RequestGateways().List(requestId);
  }

  void RequestSync::Record(const std::string& gateway, const RequestRecord& own,
                           int64_t revision, const std::string& status, int64_t usedUploads,
                           int64_t failures, int64_t lockedAt, const std::string& refused)
  {
    Held held;
    held.gateway = gateway;
    held.confirmedRevision = refused.empty() ? std::min(revision, own.revision) : 0;
    held.syncedAt = clock_.NowMs();
    held.status = status;
    held.usedUploads = usedUploads;
    held.failures = failures;
    held.lockedAt = lockedAt;
    held.refused = refused;
    ledger_.RequestGateways().Put(own.id, held);
    if (lockedAt > 0 && own.state == RequestState_Active)
    {
      // Someone guessed at the challenge there: the request locks here too, and with its new
      // revision on every other gateway (a guesser does not get MaxFailures per gateway).
      ledger_.Requests().MarkLocked(own.id, lockedAt, held.syncedAt, gateway);
    }
  }

  void RequestSync::Failed(const std::string& gateway, const std::string& what)
  {
    LOG(WARNING) << "Inbound: request links to gateway " << gateway << ": " << what;
  }

  bool RequestSync::Push(IPeerClient& gateway, const std::vector<RequestRecord>& records,
                         unsigned int timeoutSeconds)
  {
    Json::Value body(Json::objectValue);
    body["requests"] = Json::arrayValue;
    std::map<std::string, const RequestRecord*> pushed;
    for (const RequestRecord& record : records)
    {
      body["requests"].append(RequestPush::ToJson(record));
      pushed[record.id] = &record;
    }
    PeerAnswer answer;
    const bool reached = gateway.Call(answer, true, "/inbound/peer/requests",
                                      JsonText::Compact(body), timeoutSeconds, kMaxPushAnswerBytes);
    if (!reached || answer.status != 200 || answer.truncated)
    {
      Failed(gateway.GetName(), "push: " + DescribeFailure(answer, reached, kMaxPushAnswerBytes));
      return false;
    }
    try
    {
      for (const RequestPush::GatewayState& state :
           RequestPush::ParseStates(answer.body, clock_.NowMs()))
      {
        const auto found = pushed.find(state.id);
        if (found == pushed.end())
        {
          throw GatewayDataError("the answer to a push names request " + state.id +
                                 ", which was not pushed");
        }
        Record(gateway.GetName(), *found->second, state.revision, state.status,
               state.usedUploads, state.failures, state.lockedAt,
               state.error.empty() ? "" : state.error + ": " + state.message);
      }
    }
    catch (const GatewayDataError& e)
    {
      Failed(gateway.GetName(), std::string("bad answer to a push: ") + e.what());
      return false;
    }
    return true;
  }

  bool RequestSync::ReadStates(IPeerClient& gateway)
  {
    PeerAnswer answer;
    const bool reached = gateway.Call(answer, false, "/inbound/peer/requests", "",
                                      kRoundTimeoutSeconds, RequestPush::kMaxStatesBytes);
    if (!reached || answer.status != 200 || answer.truncated)
    {
      Failed(gateway.GetName(),
             "reading the states: " + DescribeFailure(answer, reached, RequestPush::kMaxStatesBytes));
      return false;
    }
    const int64_t now = clock_.NowMs();
    std::vector<RequestPush::GatewayState> states;
    try
    {
      states = RequestPush::ParseStates(answer.body, now);
    }
    catch (const GatewayDataError& e)
    {
      Failed(gateway.GetName(), std::string("bad request states: ") + e.what());
      return false;
    }
    std::set<std::string> confirmed =
      ledger_.RequestGateways().ListConfirmed(gateway.GetName(), now);
    for (const RequestPush::GatewayState& state : states)
    {
      RequestRecord own;
      if (!state.error.empty() || !ledger_.Requests().Lookup(own, state.id))
      {
        continue;  // not one of ours (another Internal's, or made up): nothing to learn
      }
      confirmed.erase(state.id);
      Record(gateway.GetName(), own, state.revision, state.status, state.usedUploads,
             state.failures, state.lockedAt, "");
    }
    for (const std::string& lost : confirmed)
    {
      // Confirmed once, no longer held there (its ledger restored from an old backup...):
      // pushed again.
      RequestRecord own;
      if (ledger_.Requests().Lookup(own, lost))
      {
        Record(gateway.GetName(), own, 0, "", 0, 0, 0, "");
      }
    }
    return true;
  }

  bool RequestSync::SyncGateway(IPeerClient& gateway)
  {
    const int64_t now = clock_.NowMs();
    const RequestGatewayStore& held = ledger_.RequestGateways();
    auto pending = [&](size_t limit) {
      return held.ListPending(gateway.GetName(), now, now - kRefusedRetryMs, limit);
    };
    std::vector<std::string> ids;
    while (!(ids = pending(RequestPush::kMaxRecords)).empty())
    {
      std::vector<RequestRecord> records;
      for (const std::string& id : ids)
      {
        RequestRecord record;
        if (ledger_.Requests().Lookup(record, id))
        {
          records.push_back(record);
        }
      }
      const size_t before = ids.size();
      if (records.empty() || !Push(gateway, records, kRoundTimeoutSeconds))
      {
        return records.empty();
      }
      if (pending(before).size() >= before)
      {
        break;  // the gateway confirmed none of them (older revisions there?): next round
      }
    }
    int64_t lastStates = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lastStates = contacts_[gateway.GetName()].lastStates;
    }
    if (now - lastStates < kStatesIntervalMs)
    {
      return true;
    }
    if (!ReadStates(gateway))
    {
      return false;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    contacts_[gateway.GetName()].lastStates = now;
    return true;
  }

  void RequestSync::RunOnce()
  {
    for (IPeerClient* gateway : gateways_)
    {
      const int64_t now = clock_.NowMs();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (now < contacts_[gateway->GetName()].nextAttempt)
        {
          continue;
        }
      }
      bool ok = false;
      try
      {
        ok = SyncGateway(*gateway);
      }
      catch (...)
      {
        Failed(gateway->GetName(), DescribeCurrentException());
      }
      std::lock_guard<std::mutex> lock(mutex_);
      Contact& contact = contacts_[gateway->GetName()];
      contact.failures = ok ? 0 : contact.failures + 1;
      contact.nextAttempt =
        ok ? 0 : now + Backoff(kFirstPauseMs, kMaxPauseMs).NextDelay(contact.failures);
    }
  }

  void RequestSync::Loop(const std::atomic<bool>& stopping)
  {
    while (!stopping)
    {
      RunOnce();
      wake_.Wait(std::chrono::milliseconds(kRoundIntervalMs), stopping);
    }
  }

  Json::Value RequestSync::Publish(const RequestRecord& record)
  {
    for (IPeerClient* gateway : gateways_)
    {
      {
        // Known to be down: the admin does not wait for it; the loop pushes once it is back.
        std::lock_guard<std::mutex> lock(mutex_);
        if (clock_.NowMs() < contacts_[gateway->GetName()].nextAttempt)
        {
          continue;
        }
      }
      try
      {
        Push(*gateway, {record}, kPublishTimeoutSeconds);
      }
      catch (...)
      {
        Failed(gateway->GetName(), DescribeCurrentException());  // the loop tries again
      }
    }
    return Describe(record);
  }

  Json::Value RequestSync::Describe(const RequestRecord& record) const
  {
    std::map<std::string, Held> known;
    for (const Held& held : ListHeld(record.id))
    {
      known[held.gateway] = held;
    }
    Json::Value result(Json::objectValue);
    for (const IPeerClient* gateway : gateways_)
    {
      const auto found = known.find(gateway->GetName());
      const Held held = found == known.end() ? Held() : found->second;
      Json::Value& g = result[gateway->GetName()];
      g["state"] = !held.refused.empty()                          ? "refused"
                   : held.confirmedRevision >= record.revision ? "pushed"
                                                                  : "pending";
      g["syncedAt"] = IsoOrNull(held.syncedAt);
      g["status"] = held.status.empty() ? Json::Value() : Json::Value(held.status);
      g["usedUploads"] = Json::Int64(held.usedUploads);
      g["failures"] = Json::Int64(held.failures);
      g["locked"] = held.lockedAt > 0;
      g["lockedAt"] = IsoOrNull(held.lockedAt);
      g["error"] = held.refused.empty() ? Json::Value() : Json::Value(held.refused);
    }
    return result;
  }

  std::string RequestSync::CheckPulledBinding(const RequestStore& requests,
                                              const UploadRecord& upload)
  {
    RequestRecord request;
    if (!requests.Lookup(request, upload.requestId))
    {
      return "this server holds no request " + upload.requestId;
    }
    if (request.recipientId != upload.recipientId)
    {
      return "request " + request.id + " is for recipient \"" + request.recipientId +
             "\", the upload for \"" + upload.recipientId + "\"";
    }
    // The gateway's clock may be a little behind the Internal's: a few minutes of grace.
    if (upload.createdAt + kMaxClockSkewMs < request.createdAt)
    {
      return "the upload opened before request " + request.id + " was created";
    }
    if (upload.createdAt >= request.expiresAt)
    {
      return "request " + request.id + " had expired when the upload opened";
    }
    // An upload opened before a revocation or a lock reached the gateway keeps its binding.
    if (request.state == RequestState_Revoked && request.updatedAt <= upload.createdAt)
    {
      return "request " + request.id + " was revoked before the upload opened";
    }
    if (request.state == RequestState_Locked && request.lockedAt > 0 &&
        request.lockedAt <= upload.createdAt)
    {
      return "request " + request.id + " was locked before the upload opened";
    }
    return "";
  }
}
