#include "OrthancRest.h"

#include "Toolbox/Json.h"

#include <stdexcept>

namespace Inbound
{
  namespace
  {
    struct Buffer
    {
      OrthancPluginContext* context;
      OrthancPluginMemoryBuffer buffer;

      explicit Buffer(OrthancPluginContext* c) :
        context(c)
      {
        buffer.data = nullptr;
        buffer.size = 0;
      }

      ~Buffer()
      {
        if (buffer.data != nullptr)
        {
          OrthancPluginFreeMemoryBuffer(context, &buffer);
        }
      }

      bool Parse(Json::Value& json) const
      {
        return buffer.data != nullptr &&
               JsonText::ParseStrict(json, buffer.data, buffer.size);
      }
    };
  }

  bool OrthancRest::Get(Json::Value& answer, const std::string& uri)
  {
    Buffer b(context_);
    return OrthancPluginRestApiGet(context_, &b.buffer, uri.c_str()) ==
             OrthancPluginErrorCode_Success && b.Parse(answer);
  }

  namespace
  {
    void CallPost(OrthancPluginContext* context, Buffer& answer, const std::string& uri,
                  const std::string& body)
    {
      const OrthancPluginErrorCode code = OrthancPluginRestApiPost(
        context, &answer.buffer, uri.c_str(), body.data(), static_cast<uint32_t>(body.size()));
      if (code != OrthancPluginErrorCode_Success)
      {
        const char* description = OrthancPluginGetErrorDescription(context, code);
        throw std::runtime_error("POST " + uri + ": " +
                                 (description != nullptr ? description : "error"));
      }
    }
  }

  Json::Value OrthancRest::Post(const std::string& uri, const Json::Value& body)
  {
    return PostBytes(uri, JsonText::Compact(body));
  }

  std::string OrthancRest::PostForBytes(const std::string& uri, const Json::Value& body)
  {
    Buffer b(context_);
    CallPost(context_, b, uri, JsonText::Compact(body));
    return b.buffer.data == nullptr ? std::string()
                                    : std::string(static_cast<const char*>(b.buffer.data), b.buffer.size);
  }

  Json::Value OrthancRest::PostBytes(const std::string& uri, const std::string& body)
  {
    Buffer b(context_);
    CallPost(context_, b, uri, body);
    Json::Value answer;
    if (!b.Parse(answer))
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
