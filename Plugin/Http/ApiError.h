// The one error type of a refusal: HTTP status, stable error code, message, extra headers.
#pragma once

#include <json/value.h>

#include <map>
#include <stdexcept>
#include <string>

namespace Inbound
{
  // A refusal that the client is told about: HTTP status, a stable machine-readable code
  // (doc/Api.md, "Error codes") and a human-readable message. One place (the REST glue) turns
  // it into {"error": code, "message": message}.
  class ApiError : public std::runtime_error
  {
  private:
    int status_;
    std::string code_;
    std::map<std::string, std::string> headers_;
    Json::Value fields_;  // more members of the JSON answer

  public:
    ApiError(int status, const std::string& code, const std::string& message) :
      std::runtime_error(message),
      status_(status),
      code_(code)
    {
    }

    ApiError& WithHeader(const std::string& name, const std::string& value)
    {
      headers_[name] = value;
      return *this;
    }

    // A member of the JSON answer beside "error" and "message" (e.g. "remainingAttempts").
    ApiError& WithField(const std::string& name, const Json::Value& value)
    {
      fields_[name] = value;
      return *this;
    }

    int GetStatus() const
    {
      return status_;
    }

    const std::string& GetCode() const
    {
      return code_;
    }

    const std::map<std::string, std::string>& GetHeaders() const
    {
      return headers_;
    }

    Json::Value ToJson() const
    {
      Json::Value body = fields_.isObject() ? fields_ : Json::Value(Json::objectValue);
      body["error"] = code_;
      body["message"] = what();
      return body;
    }

    static ApiError NotFound()
    {
      // The same answer for "no such upload" and "wrong token": a client must not learn
      // that an upload id exists without holding its token.
      return ApiError(404, "not-found", "No such upload, or the token does not match it");
    }
  };
}
