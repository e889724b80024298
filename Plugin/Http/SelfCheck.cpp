// Finds the Orthanc settings that are unsafe for the role, each with its override; other plugins.
#include "SelfCheck.h"

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/filesystem.hpp>

namespace Inbound
{
  namespace
  {
    // Orthanc's own defaults for the settings checked here (Orthanc 1.10.1).
    bool GetBool(const Json::Value& config, const char* key, bool orthancDefault)
    {
      return config.isMember(key) && config[key].isBool() ? config[key].asBool() : orthancDefault;
    }

    void Check(std::vector<std::string>& findings, bool unsafe, bool allowed,
               const std::string& setting, const std::string& why, const std::string& override)
    {
      if (unsafe && !allowed)
      {
        findings.push_back("\"" + setting + "\": " + why + " (to keep it anyway, set \"Inbound.Security." +
                           override + "\" to true)");
      }
    }

    std::string WeakUsers(const Json::Value& orthanc, const Configuration& configuration)
    {
      std::string weak;
      const Json::Value& users = orthanc["RegisteredUsers"];
      if (users.isObject())
      {
        for (const std::string& name : users.getMemberNames())
        {
          if (!users[name].isString() || IsWeakPassword(users[name].asString()))
          {
            weak += (weak.empty() ? "" : ", ") + ("\"RegisteredUsers." + name + "\"");
          }
        }
      }
      for (const PullerAccount& puller : configuration.pullers)
      {
        if (IsWeakPassword(puller.password))
        {
          weak += (weak.empty() ? "" : ", ") + ("the puller \"" + puller.username + "\"");
        }
      }
      return weak;
    }

    bool HasLuaScripts(const Json::Value& orthanc)
    {
      const Json::Value& scripts = orthanc["LuaScripts"];
      return (scripts.isArray() && !scripts.empty()) || (scripts.isString() && !scripts.asString().empty());
    }
  }

  bool IsWeakPassword(const std::string& password)
  {
    const std::string lower = boost::algorithm::to_lower_copy(password);
    return password.size() < 16 || lower.find("change-me") != std::string::npos ||
           lower.find("changeme") != std::string::npos || lower.find("change_me") != std::string::npos;
  }

  std::vector<std::string> FindUnsafeSettings(const Json::Value& orthanc,
                                              const Configuration& configuration,
                                              const std::vector<std::string>& otherPlugins)
  {
    std::vector<std::string> findings;
    const SecurityOverrides& allow = configuration.security;
    const bool isPublic = (configuration.role != Role_Internal);
    const bool remote = GetBool(orthanc, "RemoteAccessAllowed", false);

    // Every role.
    Check(findings, GetBool(orthanc, "SslEnabled", false), allow.sslEnabled, "SslEnabled",
          "Orthanc's built-in HTTPS crashes on Debian 12; terminate TLS in the reverse proxy",
          "AllowSslEnabled");
    const std::string weak = WeakUsers(orthanc, configuration);
    Check(findings, !weak.empty(), allow.weakPasswords, "RegisteredUsers",
          "a password under 16 characters or a sample's placeholder (" + weak +
            "); choose a long random one, e.g. \"openssl rand -base64 24\"",
          "AllowWeakPasswords");
    Check(findings, GetBool(orthanc, "ExecuteLuaEnabled", false) || HasLuaScripts(orthanc),
          allow.lua, GetBool(orthanc, "ExecuteLuaEnabled", false) ? "ExecuteLuaEnabled" : "LuaScripts",
          "Lua runs with Orthanc's rights and sees every received file before the plugin's "
          "rules; set \"ExecuteLuaEnabled\" to false and remove \"LuaScripts\"",
          "AllowLua");
    Check(findings, GetBool(orthanc, "RestApiWriteToFileSystemEnabled", false),
          allow.restApiWriteToFileSystem, "RestApiWriteToFileSystemEnabled",
          "lets a REST call write files anywhere Orthanc may; set it to false",
          "AllowRestApiWriteToFileSystem");
    Check(findings, !GetBool(orthanc, "HttpsVerifyPeers", true), allow.httpsNoVerify,
          "HttpsVerifyPeers",
          "is false: pulls from a gateway and calls to peers would accept any certificate; "
          "give the gateway's CA in \"HttpsCACertificates\" instead",
          "AllowHttpsNoVerify");

    if (isPublic)
    {
      // Orthanc turns its authentication on by itself when remote access is allowed and the
      // option is absent.
      Check(findings, GetBool(orthanc, "AuthenticationEnabled", remote), allow.authenticationEnabled,
            "AuthenticationEnabled",
            "must be false: it runs before the plugin and would close the public upload routes; "
            "the plugin protects every other route with \"RegisteredUsers\"",
            "AllowAuthenticationEnabled");
      Check(findings, remote && configuration.trustedProxies.empty(), allow.remoteAccess,
            "RemoteAccessAllowed",
            "is true without \"Inbound.TrustedProxies\": Orthanc would face the network without the "
            "TLS proxy in front; keep it false and let the proxy on this host connect to 127.0.0.1",
            "AllowRemoteAccess");
      Check(findings, GetBool(orthanc, "WebDavEnabled", true), allow.webDav, "WebDavEnabled",
            "WebDAV accepts uploads past the plugin's checks; set it to false", "AllowWebDav");
      Check(findings, GetBool(orthanc, "HttpDescribeErrors", true), allow.httpDescribeErrors,
            "HttpDescribeErrors",
            "Orthanc would describe its internal errors to anonymous clients; set it to false",
            "AllowHttpDescribeErrors");
    }

    const bool dicomServer = GetBool(orthanc, "DicomServerEnabled", true);
    if (configuration.role == Role_Gateway)
    {
      Check(findings, dicomServer, allow.dicomServer, "DicomServerEnabled",
            "a gateway in the DMZ must not accept DICOM associations; set it to false",
            "AllowDicomServer");
      std::string names;
      for (const std::string& plugin : otherPlugins)
      {
        names += (names.empty() ? "" : ", ") + plugin;
      }
      Check(findings, !otherPlugins.empty(), allow.otherPlugins, "Plugins",
            "a gateway loads other plugins (" + names + "): their routes and tokens are not "
            "behind this plugin's rules; load this plugin only",
            "AllowOtherPlugins");
    }
    else if (configuration.role == Role_Standalone)
    {
      // Orthanc 1.10.1 listens for DICOM on every interface; with "DicomAlwaysAllowStore" any
      // caller could C-STORE past the isolation, the quotas and the audit trail.
      const bool storeRestricted = !GetBool(orthanc, "DicomAlwaysAllowStore", true) &&
                                   GetBool(orthanc, "DicomCheckModalityHost", false);
      Check(findings, dicomServer && !storeRestricted, allow.dicomServer, "DicomServerEnabled",
            "Orthanc's DICOM port (\"DicomPort\", every interface) accepts C-STORE from anyone, "
            "past the isolation and the quotas; set it to false, or set \"DicomAlwaysAllowStore\" "
            "to false and \"DicomCheckModalityHost\" to true so that only the \"DicomModalities\" "
            "may store",
            "AllowDicomServer");
    }
    return findings;
  }

  std::vector<std::string> ListOtherPlugins(const Json::Value& orthanc, const std::string& ownPath,
                                            const std::string& configurationDirectory)
  {
    namespace fs = boost::filesystem;
    std::vector<std::string> others;
    const Json::Value& entries = orthanc["Plugins"];
    if (!entries.isArray())
    {
      return others;
    }
    boost::system::error_code ec;
    const fs::path own = fs::canonical(ownPath, ec);
    auto consider = [&](const fs::path& file) {
      boost::system::error_code e;
      const fs::path resolved = fs::canonical(file, e);
      if (!e && !(resolved == own))
      {
        others.push_back(file.string());
      }
    };
    for (const Json::Value& entry : entries)
    {
      if (!entry.isString())
        continue;
      fs::path path(entry.asString());
      if (path.is_relative() && !configurationDirectory.empty())
      {
        path = fs::path(configurationDirectory) / path;
      }
      if (fs::is_directory(path, ec))
      {
        for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
        {
          if (it->path().extension() == ".so" && !fs::is_directory(it->path(), ec))
          {
            consider(it->path());
          }
        }
      }
      else if (fs::exists(path, ec))
      {
        consider(path);
      }
    }
    return others;
  }
}
