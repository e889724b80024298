// The Internal's sealing keys: loaded at start-up, used by the pullers to open, counted per key.
#pragma once

#include "Configuration.h"
#include "Toolbox/Sealing.h"

#include <json/value.h>

#include <map>
#include <memory>
#include <mutex>

namespace Inbound
{
  // The private keys of an Internal (doc/Operations.md, "Sealed staging"): the current one,
  // created at the first start, whose public key the gateways seal with, and the previous
  // ones kept after a rotation. The pullers open every sealed manifest and item with them;
  // what they opened and refused is counted per key id, so that an admin sees whether a
  // previous key is still needed and whether a gateway seals for a key this server lacks.
  class InternalKeys : public boost::noncopyable
  {
  private:
    struct Use
    {
      uint64_t opened = 0;
      uint64_t refused = 0;
      int64_t lastOpened = 0;
      int64_t lastRefused = 0;
    };

    SealingKeyRing ring_;
    std::vector<std::string> files_;  // the file of each key of the ring, in its order
    mutable std::mutex mutex_;
    std::map<std::string, Use> use_;  // by key id, the unknown ones included; guarded by mutex_

    void Record(const std::string& keyId, bool opened, int64_t now);

  public:
    // "keys": the current key first; "files": where each was read from, for the admin.
    InternalKeys(std::vector<SealingPrivateKey> keys, std::vector<std::string> files);

    // Reads "Inbound.Sealing": the current key (created, mode 600, at the first start, and
    // logged with its id) and each previous one. Relative paths are read from "configDirectory"
    // (where Orthanc reads its own relative paths from); an empty PrivateKey is the file
    // "sealing-key.pem" of "dataDirectory". Any error stops the start-up: throws Orthanc's
    // BadFileFormat naming the option and the path.
    static std::unique_ptr<InternalKeys> Load(const SealingSettings& settings,
                                              const std::string& dataDirectory,
                                              const std::string& configDirectory);

    const SealingKeyRing& GetRing() const
    {
      return ring_;
    }

    // Opens an envelope with the key it names. False with "error" (what failed, naming the key
    // id, never the content) when it is no envelope, names a key this server lacks, was sealed
    // under another "context", or was changed in any byte. "keyId": the key it names, made safe
    // to quote ("" when the bytes are no envelope).
    bool Open(std::string& plaintext, std::string& error, std::string& keyId, const void* data,
              size_t size, const std::string& context, int64_t now);

    // A key id as SealingPublicKey::GetId writes it: 16 lower-case hexadecimal digits. What an
    // envelope or a manifest names is quoted only then.
    static bool IsKeyId(const std::string& text);

    // For GET /inbound/admin/sealing: the public key and id, the previous keys, and the
    // envelopes opened and refused per key id since the start.
    Json::Value Describe() const;

    // The held uploads of "gateways" (as GET /inbound/admin/gateways describes them) that were
    // held because something sealed did not open: [{gateway, id, keyId, reason}], keyId null
    // when the reason names none (an item that was no envelope).
    static Json::Value ListSealingHolds(const Json::Value& gateways);
  };
}
