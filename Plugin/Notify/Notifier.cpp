#include "Notifier.h"

#include "Limits/BanList.h"
#include "Notify/MailMessage.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"

#include <Logging.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/replace.hpp>

#include <algorithm>
#include <set>

namespace Inbound
{
  namespace
  {
    const unsigned int kEventsPerRound = 200;
    const unsigned int kAttemptsPerRound = 50;
    const int64_t kDayMs = 86400 * 1000;
    const int64_t kKeepNotificationsMs = 90 * kDayMs;

    // An audit event, also across a ledger that was started afresh (its sequence restarts).
    std::string EventKey(const AuditEvent& event)
    {
      return std::to_string(event.seq) + "@" + std::to_string(event.time);
    }

    // Stable per notification: the X-Inbound-Delivery of a webhook and the heart of a
    // mail's Message-ID, the same on every attempt.
    std::string DeliveryId(const std::string& dedupKey)
    {
      return Crypto::Sha256Hex(dedupKey).substr(0, 32);
    }

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

    struct StudySummary
    {
      ItemRecord first;
      std::set<std::string> series;
      std::set<std::string> modalities;
      int64_t instances = 0;
    };

    // The studies of an upload in the order their first file arrived.
    std::vector<StudySummary> SummarizeStudies(const std::vector<ItemRecord>& items)
    {
      std::vector<StudySummary> studies;
      std::map<std::string, size_t> index;
      for (const ItemRecord& item : items)
      {
        // One study UID sent under two PatientIDs is two studies (two isolated patients),
        // each with its own link.
        const std::string key = item.studyInstanceUid + '\n' + item.isolatedPatientId;
        auto found = index.find(key);
        if (found == index.end())
        {
          found = index.emplace(key, studies.size()).first;
          studies.emplace_back();
          studies.back().first = item;
        }
        StudySummary& study = studies[found->second];
        study.series.insert(item.seriesInstanceUid);
        if (!item.modality.empty())
        {
          study.modalities.insert(item.modality);
        }
        study.instances++;
        if (study.first.orthancStudyId.empty())
        {
          study.first.orthancStudyId = item.orthancStudyId;
        }
      }
      return studies;
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

  Notifier::Notifier(const Configuration& configuration, Ledger& ledger, const IClock& clock,
                     const MailTemplates& templates, IMailTransport* mail,
                     IWebhookTransport* webhooks) :
    configuration_(configuration),
    ledger_(ledger),
    clock_(clock),
    templates_(templates),
    mail_(mail),
    webhooks_(webhooks)
  {
    if (mail_ != nullptr && !MailAddress::Parse(from_, configuration.smtp.from))
    {
      throw std::invalid_argument("Inbound.Smtp.From is not an e-mail address");
    }
  }

  std::string Notifier::MakeViewerLink(const NotificationSettings& settings,
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

  std::vector<std::string> Notifier::SignWebhook(const std::string& secret,
                                                 const std::string& event,
                                                 const std::string& delivery,
                                                 int64_t unixSeconds, const std::string& body)
  {
    const std::string timestamp = std::to_string(unixSeconds);
    return {"Content-Type: application/json",
            "User-Agent: OrthancInbound",
            "X-Inbound-Event: " + event,
            "X-Inbound-Delivery: " + delivery,
            "X-Inbound-Timestamp: " + timestamp,
            "X-Inbound-Signature: sha256=" + Crypto::HmacSha256Hex(secret, timestamp + "." + body)};
  }

  std::string Notifier::FormatSize(int64_t bytes, const std::string& language)
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

  NotificationRecord Notifier::MakeMail(const AuditEvent& event, const std::string& kind,
                                        const MailAddress& to, const std::string& language,
                                        const Json::Value& data, const std::string& replyTo)
  {
    NotificationRecord n;
    n.dedupKey = EventKey(event) + ":" + kind + ":" + to.address;
    n.createdAt = clock_.NowMs();
    n.channel = "mail";
    n.kind = kind;
    n.event = event.event;
    n.uploadId = event.uploadId;
    n.target = to.address;
    n.nextAttemptAt = n.createdAt;

    const std::string id = DeliveryId(n.dedupKey);
    MailContent mail;
    mail.from = from_;
    mail.to.push_back(to);
    mail.replyTo = replyTo;
    mail.subject = templates_.Render(language, kind + "-subject.txt", data);
    mail.text = templates_.Render(language, kind + ".txt", data);
    mail.html = templates_.Render(language, kind + ".html", data);
    mail.messageId = "inbound." + id + "@" + from_.GetDomain();
    mail.dateMs = n.createdAt;
    mail.extraHeaders.push_back({"Auto-Submitted", "auto-generated"});
    if (!event.uploadId.empty())
    {
      mail.extraHeaders.push_back({"X-Inbound-Upload", event.uploadId});
    }
    mail.extraHeaders.push_back({"X-Inbound-Event", event.event});
    n.subject = Mail::CleanText(mail.subject, false);
    n.payload = Mail::Compose(mail, "=_inbound_" + id.substr(0, 24));
    return n;
  }

  void Notifier::AddWebhooks(std::vector<NotificationRecord>& queue, const AuditEvent& event,
                             const std::string& name, const Json::Value& body)
  {
    if (webhooks_ == nullptr)
    {
      return;
    }
    for (const WebhookSettings& hook : configuration_.webhooks)
    {
      if (!hook.events.empty() &&
          std::find(hook.events.begin(), hook.events.end(), name) == hook.events.end())
      {
        continue;
      }
      NotificationRecord n;
      n.dedupKey = EventKey(event) + ":webhook:" + hook.url;
      n.createdAt = clock_.NowMs();
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
      queue.push_back(n);
    }
  }

  namespace
  {
    Json::Value DescribeForWebhook(const Configuration& configuration, const UploadRecord& upload,
                                   const std::vector<ItemRecord>& items)
    {
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
      for (const StudySummary& s : SummarizeStudies(items))
      {
        Json::Value study(Json::objectValue);
        study["studyInstanceUid"] = s.first.studyInstanceUid;
        study["orthancStudyId"] = s.first.orthancStudyId;
        const std::string link = Notifier::MakeViewerLink(
          configuration.notifications, s.first.orthancStudyId, s.first.studyInstanceUid,
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

    // The values of the recipient and receipt templates. Patient data only when the admin
    // allows it and the mail goes to the hospital ("patientData"), never to a sender.
    Json::Value DescribeForMail(const Configuration& configuration, const UploadRecord& upload,
                                const std::vector<ItemRecord>& items, const std::string& language,
                                bool patientData, bool links, const std::string& viaGateway)
    {
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
      d["message"] = upload.message;
      d["files"] = std::to_string(upload.files);
      d["size"] = Notifier::FormatSize(upload.bytes, language);
      d["completedAt"] = FormatHumanTime(upload.completedAt > 0 ? upload.completedAt
                                                                : upload.updatedAt);
      d["viaGateway"] = viaGateway;
      d["patientData"] = patientData;
      Json::Value studies(Json::arrayValue);
      for (const StudySummary& s : SummarizeStudies(items))
      {
        Json::Value study(Json::objectValue);
        study["number"] = std::to_string(studies.size() + 1);
        study["link"] = links ? Notifier::MakeViewerLink(configuration.notifications,
                                                         s.first.orthancStudyId,
                                                         s.first.studyInstanceUid,
                                                         s.first.orthancSeriesId)
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
  }

  void Notifier::AddUploadNotifications(std::vector<NotificationRecord>& queue,
                                        const AuditEvent& event,
                                        std::map<std::string, int64_t>& receiptsInBatch)
  {
    UploadRecord upload;
    if (!ledger_.LookupUpload(upload, event.uploadId))
    {
      return;
    }
    const std::vector<ItemRecord> items = ledger_.ListItems(upload.id);
    const NotificationSettings& settings = configuration_.notifications;

    // A gateway has no viewer: the recipient hears from the internal Orthanc, after the pull.
    const bool stored = configuration_.role != Role_Gateway && event.event == "upload-complete";
    const std::string via = configuration_.role == Role_Internal ? event.ip : "";

    if (stored && mail_ != nullptr && settings.mailRecipient)
    {
      const Recipient* recipient = configuration_.LookupRecipient(upload.recipientId);
      if (recipient == nullptr)
      {
        LOG(WARNING) << "Inbound: upload " << upload.id << " is for \"" << upload.recipientId
                     << "\", who is no longer in Inbound.Recipients: nobody is mailed";
      }
      else
      {
        const std::string language =
          recipient->language.empty() ? settings.language : recipient->language;
        const Json::Value data = DescribeForMail(configuration_, upload, items, language,
                                                 settings.includePatientData, true, via);
        queue.push_back(MakeMail(event, "recipient", MailAddress{recipient->name, recipient->email},
                                 language, data, upload.sender.email));
      }
    }

    if (stored && mail_ != nullptr && settings.senderReceipt)
    {
      const std::string address = boost::algorithm::to_lower_copy(upload.sender.email);
      if (MailAddress::IsValidAddress(address))
      {
        const int64_t sent = ledger_.CountNotificationsTo("receipt", address,
                                                          clock_.NowMs() - kDayMs) +
                             receiptsInBatch[address];
        if (sent < static_cast<int64_t>(settings.receiptsPerAddressPerDay))
        {
          // In the language of the sender's page (from a gateway's manifest: only if mails
          // can be written in it), else the site's.
          const std::string language = MailTemplates::IsLanguage(upload.language)
                                         ? upload.language : settings.language;
          const Json::Value data = DescribeForMail(configuration_, upload, items, language,
                                                   false, false, via);
          // No display name: the sender typed it, and a receipt may reach anybody's address.
          queue.push_back(MakeMail(event, "receipt", MailAddress{"", address}, language, data,
                                   ""));
          receiptsInBatch[address]++;
        }
        else
        {
          ledger_.AddAudit(clock_.NowMs(), "receipt-suppressed", upload.id, "",
                           "already " + std::to_string(sent) + " receipts to this address today");
        }
      }
    }

    const std::string name = event.event == "upload-complete"    ? "upload.completed"
                             : event.event == "upload-delivered" ? "upload.delivered"
                                                                 : "upload.forwarded";
    Json::Value body = DescribeForWebhook(configuration_, upload, items);
    if (event.event == "upload-forwarded")
    {
      body["forward"] = event.detail;
    }
    AddWebhooks(queue, event, name, body);
  }

  void Notifier::AddAlertNotifications(std::vector<NotificationRecord>& queue,
                                       const AuditEvent& event, const std::string& type,
                                       std::map<std::string, int64_t>& alertsInBatch)
  {
    const NotificationSettings& settings = configuration_.notifications;
    const int64_t now = clock_.NowMs();
    const int64_t last = std::max(ledger_.GetLastNotificationTime(event.event),
                                  alertsInBatch[event.event]);
    if (settings.adminAlertIntervalSeconds != 0 && last != 0 &&
        now - last < static_cast<int64_t>(settings.adminAlertIntervalSeconds) * 1000)
    {
      return;  // the admins heard of this kind of trouble a moment ago; the audit has it all
    }

    const size_t before = queue.size();
    if (mail_ != nullptr)
    {
      Json::Value data(Json::objectValue);
      data["site"] = configuration_.siteName;
      data["role"] = EnumerationToString(configuration_.role);
      data["title"] = AlertTitle(type, settings.language);
      data["event"] = type;
      data["detail"] = event.detail;
      data["time"] = FormatHumanTime(event.time);
      data["uploadId"] = event.uploadId;
      data["address"] = event.ip;
      for (const std::string& admin : settings.adminEmails)
      {
        MailAddress to;
        if (MailAddress::Parse(to, admin))
        {
          queue.push_back(MakeMail(event, "alert", to, settings.language, data, ""));
        }
      }
    }

    Json::Value alert(Json::objectValue);
    alert["type"] = type;
    alert["detail"] = event.detail;
    alert["uploadId"] = event.uploadId;
    alert["address"] = event.ip;
    Json::Value body(Json::objectValue);
    body["alert"] = alert;
    AddWebhooks(queue, event, "alert", body);

    if (queue.size() > before)
    {
      alertsInBatch[event.event] = now;
    }
  }

  size_t Notifier::Collect()
  {
    const int64_t cursor = ledger_.GetNotifyCursor();
    int64_t scanned = cursor;
    const std::vector<AuditEvent> events =
      ledger_.ListNotifiableEvents(cursor, kEventsPerRound, scanned);
    if (scanned == cursor)
    {
      return 0;
    }

    std::vector<NotificationRecord> queue;
    std::map<std::string, int64_t> receiptsInBatch;
    std::map<std::string, int64_t> alertsInBatch;
    for (const AuditEvent& e : events)
    {
      try
      {
        if (e.event == "upload-complete" || e.event == "upload-delivered" ||
            e.event == "upload-forwarded")
        {
          AddUploadNotifications(queue, e, receiptsInBatch);
        }
        else if (e.event == "ban" && boost::starts_with(e.detail, BanList::kAutomaticPrefix))
        {
          AddAlertNotifications(queue, e, "auto-ban", alertsInBatch);
        }
        else if (boost::starts_with(e.event, "alert-"))
        {
          AddAlertNotifications(queue, e, e.event.substr(6), alertsInBatch);
        }
      }
      catch (...)
      {
        // One broken event (a template an admin broke since start-up, for instance) must not
        // stop every later notification.
        LOG(ERROR) << "Inbound: the notifications of audit event " << e.seq << " (" << e.event
                   << ") cannot be prepared: " << DescribeCurrentException();
      }
    }
    ledger_.EnqueueNotifications(queue, scanned);
    return events.size();
  }

  void Notifier::Deliver(const NotificationRecord& n)
  {
    if (n.channel == "mail")
    {
      if (mail_ == nullptr)
      {
        throw std::runtime_error("e-mail is off (Inbound.Smtp.Host is empty)");
      }
      mail_->Send(from_.address, {n.target}, n.payload);
      return;
    }
    for (const WebhookSettings& hook : configuration_.webhooks)
    {
      if (hook.url == n.target && webhooks_ != nullptr)
      {
        const std::vector<std::string> headers = SignWebhook(
          hook.secret, n.subject, DeliveryId(n.dedupKey), clock_.NowMs() / 1000, n.payload);
        const long status = webhooks_->Post(hook, headers, n.payload);
        if (status < 200 || status > 299)
        {
          throw std::runtime_error("the webhook answered HTTP " + std::to_string(status));
        }
        return;
      }
    }
    throw std::runtime_error("no webhook with this URL is configured any more");
  }

  size_t Notifier::DeliverDue(const std::atomic<bool>& stopping)
  {
    const NotificationSettings& settings = configuration_.notifications;
    size_t delivered = 0;
    for (const NotificationRecord& n : ledger_.ListDueNotifications(clock_.NowMs(), kAttemptsPerRound))
    {
      if (stopping)
      {
        break;
      }
      try
      {
        Deliver(n);
        ledger_.MarkNotificationDelivered(n.id, clock_.NowMs());
        delivered++;
        LOG(INFO) << "Inbound: notification " << n.id << " (" << n.kind << ", " << n.event
                  << ") delivered to " << n.target;
      }
      catch (...)
      {
        const std::string error = DescribeCurrentException();
        if (stopping)
        {
          break;  // interrupted by the stop: due again at the next start
        }
        const int64_t now = clock_.NowMs();
        const int64_t deadline = n.createdAt + static_cast<int64_t>(settings.giveUpAfterSeconds) * 1000;
        if (now >= deadline)
        {
          // An alert about a failed notification that fails too is not announced again.
          const bool aboutFailure = n.event == "alert-notification-failed";
          ledger_.MarkNotificationFailed(
            n.id, now, error, aboutFailure ? "notification-failed" : "alert-notification-failed",
            n.kind + " " + n.channel + " " + std::to_string(n.id) + " to " + n.target +
              " given up after " + std::to_string(n.attempts + 1) + " attempts: " + error);
          LOG(ERROR) << "Inbound: notification " << n.id << " to " << n.target
                     << " given up: " << error;
        }
        else
        {
          int64_t delay = settings.retryIntervalSeconds;
          for (int64_t i = 0; i < n.attempts && delay < settings.maxRetryIntervalSeconds; i++)
          {
            delay *= 2;
          }
          delay = std::min<int64_t>(delay, settings.maxRetryIntervalSeconds);
          ledger_.MarkNotificationRetry(n.id, std::min(now + delay * 1000, deadline), error);
          LOG(WARNING) << "Inbound: notification " << n.id << " to " << n.target
                       << " failed (attempt " << n.attempts + 1 << "), retry in " << delay
                       << " s: " << error;
        }
      }
    }
    return delivered;
  }

  void Notifier::Wake()
  {
    wake_.Wake();
  }

  void Notifier::Loop(const std::atomic<bool>& stopping)
  {
    while (!stopping)
    {
      try
      {
        Collect();
        DeliverDue(stopping);
        const int64_t now = clock_.NowMs();
        if (now - lastPurge_ > kDayMs)
        {
          lastPurge_ = now;
          ledger_.PurgeNotifications(now - kKeepNotificationsMs);
        }
      }
      catch (...)
      {
        LOG(ERROR) << "Inbound: notifications: " << DescribeCurrentException();
      }
      wake_.Wait(std::chrono::milliseconds(500), stopping);
    }
  }

  Json::Value Notifier::Describe(const std::string& state, unsigned int limit) const
  {
    Json::Value json(Json::objectValue);
    Json::Value counts(Json::objectValue);
    for (const auto& c : ledger_.CountNotifications())
    {
      counts[c.first] = Json::Int64(c.second);
    }
    json["counts"] = counts;
    Json::Value list(Json::arrayValue);
    for (const NotificationRecord& n : ledger_.ListNotifications(state, limit))
    {
      Json::Value item(Json::objectValue);
      item["id"] = Json::Int64(n.id);
      item["delivery"] = DeliveryId(n.dedupKey);
      item["createdAt"] = FormatIso8601(n.createdAt);
      item["channel"] = n.channel;
      item["kind"] = n.kind;
      item["event"] = n.event;
      item["uploadId"] = n.uploadId;
      item["target"] = n.target;
      item["subject"] = n.subject;
      item["state"] = EnumerationToString(n.state);
      item["attempts"] = Json::Int64(n.attempts);
      item["nextAttemptAt"] = n.state == NotificationState_Pending
                                ? Json::Value(FormatIso8601(n.nextAttemptAt)) : Json::Value();
      item["lastError"] = n.lastError;
      item["deliveredAt"] = n.deliveredAt > 0 ? Json::Value(FormatIso8601(n.deliveredAt))
                                              : Json::Value();
      list.append(item);
    }
    json["notifications"] = list;
    return json;
  }

  bool Notifier::Retry(int64_t id, const std::string& by)
  {
    const bool done = ledger_.RetryNotification(id, clock_.NowMs(), by);
    if (done)
    {
      Wake();
    }
    return done;
  }
}
