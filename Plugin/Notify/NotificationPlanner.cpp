// Which audit events become which notifications, to whom: recipients, receipts, alerts, caps.
#include "NotificationPlanner.h"

#include "Limits/BanList.h"
#include "Toolbox/Errors.h"

#include <Logging.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>

#include <algorithm>

namespace Inbound
{
  namespace
  {
    const unsigned int kEventsPerRound = 200;
    const int64_t kDayMs = 86400 * 1000;
  }

  NotificationPlanner::NotificationPlanner(const Configuration& configuration, Ledger& ledger,
                                           const IClock& clock,
                                           const NotificationPayloads& payloads, bool mail,
                                           bool webhooks) :
    configuration_(configuration),
    ledger_(ledger),
    clock_(clock),
    payloads_(payloads),
    mail_(mail),
    webhooks_(webhooks)
  {
  }

  void NotificationPlanner::AddWebhooks(std::vector<NotificationRecord>& queue,
                                        const AuditEvent& event, const std::string& name,
                                        const Json::Value& body)
  {
    if (!webhooks_)
    {
      return;
    }
    for (const WebhookSettings& hook : configuration_.webhooks)
    {
      if (hook.events.empty() ||
          std::find(hook.events.begin(), hook.events.end(), name) != hook.events.end())
      {
        queue.push_back(payloads_.MakeWebhook(event, clock_.NowMs(), hook, name, body));
      }
    }
  }

  void NotificationPlanner::AddUploadNotifications(std::vector<NotificationRecord>& queue,
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

    if (stored && mail_ && settings.mailRecipient)
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
        const Json::Value data = payloads_.DescribeUploadForMail(
          upload, items, language, settings.includePatientData, true, via);
        queue.push_back(payloads_.MakeMail(event, clock_.NowMs(), "recipient",
                                           MailAddress{recipient->name, recipient->email},
                                           language, data, upload.sender.email));
      }
    }

    if (stored && mail_ && settings.senderReceipt)
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
          const Json::Value data =
            payloads_.DescribeUploadForMail(upload, items, language, false, false, via);
          // No display name: the sender typed it, and a receipt may reach anybody's address.
          queue.push_back(payloads_.MakeMail(event, clock_.NowMs(), "receipt",
                                             MailAddress{"", address}, language, data, ""));
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
    Json::Value body = payloads_.DescribeUploadForWebhook(upload, items);
    if (event.event == "upload-forwarded")
    {
      body["forward"] = event.detail;
    }
    AddWebhooks(queue, event, name, body);
  }

  void NotificationPlanner::AddAlertNotifications(std::vector<NotificationRecord>& queue,
                                                  const AuditEvent& event,
                                                  const std::string& type,
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
    if (mail_)
    {
      const Json::Value data = payloads_.DescribeAlertForMail(event, type);
      for (const std::string& admin : settings.adminEmails)
      {
        MailAddress to;
        if (MailAddress::Parse(to, admin))
        {
          queue.push_back(
            payloads_.MakeMail(event, clock_.NowMs(), "alert", to, settings.language, data, ""));
        }
      }
    }

    AddWebhooks(queue, event, "alert",
                NotificationPayloads::DescribeAlertForWebhook(event, type));

    if (queue.size() > before)
    {
      alertsInBatch[event.event] = now;
    }
  }

  size_t NotificationPlanner::Collect()
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
}
