// Request links pushed from an Internal to its gateways: the wire format and its strict parsers.
#pragma once

#include "Configuration.h"
#include "Ledger/RequestStore.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  // The Internal pushes each request link to its gateways over the peer channel it already
  // opens (doc/Requests.md, "Gateways"; doc/Api.md, "Peer routes"): POST /inbound/peer/requests
  // with {"requests": [record, ...]}, answered with the gateway's state of each. A record as
  // pushed holds what the sender's page and its challenge need and nothing more: no patient,
  // no sender, no forwarding, no author. The expected patient travels only inside "secret",
  // which the gateway cannot open without a link (Requests/RequestSecret.h).
  //
  // Both directions are network input: the gateway parses a push as strictly as a public
  // upload (the Internal might be confused, or a puller's credentials stolen), and the
  // Internal parses a gateway's answer as strictly as a manifest (a compromised DMZ).
  namespace RequestPush
  {
    const size_t kMaxBodyBytes = 1024 * 1024;  // one push
    const size_t kMaxRecords = 100;            // records in one push
    const size_t kMaxSecretCharacters = 4096;  // base64 of a sealed {patientName, birthDate}
    const size_t kMinSecretBytes = 12 + 16;    // nonce and tag of an empty plaintext
    const size_t kMaxRecipientCharacters = 64;
    const int64_t kMaxMaxUploads = 10000;
    const int64_t kMaxLifetimeMs = int64_t(400) * 24 * 3600 * 1000;  // beyond any MaxExpiryDays
    // One state answer as the Internal reads it: live requests only (ListStates), about 150
    // bytes each; capped so that a gateway cannot make the Internal parse a huge document.
    const size_t kMaxStates = 30000;
    const uint64_t kMaxStatesBytes = 4 * 1024 * 1024;

    // Internal: a record as pushed (no patient, sender, forwardTo or createdBy).
    Json::Value ToJson(const RequestRecord& record);

    // Gateway: one record of a push. "error" empty: "record" is to be stored; else this gateway
    // refuses it ("invalid-field" with the rule broken in "message", "unknown-recipient"), and
    // "record.id" is the pushed id when it has the form of one, else "".
    struct Pushed
    {
      RequestRecord record;
      std::string error;
      std::string message;
    };

    // Gateway: a push, parsed. A body that is no {"requests": [...]} object, is larger than
    // kMaxBodyBytes, lists more than kMaxRecords records or one id twice is refused as a whole
    // (ApiError 400 bad-json / invalid-field, 413 too-large); a record breaking a rule is
    // refused alone. "now": times in the future are refused.
    std::vector<Pushed> Parse(const void* body, size_t size, const Configuration& configuration,
                              int64_t now);

    // Gateway: the state the Internal reads of a request held here:
    // {id, revision, status, usedUploads, failures, lockedAt}.
    Json::Value StateToJson(const RequestRecord& record, int64_t now);

    // Gateway: POST /inbound/peer/requests. Stores every record it does not refuse (newer
    // revisions only, RequestStore::Upsert) and answers {"requests": [state or refusal, ...]}
    // in the order of the push.
    Json::Value Receive(const void* body, size_t size, const Configuration& configuration,
                        RequestStore& store, int64_t now);

    // Gateway: GET /inbound/peer/requests: {"requests": [state, ...]} of every request held
    // that has not expired (an expired one has nothing left to tell the Internal).
    Json::Value ListStates(const RequestStore& store, int64_t now);

    // Internal: one entry of a gateway's answer.
    struct GatewayState
    {
      std::string id;
      int64_t revision = 0;
      std::string status;      // "active", "expired", "used", "revoked", "locked"
      int64_t usedUploads = 0;
      int64_t failures = 0;
      int64_t lockedAt = 0;    // 0: not locked there
      std::string error;       // the gateway refused the record: its code, and "message"
      std::string message;
    };

    // Internal: a gateway's answer (to a push or to GET), checked field by field; throws
    // GatewayDataError (Peering/PulledManifest.h) naming the first rule broken. "now": a
    // lock in the future is refused.
    std::vector<GatewayState> ParseStates(const std::string& body, int64_t now);
  }
}
