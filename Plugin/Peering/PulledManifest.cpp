// Checks each field of a gateway's manifest as the public API would; caps the manifest's size.
#include "PulledManifest.h"

#include "Http/AddressRules.h"
#include "Http/ApiError.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/Time.h"
#include "Toolbox/UploadId.h"
#include "Upload/OpenRequest.h"
#include "Upload/TextRules.h"

#include <Toolbox.h>

#include <cstring>
#include <set>

namespace Inbound
{
  namespace
  {
    // Clocks of the gateway and the inside may differ a little, not more.
    const int64_t kMaxClockSkewMs = 5 * 60 * 1000;
    const size_t kMaxUserAgent = 256;     // as the public side records it
    const size_t kMaxConsentVersion = 64;
    const size_t kMaxAddressText = 64;
    const uint64_t kManifestBaseBytes = 64 * 1024;
    const uint64_t kManifestBytesPerItem = 128;  // {"sha256":"<64>","size":<20>} and spacing
    const uint64_t kMaxManifestBytes = 256 * 1024 * 1024;
    // Pieces of 1 MiB at least; a piece is held whole in memory (on both sides), hence at most
    // what a whole item may be.
    const uint64_t kMinPartBytes = uint64_t(1) << 20;
    const uint64_t kMaxPartBytes = kMaxWholeBodyBytes;

    GatewayDataError Bad(const std::string& field, const std::string& why)
    {
      return GatewayDataError("manifest field \"" + field + "\" " + why);
    }

    // value[key], or null when "value" is no object (jsoncpp throws a LogicError then).
    const Json::Value& Member(const Json::Value& value, const char* key)
    {
      static const Json::Value null;
      return value.isObject() ? value[key] : null;
    }

    // "text" as the gateway sent it, made safe to quote in the audit trail.
    std::string Quote(const Json::Value& value)
    {
      return TextRules::MakeSafe(value.isString() ? value.asString() : JsonText::Compact(value),
                                 40);
    }

    int64_t Time(const Json::Value& manifest, const char* key, int64_t now)
    {
      int64_t ms = 0;
      if (!manifest[key].isString() || !ParseIso8601(ms, manifest[key].asString()))
      {
        throw Bad(key, "is not an ISO 8601 time (" + Quote(manifest[key]) + ")");
      }
      if (ms > now + kMaxClockSkewMs)
      {
        throw Bad(key, "is in the future (" + Quote(manifest[key]) + ")");
      }
      return ms;
    }

    // The open request that a sender would have sent, checked by the public code itself.
    OpenRequest CheckAsOpen(const Json::Value& manifest, const Configuration& configuration,
                            bool partner)
    {
      Json::Value request(Json::objectValue);
      request["sender"] = manifest["sender"];
      // A partner site's entry may name no e-mail address (Inbound.Partners "Email" is
      // optional): checked with a stand-in, recorded empty.
      const bool noEmail = partner && request["sender"].isObject() &&
                           (request["sender"]["email"].isNull() ||
                            (request["sender"]["email"].isString() &&
                             request["sender"]["email"].asString().empty()));
      if (noEmail)
      {
        request["sender"]["email"] = "partner@example.org";
      }
      const Json::Value& recipient = manifest["recipient"];
      if (recipient.isObject())
      {
        request["recipient"] = recipient["id"];
      }
      else if (!recipient.isNull())
      {
        throw Bad("recipient", "must be an object with an id, or null");
      }
      request["message"] = manifest["message"];
      // Consent: accepted, with a version in the public format. Not necessarily the Internal's
      // own Privacy.Version: uploads completed before the statement changed at the gateway
      // still wait in its outbox. The version recorded is the one the sender accepted.
      const Json::Value& consent = manifest["consent"];
      if (!consent.isObject() || !consent["version"].isString() ||
          consent["version"].asString().empty() ||
          !TextRules::IsCleanText(consent["version"].asString()) ||
          TextRules::CountCharacters(consent["version"].asString()) > kMaxConsentVersion)
      {
        throw Bad("consent.version", "must be a text of 1 to 64 characters");
      }
      request["consent"]["accepted"] = consent["accepted"];
      request["consent"]["version"] = configuration.privacyVersion;
      if (!(manifest["language"].isString() && manifest["language"].asString().empty()))
      {
        request["language"] = manifest["language"];  // "": the page did not say
      }
      const std::string body = JsonText::Compact(request);
      try
      {
        OpenRequest parsed = OpenRequest::Parse(body.data(), body.size(), configuration);
        parsed.consentVersion = consent["version"].asString();
        if (noEmail)
        {
          parsed.sender.email.clear();
        }
        return parsed;
      }
      catch (const ApiError& e)
      {
        throw GatewayDataError("manifest refused as a public open would be: " + e.GetCode() +
                               ": " + e.what());
      }
    }

    // A field a sender typed, as a sealing gateway leaves it in plain: absent, null or "".
    bool IsEmptyText(const Json::Value& value)
    {
      return value.isNull() || (value.isString() && value.asString().empty());
    }

    // The manifest of a sealed upload (doc/Api.md, "Sealed uploads in the outbox") with the
    // fields that its sender typed opened and put back in place, to be checked as any manifest
    // is; the manifest itself when it is not sealed. What is opened is trusted no more than the
    // rest.
    Json::Value Unseal(const Json::Value& manifest, const std::string& id, InternalKeys* keys,
                       int64_t nowMs, PulledManifest& result)
    {
      if (!manifest.isMember("sealing") && !manifest.isMember("sealedFields"))
      {
        return manifest;
      }
      const Json::Value& named = Member(manifest["sealing"], "keyId");
      if (!named.isString() || !InternalKeys::IsKeyId(named.asString()))
      {
        throw Bad("sealing.keyId",
                  "is not a key id of 16 hexadecimal digits (" + Quote(named) + ")");
      }
      if (!manifest["sealedFields"].isString())
      {
        throw Bad("sealedFields", "must be the base64 text of an envelope");
      }
      if (keys == nullptr)
      {
        throw GatewayDataError("the manifest is sealed, but this server has no sealing key");
      }
      // Whatever is sealed is not also sent in plain: which one would count?
      const Json::Value& sender = manifest["sender"];
      if (!sender.isNull() && !sender.isObject())
      {
        throw Bad("sender", "must be empty when the fields are sealed");
      }
      for (const std::string& name : sender.isObject() ? sender.getMemberNames()
                                                       : std::vector<std::string>())
      {
        if (!IsEmptyText(sender[name]))
        {
          throw Bad("sender", "must be empty when the fields are sealed");
        }
      }
      if (!IsEmptyText(manifest["message"]) ||
          !IsEmptyText(Member(manifest["client"], "userAgent")))
      {
        throw Bad(IsEmptyText(manifest["message"]) ? "client.userAgent" : "message",
                  "must be empty when the fields are sealed");
      }

      std::string envelope, plaintext, error, keyId;
      if (!DecodeCanonicalBase64(envelope, manifest["sealedFields"].asString()))
      {
        throw Bad("sealedFields", "is not base64");
      }
      if (!keys->Open(plaintext, error, keyId, envelope.data(), envelope.size(), "fields:" + id,
                      nowMs))
      {
        throw Bad("sealedFields", "does not open (" + error + ")");
      }
      if (keyId != named.asString())
      {
        throw Bad("sealing.keyId", "names key " + named.asString() +
                                     ", but the fields are sealed for key " + keyId);
      }
      Json::Value fields;
      if (!JsonText::ParseStrict(fields, plaintext.data(), plaintext.size()) || !fields.isObject())
      {
        throw Bad("sealedFields", "does not hold a JSON object (key " + keyId + ")");
      }
      if (!manifest["partner"].isNull())
      {
        // A sealing gateway seals the label with the sender (StagingSealer::SealFields): one
        // beside the seal was added afterwards.
        throw Bad("partner", "must be inside the sealed fields when they are sealed");
      }
      for (const std::string& name : fields.getMemberNames())
      {
        if (name != "sender" && name != "message" && name != "userAgent" && name != "partner")
        {
          throw Bad("sealedFields", "holds an unknown field \"" +
                                      TextRules::MakeSafe(name, 40) + "\" (key " + keyId + ")");
        }
      }
      Json::Value merged = manifest;
      merged["sender"] = fields["sender"];
      merged["message"] = fields["message"];
      if (fields.isMember("partner"))
      {
        merged["partner"] = fields["partner"];  // checked as an id below, as a plain one
      }
      if (merged["client"].isObject())
      {
        merged["client"]["userAgent"] = fields["userAgent"];
      }
      result.sealed = true;
      result.keyId = keyId;
      return merged;
    }

    uint64_t Count(const Json::Value& value, const std::string& field)
    {
      if (!value.isIntegral() || !value.isUInt64())
      {
        throw Bad(field, "must be a non-negative integer (" + Quote(value) + ")");
      }
      return value.asUInt64();
    }

    uint64_t CheckPartBytes(const Json::Value& value, uint64_t size, const std::string& field)
    {
      if (value.isNull())
      {
        return 0;  // one piece, as every item of a gateway before pieces
      }
      const uint64_t partBytes = Count(value, field);
      if (partBytes == 0)
      {
        return 0;
      }
      // Whatever this server's own Upload.PartBytes: a gateway's pieces may be smaller or
      // larger, never so small that their number explodes nor bigger than an item served
      // whole (one piece is in memory at a time).
      if (partBytes < kMinPartBytes || partBytes > kMaxPartBytes)
      {
        throw Bad(field, std::to_string(partBytes) + " is not within " +
                           std::to_string(kMinPartBytes) + " and " + std::to_string(kMaxPartBytes));
      }
      // A file in pieces has at least two (a one-piece item is served whole, sealed with the
      // context of a whole item).
      if (size <= partBytes)
      {
        throw Bad(field, std::to_string(partBytes) + " is not below the size " +
                           std::to_string(size) + ": an item in one piece is served whole");
      }
      return partBytes;
    }
  }

  bool DecodeCanonicalBase64(std::string& decoded, const std::string& text)
  {
    try
    {
      Orthanc::Toolbox::DecodeBase64(decoded, text);
      std::string again;
      Orthanc::Toolbox::EncodeBase64(again, decoded);
      return again == text;  // canonical base64 only, nothing the decoder skipped
    }
    catch (...)
    {
      return false;
    }
  }

  bool IsPartnerId(const std::string& id)
  {
    // As Inbound.Partners "Id": [a-z0-9-]{1,32}.
    if (id.empty() || id.size() > 32)
    {
      return false;
    }
    for (char c : id)
    {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      {
        return false;
      }
    }
    return true;
  }

  bool IsReceiptCode(const std::string& code)
  {
    if (code.size() != 9 || code[4] != '-')
    {
      return false;
    }
    for (size_t i = 0; i < code.size(); i++)
    {
      if (i != 4 && (code[i] == '\0' || std::strchr(kUploadIdAlphabet, code[i]) == nullptr))
      {
        return false;
      }
    }
    return true;
  }

  uint64_t PulledManifest::GetMaxManifestBytes(const Configuration& configuration)
  {
    // Every text at its longest, each character escaped (\uXXXX\uXXXX), and every item.
    const TextLimits& t = configuration.text;
    const uint64_t texts = 12 * uint64_t(t.name + t.email + t.institution + t.phone + t.message);
    const uint64_t items = kManifestBytesPerItem * configuration.upload.maxFilesPerUpload;
    return std::min(kMaxManifestBytes, kManifestBaseBytes + texts + items);
  }

  PulledManifest PulledManifest::Parse(const Json::Value& received, const Json::Value& listing,
                                       const Configuration& configuration, int64_t nowMs,
                                       InternalKeys* keys)
  {
    if (!listing.isObject() || !listing["id"].isString() || !IsUploadId(listing["id"].asString()))
    {
      throw GatewayDataError("outbox entry id " + Quote(Member(listing, "id")) +
                             " is not an upload id (12 characters of " + kUploadIdAlphabet + ")");
    }
    const std::string id = listing["id"].asString();
    if (!received.isObject())
    {
      throw GatewayDataError("the manifest is not a JSON object");
    }
    if (!received["id"].isString() || received["id"].asString() != id)
    {
      throw Bad("id", Quote(received["id"]) + " is not the id listed in the outbox, " + id);
    }

    PulledManifest result;
    const Json::Value manifest = Unseal(received, id, keys, nowMs, result);
    UploadRecord& r = result.record;
    r.id = id;
    r.state = UploadState_Open;

    // A partner site's id (Inbound.Partners on the gateway): a label, nothing depends on it.
    const Json::Value& partner = manifest["partner"];
    if (!partner.isNull() && !(partner.isString() && IsPartnerId(partner.asString())))
    {
      throw Bad("partner", "is not a partner id (" + Quote(partner) + ")");
    }
    r.partnerId = partner.isString() ? partner.asString() : "";

    const OpenRequest open = CheckAsOpen(manifest, configuration, !r.partnerId.empty());
    r.sender = open.sender;
    r.recipientId = open.recipientId;
    r.message = open.message;
    r.consentVersion = open.consentVersion;
    r.language = open.language;

    const Json::Value& client = manifest["client"];
    boost::asio::ip::address address;
    if (!client.isObject() || !client["ip"].isString() ||
        client["ip"].asString().size() > kMaxAddressText ||
        client["ip"].asString().find('%') != std::string::npos ||
        !AddressRules::ParseAddress(address, client["ip"].asString()))
    {
      throw Bad("client.ip", "is not an IPv4 or IPv6 address (" + Quote(Member(client, "ip")) + ")");
    }
    r.clientIp = address.to_string();
    if (!client["userAgent"].isNull() && !client["userAgent"].isString())
    {
      throw Bad("client.userAgent", "must be a string");
    }
    // Any text a browser sent, kept as the public side keeps it: made safe and capped.
    r.userAgent = TextRules::MakeSafe(client["userAgent"].asString(), kMaxUserAgent);

    r.createdAt = Time(manifest, "createdAt", nowMs);
    r.updatedAt = nowMs;  // activity here: an old upload is not expired before its first item
    const int64_t completedAt = Time(manifest, "completedAt", nowMs);
    if (completedAt < r.createdAt)
    {
      throw Bad("completedAt", "is before createdAt");
    }

    if (!manifest["receiptCode"].isString() || !IsReceiptCode(manifest["receiptCode"].asString()))
    {
      throw Bad("receiptCode", "is not a receipt code XXXX-XXXX (" +
                                 Quote(manifest["receiptCode"]) + ")");
    }
    result.receiptCode = manifest["receiptCode"].asString();

    const Json::Value& request = manifest["request"];
    if (!request.isNull() && !(request.isString() && IsUploadId(request.asString())))
    {
      throw Bad("request", "is not a request id (" + Quote(request) + ")");
    }
    result.requestId = request.isString() ? request.asString() : "";

    const UploadLimits& limits = configuration.upload;
    const Json::Value& items = manifest["items"];
    if (!items.isArray() || items.empty())
    {
      throw Bad("items", "must be a non-empty array");
    }
    if (items.size() > limits.maxFilesPerUpload)
    {
      throw Bad("items", "lists " + std::to_string(items.size()) + " files, more than " +
                           std::to_string(limits.maxFilesPerUpload) + " (Upload.MaxFilesPerUpload)");
    }
    std::set<std::string> seen;
    for (Json::ArrayIndex i = 0; i < items.size(); i++)
    {
      const std::string field = "items[" + std::to_string(i) + "]";
      const Json::Value& item = items[i];
      if (!item.isObject() || !item["sha256"].isString() ||
          !Crypto::IsSha256Hex(item["sha256"].asString()))
      {
        throw Bad(field + ".sha256", "is not a lower-case hexadecimal SHA-256");
      }
      PulledItem pulled;
      pulled.sha256 = item["sha256"].asString();
      if (!seen.insert(pulled.sha256).second)
      {
        throw Bad(field + ".sha256", "is listed twice (" + pulled.sha256 + ")");
      }
      pulled.size = Count(item["size"], field + ".size");
      if (pulled.size == 0 || pulled.size > limits.maxFileBytes)
      {
        throw Bad(field + ".size", std::to_string(pulled.size) + " is not within 1 and " +
                                     std::to_string(limits.maxFileBytes) + " (Upload.MaxFileBytes)");
      }
      pulled.partBytes = CheckPartBytes(item["partBytes"], pulled.size, field + ".partBytes");
      if (pulled.partBytes == 0 && pulled.size > kMaxWholeBodyBytes)
      {
        // Held whole in memory, as a whole-file PUT is: bigger files come in pieces.
        throw Bad(field + ".size", std::to_string(pulled.size) + " is above " +
                                     std::to_string(kMaxWholeBodyBytes) +
                                     ", the most an item served whole may have: it must come "
                                     "in pieces (\"partBytes\")");
      }
      result.bytes += pulled.size;  // no overflow: at most MaxFilesPerUpload * MaxFileBytes
      if (result.bytes > limits.maxBytesPerUpload)
      {
        throw Bad("items", "add up to more than " + std::to_string(limits.maxBytesPerUpload) +
                             " bytes (Upload.MaxBytesPerUpload)");
      }
      result.items.push_back(pulled);
    }
    if (Count(listing["files"], "files of the outbox entry") != items.size() ||
        Count(listing["bytes"], "bytes of the outbox entry") != result.bytes)
    {
      throw GatewayDataError("the outbox announced " + Quote(listing["files"]) + " files, " +
                             Quote(listing["bytes"]) + " bytes; the manifest lists " +
                             std::to_string(items.size()) + " files, " +
                             std::to_string(result.bytes) + " bytes");
    }
    return result;
  }
}
