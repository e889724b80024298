// The queue worker: sends the due notifications, retries with back-off, gives up with an alert.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Notify/Transports.h"
#include "Toolbox/Time.h"

#include <json/value.h>

#include <boost/noncopyable.hpp>

#include <atomic>
#include <string>
#include <vector>

namespace Inbound
{
  // Delivers the ledger's queue of rendered notifications: each due one goes to the mail relay
  // or its webhook; a failure is tried again with back-off until Notifications.GiveUpAfter,
  // then dead-lettered with an "alert-notification-failed" audit event (which the planner
  // announces to the admins). Also the admin's view of the queue and its manual retry.
  // DeliverDue and PurgeIfDue run on the notifier's thread only.
  class NotificationDelivery : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    const IClock& clock_;
    IMailTransport* mail_;          // null: no e-mail
    IWebhookTransport* webhooks_;   // null: no webhooks
    const std::string from_;        // the envelope sender
    std::string node_;              // this Orthanc among those of the ledger (MakeNodeId)
    int64_t leaseMs_;               // how long a claimed notification stays this node's
    int64_t lastPurge_ = 0;

    void Deliver(const NotificationRecord& notification);

    // After a request's link mail was delivered or given up (its text blanked): nothing of
    // the link stays in the ledger's files.
    void ForgetSecret(const NotificationRecord& notification);

  public:
    // "mail" and "webhooks" may be null (channel off); they must outlive this object.
    NotificationDelivery(const Configuration& configuration, Ledger& ledger, const IClock& clock,
                         IMailTransport* mail, IWebhookTransport* webhooks,
                         const std::string& from);

    // This Orthanc's id and Inbound.LeaseSeconds (doc/Ledger.md, "Leases"); before any
    // delivery. By default a node of its own and 60 s.
    void SetNode(const std::string& node, unsigned int leaseSeconds);

    const std::string& GetNode() const
    {
      return node_;
    }

    // Claims the due notifications that no other Orthanc of the ledger holds, and attempts
    // each while it stays claimed (renewed during a long attempt); the outcome gives the
    // claim up. Returns how many were delivered.
    size_t DeliverDue(const std::atomic<bool>& stopping);

    // Gives up this node's claims not attempted (a stopping Orthanc): another takes them at
    // once instead of after the lease.
    void ReleaseClaims();

    // Once a day: forgets the notifications older than 90 days.
    void PurgeIfDue();

    // The admin's view of the queue.
    Json::Value Describe(const std::string& state, unsigned int limit) const;

    // Makes a pending or failed notification due now; false when "id" is unknown or delivered.
    bool Retry(int64_t id, const std::string& by);

    // The webhook headers of one call, signed with the hook's secret.
    static std::vector<std::string> SignWebhook(const std::string& secret,
                                                const std::string& event,
                                                const std::string& delivery,
                                                int64_t unixSeconds, const std::string& body);
  };
}
