#include "Configuration.h"

#include "Toolbox/EmbeddedResources.h"
#include "Toolbox/Json.h"
#include "Toolbox/Languages.h"

#include <OrthancException.h>

#include "Notify/MailMessage.h"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/filesystem.hpp>
#include <boost/regex.hpp>

#include <fstream>
#include <set>

namespace Inbound
{
  namespace
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

    std::vector<Recipient> GetRecipients(const Json::Value& section)
    {
      const Json::Value& list = Member(section, "Recipients");
      if (!list.isArray())
      {
        Bad("Recipients", "must be a list of {\"Id\", \"Name\", \"Email\"}");
      }
      static const boost::regex kId("[a-z0-9][a-z0-9_-]{0,63}");
      static const boost::regex kEmail("[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}");
      std::vector<Recipient> result;
      for (Json::ArrayIndex i = 0; i < list.size(); i++)
      {
        const std::string where = "Recipients[" + std::to_string(i) + "]";
        const Json::Value& r = list[i];
        if (!r.isObject() || !r["Id"].isString() || !r["Name"].isString() ||
            !r["Email"].isString())
        {
          Bad(where, "needs the strings \"Id\", \"Name\" and \"Email\"");
        }
        Recipient recipient;
        recipient.id = r["Id"].asString();
        recipient.name = r["Name"].asString();
        recipient.email = r["Email"].asString();
        if (r.isMember("Language"))
        {
          if (!r["Language"].isString() || !IsLanguage(r["Language"].asString()))
          {
            Bad(where + ".Language", "must be " + DescribeLanguages());
          }
          recipient.language = r["Language"].asString();
        }
        if (!boost::regex_match(recipient.id, kId))
        {
          Bad(where + ".Id", "must be lower-case letters, digits, '-' or '_' (at most 64)");
        }
        if (recipient.name.empty())
        {
          Bad(where + ".Name", "must not be empty");
        }
        if (!boost::regex_match(recipient.email, kEmail) || !MailAddress::IsValidAddress(recipient.email))
        {
          Bad(where + ".Email", "is not an e-mail address");
        }
        for (const Recipient& other : result)
        {
          if (other.id == recipient.id)
          {
            Bad(where + ".Id", "\"" + recipient.id + "\" is used twice");
          }
        }
        for (const std::string& key : r.getMemberNames())
        {
          if (key != "Id" && key != "Name" && key != "Email" && key != "Language")
          {
            Bad(where, "unknown key \"" + key + "\"");
          }
        }
        result.push_back(recipient);
      }
      return result;
    }

    std::string GetLanguage(const Json::Value& section, const std::string& path)
    {
      const std::string language = GetString(section, path, false);
      if (!IsLanguage(language))
      {
        Bad(path, "must be " + DescribeLanguages());
      }
      return language;
    }

    void CheckReadableFile(const std::string& path, const std::string& option)
    {
      if (!path.empty() && !boost::filesystem::is_regular_file(path))
      {
        Bad(option, "is not a readable file: " + path);
      }
    }

    SmtpSettings GetSmtp(const Json::Value& s)
    {
      SmtpSettings smtp;
      smtp.host = GetString(s, "Smtp.Host", true);
      smtp.port = static_cast<unsigned int>(GetUnsigned(s, "Smtp.Port", 1, 65535));
      const std::string security = GetString(s, "Smtp.Security", false);
      if (security == "None")
        smtp.security = SmtpSecurity_None;
      else if (security == "StartTls")
        smtp.security = SmtpSecurity_StartTls;
      else if (security == "Tls")
        smtp.security = SmtpSecurity_Tls;
      else
        Bad("Smtp.Security", "must be \"None\", \"StartTls\" or \"Tls\"");
      smtp.username = GetString(s, "Smtp.Username", true);
      smtp.password = GetString(s, "Smtp.Password", true);
      smtp.from = GetString(s, "Smtp.From", true);
      smtp.caCertificates = GetString(s, "Smtp.CACertificates", true);
      CheckReadableFile(smtp.caCertificates, "Smtp.CACertificates");
      smtp.verifyCertificate = GetBool(s, "Smtp.VerifyCertificate");
      smtp.timeoutSeconds = static_cast<unsigned int>(GetUnsigned(s, "Smtp.Timeout", 1, 600));
      static const boost::regex kHost("[A-Za-z0-9.:-]{1,253}");
      if (!smtp.host.empty())
      {
        if (!boost::regex_match(smtp.host, kHost))
        {
          Bad("Smtp.Host", "must be a host name or address");
        }
        MailAddress from;
        if (!MailAddress::Parse(from, smtp.from))
        {
          Bad("Smtp.From", "must be an address like \"Orthanc Inbound <inbound@hospital.example>\"");
        }
      }
      return smtp;
    }

    std::string GetViewerUrl(const Json::Value& s)
    {
      const std::string viewer = GetString(s, "Notifications.Viewer", false);
      static const std::map<std::string, std::string> kForms = {
        {"Explorer", "{OrthancUrl}/app/explorer.html#study?uuid={OrthancStudyId}"},
        {"Stone", "{OrthancUrl}/stone-webviewer/index.html?study={StudyInstanceUID}"},
        {"OHIF", "{OrthancUrl}/ohif/viewer?StudyInstanceUIDs={StudyInstanceUID}"},
        {"OsimisViewer", "{OrthancUrl}/osimis-viewer/app/index.html?study={OrthancStudyId}"},
        {"WebViewer", "{OrthancUrl}/web-viewer/app/viewer.html?series={OrthancSeriesId}"}};
      const auto found = kForms.find(viewer);
      if (found != kForms.end())
      {
        return found->second;
      }
      const bool names = viewer.find("{OrthancStudyId}") != std::string::npos ||
                         viewer.find("{StudyInstanceUID}") != std::string::npos ||
                         viewer.find("{OrthancSeriesId}") != std::string::npos;
      const bool absolute = boost::starts_with(viewer, "{OrthancUrl}") ||
                            boost::starts_with(viewer, "https://") ||
                            boost::starts_with(viewer, "http://");
      if (!names || !absolute)
      {
        Bad("Notifications.Viewer",
            "must be \"Explorer\", \"Stone\", \"OHIF\", \"OsimisViewer\", \"WebViewer\" or a "
            "URL template starting with {OrthancUrl} or https:// that names {OrthancStudyId}, "
            "{StudyInstanceUID} or {OrthancSeriesId}");
      }
      return viewer;
    }

    NotificationSettings GetNotifications(const Json::Value& s)
    {
      NotificationSettings n;
      n.mailRecipient = GetBool(s, "Notifications.MailRecipient");
      n.senderReceipt = GetBool(s, "Notifications.SenderReceipt");
      n.receiptsPerAddressPerDay = static_cast<unsigned int>(
        GetUnsigned(s, "Notifications.ReceiptsPerAddressPerDay", 1, 1000));
      n.adminEmails = GetStringList(s, "Notifications.AdminEmails");
      for (const std::string& address : n.adminEmails)
      {
        MailAddress parsed;
        if (!MailAddress::Parse(parsed, address))
        {
          Bad("Notifications.AdminEmails", "\"" + address + "\" is not an e-mail address");
        }
      }
      n.adminAlertIntervalSeconds = static_cast<unsigned int>(
        GetUnsigned(s, "Notifications.AdminAlertInterval", 0, 7 * 86400));
      n.language = GetLanguage(s, "Notifications.Language");
      n.includePatientData = GetBool(s, "Notifications.IncludePatientData");
      n.orthancUrl = GetString(s, "Notifications.OrthancUrl", true);
      while (boost::ends_with(n.orthancUrl, "/"))
      {
        n.orthancUrl.pop_back();
      }
      if (!n.orthancUrl.empty() && !boost::starts_with(n.orthancUrl, "https://") &&
          !boost::starts_with(n.orthancUrl, "http://"))
      {
        Bad("Notifications.OrthancUrl", "must start with https:// or http://");
      }
      n.viewerUrl = GetViewerUrl(s);
      n.templates = GetString(s, "Notifications.Templates", true);
      if (!n.templates.empty() && !boost::filesystem::is_directory(n.templates))
      {
        Bad("Notifications.Templates", "is not a folder: " + n.templates);
      }
      n.retryIntervalSeconds = static_cast<unsigned int>(
        GetUnsigned(s, "Notifications.RetryInterval", 1, 86400));
      n.maxRetryIntervalSeconds = static_cast<unsigned int>(
        GetUnsigned(s, "Notifications.MaxRetryInterval", 1, 7 * 86400));
      n.giveUpAfterSeconds = static_cast<unsigned int>(
        GetUnsigned(s, "Notifications.GiveUpAfter", 1, 60 * 86400));
      if (n.maxRetryIntervalSeconds < n.retryIntervalSeconds)
      {
        Bad("Notifications.MaxRetryInterval", "must not be smaller than Notifications.RetryInterval");
      }
      return n;
    }

    std::vector<WebhookSettings> GetWebhooks(const Json::Value& s)
    {
      static const std::set<std::string> kEvents = {"upload.completed", "upload.delivered",
                                                    "upload.forwarded", "alert"};
      const Json::Value& list = Member(s, "Webhooks");
      if (!list.isArray())
      {
        Bad("Webhooks", "must be a list of {\"Url\", \"Secret\", \"Events\"}");
      }
      std::vector<WebhookSettings> result;
      for (Json::ArrayIndex i = 0; i < list.size(); i++)
      {
        const std::string where = "Webhooks[" + std::to_string(i) + "]";
        const Json::Value& w = list[i];
        if (!w.isObject() || !w["Url"].isString() || !w["Secret"].isString())
        {
          Bad(where, "needs the strings \"Url\" and \"Secret\"");
        }
        WebhookSettings hook;
        hook.url = w["Url"].asString();
        hook.secret = w["Secret"].asString();
        static const boost::regex kUrl("https://[^\\s]+");
        if (!boost::regex_match(hook.url, kUrl))
        {
          Bad(where + ".Url", "must be an https:// URL");
        }
        if (hook.secret.size() < 16)
        {
          Bad(where + ".Secret", "must be at least 16 characters long");
        }
        for (const std::string& key : w.getMemberNames())
        {
          if (key != "Url" && key != "Secret" && key != "Events" && key != "CACertificates")
          {
            Bad(where, "unknown key \"" + key + "\"");
          }
        }
        if (w.isMember("Events"))
        {
          if (!w["Events"].isArray())
          {
            Bad(where + ".Events", "must be a list of event names");
          }
          for (const Json::Value& e : w["Events"])
          {
            if (!e.isString())
            {
              Bad(where + ".Events", "must be a list of event names");
            }
            hook.events.push_back(e.asString());
          }
          for (const std::string& e : hook.events)
          {
            if (kEvents.count(e) == 0)
            {
              Bad(where + ".Events", "unknown event \"" + e + "\" (known: upload.completed, "
                  "upload.delivered, upload.forwarded, alert)");
            }
          }
        }
        if (w.isMember("CACertificates"))
        {
          if (!w["CACertificates"].isString())
          {
            Bad(where + ".CACertificates", "must be a string");
          }
          hook.caCertificates = w["CACertificates"].asString();
          CheckReadableFile(hook.caCertificates, where + ".CACertificates");
        }
        result.push_back(hook);
      }
      return result;
    }
  }

  namespace
  {
    std::vector<ForwardRule> GetAutoForward(const Json::Value& s,
                                            const std::vector<Recipient>& recipients)
    {
      const Json::Value& list = Member(s, "AutoForward");
      if (!list.isArray())
      {
        Bad("AutoForward", "must be a list of {\"Recipient\", \"Modality\", \"PatientID\"}");
      }
      std::vector<ForwardRule> result;
      for (Json::ArrayIndex i = 0; i < list.size(); i++)
      {
        const std::string where = "AutoForward[" + std::to_string(i) + "]";
        const Json::Value& r = list[i];
        if (!r.isObject() || !r["Recipient"].isString() || !r["Modality"].isString() ||
            !r["PatientID"].isString() || r["Modality"].asString().empty())
        {
          Bad(where, "needs the strings \"Recipient\", \"Modality\" and \"PatientID\"");
        }
        for (const std::string& key : r.getMemberNames())
        {
          if (key != "Recipient" && key != "Modality" && key != "PatientID")
          {
            Bad(where, "unknown key \"" + key + "\"");
          }
        }
        ForwardRule rule;
        rule.recipient = r["Recipient"].asString();
        rule.modality = r["Modality"].asString();
        const std::string patientId = r["PatientID"].asString();
        if (patientId == "AsSent")
          rule.asSent = true;
        else if (patientId != "Namespaced")
          Bad(where + ".PatientID", "must be \"Namespaced\" (foreign exams area) or \"AsSent\"");
        bool known = rule.recipient == "*";
        for (const Recipient& recipient : recipients)
        {
          known = known || recipient.id == rule.recipient;
        }
        if (!known)
        {
          Bad(where + ".Recipient", "\"" + rule.recipient + "\" is not in Inbound.Recipients (or \"*\")");
        }
        result.push_back(rule);
      }
      return result;
    }
  }

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

  Configuration Configuration::Parse(const Json::Value& userSection)
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

    c.dataDirectory = GetString(s, "DataDirectory", true);
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
    c.upload.maxFileBytes = GetUnsigned(s, "Upload.MaxFileBytes", 1024, 4 * (uint64_t(1) << 30));
    // Measured with Orthanc 1.10.1 (Debian 12, DCMTK 3.6.7): a public PUT of nested sequences
    // is parsed by the plugin (DCMTK: read, isolation, write) and stored through Orthanc (which
    // parses it again and converts it to JSON), all on one civetweb thread of 100 KiB stack.
    // Files 42 sequences deep are stored, 43 kill Orthanc (SIGSEGV), whatever the encoding
    // (explicit or implicit VR, little or big endian, defined or undefined lengths, UN, deflated;
    // IntegrationTests/test_hostile_dicom.py). Real files go up to about 20 (SR content trees):
    // the default 24 keeps 18 levels of margin, and no setting may come within 10 of the crash.
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
    if (c.limits.maxBytesInFlight != 0 && c.limits.maxBytesInFlight < c.upload.maxFileBytes)
    {
      Bad("Limits.MaxBytesInFlight", "must be 0 or at least Upload.MaxFileBytes");
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
    if (c.role == Role_Gateway && (!c.autoForward.empty() || c.retention.days != 0))
    {
      Bad(c.autoForward.empty() ? "Retention.Days" : "AutoForward",
          "has no effect on a gateway, which keeps no studies");
    }

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
