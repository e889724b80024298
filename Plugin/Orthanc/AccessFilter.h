// The access filter that Orthanc calls for every HTTP request before it reads the body.
#pragma once

#include <orthanc/OrthancCPlugin.h>

namespace Inbound
{
  // Decides a request with the access policy (Http/AccessPolicy.h) and the limits of the public
  // side; 0 refuses it with Orthanc's plain 403, 1 lets Orthanc read the body and route it.
  // Fails closed: a request it cannot decide is refused.
  int32_t AccessFilter(OrthancPluginHttpMethod method, const char* uri, const char* ip,
                       uint32_t headersCount, const char* const* headersKeys,
                       const char* const* headersValues, uint32_t getArgumentsCount,
                       const char* const* getArgumentsKeys, const char* const* getArgumentsValues);
}
