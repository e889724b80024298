// Parses the open request: each field's type, length cap and syntax; refusals as ApiErrors.
#include "OpenRequest.h"

#include "Http/ApiError.h"
#include "Toolbox/Json.h"
#include "Upload/TextRules.h"

#include <algorithm>

namespace Inbound
{
  namespace
  {
    const size_t kMaxBody = 64 * 1024;

    ApiError Invalid(const std::string& field, const std::string& why)
    {
      return ApiError(400, "invalid-field", "Field \"" + field + "\" " + why);
    }

    std::string Text(const Json::Value& parent, const char* key, const std::string& field,
                     size_t maxCharacters, bool required)
    {
      if (!parent.isMember(key) || parent[key].isNull())
      {
        if (required)
        {
          throw Invalid(field, "is required");
        }
        return "";
      }
      if (!parent[key].isString())
      {
        throw Invalid(field, "must be a string");
      }
      const std::string value = parent[key].asString();
      if (!TextRules::IsCleanText(value))
      {
        throw Invalid(field, "contains control characters or is not valid UTF-8");
      }
      if (required && value.find_first_not_of(' ') == std::string::npos)
      {
        throw Invalid(field, "is required");
      }
      if (TextRules::CountCharacters(value) > maxCharacters)
      {
        throw Invalid(field, "is longer than " + std::to_string(maxCharacters) + " characters");
      }
      return value;
    }

    int64_t Count(const Json::Value& parent, const char* key, const std::string& field)
    {
      if (!parent.isMember(key) || parent[key].isNull())
      {
        return -1;
      }
      // isInt64() first: an integer beyond int64 (a JSON number can be any size) would make
      // asInt64() throw a JsonCpp error, which is a 500, not the sender's 400.
      if (!parent[key].isIntegral() || !parent[key].isInt64() || parent[key].asInt64() < 0)
      {
        throw Invalid(field, "must be a non-negative integer");
      }
      return parent[key].asInt64();
    }
  }

  OpenRequest OpenRequest::Parse(const void* body, size_t size,
                                 const Configuration& configuration)
  {
    Json::Value json;
    if (size > kMaxBody)
    {
      throw ApiError(413, "too-large", "The request body is larger than 64 KiB");
    }
    if (!JsonText::ParseStrict(json, body, size) || !json.isObject())
    {
      throw ApiError(400, "bad-json", "The request body must be a JSON object");
    }

    const TextLimits& limits = configuration.text;
    const Json::Value& sender = json["sender"];
    if (!sender.isObject())
    {
      throw Invalid("sender", "must be an object with name and email");
    }

    OpenRequest r;
    r.sender.name = Text(sender, "name", "sender.name", limits.name, true);
    r.sender.email = Text(sender, "email", "sender.email", limits.email, true);
    if (!TextRules::IsEmailAddress(r.sender.email))
    {
      throw Invalid("sender.email", "is not a valid e-mail address");
    }
    r.sender.institution = Text(sender, "institution", "sender.institution",
                                limits.institution, false);
    r.sender.phone = Text(sender, "phone", "sender.phone", limits.phone, false);
    r.message = Text(json, "message", "message", limits.message, false);

    const Json::Value& consent = json["consent"];
    if (!consent.isObject() || !consent["accepted"].isBool() || !consent["accepted"].asBool())
    {
      throw ApiError(400, "consent-required", "The privacy statement must be accepted");
    }
    if (!consent["version"].isString() ||
        consent["version"].asString() != configuration.privacyVersion)
    {
      throw ApiError(400, "consent-required",
                     "The accepted privacy statement is not the current one (version " +
                       configuration.privacyVersion + "); please reload the page");
    }
    r.consentVersion = configuration.privacyVersion;

    if (json.isMember("recipient") && !json["recipient"].isNull())
    {
      if (!json["recipient"].isString() ||
          configuration.LookupRecipient(json["recipient"].asString()) == nullptr)
      {
        throw ApiError(400, "unknown-recipient",
                       "The recipient must be one of the ids listed by /inbound/api/info");
      }
      r.recipientId = json["recipient"].asString();
    }

    if (json.isMember("language") && !json["language"].isNull())
    {
      const Json::Value& language = json["language"];
      if (!language.isString() ||
          std::find(configuration.languages.begin(), configuration.languages.end(),
                    language.asString()) == configuration.languages.end())
      {
        throw Invalid("language", "must be one of the languages listed by /inbound/api/info");
      }
      r.language = language.asString();
    }

    const Json::Value& expected = json["expected"];
    if (!expected.isNull())
    {
      if (!expected.isObject())
      {
        throw Invalid("expected", "must be an object with files and bytes");
      }
      r.expectedFiles = Count(expected, "files", "expected.files");
      r.expectedBytes = Count(expected, "bytes", "expected.bytes");
    }
    return r;
  }
}
