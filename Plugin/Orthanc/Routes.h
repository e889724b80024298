#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <string>

namespace Inbound
{
  // Registers the REST routes (README.md, "HTTP API") and the access filter.
  void RegisterRoutes(OrthancPluginContext* context);

  // The client address that the access filter resolved for the request being handled on
  // this HTTP thread (REST callbacks are not told the address: doc/Architecture.md, fact 2).
  const std::string& GetCurrentClientAddress();
}
