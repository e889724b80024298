// What a notification says: mails rendered from the templates, webhook bodies, their ids.
#include "NotificationPayloads.h"

#include "Requests/PatientMatch.h"

#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/Time.h"
#include "Upload/StudySummary.h"

#include <boost/algorithm/string/replace.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>

#include <algorithm>
#include <set>

namespace Inbound
{
  namespace
  {
    // "2026-11-23 12:34 UTC"
    std::string FormatHumanTime(int64_t ms)
    {
      const std::string iso = FormatIso8601(ms);
      return iso.substr(0, 10) + " " + iso.substr(11, 5) + " UTC";
    }

    std::string AlertTitle(const std::string& type, const std::string& language)
    {
      struct Title
      {
        const char* type;
        const char* en;
        const char* de;
      };
      static const Title kTitles[] = {
        {"data-monitor-warning", "Storage is running low or much data arrived today",
         "Speicherplatz wird knapp oder heute kamen sehr viele Daten"},
        {"data-monitor-stopped", "Storage stopped accepting new data",
         "Die Annahme neuer Daten ist gestoppt"},
        {"data-monitor-ok", "Storage is back to normal", "Der Speicher ist wieder im Normalbereich"},
        {"auto-ban", "A client was banned automatically", "Ein Client wurde automatisch gesperrt"},
        {"retention", "An upload has waited too long at the gateway",
         "Eine Sendung wartet zu lange am Gateway"},
        {"upload-held", "An upload was held: its integrity check failed",
         "Eine Sendung wurde zurückgehalten: Integritätsprüfung fehlgeschlagen"},
        {"gateway-unreachable", "A gateway cannot be reached", "Ein Gateway ist nicht erreichbar"},
        {"gateway-misbehaving", "A gateway sent data that breaks the rules",
         "Ein Gateway hat regelwidrige Daten gesendet"},
        {"forward-failed", "Forwarding to the PACS failed",
         "Die Weiterleitung an das PACS ist fehlgeschlagen"},
        {"notification-failed", "A notification could not be delivered",
         "Eine Benachrichtigung konnte nicht zugestellt werden"},
        {"malware", "A file was refused: the malware scanner found malware in it",
         "Eine Datei wurde abgewiesen: der Virenscanner hat Schadsoftware gefunden"},
        {"scanner-unavailable", "The malware scanner cannot scan: uploads are refused",
         "Der Virenscanner arbeitet nicht: Sendungen werden abgewiesen"},
        {"request-locked", "A request link locked after repeated wrong answers",
         "Ein Anfrage-Link wurde nach wiederholt falschen Antworten gesperrt"},
        {"request-unknown", "A gateway bound an upload to a request that is not valid here",
         "Ein Gateway hat eine Sendung an eine hier ungültige Anfrage gebunden"},
        {"partner-silent", "A partner site has sent nothing for too long",
         "Eine Partnerklinik hat zu lange nichts gesendet"},
      };
      for (const Title& t : kTitles)
      {
        if (type == t.type)
        {
          return language == "de" ? t.de : t.en;
        }
      }
      return type;
    }

    // "DOE, JANE MARIE, born 1970-01-31" from the DICOM name's first group and the date.
    std::string FormatPatient(const RequestPatient& patient)
    {
      std::vector<std::string> components;
      const std::string name = patient.name.substr(0, patient.name.find('='));
      boost::algorithm::split(components, name, [](char c) { return c == '^'; });
      std::string family = boost::algorithm::trim_copy(components[0]);
      std::string given;
      for (size_t i = 1; i < components.size(); i++)
      {
        const std::string part = boost::algorithm::trim_copy(components[i]);
        if (!part.empty())
        {
          given += (given.empty() ? "" : " ") + part;
        }
      }
      std::string result = family;
      if (!given.empty())
      {
        result += (result.empty() ? "" : ", ") + given;
      }
      const std::string& d = patient.birthDate;
      if (d.size() == 8)
      {
        result += (result.empty() ? "born " : ", born ") + d.substr(0, 4) + "-" +
                  d.substr(4, 2) + "-" + d.substr(6, 2);
      }
      return result;
    }

    std::string Join(const std::set<std::string>& values)
    {
      std::string result;
      for (const std::string& v : values)
      {
        result += (result.empty() ? "" : ", ") + v;
      }
      return result;
    }
  }

  NotificationPayloads::NotificationPayloads(const Configuration& configuration,
                                             const MailTemplates& templates,
                                             const MailAddress& from) :
    configuration_(configuration),
    templates_(templates),
    from_(from)
  {
  }

  std::string NotificationPayloads::EventKey(const AuditEvent& event)
  {
    return std::to_string(event.seq) + "@" + std::to_string(event.time);
  }

  std::string NotificationPayloads::DeliveryId(const std::string& dedupKey)
  {
    return Crypto::Sha256Hex(dedupKey).substr(0, 32);
  }

  std::string NotificationPayloads::MakeViewerLink(const NotificationSettings& settings,
                                       const std::string& orthancStudyId,
                                       const std::string& studyInstanceUid,
                                       const std::string& orthancSeriesId)
  {
    std::string link = settings.viewerUrl;
    const std::pair<const char*, const std::string*> values[] = {
      {"{OrthancStudyId}", &orthancStudyId},
      {"{StudyInstanceUID}", &studyInstanceUid},
      {"{OrthancSeriesId}", &orthancSeriesId}};
    for (const auto& v : values)
    {
      if (link.find(v.first) != std::string::npos)
      {
        if (v.second->empty())
        {
          return "";  // not stored here (a gateway): no link
        }
        // The StudyInstanceUID comes from the sender's file: nothing of it may change the URL.
        std::string encoded;
        for (unsigned char c : *v.second)
        {
          if (isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~')
          {
            encoded += static_cast<char>(c);
          }
          else
          {
            char hex[4];
            snprintf(hex, sizeof(hex), "%%%02X", c);
            encoded += hex;
          }
        }
        boost::replace_all(link, v.first, encoded);
      }
    }
    if (link.find("{OrthancUrl}") != std::string::npos)
    {
      if (settings.orthancUrl.empty())
      {
        return "";
      }
      boost::replace_all(link, "{OrthancUrl}", settings.orthancUrl);
    }
    return link;
  }

  std::string NotificationPayloads::FormatSize(int64_t bytes, const std::string& language)
  {
    static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB"};
    double value = static_cast<double>(std::max<int64_t>(bytes, 0));
    size_t unit = 0;
    while (value >= 1000 && unit < 4)
    {
      value /= 1000;
      unit++;
    }
    if (unit > 0 && unit < 4 && value >= 999.95)
    {
      value /= 1000;  // "1.0 MB", never "1000.0 kB"
      unit++;
    }
    char buffer[32];
    if (unit == 0)
    {
      snprintf(buffer, sizeof(buffer), "%lld B", static_cast<long long>(bytes));
    }
    else
    {
      snprintf(buffer, sizeof(buffer), "%.1f %s", value, kUnits[unit]);
    }
    std::string result = buffer;
    if (language == "de")
    {
      std::replace(result.begin(), result.end(), '.', ',');
    }
    return result;
  }

  NotificationRecord NotificationPayloads::MakeMail(const AuditEvent& event, int64_t now,
                                                    const std::string& kind,
                                                    const MailAddress& to,
                                                    const std::string& language,
                                                    const Json::Value& data,
                                                    const std::string& replyTo) const
  {
    NotificationRecord n;
    n.dedupKey = EventKey(event) + ":" + kind + ":" + to.address;
    n.createdAt = now;
    n.channel = "mail";
    n.kind = kind;
    n.event = event.event;
    n.uploadId = event.uploadId;
    n.target = to.address;
    n.nextAttemptAt = n.createdAt;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!event.uploadId.empty())
    {
      headers.push_back({"X-Inbound-Upload", event.uploadId});
    }
    headers.push_back({"X-Inbound-Event", event.event});
    Render(n, to, language, data, replyTo, headers);
    return n;
  }

  void NotificationPayloads::Render(
    NotificationRecord& n, const MailAddress& to, const std::string& language,
    const Json::Value& data, const std::string& replyTo,
    const std::vector<std::pair<std::string, std::string>>& headers) const
  {
    const std::string id = DeliveryId(n.dedupKey);
    MailContent mail;
    mail.from = from_;
    mail.to.push_back(to);
    mail.replyTo = replyTo;
    mail.subject = templates_.Render(language, n.kind + "-subject.txt", data);
    mail.text = templates_.Render(language, n.kind + ".txt", data);
    mail.html = templates_.Render(language, n.kind + ".html", data);
    mail.messageId = "inbound." + id + "@" + from_.GetDomain();
    mail.dateMs = n.createdAt;
    mail.extraHeaders.push_back({"Auto-Submitted", "auto-generated"});
    for (const auto& header : headers)
    {
      mail.extraHeaders.push_back(header);
    }
    n.subject = Mail::CleanText(mail.subject, false);
    n.payload = Mail::Compose(mail, "=_inbound_" + id.substr(0, 24));
  }

  NotificationRecord NotificationPayloads::MakeRequestLinkMail(const RequestRecord& request,
                                                               const std::string& url,
                                                               const MailAddress& to,
                                                               int64_t now) const
  {
    const NotificationSettings& settings = configuration_.notifications;
    const std::string language =
      MailTemplates::IsLanguage(request.language) ? request.language : settings.language;
    Json::Value data(Json::objectValue);
    data["site"] = configuration_.siteName;
    const Recipient* r = configuration_.LookupRecipient(request.recipientId);
    data["recipientName"] = r != nullptr ? r->name : request.recipientId;
    data["senderName"] = request.senderName;
    data["message"] = request.message;
    data["link"] = url;
    data["expiresAt"] = FormatHumanTime(request.expiresAt);
    data["maxUploads"] = std::to_string(request.maxUploads);
    data["severalUploads"] = request.maxUploads > 1;
    data["challengeBirthDate"] = request.challenge == ChallengeKind_BirthDate;
    data["challengeCode"] = request.challenge == ChallengeKind_Code;
    data["requestId"] = request.id;

    NotificationRecord n;
    n.dedupKey = "request:" + request.id + ":request-link:" + to.address;
    n.createdAt = now;
    n.channel = "mail";
    n.kind = "request-link";
    n.event = EnumerationToString(AuditEventType_RequestCreated);
    n.target = to.address;
    n.nextAttemptAt = now;
    Render(n, to, language, data, "",
           {{"X-Inbound-Request", request.id}, {"X-Inbound-Event", n.event}});
    return n;
  }

  void NotificationPayloads::DescribeRequestForMail(Json::Value& data,
                                                    const RequestRecord& request,
                                                    const std::vector<ItemRecord>& items,
                                                    bool patientData)
  {
    data["requestId"] = request.id;
    data["requestPatient"] = patientData ? FormatPatient(request.patient) : "";
    const PatientMatch::UploadVerdict verdict = PatientMatch::CompareUpload(request.patient, items);
    data["requestMatched"] = verdict.decided && verdict.matched;
    data["requestDiffers"] = verdict.decided && !verdict.matched;
    data["requestForwardTo"] = verdict.decided && verdict.matched ? request.forwardTo : "";
  }

  NotificationRecord NotificationPayloads::MakeWebhook(const AuditEvent& event, int64_t now,
                                                       const WebhookSettings& hook,
                                                       const std::string& name,
                                                       const Json::Value& body) const
  {
    NotificationRecord n;
    n.dedupKey = EventKey(event) + ":webhook:" + hook.url;
    n.createdAt = now;
    n.channel = "webhook";
    n.kind = "webhook";
    n.event = event.event;
    n.uploadId = event.uploadId;
    n.target = hook.url;
    n.subject = name;
    n.nextAttemptAt = n.createdAt;
    Json::Value full = body;
    full["event"] = name;
    full["delivery"] = DeliveryId(n.dedupKey);
    full["time"] = FormatIso8601(event.time);
    full["site"] = configuration_.siteName;
    full["role"] = EnumerationToString(configuration_.role);
    n.payload = JsonText::Compact(full);
    return n;
  }

  Json::Value NotificationPayloads::DescribeUploadForWebhook(
    const UploadRecord& upload, const std::vector<ItemRecord>& items) const
  {
    const Configuration& configuration = configuration_;
    Json::Value u(Json::objectValue);
    u["id"] = upload.id;
    u["receiptCode"] = upload.receiptCode;
    Json::Value recipient(Json::objectValue);
    recipient["id"] = upload.recipientId;
    const Recipient* r = configuration.LookupRecipient(upload.recipientId);
    recipient["name"] = r != nullptr ? r->name : "";
    u["recipient"] = recipient;
    u["sender"] = upload.sender.ToJson();
    u["message"] = upload.message;
    u["files"] = Json::Int64(upload.files);
    u["bytes"] = Json::Int64(upload.bytes);
    u["completedAt"] = upload.completedAt > 0 ? Json::Value(FormatIso8601(upload.completedAt))
                                              : Json::Value();
    Json::Value studies(Json::arrayValue);
    for (const StudySummary& s : StudySummary::Summarize(items))
    {
      Json::Value study(Json::objectValue);
      study["studyInstanceUid"] = s.first.studyInstanceUid;
      study["orthancStudyId"] = s.first.orthancStudyId;
      const std::string link = MakeViewerLink(configuration.notifications,
                                              s.first.orthancStudyId, s.first.studyInstanceUid,
                                              s.first.orthancSeriesId);
      study["link"] = link.empty() ? Json::Value() : Json::Value(link);
      Json::Value modalities(Json::arrayValue);
      for (const std::string& m : s.modalities)
      {
        modalities.append(m);
      }
      study["modalities"] = modalities;
      study["series"] = Json::UInt64(s.series.size());
      study["instances"] = Json::Int64(s.instances);
      if (configuration.notifications.includePatientData)
      {
        Json::Value patient(Json::objectValue);
        patient["name"] = s.first.patientName;
        patient["birthDate"] = s.first.patientBirthDate;
        patient["id"] = s.first.originalPatientId;
        study["patient"] = patient;
        study["studyDate"] = s.first.studyDate;
        study["studyDescription"] = s.first.studyDescription;
      }
      studies.append(study);
    }
    u["studies"] = studies;
    Json::Value body(Json::objectValue);
    body["upload"] = u;
    return body;
  }

  Json::Value NotificationPayloads::DescribeUploadForMail(const UploadRecord& upload,
                                                          const std::vector<ItemRecord>& items,
                                                          const std::string& language,
                                                          bool patientData, bool links,
                                                          const std::string& viaGateway) const
  {
    const Configuration& configuration = configuration_;
    Json::Value d(Json::objectValue);
    d["site"] = configuration.siteName;
    d["role"] = EnumerationToString(configuration.role);
    d["uploadId"] = upload.id;
    d["receiptCode"] = upload.receiptCode;
    const Recipient* r = configuration.LookupRecipient(upload.recipientId);
    d["recipientName"] = r != nullptr ? r->name : upload.recipientId;
    d["senderName"] = upload.sender.name;
    d["senderEmail"] = upload.sender.email;
    d["senderInstitution"] = upload.sender.institution;
    d["senderPhone"] = upload.sender.phone;
    // A partner site's upload (or, on an Internal, one its gateway labels so): the mail says
    // it was sent automatically, by the partner's name.
    d["partnerName"] = upload.partnerId.empty() ? "" : upload.sender.name.empty()
                                                        ? upload.partnerId : upload.sender.name;
    d["message"] = upload.message;
    d["files"] = std::to_string(upload.files);
    d["size"] = FormatSize(upload.bytes, language);
    d["completedAt"] = FormatHumanTime(upload.completedAt > 0 ? upload.completedAt
                                                              : upload.updatedAt);
    d["viaGateway"] = viaGateway;
    d["patientData"] = patientData;
    Json::Value studies(Json::arrayValue);
    for (const StudySummary& s : StudySummary::Summarize(items))
    {
      Json::Value study(Json::objectValue);
      study["number"] = std::to_string(studies.size() + 1);
      study["link"] = links ? MakeViewerLink(configuration.notifications, s.first.orthancStudyId,
                                             s.first.studyInstanceUid, s.first.orthancSeriesId)
                            : "";
      study["modalities"] = Join(s.modalities);
      study["series"] = std::to_string(s.series.size());
      study["instances"] = std::to_string(s.instances);
      if (patientData)
      {
        study["patientName"] = s.first.patientName;
        study["patientBirthDate"] = s.first.patientBirthDate;
        study["patientId"] = s.first.originalPatientId;
        study["studyDate"] = s.first.studyDate;
        study["studyDescription"] = s.first.studyDescription;
      }
      studies.append(study);
    }
    d["studyCount"] = std::to_string(studies.size());
    d["studies"] = studies;
    return d;
  }

  Json::Value NotificationPayloads::DescribeAlertForMail(const AuditEvent& event,
                                                         const std::string& type) const
  {
    Json::Value data(Json::objectValue);
    data["site"] = configuration_.siteName;
    data["role"] = EnumerationToString(configuration_.role);
    data["title"] = AlertTitle(type, configuration_.notifications.language);
    data["event"] = type;
    data["detail"] = event.detail;
    data["time"] = FormatHumanTime(event.time);
    data["uploadId"] = event.uploadId;
    data["address"] = event.ip;
    return data;
  }

  Json::Value NotificationPayloads::DescribeAlertForWebhook(const AuditEvent& event,
                                                            const std::string& type)
  {
    Json::Value alert(Json::objectValue);
    alert["type"] = type;
    alert["detail"] = event.detail;
    alert["uploadId"] = event.uploadId;
    alert["address"] = event.ip;
    Json::Value body(Json::objectValue);
    body["alert"] = alert;
    return body;
  }
}
