// Request links and their tickets (see RequestStore.h).

#include "RequestStore.h"

namespace Inbound
{
  namespace
  {
    // The uploads that count against a request's uses: all bound ones but those cancelled by
    // their sender or expired unfinished (an abandoned attempt gives its use back).
    const char* const kRequestColumns =
      "r.id, r.token_hash, r.state, r.created_at, r.updated_at, r.expires_at, r.created_by,"
      " r.recipient, r.message, r.language, r.max_uploads, r.challenge, r.secret, r.failures,"
      " r.locked_at, r.revision, r.patient_id, r.patient_name, r.patient_birth_date,"
      " r.sender_name, r.sender_email, r.forward_to,"
      " (SELECT COUNT(*) FROM uploads u WHERE u.request_id = r.id"
      "  AND u.state NOT IN ('cancelled', 'expired'))";

    RequestRecord ReadRequest(const LedgerStatement& s)
    {
      RequestRecord r;
      r.id = s.ColumnString(0);
      r.tokenHash = s.ColumnString(1);
      r.state = StringToRequestState(s.ColumnString(2));
      r.createdAt = s.ColumnInt64(3);
      r.updatedAt = s.ColumnInt64(4);
      r.expiresAt = s.ColumnInt64(5);
      r.createdBy = s.ColumnString(6);
      r.recipientId = s.ColumnString(7);
      r.message = s.ColumnString(8);
      r.language = s.ColumnString(9);
      r.maxUploads = s.ColumnInt64(10);
      r.challenge = StringToChallengeKind(s.ColumnString(11));
      r.secret = s.ColumnString(12);
      r.failures = s.ColumnInt64(13);
      r.lockedAt = s.ColumnInt64(14);
      r.revision = s.ColumnInt64(15);
      r.patient.id = s.ColumnString(16);
      r.patient.name = s.ColumnString(17);
      r.patient.birthDate = s.ColumnString(18);
      r.senderName = s.ColumnString(19);
      r.senderEmail = s.ColumnString(20);
      r.forwardTo = s.ColumnString(21);
      r.usedUploads = s.ColumnInt64(22);
      return r;
    }

    // The audit detail of a creation: who, for whom, how; never patient data.
    std::string DescribeCreation(const RequestRecord& r)
    {
      return "by " + (r.createdBy.empty() ? std::string("admin") : r.createdBy) +
             ", recipient " + r.recipientId + ", challenge " + EnumerationToString(r.challenge) +
             ", " + std::to_string(r.maxUploads) + " upload(s)" +
             (r.forwardTo.empty() ? "" : ", forward to " + r.forwardTo) +
             (r.senderEmail.empty() ? "" : ", link mailed");
    }
  }

  RequestStore::RequestStore(LedgerDatabase& database, AuditStore& audit) :
    database_(database),
    audit_(audit)
  {
  }

  void RequestStore::Insert(const LedgerDatabase::Session& session, const RequestRecord& r)
  {
    LedgerStatement s(
      session.GetConnection(),
      "INSERT INTO requests (id, token_hash, state, created_at, updated_at, expires_at,"
      " created_by, recipient, message, language, max_uploads, challenge, secret, failures,"
      " locked_at, revision, patient_id, patient_name, patient_birth_date, sender_name,"
      " sender_email, forward_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
      " ?, ?, ?, ?, ?)");
    s.BindString(0, r.id);
    s.BindString(1, r.tokenHash);
    s.BindString(2, EnumerationToString(r.state));
    s.BindInt64(3, r.createdAt);
    s.BindInt64(4, r.updatedAt);
    s.BindInt64(5, r.expiresAt);
    s.BindString(6, r.createdBy);
    s.BindString(7, r.recipientId);
    s.BindString(8, r.message);
    s.BindString(9, r.language);
    s.BindInt64(10, r.maxUploads);
    s.BindString(11, EnumerationToString(r.challenge));
    s.BindString(12, r.secret);
    s.BindInt64(13, r.failures);
    s.BindInt64(14, r.lockedAt);
    s.BindInt64(15, r.revision);
    s.BindString(16, r.patient.id);
    s.BindString(17, r.patient.name);
    s.BindString(18, r.patient.birthDate);
    s.BindString(19, r.senderName);
    s.BindString(20, r.senderEmail);
    s.BindString(21, r.forwardTo);
    s.Run();
  }

  void RequestStore::DeleteTickets(const LedgerDatabase::Session& session, const std::string& id)
  {
    LedgerStatement s(session.GetConnection(),
                      "DELETE FROM request_tickets WHERE request_id = ?");
    s.BindString(0, id);
    s.Run();
  }

  void RequestStore::Create(const RequestRecord& r)
  {
    LedgerDatabase::Transaction t(database_);
    Insert(t, r);
    audit_.Append(t, r.createdAt, AuditEventType_RequestCreated, "", "", "request " + r.id +
                  ", " + DescribeCreation(r));
    t.Commit();
  }

  namespace
  {
    // The request whose "column" ("id" or "token_hash", constants) is "value". Not a cached
    // statement: its text depends on the column.
    bool LookupBy(const LedgerDatabase::Session& session, RequestRecord& record,
                  const char* column, const std::string& value)
    {
      LedgerStatement s(session.GetConnection(), std::string("SELECT ") +
                          kRequestColumns + " FROM requests r WHERE r." + column +
                          " = ?");
      s.BindString(0, value);
      if (!s.Step())
      {
        return false;
      }
      record = ReadRequest(s);
      return true;
    }
  }

  bool RequestStore::LookupInSession(const LedgerDatabase::Session& session,
                                     RequestRecord& record, const std::string& id) const
  {
    return LookupBy(session, record, "id", id);
  }

  bool RequestStore::Lookup(RequestRecord& record, const std::string& id) const
  {
    LedgerDatabase::Session session(database_);
    return LookupBy(session, record, "id", id);
  }

  bool RequestStore::LookupByTokenHash(RequestRecord& record, const std::string& tokenHash) const
  {
    LedgerDatabase::Session session(database_);
    return LookupBy(session, record, "token_hash", tokenHash);
  }

  std::vector<RequestRecord> RequestStore::List(unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kRequestColumns +
                        " FROM requests r ORDER BY r.created_at DESC, r.id LIMIT ?");
    s.BindInt64(0, limit == 0 ? INT64_MAX : int64_t(limit));  // PostgreSQL: no LIMIT -1
    std::vector<RequestRecord> result;
    while (s.Step())
    {
      result.push_back(ReadRequest(s));
    }
    return result;
  }

  std::vector<std::string> RequestStore::ListUploads(const std::string& requestId) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      "SELECT id FROM uploads WHERE request_id = ?"
                      " ORDER BY created_at, id");
    s.BindString(0, requestId);
    std::vector<std::string> result;
    while (s.Step())
    {
      result.push_back(s.ColumnString(0));
    }
    return result;
  }

  bool RequestStore::Revoke(const std::string& id, int64_t now, const std::string& by)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "UPDATE requests SET state = 'revoked', updated_at = ?,"
                      " revision = revision + 1 WHERE id = ? AND state != 'revoked'");
    s.BindInt64(0, now);
    s.BindString(1, id);
    s.Run();
    if (t.GetConnection().GetLastChangeCount() == 0)
    {
      return false;
    }
    DeleteTickets(t, id);
    audit_.Append(t, now, AuditEventType_RequestRevoked, "", "",
                  "request " + id + (by.empty() ? "" : ", by " + by));
    t.Commit();
    return true;
  }

  bool RequestStore::RecordFailure(RequestRecord& after, const std::string& id, int64_t now,
                                   const std::string& ip, unsigned int maxFailures)
  {
    LedgerDatabase::Transaction t(database_);
    if (!LookupInSession(t, after, id))
    {
      return false;
    }
    after.failures++;
    after.updatedAt = now;
    const bool locks = after.state == RequestState_Active && maxFailures > 0 &&
                       after.failures >= int64_t(maxFailures);
    if (locks)
    {
      after.state = RequestState_Locked;
      after.lockedAt = now;
    }
    LedgerStatement s(t.GetConnection(),
                      "UPDATE requests SET failures = ?, state = ?, locked_at = ?,"
                      " updated_at = ? WHERE id = ?");
    s.BindInt64(0, after.failures);
    s.BindString(1, EnumerationToString(after.state));
    s.BindInt64(2, after.lockedAt);
    s.BindInt64(3, now);
    s.BindString(4, id);
    s.Run();
    audit_.Append(t, now, AuditEventType_RequestChallengeFailed, "", ip,
                  "request " + id + ", wrong answer " + std::to_string(after.failures));
    if (locks)
    {
      const std::string detail = "request " + id + " locked after " +
                                 std::to_string(after.failures) + " wrong answers, the last from " +
                                 ip;
      DeleteTickets(t, id);
      audit_.Append(t, now, AuditEventType_RequestLocked, "", ip, detail);
      audit_.Append(t, now, AuditEventType_AlertRequestLocked, "", ip, detail);
    }
    t.Commit();
    return true;
  }

  bool RequestStore::RecordSuccess(const std::string& id, const std::string& ticketHash,
                                   int64_t ticketExpiresAt, int64_t now, const std::string& ip)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "UPDATE requests SET failures = 0, updated_at = ?"
                      " WHERE id = ? AND state = 'active'");
    s.BindInt64(0, now);
    s.BindString(1, id);
    s.Run();
    if (t.GetConnection().GetLastChangeCount() == 0)
    {
      return false;
    }
    LedgerStatement i(t.GetConnection(),
                      "INSERT INTO request_tickets (ticket_hash, request_id, expires_at)"
                      " VALUES (?, ?, ?)");
    i.BindString(0, ticketHash);
    i.BindString(1, id);
    i.BindInt64(2, ticketExpiresAt);
    i.Run();
    audit_.Append(t, now, AuditEventType_RequestChallengePassed, "", ip, "request " + id);
    t.Commit();
    return true;
  }

  bool RequestStore::CheckTicket(const std::string& requestId, const std::string& ticketHash,
                                 int64_t now) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      "SELECT COUNT(*) FROM request_tickets WHERE ticket_hash = ?"
                      " AND request_id = ? AND expires_at > ?");
    s.BindString(0, ticketHash);
    s.BindString(1, requestId);
    s.BindInt64(2, now);
    return s.Step() && s.ColumnInt64(0) > 0;
  }

  bool RequestStore::Upsert(const RequestRecord& pushed, int64_t now)
  {
    LedgerDatabase::Transaction t(database_);
    RequestRecord existing;
    if (LookupInSession(t, existing, pushed.id))
    {
      if (pushed.revision <= existing.revision || pushed.tokenHash != existing.tokenHash)
      {
        return false;  // nothing newer; a token never changes
      }
      // What the inside decides (a revocation, a lock made on another gateway, the expiry, the
      // uses, the texts) comes from the push; a lock made here stays while the push says
      // active (only a revocation outranks it).
      const RequestState state =
        pushed.state == RequestState_Active ? existing.state
        : existing.state == RequestState_Revoked ? RequestState_Revoked : pushed.state;
      LedgerStatement s(t.GetConnection(),
                        "UPDATE requests SET state = ?, updated_at = ?, expires_at = ?,"
                        " recipient = ?, message = ?, language = ?, max_uploads = ?,"
                        " revision = ? WHERE id = ?");
      s.BindString(0, EnumerationToString(state));
      s.BindInt64(1, now);
      s.BindInt64(2, pushed.expiresAt);
      s.BindString(3, pushed.recipientId);
      s.BindString(4, pushed.message);
      s.BindString(5, pushed.language);
      s.BindInt64(6, pushed.maxUploads);
      s.BindInt64(7, pushed.revision);
      s.BindString(8, pushed.id);
      s.Run();
      if (state != existing.state)
      {
        DeleteTickets(t, pushed.id);
        audit_.Append(t, now, state == RequestState_Revoked ? AuditEventType_RequestRevoked
                                                            : AuditEventType_RequestLocked,
                      "", "", "request " + pushed.id + ", by the internal Orthanc");
      }
      t.Commit();
      return true;
    }

    // A gateway holds no patient and no sender: whatever the push carried, none is kept.
    RequestRecord r = pushed;
    r.patient = RequestPatient();
    r.senderName.clear();
    r.senderEmail.clear();
    r.forwardTo.clear();
    r.failures = 0;
    r.lockedAt = 0;
    r.updatedAt = now;
    Insert(t, r);
    audit_.Append(t, now, AuditEventType_RequestReceived, "", "",
                  "request " + r.id + ", recipient " + r.recipientId);
    t.Commit();
    return true;
  }

  bool RequestStore::MarkLocked(const std::string& id, int64_t lockedAt, int64_t now,
                                const std::string& gateway)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "UPDATE requests SET state = 'locked', locked_at = ?,"
                      " updated_at = ?, revision = revision + 1"
                      " WHERE id = ? AND state = 'active'");
    s.BindInt64(0, lockedAt);
    s.BindInt64(1, now);
    s.BindString(2, id);
    s.Run();
    if (t.GetConnection().GetLastChangeCount() == 0)
    {
      return false;
    }
    // The gateway's own alert may reach nobody (a gateway often has no mail relay), and a
    // gateway that reports locks it did not see is worth knowing about: alerted here too.
    const std::string detail = "request " + id + " locked on gateway " + gateway;
    audit_.Append(t, now, AuditEventType_RequestLocked, "", gateway, detail);
    audit_.Append(t, now, AuditEventType_AlertRequestLocked, "", gateway, detail);
    t.Commit();
    return true;
  }

  size_t RequestStore::Prune(int64_t now, int64_t keepMs)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "DELETE FROM request_tickets WHERE expires_at <= ?");
    s.BindInt64(0, now);
    s.Run();
    size_t removed = size_t(t.GetConnection().GetLastChangeCount());
    LedgerStatement r(t.GetConnection(),
                      "DELETE FROM requests WHERE expires_at <= ? AND NOT EXISTS"
                      " (SELECT 1 FROM uploads u WHERE u.request_id = requests.id)");
    r.BindInt64(0, now - keepMs);
    r.Run();
    removed += size_t(t.GetConnection().GetLastChangeCount());
    // (Internal) what the gateways confirmed of the requests gone.
    LedgerStatement g(t.GetConnection(),
                      "DELETE FROM request_gateways WHERE request_id NOT IN"
                      " (SELECT id FROM requests)");
    g.Run();
    t.Commit();
    return removed;
  }
}
