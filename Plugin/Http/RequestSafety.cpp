// Reads the headers and arguments that the request-safety rules look at, and applies the rules.
#include "RequestSafety.h"

#include <boost/algorithm/string/predicate.hpp>

#include <strings.h>

#include <algorithm>
#include <cctype>

namespace Inbound
{
  namespace
  {
    // "multipart/related" with a parameter type=application/dicom (quoted or not, any case).
    bool IsStowContentType(std::string type)
    {
      for (char& c : type)
      {
        c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      }
      type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
      type.erase(std::remove(type.begin(), type.end(), '\t'), type.end());
      if (type.compare(0, 18, "multipart/related;") != 0)
      {
        return false;
      }
      return type.find(";type=application/dicom;") != std::string::npos ||
             type.find(";type=\"application/dicom\"") != std::string::npos ||
             (type.size() >= 23 && type.compare(type.size() - 23, 23, ";type=application/dicom") == 0);
    }
  }

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
      stowMultipart = IsStowContentType(type);
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
    else if (strcasecmp(name, "x-forwarded-proto") == 0)
    {
      forwardedProto = value;
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

  bool IsSameOrigin(const std::string& origin, const std::string& host, bool https)
  {
    // Only the site's own scheme: absent, "null" (sandboxed pages, file:, some redirects),
    // another scheme, or the other of http and https are other origins.
    const std::string scheme = https ? "https://" : "http://";
    if (!boost::algorithm::istarts_with(origin, scheme))
    {
      return false;
    }
    const std::string authority = origin.substr(scheme.size());
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
           IsSameOrigin(facts.origin, facts.host,
                        boost::algorithm::iequals(facts.forwardedProto, "https"));
  }
}
