// GET, POST and DELETE on Orthanc's own REST API through the SDK, errors as exceptions.
#include "OrthancRest.h"

#include "Forward/OrthancRestError.h"
#include "Orthanc/PluginBuffer.h"
#include "Toolbox/Json.h"

#include <stdexcept>

namespace Inbound
{
  bool OrthancRest::Get(Json::Value& answer, const std::string& uri)
  {
    PluginBuffer b(context_);
    return OrthancPluginRestApiGet(context_, &b.buffer, uri.c_str()) ==
             OrthancPluginErrorCode_Success && b.ParseJson(answer);
  }

  bool OrthancRest::GetBytes(std::string& answer, const std::string& uri)
  {
    PluginBuffer b(context_);
    if (OrthancPluginRestApiGet(context_, &b.buffer, uri.c_str()) != OrthancPluginErrorCode_Success)
    {
      return false;
    }
    answer = b.ToString();
    return true;
  }

  namespace
  {
    void CallPost(OrthancPluginContext* context, PluginBuffer& answer, const std::string& uri,
                  const std::string& body)
    {
      const OrthancPluginErrorCode code = OrthancPluginRestApiPost(
        context, &answer.buffer, uri.c_str(), body.data(), static_cast<uint32_t>(body.size()));
      if (code != OrthancPluginErrorCode_Success)
      {
        const char* description = OrthancPluginGetErrorDescription(context, code);
        throw OrthancRestError("POST " + uri + ": " +
                                 (description != nullptr ? description : "error"),
                               static_cast<int>(code));
      }
    }
  }

  Json::Value OrthancRest::Post(const std::string& uri, const Json::Value& body)
  {
    return PostBytes(uri, JsonText::Compact(body));
  }

  Json::Value OrthancRest::PostBytes(const std::string& uri, const std::string& body)
  {
    PluginBuffer b(context_);
    CallPost(context_, b, uri, body);
    Json::Value answer;
    if (!b.ParseJson(answer))
    {
      answer = Json::objectValue;
    }
    return answer;
  }

  void OrthancRest::Delete(const std::string& uri)
  {
    const OrthancPluginErrorCode code = OrthancPluginRestApiDelete(context_, uri.c_str());
    if (code != OrthancPluginErrorCode_Success && code != OrthancPluginErrorCode_UnknownResource &&
        code != OrthancPluginErrorCode_InexistentItem)
    {
      const char* description = OrthancPluginGetErrorDescription(context_, code);
      throw std::runtime_error("DELETE " + uri + ": " +
                               (description != nullptr ? description : "error"));
    }
  }
}
