// The ledger: the plugin's own database, as one store per responsibility over one connection.
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/BanStore.h"
#include "Ledger/ForwardStore.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/NotificationStore.h"
#include "Ledger/PartnerStore.h"
#include "Ledger/PatientStore.h"
#include "Ledger/PullStore.h"
#include "Ledger/QuotaStore.h"
#include "Ledger/RequestGatewayStore.h"
#include "Ledger/Records.h"
#include "Ledger/RequestStore.h"
#include "Ledger/UploadStore.h"

#include <boost/noncopyable.hpp>

#include <string>

namespace Inbound
{
  // The plugin's own durable record (SQLite, or PostgreSQL shared by several Orthancs; see
  // doc/Ledger.md): uploads and their items, the audit trail, the quota counters, the bans,
  // the notification and forward queues and the pulls. Each store owns its tables; they
  // share one LedgerDatabase (one connection and its lock), so that a change that spans
  // tables, a state change and its audit entry for instance, is one transaction: a crash
  // leaves either the whole change or none of it. Callers take the store they need:
  // ledger.Uploads().Lookup(...), ledger.Audit().Add(...).
  class Ledger : public boost::noncopyable
  {
  private:
    LedgerDatabase database_;
    AuditStore audit_;
    QuotaStore quotas_;
    PatientStore patients_;
    RequestStore requests_;  // before uploads_, which checks bound uploads against it
    UploadStore uploads_;
    BanStore bans_;
    NotificationStore notifications_;
    ForwardStore forwards_;
    PullStore pulls_;
    PartnerStore partners_;
    RequestGatewayStore requestGateways_;

  public:
    // The ledger of "location" (Inbound.Ledger). Creates or upgrades the schema.
    explicit Ledger(const LedgerLocation& location);

    // A SQLite ledger; "path" empty: in memory (unit tests). Creates or upgrades the schema.
    explicit Ledger(const std::string& path);

    // The connection itself, for maintenance across stores (LedgerDatabase::Checkpoint).
    LedgerDatabase& GetDatabase()
    {
      return database_;
    }

    // Uploads and their stored files.
    UploadStore& Uploads()
    {
      return uploads_;
    }

    const UploadStore& Uploads() const
    {
      return uploads_;
    }

    // The audit trail and its readers' cursors.
    AuditStore& Audit()
    {
      return audit_;
    }

    const AuditStore& Audit() const
    {
      return audit_;
    }

    // The patient ordinals of Isolation.
    PatientStore& Patients()
    {
      return patients_;
    }

    // The daily quota counters.
    QuotaStore& Quotas()
    {
      return quotas_;
    }

    const QuotaStore& Quotas() const
    {
      return quotas_;
    }

    BanStore& Bans()
    {
      return bans_;
    }

    NotificationStore& Notifications()
    {
      return notifications_;
    }

    const NotificationStore& Notifications() const
    {
      return notifications_;
    }

    ForwardStore& Forwards()
    {
      return forwards_;
    }

    const ForwardStore& Forwards() const
    {
      return forwards_;
    }

    // Request links and their tickets.
    RequestStore& Requests()
    {
      return requests_;
    }

    const RequestStore& Requests() const
    {
      return requests_;
    }

    // The Internal's pulls from gateways.
    PullStore& Pulls()
    {
      return pulls_;
    }

    // (Internal) what each gateway confirmed of each request link.
    RequestGatewayStore& RequestGateways()
    {
      return requestGateways_;
    }

    const RequestGatewayStore& RequestGateways() const
    {
      return requestGateways_;
    }

    // What each partner site sent, and its last contact.
    PartnerStore& Partners()
    {
      return partners_;
    }

    const PartnerStore& Partners() const
    {
      return partners_;
    }
  };
}
