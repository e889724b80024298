// Stores instances, reads and writes metadata, deletes resources, through Orthanc's REST API.
#include "OrthancStore.h"

#include "Http/ApiError.h"
#include "Orthanc/PluginBuffer.h"
#include "Toolbox/Json.h"

#include <Logging.h>
#include <OrthancException.h>

#include <chrono>
#include <thread>

namespace Inbound
{
  namespace
  {
    // Orthanc's index on PostgreSQL shared by several Orthancs ("Lock": false): two writes of
    // the same resource at once fail one of them with "could not serialize", to be retried.
    const unsigned int kSerializationAttempts = 6;

    // Errors of Orthanc's index that pass: the database is away or busy for now.
    bool IsTransient(OrthancPluginErrorCode code)
    {
      return code == OrthancPluginErrorCode_DatabaseUnavailable ||
             code == OrthancPluginErrorCode_DatabaseCannotSerialize ||
             code == OrthancPluginErrorCode_Timeout;
    }

    // Runs "call" again while it fails with a serialization conflict (after 10, 20, 40...
    // ms); answers its last code.
    template <typename Call>
    OrthancPluginErrorCode RetrySerialization(Call call)
    {
      OrthancPluginErrorCode code = call();
      for (unsigned int attempt = 1;
           attempt < kSerializationAttempts && code == OrthancPluginErrorCode_DatabaseCannotSerialize;
           attempt++)
      {
        std::this_thread::sleep_for(std::chrono::milliseconds(10 << (attempt - 1)));
        code = call();
      }
      return code;
    }

    // A transient failure is a 503: a sender tries again later, the Internal's puller pulls
    // the item again at its next round instead of holding the upload (doc/Api.md).
    ApiError Unavailable(OrthancPluginContext* context, OrthancPluginErrorCode code)
    {
      LOG(WARNING) << "Inbound: Orthanc's database is busy or away: "
                   << OrthancPluginGetErrorDescription(context, code);
      return ApiError(503, "archive-unavailable",
                      "The archive's database is not available; please try again later");
    }

    const char* LevelToUri(ResourceLevel level)
    {
      switch (level)
      {
        case ResourceLevel_Patient:
          return "/patients/";
        case ResourceLevel_Study:
          return "/studies/";
        case ResourceLevel_Series:
          return "/series/";
        default:
          return "/instances/";
      }
    }
  }

  StoredInstance OrthancStore::StoreInstance(const std::string& dicom)
  {
    if (dicom.size() > kMaxInstanceBytes)
    {
      throw ApiError(413, "too-large", "This archive stores files of less than 4 GiB (Orthanc)");
    }
    PluginBuffer answer(context_);
    const OrthancPluginErrorCode code = RetrySerialization([&] {
      return OrthancPluginRestApiPost(context_, &answer.buffer, "/instances", dicom.data(),
                                      static_cast<uint32_t>(dicom.size()));
    });
    if (code == OrthancPluginErrorCode_FullStorage)
    {
      throw ApiError(507, "storage-full", "The archive is full; please try again later");
    }
    if (IsTransient(code))
    {
      throw Unavailable(context_, code);
    }
    if (code != OrthancPluginErrorCode_Success)
    {
      LOG(ERROR) << "Inbound: Orthanc refused to store an instance: "
                 << OrthancPluginGetErrorDescription(context_, code);
      throw ApiError(500, "store-failed", "The archive could not store the file");
    }

    Json::Value json;
    if (!answer.ParseJson(json) || !json.isObject() ||
        !json["ID"].isString())
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                      "Unexpected answer of POST /instances");
    }
    StoredInstance stored;
    stored.instanceId = json["ID"].asString();
    stored.seriesId = json.get("ParentSeries", "").asString();
    stored.studyId = json.get("ParentStudy", "").asString();
    stored.patientId = json.get("ParentPatient", "").asString();
    stored.alreadyStored = (json.get("Status", "").asString() == "AlreadyStored");
    return stored;
  }

  bool OrthancStore::LookupMetadata(std::string& value, ResourceLevel level,
                                    const std::string& id, const std::string& name)
  {
    PluginBuffer answer(context_);
    const std::string uri = LevelToUri(level) + id + "/metadata/" + name;
    if (OrthancPluginRestApiGet(context_, &answer.buffer, uri.c_str()) !=
        OrthancPluginErrorCode_Success)
    {
      return false;
    }
    value = answer.ToString();
    return true;
  }

  void OrthancStore::SetMetadata(ResourceLevel level, const std::string& id,
                                 const std::string& name, const std::string& value)
  {
    PluginBuffer answer(context_);
    const std::string uri = LevelToUri(level) + id + "/metadata/" + name;
    const OrthancPluginErrorCode code = RetrySerialization([&] {
      return OrthancPluginRestApiPut(context_, &answer.buffer, uri.c_str(), value.data(),
                                     static_cast<uint32_t>(value.size()));
    });
    if (IsTransient(code))
    {
      throw Unavailable(context_, code);
    }
    if (code != OrthancPluginErrorCode_Success)
    {
      throw Orthanc::OrthancException(static_cast<Orthanc::ErrorCode>(code),
                                      "Cannot write metadata " + name + " on " + id);
    }
  }

  void OrthancStore::DeleteResource(ResourceLevel level, const std::string& id)
  {
    if (id.empty())
    {
      return;
    }
    const std::string uri = LevelToUri(level) + id;
    const OrthancPluginErrorCode code =
      RetrySerialization([&] { return OrthancPluginRestApiDelete(context_, uri.c_str()); });
    if (code != OrthancPluginErrorCode_Success && code != OrthancPluginErrorCode_UnknownResource &&
        code != OrthancPluginErrorCode_InexistentItem)
    {
      throw Orthanc::OrthancException(static_cast<Orthanc::ErrorCode>(code),
                                      "Cannot delete " + uri);
    }
  }
}
