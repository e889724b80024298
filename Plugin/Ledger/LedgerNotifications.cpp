// The persistent notification queue of the ledger (see Ledger.h).

#include "Ledger.h"

#include <SQLite/Statement.h>
#include <SQLite/Transaction.h>

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

    NotificationRecord ReadNotification(const Orthanc::SQLite::Statement& s)
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
  }

  int64_t Ledger::GetCursor(const std::string& name)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement insert(
      db_, SQLITE_FROM_HERE,
      "INSERT OR IGNORE INTO cursors (name, seq) SELECT ?, IFNULL(MAX(seq), 0) FROM audit");
    insert.BindString(0, name);
    insert.Run();
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE, "SELECT seq FROM cursors WHERE name = ?");
    s.BindString(0, name);
    s.Step();
    return s.ColumnInt64(0);
  }

  void Ledger::SetCursorInternal(const std::string& name, int64_t seq)
  {
    Orthanc::SQLite::Statement c(db_, SQLITE_FROM_HERE,
                                 "INSERT OR REPLACE INTO cursors (name, seq) VALUES (?, ?)");
    c.BindString(0, name);
    c.BindInt64(1, seq);
    c.Run();
  }

  std::string Ledger::GetNotificationUploadInternal(int64_t id) const
  {
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 "SELECT upload_id FROM notifications WHERE id = ?");
    s.BindInt64(0, id);
    return s.Step() ? s.ColumnString(0) : "";
  }

  int64_t Ledger::GetNotifyCursor()
  {
    return GetCursor("notify");
  }

  std::vector<AuditEvent> Ledger::ListNotifiableEvents(int64_t seq, unsigned int limit,
                                                       int64_t& scannedUpTo) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT seq, time, event, upload_id, ip, detail FROM audit WHERE seq > ? AND"
      " (event IN ('upload-complete', 'upload-delivered', 'upload-forwarded', 'ban')"
      "  OR event LIKE 'alert-%') ORDER BY seq LIMIT ?");
    s.BindInt64(0, seq);
    s.BindInt64(1, limit);
    return ReadEventsAfterInternal(s, seq, limit, scannedUpTo);
  }

  void Ledger::EnqueueNotifications(const std::vector<NotificationRecord>& notifications,
                                    int64_t cursor)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    for (const NotificationRecord& n : notifications)
    {
      Orthanc::SQLite::Statement s(
        db_, SQLITE_FROM_HERE,
        "INSERT OR IGNORE INTO notifications (dedup_key, created_at, channel, kind, event,"
        " upload_id, target, subject, payload, state, attempts, next_attempt, last_error,"
        " delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', 0)");
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
    SetCursorInternal("notify", cursor);
    t.Commit();
  }

  std::vector<NotificationRecord> Ledger::ListDueNotifications(int64_t now,
                                                               unsigned int limit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("SELECT ") + kColumns +
        " FROM notifications WHERE state = 'pending' AND next_attempt <= ?"
        " ORDER BY next_attempt, id LIMIT ?");
    s.BindInt64(0, now);
    s.BindInt64(1, limit);
    std::vector<NotificationRecord> result;
    while (s.Step())
    {
      result.push_back(ReadNotification(s));
    }
    return result;
  }

  void Ledger::MarkNotificationDelivered(int64_t id, int64_t now)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "UPDATE notifications SET state = 'delivered', attempts = attempts + 1,"
      " delivered_at = ?, last_error = '' WHERE id = ?");
    s.BindInt64(0, now);
    s.BindInt64(1, id);
    s.Run();
  }

  void Ledger::MarkNotificationRetry(int64_t id, int64_t nextAttemptAt, const std::string& error)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "UPDATE notifications SET attempts = attempts + 1, next_attempt = ?, last_error = ?"
      " WHERE id = ?");
    s.BindInt64(0, nextAttemptAt);
    s.BindString(1, error);
    s.BindInt64(2, id);
    s.Run();
  }

  void Ledger::MarkNotificationFailed(int64_t id, int64_t now, const std::string& error,
                                      const std::string& auditEvent,
                                      const std::string& auditDetail)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "UPDATE notifications SET state = 'failed', attempts = attempts + 1, last_error = ?,"
      " next_attempt = ? WHERE id = ?");
    s.BindString(0, error);
    s.BindInt64(1, now);
    s.BindInt64(2, id);
    s.Run();
    AddAuditInternal(now, auditEvent, GetNotificationUploadInternal(id), "", auditDetail);
    t.Commit();
  }

  bool Ledger::RetryNotification(int64_t id, int64_t now, const std::string& by)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "UPDATE notifications SET state = 'pending', next_attempt = ?"
      " WHERE id = ? AND state IN ('pending', 'failed')");
    s.BindInt64(0, now);
    s.BindInt64(1, id);
    s.Run();
    const bool changed = db_.GetLastChangeCount() > 0;
    if (changed)
    {
      AddAuditInternal(now, "notification-retry", GetNotificationUploadInternal(id), "",
                       "notification " + std::to_string(id) + (by.empty() ? "" : " by " + by));
    }
    t.Commit();
    return changed;
  }

  std::vector<NotificationRecord> Ledger::ListNotifications(const std::string& state,
                                                            unsigned int limit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("SELECT ") + kColumnsWithoutPayload +
        " FROM notifications WHERE (? = '' OR state = ?) ORDER BY id DESC LIMIT ?");
    s.BindString(0, state);
    s.BindString(1, state);
    s.BindInt64(2, limit);
    std::vector<NotificationRecord> result;
    while (s.Step())
    {
      result.push_back(ReadNotification(s));
    }
    return result;
  }

  bool Ledger::LookupNotification(NotificationRecord& record, int64_t id) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("SELECT ") + kColumns + " FROM notifications WHERE id = ?");
    s.BindInt64(0, id);
    if (!s.Step())
    {
      return false;
    }
    record = ReadNotification(s);
    return true;
  }

  std::map<std::string, int64_t> Ledger::CountNotifications() const
  {
    return CountStates("notifications", {"pending", "delivered", "failed"});
  }

  int64_t Ledger::CountNotificationsTo(const std::string& kind, const std::string& target,
                                       int64_t sinceMs) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT COUNT(*) FROM notifications WHERE kind = ? AND target = ? AND created_at >= ?");
    s.BindString(0, kind);
    s.BindString(1, target);
    s.BindInt64(2, sinceMs);
    s.Step();
    return s.ColumnInt64(0);
  }

  int64_t Ledger::GetLastNotificationTime(const std::string& event) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT IFNULL(MAX(created_at), 0) FROM notifications WHERE event = ?");
    s.BindString(0, event);
    s.Step();
    return s.ColumnInt64(0);
  }

  int64_t Ledger::PurgeNotifications(int64_t cutoffMs)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "DELETE FROM notifications WHERE state IN ('delivered', 'failed') AND created_at < ?");
    s.BindInt64(0, cutoffMs);
    s.Run();
    return db_.GetLastChangeCount();
  }
}
