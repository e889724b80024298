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
    Orthanc::SQLite::Statement s(
      session.GetConnection(), SQLITE_FROM_HERE,
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
      Orthanc::SQLite::Statement s(
        session.GetConnection(), SQLITE_FROM_HERE,
        "INSERT INTO quota_usage (scope, day, uploads, bytes) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (scope, day) DO UPDATE SET uploads = uploads + excluded.uploads,"
        " bytes = bytes + excluded.bytes");
      s.BindString(0, scope);
      s.BindInt64(1, day);
      s.BindInt64(2, uploads);
      s.BindInt64(3, bytes);
      s.Run();
    }
  }
}
