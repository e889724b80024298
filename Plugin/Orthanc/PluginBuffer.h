// Owns a memory buffer that Orthanc's SDK filled, and frees it with the SDK.
#pragma once

#include "Toolbox/Json.h"

#include <orthanc/OrthancCPlugin.h>

#include <boost/noncopyable.hpp>

#include <string>

namespace Inbound
{
  // Owns an answer of Orthanc's in-process REST API (freed with the object).
  class PluginBuffer : public boost::noncopyable
  {
  private:
    OrthancPluginContext* context_;

  public:
    OrthancPluginMemoryBuffer buffer;

    explicit PluginBuffer(OrthancPluginContext* context) :
      context_(context)
    {
      buffer.data = nullptr;
      buffer.size = 0;
    }

    ~PluginBuffer()
    {
      if (buffer.data != nullptr)
      {
        OrthancPluginFreeMemoryBuffer(context_, &buffer);
      }
    }

    std::string ToString() const
    {
      return buffer.data == nullptr
               ? std::string() : std::string(static_cast<const char*>(buffer.data), buffer.size);
    }

    bool ParseJson(Json::Value& json) const
    {
      return buffer.data != nullptr && JsonText::ParseStrict(json, buffer.data, buffer.size);
    }
  };
}
