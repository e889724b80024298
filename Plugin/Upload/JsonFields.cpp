// Field readers of untrusted JSON bodies: types, length caps, clean text, unknown keys refused.
#include "JsonFields.h"

#include "Toolbox/Json.h"
#include "Upload/TextRules.h"

#include <cstring>

namespace Inbound
{
  namespace JsonFields
  {
    ApiError Invalid(const std::string& field, const std::string& why)
    {
      return ApiError(400, "invalid-field", "Field \"" + field + "\" " + why);
    }

    Json::Value ParseObject(const void* body, size_t size, size_t maxBytes)
    {
      if (size > maxBytes)
      {
        throw ApiError(413, "too-large", "The request body is larger than " +
                                           std::to_string(maxBytes / 1024) + " KiB");
      }
      Json::Value json;
      if (!JsonText::ParseStrict(json, body, size) || !json.isObject())
      {
        throw ApiError(400, "bad-json", "The request body must be a JSON object");
      }
      return json;
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

    void CheckKeys(const Json::Value& object, const std::string& where,
                   std::initializer_list<const char*> known)
    {
      for (const std::string& key : object.getMemberNames())
      {
        bool found = false;
        for (const char* k : known)
        {
          found = found || key == k;
        }
        if (!found)
        {
          throw Invalid(where + key, "is not known here");
        }
      }
    }

    const Json::Value* OptionalObject(const Json::Value& parent, const char* key,
                                      const std::string& what,
                                      std::initializer_list<const char*> known)
    {
      if (!parent.isMember(key) || parent[key].isNull())
      {
        return nullptr;
      }
      const Json::Value& object = parent[key];
      if (!object.isObject())
      {
        throw Invalid(key, "must be an object with " + what);
      }
      CheckKeys(object, std::string(key) + ".", known);
      return &object;
    }

    bool IsDicomText(const std::string& value, size_t maxBytes)
    {
      if (value.size() > maxBytes)
      {
        return false;
      }
      for (unsigned char c : value)
      {
        if (c < 0x20 || c == '\\' || c == 0x7f)
        {
          return false;
        }
      }
      return true;
    }
  }
}
