// The options that are lists of entries or sections of their own: recipients, SMTP, notifications, webhooks, auto-forwarding, sealing, request links.
#include "ConfigurationReader.h"

#include "Notify/MailMessage.h"
#include "Scan/ClamdScanner.h"
#include "Toolbox/Languages.h"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/filesystem.hpp>
#include <boost/regex.hpp>

#include <set>

namespace Inbound
{
  namespace ConfigurationReader
  {
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

    static std::string GetLanguage(const Json::Value& section, const std::string& path)
    {
      const std::string language = GetString(section, path, false);
      if (!IsLanguage(language))
      {
        Bad(path, "must be " + DescribeLanguages());
      }
      return language;
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

    static std::string GetViewerUrl(const Json::Value& s)
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

    // A list of non-empty strings whose errors name the entry ("Sealing.PublicKeys[1]").
    static std::vector<std::string> GetEntries(const Json::Value& list, const std::string& path,
                                               const std::string& what)
    {
      if (!list.isArray())
      {
        Bad(path, "must be a list, each entry " + what);
      }
      std::vector<std::string> result;
      for (Json::ArrayIndex i = 0; i < list.size(); i++)
      {
        if (!list[i].isString() || list[i].asString().empty())
        {
          Bad(path + "[" + std::to_string(i) + "]", "must be " + what);
        }
        result.push_back(list[i].asString());
      }
      return result;
    }

    SealingSettings GetSealing(const Json::Value& s, Role role)
    {
      // Whether the keys can be read is checked where they are loaded (PluginContext), so that
      // the errors name the entry there too.
      SealingSettings sealing;
      sealing.privateKey = GetString(s, "Sealing.PrivateKey", true);
      sealing.previousPrivateKeys = GetEntries(Member(s, "Sealing.PreviousPrivateKeys"),
                                               "Sealing.PreviousPrivateKeys", "a file path");
      sealing.publicKeys = GetEntries(Member(s, "Sealing.PublicKeys"), "Sealing.PublicKeys",
                                      "PEM text or the path of a PEM file");
      if (role == Role_Gateway && (!sealing.privateKey.empty() ||
                                   !sealing.previousPrivateKeys.empty()))
      {
        // The DMZ is where an attacker gets in first: a private key there would open all that
        // is sealed (doc/Security.md, "Sealed staging").
        Bad(sealing.privateKey.empty() ? "Sealing.PreviousPrivateKeys" : "Sealing.PrivateKey",
            "must not be set on a Gateway: the private key stays inside; give the gateway the "
            "public key in Inbound.Sealing.PublicKeys");
      }
      if (role != Role_Gateway && !sealing.publicKeys.empty())
      {
        Bad("Sealing.PublicKeys", "is for a Gateway only (an Internal seals nothing)");
      }
      return sealing;
    }

    std::string GetPublicUrl(const Json::Value& s)
    {
      std::string url = GetString(s, "PublicUrl", true);
      while (boost::ends_with(url, "/"))
      {
        url.pop_back();
      }
      // The links are "<PublicUrl>/inbound/r/<token>": a plain http(s) base, without query,
      // fragment, credentials or characters that would need escaping in a mail or a letter.
      static const boost::regex kUrl(
        "https?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*");
      if (!url.empty() && !boost::regex_match(url, kUrl))
      {
        Bad("PublicUrl", "must be like \"https://upload.hospital.example\" (http or https, a "
            "host, an optional port and path; no query)");
      }
      return url;
    }

    RequestSettings GetRequests(const Json::Value& s)
    {
      RequestSettings r;
      r.defaultExpiryDays = static_cast<unsigned int>(
        GetUnsigned(s, "Requests.DefaultExpiryDays", 1, 3650));
      r.maxExpiryDays = static_cast<unsigned int>(GetUnsigned(s, "Requests.MaxExpiryDays", 1, 3650));
      r.maxUploads = static_cast<unsigned int>(GetUnsigned(s, "Requests.MaxUploads", 1, 10000));
      r.maxFailures = static_cast<unsigned int>(GetUnsigned(s, "Requests.MaxFailures", 1, 100));
      r.ticketSeconds = static_cast<unsigned int>(
        GetUnsigned(s, "Requests.TicketSeconds", 60, 30 * 86400));
      if (r.defaultExpiryDays > r.maxExpiryDays)
      {
        Bad("Requests.DefaultExpiryDays", "must not exceed Requests.MaxExpiryDays");
      }
      return r;
    }

    ScanSettings GetScan(const Json::Value& s, Role role)
    {
      ScanSettings scan;
      scan.clamd = GetString(s, "Scan.Clamd", true);
      scan.timeoutSeconds = static_cast<unsigned int>(GetUnsigned(s, "Scan.Timeout", 1, 3600));
      scan.retryAfterSeconds =
        static_cast<unsigned int>(GetUnsigned(s, "Scan.RetryAfter", 1, 86400));
      scan.maxParallel = static_cast<unsigned int>(GetUnsigned(s, "Scan.MaxParallel", 1, 1000));
      ClamdAddress address;
      std::string error;
      if (!scan.clamd.empty() && !ClamdAddress::Parse(address, scan.clamd, error))
      {
        Bad("Scan.Clamd", error);
      }
      // On an Internal a scanner checks pulled files again: a gateway is trusted no more than
      // the Internet, and a compromised one would pass on what it never scanned.
      return scan;
    }

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
        // A rule that reconciles names no PatientID rule: it sends the hospital's or nothing.
        const bool reconciling = r.isObject() && r["Reconcile"].isBool() && r["Reconcile"].asBool();
        if (!r.isObject() || !r["Recipient"].isString() || !r["Modality"].isString() ||
            !(r["PatientID"].isString() || (reconciling && !r.isMember("PatientID"))) ||
            r["Modality"].asString().empty())
        {
          Bad(where, "needs the strings \"Recipient\", \"Modality\" and \"PatientID\" "
                     "(\"PatientID\" may be left out with \"Reconcile\" : true)");
        }
        for (const std::string& key : r.getMemberNames())
        {
          if (key != "Recipient" && key != "Modality" && key != "PatientID" && key != "Reconcile")
          {
            Bad(where, "unknown key \"" + key + "\"");
          }
        }
        ForwardRule rule;
        rule.recipient = r["Recipient"].asString();
        rule.modality = r["Modality"].asString();
        const std::string patientId =
          r.isMember("PatientID") ? r["PatientID"].asString() : "Namespaced";
        if (patientId == "AsSent")
          rule.asSent = true;
        else if (patientId != "Namespaced")
          Bad(where + ".PatientID", "must be \"Namespaced\" (foreign exams area) or \"AsSent\"");
        if (r.isMember("Reconcile"))
        {
          if (!r["Reconcile"].isBool())
          {
            Bad(where + ".Reconcile", "must be true or false");
          }
          rule.reconcile = r["Reconcile"].asBool();
        }
        // A reconciled forward carries the hospital's identity, an "AsSent" one the sender's:
        // both at once cannot be meant.
        if (rule.reconcile && rule.asSent)
        {
          Bad(where + ".Reconcile", "cannot be true with \"PatientID\" : \"AsSent\"");
        }
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
}
