// libFuzzer target: request links pushed to a gateway (RequestPush::Parse, as the gateway's peer
// route reads a push) and a gateway's answer of states (RequestPush::ParseStates, as the Internal
// reads it). Both are network input. Only ApiError may come out of the first and
// GatewayDataError of the second; what either accepts must keep the promises checked below.
#include "Configuration.h"
#include "Http/ApiError.h"
#include "Peering/PulledManifest.h"
#include "Peering/RequestPush.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/UploadId.h"
#include "Upload/TextRules.h"

#include <cstdint>
#include <cstdlib>
#include <set>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const Inbound::Configuration configuration = [] {
    Json::Value section;
    section["Role"] = "Gateway";
    section["Privacy"]["Version"] = "2026-01";
    Json::Value recipient;
    recipient["Id"] = "neuro";
    recipient["Name"] = "Neuroradiology";
    recipient["Email"] = "neuro@hospital.example";
    section["Recipients"].append(recipient);
    return Inbound::Configuration::Parse(section);
  }();
  const int64_t now = 1770000000000;  // 2026-02-02T02:40Z

  try
  {
    std::set<std::string> ids;
    const std::vector<Inbound::RequestPush::Pushed> pushed =
      Inbound::RequestPush::Parse(data, size, configuration, now);
    if (size > Inbound::RequestPush::kMaxBodyBytes || pushed.size() > Inbound::RequestPush::kMaxRecords)
    {
      abort();
    }
    for (const Inbound::RequestPush::Pushed& p : pushed)
    {
      const Inbound::RequestRecord& r = p.record;
      if (!Inbound::IsUploadId(r.id) || !ids.insert(r.id).second)
      {
        abort();
      }
      if (!p.error.empty())
      {
        continue;
      }
      // What the gateway will store: a record of the known form, and never a patient.
      std::string envelope;
      if (!Inbound::Crypto::IsSha256Hex(r.tokenHash) || r.expiresAt <= r.createdAt ||
          r.createdAt > now + 5 * 60 * 1000 || r.maxUploads < 1 || r.revision < 1 ||
          r.secret.size() > Inbound::RequestPush::kMaxSecretCharacters ||
          !Inbound::DecodeCanonicalBase64(envelope, r.secret) ||
          envelope.size() < Inbound::RequestPush::kMinSecretBytes ||
          !Inbound::TextRules::IsCleanText(r.message) ||
          !Inbound::TextRules::IsCleanText(r.language) ||
          configuration.LookupRecipient(r.recipientId) == nullptr || !r.patient.id.empty() ||
          !r.patient.name.empty() || !r.patient.birthDate.empty() || !r.senderName.empty() ||
          !r.senderEmail.empty() || !r.forwardTo.empty())
      {
        abort();
      }
    }
  }
  catch (const Inbound::ApiError& e)
  {
    if (e.GetStatus() != 400 && e.GetStatus() != 413)
    {
      abort();
    }
  }

  try
  {
    const std::string answer(reinterpret_cast<const char*>(data), size);
    for (const Inbound::RequestPush::GatewayState& s :
         Inbound::RequestPush::ParseStates(answer, now))
    {
      if (!Inbound::IsUploadId(s.id) || s.usedUploads < 0 || s.failures < 0 ||
          s.lockedAt < 0 || s.lockedAt > now + 5 * 60 * 1000 ||
          !Inbound::TextRules::IsCleanText(s.message) || !Inbound::TextRules::IsCleanText(s.error))
      {
        abort();
      }
    }
  }
  catch (const Inbound::GatewayDataError&)
  {
    // the expected outcome of most inputs
  }
  return 0;
}
