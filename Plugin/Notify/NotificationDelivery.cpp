// The queue worker: sends the due notifications, retries with back-off, gives up with an alert.
#include "NotificationDelivery.h"

#include "Ledger/LeaseStore.h"
#include "Notify/NotificationPayloads.h"
#include "Toolbox/Backoff.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Errors.h"

#include <Logging.h>

#include <algorithm>

namespace Inbound
{
  namespace
  {
    const unsigned int kAttemptsPerRound = 50;
    const int64_t kDayMs = 86400 * 1000;
    const int64_t kKeepNotificationsMs = 90 * kDayMs;
  }

  NotificationDelivery::NotificationDelivery(const Configuration& configuration, Ledger& ledger,
                                             const IClock& clock, IMailTransport* mail,
                                             IWebhookTransport* webhooks,
                                             const std::string& from) :
    configuration_(configuration),
    ledger_(ledger),
    clock_(clock),
    mail_(mail),
    webhooks_(webhooks),
    from_(from),
    node_(MakeNodeId("")),
    leaseMs_(60 * 1000)
  {
  }

  void NotificationDelivery::SetNode(const std::string& node, unsigned int leaseSeconds)
  {
    node_ = node;
    leaseMs_ = int64_t(leaseSeconds) * 1000;
  }

  void NotificationDelivery::ReleaseClaims()
  {
    ledger_.Notifications().ReleaseClaims(node_);
  }

  std::vector<std::string> NotificationDelivery::SignWebhook(const std::string& secret,
                                                             const std::string& event,
                                                             const std::string& delivery,
                                                             int64_t unixSeconds,
                                                             const std::string& body)
  {
    const std::string timestamp = std::to_string(unixSeconds);
    return {"Content-Type: application/json",
            "User-Agent: OrthancInbound",
            "X-Inbound-Event: " + event,
            "X-Inbound-Delivery: " + delivery,
            "X-Inbound-Timestamp: " + timestamp,
            "X-Inbound-Signature: sha256=" + Crypto::HmacSha256Hex(secret, timestamp + "." + body)};
  }

  void NotificationDelivery::Deliver(const NotificationRecord& n)
  {
    if (n.channel == "mail")
    {
      if (mail_ == nullptr)
      {
        throw std::runtime_error("e-mail is off (Inbound.Smtp.Host is empty)");
      }
      mail_->Send(from_, {n.target}, n.payload);
      return;
    }
    for (const WebhookSettings& hook : configuration_.webhooks)
    {
      if (hook.url == n.target && webhooks_ != nullptr)
      {
        const std::vector<std::string> headers =
          SignWebhook(hook.secret, n.subject, NotificationPayloads::DeliveryId(n.dedupKey),
                      clock_.NowMs() / 1000, n.payload);
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

  void NotificationDelivery::ForgetSecret(const NotificationRecord& n)
  {
    if (NotificationStore::IsSecretKind(n.kind))
    {
      // The blanked text's former page must not stay in the write-ahead log either.
      ledger_.GetDatabase().Checkpoint();
    }
  }

  size_t NotificationDelivery::DeliverDue(const std::atomic<bool>& stopping)
  {
    const NotificationSettings& settings = configuration_.notifications;
    size_t delivered = 0;
    NotificationStore& store = ledger_.Notifications();
    const int64_t claimedAt = clock_.NowMs();
    for (const NotificationRecord& n :
         store.ClaimDue(claimedAt, kAttemptsPerRound, node_, claimedAt + leaseMs_))
    {
      if (stopping)
      {
        break;
      }
      // Claimed again right before the attempt: the round's earlier attempts may have
      // outlasted the claim, and another Orthanc may have taken this one meanwhile.
      if (!store.RenewClaim(n.id, node_, clock_.NowMs() + leaseMs_))
      {
        continue;
      }
      try
      {
        {
          // A slow relay or webhook: the claim is renewed while it answers.
          LeaseRenewer renewer(
            [this, &store, &n] { return store.RenewClaim(n.id, node_, clock_.NowMs() + leaseMs_); },
            leaseMs_ / 3);
          Deliver(n);
        }
        if (!ledger_.Notifications().MarkDelivered(n.id, clock_.NowMs(), node_))
        {
          // Paused past its claim: another Orthanc took it over and records its outcome.
          LOG(WARNING) << "Inbound: notification " << n.id << " was delivered by this Orthanc"
                       << " after another took it over: it may arrive twice";
        }
        ForgetSecret(n);
        delivered++;
        LOG(INFO) << "Inbound: notification " << n.id << " (" << n.kind << ", " << n.event
                  << ") delivered to " << n.target;
      }
      catch (...)
      {
        const std::string error = DescribeCurrentException();
        if (stopping)
        {
          break;  // interrupted by the stop: given back (ReleaseClaims), due again
        }
        const int64_t now = clock_.NowMs();
        const int64_t deadline =
          n.createdAt + static_cast<int64_t>(settings.giveUpAfterSeconds) * 1000;
        if (now >= deadline)
        {
          // An alert about a failed notification that fails too is not announced again.
          const bool aboutFailure =
            n.event == EnumerationToString(AuditEventType_AlertNotificationFailed);
          ledger_.Notifications().MarkFailed(
            n.id, now, error,
            aboutFailure ? AuditEventType_NotificationFailed
                         : AuditEventType_AlertNotificationFailed,
            n.kind + " " + n.channel + " " + std::to_string(n.id) + " to " + n.target +
              " given up after " + std::to_string(n.attempts + 1) + " attempts: " + error, node_);
          ForgetSecret(n);
          LOG(ERROR) << "Inbound: notification " << n.id << " to " << n.target
                     << " given up: " << error;
        }
        else
        {
          // n.attempts counts the failures before this one.
          const int64_t delay = Backoff(settings.retryIntervalSeconds,
                                        settings.maxRetryIntervalSeconds).NextDelay(n.attempts + 1);
          ledger_.Notifications().MarkRetry(n.id, std::min(now + delay * 1000, deadline), error,
                                           node_);
          LOG(WARNING) << "Inbound: notification " << n.id << " to " << n.target
                       << " failed (attempt " << n.attempts + 1 << "), retry in " << delay
                       << " s: " << error;
        }
      }
    }
    return delivered;
  }

  void NotificationDelivery::PurgeIfDue()
  {
    const int64_t now = clock_.NowMs();
    if (now - lastPurge_ > kDayMs)
    {
      lastPurge_ = now;
      ledger_.Notifications().Purge(now - kKeepNotificationsMs);
    }
  }

  Json::Value NotificationDelivery::Describe(const std::string& state, unsigned int limit) const
  {
    Json::Value json(Json::objectValue);
    Json::Value counts(Json::objectValue);
    for (const auto& c : ledger_.Notifications().CountByState())
    {
      counts[c.first] = Json::Int64(c.second);
    }
    json["counts"] = counts;
    Json::Value list(Json::arrayValue);
    for (const NotificationRecord& n : ledger_.Notifications().List(state, limit))
    {
      Json::Value item(Json::objectValue);
      item["id"] = Json::Int64(n.id);
      item["delivery"] = NotificationPayloads::DeliveryId(n.dedupKey);
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

  bool NotificationDelivery::Retry(int64_t id, const std::string& by)
  {
    return ledger_.Notifications().Retry(id, clock_.NowMs(), by);
  }
}
