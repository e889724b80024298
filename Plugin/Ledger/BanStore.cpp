// The bans (see BanStore.h).

#include "BanStore.h"

namespace Inbound
{
  BanStore::BanStore(LedgerDatabase& database, AuditStore& audit) :
    database_(database),
    audit_(audit)
  {
  }

  void BanStore::Put(const BanRecord& ban, const std::string& by)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "INSERT INTO bans (entry, created_at, until, reason, automatic)"
                      " VALUES (?, ?, ?, ?, ?) ON CONFLICT (entry) DO UPDATE SET"
                      " created_at = excluded.created_at, until = excluded.until,"
                      " reason = excluded.reason, automatic = excluded.automatic");
    s.BindString(0, ban.entry);
    s.BindInt64(1, ban.createdAt);
    s.BindInt64(2, ban.until);
    s.BindString(3, ban.reason);
    s.BindInt(4, ban.automatic ? 1 : 0);
    s.Run();
    const std::string duration =
      ban.until == 0 ? "" : ", for " + std::to_string((ban.until - ban.createdAt) / 1000) + " s";
    audit_.Append(t, ban.createdAt, AuditEventType_Ban, "", ban.entry,
                  ban.reason + (by.empty() ? "" : " (by " + by + ")") + duration);
    t.Commit();
  }

  bool BanStore::Remove(const std::string& entry, int64_t now, const std::string& by)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement s(t.GetConnection(),
                      "DELETE FROM bans WHERE entry = ?");
    s.BindString(0, entry);
    s.Run();
    const bool removed = t.GetConnection().GetLastChangeCount() > 0;
    if (removed)
    {
      audit_.Append(t, now, AuditEventType_Unban, "", entry, by.empty() ? "" : "by " + by);
    }
    t.Commit();
    return removed;
  }

  size_t BanStore::DeleteExpired(const std::vector<BanRecord>& bans)
  {
    if (bans.empty())
    {
      return 0;
    }
    LedgerDatabase::Transaction t(database_);
    size_t deleted = 0;
    for (const BanRecord& ban : bans)
    {
      LedgerStatement s(t.GetConnection(),
                        "DELETE FROM bans WHERE entry = ? AND until = ? AND until != 0");
      s.BindString(0, ban.entry);
      s.BindInt64(1, ban.until);
      s.Run();
      deleted += static_cast<size_t>(t.GetConnection().GetLastChangeCount());
    }
    t.Commit();
    return deleted;
  }

  std::vector<BanRecord> BanStore::List() const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT entry, created_at, until, reason, automatic FROM bans ORDER BY entry");
    std::vector<BanRecord> result;
    while (s.Step())
    {
      BanRecord ban;
      ban.entry = s.ColumnString(0);
      ban.createdAt = s.ColumnInt64(1);
      ban.until = s.ColumnInt64(2);
      ban.reason = s.ColumnString(3);
      ban.automatic = s.ColumnInt(4) != 0;
      result.push_back(ban);
    }
    return result;
  }
}
