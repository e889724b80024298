// libFuzzer target: a gateway's manifest (untrusted: a compromised DMZ), read as the puller
// reads it — the strict JSON parse, then PulledManifest::Parse with an Internal's
// configuration. The outbox entry is derived from the input (the manifest's own id, count
// and byte sum, so that most inputs reach the field checks), or taken from a "listing"
// member when there is one, so that forged entries are explored too. Only GatewayDataError
// and ApiError may come out; an accepted manifest must keep the promises checked below.
#include "Configuration.h"
#include "Http/ApiError.h"
#include "Peering/PulledManifest.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/UploadId.h"
#include "Upload/TextRules.h"

#include <cstdint>
#include <cstdlib>
#include <set>

namespace
{
  Json::Value MakeListing(const Json::Value& manifest)
  {
    if (manifest.isObject() && manifest.isMember("listing"))
    {
      return manifest["listing"];
    }
    Json::Value listing(Json::objectValue);
    if (!manifest.isObject())
    {
      return listing;
    }
    listing["id"] = manifest["id"];
    const Json::Value& items = manifest["items"];
    if (items.isArray())
    {
      listing["files"] = items.size();
      uint64_t bytes = 0;  // wraps on absurd sizes: then the entry disagrees, as it may
      for (const Json::Value& item : items)
      {
        if (item.isObject() && item["size"].isIntegral() && item["size"].isUInt64())
        {
          bytes += item["size"].asUInt64();
        }
      }
      listing["bytes"] = Json::UInt64(bytes);
    }
    return listing;
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const Inbound::Configuration configuration = [] {
    Json::Value section;
    section["Role"] = "Internal";
    section["Gateways"].append("dmz");
    section["Privacy"]["Version"] = "2026-01";
    Json::Value recipient;
    recipient["Id"] = "neuro";
    recipient["Name"] = "Neuroradiology";
    recipient["Email"] = "neuro@hospital.example";
    section["Recipients"].append(recipient);
    section["Upload"]["MaxFilesPerUpload"] = 50;
    section["Upload"]["MaxFileBytes"] = 100000;
    section["Upload"]["MaxBytesPerUpload"] = 1000000;
    return Inbound::Configuration::Parse(section);
  }();
  const int64_t now = 1770000000000;  // 2026-02-02T02:40Z

  // As Puller::GetJson: the answer is cut at the manifest bound, then parsed strictly.
  if (size > Inbound::PulledManifest::GetMaxManifestBytes(configuration))
  {
    return 0;
  }
  Json::Value manifest;
  if (!Inbound::JsonText::ParseStrict(manifest, data, size) || !manifest.isObject())
  {
    return 0;
  }
  const Json::Value listing = MakeListing(manifest);

  try
  {
    const Inbound::PulledManifest parsed =
      Inbound::PulledManifest::Parse(manifest, listing, configuration, now);

    // What the puller relies on once a manifest is accepted.
    const Inbound::UploadRecord& r = parsed.record;
    const Inbound::UploadLimits& limits = configuration.upload;
    if (!Inbound::IsUploadId(r.id) || r.id != listing["id"].asString() ||
        r.state != Inbound::UploadState_Open || !r.tokenHash.empty() ||
        !Inbound::IsReceiptCode(parsed.receiptCode) || parsed.items.empty() ||
        parsed.items.size() > limits.maxFilesPerUpload ||
        parsed.bytes > limits.maxBytesPerUpload || r.createdAt > now + 5 * 60 * 1000 ||
        r.clientIp.empty() || (!r.recipientId.empty() && r.recipientId != "neuro") ||
        !Inbound::TextRules::IsCleanText(r.sender.name) ||
        !Inbound::TextRules::IsCleanText(r.sender.email) ||
        !Inbound::TextRules::IsCleanText(r.userAgent) ||
        !Inbound::TextRules::IsCleanText(r.consentVersion) || r.consentVersion.empty())
    {
      abort();
    }
    std::set<std::string> hashes;
    uint64_t bytes = 0;
    for (const Inbound::PulledItem& item : parsed.items)
    {
      if (!Inbound::Crypto::IsSha256Hex(item.sha256) || !hashes.insert(item.sha256).second ||
          item.size == 0 || item.size > limits.maxFileBytes)
      {
        abort();
      }
      bytes += item.size;
    }
    if (bytes != parsed.bytes)
    {
      abort();
    }
  }
  catch (const Inbound::GatewayDataError&)
  {
    // the upload is held: the expected outcome of most inputs
  }
  catch (const Inbound::ApiError&)
  {
  }
  return 0;
}
