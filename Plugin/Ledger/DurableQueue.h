// What the durable queues of the ledger (notifications, forwards) share: due rows, retries.
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/LedgerDatabase.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace Inbound
{
  // A durable queue is a table of work items, each attempted until done or given up:
  //
  //   id INTEGER PRIMARY KEY AUTOINCREMENT, upload_id TEXT, state TEXT,
  //   attempts INTEGER, next_attempt INTEGER (ms), last_error TEXT, ...
  //
  //   lease_owner TEXT, lease_until INTEGER (ms): the node claiming it (schema 9)
  //
  // where "pending" means waiting for the attempt due at next_attempt, "failed" means given
  // up (until an admin retries it), and each queue has its own further states ("delivered";
  // "sending", "done"). The worker (Notifier, Forwarder) takes the due rows, attempts them,
  // and records the outcome through its store; the back-off between attempts is its own.
  // One instance describes one table; every method runs in its caller's session.
  class DurableQueue : public boost::noncopyable
  {
  public:
    // Receives each row read, with the queue's columns (or its list columns) in order.
    typedef std::function<void(const LedgerStatement& row)> RowReader;

    struct Shape
    {
      std::string table;
      std::string columns;                // as the store's reader expects them
      std::string listColumns;            // the same for lists (without large payloads)
      std::vector<std::string> states;    // every state, listed in counts even when empty
      std::vector<std::string> dueStates; // states whose rows are due at next_attempt
      bool hasUpdatedAt = false;          // an "updated_at" column, set by every change
    };

    static const char* const kPending;  // "pending"
    static const char* const kFailed;   // "failed"

  private:
    Shape shape_;
    AuditStore& audit_;

  public:
    DurableQueue(const Shape& shape, AuditStore& audit);

    // Rows in a due state whose next attempt is at or before "now" and that no node claims,
    // the most overdue first.
    void ListDue(const LedgerDatabase::Session& session, int64_t now, unsigned int limit,
                 const RowReader& read) const;

    // Claims for "node" until "leaseUntil" (within the caller's transaction) up to "limit"
    // rows in a due state whose next attempt is at or before "now" and that no other node
    // holds (never claimed, claim given up, or its lease ended at or before "now": a node
    // that died), the most overdue first, and reads them. Several Orthancs on one ledger: a
    // due row is attempted by the one that claimed it (doc/Ledger.md, "Leases").
    void ClaimDue(const LedgerDatabase::Session& session, int64_t now, unsigned int limit,
                  const std::string& node, int64_t leaseUntil, const RowReader& read);

    // "node" still holds row "id", in a due state: its claim lasts until "leaseUntil". False
    // when another node took it over or its state changed (cancelled, done).
    bool RenewClaim(const LedgerDatabase::Session& session, int64_t id, const std::string& node,
                    int64_t leaseUntil);

    // Gives up the claims of "node" (every node's when empty) on the rows in "states" (a
    // stopping Orthanc; the start of a SQLite ledger's only Orthanc); returns how many.
    int64_t ReleaseClaims(const LedgerDatabase::Session& session, const std::string& node,
                          const std::vector<std::string>& states);

    // The assignments of an UPDATE that ends the claim of a row (its outcome is recorded).
    static const char* const kEndClaim;

    // False when there is no such row.
    bool Lookup(const LedgerDatabase::Session& session, int64_t id, const RowReader& read) const;

    // Newest first, with the list columns. Empty "uploadId" or "state": any.
    void List(const LedgerDatabase::Session& session, const std::string& uploadId,
              const std::string& state, unsigned int limit, const RowReader& read) const;

    // The rows in each state.
    std::map<std::string, int64_t> CountByState(const LedgerDatabase::Session& session) const;

    // The upload of a row, "" when there is no such row.
    std::string GetUploadId(const LedgerDatabase::Session& session, int64_t id) const;

    // An admin's retry, within the caller's transaction: a pending or failed row becomes
    // pending and due at "now", audited "event" with "detail" and the row's upload. False,
    // with nothing written, for an unknown id or a row in another state.
    bool Retry(const LedgerDatabase::Session& session, int64_t id, int64_t now,
               AuditEventType event, const std::string& detail);
  };
}
