// The notification mail templates: built in per language, replaceable by the admin, Mustache.
#include "MailTemplates.h"

#include "Toolbox/EmbeddedResources.h"
#include "Toolbox/Languages.h"

#include <OrthancException.h>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <boost/filesystem.hpp>
#include <kainjow/mustache.hpp>

#include <fstream>

namespace Inbound
{
  bool MailTemplates::IsLanguage(const std::string& language)
  {
    return Inbound::IsLanguage(language);
  }

  const char* const MailTemplates::kNames[] = {
    "recipient-subject.txt", "recipient.txt", "recipient.html",
    "receipt-subject.txt",   "receipt.txt",   "receipt.html",
    "alert-subject.txt",     "alert.txt",     "alert.html",
    "request-link-subject.txt", "request-link.txt", "request-link.html", nullptr};

  namespace
  {
    kainjow::mustache::data ToData(const Json::Value& value)
    {
      using kainjow::mustache::data;
      switch (value.type())
      {
        case Json::objectValue:
        {
          data result{data::type::object};
          for (const std::string& key : value.getMemberNames())
          {
            result.set(key, ToData(value[key]));
          }
          return result;
        }
        case Json::arrayValue:
        {
          data result{data::type::list};
          for (Json::ArrayIndex i = 0; i < value.size(); i++)
          {
            result.push_back(ToData(value[i]));
          }
          return result;
        }
        case Json::booleanValue:
          return data(value.asBool());
        case Json::stringValue:
          // An empty string is false, so that "{{#message}}…{{/message}}" hides a missing one.
          return value.asString().empty() ? data(false) : data(value.asString());
        case Json::nullValue:
          return data(false);
        default:
          return data(value.asString());
      }
    }

    void Fail(const std::string& path, const std::string& why)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      "E-mail template \"" + path + "\": " + why);
    }
  }

  MailTemplates::MailTemplates(const std::string& folder) :
    folder_(folder)
  {
  }

  std::string MailTemplates::Load(const std::string& language, const std::string& name) const
  {
    const std::string relative = language + "/" + name;
    if (!folder_.empty())
    {
      const boost::filesystem::path path = boost::filesystem::path(folder_) / language / name;
      if (boost::filesystem::is_regular_file(path))
      {
        std::ifstream in(path.string(), std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    }
    const EmbeddedFile* file = LookupTemplateFile(relative);
    if (file == nullptr)
    {
      Fail(relative, "missing");
    }
    return std::string(reinterpret_cast<const char*>(file->data), file->size);
  }

  void MailTemplates::Check() const
  {
    for (const std::string& language : GetLanguages())
    {
      for (const char* const* name = kNames; *name != nullptr; ++name)
      {
        kainjow::mustache::mustache tmpl{Load(language, *name)};
        if (!tmpl.is_valid())
        {
          Fail(language + "/" + *name, tmpl.error_message());
        }
      }
    }
  }

  std::string MailTemplates::Render(const std::string& language, const std::string& name,
                                    const Json::Value& data) const
  {
    kainjow::mustache::mustache tmpl{Load(language, name)};
    if (!boost::ends_with(name, ".html"))
    {
      tmpl.set_custom_escape([](const std::string& s) { return s; });
    }
    std::string result = tmpl.render(ToData(data));
    if (!tmpl.is_valid())
    {
      Fail(language + "/" + name, tmpl.error_message());
    }
    if (boost::ends_with(name, "-subject.txt"))
    {
      for (char& c : result)
      {
        if (c == '\r' || c == '\n' || c == '\t')
        {
          c = ' ';
        }
      }
      boost::algorithm::trim(result);
    }
    return result;
  }
}
