// Reads the headers and arguments that the request-safety rules look at, and applies the rules.
#include "RequestSafety.h"

#include <boost/algorithm/string/predicate.hpp>

#include <strings.h>

namespace Inbound
{
  void RequestFacts::AddHeader(const char* name, const char* value)
  {
    if (strcasecmp(name, "x-http-method-override") == 0 ||
        strcasecmp(name, "x-http-method") == 0 || strcasecmp(name, "x-method-override") == 0)
    {
      methodOverride = true;
    }
    else if (strcasecmp(name, "content-type") == 0)
    {
      // Orthanc core reads "multipart/form-data" bodies itself (Orthanc Explorer's old upload
      // form) and keeps their parts across requests: never on a route open without an account.
      std::string type(value);
      const size_t start = type.find_first_not_of(" \t");
      type = (start == std::string::npos ? "" : type.substr(start));
      multipartForm = multipartForm || boost::algorithm::istarts_with(type, "multipart/");
    }
    else if (strcasecmp(name, "x-file-name") == 0 || strcasecmp(name, "x-file-size") == 0)
    {
      multipartForm = true;
    }
    else if (strcasecmp(name, "origin") == 0)
    {
      origin = value;
    }
    else if (strcasecmp(name, "host") == 0)
    {
      host = value;
    }
    else if (strcasecmp(name, "x-requested-with") == 0)
    {
      requestedWith = value;
    }
  }

  void RequestFacts::AddArgument(const char* name)
  {
    if (strcasecmp(name, "_method") == 0)
    {
      methodOverride = true;
    }
  }

  bool IsWrite(Orthanc::HttpMethod method)
  {
    return method == Orthanc::HttpMethod_Post || method == Orthanc::HttpMethod_Put ||
           method == Orthanc::HttpMethod_Delete;
  }

  bool IsSameOrigin(const std::string& origin, const std::string& host)
  {
    static const std::string kHttp = "http://", kHttps = "https://";
    std::string authority;
    if (boost::algorithm::istarts_with(origin, kHttps))
      authority = origin.substr(kHttps.size());
    else if (boost::algorithm::istarts_with(origin, kHttp))
      authority = origin.substr(kHttp.size());
    else
      return false;  // absent, "null" (sandboxed pages, file:, some redirects) or another scheme
    if (authority.empty() || host.empty() ||
        authority.find_first_of("/?#@\\ \t") != std::string::npos)
    {
      return false;
    }
    return boost::algorithm::iequals(authority, host);
  }

  bool IsSameOriginWrite(const RequestFacts& facts)
  {
    return boost::algorithm::iequals(facts.requestedWith, "XMLHttpRequest") ||
           IsSameOrigin(facts.origin, facts.host);
  }
}
