// A gateway's outbox: complete uploads waiting to be pulled, their manifests and bytes, the ack.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Staging/StagingArea.h"
#include "Toolbox/Time.h"
#include "Toolbox/WakeSignal.h"

#include <json/value.h>

#include <atomic>
#include <set>

namespace Inbound
{
  // A gateway's outbox (doc/Api.md, "Peer routes"): the complete uploads waiting to
  // be pulled, each one's manifest and staged bytes, and the acknowledgement after which, and
  // only after which, the gateway forgets them. Refusals are ApiErrors.
  class Outbox : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    StagingArea& staging_;
    const IClock& clock_;
    std::mutex alertsMutex_;
    std::set<std::string> alerted_;
    mutable WakeSignal completed_;

    UploadRecord GetWaiting(const std::string& id) const;

  public:
    Outbox(const Configuration& configuration, Ledger& ledger, StagingArea& staging,
           const IClock& clock);

    // Oldest first; with "waitSeconds" (at most 60), holds the call until an upload is
    // waiting, the time is up or "stopping" turns true.
    Json::Value List(unsigned int waitSeconds, unsigned int limit,
                     const std::atomic<bool>& stopping) const;

    Json::Value GetManifest(const std::string& id) const;

    // The staged bytes: exactly as the sender sent them, or their envelope on a sealing
    // gateway (opened by the Internal).
    std::string ReadItem(const std::string& id, const std::string& sha256) const;

    // The same; "sealed": whether the upload is sealed (its items are envelopes).
    std::string ReadItem(const std::string& id, const std::string& sha256, bool& sealed) const;

    // Piece "n" of a staged item that the manifest gives "partBytes" (doc/Api.md, "Peer
    // routes"): envelope n of an item sealed in pieces, else bytes [n * partBytes, ...) of the
    // file as sent. 404 when there is no such item or piece.
    std::string ReadItemPiece(const std::string& id, const std::string& sha256,
                              uint64_t n) const;

    // Every item of the upload must be named: then its staged data is deleted (durably) and
    // it becomes "delivered". Acknowledging again is harmless.
    Json::Value Acknowledge(const std::string& id, const void* body, size_t size,
                            const std::string& puller);

    // POST /inbound/peer/requests: request links the Internal pushes (RequestPush::Receive).
    Json::Value ReceiveRequests(const void* body, size_t size);

    // GET /inbound/peer/requests: the state of every request link held here.
    Json::Value ListRequests() const;

    // Records an admin alert, once, for each upload waiting longer than the retention.
    void CheckRetention();

    // An upload was completed: a long poll in progress answers at once.
    void Wake();
  };
}
