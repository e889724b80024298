#pragma once

#include <json/value.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace Inbound
{
  enum Role
  {
    Role_Standalone,
    Role_Gateway,
    Role_Internal
  };

  const char* EnumerationToString(Role role);

  struct Recipient
  {
    std::string id;
    std::string name;
    std::string email;
  };

  struct UploadLimits
  {
    uint64_t maxFileBytes = 0;
    uint64_t maxFilesPerUpload = 0;
    uint64_t maxBytesPerUpload = 0;
    unsigned int openTimeoutSeconds = 0;
    unsigned int expiryCheckIntervalSeconds = 0;
  };

  struct TextLimits
  {
    size_t name = 0;
    size_t email = 0;
    size_t institution = 0;
    size_t phone = 0;
    size_t message = 0;
  };

  struct MetadataNames
  {
    std::string upload;
    std::string sender;
    std::string originalPatientId;
    std::string sha256;
  };

  // "Inbound.Security": explicit overrides of the start-up self-check, one per setting.
  struct SecurityOverrides
  {
    bool sslEnabled = false;
    bool authenticationEnabled = false;
    bool remoteAccess = false;
    bool webDav = false;
    bool dicomServer = false;
    bool httpDescribeErrors = false;
  };

  // The "Inbound" section, typed and validated. Built from the embedded defaults with the
  // admin's section merged over them; a bad value throws, naming the option.
  struct Configuration
  {
    Role role = Role_Standalone;
    std::string dataDirectory;
    std::string siteName;
    std::string privacyVersion;
    std::string privacyText;
    std::vector<Recipient> recipients;
    std::vector<std::string> trustedProxies;
    std::vector<std::string> languages;
    std::string patientIdPrefix;
    UploadLimits upload;
    TextLimits text;
    MetadataNames metadata;
    SecurityOverrides security;

    // Options of the admin's section that the plugin does not know ("Inbound.Foo").
    std::vector<std::string> unknownOptions;

    const Recipient* LookupRecipient(const std::string& id) const;

    // "userSection" is the admin's "Inbound" object (null when absent).
    static Configuration Parse(const Json::Value& userSection);

    // The embedded defaults with "userSection" merged over them, key by key.
    static Json::Value Merge(const Json::Value& defaults, const Json::Value& userSection,
                             std::vector<std::string>& unknownOptions);
  };
}
