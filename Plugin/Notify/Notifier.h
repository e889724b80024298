// The notification thread: wires the planner, the payloads and the delivery of notifications.
#pragma once

#include "Configuration.h"
#include "Ledger/LeaseStore.h"
#include "Ledger/Ledger.h"
#include "Notify/MailMessage.h"
#include "Notify/MailTemplates.h"
#include "Notify/NotificationDelivery.h"
#include "Notify/NotificationPayloads.h"
#include "Notify/NotificationPlanner.h"
#include "Notify/Transports.h"
#include "Toolbox/Time.h"
#include "Toolbox/WakeSignal.h"

#include <json/value.h>

#include <boost/noncopyable.hpp>

#include <atomic>

namespace Inbound
{
  // Announces what happened, from the audit trail: every upload completed and stored here
  // (mail to the chosen recipient, optional receipt to the sender), delivered or forwarded
  // (webhooks), and every alert (mail to the admins, webhooks). Three parts, one thread:
  // NotificationPlanner turns each event into queued notifications (whom, how often),
  // NotificationPayloads renders them (what), NotificationDelivery sends the queue (when,
  // with back-off, until delivered or given up with an alert). See doc/Architecture.md.
  class Notifier : public boost::noncopyable
  {
  private:
    Ledger& ledger_;
    const IClock& clock_;
    const bool mail_;  // false: e-mail is off
    const MailAddress from_;
    NotificationPayloads payloads_;
    NotificationPlanner planner_;
    NotificationDelivery delivery_;
    // With several Orthancs on one ledger, one plans (reads the audit trail) and purges at a
    // time: the one holding lease "planner:notify". Every one delivers what it claims.
    LeaseHolder plannerLease_;
    WakeSignal wake_;

  public:
    // "mail" and "webhooks" may be null (channel off); they must outlive the notifier.
    // Throws std::invalid_argument when e-mail is on and Inbound.Smtp.From is no address.
    Notifier(const Configuration& configuration, Ledger& ledger, const IClock& clock,
             const MailTemplates& templates, IMailTransport* mail, IWebhookTransport* webhooks);

    // Turns the audit events since the last call into queued notifications; returns how
    // many events were read.
    size_t Collect();

    // Attempts every notification that is due; returns how many were delivered.
    size_t DeliverDue(const std::atomic<bool>& stopping);

    // This Orthanc's id and Inbound.LeaseSeconds (doc/Ledger.md, "Leases"); before Loop.
    void SetNode(const std::string& node, unsigned int leaseSeconds);

    // Until "stopping": collects (while holding "planner:notify") and delivers, about twice
    // a second or when woken; gives its lease and claims back at the end.
    void Loop(const std::atomic<bool>& stopping);

    void Wake();

    // Queues the link mail of a request just created (template "request-link") to its
    // sender's e-mail; false when e-mail is off or the request has no valid address. Not
    // through the audit trail, which must never hold the link: the link exists in the
    // creating call and in this queued mail only, whose text is blanked once delivered or
    // given up (NotificationStore::kSecretKinds).
    bool QueueRequestLink(const RequestRecord& request, const std::string& url);

    // A revoked request: its link mails not sent yet are not sent (failed, blanked).
    void CancelRequestLinks(const RequestRecord& request);

    // The admin's view of the queue.
    Json::Value Describe(const std::string& state, unsigned int limit) const;

    // Makes a pending or failed notification due now; false when "id" is unknown or delivered.
    bool Retry(int64_t id, const std::string& by);
  };
}
