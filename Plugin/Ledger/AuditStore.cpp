// The audit trail and its readers' cursors (see AuditStore.h).

#include "AuditStore.h"

#include "Upload/TextRules.h"

#include <Logging.h>

#include <algorithm>

namespace Inbound
{
  namespace
  {
    // Longest texts of an entry, in characters: the trail must not become a store of
    // whatever a client sends (paths, user agents), and each entry stays one readable line.
    const size_t kMaxAuditName = 200;     // event, upload id, client address
    const size_t kMaxAuditDetail = 1000;

    AuditEvent ReadAudit(const LedgerStatement& s)
    {
      AuditEvent e;
      e.seq = s.ColumnInt64(0);
      e.time = s.ColumnInt64(1);
      // Made safe on reading too: a ledger written by an earlier version may hold raw
      // control characters from clients.
      e.event = TextRules::MakeSafe(s.ColumnString(2), kMaxAuditName);
      e.uploadId = TextRules::MakeSafe(s.ColumnString(3), kMaxAuditName);
      e.ip = TextRules::MakeSafe(s.ColumnString(4), kMaxAuditName);
      e.detail = TextRules::MakeSafe(s.ColumnString(5), kMaxAuditDetail);
      return e;
    }

    std::vector<AuditEvent> ReadAll(LedgerStatement& s)
    {
      std::vector<AuditEvent> result;
      while (s.Step())
      {
        result.push_back(ReadAudit(s));
      }
      return result;
    }

    // "'upload-complete', 'ban', ...": the text forms are constants of this program, without
    // quotes, so they can be written into the SQL.
    std::string MakeSqlList(const std::set<AuditEventType>& types)
    {
      std::string list;
      for (AuditEventType type : types)
      {
        list += (list.empty() ? "'" : ", '") + std::string(EnumerationToString(type)) + "'";
      }
      return list;
    }
  }

  AuditStore::AuditStore(LedgerDatabase& database) :
    database_(database)
  {
  }

  size_t AuditStore::RedactOpenedSenders(const LedgerDatabase::Session& session)
  {
    // An address has no ',' (TextRules), so what follows the first one is the recipient.
    // Rewritten here rather than in SQL: the position of a character is not written alike in
    // SQLite and PostgreSQL.
    std::vector<std::pair<int64_t, std::string>> rows;
    {
      LedgerStatement s(session.GetConnection(),
                        "SELECT seq, detail FROM audit WHERE event = ?"
                        " AND detail LIKE 'sender %' AND detail NOT LIKE 'sender sealed%'");
      s.BindString(0, EnumerationToString(AuditEventType_UploadOpened));
      while (s.Step())
      {
        rows.emplace_back(s.ColumnInt64(0), s.ColumnString(1));
      }
    }
    for (const auto& row : rows)
    {
      const size_t comma = row.second.find(',');
      LedgerStatement s(session.GetConnection(), "UPDATE audit SET detail = ? WHERE seq = ?");
      s.BindString(0, "sender sealed" +
                        (comma == std::string::npos ? std::string() : row.second.substr(comma)));
      s.BindInt64(1, row.first);
      s.Run();
    }
    return rows.size();
  }

  int64_t AuditStore::Append(const LedgerDatabase::Session& session, int64_t time,
                             AuditEventType type, const std::string& uploadId,
                             const std::string& ip, const std::string& detail)
  {
    LedgerStatement s(
      session.GetConnection(),
      "INSERT INTO audit (time, event, upload_id, ip, detail) VALUES (?, ?, ?, ?, ?)");
    s.BindInt64(0, time);
    s.BindString(1, EnumerationToString(type));
    s.BindString(2, TextRules::MakeSafe(uploadId, kMaxAuditName));
    s.BindString(3, TextRules::MakeSafe(ip, kMaxAuditName));
    s.BindString(4, TextRules::MakeSafe(detail, kMaxAuditDetail));
    s.Run();
    return session.GetConnection().GetLastInsertRowId();
  }

  void AuditStore::Add(int64_t time, AuditEventType type, const std::string& uploadId,
                       const std::string& ip, const std::string& detail)
  {
    {
      LedgerDatabase::Session session(database_);
      Append(session, time, type, uploadId, ip, detail);
    }
    if (IsAlert(type))
    {
      // Every alert also reaches Orthanc's log, whether or not anybody is mailed about it.
      LOG(WARNING) << "Inbound: " << EnumerationToString(type)
                   << (uploadId.empty() ? "" : " (upload " + uploadId + ")") << ": " << detail;
    }
  }

  void AuditStore::WriteRefusals(std::vector<AuditEvent>& events)
  {
    if (events.empty())
    {
      return;
    }
    LedgerDatabase::Transaction t(database_);
    for (AuditEvent& e : events)
    {
      if (e.seq == 0)
      {
        e.seq = Append(t, e.time, AuditEventType_Refused, e.uploadId, e.ip, e.detail);
      }
      else
      {
        LedgerStatement s(t.GetConnection(),
                          "UPDATE audit SET detail = ? WHERE seq = ? AND event = ?");
        s.BindString(0, TextRules::MakeSafe(e.detail, kMaxAuditDetail));
        s.BindInt64(1, e.seq);
        s.BindString(2, EnumerationToString(AuditEventType_Refused));
        s.Run();
      }
    }
    t.Commit();
  }

  int64_t AuditStore::Prune(int64_t cutoffMs, unsigned int limit)
  {
    LedgerDatabase::Session session(database_);
    // "seq <= MIN(cursors)": a reader's cursor is the last entry it has read, so everything
    // after the slowest reader stays, however old (a notifier that has been down for a while
    // must still find the events it missed).
    LedgerStatement s(
      session.GetConnection(),
      "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE time < ? AND"
      " seq <= (SELECT COALESCE(MIN(seq), 9223372036854775807) FROM cursors)"
      " ORDER BY time LIMIT ?)");  // by the index on time: cheap when there is nothing to do
    s.BindInt64(0, cutoffMs);
    s.BindInt64(1, limit);
    s.Run();
    return session.GetConnection().GetLastChangeCount();
  }

  std::vector<AuditEvent> AuditStore::List(int64_t sinceMs, unsigned int limit) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT * FROM (SELECT seq, time, event, upload_id, ip, detail FROM audit"
      " WHERE time >= ? ORDER BY seq DESC LIMIT ?) AS recent ORDER BY seq");
    s.BindInt64(0, sinceMs);
    s.BindInt64(1, limit);
    return ReadAll(s);
  }

  std::vector<AuditEvent> AuditStore::ListByDetailPrefix(const std::set<AuditEventType>& types,
                                                      const std::vector<std::string>& prefixes,
                                                      unsigned int limit) const
  {
    if (types.empty() || prefixes.empty())
    {
      return {};
    }
    // substr() rather than LIKE: a prefix is compared as it is, "%" and "_" included. The
    // length is cast: PostgreSQL's substr() takes an integer, not a bigint.
    std::string sql = "SELECT seq, time, event, upload_id, ip, detail FROM audit WHERE event IN (" +
                      MakeSqlList(types) + ") AND (";
    for (size_t i = 0; i < prefixes.size(); i++)
    {
      sql += std::string(i == 0 ? "" : " OR ") + "substr(detail, 1, CAST(? AS INTEGER)) = ?";
    }
    sql += ") ORDER BY seq DESC LIMIT ?";
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(), sql);
    int index = 0;
    for (const std::string& prefix : prefixes)
    {
      s.BindInt64(index++, static_cast<int64_t>(prefix.size()));
      s.BindString(index++, prefix);
    }
    s.BindInt64(index, limit);
    return ReadAll(s);
  }

  std::vector<AuditEvent> AuditStore::ListHistory(const std::string& uploadId) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(session.GetConnection(),
                      "SELECT seq, time, event, upload_id, ip, detail FROM audit"
                      " WHERE upload_id = ? ORDER BY seq");
    s.BindString(0, uploadId);
    return ReadAll(s);
  }

  std::vector<AuditEvent> AuditStore::ListAfter(int64_t seq, const std::set<AuditEventType>& types,
                                                unsigned int limit, int64_t& scannedUpTo) const
  {
    LedgerDatabase::Session session(database_);
    std::vector<AuditEvent> result;
    if (!types.empty())
    {
      // Not a cached statement: its text depends on the types.
      LedgerStatement s(
        session.GetConnection(),
        "SELECT seq, time, event, upload_id, ip, detail FROM audit WHERE seq > ? AND event IN (" +
          MakeSqlList(types) + ") ORDER BY seq LIMIT ?");
      s.BindInt64(0, seq);
      s.BindInt64(1, limit);
      result = ReadAll(s);
    }
    if (result.size() == limit && limit > 0)
    {
      scannedUpTo = result.back().seq;
    }
    else
    {
      // Under the session's lock: nothing was added in between.
      LedgerStatement max(session.GetConnection(), "SELECT COALESCE(MAX(seq), 0) FROM audit");
      max.Step();
      scannedUpTo = std::max(seq, max.ColumnInt64(0));
    }
    return result;
  }

  int64_t AuditStore::GetCursor(const std::string& name)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement insert(session.GetConnection(),
                           "INSERT INTO cursors (name, seq) VALUES"
                           " (?, (SELECT COALESCE(MAX(seq), 0) FROM audit))"
                           " ON CONFLICT (name) DO NOTHING");
    insert.BindString(0, name);
    insert.Run();
    LedgerStatement s(session.GetConnection(), "SELECT seq FROM cursors WHERE name = ?");
    s.BindString(0, name);
    s.Step();
    return s.ColumnInt64(0);
  }

  void AuditStore::SetCursor(const LedgerDatabase::Session& session, const std::string& name,
                             int64_t seq)
  {
    LedgerStatement s(session.GetConnection(),
                      "INSERT INTO cursors (name, seq) VALUES (?, ?)"
                      " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq");
    s.BindString(0, name);
    s.BindInt64(1, seq);
    s.Run();
  }
}
