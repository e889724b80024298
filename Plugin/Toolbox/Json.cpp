// JSON parsing with JsonCpp's strict and lenient settings, and compact writing.
#include "Json.h"

#include <json/reader.h>
#include <json/writer.h>

#include <memory>

namespace Inbound
{
  namespace JsonText
  {
    bool ParseStrict(Json::Value& target, const void* data, size_t size)
    {
      Json::CharReaderBuilder builder;
      Json::CharReaderBuilder::strictMode(&builder.settings_);
      // A deeply nested body would only serve to exhaust the stack.
      builder.settings_["stackLimit"] = 32;
      std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
      const char* begin = static_cast<const char*>(data);
      std::string errors;
      try
      {
        return reader->parse(begin, begin + size, &target, &errors);
      }
      catch (const std::exception&)
      {
        return false;  // JsonCpp throws rather than fails past its stack limit
      }
    }

    bool ParseConfiguration(Json::Value& target, const std::string& text, std::string& errors)
    {
      Json::CharReaderBuilder builder;
      builder.settings_["allowComments"] = true;
      std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
      return reader->parse(text.data(), text.data() + text.size(), &target, &errors);
    }

    std::string Compact(const Json::Value& value)
    {
      Json::StreamWriterBuilder builder;
      builder.settings_["indentation"] = "";
      builder.settings_["emitUTF8"] = true;
      return Json::writeString(builder, value);
    }
  }
}
