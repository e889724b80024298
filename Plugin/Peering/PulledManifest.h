// A gateway's manifest, checked with the rules of a public upload before anything is recorded.
#pragma once

#include "Configuration.h"
#include "Ledger/Records.h"
#include "Peering/InternalKeys.h"

#include <json/value.h>

#include <algorithm>

#include <stdexcept>
#include <string>
#include <vector>

namespace Inbound
{
  // What a gateway sent that breaks a rule (a forged or damaged manifest, an answer of the
  // wrong size, status or syntax). The message names the rule; the upload is held.
  class GatewayDataError : public std::runtime_error
  {
  public:
    explicit GatewayDataError(const std::string& rule) :
      std::runtime_error(rule)
    {
    }
  };

  struct PulledItem
  {
    std::string sha256;
    uint64_t size = 0;
    // Bytes of the file in each piece the gateway serves it in (doc/Api.md, "Peer routes"):
    // 0, one piece (GET .../items/{sha256}); else GET .../parts/{n} for n < GetPieceCount().
    uint64_t partBytes = 0;

    uint64_t GetPieceCount() const
    {
      return partBytes == 0 ? 1 : (size + partBytes - 1) / partBytes;
    }

    // Bytes of the file in piece "n" (< GetPieceCount()).
    uint64_t GetPieceSize(uint64_t n) const
    {
      return partBytes == 0 ? size : std::min(partBytes, size - n * partBytes);
    }
  };

  // A gateway's manifest (doc/Api.md, "Peer routes"), checked field by field with the
  // rules of a public upload before anything is recorded: the inside trusts a gateway no more
  // than the Internet.
  struct PulledManifest
  {
    UploadRecord record;  // state open, no token: as BeginPulledUpload records it
    std::string receiptCode;
    std::vector<PulledItem> items;
    uint64_t bytes = 0;
    // Sealed staging (doc/Api.md, "Sealed uploads in the outbox"): the fields a sender typed
    // came sealed and were opened with "keys", and every item must be an envelope too.
    bool sealed = false;
    std::string keyId;  // the key the fields were sealed for
    // The request link the gateway says the upload was made through ("": none), in the form
    // of a request id. Not trusted: UploadService::BeginPulledUpload binds the upload to it
    // only if it passes the Internal's own checks (doc/Requests.md, "Gateways").
    std::string requestId;

    // "listing": the outbox entry that named the upload ({"id", "files", "bytes", ...}).
    // "keys": the Internal's keys (null: a sealed manifest is refused). Throws
    // GatewayDataError naming the first rule broken.
    static PulledManifest Parse(const Json::Value& manifest, const Json::Value& listing,
                                const Configuration& configuration, int64_t nowMs,
                                InternalKeys* keys = nullptr);

    // Answers larger than this are cut off: the largest manifest the limits allow.
    static uint64_t GetMaxManifestBytes(const Configuration& configuration);
  };

  // Standard padded base64 as the plugin writes it, and nothing else (no spaces, no text the
  // decoder would skip): false otherwise. Envelopes from a gateway, secrets of a push.
  bool DecodeCanonicalBase64(std::string& decoded, const std::string& text);

  // "XXXX-XXXX" of the upload id alphabet, as Complete makes it.
  bool IsReceiptCode(const std::string& code);

  // The syntax of an Inbound.Partners "Id" ([a-z0-9-]{1,32}), as a manifest's "partner".
  bool IsPartnerId(const std::string& id);
}
