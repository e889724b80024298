// Pulls from gateways: items in progress and held uploads (see PullStore.h).

#include "PullStore.h"

#include "Upload/TextRules.h"

namespace Inbound
{
  namespace
  {
    // Reasons quote what a gateway sent: kept safe to show and bounded.
    const size_t kMaxReason = 1000;

    // Rows of "SELECT upload_id, <sha256 or reason>, since[, crashes]": markers and holds alike.
    std::vector<PullingRecord> ReadRecords(LedgerStatement& s,
                                           const std::string& gateway,
                                           std::string PullingRecord::*second)
    {
      std::vector<PullingRecord> result;
      while (s.Step())
      {
        PullingRecord r;
        r.gateway = gateway;
        r.uploadId = s.ColumnString(0);
        r.*second = s.ColumnString(1);
        r.since = s.ColumnInt64(2);
        if (s.ColumnCount() > 3)
        {
          r.crashes = s.ColumnInt64(3);
        }
        result.push_back(r);
      }
      return result;
    }
  }

  PullStore::PullStore(LedgerDatabase& database, AuditStore& audit) :
    database_(database),
    audit_(audit)
  {
  }

  void PullStore::MarkPulling(const std::string& gateway, const std::string& uploadId,
                              const std::string& sha256, int64_t now)
  {
    // The crash guarded against is the process's, on a file it parses: what WAL wrote stays
    // in the system's cache when the process dies, so the mark survives it without waiting
    // for the disk (synchronous=NORMAL). Only a power cut could forget it, and the item would
    // then be parsed once more. Waiting for the disk here held the ledger's lock over two
    // fsyncs per pulled item, which every item worker waits for.
    LedgerDatabase::Transaction t(database_, LedgerDatabase::Durability_Normal);
    LedgerStatement s(
      t.GetConnection(),
      // Keeps the count of starts that already found this item in progress (RecordCrash).
      "INSERT INTO pulling (gateway, upload_id, sha256, since) VALUES (?, ?, ?, ?)"
      " ON CONFLICT (gateway, upload_id, sha256) DO UPDATE SET since = excluded.since");
    s.BindString(0, gateway);
    s.BindString(1, uploadId);
    s.BindString(2, sha256);
    s.BindInt64(3, now);
    s.Run();
    t.Commit();  // committed (in WAL) before the fetched item is parsed
  }

  void PullStore::ClearPulling(const std::string& gateway, const std::string& uploadId,
                               const std::string& sha256)
  {
    // As MarkPulling: a forgotten clear only means one more look at a stored item.
    LedgerDatabase::Transaction t(database_, LedgerDatabase::Durability_Normal);
    LedgerStatement s(
      t.GetConnection(),
      "DELETE FROM pulling WHERE gateway = ? AND upload_id = ? AND sha256 = ?");
    s.BindString(0, gateway);
    s.BindString(1, uploadId);
    s.BindString(2, sha256);
    s.Run();
    t.Commit();
  }

  std::vector<PullingRecord> PullStore::ListPulling(const std::string& gateway) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT upload_id, sha256, since, crashes FROM pulling WHERE gateway = ? ORDER BY since");
    s.BindString(0, gateway);
    return ReadRecords(s, gateway, &PullingRecord::sha256);
  }

  void PullStore::RecordCrash(const std::string& gateway, const std::string& uploadId,
                              const std::string& sha256)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "UPDATE pulling SET crashes = crashes + 1 WHERE gateway = ? AND upload_id = ? AND sha256 = ?");
    s.BindString(0, gateway);
    s.BindString(1, uploadId);
    s.BindString(2, sha256);
    s.Run();
  }

  bool PullStore::Hold(const PullingRecord& held)
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "INSERT INTO held_pulls (gateway, upload_id, reason, since) VALUES (?, ?, ?, ?)"
      " ON CONFLICT DO NOTHING");
    s.BindString(0, held.gateway);
    s.BindString(1, TextRules::MakeSafe(held.uploadId, 64));
    s.BindString(2, TextRules::MakeSafe(held.reason, kMaxReason));
    s.BindInt64(3, held.since);
    s.Run();
    return session.GetConnection().GetLastChangeCount() > 0;
  }

  bool PullStore::Release(const std::string& gateway, const std::string& uploadId, int64_t now,
                          const std::string& by)
  {
    LedgerDatabase::Transaction t(database_);
    LedgerStatement held(t.GetConnection(),
                         "DELETE FROM held_pulls WHERE gateway = ? AND upload_id = ?");
    held.BindString(0, gateway);
    held.BindString(1, uploadId);
    held.Run();
    const bool released = t.GetConnection().GetLastChangeCount() > 0;
    LedgerStatement pulling(t.GetConnection(),
                            "DELETE FROM pulling WHERE gateway = ? AND upload_id = ?");
    pulling.BindString(0, gateway);
    pulling.BindString(1, uploadId);
    pulling.Run();
    if (released)
    {
      audit_.Append(t, now, AuditEventType_PullReleased, uploadId, by,
                    "held upload from gateway \"" + gateway + "\" released: it is pulled again");
    }
    t.Commit();
    return released;
  }

  std::vector<PullingRecord> PullStore::ListHeld(const std::string& gateway) const
  {
    LedgerDatabase::Session session(database_);
    LedgerStatement s(
      session.GetConnection(),
      "SELECT upload_id, reason, since FROM held_pulls WHERE gateway = ? ORDER BY since");
    s.BindString(0, gateway);
    return ReadRecords(s, gateway, &PullingRecord::reason);
  }
}
