// Orthanc's REST API for the forwarder, called in-process through the plugin SDK.
#pragma once

#include "Forward/IOrthancRest.h"

#include <orthanc/OrthancCPlugin.h>

namespace Inbound
{
  class OrthancRest : public IOrthancRest
  {
  private:
    OrthancPluginContext* context_;

  public:
    explicit OrthancRest(OrthancPluginContext* context) :
      context_(context)
    {
    }

    bool Get(Json::Value& answer, const std::string& uri) override;

    bool GetBytes(std::string& answer, const std::string& uri) override;

    Json::Value Post(const std::string& uri, const Json::Value& body) override;

    Json::Value PostBytes(const std::string& uri, const std::string& body) override;

    void Delete(const std::string& uri) override;
  };
}
