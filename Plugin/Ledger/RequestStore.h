// Request links and their tickets (tables "requests" and "request_tickets"; doc/Requests.md).
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/Records.h"

#include <string>
#include <vector>

namespace Inbound
{
  // Every change is one transaction with its audit entry. Records come back with usedUploads
  // filled in: the uploads bound to the request that are not cancelled or expired (an
  // abandoned empty attempt gives its use back).
  class RequestStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;
    AuditStore& audit_;

    void Insert(const LedgerDatabase::Session& session, const RequestRecord& record);

    // A revoked or locked request's tickets die with it: no upload opens with them any more.
    static void DeleteTickets(const LedgerDatabase::Session& session, const std::string& id);

  public:
    RequestStore(LedgerDatabase& database, AuditStore& audit);

    // Audited "request-created" (by, recipient, challenge, expiry, uses; no patient data).
    void Create(const RequestRecord& record);

    bool Lookup(RequestRecord& record, const std::string& id) const;

    // Inside a caller's session (UploadStore::Create checks a request in its transaction).
    bool LookupInSession(const LedgerDatabase::Session& session, RequestRecord& record,
                         const std::string& id) const;

    bool LookupByTokenHash(RequestRecord& record, const std::string& tokenHash) const;

    // Newest first; "limit" 0: all.
    std::vector<RequestRecord> List(unsigned int limit) const;

    // Ids of the uploads bound to the request, oldest first.
    std::vector<std::string> ListUploads(const std::string& requestId) const;

    // Audited "request-revoked"; false when unknown or already revoked.
    bool Revoke(const std::string& id, int64_t now, const std::string& by);

    // A wrong answer from "ip": failures + 1; at "maxFailures" the request locks (audited
    // "request-locked", an alert). Audited "request-challenge-failed". Returns the record
    // after the change; false when unknown.
    bool RecordFailure(RequestRecord& after, const std::string& id, int64_t now,
                       const std::string& ip, unsigned int maxFailures);

    // A right answer: failures back to 0 and a ticket (its SHA-256) valid until
    // "ticketExpiresAt", audited "request-challenge-passed". False, and nothing written, when
    // the request is no longer active (revoked or locked meanwhile).
    bool RecordSuccess(const std::string& id, const std::string& ticketHash,
                       int64_t ticketExpiresAt, int64_t now, const std::string& ip);

    // Whether "ticketHash" is a ticket of this request that is still valid at "now".
    bool CheckTicket(const std::string& requestId, const std::string& ticketHash,
                     int64_t now) const;

    // A gateway: the record an Internal pushed (no patient, no sender): inserted, or updated
    // when its revision is newer, keeping what only the gateway knows (failures, its own lock
    // while the push says active, the tickets); a pushed revocation or lock applies. Audited
    // "request-received" the first time. False when older or equal, or the token differs.
    bool Upsert(const RequestRecord& pushed, int64_t now);

    // (Internal) A gateway locked the request: an active one becomes locked here too
    // (revision + 1, so that the other gateways get it), audited "request-locked" and alerted
    // ("alert-request-locked") here as well. False when not active.
    bool MarkLocked(const std::string& id, int64_t lockedAt, int64_t now,
                    const std::string& gateway);

    // Forgets tickets expired before "now" and requests expired for more than "keepMs" that
    // no upload is bound to (with what gateways confirmed of them). Returns the tickets and
    // requests removed.
    size_t Prune(int64_t now, int64_t keepMs);
  };
}
