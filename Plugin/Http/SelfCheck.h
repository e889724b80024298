#pragma once

#include "Configuration.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  // Start-up check of Orthanc's own settings for a server that faces the Internet
  // (Standalone and Gateway roles). Each finding names the setting, says why, and names the
  // "Inbound.Security" override for admins who know why they need it.
  std::vector<std::string> FindUnsafeSettings(const Json::Value& orthancConfiguration,
                                              const Configuration& configuration);
}
