// What each gateway confirmed of each request link (see RequestGatewayStore.h).
#include "RequestGatewayStore.h"

namespace Inbound
{
  namespace
  {
    const char* const kColumns =
      "gateway, confirmed_revision, synced_at, status, used_uploads, failures, locked_at, refused";
  }

  RequestGatewayStore::RequestGatewayStore(LedgerDatabase& database) :
    database_(database)
  {
  }

  std::vector<std::string> RequestGatewayStore::ListPending(const std::string& gateway,
                                                            int64_t now, int64_t refusedBefore,
                                                            size_t limit) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT r.id FROM requests r LEFT JOIN request_gateways g"
      " ON g.request_id = r.id AND g.gateway = ?"
      " WHERE r.expires_at > ? AND (g.request_id IS NULL OR (g.confirmed_revision < r.revision"
      " AND (g.refused = '' OR g.synced_at <= ?))) ORDER BY r.created_at LIMIT ?");
    s.BindString(0, gateway);
    s.BindInt64(1, now);
    s.BindInt64(2, refusedBefore);
    s.BindInt64(3, static_cast<int64_t>(limit));
    std::vector<std::string> ids;
    while (s.Step())
    {
      ids.push_back(s.ColumnString(0));
    }
    return ids;
  }

  std::set<std::string> RequestGatewayStore::ListConfirmed(const std::string& gateway,
                                                           int64_t now) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT g.request_id FROM request_gateways g JOIN requests r ON r.id = g.request_id"
      " WHERE g.gateway = ? AND g.confirmed_revision > 0 AND r.expires_at > ?");
    s.BindString(0, gateway);
    s.BindInt64(1, now);
    std::set<std::string> ids;
    while (s.Step())
    {
      ids.insert(s.ColumnString(0));
    }
    return ids;
  }

  void RequestGatewayStore::Put(const std::string& requestId, const RequestGatewayRecord& record)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      std::string("INSERT INTO request_gateways (request_id, ") + kColumns +
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, gateway) DO UPDATE SET"
        " confirmed_revision = excluded.confirmed_revision, synced_at = excluded.synced_at,"
        " status = excluded.status, used_uploads = excluded.used_uploads,"
        " failures = excluded.failures, locked_at = excluded.locked_at,"
        " refused = excluded.refused");
    s.BindString(0, requestId);
    s.BindString(1, record.gateway);
    s.BindInt64(2, record.confirmedRevision);
    s.BindInt64(3, record.syncedAt);
    s.BindString(4, record.status);
    s.BindInt64(5, record.usedUploads);
    s.BindInt64(6, record.failures);
    s.BindInt64(7, record.lockedAt);
    s.BindString(8, record.refused);
    s.Run();
  }

  std::vector<RequestGatewayRecord> RequestGatewayStore::List(const std::string& requestId) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      std::string("SELECT ") + kColumns +
                        " FROM request_gateways WHERE request_id = ?");
    s.BindString(0, requestId);
    std::vector<RequestGatewayRecord> result;
    while (s.Step())
    {
      RequestGatewayRecord r;
      r.gateway = s.ColumnString(0);
      r.confirmedRevision = s.ColumnInt64(1);
      r.syncedAt = s.ColumnInt64(2);
      r.status = s.ColumnString(3);
      r.usedUploads = s.ColumnInt64(4);
      r.failures = s.ColumnInt64(5);
      r.lockedAt = s.ColumnInt64(6);
      r.refused = s.ColumnString(7);
      result.push_back(r);
    }
    return result;
  }
}
