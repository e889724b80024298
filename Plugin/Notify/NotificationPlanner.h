// Which audit events become which notifications, to whom: recipients, receipts, alerts, caps.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Notify/NotificationPayloads.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <map>
#include <string>
#include <vector>

namespace Inbound
{
  // Reads the audit trail from the ledger's cursor and queues the notifications each event
  // calls for: the recipient's mail and the sender's receipt of a stored upload (receipts
  // capped per address and day), the admins' alert mails (at most one per kind of alert and
  // Notifications.AdminAlertInterval), and the webhooks whose event filter matches. The
  // notifications and the moved cursor are written in one transaction, so that an event is
  // announced once, even across a crash. Runs on the notifier's thread only.
  class NotificationPlanner : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    const IClock& clock_;
    const NotificationPayloads& payloads_;
    const bool mail_;      // false: e-mail is off
    const bool webhooks_;  // false: webhooks are off

    void AddUploadNotifications(std::vector<NotificationRecord>& queue, const AuditEvent& event,
                                std::map<std::string, int64_t>& receiptsInBatch);
    void AddAlertNotifications(std::vector<NotificationRecord>& queue, const AuditEvent& event,
                               const std::string& type,
                               std::map<std::string, int64_t>& alertsInBatch);
    void AddWebhooks(std::vector<NotificationRecord>& queue, const AuditEvent& event,
                     const std::string& name, const Json::Value& body);

  public:
    NotificationPlanner(const Configuration& configuration, Ledger& ledger, const IClock& clock,
                        const NotificationPayloads& payloads, bool mail, bool webhooks);

    // Turns the audit events since the last call into queued notifications; returns how
    // many events were read.
    size_t Collect();
  };
}
