// The part of Orthanc's REST API the forwarder calls, as an interface (a fake in unit tests).
#pragma once

#include <json/value.h>

#include <string>

namespace Inbound
{
  // Orthanc's own REST API as the forwarder uses it (modification, store jobs, modalities).
  // The plugin calls Orthanc in-process (Plugin/Orthanc/OrthancRest); unit tests use a fake.
  class IOrthancRest
  {
  public:
    virtual ~IOrthancRest() = default;

    // False when the resource does not exist (or cannot be read).
    virtual bool Get(Json::Value& answer, const std::string& uri) = 0;

    // The bytes of a resource (e.g. "/instances/{id}/file"); false when it does not exist
    // (or cannot be read).
    virtual bool GetBytes(std::string& answer, const std::string& uri) = 0;

    // Throws std::runtime_error, with Orthanc's description, when Orthanc refuses (the plugin's
    // implementation: OrthancRestError, which also has Orthanc's error code).
    virtual Json::Value Post(const std::string& uri, const Json::Value& body) = 0;

    // A POST of bytes (e.g. a DICOM file to "/instances"), answering JSON.
    virtual Json::Value PostBytes(const std::string& uri, const std::string& body) = 0;

    // A missing resource is not an error.
    virtual void Delete(const std::string& uri) = 0;
  };
}
