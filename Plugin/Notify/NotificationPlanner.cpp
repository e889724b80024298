// Which audit events become which notifications, to whom: recipients, receipts, alerts, caps.
#include "NotificationPlanner.h"

#include "Limits/BanList.h"
#include "Toolbox/Errors.h"

#include <Logging.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>

#include <algorithm>
#include <set>

namespace Inbound
{
  namespace
  {
    const unsigned int kEventsPerRound = 200;
    const int64_t kDayMs = 86400 * 1000;

    // The events that may call for notifications: an upload stored, delivered or forwarded,
    // a ban (an alert when automatic), and every alert.
    std::set<AuditEventType> GetNotifiableEvents()
    {
      std::set<AuditEventType> types = {AuditEventType_UploadComplete,
                                        AuditEventType_UploadDelivered,
                                        AuditEventType_UploadForwarded, AuditEventType_Ban};
      for (AuditEventType alert : GetAlertTypes())
      {
        types.insert(alert);
      }
      return types;
    }
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
    if (!ledger_.Uploads().Lookup(upload, event.uploadId))
    {
      return;
    }
    const std::vector<ItemRecord> items = ledger_.Uploads().ListItems(upload.id);
    const NotificationSettings& settings = configuration_.notifications;

    // A gateway has no viewer: the recipient hears from the internal Orthanc, after the pull.
    const bool stored =
      configuration_.role != Role_Gateway && event.Is(AuditEventType_UploadComplete);
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
        Json::Value data = payloads_.DescribeUploadForMail(
          upload, items, language, settings.includePatientData, true, via);
        RequestRecord request;
        if (!upload.requestId.empty() && ledger_.Requests().Lookup(request, upload.requestId))
        {
          // Images the hospital asked for: the mail names the request and its verdict.
          NotificationPayloads::DescribeRequestForMail(data, request, items,
                                                       settings.includePatientData);
        }
        queue.push_back(payloads_.MakeMail(event, clock_.NowMs(), "recipient",
                                           MailAddress{recipient->name, recipient->email},
                                           language, data, upload.sender.email));
      }
    }

    // A partner site is a machine: no receipt (its e-mail is its admins' contact).
    if (stored && mail_ && settings.senderReceipt && upload.partnerId.empty())
    {
      const std::string address = boost::algorithm::to_lower_copy(upload.sender.email);
      if (MailAddress::IsValidAddress(address))
      {
        const int64_t sent =
            ledger_.Notifications().CountTo("receipt", address, clock_.NowMs() - kDayMs) +
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
          ledger_.Audit().Add(clock_.NowMs(), AuditEventType_ReceiptSuppressed, upload.id, "",
                              "already " + std::to_string(sent) +
                                  " receipts to this address today");
        }
      }
    }

    const std::string name = event.Is(AuditEventType_UploadComplete)    ? "upload.completed"
                             : event.Is(AuditEventType_UploadDelivered) ? "upload.delivered"
                                                                         : "upload.forwarded";
    Json::Value body = payloads_.DescribeUploadForWebhook(upload, items);
    if (event.Is(AuditEventType_UploadForwarded))
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
    const int64_t last = std::max(ledger_.Notifications().GetLastQueuedTime(event.event),
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
    const int64_t cursor = ledger_.Notifications().GetCursor();
    int64_t scanned = cursor;
    const std::vector<AuditEvent> events =
        ledger_.Audit().ListAfter(cursor, GetNotifiableEvents(), kEventsPerRound, scanned);
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
        const AuditEventType type = StringToAuditEventType(e.event);
        if (type == AuditEventType_UploadComplete || type == AuditEventType_UploadDelivered ||
            type == AuditEventType_UploadForwarded)
        {
          AddUploadNotifications(queue, e, receiptsInBatch);
        }
        else if (type == AuditEventType_Ban &&
                 boost::starts_with(e.detail, BanList::kAutomaticPrefix))
        {
          AddAlertNotifications(queue, e, "auto-ban", alertsInBatch);
        }
        else if (IsAlert(type))
        {
          AddAlertNotifications(queue, e, GetAlertKind(type), alertsInBatch);
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
    if (!ledger_.Notifications().Enqueue(queue, scanned, cursor))
    {
      // Paused past the planner's lease: another Orthanc planned these events meanwhile.
      LOG(WARNING) << "Inbound: the notifications of audit events after " << cursor
                   << " were planned by another Orthanc meanwhile: this round is dropped";
      return 0;
    }
    return events.size();
  }
}
