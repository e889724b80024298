// JSON text: strict parsing of untrusted bodies, lenient parsing of configuration, compact output.
#pragma once

#include <json/value.h>

#include <string>

namespace Inbound
{
  namespace JsonText
  {
    // Strict parse of untrusted text: no comments, no trailing garbage, bounded depth.
    bool ParseStrict(Json::Value& target, const void* data, size_t size);

    // Lenient parse of configuration text written by admins (comments allowed).
    bool ParseConfiguration(Json::Value& target, const std::string& text, std::string& errors);

    std::string Compact(const Json::Value& value);
  }
}
