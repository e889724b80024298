// The typed getters of the configuration reader.
#include "ConfigurationReader.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>

namespace Inbound
{
  namespace ConfigurationReader
  {
    [[noreturn]] void Bad(const std::string& option, const std::string& why)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      "Configuration option \"Inbound." + option + "\": " + why);
    }

    void MergeInto(Json::Value& target, const Json::Value& source, const std::string& path,
                   std::vector<std::string>& unknown)
    {
      for (const std::string& key : source.getMemberNames())
      {
        const std::string name = path.empty() ? key : path + "." + key;
        if (!target.isMember(key))
        {
          unknown.push_back("Inbound." + name);
          continue;
        }
        if (target[key].isObject() && source[key].isObject())
        {
          MergeInto(target[key], source[key], name, unknown);
        }
        else
        {
          target[key] = source[key];
        }
      }
    }

    const Json::Value& Member(const Json::Value& section, const std::string& path)
    {
      const Json::Value* current = &section;
      size_t start = 0;
      while (true)
      {
        const size_t dot = path.find('.', start);
        const std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
        if (!current->isObject() || !current->isMember(key))
        {
          Bad(path, "missing");
        }
        current = &(*current)[key];
        if (dot == std::string::npos)
        {
          return *current;
        }
        start = dot + 1;
      }
    }

    std::string GetString(const Json::Value& section, const std::string& path, bool allowEmpty)
    {
      const Json::Value& v = Member(section, path);
      if (!v.isString())
      {
        Bad(path, "must be a string");
      }
      if (!allowEmpty && v.asString().empty())
      {
        Bad(path, "must not be empty");
      }
      return v.asString();
    }

    uint64_t GetUnsigned(const Json::Value& section, const std::string& path, uint64_t min,
                         uint64_t max)
    {
      const Json::Value& v = Member(section, path);
      if (!v.isIntegral() || (v.isInt64() && v.asInt64() < 0))
      {
        Bad(path, "must be a non-negative integer");
      }
      const uint64_t value = v.asUInt64();
      if (value < min || value > max)
      {
        Bad(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      }
      return value;
    }

    bool GetBool(const Json::Value& section, const std::string& path)
    {
      const Json::Value& v = Member(section, path);
      if (!v.isBool())
      {
        Bad(path, "must be true or false");
      }
      return v.asBool();
    }

    std::vector<std::string> GetStringList(const Json::Value& section, const std::string& path)
    {
      const Json::Value& v = Member(section, path);
      if (!v.isArray())
      {
        Bad(path, "must be a list of strings");
      }
      std::vector<std::string> result;
      for (Json::ArrayIndex i = 0; i < v.size(); i++)
      {
        if (!v[i].isString() || v[i].asString().empty())
        {
          Bad(path, "must be a list of non-empty strings");
        }
        result.push_back(v[i].asString());
      }
      return result;
    }

    void CheckReadableFile(const std::string& path, const std::string& option)
    {
      if (!path.empty() && !boost::filesystem::is_regular_file(path))
      {
        Bad(option, "is not a readable file: " + path);
      }
    }
  }
}
