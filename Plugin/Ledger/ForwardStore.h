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
  // What the round of the rules decided about one upload bound to a request link
  // (ForwardPlanner::CollectRules, doc/Requests.md "Matching and forwarding").
  struct RequestVerdict
  {
    std::string uploadId;
    bool matched = false;
    std::string mismatchDetail;  // audited "request-mismatch" when not matched
    std::string forwardDetail;   // audited "auto-forward" when the request's forwards are queued
  };

  // An upload that an automatic forward did not send for want of an identity beyond doubt:
  // audited "reconcile-waiting" with "detail" (doc/Reconciliation.md).
  struct ForwardWaiting
  {
    std::string uploadId;
    std::string detail;
  };

  // Forwards are created by an admin's release or by the auto-forward rules (reader
  // "forward" of the audit trail), then advanced by the Forwarder until done or given up.
  class ForwardStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;
    AuditStore& audit_;
    DurableQueue queue_;

    // Inserts a new forward, pending; sets its id, state and times.
    static void Insert(const LedgerDatabase::Session& session, ForwardRecord& forward,
                       int64_t now);

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

    // One round of the rules over the uploads completed since the cursor, in one transaction
    // (a crash neither loses nor repeats any of it): "forwards" (the rules', audited once
    // with "rulesDetail", and the requests', origin "request", audited per upload with its
    // verdict's forwardDetail), each verdict in uploads.request_matched (its only writer) with
    // "request-mismatch" audited when not matched, "reconcile-waiting" for each of "waiting",
    // and the rules' cursor moved from "startCursor" to "cursor". False, with nothing
    // written, when the cursor is no longer "startCursor": another Orthanc of a shared ledger
    // planned these events meanwhile (its planner lease taken over during a long round, see
    // doc/Ledger.md "Leases"), so that no event is planned twice.
    bool AddRound(std::vector<ForwardRecord>& forwards, const std::string& rulesDetail,
                  const std::vector<RequestVerdict>& verdicts,
                  const std::vector<ForwardWaiting>& waiting, int64_t now, int64_t startCursor,
                  int64_t cursor);

    // Pending and sending forwards due at "now", the most overdue first.
    std::vector<ForwardRecord> ListDue(int64_t now, unsigned int limit) const;

    // Claims for "node", until "leaseUntil", up to "limit" due forwards that no other Orthanc
    // of the ledger holds (DurableQueue::ClaimDue). Update() ends the claim, except while
    // the forward is sending: Orthanc's store job exists in the Orthanc that started it, which
    // keeps it (renewed at each poll) until it is done, or until its lease ends (it died).
    std::vector<ForwardRecord> ClaimDue(int64_t now, unsigned int limit, const std::string& node,
                                        int64_t leaseUntil);

    // "node" still holds forward "id", pending or sending: claimed until "leaseUntil"; false
    // when another Orthanc took it over.
    bool RenewClaim(int64_t id, const std::string& node, int64_t leaseUntil);

    // A stopping Orthanc: its claims of forwards not sending end now (sending ones stay its
    // own: its saved jobs resume at its next start). "node" empty: every claim, sending ones
    // too (the start of the one Orthanc of a SQLite ledger: they were its last process's).
    int64_t ReleaseClaims(const std::string& node);

    // Writes the progress of a forward, if "node" (the Orthanc that claimed it, ClaimDue)
    // still holds its claim: a node that paused past its claim and woke up must not
    // overwrite the job, state or outcome of the node that took the forward over (doc/Ledger.md,
    // "Leases"); false, nothing written, otherwise. "node" empty: no claim is checked.
    bool Update(const ForwardRecord& forward, const std::string& node = "");

    // The same, and records "auditEvent" in the same transaction (only if written).
    bool Update(const ForwardRecord& forward, AuditEventType auditEvent,
                const std::string& auditDetail, const std::string& node = "");

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
