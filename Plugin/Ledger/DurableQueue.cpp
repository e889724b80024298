// The SQL shared by the ledger's durable queues (see DurableQueue.h).

#include "DurableQueue.h"

namespace Inbound
{
  namespace
  {
    // "'pending', 'sending'": the states are constants of this program, without quotes.
    std::string MakeSqlList(const std::vector<std::string>& states)
    {
      std::string list;
      for (const std::string& state : states)
      {
        list += (list.empty() ? "'" : ", '") + state + "'";
      }
      return list;
    }

    void ReadAll(LedgerStatement& s, const DurableQueue::RowReader& read)
    {
      while (s.Step())
      {
        read(s);
      }
    }
  }

  const char* const DurableQueue::kPending = "pending";
  const char* const DurableQueue::kFailed = "failed";
  const char* const DurableQueue::kEndClaim = "lease_owner = '', lease_until = 0";

  DurableQueue::DurableQueue(const Shape& shape, AuditStore& audit) :
    shape_(shape),
    audit_(audit)
  {
  }

  // The statements below are not cached: their text depends on the queue. Each runs a few
  // times a second at most (the workers' rounds, an admin's page), not once per file.

  void DurableQueue::ListDue(const LedgerDatabase::Session& session, int64_t now,
                             unsigned int limit, const RowReader& read) const
  {
    LedgerStatement s(
      session.GetConnection(),
      "SELECT " + shape_.columns + " FROM " + shape_.table + " WHERE state IN (" +
        MakeSqlList(shape_.dueStates) +
        ") AND next_attempt <= ? AND (lease_owner = '' OR lease_until <= ?)"
        " ORDER BY next_attempt, id LIMIT ?");
    s.BindInt64(0, now);
    s.BindInt64(1, now);
    s.BindInt64(2, limit);
    ReadAll(s, read);
  }

  void DurableQueue::ClaimDue(const LedgerDatabase::Session& session, int64_t now,
                              unsigned int limit, const std::string& node, int64_t leaseUntil,
                              const RowReader& read)
  {
    const std::string due = "state IN (" + MakeSqlList(shape_.dueStates) + ") AND next_attempt <= ?";
    {
      // Selected and marked in one statement of the caller's transaction: on PostgreSQL all
      // transactions of the ledger run one after the other, on SQLite writes do.
      LedgerStatement claim(
        session.GetConnection(),
        "UPDATE " + shape_.table + " SET lease_owner = ?, lease_until = ? WHERE id IN"
          " (SELECT id FROM " + shape_.table + " WHERE " + due +
          " AND (lease_owner = '' OR lease_owner = ? OR lease_until <= ?)"
          " ORDER BY next_attempt, id LIMIT ?)");
      claim.BindString(0, node);
      claim.BindInt64(1, leaseUntil);
      claim.BindInt64(2, now);
      claim.BindString(3, node);
      claim.BindInt64(4, now);
      claim.BindInt64(5, limit);
      claim.Run();
    }
    LedgerStatement s(
      session.GetConnection(),
      "SELECT " + shape_.columns + " FROM " + shape_.table + " WHERE " + due +
        " AND lease_owner = ? AND lease_until = ? ORDER BY next_attempt, id LIMIT ?");
    s.BindInt64(0, now);
    s.BindString(1, node);
    s.BindInt64(2, leaseUntil);
    s.BindInt64(3, limit);
    ReadAll(s, read);
  }

  bool DurableQueue::RenewClaim(const LedgerDatabase::Session& session, int64_t id,
                                const std::string& node, int64_t leaseUntil)
  {
    LedgerStatement s(
      session.GetConnection(),
      "UPDATE " + shape_.table + " SET lease_until = ? WHERE id = ? AND lease_owner = ?"
        " AND state IN (" + MakeSqlList(shape_.dueStates) + ")");
    s.BindInt64(0, leaseUntil);
    s.BindInt64(1, id);
    s.BindString(2, node);
    s.Run();
    return session.GetConnection().GetLastChangeCount() > 0;
  }

  int64_t DurableQueue::ReleaseClaims(const LedgerDatabase::Session& session,
                                      const std::string& node,
                                      const std::vector<std::string>& states)
  {
    LedgerStatement s(
      session.GetConnection(),
      "UPDATE " + shape_.table + " SET " + kEndClaim +
        " WHERE (? = '' OR lease_owner = ?) AND lease_owner <> '' AND state IN (" +
        MakeSqlList(states) + ")");
    s.BindString(0, node);
    s.BindString(1, node);
    s.Run();
    return session.GetConnection().GetLastChangeCount();
  }

  bool DurableQueue::Lookup(const LedgerDatabase::Session& session, int64_t id,
                            const RowReader& read) const
  {
    LedgerStatement s(
      session.GetConnection(),
      "SELECT " + shape_.columns + " FROM " + shape_.table + " WHERE id = ?");
    s.BindInt64(0, id);
    if (!s.Step())
    {
      return false;
    }
    read(s);
    return true;
  }

  void DurableQueue::List(const LedgerDatabase::Session& session, const std::string& uploadId,
                          const std::string& state, unsigned int limit,
                          const RowReader& read) const
  {
    LedgerStatement s(
      session.GetConnection(),
      "SELECT " + shape_.listColumns + " FROM " + shape_.table +
        " WHERE (? = '' OR upload_id = ?) AND (? = '' OR state = ?) ORDER BY id DESC LIMIT ?");
    s.BindString(0, uploadId);
    s.BindString(1, uploadId);
    s.BindString(2, state);
    s.BindString(3, state);
    s.BindInt64(4, limit);
    ReadAll(s, read);
  }

  std::map<std::string, int64_t> DurableQueue::CountByState(
    const LedgerDatabase::Session& session) const
  {
    return CountRowsByState(session, shape_.table, shape_.states);
  }

  std::string DurableQueue::GetUploadId(const LedgerDatabase::Session& session, int64_t id) const
  {
    LedgerStatement s(session.GetConnection(),
                      "SELECT upload_id FROM " + shape_.table + " WHERE id = ?");
    s.BindInt64(0, id);
    return s.Step() ? s.ColumnString(0) : "";
  }

  bool DurableQueue::Retry(const LedgerDatabase::Session& session, int64_t id, int64_t now,
                           AuditEventType event, const std::string& detail)
  {
    LedgerStatement s(
      session.GetConnection(),
      "UPDATE " + shape_.table + " SET lease_owner = CASE WHEN state = '" + kFailed +
        "' THEN '' ELSE lease_owner END, lease_until = CASE WHEN state = '" + kFailed +
        "' THEN 0 ELSE lease_until END, state = '" + kPending + "', next_attempt = ?" +
        (shape_.hasUpdatedAt ? ", updated_at = ?" : "") + " WHERE id = ? AND state IN ('" +
        kPending + "', '" + kFailed + "')");
    int parameter = 0;
    s.BindInt64(parameter++, now);
    if (shape_.hasUpdatedAt)
    {
      s.BindInt64(parameter++, now);
    }
    s.BindInt64(parameter, id);
    s.Run();
    if (session.GetConnection().GetLastChangeCount() == 0)
    {
      return false;
    }
    audit_.Append(session, now, event, GetUploadId(session, id), "", detail);
    return true;
  }
}
