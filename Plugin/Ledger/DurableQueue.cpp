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
        ") AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?");
    s.BindInt64(0, now);
    s.BindInt64(1, limit);
    ReadAll(s, read);
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
      "UPDATE " + shape_.table + " SET state = '" + kPending + "', next_attempt = ?" +
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
