// The durable queue of e-mails and webhook calls (table "notifications").
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
  // Notifications are planned from the audit trail by the Notifier (reader "notify"), each
  // rendered once when queued, then attempted until delivered or given up.
  class NotificationStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;
    AuditStore& audit_;
    DurableQueue queue_;

  public:
    // The Notifier's cursor in the audit trail.
    static const char* const kCursor;

    NotificationStore(LedgerDatabase& database, AuditStore& audit);

    // The last audit entry already turned into notifications. The first call on a ledger
    // starts at its newest entry, so that switching notifications on never announces the past.
    int64_t GetCursor();

    // Queues notifications (ignoring any whose dedup key exists) and moves the cursor, in
    // one transaction: each event is announced exactly once, even across a crash. With a
    // "startCursor" (>= 0, the cursor the round read from): false, nothing written, when the
    // cursor is no longer there: another Orthanc of a shared ledger planned these events
    // meanwhile (its "planner:notify" lease taken over while this one paused, doc/Ledger.md
    // "Leases"), and the cursor must not go back to replan them.
    bool Enqueue(const std::vector<NotificationRecord>& notifications, int64_t cursor,
                 int64_t startCursor = -1);

    // Queues one notification made outside the audit trail (a request's link mail: its link
    // is never in the audit); ignored when its dedup key exists. False then.
    bool Add(const NotificationRecord& notification);

    // The pending link mails of request "requestId" are not sent any more (the request was
    // revoked): failed with "why", their text blanked. Returns how many.
    int64_t CancelRequestLinks(const std::string& requestId, int64_t now, const std::string& why);

    // Pending notifications due at "now", the most overdue first, with their payloads.
    std::vector<NotificationRecord> ListDue(int64_t now, unsigned int limit) const;

    // Claims for "node", until "leaseUntil", up to "limit" due notifications that no other
    // Orthanc of the ledger holds (DurableQueue::ClaimDue), with their payloads. Each outcome
    // (MarkDelivered, MarkRetry, MarkFailed) ends the claim.
    std::vector<NotificationRecord> ClaimDue(int64_t now, unsigned int limit,
                                             const std::string& node, int64_t leaseUntil);

    // "node" still holds notification "id", pending: claimed until "leaseUntil"; false
    // when another Orthanc took it over, or it was cancelled.
    bool RenewClaim(int64_t id, const std::string& node, int64_t leaseUntil);

    // A stopping Orthanc: its claims end now, another takes them at once. "node" empty: every
    // claim (the start of the one Orthanc of a SQLite ledger: they were its last process's).
    int64_t ReleaseClaims(const std::string& node);

    // The outcomes below take "node", the Orthanc that claimed the notification (ClaimDue):
    // written only while that node still holds the claim, so that a node that paused past its
    // claim and woke up neither ends the claim of the node that took it over nor gives up
    // what that node is sending (doc/Ledger.md, "Leases"); false, nothing written, otherwise.
    // "node" empty: no claim is checked (callers that list rather than claim).

    // Delivered. The text of a request's link mail is blanked (kSecretKinds): the link must
    // not stay in the ledger longer than it takes to send it.
    bool MarkDelivered(int64_t id, int64_t now, const std::string& node = "");

    // Kinds whose text is blanked once delivered or given up (SQL list).
    static const char* const kSecretKinds;

    static bool IsSecretKind(const std::string& kind)
    {
      return kind == "request-link";
    }

    // An attempt failed; the next one is due at "nextAttemptAt". Like MarkFailed, it leaves a
    // notification that is no longer pending (cancelled during the attempt) as it is.
    bool MarkRetry(int64_t id, int64_t nextAttemptAt, const std::string& error,
                   const std::string& node = "");

    // Given up: dead-lettered (the text of kSecretKinds blanked), and "auditEvent" recorded in
    // the same transaction.
    bool MarkFailed(int64_t id, int64_t now, const std::string& error, AuditEventType auditEvent,
                    const std::string& auditDetail, const std::string& node = "");

    // An admin's retry: a pending or failed notification becomes due now, audited
    // "notification-retry"; false when "id" is unknown or delivered, or its text was blanked.
    bool Retry(int64_t id, int64_t now, const std::string& by);

    // Newest first, without payloads. "state" empty: any state.
    std::vector<NotificationRecord> List(const std::string& state, unsigned int limit) const;

    bool Lookup(NotificationRecord& record, int64_t id) const;

    std::map<std::string, int64_t> CountByState() const;

    // Notifications of "kind" to "target" queued at or after "sinceMs".
    int64_t CountTo(const std::string& kind, const std::string& target, int64_t sinceMs) const;

    // When a notification announcing "event" (an audit event's text) was last queued (0:
    // never).
    int64_t GetLastQueuedTime(const std::string& event) const;

    // Forgets delivered and failed notifications queued before "cutoffMs"; returns how many.
    int64_t Purge(int64_t cutoffMs);
  };
}
