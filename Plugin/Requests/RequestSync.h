// The Internal's push of request links to its gateways, and its record of what each gateway holds.
#pragma once

#include "Ledger/Ledger.h"
#include "Peering/IPeerClient.h"
#include "Toolbox/Time.h"
#include "Toolbox/WakeSignal.h"

#include <json/value.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace Inbound
{
  // A gateway never connects inwards, so the Internal brings its request links out over the
  // peer channel it already opens for the pull (doc/Requests.md, "Gateways"): it pushes a
  // record at once when staff create or revoke a request (Publish, a short timeout), and a
  // loop of its own pushes every record a gateway has not confirmed (down at the time, or a
  // newer revision) and reads back what the gateways know: the uses, the wrong answers, a
  // lock. A gateway's lock locks the request inside too (and so on every other gateway).
  //
  // What each gateway confirmed is the table "request_gateways" (doc/Ledger.md), written only
  // here, through RequestGatewayStore. A gateway's answers are trusted no more than its manifests: parsed strictly
  // (RequestPush::ParseStates), only the Internal's own requests are read from them, and they
  // bind nothing: an upload is bound inside by the Internal's own checks
  // (CheckPulledBinding).
  //
  // Threads: Publish runs on the HTTP thread of the admin's request, RunOnce on the loop's;
  // both only call the gateways and the ledger. mutex_ guards each gateway's back-off.
  class RequestSync : public boost::noncopyable
  {
  public:
    // What the Internal knows of one request on one gateway (a row of "request_gateways").
    typedef RequestGatewayRecord Held;

  private:
    struct Contact
    {
      int64_t nextAttempt = 0;  // ms: not called before, after failures
      int64_t failures = 0;     // rounds in a row that failed
      int64_t lastStates = 0;   // ms of the last complete read of its states
    };

    Ledger& ledger_;
    const IClock& clock_;
    std::vector<IPeerClient*> gateways_;
    std::mutex mutex_;
    std::map<std::string, Contact> contacts_;  // by gateway; guarded by mutex_
    WakeSignal wake_;

    // Pushes "records" to "gateway" and records its answer; false when not reached, or the
    // answer broke the rules.
    bool Push(IPeerClient& gateway, const std::vector<RequestRecord>& records,
              unsigned int timeoutSeconds);
    bool ReadStates(IPeerClient& gateway);
    // Records one state a gateway answered for one of the Internal's own requests.
    void Record(const std::string& gateway, const RequestRecord& own, int64_t revision,
                const std::string& status, int64_t usedUploads, int64_t failures,
                int64_t lockedAt, const std::string& refused);
    bool SyncGateway(IPeerClient& gateway);
    void Failed(const std::string& gateway, const std::string& what);

  public:
    // How often the states of each gateway are read; records are pushed every round.
    static constexpr int64_t kStatesIntervalMs = 10 * 1000;
    static constexpr int64_t kRoundIntervalMs = 2 * 1000;

    RequestSync(Ledger& ledger, const IClock& clock, const std::vector<IPeerClient*>& gateways);

    // At creation and revocation: "record" pushed to every gateway at once, a few seconds
    // each; one not reached gets it at a next round. Returns Describe(record).
    Json::Value Publish(const RequestRecord& record);

    // The "gateways" member of a request's admin JSON: {<gateway>: {state: "pushed" /
    // "pending" / "refused", syncedAt, status, usedUploads, failures, locked, lockedAt, error}}.
    Json::Value Describe(const RequestRecord& record) const;

    // What each gateway confirmed of a request ("request_gateways").
    std::vector<Held> ListHeld(const std::string& requestId) const;

    // One round over the gateways (those not backed off): pushes what each has not confirmed,
    // then reads their states when kStatesIntervalMs has passed.
    void RunOnce();

    // Rounds until "stopping"; Wake() starts one early.
    void Loop(const std::atomic<bool>& stopping);

    void Wake()
    {
      wake_.Wake();
    }

    // Whether a pulled upload that its gateway says was made through "upload.requestId" may
    // be bound to it here: "" if so, else why not. The rest is checked by UploadStore::Create
    // in the transaction that records the upload (the uses left).
    static std::string CheckPulledBinding(const RequestStore& requests,
                                          const UploadRecord& upload);
  };
}
