// The notification thread: wires the planner, the payloads and the delivery of notifications.
#include "Notifier.h"

#include "Toolbox/Errors.h"
#include "Toolbox/RepeatedFailureLog.h"

#include <Logging.h>

#include <chrono>
#include <stdexcept>

namespace Inbound
{
  namespace
  {
    MailAddress ParseFrom(const Configuration& configuration, bool mail)
    {
      MailAddress from;
      if (mail && !MailAddress::Parse(from, configuration.smtp.from))
      {
        throw std::invalid_argument("Inbound.Smtp.From is not an e-mail address");
      }
      return from;
    }
  }

  Notifier::Notifier(const Configuration& configuration, Ledger& ledger, const IClock& clock,
                     const MailTemplates& templates, IMailTransport* mail,
                     IWebhookTransport* webhooks) :
    ledger_(ledger),
    clock_(clock),
    mail_(mail != nullptr),
    from_(ParseFrom(configuration, mail != nullptr)),
    payloads_(configuration, templates, from_),
    planner_(configuration, ledger, clock, payloads_, mail != nullptr, webhooks != nullptr),
    delivery_(configuration, ledger, clock, mail, webhooks, from_.address),
    plannerLease_(ledger.GetDatabase(), "planner:notify", delivery_.GetNode(), 60 * 1000)
  {
  }

  void Notifier::SetNode(const std::string& node, unsigned int leaseSeconds)
  {
    delivery_.SetNode(node, leaseSeconds);
    plannerLease_.Configure(node, int64_t(leaseSeconds) * 1000);
  }

  size_t Notifier::Collect()
  {
    return planner_.Collect();
  }

  size_t Notifier::DeliverDue(const std::atomic<bool>& stopping)
  {
    return delivery_.DeliverDue(stopping);
  }

  void Notifier::Wake()
  {
    wake_.Wake();
  }

  bool Notifier::QueueRequestLink(const RequestRecord& request, const std::string& url)
  {
    MailAddress to;
    if (!mail_ || !MailAddress::Parse(to, request.senderEmail))
    {
      return false;
    }
    to.name = request.senderName;  // typed by staff, encoded by Mail::Compose
    ledger_.Notifications().Add(payloads_.MakeRequestLinkMail(request, url, to, clock_.NowMs()));
    Wake();
    return true;
  }

  void Notifier::CancelRequestLinks(const RequestRecord& request)
  {
    const int64_t cancelled = ledger_.Notifications().CancelRequestLinks(
      request.id, clock_.NowMs(), "request " + request.id + " revoked before the mail was sent");
    if (cancelled > 0)
    {
      ledger_.GetDatabase().Checkpoint();  // the blanked links leave the write-ahead log too
      LOG(INFO) << "Inbound: request " << request.id << " revoked: " << cancelled
                << " link mail(s) not sent";
    }
  }

  void Notifier::Loop(const std::atomic<bool>& stopping)
  {
    RepeatedFailureLog failures;  // the same failure again and again: logged once a minute
    while (!stopping)
    {
      try
      {
        const bool planner = plannerLease_.Hold(clock_.NowMs());
        if (planner)
        {
          planner_.Collect();
        }
        delivery_.DeliverDue(stopping);
        if (planner)
        {
          delivery_.PurgeIfDue();
        }
      }
      catch (...)
      {
        const std::string error = DescribeCurrentException();
        if (failures.ShouldLog(error))
        {
          LOG(ERROR) << "Inbound: notifications: " << error;
        }
      }
      wake_.Wait(std::chrono::milliseconds(500), stopping);
    }
    try
    {
      // Another Orthanc of the ledger takes over at once rather than after the lease.
      delivery_.ReleaseClaims();
      plannerLease_.Release();
    }
    catch (...)
    {
      LOG(WARNING) << "Inbound: notifications: " << DescribeCurrentException();
    }
  }

  Json::Value Notifier::Describe(const std::string& state, unsigned int limit) const
  {
    return delivery_.Describe(state, limit);
  }

  bool Notifier::Retry(int64_t id, const std::string& by)
  {
    const bool done = delivery_.Retry(id, by);
    if (done)
    {
      Wake();
    }
    return done;
  }
}
