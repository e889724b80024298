// Builds the admin routes' JSON from the ledger: uploads, items, studies, audit; deletes uploads.
#include "AdminViews.h"

#include "Http/ApiError.h"

#include <boost/lexical_cast.hpp>

namespace Inbound
{
  namespace
  {
    const unsigned int kDefaultLimit = 100;
    const unsigned int kMaxLimit = 10000;

    int64_t ParseSince(const std::string& since)
    {
      int64_t ms = 0;
      if (!since.empty() && !ParseIso8601(ms, since))
      {
        throw ApiError(400, "invalid-argument",
                       "\"since\" must be a time like 2026-05-12T08:30:00Z");
      }
      return ms;
    }

    unsigned int ParseLimit(const std::string& limit)
    {
      if (limit.empty())
      {
        return kDefaultLimit;
      }
      try
      {
        const unsigned int value = boost::lexical_cast<unsigned int>(limit);
        if (value >= 1 && value <= kMaxLimit)
        {
          return value;
        }
      }
      catch (const boost::bad_lexical_cast&)
      {
      }
      throw ApiError(400, "invalid-argument",
                     "\"limit\" must be a number from 1 to " + std::to_string(kMaxLimit));
    }
  }

  unsigned int AdminViews::ParseLimitArgument(const std::string& limit)
  {
    return ParseLimit(limit);
  }

  AdminViews::AdminViews(const Ledger& ledger, UploadService& uploads) :
    ledger_(ledger),
    uploads_(uploads)
  {
  }

  Json::Value AdminViews::DescribeEvent(const AuditEvent& event)
  {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64(event.seq);
    json["time"] = FormatIso8601(event.time);
    json["event"] = event.event;
    json["uploadId"] = event.uploadId;
    json["ip"] = event.ip;
    json["detail"] = event.detail;
    return json;
  }

  Json::Value AdminViews::DescribeUpload(const UploadRecord& upload,
                                         const std::vector<ItemRecord>& items) const
  {
    Json::Value json(Json::objectValue);
    json["id"] = upload.id;
    json["state"] = EnumerationToString(upload.state);
    json["createdAt"] = FormatIso8601(upload.createdAt);
    json["updatedAt"] = FormatIso8601(upload.updatedAt);
    json["completedAt"] = upload.completedAt > 0 ? Json::Value(FormatIso8601(upload.completedAt))
                                                 : Json::Value(Json::nullValue);
    json["sender"] = upload.sender.ToJson();
    json["recipient"] = uploads_.DescribeRecipient(upload.recipientId);
    json["message"] = upload.message;
    json["consentVersion"] = upload.consentVersion;
    json["language"] = upload.language;
    json["client"]["ip"] = upload.clientIp;
    json["client"]["userAgent"] = upload.userAgent;
    // A sealing gateway: the sender, message and user agent above are empty, sealed for the
    // Internal, whose admin page shows them once pulled.
    json["sealed"] = !upload.sealedFields.empty();
    // Internal: the gateway it was pulled from; null when received directly (or pulled before
    // the gateway was recorded and not named by one since).
    json["gateway"] = upload.gateway.empty() ? Json::Value(Json::nullValue) : Json::Value(upload.gateway);
    // Sent by a partner site (on an Internal: its gateway's label); null for a sender's.
    json["partner"] = upload.partnerId.empty() ? Json::Value(Json::nullValue)
                                               : Json::Value(upload.partnerId);
    json["files"] = Json::Int64(upload.files);
    json["bytes"] = Json::Int64(upload.bytes);
    if (upload.expectedFiles >= 0)
    {
      json["expected"]["files"] = Json::Int64(upload.expectedFiles);
    }
    if (upload.expectedBytes >= 0)
    {
      json["expected"]["bytes"] = Json::Int64(upload.expectedBytes);
    }
    json["receiptCode"] = upload.receiptCode;
    json["dataRemoved"] = upload.purged;
    if (!upload.requestId.empty())
    {
      json["request"] = DescribeRequest(upload);
    }
    json["studies"] = uploads_.DescribeStudies(items, uploads_.StoresInOrthanc() && !IsRemoved(upload.state));
    return json;
  }

  Json::Value AdminViews::DescribeRequest(const UploadRecord& upload) const
  {
    // The hospital's patient the upload was asked for: what the release dialog and the
    // forward rules start from (doc/Requests.md, "Matching and forwarding").
    Json::Value json(Json::objectValue);
    json["id"] = upload.requestId;
    RequestRecord request;
    if (ledger_.Requests().Lookup(request, upload.requestId))
    {
      json["patient"]["id"] = request.patient.id;
      json["patient"]["name"] = request.patient.name;
      json["patient"]["birthDate"] = request.patient.birthDate;
      json["forwardTo"] = request.forwardTo.empty() ? Json::Value(Json::nullValue)
                                                    : Json::Value(request.forwardTo);
    }
    else
    {
      json["patient"] = Json::nullValue;  // a gateway's request the Internal does not hold
      json["forwardTo"] = Json::nullValue;
    }
    // Whether every patient found is the expected one: decided once the upload is complete.
    json["matched"] = upload.requestMatched < 0 ? Json::Value(Json::nullValue)
                                                : Json::Value(upload.requestMatched == 1);
    return json;
  }

  Json::Value AdminViews::ListUploads(const std::string& state, const std::string& since,
                                      const std::string& limit) const
  {
    if (!state.empty())
    {
      try
      {
        StringToUploadState(state);
      }
      catch (...)  // Orthanc exceptions are not std::exceptions
      {
        throw ApiError(400, "invalid-argument", "Unknown state \"" + state + "\"");
      }
    }
    Json::Value result(Json::objectValue);
    result["uploads"] = Json::arrayValue;
    for (const UploadRecord& upload :
         ledger_.Uploads().List(state, ParseSince(since), ParseLimit(limit)))
    {
      result["uploads"].append(DescribeUpload(upload, ledger_.Uploads().ListItems(upload.id)));
    }
    return result;
  }

  Json::Value AdminViews::ShowUpload(const std::string& id) const
  {
    UploadRecord upload;
    if (!ledger_.Uploads().Lookup(upload, id))
    {
      throw ApiError(404, "not-found", "No such upload");
    }
    const std::vector<ItemRecord> items = ledger_.Uploads().ListItems(id);
    Json::Value json = DescribeUpload(upload, items);
    json["items"] = Json::arrayValue;
    for (const ItemRecord& item : items)
    {
      Json::Value i(Json::objectValue);
      i["sha256"] = item.sha256;
      i["size"] = Json::Int64(item.size);
      i["sopInstanceUid"] = item.sopInstanceUid;
      i["seriesInstanceUid"] = item.seriesInstanceUid;
      i["studyInstanceUid"] = item.studyInstanceUid;
      i["modality"] = item.modality;
      i["originalPatientId"] = item.originalPatientId;
      if (!item.originalPatientIdBytes.empty())
      {
        // The bytes as sent, when the text above is not their exact decoding.
        i["originalPatientIdBytes"] = item.originalPatientIdBytes;
      }
      i["patientId"] = item.isolatedPatientId;
      i["orthancId"] = IsRemoved(upload.state) ? "" : item.orthancInstanceId;
      i["staged"] = !uploads_.StoresInOrthanc() && !IsRemoved(upload.state);
      i["storedAt"] = FormatIso8601(item.storedAt);
      json["items"].append(i);
    }
    json["history"] = Json::arrayValue;
    for (const AuditEvent& event : ledger_.Audit().ListHistory(id))
    {
      json["history"].append(DescribeEvent(event));
    }
    return json;
  }

  Json::Value AdminViews::DescribeStudy(const std::string& orthancStudyId) const
  {
    std::string id;
    UploadRecord upload;
    if (!ledger_.Uploads().LookupUploadOfStudy(id, orthancStudyId) ||
        !ledger_.Uploads().Lookup(upload, id))
    {
      throw ApiError(404, "not-found", "This study did not come through Orthanc Inbound");
    }
    const std::vector<ItemRecord> items = ledger_.Uploads().ListItems(id);
    Json::Value json = DescribeUpload(upload, items);
    json["uploadId"] = id;
    json["clientIp"] = upload.clientIp;
    json["receivedAt"] = FormatIso8601(upload.createdAt);
    int64_t instances = 0;
    for (const ItemRecord& item : items)
    {
      if (item.orthancStudyId == orthancStudyId)
      {
        instances++;
        json["originalPatientId"] = item.originalPatientId;
        if (!item.originalPatientIdBytes.empty())
        {
          json["originalPatientIdBytes"] = item.originalPatientIdBytes;
        }
        json["studyInstanceUid"] = item.studyInstanceUid;
      }
    }
    // A file is recorded only once its SHA-256 matched the sender's: all of them are checked.
    json["instances"] = Json::Int64(instances);
    json["verifiedInstances"] = Json::Int64(instances);
    json["viaGateway"] = Json::nullValue;
    for (const AuditEvent& event : ledger_.Audit().ListHistory(id))
    {
      if (event.Is(AuditEventType_UploadComplete) && event.ip != upload.clientIp)
      {
        json["viaGateway"] = event.ip;  // the Internal role completes pulled uploads by gateway
      }
    }
    return json;
  }

  Json::Value AdminViews::DeleteUpload(const std::string& id, const ClientInfo& client)
  {
    if (!uploads_.Delete(id, client))
    {
      throw ApiError(404, "not-found", "No such upload");
    }
    Json::Value json(Json::objectValue);
    json["id"] = id;
    json["state"] = EnumerationToString(UploadState_Deleted);
    return json;
  }

  Json::Value AdminViews::ListAudit(const std::string& since, const std::string& limit) const
  {
    Json::Value result(Json::objectValue);
    result["events"] = Json::arrayValue;
    for (const AuditEvent& event : ledger_.Audit().List(ParseSince(since), ParseLimit(limit)))
    {
      result["events"].append(DescribeEvent(event));
    }
    return result;
  }
}
