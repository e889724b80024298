// Parses and validates the "Inbound" section of Orthanc's configuration over the embedded defaults.
#include "Configuration.h"

#include "ConfigurationReader.h"
#include "Toolbox/EmbeddedResources.h"
#include "Toolbox/Json.h"
#include "Toolbox/Languages.h"

#include <OrthancException.h>

#include <boost/filesystem.hpp>
#include <boost/regex.hpp>

#include <fstream>

namespace Inbound
{
  using namespace ConfigurationReader;

  const char* EnumerationToString(Role role)
  {
    switch (role)
    {
      case Role_Standalone:
        return "Standalone";
      case Role_Gateway:
        return "Gateway";
      case Role_Internal:
        return "Internal";
      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange);
    }
  }

  const Recipient* Configuration::LookupRecipient(const std::string& id) const
  {
    for (const Recipient& r : recipients)
    {
      if (r.id == id)
      {
        return &r;
      }
    }
    return nullptr;
  }

  const PartnerSettings* Configuration::LookupPartner(const std::string& id) const
  {
    for (const PartnerSettings& p : partners)
    {
      if (p.id == id)
      {
        return &p;
      }
    }
    return nullptr;
  }

  Json::Value Configuration::DescribeRecipient(const std::string& id) const
  {
    const Recipient* recipient = LookupRecipient(id);
    if (recipient == nullptr)
    {
      return Json::nullValue;
    }
    Json::Value json(Json::objectValue);
    json["id"] = recipient->id;
    json["name"] = recipient->name;
    return json;
  }

  Json::Value Configuration::Merge(const Json::Value& defaults, const Json::Value& userSection,
                                   std::vector<std::string>& unknownOptions)
  {
    Json::Value merged = defaults;
    if (userSection.isNull())
    {
      return merged;
    }
    if (!userSection.isObject())
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat,
                                      "Configuration option \"Inbound\" must be an object");
    }
    MergeInto(merged, userSection, "", unknownOptions);
    return merged;
  }

  Configuration Configuration::Parse(const Json::Value& userSection,
                                     const Json::Value& orthancConfiguration)
  {
    Json::Value defaults;
    std::string errors;
    if (!JsonText::ParseConfiguration(defaults, GetDefaultConfiguration(), errors))
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                      "Embedded DefaultConfiguration.json is broken: " + errors);
    }

    Configuration c;
    const Json::Value s = Merge(defaults, userSection, c.unknownOptions);

    const std::string role = GetString(s, "Role", false);
    if (role == "Standalone")
      c.role = Role_Standalone;
    else if (role == "Gateway")
      c.role = Role_Gateway;
    else if (role == "Internal")
      c.role = Role_Internal;
    else
      Bad("Role", "must be \"Standalone\", \"Gateway\" or \"Internal\", not \"" + role + "\"");

    c.dataDirectory =
      ResolveDataDirectory(GetString(s, "DataDirectory", true), orthancConfiguration);
    c.ledger = GetLedger(s, orthancConfiguration, c.dataDirectory, c.role);
    c.leaseSeconds = static_cast<unsigned int>(GetUnsigned(s, "LeaseSeconds", 10, 3600));
    c.siteName = GetString(s, "SiteName", false);
    c.privacyVersion = GetString(s, "Privacy.Version", false);
    c.privacyText = GetString(s, "Privacy.Text", false);
    c.recipients = GetRecipients(s);
    c.trustedProxies = GetStringList(s, "TrustedProxies");
    c.adminNetworks = GetStringList(s, "AdminNetworks");
    c.languages = GetStringList(s, "Languages");
    if (c.languages.empty())
    {
      Bad("Languages", "must name at least one language");
    }
    for (const std::string& language : c.languages)
    {
      if (!IsLanguage(language))
      {
        Bad("Languages", "\"" + language + "\" is not a language of the plugin: " + DescribeLanguages());
      }
    }

    // The prefix goes into every isolated PatientID (LO, 64 characters) together with the
    // 12-character upload id; keep enough room for the original PatientID.
    c.patientIdPrefix = GetString(s, "PatientIdPrefix", false);
    static const boost::regex kPrefix("[A-Za-z0-9_.-]{1,16}");
    if (!boost::regex_match(c.patientIdPrefix, kPrefix))
    {
      Bad("PatientIdPrefix", "must be 1 to 16 letters, digits, '-', '_' or '.'");
    }

    c.brandingColor = GetString(s, "Branding.PrimaryColor", true);
    static const boost::regex kColor("#[0-9A-Fa-f]{6}");
    if (!c.brandingColor.empty() && !boost::regex_match(c.brandingColor, kColor))
    {
      Bad("Branding.PrimaryColor", "must be a colour like \"#1d4f91\"");
    }
    const std::string logo = GetString(s, "Branding.Logo", true);
    if (!logo.empty())
    {
      // Read once at start-up: the page shows it from this site only (CSP), never a link.
      const std::string extension = boost::filesystem::extension(logo);
      if (extension == ".png")
        c.brandingLogoMime = "image/png";
      else if (extension == ".svg")
        c.brandingLogoMime = "image/svg+xml";
      else
        Bad("Branding.Logo", "must be a .png or .svg file");
      if (!boost::filesystem::is_regular_file(logo) ||
          boost::filesystem::file_size(logo) > 512 * 1024)
      {
        Bad("Branding.Logo", "must be a readable file of at most 512 KiB: " + logo);
      }
      std::ifstream in(logo, std::ios::binary);
      c.brandingLogo.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    const uint64_t kTiB = uint64_t(1) << 40;
    c.upload.maxFileBytes = GetUnsigned(s, "Upload.MaxFileBytes", 1024, kMaxFileBytesCap);
    // A part is a request body that Orthanc holds whole: at most a whole file's body.
    c.upload.partBytes = GetUnsigned(s, "Upload.PartBytes", uint64_t(1) << 20, kMaxWholeBodyBytes);
    // Measured with Orthanc 1.10.1 (Debian 12, DCMTK 3.6.7): a public PUT of nested sequences
    // is parsed by the plugin (DCMTK: read, isolation, write) and stored through Orthanc (which
    // parses it again and converts it to JSON), all on one civetweb thread of 100 KiB stack.
    // Files 42 sequences deep are stored, 43 kill Orthanc (SIGSEGV), whatever the encoding
    // (explicit or implicit VR, little or big endian, defined or undefined lengths, UN, deflated;
    // IntegrationTests/test_hostile_dicom.py). Real files go up to about 20 (SR content trees):
    // the default 24 keeps 18 levels of margin, and no setting may come within 10 of the crash.
    c.upload.idPrefix = GetUploadIdPrefix(s, c.role);
    c.upload.maxSequenceDepth =
      static_cast<unsigned int>(GetUnsigned(s, "Upload.MaxSequenceDepth", 1, 32));
    c.upload.maxFilesPerUpload = GetUnsigned(s, "Upload.MaxFilesPerUpload", 1, 10000000);
    c.upload.maxBytesPerUpload = GetUnsigned(s, "Upload.MaxBytesPerUpload", 1024, kTiB);
    c.upload.openTimeoutSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "Upload.OpenTimeout", 1, 30 * 86400));
    c.upload.expiryCheckIntervalSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "Upload.ExpiryCheckInterval", 1, 86400));
    if (c.upload.maxBytesPerUpload < c.upload.maxFileBytes)
    {
      Bad("Upload.MaxBytesPerUpload", "must not be smaller than Upload.MaxFileBytes");
    }

    c.text.name = GetUnsigned(s, "TextLimits.Name", 1, 1024);
    c.text.email = GetUnsigned(s, "TextLimits.Email", 6, 254);
    c.text.institution = GetUnsigned(s, "TextLimits.Institution", 1, 1024);
    c.text.phone = GetUnsigned(s, "TextLimits.Phone", 1, 64);
    c.text.message = GetUnsigned(s, "TextLimits.Message", 1, 20000);

    c.metadata.upload = GetString(s, "Metadata.Upload", false);
    c.metadata.sender = GetString(s, "Metadata.Sender", false);
    c.metadata.originalPatientId = GetString(s, "Metadata.OriginalPatientID", false);
    c.metadata.sha256 = GetString(s, "Metadata.Sha256", false);

    const uint64_t kMax = uint64_t(1) << 50;
    c.limits.requestsPerSecond = GetUnsigned(s, "Limits.RequestsPerSecond", 0, 1000000);
    c.limits.requestBurst = GetUnsigned(s, "Limits.RequestBurst", 1, 10000000);
    c.limits.bytesPerSecond = GetUnsigned(s, "Limits.BytesPerSecond", 0, kMax);
    c.limits.byteBurst = GetUnsigned(s, "Limits.ByteBurst", 1, kMax);
    c.limits.filesPerSecond = GetUnsigned(s, "Limits.FilesPerSecond", 0, 1000000);
    c.limits.fileBurst = GetUnsigned(s, "Limits.FileBurst", 1, 10000000);
    c.limits.maxUploadsInFlightPerClient =
      static_cast<unsigned int>(GetUnsigned(s, "Limits.MaxUploadsInFlightPerClient", 0, 10000));
    c.limits.maxBytesInFlight = GetUnsigned(s, "Limits.MaxBytesInFlight", 0, kMax);
    c.limits.bodyTimeoutSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "Limits.BodyTimeout", 1, 86400));
    c.limits.ipv6PrefixLength =
      static_cast<unsigned int>(GetUnsigned(s, "Limits.IPv6PrefixLength", 48, 128));
    c.audit.refusalIntervalSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "Audit.RefusalInterval", 1, 86400));
    c.audit.retentionDays = static_cast<unsigned int>(GetUnsigned(s, "Audit.RetentionDays", 0, 36500));
    // Whole bodies are at most kMaxWholeBodyBytes; bigger files come in parts.
    if (c.limits.maxBytesInFlight != 0 &&
        c.limits.maxBytesInFlight < std::min(c.upload.maxFileBytes, kMaxWholeBodyBytes))
    {
      Bad("Limits.MaxBytesInFlight",
          "must be 0 or at least Upload.MaxFileBytes (or 512 MiB when that is larger)");
    }

    c.quotas.bytesPerClient = GetUnsigned(s, "Quotas.BytesPerClientPerDay", 0, kMax);
    c.quotas.uploadsPerClient = GetUnsigned(s, "Quotas.UploadsPerClientPerDay", 0, kMax);
    c.quotas.bytesPerSender = GetUnsigned(s, "Quotas.BytesPerSenderPerDay", 0, kMax);
    c.quotas.uploadsPerSender = GetUnsigned(s, "Quotas.UploadsPerSenderPerDay", 0, kMax);
    c.quotas.bytesPerDay = GetUnsigned(s, "Quotas.BytesPerDay", 0, kMax);
    c.quotas.uploadsPerDay = GetUnsigned(s, "Quotas.UploadsPerDay", 0, kMax);

    c.dataMonitor.warnFreeBytes = GetUnsigned(s, "DataMonitor.WarnFreeBytes", 0, kMax);
    c.dataMonitor.stopFreeBytes = GetUnsigned(s, "DataMonitor.StopFreeBytes", 0, kMax);
    c.dataMonitor.warnBytesPerDay = GetUnsigned(s, "DataMonitor.WarnBytesPerDay", 0, kMax);
    c.dataMonitor.stopBytesPerDay = GetUnsigned(s, "DataMonitor.StopBytesPerDay", 0, kMax);
    c.dataMonitor.checkIntervalSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "DataMonitor.CheckInterval", 1, 3600));
    if (c.dataMonitor.warnFreeBytes != 0 && c.dataMonitor.warnFreeBytes < c.dataMonitor.stopFreeBytes)
    {
      Bad("DataMonitor.WarnFreeBytes", "must be 0 or at least DataMonitor.StopFreeBytes");
    }
    if (c.dataMonitor.stopBytesPerDay != 0 && c.dataMonitor.warnBytesPerDay > c.dataMonitor.stopBytesPerDay)
    {
      Bad("DataMonitor.WarnBytesPerDay", "must not exceed DataMonitor.StopBytesPerDay");
    }

    c.autoBan.refusals = static_cast<unsigned int>(GetUnsigned(s, "AutoBan.Refusals", 0, 1000000));
    c.autoBan.limitHits = static_cast<unsigned int>(GetUnsigned(s, "AutoBan.LimitHits", 0, 10000000));
    c.autoBan.windowSeconds = static_cast<unsigned int>(GetUnsigned(s, "AutoBan.WindowSeconds", 1, 86400));
    c.autoBan.failedLogins = static_cast<unsigned int>(GetUnsigned(s, "AutoBan.FailedLogins", 0, 1000000));
    c.autoBan.failedLoginWindowSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "AutoBan.FailedLoginWindow", 1, 7 * 86400));
    c.autoBan.banSeconds = static_cast<unsigned int>(GetUnsigned(s, "AutoBan.BanSeconds", 1, 30 * 86400));
    c.bans = GetStringList(s, "Bans");

    const Json::Value& pullers = Member(s, "Pullers");
    if (!pullers.isArray())
    {
      Bad("Pullers", "must be a list of {\"Username\", \"Password\", \"Networks\"}");
    }
    for (Json::ArrayIndex i = 0; i < pullers.size(); i++)
    {
      const std::string where = "Pullers[" + std::to_string(i) + "]";
      const Json::Value& p = pullers[i];
      if (!p.isObject() || !p["Username"].isString() || !p["Password"].isString() ||
          p["Username"].asString().empty() || p["Username"].asString().find(':') != std::string::npos)
      {
        Bad(where, "needs a \"Username\" (without ':') and a \"Password\"");
      }
      // A puller's password guards every upload: refuse a short one.
      if (p["Password"].asString().size() < 16)
      {
        Bad(where + ".Password", "must be at least 16 characters long");
      }
      PullerAccount puller;
      puller.username = p["Username"].asString();
      puller.password = p["Password"].asString();
      puller.networks = GetStringList(p, "Networks");
      if (puller.networks.empty())
      {
        Bad(where + ".Networks", "must name the networks the puller connects from");
      }
      c.pullers.push_back(puller);
    }
    c.gateways = GetStringList(s, "Gateways");
    if (c.role == Role_Internal && c.gateways.empty())
    {
      Bad("Gateways", "must name at least one entry of \"OrthancPeers\" in the Internal role");
    }
    c.retentionAlertSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "RetentionAlert", 0, 365 * 86400));
    c.gatewayAlertSeconds =
      static_cast<unsigned int>(GetUnsigned(s, "GatewayAlert", 0, 365 * 86400));
    c.smtp = GetSmtp(s);
    c.notifications = GetNotifications(s);
    c.webhooks = GetWebhooks(s);
    c.autoForward = GetAutoForward(s, c.recipients);
    c.forwarding.retryIntervalSeconds = static_cast<unsigned int>(
      GetUnsigned(s, "Forwarding.RetryInterval", 1, 86400));
    c.forwarding.maxRetryIntervalSeconds = static_cast<unsigned int>(
      GetUnsigned(s, "Forwarding.MaxRetryInterval", 1, 7 * 86400));
    c.forwarding.giveUpAfterSeconds = static_cast<unsigned int>(
      GetUnsigned(s, "Forwarding.GiveUpAfter", 1, 60 * 86400));
    c.forwarding.keepReconciledCopy = GetBool(s, "Forwarding.KeepReconciledCopy");
    if (c.forwarding.maxRetryIntervalSeconds < c.forwarding.retryIntervalSeconds)
    {
      Bad("Forwarding.MaxRetryInterval", "must not be smaller than Forwarding.RetryInterval");
    }
    c.retention.days = static_cast<unsigned int>(GetUnsigned(s, "Retention.Days", 0, 36500));
    c.retention.onlyForwarded = GetBool(s, "Retention.OnlyForwarded");
    c.reconciliation = GetReconciliation(s, c.role);
    if (c.role == Role_Gateway && (!c.autoForward.empty() || c.retention.days != 0))
    {
      Bad(c.autoForward.empty() ? "Retention.Days" : "AutoForward",
          "has no effect on a gateway, which keeps no studies");
    }

    c.publicUrl = GetPublicUrl(s);
    c.openUploads = GetBool(s, "OpenUploads");
    c.requests = GetRequests(s);
    c.sealing = GetSealing(s, c.role);
    c.scan = GetScan(s, c.role);
    c.partnerLimits = GetPartnerLimits(s, c.upload);
    c.partners = GetPartners(s, c.role, c.recipients, c.partnerLimits);

    c.security.sslEnabled = GetBool(s, "Security.AllowSslEnabled");
    c.security.authenticationEnabled = GetBool(s, "Security.AllowAuthenticationEnabled");
    c.security.remoteAccess = GetBool(s, "Security.AllowRemoteAccess");
    c.security.webDav = GetBool(s, "Security.AllowWebDav");
    c.security.dicomServer = GetBool(s, "Security.AllowDicomServer");
    c.security.httpDescribeErrors = GetBool(s, "Security.AllowHttpDescribeErrors");
    c.security.weakPasswords = GetBool(s, "Security.AllowWeakPasswords");
    c.security.lua = GetBool(s, "Security.AllowLua");
    c.security.restApiWriteToFileSystem = GetBool(s, "Security.AllowRestApiWriteToFileSystem");
    c.security.httpsNoVerify = GetBool(s, "Security.AllowHttpsNoVerify");
    c.security.otherPlugins = GetBool(s, "Security.AllowOtherPlugins");
    return c;
  }
}
