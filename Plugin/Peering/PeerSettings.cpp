// Reads an "OrthancPeers" entry and the global HTTP options the way Orthanc does, strictly.
#include "PeerSettings.h"

#include <OrthancException.h>

#include <boost/filesystem/path.hpp>

namespace Inbound
{
  namespace
  {
    const unsigned int kOrthancDefaultTimeoutSeconds = 60;

    class EntryReader
    {
    private:
      std::string name_;

    public:
      explicit EntryReader(const std::string& name) :
        name_(name)
      {
      }

      [[noreturn]] void Bad(const std::string& why) const
      {
        throw Orthanc::OrthancException(
          Orthanc::ErrorCode_BadFileFormat,
          "Orthanc's \"OrthancPeers\" entry \"" + name_ + "\", named by \"Inbound.Gateways\": " +
            why);
      }

      std::string GetString(const Json::Value& entry, const std::string& key) const
      {
        if (!entry.isMember(key))
        {
          return "";
        }
        if (!entry[key].isString())
        {
          Bad("\"" + key + "\" must be a string");
        }
        return entry[key].asString();
      }
    };

    [[noreturn]] void BadGlobal(const std::string& option, const std::string& why)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      "Orthanc's option \"" + option + "\" " + why);
    }

    bool GetGlobalBool(const Json::Value& configuration, const std::string& key, bool fallback)
    {
      if (!configuration.isMember(key))
      {
        return fallback;
      }
      if (!configuration[key].isBool())
      {
        BadGlobal(key, "must be true or false");
      }
      return configuration[key].asBool();
    }

    std::string GetGlobalString(const Json::Value& configuration, const std::string& key)
    {
      if (!configuration.isMember(key))
      {
        return "";
      }
      if (!configuration[key].isString())
      {
        BadGlobal(key, "must be a string");
      }
      return configuration[key].asString();
    }

    bool ReadSeconds(unsigned int& target, const Json::Value& value)
    {
      if (!value.isUInt() || value.asUInt() > 24 * 3600)
      {
        return false;
      }
      target = value.asUInt();
      return true;
    }

    // Orthanc takes a URL without "://" (curl then guesses; the client makes that http), and
    // otherwise only http:// and https://, case-sensitively.
    void SetUrl(PeerSettings& settings, const EntryReader& reader, const std::string& url)
    {
      if (url.empty())
      {
        reader.Bad("the URL is empty");
      }
      if (url.find("://") != std::string::npos && url.compare(0, 7, "http://") != 0 &&
          url.compare(0, 8, "https://") != 0)
      {
        reader.Bad("the URL must start with http:// or https://: " + url);
      }
      settings.url = (url.back() == '/' ? url : url + "/");
    }

    void ReadSimpleEntry(PeerSettings& settings, const EntryReader& reader,
                         const Json::Value& entry)
    {
      for (const Json::Value& item : entry)
      {
        if (!item.isString())
        {
          reader.Bad("the items of [\"url\", \"user\", \"password\"] must be strings");
        }
      }
      if (entry.size() == 2)
      {
        reader.Bad("the HTTP password is not provided");
      }
      if (entry.size() != 1 && entry.size() != 3)
      {
        reader.Bad("must be [\"url\"] or [\"url\", \"user\", \"password\"]");
      }
      SetUrl(settings, reader, entry[0].asString());
      if (entry.size() == 3)
      {
        settings.username = entry[1].asString();
        settings.password = entry[2].asString();
      }
    }

    void ReadAdvancedEntry(PeerSettings& settings, const EntryReader& reader,
                           const Json::Value& entry)
    {
      const std::string url = reader.GetString(entry, "Url");
      SetUrl(settings, reader, url.empty() ? reader.GetString(entry, "URL") : url);
      settings.username = reader.GetString(entry, "Username");
      settings.password = reader.GetString(entry, "Password");
      settings.certificateFile = reader.GetString(entry, "CertificateFile");
      if (!settings.certificateFile.empty())
      {
        // Orthanc ignores the key and its password without a certificate; so do we.
        settings.certificateKeyFile = reader.GetString(entry, "CertificateKeyFile");
        settings.certificateKeyPassword = reader.GetString(entry, "CertificateKeyPassword");
      }
      if (entry.isMember("Pkcs11"))
      {
        if (!entry["Pkcs11"].isBool())
        {
          reader.Bad("\"Pkcs11\" must be true or false");
        }
        if (entry["Pkcs11"].asBool())
        {
          reader.Bad("\"Pkcs11\" is not supported for a gateway: use \"CertificateFile\"");
        }
      }
      if (entry.isMember("HttpHeaders"))
      {
        const Json::Value& headers = entry["HttpHeaders"];
        if (!headers.isObject())
        {
          reader.Bad("\"HttpHeaders\" must be an object of strings");
        }
        for (const std::string& key : headers.getMemberNames())
        {
          // A name or value holding a line break would add headers of its own to the request.
          if (!headers[key].isString() || key.empty() ||
              key.find_first_of(":\r\n") != std::string::npos ||
              headers[key].asString().find_first_of("\r\n") != std::string::npos)
          {
            reader.Bad("\"HttpHeaders\" must map header names to one-line strings");
          }
          settings.httpHeaders[key] = headers[key].asString();
        }
      }
      if (entry.isMember("Timeout") && !ReadSeconds(settings.timeoutSeconds, entry["Timeout"]))
      {
        reader.Bad("\"Timeout\" must be a number of seconds");
      }
    }
  }

  PeerSettings PeerSettings::Parse(const Json::Value& orthancConfiguration,
                                   const std::string& name,
                                   const std::string& configurationDirectory)
  {
    if (GetGlobalBool(orthancConfiguration, "OrthancPeersInDatabase", false))
    {
      BadGlobal("OrthancPeersInDatabase",
                "must be false in the Internal role: the gateways of \"Inbound.Gateways\" are "
                "read from \"OrthancPeers\" in the configuration file");
    }
    const Json::Value& peers = orthancConfiguration["OrthancPeers"];
    if (!peers.isObject() || !peers.isMember(name))
    {
      throw Orthanc::OrthancException(
        Orthanc::ErrorCode_BadFileFormat,
        "Configuration option \"Inbound.Gateways\": \"" + name +
          "\" is not an entry of Orthanc's \"OrthancPeers\"");
    }
    PeerSettings settings;
    settings.name = name;
    const EntryReader reader(name);
    const Json::Value& entry = peers[name];
    if (entry.isArray())
    {
      ReadSimpleEntry(settings, reader, entry);
    }
    else if (entry.isObject())
    {
      ReadAdvancedEntry(settings, reader, entry);
    }
    else
    {
      reader.Bad("must be an array or an object");
    }
    if (settings.username.empty() && !settings.password.empty())
    {
      reader.Bad("a password is given without a user name");
    }

    settings.httpsVerifyPeers = GetGlobalBool(orthancConfiguration, "HttpsVerifyPeers", true);
    const std::string ca = GetGlobalString(orthancConfiguration, "HttpsCACertificates");
    if (!ca.empty())
    {
      const boost::filesystem::path path(ca);
      settings.httpsCaCertificates =
        path.is_absolute() ? ca : (boost::filesystem::path(configurationDirectory) / path).string();
    }
    else if (settings.httpsVerifyPeers && settings.url.compare(0, 8, "https://") == 0)
    {
      // Orthanc itself then fails every HTTPS call with an obscure TLS error; say it at once.
      BadGlobal("HttpsCACertificates",
                "must name the certificates that sign gateway \"" + name + "\"'s (e.g. "
                "\"/etc/ssl/certs/ca-certificates.crt\" or the gateway's own CA)");
    }
    if (orthancConfiguration.isMember("HttpTimeout") &&
        !ReadSeconds(settings.httpTimeoutSeconds, orthancConfiguration["HttpTimeout"]))
    {
      BadGlobal("HttpTimeout", "must be a number of seconds");
    }
    settings.httpProxy = GetGlobalString(orthancConfiguration, "HttpProxy");
    settings.verbose = GetGlobalBool(orthancConfiguration, "HttpVerbose", false);
    return settings;
  }

  unsigned int PeerSettings::GetTimeoutSeconds(unsigned int callTimeoutSeconds) const
  {
    if (callTimeoutSeconds != 0)
    {
      return callTimeoutSeconds;
    }
    if (timeoutSeconds != 0)
    {
      return timeoutSeconds;
    }
    return httpTimeoutSeconds != 0 ? httpTimeoutSeconds : kOrthancDefaultTimeoutSeconds;
  }
}
