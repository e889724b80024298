// Reading the "Inbound" section: typed getters that name the option in every error, and the readers of its lists.
#pragma once

#include "Configuration.h"

#include <json/value.h>

#include <cstdint>
#include <string>
#include <vector>

namespace Inbound
{
  namespace ConfigurationReader
  {
    // Every error is an OrthancException (BadFileFormat) naming the option: "Inbound.<option>".
    [[noreturn]] void Bad(const std::string& option, const std::string& why);

    // Copies "source" over "target" key by key; keys that "target" (the defaults) does not
    // have are listed in "unknown" and not copied.
    void MergeInto(Json::Value& target, const Json::Value& source, const std::string& path,
                   std::vector<std::string>& unknown);

    // The member at a dotted path ("Upload.MaxFileBytes"); missing is an error.
    const Json::Value& Member(const Json::Value& section, const std::string& path);

    std::string GetString(const Json::Value& section, const std::string& path, bool allowEmpty);

    uint64_t GetUnsigned(const Json::Value& section, const std::string& path, uint64_t min,
                         uint64_t max);

    bool GetBool(const Json::Value& section, const std::string& path);

    std::vector<std::string> GetStringList(const Json::Value& section, const std::string& path);

    // An empty path is allowed (the option is off).
    void CheckReadableFile(const std::string& path, const std::string& option);

    // ConfigurationSections.cpp: the options that are lists of entries or sections of their own.
    std::vector<Recipient> GetRecipients(const Json::Value& section);

    SmtpSettings GetSmtp(const Json::Value& section);

    NotificationSettings GetNotifications(const Json::Value& section);

    std::vector<WebhookSettings> GetWebhooks(const Json::Value& section);

    SealingSettings GetSealing(const Json::Value& section, Role role);

    // "PublicUrl": empty, or an http(s) URL without path, query or trailing slash.
    std::string GetPublicUrl(const Json::Value& section);

    RequestSettings GetRequests(const Json::Value& section);

    ScanSettings GetScan(const Json::Value& section, Role role);

    // ConfigurationPartners.cpp: "PartnerLimits" (file caps of 0 resolved to Upload's) and
    // "Partners" (checked against the recipients and the role).
    PartnerLimits GetPartnerLimits(const Json::Value& section, const UploadLimits& upload);

    std::vector<PartnerSettings> GetPartners(const Json::Value& section, Role role,
                                             const std::vector<Recipient>& recipients,
                                             const PartnerLimits& defaults);

    std::vector<ForwardRule> GetAutoForward(const Json::Value& section,
                                            const std::vector<Recipient>& recipients);

    // ConfigurationLedger.cpp: "DataDirectory" resolved as Orthanc's configuration places
    // it: the configured one, else "inbound" in Orthanc's IndexDirectory (or StorageDirectory,
    // or Orthanc's default "OrthancStorage"), so that it is backed up with Orthanc's index.
    std::string ResolveDataDirectory(const std::string& configured,
                                     const Json::Value& orthancConfiguration);

    // ConfigurationLedger.cpp: "Ledger" and, for "PostgreSQL", Orthanc's own top-level
    // "PostgreSQL" section read as Debian's orthanc-postgresql reads it (ConnectionUri wins;
    // else Host, Port, Database, Username, Password, EnableSsl) into a libpq connection string.
    LedgerLocation GetLedger(const Json::Value& section, const Json::Value& orthancConfiguration,
                             const std::string& dataDirectory, Role role);

    // ConfigurationLedger.cpp: "UploadIdPrefix": 0 to 4 characters of the upload id
    // alphabet; not on an Internal, which mints no upload ids.
    std::string GetUploadIdPrefix(const Json::Value& section, Role role);

    // One value of a libpq "key=value" connection string, always in single quotes, each single
    // quote and backslash escaped by a backslash (libpq, "Keyword/Value Connection Strings").
    std::string QuoteConnectionValue(const std::string& value);

    // ConfigurationReconciliation.cpp: "Reconciliation" (its Sources refused on a Gateway).
    ReconciliationSettings GetReconciliation(const Json::Value& section, Role role);
  }
}
