// What IOrthancRest throws when Orthanc refuses a call: Orthanc's description and its error code.
#pragma once

#include <stdexcept>
#include <string>

namespace Inbound
{
  // A std::runtime_error (what the forwarder catches) that also keeps Orthanc's error code
  // (OrthancPluginErrorCode), which an in-process call returns without details: the
  // reconciliation assistant tells a peer without the C-FIND SOP class (2016) from a network
  // failure (9) and an unknown modality (7) by it.
  class OrthancRestError : public std::runtime_error
  {
  private:
    int code_;

  public:
    OrthancRestError(const std::string& what, int code) : std::runtime_error(what), code_(code)
    {
    }

    int GetCode() const
    {
      return code_;
    }
  };
} // namespace Inbound
