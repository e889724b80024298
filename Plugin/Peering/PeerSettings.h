// How the Internal reaches a gateway: its "OrthancPeers" entry read as Orthanc 1.10.1 reads it.
#pragma once

#include <json/value.h>

#include <map>
#include <string>

namespace Inbound
{
  // How the Internal reaches one gateway: its entry of Orthanc's "OrthancPeers", read the way
  // Orthanc 1.10.1 reads it, plus the Orthanc-wide options Orthanc's own HTTP client applies to
  // every peer ("HttpsVerifyPeers", "HttpsCACertificates", "HttpTimeout", "HttpProxy",
  // "HttpVerbose"). The same configuration therefore reaches the same gateway the same way as
  // before this plugin had its own client (doc/Architecture.md, fact 8).
  struct PeerSettings
  {
    std::string name;
    std::string url;  // ends with "/", as Orthanc adds one
    std::string username;
    std::string password;
    std::string certificateFile;  // PEM client certificate, as curl's --cert
    std::string certificateKeyFile;
    std::string certificateKeyPassword;
    std::map<std::string, std::string> httpHeaders;
    unsigned int timeoutSeconds = 0;  // the entry's "Timeout"; 0: "HttpTimeout"

    bool httpsVerifyPeers = true;
    std::string httpsCaCertificates;  // a path, relative ones from the configuration's folder
    unsigned int httpTimeoutSeconds = 0;  // 0: Orthanc's default, 60 s
    std::string httpProxy;
    bool verbose = false;

    // Throws, naming "Inbound.Gateways" and the entry, if "OrthancPeers" has no entry "name" or
    // the entry is malformed. "configurationDirectory" resolves a relative "HttpsCACertificates"
    // as Orthanc does.
    static PeerSettings Parse(const Json::Value& orthancConfiguration, const std::string& name,
                              const std::string& configurationDirectory);

    // The URL of a call: the base URL, which ends with "/", then "uri" as given. Orthanc's
    // peer client joins them so, and a gateway behind nginx already expects the "//" that a
    // "uri" starting with "/" makes.
    std::string MakeUrl(const std::string& uri) const
    {
      return url + uri;
    }

    // The total timeout of a call: the caller's if any, else the entry's, else "HttpTimeout",
    // else 60 s; the order of Orthanc's OrthancPluginCallPeerApi.
    unsigned int GetTimeoutSeconds(unsigned int callTimeoutSeconds) const;

    // Basic authentication is sent only when both the user and the password are set.
    bool HasCredentials() const
    {
      return !username.empty() && !password.empty();
    }
  };
}
