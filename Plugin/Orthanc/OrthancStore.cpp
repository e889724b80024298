// Stores instances, reads and writes metadata, deletes resources, through Orthanc's REST API.
#include "OrthancStore.h"

#include "Http/ApiError.h"
#include "Orthanc/PluginBuffer.h"
#include "Toolbox/Json.h"

#include <Logging.h>
#include <OrthancException.h>

namespace Inbound
{
  namespace
  {
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
    const OrthancPluginErrorCode code = OrthancPluginRestApiPost(
      context_, &answer.buffer, "/instances", dicom.data(), static_cast<uint32_t>(dicom.size()));
    if (code == OrthancPluginErrorCode_FullStorage)
    {
      throw ApiError(507, "storage-full", "The archive is full; please try again later");
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
    const OrthancPluginErrorCode code = OrthancPluginRestApiPut(
      context_, &answer.buffer, uri.c_str(), value.data(), static_cast<uint32_t>(value.size()));
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
    const OrthancPluginErrorCode code = OrthancPluginRestApiDelete(context_, uri.c_str());
    if (code != OrthancPluginErrorCode_Success && code != OrthancPluginErrorCode_UnknownResource &&
        code != OrthancPluginErrorCode_InexistentItem)
    {
      throw Orthanc::OrthancException(static_cast<Orthanc::ErrorCode>(code),
                                      "Cannot delete " + uri);
    }
  }
}
