// The daily quota counters (see QuotaStore.h).

#include "QuotaStore.h"

namespace Inbound
{
  QuotaStore::QuotaStore(LedgerDatabase& database) :
    database_(database)
  {
  }

  QuotaUsage QuotaStore::GetUsage(const std::string& scope, int64_t day) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT uploads, bytes FROM quota_usage WHERE scope = ? AND day = ?");
    s.BindString(0, scope);
    s.BindInt64(1, day);
    QuotaUsage usage;
    if (s.Step())
    {
      usage.uploads = s.ColumnInt64(0);
      usage.bytes = s.ColumnInt64(1);
    }
    return usage;
  }

  void QuotaStore::Add(const LedgerDatabase::Session& session,
                       const std::vector<std::string>& scopes, int64_t day, int64_t uploads,
                       int64_t bytes)
  {
    for (const std::string& scope : scopes)
    {
      LedgerStatement s(
        session.GetConnection(),
        "INSERT INTO quota_usage (scope, day, uploads, bytes) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (scope, day) DO UPDATE SET uploads = quota_usage.uploads + excluded.uploads,"
        " bytes = quota_usage.bytes + excluded.bytes");
      s.BindString(0, scope);
      s.BindInt64(1, day);
      s.BindInt64(2, uploads);
      s.BindInt64(3, bytes);
      s.Run();
    }
  }

  size_t QuotaStore::RekeySenders(const std::function<std::string(const std::string&)>& senderKey)
  {
    LedgerDatabase::Transaction t(database_);
    struct Row
    {
      std::string scope;
      int64_t day, uploads, bytes;
    };
    std::vector<Row> rows;
    {
      // A key is hexadecimal: a scope with an '@' is an address.
      LedgerStatement s(t.GetConnection(),
                        "SELECT scope, day, uploads, bytes FROM quota_usage"
                        " WHERE scope LIKE 'sender:%@%'");
      while (s.Step())
      {
        rows.push_back(Row{s.ColumnString(0), s.ColumnInt64(1), s.ColumnInt64(2),
                           s.ColumnInt64(3)});
      }
    }
    for (const Row& row : rows)
    {
      Add(t, {"sender:" + senderKey(row.scope.substr(7))}, row.day, row.uploads, row.bytes);
      LedgerStatement s(t.GetConnection(),
                        "DELETE FROM quota_usage WHERE scope = ? AND day = ?");
      s.BindString(0, row.scope);
      s.BindInt64(1, row.day);
      s.Run();
    }
    t.Commit();
    return rows.size();
  }
}
