// Reading the fields of an untrusted JSON body: the object, texts, counts, known keys.
#pragma once

#include "Http/ApiError.h"

#include <json/value.h>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace Inbound
{
  // The field readers of the request bodies (open an upload, create a request, answer a
  // challenge): every field has a type, a length cap and a syntax, and a refusal is an
  // ApiError naming the field, so that each parser of a body reads alike.
  namespace JsonFields
  {
    // 400 invalid-field: "Field \"<field>\" <why>".
    ApiError Invalid(const std::string& field, const std::string& why);

    // The body as a JSON object: 413 too-large above "maxBytes", 400 bad-json otherwise.
    Json::Value ParseObject(const void* body, size_t size, size_t maxBytes);

    // A text member of "parent" ("field" names it in errors): absent or null is "" (400 when
    // "required"); else a string of clean UTF-8 (TextRules::IsCleanText) of at most
    // "maxCharacters" code points; "required" also refuses one of spaces only.
    std::string Text(const Json::Value& parent, const char* key, const std::string& field,
                     size_t maxCharacters, bool required);

    // A non-negative integer member; -1 when absent or null.
    int64_t Count(const Json::Value& parent, const char* key, const std::string& field);

    // 400 invalid-field for a member of "object" not in "known" ("where" prefixes its name).
    void CheckKeys(const Json::Value& object, const std::string& where,
                   std::initializer_list<const char*> known);

    // An optional object member "key" with no other members than "known": null when absent
    // or null; 400 invalid-field ("must be an object with <what>") when it is no object.
    const Json::Value* OptionalObject(const Json::Value& parent, const char* key,
                                      const std::string& what,
                                      std::initializer_list<const char*> known);

    // A DICOM LO or PN value: at most "maxBytes" bytes, no control character, no backslash
    // (which would split it into several values).
    bool IsDicomText(const std::string& value, size_t maxBytes);
  }
}
