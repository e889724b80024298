// The Internal's pulls from gateways: items in progress and held uploads ("pulling", "held_pulls").
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/Records.h"

#include <string>
#include <vector>

namespace Inbound
{
  class PullStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;
    AuditStore& audit_;

  public:
    PullStore(LedgerDatabase& database, AuditStore& audit);

    // The item of a pulled upload being fetched and parsed, recorded (durably: one statement,
    // on disk when it returns) before, cleared after: one left at start-up means the process
    // died on it (crash-loop guard).
    void MarkPulling(const std::string& gateway, const std::string& uploadId,
                     const std::string& sha256, int64_t now);

    void ClearPulling(const std::string& gateway, const std::string& uploadId,
                      const std::string& sha256);

    // The oldest first, each with its "crashes".
    std::vector<PullingRecord> ListPulling(const std::string& gateway) const;

    // A start found this item still in progress: counted, the marker kept (MarkPulling keeps
    // the count when the item is taken up again).
    void RecordCrash(const std::string& gateway, const std::string& uploadId,
                     const std::string& sha256);

    // Uploads of a gateway that the puller holds: never pulled again nor acknowledged until
    // an admin releases them. A held upload may have no row in "uploads" (a forged manifest).
    // Holding one that is held already keeps its first reason; false then.
    bool Hold(const PullingRecord& held);

    // Forgets the hold and any item in progress of that upload, audited "pull-released" by
    // "by"; false when it was not held.
    bool Release(const std::string& gateway, const std::string& uploadId, int64_t now,
                 const std::string& by);

    // The oldest first.
    std::vector<PullingRecord> ListHeld(const std::string& gateway) const;
  };
}
