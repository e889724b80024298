// The durable queue of studies sent to DICOM modalities (table "forwards").
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/DurableQueue.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/Records.h"

#include <map>
#include <string>
#include <vector>

namespace Inbound
{
  // Forwards are created by an admin's release or by the auto-forward rules (reader
  // "forward" of the audit trail), then advanced by the Forwarder until done or given up.
  class ForwardStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;
    AuditStore& audit_;
    DurableQueue queue_;

  public:
    // The auto-forward rules' cursor in the audit trail.
    static const char* const kCursor;

    ForwardStore(LedgerDatabase& database, AuditStore& audit);

    // The last audit entry the rules have handled (see AuditStore::GetCursor).
    int64_t GetCursor();

    // Records forwards (ids set in "forwards") with one audit entry, in one transaction;
    // with a "cursor" (>= 0), also moves the rules' cursor.
    void Add(std::vector<ForwardRecord>& forwards, int64_t now, const std::string& ip,
             AuditEventType auditEvent, const std::string& auditDetail, int64_t cursor = -1);

    // Pending and sending forwards due at "now", the most overdue first.
    std::vector<ForwardRecord> ListDue(int64_t now, unsigned int limit) const;

    // Writes the progress of a forward.
    void Update(const ForwardRecord& forward);

    // The same, and records "auditEvent" in the same transaction.
    void Update(const ForwardRecord& forward, AuditEventType auditEvent,
                const std::string& auditDetail);

    // An admin's retry: a pending or failed forward becomes due now, audited "forward-retry";
    // false when "id" is unknown, sending or done.
    bool Retry(int64_t id, int64_t now, const std::string& by);

    bool Lookup(ForwardRecord& forward, int64_t id) const;

    // Newest first; empty "uploadId" or "state": any.
    std::vector<ForwardRecord> List(const std::string& uploadId, const std::string& state,
                                    unsigned int limit) const;

    std::map<std::string, int64_t> CountByState() const;
  };
}
