// What a notification says: mails rendered from the templates, webhook bodies, their ids.
#pragma once

#include "Configuration.h"
#include "Ledger/Records.h"
#include "Notify/MailMessage.h"
#include "Notify/MailTemplates.h"

#include <json/value.h>

#include <boost/noncopyable.hpp>

#include <string>
#include <utility>
#include <vector>

namespace Inbound
{
  // Turns an audit event, and the upload it concerns, into rendered notifications for the
  // ledger's queue (a NotificationRecord with its payload). It decides what a mail or a
  // webhook says, never to whom it goes (NotificationPlanner) nor when (NotificationDelivery).
  class NotificationPayloads : public boost::noncopyable
  {
  private:
    const Configuration& configuration_;
    const MailTemplates& templates_;
    const MailAddress from_;

    // Renders template "n.kind" into "n" (payload, subject); "headers" join the mail's own.
    void Render(NotificationRecord& n, const MailAddress& to, const std::string& language,
                const Json::Value& data, const std::string& replyTo,
                const std::vector<std::pair<std::string, std::string>>& headers) const;

  public:
    // "from" is the parsed Inbound.Smtp.From (empty when e-mail is off).
    NotificationPayloads(const Configuration& configuration, const MailTemplates& templates,
                         const MailAddress& from);

    // The mail of template "kind" ("recipient", "receipt", "alert") about "event", rendered in
    // "language" from "data", queued at "now".
    NotificationRecord MakeMail(const AuditEvent& event, int64_t now, const std::string& kind,
                                const MailAddress& to, const std::string& language,
                                const Json::Value& data, const std::string& replyTo) const;

    // The link mail of a request just created, to its sender's e-mail (template
    // "request-link", in the request's language): who asks, the hospital's message, the link,
    // its expiry and uses, what the page will ask. Never the code, never patient data. Its
    // dedup key is the request's: one link mail per request and address.
    NotificationRecord MakeRequestLinkMail(const RequestRecord& request, const std::string& url,
                                           const MailAddress& to, int64_t now) const;

    // Adds what the recipient's mail says of the request an upload was bound to:
    // "requestId", "requestPatient" (only with "patientData"), "requestMatched" /
    // "requestDiffers" (the rule of Requests/PatientMatch.h on the upload's files) and
    // "requestForwardTo" (a matched upload goes there).
    static void DescribeRequestForMail(Json::Value& data, const RequestRecord& request,
                                       const std::vector<ItemRecord>& items, bool patientData);

    // The call of "hook" announcing "name" ("upload.completed", "alert", ...): "body" with the
    // fields every call carries, queued at "now".
    NotificationRecord MakeWebhook(const AuditEvent& event, int64_t now,
                                   const WebhookSettings& hook, const std::string& name,
                                   const Json::Value& body) const;

    // The values of the recipient and receipt templates. Patient data only when the admin
    // allows it and the mail goes to the hospital ("patientData"), never to a sender.
    Json::Value DescribeUploadForMail(const UploadRecord& upload,
                                      const std::vector<ItemRecord>& items,
                                      const std::string& language, bool patientData, bool links,
                                      const std::string& viaGateway) const;

    // The body of the upload webhooks ("upload.completed", ".delivered", ".forwarded").
    Json::Value DescribeUploadForWebhook(const UploadRecord& upload,
                                         const std::vector<ItemRecord>& items) const;

    // The values of the alert template, in the site's language; "type" without "alert-".
    Json::Value DescribeAlertForMail(const AuditEvent& event, const std::string& type) const;

    // The body of the "alert" webhook.
    static Json::Value DescribeAlertForWebhook(const AuditEvent& event, const std::string& type);

    // An audit event, also across a ledger that was started afresh (its sequence restarts).
    static std::string EventKey(const AuditEvent& event);

    // Stable per notification: the X-Inbound-Delivery of a webhook and the heart of a mail's
    // Message-ID, the same on every attempt.
    static std::string DeliveryId(const std::string& dedupKey);

    // The link that opens a study in the configured viewer; empty when it cannot be made.
    static std::string MakeViewerLink(const NotificationSettings& settings,
                                      const std::string& orthancStudyId,
                                      const std::string& studyInstanceUid,
                                      const std::string& orthancSeriesId);

    // "12.4 MB" ("12,4 MB" in German).
    static std::string FormatSize(int64_t bytes, const std::string& language);
  };
}
