// Reads a call's method, groups, headers, arguments; answers JSON, errors and security headers.
#include "RestCall.h"

#include "Http/UnexpectedError.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"

#include <Logging.h>
#include <OrthancException.h>
#include <Toolbox.h>

#include <strings.h>

namespace Inbound
{
  namespace
  {
    // Strict by default: the page loads only its own assets, cannot be framed (clickjacking),
    // and sends nothing elsewhere.
    const char* const kContentSecurityPolicy =
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
      "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
      "frame-ancestors 'none'; form-action 'none'";
    // The same for the page of a request link, whose own <base> (this site's /inbound/) is
    // the one base it may have.
    const char* const kRequestPagePolicy =
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
      "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
      "frame-ancestors 'none'; form-action 'none'";
  }

  void RestCall::SetCommonHeaders()
  {
    OrthancPluginSetHttpHeader(context_, output_, "X-Content-Type-Options", "nosniff");
    OrthancPluginSetHttpHeader(context_, output_, "Referrer-Policy", "no-referrer");
  }

  Orthanc::HttpMethod ToHttpMethod(OrthancPluginHttpMethod method)
  {
    switch (method)
    {
      case OrthancPluginHttpMethod_Get:
        return Orthanc::HttpMethod_Get;
      case OrthancPluginHttpMethod_Post:
        return Orthanc::HttpMethod_Post;
      case OrthancPluginHttpMethod_Put:
        return Orthanc::HttpMethod_Put;
      default:
        return Orthanc::HttpMethod_Delete;
    }
  }

  Orthanc::HttpMethod RestCall::GetMethod() const
  {
    return ToHttpMethod(request_->method);
  }

  bool RestCall::Expect(const char* allowed)
  {
    const std::string method = Orthanc::EnumerationToString(GetMethod());
    const std::string list = std::string(",") + allowed + ",";
    if (list.find("," + method + ",") != std::string::npos)
    {
      return true;
    }
    refusalStatus_ = 405;
    refusalCode_ = "method-not-allowed";
    refusalMessage_ = method;
    OrthancPluginSendMethodNotAllowed(context_, output_, allowed);
    return false;
  }

  std::string RestCall::GetGroup(unsigned int index) const
  {
    return index < request_->groupsCount ? request_->groups[index] : "";
  }

  RequestFacts RestCall::GetRequestFacts() const
  {
    RequestFacts facts;
    for (uint32_t i = 0; i < request_->headersCount; i++)
    {
      facts.AddHeader(request_->headersKeys[i], request_->headersValues[i]);
    }
    for (uint32_t i = 0; i < request_->getCount; i++)
    {
      facts.AddArgument(request_->getKeys[i]);
    }
    return facts;
  }

  std::string RestCall::GetHeader(const std::string& lowerCaseName) const
  {
    for (uint32_t i = 0; i < request_->headersCount; i++)
    {
      if (strcasecmp(request_->headersKeys[i], lowerCaseName.c_str()) == 0)
      {
        return request_->headersValues[i];
      }
    }
    return "";
  }

  std::string RestCall::GetArgument(const std::string& name) const
  {
    for (uint32_t i = 0; i < request_->getCount; i++)
    {
      if (name == request_->getKeys[i])
      {
        // Orthanc 1.10.1 hands GET arguments over still percent-encoded.
        std::string value = request_->getValues[i];
        Orthanc::Toolbox::UrlDecode(value);
        return value;
      }
    }
    return "";
  }

  void RestCall::AnswerJson(int status, const Json::Value& body)
  {
    const std::string text = JsonText::Compact(body);
    SetCommonHeaders();
    OrthancPluginSetHttpHeader(context_, output_, "Cache-Control", "no-store");
    if (status == 200)
    {
      OrthancPluginAnswerBuffer(context_, output_, text.data(), static_cast<uint32_t>(text.size()),
                                "application/json; charset=utf-8");
    }
    else
    {
      OrthancPluginSetHttpHeader(context_, output_, "Content-Type",
                                 "application/json; charset=utf-8");
      OrthancPluginSendHttpStatus(context_, output_, static_cast<uint16_t>(status), text.data(),
                                  static_cast<uint32_t>(text.size()));
    }
  }

  void RestCall::AnswerError(const ApiError& error)
  {
    refusalStatus_ = error.GetStatus();
    refusalCode_ = error.GetCode();
    refusalMessage_ = error.what();
    for (const auto& header : error.GetHeaders())
    {
      OrthancPluginSetHttpHeader(context_, output_, header.first.c_str(), header.second.c_str());
    }
    AnswerJson(error.GetStatus(), error.ToJson());
  }

  void RestCall::AnswerUnexpected()
  {
    // Internal details go to the log, not to an anonymous client.
    LOG(ERROR) << "Inbound: " << DescribeCurrentException();
    AnswerError(GetApiErrorOfCurrentException());
  }

  void RestCall::SetHeader(const char* name, const std::string& value)
  {
    OrthancPluginSetHttpHeader(context_, output_, name, value.c_str());
  }

  void RestCall::AnswerBuffer(const void* data, size_t size, const std::string& mime,
                              bool isPage, bool immutable)
  {
    SetCommonHeaders();
    if (isPage)
    {
      OrthancPluginSetHttpHeader(context_, output_, "Content-Security-Policy",
                                 kContentSecurityPolicy);
      OrthancPluginSetHttpHeader(context_, output_, "X-Frame-Options", "DENY");
      OrthancPluginSetHttpHeader(context_, output_, "Cache-Control", "no-cache");
    }
    else
    {
      OrthancPluginSetHttpHeader(context_, output_, "Cache-Control",
                                 immutable ? "public, max-age=31536000, immutable"
                                           : "no-cache");
    }
    OrthancPluginAnswerBuffer(context_, output_, data, static_cast<uint32_t>(size), mime.c_str());
  }

  void RestCall::AnswerRequestPage(const std::string& html)
  {
    SetCommonHeaders();
    OrthancPluginSetHttpHeader(context_, output_, "Content-Security-Policy", kRequestPagePolicy);
    OrthancPluginSetHttpHeader(context_, output_, "X-Frame-Options", "DENY");
    // Its address holds the link's token: kept by no cache, sent to no other site.
    OrthancPluginSetHttpHeader(context_, output_, "Cache-Control", "no-store");
    OrthancPluginAnswerBuffer(context_, output_, html.data(), static_cast<uint32_t>(html.size()),
                              "text/html; charset=utf-8");
  }

  void RestCall::Redirect(const std::string& location)
  {
    // 302, never cached: OrthancPluginRedirect answers 301, which browsers keep, so that a
    // redirect that depends on the login (the admin page, "/") would outlive it.
    OrthancPluginSetHttpHeader(context_, output_, "Location", location.c_str());
    OrthancPluginSetHttpHeader(context_, output_, "Cache-Control", "no-store");
    OrthancPluginSendHttpStatus(context_, output_, 302, nullptr, 0);
  }

  void RestCall::Challenge(const std::string& realm)
  {
    OrthancPluginSendUnauthorized(context_, output_, realm.c_str());
  }
}
