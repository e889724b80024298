#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Notify/MailMessage.h"
#include "Notify/MailTemplates.h"
#include "Notify/Transports.h"
#include "Toolbox/Time.h"
#include "Toolbox/WakeSignal.h"

#include <json/value.h>

#include <atomic>
#include <map>

namespace Inbound
{
  // Announces what happened, from the audit trail: every upload completed and stored here
  // (mail to the chosen recipient, optional receipt to the sender), delivered or forwarded
  // (webhooks), and every alert (mail to the admins, webhooks). Each event becomes rendered
  // notifications in the ledger's queue, in the same transaction that moves the cursor over
  // the audit trail, so an event is announced once even across a crash; the queue is then
  // delivered with back-off until it succeeds or is given up (dead-lettered, with an alert).
  class Notifier : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    const IClock& clock_;
    const MailTemplates& templates_;
    IMailTransport* mail_;          // null: no e-mail
    IWebhookTransport* webhooks_;   // null: no webhooks
    MailAddress from_;

    WakeSignal wake_;
    int64_t lastPurge_ = 0;

    void AddUploadNotifications(std::vector<NotificationRecord>& queue, const AuditEvent& event,
                                std::map<std::string, int64_t>& receiptsInBatch);
    void AddAlertNotifications(std::vector<NotificationRecord>& queue, const AuditEvent& event,
                               const std::string& type,
                               std::map<std::string, int64_t>& alertsInBatch);
    void AddWebhooks(std::vector<NotificationRecord>& queue, const AuditEvent& event,
                     const std::string& name, const Json::Value& body);
    NotificationRecord MakeMail(const AuditEvent& event, const std::string& kind,
                                const MailAddress& to, const std::string& language,
                                const Json::Value& data, const std::string& replyTo);
    void Deliver(const NotificationRecord& notification);

  public:
    // "mail" and "webhooks" may be null (channel off); they must outlive the notifier.
    Notifier(const Configuration& configuration, Ledger& ledger, const IClock& clock,
             const MailTemplates& templates, IMailTransport* mail, IWebhookTransport* webhooks);

    // Turns the audit events since the last call into queued notifications; returns how
    // many events were read.
    size_t Collect();

    // Attempts every notification that is due; returns how many were delivered.
    size_t DeliverDue(const std::atomic<bool>& stopping);

    // Until "stopping": collects and delivers, about twice a second or when woken.
    void Loop(const std::atomic<bool>& stopping);

    void Wake();

    // The admin's view of the queue.
    Json::Value Describe(const std::string& state, unsigned int limit) const;

    // Makes a pending or failed notification due now; false when "id" is unknown or delivered.
    bool Retry(int64_t id, const std::string& by);

    // The link that opens a study in the configured viewer; empty when it cannot be made.
    static std::string MakeViewerLink(const NotificationSettings& settings,
                                      const std::string& orthancStudyId,
                                      const std::string& studyInstanceUid,
                                      const std::string& orthancSeriesId);

    // The webhook headers of one call, signed with the hook's secret.
    static std::vector<std::string> SignWebhook(const std::string& secret,
                                                const std::string& event,
                                                const std::string& delivery,
                                                int64_t unixSeconds, const std::string& body);

    // "12.4 MB" ("12,4 MB" in German).
    static std::string FormatSize(int64_t bytes, const std::string& language);
  };
}
