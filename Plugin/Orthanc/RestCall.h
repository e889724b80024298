// One REST call as a handler sees it: what it reads and how it answers; errors become HTTP here.
#pragma once

#include "Http/ApiError.h"
#include "Http/RequestSafety.h"

#include <orthanc/OrthancCPlugin.h>

#include <Enumerations.h>

#include <json/value.h>

#include <string>

namespace Inbound
{
  Orthanc::HttpMethod ToHttpMethod(OrthancPluginHttpMethod method);

  // One call of a REST route: what the handler reads (method, route groups, headers, GET
  // arguments, body) and how it answers. The only place that turns errors into HTTP.
  class RestCall
  {
  private:
    OrthancPluginContext* context_;
    OrthancPluginRestOutput* output_;
    const OrthancPluginHttpRequest* request_;
    int refusalStatus_ = 0;
    std::string refusalCode_;
    std::string refusalMessage_;

    void SetCommonHeaders();

  public:
    RestCall(OrthancPluginContext* context, OrthancPluginRestOutput* output,
             const OrthancPluginHttpRequest* request) :
      context_(context),
      output_(output),
      request_(request)
    {
    }

    Orthanc::HttpMethod GetMethod() const;

    // Refuses any other method with 405; returns false then.
    bool Expect(const char* allowed);

    std::string GetGroup(unsigned int index) const;

    std::string GetHeader(const std::string& lowerCaseName) const;

    std::string GetArgument(const std::string& name) const;

    // What the request says about where it comes from (Origin, X-Requested-With, overrides).
    RequestFacts GetRequestFacts() const;

    const void* GetBody() const
    {
      return request_->body;
    }

    size_t GetBodySize() const
    {
      return request_->bodySize;
    }

    void AnswerJson(int status, const Json::Value& body);

    void AnswerError(const ApiError& error);

    // An extra header of the answer; call before AnswerBuffer or AnswerJson.
    void SetHeader(const char* name, const std::string& value);

    void AnswerBuffer(const void* data, size_t size, const std::string& mime,
                      bool isPage = false, bool immutable = false);

    // The upload page of a request link (doc/Requests.md): never cached, its own <base>.
    void AnswerRequestPage(const std::string& html);

    void Redirect(const std::string& location);

    void Challenge(const std::string& realm);

    // The refusal answered by this call, if any (status 0 otherwise).
    int GetRefusalStatus() const
    {
      return refusalStatus_;
    }

    const std::string& GetRefusalCode() const
    {
      return refusalCode_;
    }

    const std::string& GetRefusalMessage() const
    {
      return refusalMessage_;
    }

    // Runs "handler" and turns anything it throws into a JSON error answer.
    template <typename Handler>
    void Run(Handler handler);

    // For anything else than an ApiError; call inside a catch block.
    void AnswerUnexpected();
  };

  template <typename Handler>
  void RestCall::Run(Handler handler)
  {
    try
    {
      handler(*this);
    }
    catch (const ApiError& e)
    {
      AnswerError(e);
    }
    catch (...)
    {
      AnswerUnexpected();
    }
  }
}
