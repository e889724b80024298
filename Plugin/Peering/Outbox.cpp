// The gateway's peer routes: long-poll listing, manifests, staged items, acknowledgements.
#include "Outbox.h"

#include "Http/ApiError.h"
#include "Peering/RequestPush.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/Sealing.h"

#include <Logging.h>
#include <OrthancException.h>
#include <Toolbox.h>

#include <thread>

namespace Inbound
{
  namespace
  {
    const unsigned int kMaxWaitSeconds = 60;
    const unsigned int kMaxLimit = 1000;

    // The key the sender's fields were sealed for, read from the envelope's header.
    std::string GetSealedKeyId(const std::string& base64)
    {
      std::string envelope, keyId;
      Orthanc::Toolbox::DecodeBase64(envelope, base64);
      if (!Sealing::ReadKeyId(keyId, envelope.data(), envelope.size()))
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_CorruptedFile,
                                        "The sealed fields of an upload are no envelope");
      }
      return keyId;
    }
  }

  Outbox::Outbox(const Configuration& configuration, Ledger& ledger, StagingArea& staging,
                 const IClock& clock) :
    configuration_(configuration),
    ledger_(ledger),
    staging_(staging),
    clock_(clock)
  {
  }

  Json::Value Outbox::List(unsigned int waitSeconds, unsigned int limit,
                           const std::atomic<bool>& stopping) const
  {
    limit = std::max(1u, std::min(limit, kMaxLimit));
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::seconds(std::min(waitSeconds, kMaxWaitSeconds));
    std::vector<UploadRecord> waiting = ledger_.Uploads().ListOutbox(limit);
    // A long poll: the puller learns of a completed upload within a fraction of a second
    // instead of at its next polling interval.
    while (waiting.empty() && !stopping && std::chrono::steady_clock::now() < deadline)
    {
      completed_.Wait(std::chrono::milliseconds(100), stopping);
      waiting = ledger_.Uploads().ListOutbox(limit);
    }

    Json::Value result(Json::objectValue);
    result["uploads"] = Json::arrayValue;
    for (const UploadRecord& upload : waiting)
    {
      Json::Value item(Json::objectValue);
      item["id"] = upload.id;
      item["completedAt"] = FormatIso8601(upload.completedAt);
      item["files"] = Json::Int64(upload.files);
      item["bytes"] = Json::Int64(upload.bytes);
      result["uploads"].append(item);
    }
    return result;
  }

  UploadRecord Outbox::GetWaiting(const std::string& id) const
  {
    UploadRecord upload;
    if (!ledger_.Uploads().Lookup(upload, id) || upload.state != UploadState_Complete)
    {
      throw ApiError(404, "not-found", "No such upload waiting in the outbox");
    }
    return upload;
  }

  Json::Value Outbox::GetManifest(const std::string& id) const
  {
    const UploadRecord upload = GetWaiting(id);
    Json::Value manifest(Json::objectValue);
    manifest["id"] = upload.id;
    manifest["createdAt"] = FormatIso8601(upload.createdAt);
    manifest["completedAt"] = FormatIso8601(upload.completedAt);
    manifest["receiptCode"] = upload.receiptCode;
    manifest["sender"] = upload.sender.ToJson();
    const Recipient* recipient = configuration_.LookupRecipient(upload.recipientId);
    if (recipient != nullptr)
    {
      // The id only: the internal side has the directory with the addresses.
      manifest["recipient"]["id"] = recipient->id;
      manifest["recipient"]["name"] = recipient->name;
    }
    else
    {
      manifest["recipient"] = Json::nullValue;
    }
    manifest["message"] = upload.message;
    manifest["consent"]["version"] = upload.consentVersion;
    manifest["consent"]["accepted"] = true;
    manifest["language"] = upload.language;
    manifest["client"]["ip"] = upload.clientIp;
    manifest["client"]["userAgent"] = upload.userAgent;
    if (!upload.requestId.empty())
    {
      // Made through a request link the Internal pushed here: the Internal binds it again
      // only after its own checks (doc/Requests.md, "Gateways"). An id, never the patient.
      manifest["request"] = upload.requestId;
    }
    if (!upload.partnerId.empty() && upload.sealedFields.empty())
    {
      // Sent by a partner site: inside, a label for people (mails, metadata, the admin's
      // partner list); it grants nothing (doc/Api.md, "Peer routes").
      manifest["partner"] = upload.partnerId;
    }
    if (!upload.sealedFields.empty())
    {
      // The sender, message and user agent above are empty: sealed for the Internal, which
      // opens them (doc/Api.md, "Peer routes").
      manifest["sealing"]["keyId"] = GetSealedKeyId(upload.sealedFields);
      manifest["sealedFields"] = upload.sealedFields;
    }
    manifest["items"] = Json::arrayValue;
    for (const ItemRecord& item : ledger_.Uploads().ListItems(id))
    {
      Json::Value i(Json::objectValue);
      i["sha256"] = item.sha256;
      i["size"] = Json::Int64(item.size);
      StagedPieces pieces;
      if (staging_.GetPieces(pieces, id, item.sha256, static_cast<uint64_t>(item.size)) &&
          pieces.partBytes > 0)
      {
        // Served piece by piece (GET .../parts/{n}): neither side holds it whole in memory.
        i["partBytes"] = Json::UInt64(pieces.partBytes);
      }
      manifest["items"].append(i);
    }
    return manifest;
  }

  std::string Outbox::ReadItem(const std::string& id, const std::string& sha256) const
  {
    bool sealed = false;
    return ReadItem(id, sha256, sealed);
  }

  std::string Outbox::ReadItem(const std::string& id, const std::string& sha256,
                               bool& sealed) const
  {
    sealed = !GetWaiting(id).sealedFields.empty();
    ItemRecord item;
    std::string data;
    if (!Crypto::IsSha256Hex(sha256) || !ledger_.Uploads().LookupItem(item, id, sha256) ||
        !staging_.Read(data, id, sha256))
    {
      throw ApiError(404, "not-found", "No such item in this upload");
    }
    return data;
  }

  std::string Outbox::ReadItemPiece(const std::string& id, const std::string& sha256,
                                    uint64_t n) const
  {
    GetWaiting(id);
    ItemRecord item;
    StagedPieces pieces;
    std::string data;
    if (!Crypto::IsSha256Hex(sha256) || !ledger_.Uploads().LookupItem(item, id, sha256) ||
        !staging_.GetPieces(pieces, id, sha256, static_cast<uint64_t>(item.size)) ||
        pieces.partBytes == 0 || n >= pieces.count ||
        !staging_.ReadPiece(data, id, sha256, static_cast<uint64_t>(item.size), n))
    {
      // An item served whole has no pieces: GET .../items/{sha256}.
      throw ApiError(404, "not-found", "No such piece of an item in this upload");
    }
    return data;
  }

  Json::Value Outbox::Acknowledge(const std::string& id, const void* body, size_t size,
                                  const std::string& puller)
  {
    UploadRecord upload;
    if (!ledger_.Uploads().Lookup(upload, id) ||
        (upload.state != UploadState_Complete && upload.state != UploadState_Delivered))
    {
      throw ApiError(404, "not-found", "No such upload waiting in the outbox");
    }

    Json::Value json;
    if (!JsonText::ParseStrict(json, body, size) || !json.isObject() || !json["items"].isArray())
    {
      throw ApiError(400, "bad-json", "The body must be {\"items\": [sha256, ...]}");
    }
    std::set<std::string> acknowledged;
    for (const Json::Value& item : json["items"])
    {
      if (!item.isString() || !Crypto::IsSha256Hex(item.asString()))
      {
        throw ApiError(400, "invalid-field", "\"items\" must list SHA-256 values");
      }
      acknowledged.insert(item.asString());
    }
    // Nothing is forgotten that the inside has not confirmed, item by item.
    size_t missing = 0;
    for (const ItemRecord& item : ledger_.Uploads().ListItems(id))
    {
      missing += acknowledged.count(item.sha256) == 0 ? 1 : 0;
    }
    if (missing > 0)
    {
      throw ApiError(409, "incomplete-ack", std::to_string(missing) +
                                              " item(s) of the upload are not acknowledged; "
                                              "nothing was deleted");
    }

    if (upload.state == UploadState_Complete)
    {
      ledger_.Uploads().ChangeState(id, {UploadState_Complete}, UploadState_Delivered,
                                    clock_.NowMs(), puller, "pulled and acknowledged by " + puller);
      LOG(INFO) << "Inbound: upload " << id << " delivered";
    }
    if (!upload.purged)
    {
      staging_.RemoveUpload(id);
      ledger_.Uploads().MarkPurged(id, clock_.NowMs(),
                                   "staged data deleted after the acknowledgement");
    }
    Json::Value answer(Json::objectValue);
    answer["id"] = id;
    answer["state"] = EnumerationToString(UploadState_Delivered);
    return answer;
  }

  Json::Value Outbox::ReceiveRequests(const void* body, size_t size)
  {
    return RequestPush::Receive(body, size, configuration_, ledger_.Requests(), clock_.NowMs());
  }

  Json::Value Outbox::ListRequests() const
  {
    return RequestPush::ListStates(ledger_.Requests(), clock_.NowMs());
  }

  void Outbox::CheckRetention()
  {
    if (configuration_.retentionAlertSeconds == 0)
    {
      return;
    }
    const int64_t cutoff = clock_.NowMs() - int64_t(configuration_.retentionAlertSeconds) * 1000;
    for (const UploadRecord& upload : ledger_.Uploads().ListOutbox(kMaxLimit))
    {
      if (upload.completedAt >= cutoff)
      {
        break;  // oldest first
      }
      std::lock_guard<std::mutex> lock(alertsMutex_);
      if (alerted_.insert(upload.id).second)
      {
        ledger_.Audit().Add(clock_.NowMs(), AuditEventType_AlertRetention, upload.id, "",
                            "complete since " + FormatIso8601(upload.completedAt) +
                                " and not pulled yet; the gateway keeps it");
      }
    }
  }

  void Outbox::Wake()
  {
    completed_.Wake();
  }
}
