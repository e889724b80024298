// The durable notification queue (see NotificationStore.h).

#include "NotificationStore.h"

namespace Inbound
{
  namespace
  {
    const char* const kColumns =
      "id, dedup_key, created_at, channel, kind, event, upload_id, target, subject, payload, "
      "state, attempts, next_attempt, last_error, delivered_at";

    // The same columns with an empty payload: lists do not need the mails.
    const char* const kColumnsWithoutPayload =
      "id, dedup_key, created_at, channel, kind, event, upload_id, target, subject, '', "
      "state, attempts, next_attempt, last_error, delivered_at";

    NotificationRecord ReadNotification(const LedgerStatement& s)
    {
      NotificationRecord r;
      r.id = s.ColumnInt64(0);
      r.dedupKey = s.ColumnString(1);
      r.createdAt = s.ColumnInt64(2);
      r.channel = s.ColumnString(3);
      r.kind = s.ColumnString(4);
      r.event = s.ColumnString(5);
      r.uploadId = s.ColumnString(6);
      r.target = s.ColumnString(7);
      r.subject = s.ColumnString(8);
      r.payload = s.ColumnString(9);
      r.state = StringToNotificationState(s.ColumnString(10));
      r.attempts = s.ColumnInt64(11);
      r.nextAttemptAt = s.ColumnInt64(12);
      r.lastError = s.ColumnString(13);
      r.deliveredAt = s.ColumnInt64(14);
      return r;
    }

    DurableQueue::Shape MakeShape()
    {
      DurableQueue::Shape shape;
      shape.table = "notifications";
      shape.columns = kColumns;
      shape.listColumns = kColumnsWithoutPayload;
      shape.states = {EnumerationToString(NotificationState_Pending),
                      EnumerationToString(NotificationState_Delivered),
                      EnumerationToString(NotificationState_Failed)};
      shape.dueStates = {EnumerationToString(NotificationState_Pending)};
      return shape;
    }
  }

  const char* const NotificationStore::kCursor = "notify";

  const char* const NotificationStore::kSecretKinds = "('request-link')";

  namespace
  {
    // The payload column as it stays once a notification is done with.
    std::string DonePayload()
    {
      return std::string("CASE WHEN kind IN ") + NotificationStore::kSecretKinds +
             " THEN '' ELSE payload END";
    }

    void Insert(const LedgerDatabase::Session& session, const NotificationRecord& n)
    {
      LedgerStatement s(
        session.GetConnection(),
        "INSERT INTO notifications (dedup_key, created_at, channel, kind, event,"
        " upload_id, target, subject, payload, state, attempts, next_attempt, last_error,"
        " delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', 0)"
        " ON CONFLICT DO NOTHING");  // a dedup_key already queued
      s.BindString(0, n.dedupKey);
      s.BindInt64(1, n.createdAt);
      s.BindString(2, n.channel);
      s.BindString(3, n.kind);
      s.BindString(4, n.event);
      s.BindString(5, n.uploadId);
      s.BindString(6, n.target);
      s.BindString(7, n.subject);
      s.BindString(8, n.payload);
      s.BindInt64(9, n.nextAttemptAt);
      s.Run();
    }
  }

  NotificationStore::NotificationStore(LedgerDatabase& database, AuditStore& audit) :
    database_(database),
    audit_(audit),
    queue_(MakeShape(), audit)
  {
  }

  int64_t NotificationStore::GetCursor()
  {
    return audit_.GetCursor(kCursor);
  }

  bool NotificationStore::Enqueue(const std::vector<NotificationRecord>& notifications,
                                  int64_t cursor, int64_t startCursor)
  {
    LedgerDatabase::Transaction t(database_);
    if (startCursor >= 0)
    {
      LedgerStatement s(t.GetConnection(), "SELECT seq FROM cursors WHERE name = ?");
      s.BindString(0, kCursor);
      if (!s.Step() || s.ColumnInt64(0) != startCursor)
      {
        return false;  // nothing written: the transaction rolls back
      }
    }
    for (const NotificationRecord& n : notifications)
    {
      Insert(t, n);
    }
    audit_.SetCursor(t, kCursor, cursor);
    t.Commit();
    return true;
  }

  bool NotificationStore::Add(const NotificationRecord& notification)
  {
    LedgerDatabase::Session session(database_);
    Insert(session, notification);
    return session.GetConnection().GetLastChangeCount() > 0;
  }

  int64_t NotificationStore::CancelRequestLinks(const std::string& requestId, int64_t now,
                                                const std::string& why)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "UPDATE notifications SET state = 'failed', payload = '', last_error = ?,"
      " next_attempt = ? WHERE kind = 'request-link' AND state = 'pending'"
      " AND substr(dedup_key, 1, CAST(? AS INTEGER)) = ?");
    const std::string prefix = "request:" + requestId + ":";
    s.BindString(0, why);
    s.BindInt64(1, now);
    s.BindInt(2, static_cast<int>(prefix.size()));
    s.BindString(3, prefix);
    s.Run();
    return session.GetConnection().GetLastChangeCount();
  }

  std::vector<NotificationRecord> NotificationStore::ListDue(int64_t now, unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    std::vector<NotificationRecord> result;
    queue_.ListDue(session, now, limit, [&](const LedgerStatement& row) {
      result.push_back(ReadNotification(row));
    });
    return result;
  }

  std::vector<NotificationRecord> NotificationStore::ClaimDue(int64_t now, unsigned int limit,
                                                             const std::string& node,
                                                             int64_t leaseUntil)
  {
    LedgerDatabase::Transaction t(database_);
    std::vector<NotificationRecord> result;
    queue_.ClaimDue(t, now, limit, node, leaseUntil, [&](const LedgerStatement& row) {
      result.push_back(ReadNotification(row));
    });
    t.Commit();
    return result;
  }

  bool NotificationStore::RenewClaim(int64_t id, const std::string& node, int64_t leaseUntil)
  {
    LedgerDatabase::Transaction t(database_);
    const bool held = queue_.RenewClaim(t, id, node, leaseUntil);
    t.Commit();
    return held;
  }

  int64_t NotificationStore::ReleaseClaims(const std::string& node)
  {
    LedgerDatabase::Transaction t(database_);
    const int64_t released = queue_.ReleaseClaims(
      t, node, {EnumerationToString(NotificationState_Pending),
                EnumerationToString(NotificationState_Delivered),
                EnumerationToString(NotificationState_Failed)});
    t.Commit();
    return released;
  }

  namespace
  {
    // The claim an outcome requires (see NotificationStore.h): none when "node" is empty.
    const char* const kStillClaimed = " AND (? = '' OR lease_owner = ?)";
  }

  bool NotificationStore::MarkDelivered(int64_t id, int64_t now, const std::string& node)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "UPDATE notifications SET state = 'delivered', attempts = attempts + 1,"
      " delivered_at = ?, last_error = '', payload = " + DonePayload() + ", " +
        DurableQueue::kEndClaim + " WHERE id = ?" + kStillClaimed);
    s.BindInt64(0, now);
    s.BindInt64(1, id);
    s.BindString(2, node);
    s.BindString(3, node);
    s.Run();
    return session.GetConnection().GetLastChangeCount() > 0;
  }

  bool NotificationStore::MarkRetry(int64_t id, int64_t nextAttemptAt, const std::string& error,
                                    const std::string& node)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "UPDATE notifications SET attempts = attempts + 1, next_attempt = ?, last_error = ?,"
      " lease_owner = '', lease_until = 0"
      " WHERE id = ? AND state = 'pending'" +  // one cancelled meanwhile keeps its reason
        std::string(kStillClaimed));
    s.BindInt64(0, nextAttemptAt);
    s.BindString(1, error);
    s.BindInt64(2, id);
    s.BindString(3, node);
    s.BindString(4, node);
    s.Run();
    return session.GetConnection().GetLastChangeCount() > 0;
  }

  bool NotificationStore::MarkFailed(int64_t id, int64_t now, const std::string& error,
                                     AuditEventType auditEvent, const std::string& auditDetail,
                                     const std::string& node)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(
      t.GetConnection(),
      "UPDATE notifications SET state = 'failed', attempts = attempts + 1, last_error = ?,"
      " next_attempt = ?, payload = " + DonePayload() + ", " + DurableQueue::kEndClaim +
      " WHERE id = ? AND state = 'pending'" + kStillClaimed);
    s.BindString(0, error);
    s.BindInt64(1, now);
    s.BindInt64(2, id);
    s.BindString(3, node);
    s.BindString(4, node);
    s.Run();
    if (t.GetConnection().GetLastChangeCount() == 0)
    {
      // Cancelled while it was tried (a revoked request's link mail), or taken over by
      // another Orthanc: nothing to say.
      return false;
    }
    audit_.Append(t, now, auditEvent, queue_.GetUploadId(t, id), "", auditDetail);
    t.Commit();
    return true;
  }

  bool NotificationStore::Retry(int64_t id, int64_t now, const std::string& by)
  {
    LedgerDatabase::Transaction t(database_);
    {
      // A blanked mail has nothing left to send.
      LedgerStatement s(t.GetConnection(),
                        "SELECT CASE WHEN payload = '' THEN 1 ELSE 0 END"
                        " FROM notifications WHERE id = ?");
      s.BindInt64(0, id);
      if (s.Step() && s.ColumnInt(0) != 0)
      {
        return false;
      }
    }
    const bool changed =
      queue_.Retry(t, id, now, AuditEventType_NotificationRetry,
                   "notification " + std::to_string(id) + (by.empty() ? "" : " by " + by));
    t.Commit();
    return changed;
  }

  std::vector<NotificationRecord> NotificationStore::List(const std::string& state,
                                                          unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    std::vector<NotificationRecord> result;
    queue_.List(session, "", state, limit, [&](const LedgerStatement& row) {
      result.push_back(ReadNotification(row));
    });
    return result;
  }

  bool NotificationStore::Lookup(NotificationRecord& record, int64_t id) const
  {
    LedgerDatabase::Session session(database_);
    return queue_.Lookup(session, id, [&](const LedgerStatement& row) {
      record = ReadNotification(row);
    });
  }

  std::map<std::string, int64_t> NotificationStore::CountByState() const
  {
    LedgerDatabase::Session session(database_);
    return queue_.CountByState(session);
  }

  int64_t NotificationStore::CountTo(const std::string& kind, const std::string& target,
                                     int64_t sinceMs) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT COUNT(*) FROM notifications WHERE kind = ? AND target = ? AND created_at >= ?");
    s.BindString(0, kind);
    s.BindString(1, target);
    s.BindInt64(2, sinceMs);
    s.Step();
    return s.ColumnInt64(0);
  }

  int64_t NotificationStore::GetLastQueuedTime(const std::string& event) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT COALESCE(MAX(created_at), 0) FROM notifications WHERE event = ?");
    s.BindString(0, event);
    s.Step();
    return s.ColumnInt64(0);
  }

  int64_t NotificationStore::Purge(int64_t cutoffMs)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "DELETE FROM notifications WHERE state IN ('delivered', 'failed') AND created_at < ?");
    s.BindInt64(0, cutoffMs);
    s.Run();
    return session.GetConnection().GetLastChangeCount();
  }
}
