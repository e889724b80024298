// Parses and checks the body of an admin's ban request.
#include "BanRequest.h"

#include "Http/AddressRules.h"
#include "Http/ApiError.h"
#include "Toolbox/Json.h"
#include "Upload/TextRules.h"

namespace Inbound
{
  BanRequest BanRequest::Parse(const void* body, size_t size)
  {
    Json::Value json;
    if (!JsonText::ParseStrict(json, body, size) || !json.isObject())
    {
      throw ApiError(400, "bad-json", "The request body must be a JSON object");
    }
    BanRequest request;
    if (!json["entry"].isString())
    {
      throw ApiError(400, "invalid-field", "Field \"entry\" must be an address or CIDR block");
    }
    request.entry = json["entry"].asString();
    try
    {
      AddressRules check({request.entry});
    }
    catch (const std::invalid_argument& e)
    {
      throw ApiError(400, "invalid-field", std::string("Field \"entry\": ") + e.what());
    }
    if (json.isMember("seconds"))
    {
      if (!json["seconds"].isIntegral() || json["seconds"].asInt64() < 0)
      {
        throw ApiError(400, "invalid-field", "Field \"seconds\" must be a non-negative integer");
      }
      request.seconds = json["seconds"].asInt64();
    }
    request.reason = json.get("reason", "banned by an admin").isString()
                       ? json.get("reason", "banned by an admin").asString() : "";
    if (!TextRules::IsCleanText(request.reason) || request.reason.size() > 500)
    {
      throw ApiError(400, "invalid-field", "Field \"reason\" must be plain text");
    }
    if (request.reason.empty())
    {
      request.reason = "banned by an admin";
    }
    return request;
  }
}
