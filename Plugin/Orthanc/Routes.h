// Registers the route table's routes and the access filter with Orthanc.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <string>

namespace Inbound
{
  // Registers the routes of the route table (Http/RouteTable.h) and the access filter.
  void RegisterRoutes(OrthancPluginContext* context);
}
