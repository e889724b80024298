// Pulls from gateways (see Ledger.h): items in progress and held uploads.

#include "Ledger.h"

#include "Upload/TextRules.h"

#include <SQLite/Statement.h>
#include <SQLite/Transaction.h>

namespace Inbound
{
  namespace
  {
    // Reasons quote what a gateway sent: kept safe to show and bounded.
    const size_t kMaxReason = 1000;

    // Rows of "SELECT upload_id, <sha256 or reason>, since": markers and holds alike.
    std::vector<PullingRecord> ReadRecords(Orthanc::SQLite::Statement& s,
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
        result.push_back(r);
      }
      return result;
    }
  }

  void Ledger::MarkPulling(const std::string& gateway, const std::string& uploadId,
                           const std::string& sha256, int64_t now)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "INSERT OR REPLACE INTO pulling (gateway, upload_id, sha256, since) VALUES (?, ?, ?, ?)");
    s.BindString(0, gateway);
    s.BindString(1, uploadId);
    s.BindString(2, sha256);
    s.BindInt64(3, now);
    s.Run();  // autocommit, synchronous=FULL: on disk before the fetched item is parsed
  }

  void Ledger::ClearPulling(const std::string& gateway, const std::string& uploadId,
                            const std::string& sha256)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "DELETE FROM pulling WHERE gateway = ? AND upload_id = ? AND sha256 = ?");
    s.BindString(0, gateway);
    s.BindString(1, uploadId);
    s.BindString(2, sha256);
    s.Run();
  }

  std::vector<PullingRecord> Ledger::ListPulling(const std::string& gateway) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT upload_id, sha256, since FROM pulling WHERE gateway = ? ORDER BY since");
    s.BindString(0, gateway);
    return ReadRecords(s, gateway, &PullingRecord::sha256);
  }

  bool Ledger::HoldPulled(const PullingRecord& held)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "INSERT OR IGNORE INTO held_pulls (gateway, upload_id, reason, since) VALUES (?, ?, ?, ?)");
    s.BindString(0, held.gateway);
    s.BindString(1, TextRules::MakeSafe(held.uploadId, 64));
    s.BindString(2, TextRules::MakeSafe(held.reason, kMaxReason));
    s.BindInt64(3, held.since);
    s.Run();
    return db_.GetLastChangeCount() > 0;
  }

  bool Ledger::ReleasePulled(const std::string& gateway, const std::string& uploadId,
                             int64_t now, const std::string& by)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    Orthanc::SQLite::Statement held(
      db_, SQLITE_FROM_HERE, "DELETE FROM held_pulls WHERE gateway = ? AND upload_id = ?");
    held.BindString(0, gateway);
    held.BindString(1, uploadId);
    held.Run();
    const bool released = db_.GetLastChangeCount() > 0;
    Orthanc::SQLite::Statement pulling(
      db_, SQLITE_FROM_HERE, "DELETE FROM pulling WHERE gateway = ? AND upload_id = ?");
    pulling.BindString(0, gateway);
    pulling.BindString(1, uploadId);
    pulling.Run();
    if (released)
    {
      AddAuditInternal(now, "pull-released", uploadId, by,
                       "held upload from gateway \"" + gateway + "\" released: it is pulled "
                       "again");
    }
    t.Commit();
    return released;
  }

  std::vector<PullingRecord> Ledger::ListHeldPulls(const std::string& gateway) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT upload_id, reason, since FROM held_pulls WHERE gateway = ? ORDER BY since");
    s.BindString(0, gateway);
    return ReadRecords(s, gateway, &PullingRecord::reason);
  }

  std::string Ledger::ClaimPulledUpload(const std::string& id, const std::string& gateway,
                                       int64_t now)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    // Only an upload pulled before the gateway was recorded: it has no token (one received
    // directly has its sender's) and no gateway. Once set, the gateway never changes.
    Orthanc::SQLite::Statement claim(
      db_, SQLITE_FROM_HERE,
      "UPDATE uploads SET gateway = ? WHERE id = ? AND gateway = '' AND token_hash = ''");
    claim.BindString(0, gateway);
    claim.BindString(1, id);
    claim.Run();
    if (db_.GetLastChangeCount() > 0)
    {
      AddAuditInternal(now, "upload-gateway-recorded", id, gateway,
                       "pulled before the gateway was recorded; first named by gateway \"" +
                         gateway + "\", now its origin");
    }
    Orthanc::SQLite::Statement read(db_, SQLITE_FROM_HERE,
                                    "SELECT gateway FROM uploads WHERE id = ?");
    read.BindString(0, id);
    const std::string owner = read.Step() ? read.ColumnString(0) : std::string();
    t.Commit();
    return owner;
  }
}
