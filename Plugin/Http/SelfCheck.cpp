#include "SelfCheck.h"

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
  }

  std::vector<std::string> FindUnsafeSettings(const Json::Value& orthanc,
                                              const Configuration& configuration)
  {
    std::vector<std::string> findings;
    if (configuration.role == Role_Internal)
    {
      return findings;  // inside the hospital: no public routes
    }
    const SecurityOverrides& allow = configuration.security;
    const bool remote = GetBool(orthanc, "RemoteAccessAllowed", false);

    Check(findings, GetBool(orthanc, "SslEnabled", false), allow.sslEnabled, "SslEnabled",
          "Orthanc's built-in HTTPS crashes on Debian 12; terminate TLS in the reverse proxy",
          "AllowSslEnabled");
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
    Check(findings,
          configuration.role == Role_Gateway && GetBool(orthanc, "DicomServerEnabled", true),
          allow.dicomServer, "DicomServerEnabled",
          "a gateway in the DMZ must not accept DICOM associations; set it to false",
          "AllowDicomServer");
    Check(findings, GetBool(orthanc, "HttpDescribeErrors", true), allow.httpDescribeErrors,
          "HttpDescribeErrors",
          "Orthanc would describe its internal errors to anonymous clients; set it to false",
          "AllowHttpDescribeErrors");
    return findings;
  }
}
