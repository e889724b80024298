// The start-up self-check of Orthanc's own settings, and weak passwords.
#pragma once

#include "Configuration.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  // Start-up check of Orthanc's own settings, for every role (doc/Configuration.md, "Start-up
  // self-check").
  // Each finding names the setting, says why, and names the "Inbound.Security" override for
  // admins who know why they need it. "otherPlugins": the shared libraries that Orthanc's
  // "Plugins" option loads besides this plugin (ListOtherPlugins).
  std::vector<std::string> FindUnsafeSettings(const Json::Value& orthancConfiguration,
                                              const Configuration& configuration,
                                              const std::vector<std::string>& otherPlugins = {});

  // A password that must not guard a server: under 16 characters, or a sample's placeholder.
  bool IsWeakPassword(const std::string& password);

  // The plugins that Orthanc's "Plugins" option names (files, or every "*.so" of a folder, as
  // Orthanc loads them), except the one at "ownPath". Relative entries are read from
  // "configurationDirectory".
  std::vector<std::string> ListOtherPlugins(const Json::Value& orthancConfiguration,
                                            const std::string& ownPath,
                                            const std::string& configurationDirectory);
}
