#include "Ledger.h"

#include "Upload/TextRules.h"

#include <Logging.h>
#include <OrthancException.h>
#include <SQLite/Statement.h>
#include <SQLite/Transaction.h>

#include <boost/algorithm/string/predicate.hpp>

namespace Inbound
{
  namespace
  {
    // Longest texts of an audit entry, in characters: the trail must not become a store of
    // whatever a client sends (paths, user agents), and each entry stays one readable line.
    const size_t kMaxAuditName = 200;     // event, upload id, client address
    const size_t kMaxAuditDetail = 1000;

    const char* const kUploadColumns =
      "id, token_hash, state, created_at, updated_at, completed_at, sender_name, sender_email, "
      "sender_institution, sender_phone, recipient, message, consent_version, client_ip, "
      "user_agent, expected_files, expected_bytes, receipt_code, files, bytes, purged, language, "
      "gateway";

    UploadRecord ReadUpload(const Orthanc::SQLite::Statement& s)
    {
      UploadRecord r;
      r.id = s.ColumnString(0);
      r.tokenHash = s.ColumnString(1);
      r.state = StringToUploadState(s.ColumnString(2));
      r.createdAt = s.ColumnInt64(3);
      r.updatedAt = s.ColumnInt64(4);
      r.completedAt = s.ColumnInt64(5);
      r.sender.name = s.ColumnString(6);
      r.sender.email = s.ColumnString(7);
      r.sender.institution = s.ColumnString(8);
      r.sender.phone = s.ColumnString(9);
      r.recipientId = s.ColumnString(10);
      r.message = s.ColumnString(11);
      r.consentVersion = s.ColumnString(12);
      r.clientIp = s.ColumnString(13);
      r.userAgent = s.ColumnString(14);
      r.expectedFiles = s.ColumnInt64(15);
      r.expectedBytes = s.ColumnInt64(16);
      r.receiptCode = s.ColumnString(17);
      r.files = s.ColumnInt64(18);
      r.bytes = s.ColumnInt64(19);
      r.purged = s.ColumnInt(20) != 0;
      r.language = s.ColumnString(21);
      r.gateway = s.ColumnString(22);
      return r;
    }

    const char* const kItemColumns =
      "upload_id, sha256, size, sop_uid, series_uid, study_uid, modality, study_date, "
      "study_description, original_patient_id, isolated_patient_id, orthanc_instance, "
      "orthanc_series, orthanc_study, orthanc_patient, stored_at, patient_name, "
      "patient_birth_date, original_patient_id_bytes";

    ItemRecord ReadItem(const Orthanc::SQLite::Statement& s)
    {
      ItemRecord r;
      r.uploadId = s.ColumnString(0);
      r.sha256 = s.ColumnString(1);
      r.size = s.ColumnInt64(2);
      r.sopInstanceUid = s.ColumnString(3);
      r.seriesInstanceUid = s.ColumnString(4);
      r.studyInstanceUid = s.ColumnString(5);
      r.modality = s.ColumnString(6);
      r.studyDate = s.ColumnString(7);
      r.studyDescription = s.ColumnString(8);
      r.originalPatientId = s.ColumnString(9);
      r.isolatedPatientId = s.ColumnString(10);
      r.orthancInstanceId = s.ColumnString(11);
      r.orthancSeriesId = s.ColumnString(12);
      r.orthancStudyId = s.ColumnString(13);
      r.orthancPatientId = s.ColumnString(14);
      r.storedAt = s.ColumnInt64(15);
      r.patientName = s.ColumnString(16);
      r.patientBirthDate = s.ColumnString(17);
      r.originalPatientIdBytes = s.ColumnString(18);
      return r;
    }

    AuditEvent ReadAudit(const Orthanc::SQLite::Statement& s)
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
  }

  Ledger::Ledger(const std::string& path) :
    path_(path.empty() ? std::string("in memory") : path)
  {
    if (path.empty())
    {
      db_.OpenInMemory();
    }
    else
    {
      db_.Open(path);
    }
    // WAL with full synchronisation: a committed state change survives a crash or power
    // loss, and readers (admin pages) do not block the upload path.
    db_.Execute("PRAGMA journal_mode=WAL;");
    db_.Execute("PRAGMA synchronous=FULL;");
    db_.Execute("PRAGMA foreign_keys=ON;");
    CreateSchemaInternal();
  }

  void Ledger::CreateSchemaInternal()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();

    // The schema's version, kept in SQLite's user_version: an older plugin never writes to a
    // ledger that a newer one has changed (a downgrade after an upgrade is refused, the
    // ledger stays as it is); a newer plugin upgrades an older ledger in place below.
    int version = 0;
    {
      Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE, "PRAGMA user_version");
      if (s.Step())
      {
        version = s.ColumnInt(0);
      }
    }
    if (version > kSchemaVersion)
    {
      throw Orthanc::OrthancException(
        Orthanc::ErrorCode_IncompatibleDatabaseVersion,
        "The ledger " + path_ + " was written by a newer version of Orthanc Inbound (schema " +
          std::to_string(version) + ", this version knows " + std::to_string(kSchemaVersion) +
          "): install that version again", true);
    }

    db_.Execute(
      "CREATE TABLE IF NOT EXISTS uploads ("
      " id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, state TEXT NOT NULL,"
      " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER NOT NULL,"
      " sender_name TEXT NOT NULL, sender_email TEXT NOT NULL, sender_institution TEXT NOT NULL,"
      " sender_phone TEXT NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL,"
      " consent_version TEXT NOT NULL, client_ip TEXT NOT NULL, user_agent TEXT NOT NULL,"
      " expected_files INTEGER NOT NULL, expected_bytes INTEGER NOT NULL,"
      " receipt_code TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,"
      " purged INTEGER NOT NULL, language TEXT NOT NULL DEFAULT '',"
      " gateway TEXT NOT NULL DEFAULT '');"
      "CREATE INDEX IF NOT EXISTS uploads_state ON uploads(state, updated_at);"
      "CREATE TABLE IF NOT EXISTS items ("
      " upload_id TEXT NOT NULL REFERENCES uploads(id), sha256 TEXT NOT NULL,"
      " size INTEGER NOT NULL, sop_uid TEXT NOT NULL, series_uid TEXT NOT NULL,"
      " study_uid TEXT NOT NULL, modality TEXT NOT NULL, study_date TEXT NOT NULL,"
      " study_description TEXT NOT NULL, original_patient_id TEXT NOT NULL,"
      " isolated_patient_id TEXT NOT NULL, orthanc_instance TEXT NOT NULL,"
      " orthanc_series TEXT NOT NULL, orthanc_study TEXT NOT NULL,"
      " orthanc_patient TEXT NOT NULL, stored_at INTEGER NOT NULL,"
      " patient_name TEXT NOT NULL DEFAULT '', patient_birth_date TEXT NOT NULL DEFAULT '',"
      " original_patient_id_bytes TEXT NOT NULL DEFAULT '',"
      " PRIMARY KEY (upload_id, sha256));"
      // The ordinal of each distinct PatientID (raw bytes) of an upload, for Isolation: the
      // two unique keys make bytes and ordinals one to one within an upload.
      "CREATE TABLE IF NOT EXISTS patients ("
      " upload_id TEXT NOT NULL, original BLOB NOT NULL, ordinal INTEGER NOT NULL,"
      " PRIMARY KEY (upload_id, original), UNIQUE (upload_id, ordinal));"
      "CREATE INDEX IF NOT EXISTS items_study ON items(upload_id, study_uid);"
      "CREATE INDEX IF NOT EXISTS items_sop ON items(upload_id, sop_uid);"
      "CREATE TABLE IF NOT EXISTS audit ("
      " seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, event TEXT NOT NULL,"
      " upload_id TEXT NOT NULL, ip TEXT NOT NULL, detail TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS audit_upload ON audit(upload_id);"
      "CREATE INDEX IF NOT EXISTS audit_time ON audit(time);"
      "CREATE TABLE IF NOT EXISTS quota_usage ("
      " scope TEXT NOT NULL, day INTEGER NOT NULL, uploads INTEGER NOT NULL,"
      " bytes INTEGER NOT NULL, PRIMARY KEY (scope, day));"
      "CREATE TABLE IF NOT EXISTS bans ("
      " entry TEXT PRIMARY KEY, created_at INTEGER NOT NULL, until INTEGER NOT NULL,"
      " reason TEXT NOT NULL, automatic INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS notifications ("
      " id INTEGER PRIMARY KEY AUTOINCREMENT, dedup_key TEXT NOT NULL UNIQUE,"
      " created_at INTEGER NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,"
      " event TEXT NOT NULL, upload_id TEXT NOT NULL, target TEXT NOT NULL,"
      " subject TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,"
      " attempts INTEGER NOT NULL, next_attempt INTEGER NOT NULL, last_error TEXT NOT NULL,"
      " delivered_at INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS notifications_due ON notifications(state, next_attempt);"
      "CREATE INDEX IF NOT EXISTS notifications_target ON notifications(kind, target, created_at);"
      "CREATE INDEX IF NOT EXISTS notifications_event ON notifications(event, created_at);"
      "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS forwards ("
      " id INTEGER PRIMARY KEY AUTOINCREMENT, upload_id TEXT NOT NULL, study TEXT NOT NULL,"
      " modality TEXT NOT NULL, origin TEXT NOT NULL, patient_id TEXT NOT NULL,"
      " patient_name TEXT NOT NULL, patient_birth_date TEXT NOT NULL, keep_namespace INTEGER NOT NULL,"
      " new_uids INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,"
      " next_attempt INTEGER NOT NULL, job_id TEXT NOT NULL, sent_study TEXT NOT NULL,"
      " last_error TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
      " requested_by TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS forwards_due ON forwards(state, next_attempt);"
      "CREATE INDEX IF NOT EXISTS forwards_upload ON forwards(upload_id);"
      "CREATE INDEX IF NOT EXISTS items_orthanc_study ON items(orthanc_study);"
      // Schema 3 (Internal): items being pulled (crash-loop guard) and held pulled uploads.
      "CREATE TABLE IF NOT EXISTS pulling ("
      " gateway TEXT NOT NULL, upload_id TEXT NOT NULL, sha256 TEXT NOT NULL,"
      " since INTEGER NOT NULL, PRIMARY KEY (gateway, upload_id, sha256));"
      "CREATE TABLE IF NOT EXISTS held_pulls ("
      " gateway TEXT NOT NULL, upload_id TEXT NOT NULL, reason TEXT NOT NULL,"
      " since INTEGER NOT NULL, PRIMARY KEY (gateway, upload_id));");

    // Ledgers written before patient names were recorded (for mails, when allowed).
    Orthanc::SQLite::Statement column(
      db_, SQLITE_FROM_HERE,
      "SELECT COUNT(*) FROM pragma_table_info('items') WHERE name = 'patient_name'");
    if (column.Step() && column.ColumnInt(0) == 0)
    {
      db_.Execute("ALTER TABLE items ADD COLUMN patient_name TEXT NOT NULL DEFAULT '';"
                  "ALTER TABLE items ADD COLUMN patient_birth_date TEXT NOT NULL DEFAULT '';");
    }
    // Schema 2: the language of the sender's page, for the receipt.
    Orthanc::SQLite::Statement language(
      db_, SQLITE_FROM_HERE,
      "SELECT COUNT(*) FROM pragma_table_info('uploads') WHERE name = 'language'");
    if (language.Step() && language.ColumnInt(0) == 0)
    {
      db_.Execute("ALTER TABLE uploads ADD COLUMN language TEXT NOT NULL DEFAULT '';");
    }
    // The raw bytes of a PatientID that its text does not decode exactly (issue 14).
    Orthanc::SQLite::Statement bytes(
      db_, SQLITE_FROM_HERE,
      "SELECT COUNT(*) FROM pragma_table_info('items') WHERE name = 'original_patient_id_bytes'");
    if (bytes.Step() && bytes.ColumnInt(0) == 0)
    {
      db_.Execute("ALTER TABLE items ADD COLUMN original_patient_id_bytes TEXT NOT NULL DEFAULT '';");
    }
    // Schema 4: the gateway (OrthancPeers name) a pulled upload came from; '' for uploads
    // received directly, and for those pulled before it was recorded (ClaimPulledUpload).
    Orthanc::SQLite::Statement gateway(
      db_, SQLITE_FROM_HERE,
      "SELECT COUNT(*) FROM pragma_table_info('uploads') WHERE name = 'gateway'");
    if (gateway.Step() && gateway.ColumnInt(0) == 0)
    {
      db_.Execute("ALTER TABLE uploads ADD COLUMN gateway TEXT NOT NULL DEFAULT '';");
    }
    db_.Execute("PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";");
    t.Commit();
  }

  void Ledger::AddAuditInternal(int64_t time, const std::string& event,
                                const std::string& uploadId, const std::string& ip,
                                const std::string& detail)
  {
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "INSERT INTO audit (time, event, upload_id, ip, detail) VALUES (?, ?, ?, ?, ?)");
    s.BindInt64(0, time);
    s.BindString(1, TextRules::MakeSafe(event, kMaxAuditName));
    s.BindString(2, TextRules::MakeSafe(uploadId, kMaxAuditName));
    s.BindString(3, TextRules::MakeSafe(ip, kMaxAuditName));
    s.BindString(4, TextRules::MakeSafe(detail, kMaxAuditDetail));
    s.Run();
  }

  void Ledger::AddUsageInternal(const std::vector<std::string>& scopes, int64_t day,
                                int64_t uploads, int64_t bytes)
  {
    for (const std::string& scope : scopes)
    {
      Orthanc::SQLite::Statement s(
        db_, SQLITE_FROM_HERE,
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

  QuotaUsage Ledger::GetUsage(const std::string& scope, int64_t day) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
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

  void Ledger::PutBan(const BanRecord& ban, const std::string& by)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "INSERT OR REPLACE INTO bans (entry, created_at, until, reason, automatic) VALUES (?, ?, ?, ?, ?)");
    s.BindString(0, ban.entry);
    s.BindInt64(1, ban.createdAt);
    s.BindInt64(2, ban.until);
    s.BindString(3, ban.reason);
    s.BindInt(4, ban.automatic ? 1 : 0);
    s.Run();
    AddAuditInternal(ban.createdAt, "ban", "", ban.entry,
                     ban.reason + (by.empty() ? "" : " (by " + by + ")") +
                       (ban.until == 0 ? "" : ", for " + std::to_string((ban.until - ban.createdAt) / 1000) + " s"));
    t.Commit();
  }

  bool Ledger::RemoveBan(const std::string& entry, int64_t now, const std::string& by)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE, "DELETE FROM bans WHERE entry = ?");
    s.BindString(0, entry);
    s.Run();
    const bool removed = db_.GetLastChangeCount() > 0;
    if (removed)
    {
      AddAuditInternal(now, "unban", "", entry, by.empty() ? "" : "by " + by);
    }
    t.Commit();
    return removed;
  }

  size_t Ledger::DeleteExpiredBans(const std::vector<BanRecord>& bans)
  {
    if (bans.empty())
    {
      return 0;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    size_t deleted = 0;
    for (const BanRecord& ban : bans)
    {
      Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                   "DELETE FROM bans WHERE entry = ? AND until = ? AND until != 0");
      s.BindString(0, ban.entry);
      s.BindInt64(1, ban.until);
      s.Run();
      deleted += static_cast<size_t>(db_.GetLastChangeCount());
    }
    t.Commit();
    return deleted;
  }

  std::vector<BanRecord> Ledger::ListBans() const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
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

  void Ledger::AddAuditBatch(const std::vector<AuditEvent>& events)
  {
    if (events.empty())
    {
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    for (const AuditEvent& e : events)
    {
      AddAuditInternal(e.time, e.event, e.uploadId, e.ip, e.detail);
    }
    t.Commit();
  }

  void Ledger::WriteRefusals(std::vector<AuditEvent>& events)
  {
    if (events.empty())
    {
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    for (AuditEvent& e : events)
    {
      if (e.seq == 0)
      {
        AddAuditInternal(e.time, e.event, e.uploadId, e.ip, e.detail);
        e.seq = db_.GetLastInsertRowId();
      }
      else
      {
        Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                     "UPDATE audit SET detail = ? WHERE seq = ? AND event = 'refused'");
        s.BindString(0, TextRules::MakeSafe(e.detail, kMaxAuditDetail));
        s.BindInt64(1, e.seq);
        s.Run();
      }
    }
    t.Commit();
  }

  int64_t Ledger::PruneAudit(int64_t cutoffMs, unsigned int limit)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // "seq <= MIN(cursors)": a reader's cursor is the last entry it has read, so everything
    // after the slowest reader stays, however old (a notifier that has been down for a while
    // must still find the events it missed).
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE time < ? AND"
      " seq <= (SELECT IFNULL(MIN(seq), 9223372036854775807) FROM cursors)"
      " ORDER BY time LIMIT ?)");  // by the index on time: cheap when there is nothing to do
    s.BindInt64(0, cutoffMs);
    s.BindInt64(1, limit);
    s.Run();
    return db_.GetLastChangeCount();
  }

  void Ledger::CreateUpload(const UploadRecord& r, const std::vector<std::string>& quotaScopes,
                            int64_t day)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    AddUsageInternal(quotaScopes, day, 1, 0);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("INSERT INTO uploads (") + kUploadColumns +
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.BindString(0, r.id);
    s.BindString(1, r.tokenHash);
    s.BindString(2, EnumerationToString(r.state));
    s.BindInt64(3, r.createdAt);
    s.BindInt64(4, r.updatedAt);
    s.BindInt64(5, r.completedAt);
    s.BindString(6, r.sender.name);
    s.BindString(7, r.sender.email);
    s.BindString(8, r.sender.institution);
    s.BindString(9, r.sender.phone);
    s.BindString(10, r.recipientId);
    s.BindString(11, r.message);
    s.BindString(12, r.consentVersion);
    s.BindString(13, r.clientIp);
    s.BindString(14, TextRules::MakeSafe(r.userAgent, kMaxAuditDetail));
    s.BindInt64(15, r.expectedFiles);
    s.BindInt64(16, r.expectedBytes);
    s.BindString(17, r.receiptCode);
    s.BindInt64(18, r.files);
    s.BindInt64(19, r.bytes);
    s.BindInt(20, r.purged ? 1 : 0);
    s.BindString(21, r.language);
    s.BindString(22, r.gateway);
    s.Run();
    AddAuditInternal(r.createdAt, "upload-opened", r.id, r.clientIp,
                     "sender " + r.sender.email + (r.recipientId.empty() ? "" : ", recipient " +
                                                                                r.recipientId) +
                       (r.gateway.empty() ? "" : ", pulled from gateway " + r.gateway));
    t.Commit();
  }

  bool Ledger::LookupUploadInternal(UploadRecord& record, const std::string& id) const
  {
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 std::string("SELECT ") + kUploadColumns +
                                   " FROM uploads WHERE id = ?");
    s.BindString(0, id);
    if (!s.Step())
    {
      return false;
    }
    record = ReadUpload(s);
    return true;
  }

  bool Ledger::LookupUpload(UploadRecord& record, const std::string& id) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return LookupUploadInternal(record, id);
  }

  std::vector<UploadRecord> Ledger::ListUploads(const std::string& state, int64_t sinceMs,
                                                unsigned int limit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("SELECT ") + kUploadColumns +
        " FROM uploads WHERE (? = '' OR state = ?) AND created_at >= ?"
        " ORDER BY created_at DESC, id LIMIT ?");
    s.BindString(0, state);
    s.BindString(1, state);
    s.BindInt64(2, sinceMs);
    s.BindInt64(3, limit);
    std::vector<UploadRecord> result;
    while (s.Step())
    {
      result.push_back(ReadUpload(s));
    }
    return result;
  }

  Ledger::AddItemResult Ledger::AddItem(const ItemRecord& item, const std::string& ip,
                                        const std::vector<std::string>& quotaScopes, int64_t day)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The one write per file is committed without waiting for the disk (WAL, synchronous
    // NORMAL): a power cut may forget the last few records, never corrupt the ledger, and a
    // forgotten file is not listed in the upload's status, so the sender sends it again and
    // it lands on the same archive instance. State changes keep waiting for the disk.
    db_.Execute("PRAGMA synchronous=NORMAL;");
    struct RestoreFull
    {
      Orthanc::SQLite::Connection& db;
      ~RestoreFull()
      {
        db.Execute("PRAGMA synchronous=FULL;");
      }
    } restore{db_};
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();

    UploadRecord upload;
    if (!LookupUploadInternal(upload, item.uploadId) || !IsOpen(upload.state))
    {
      return AddItemResult_UploadClosed;  // the transaction rolls back on destruction
    }

    {
      Orthanc::SQLite::Statement exists(
        db_, SQLITE_FROM_HERE, "SELECT 1 FROM items WHERE upload_id = ? AND sha256 = ?");
      exists.BindString(0, item.uploadId);
      exists.BindString(1, item.sha256);
      if (exists.Step())
      {
        return AddItemResult_AlreadyPresent;
      }
    }

    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      std::string("INSERT INTO items (") + kItemColumns +
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.BindString(0, item.uploadId);
    s.BindString(1, item.sha256);
    s.BindInt64(2, item.size);
    s.BindString(3, item.sopInstanceUid);
    s.BindString(4, item.seriesInstanceUid);
    s.BindString(5, item.studyInstanceUid);
    s.BindString(6, item.modality);
    s.BindString(7, item.studyDate);
    s.BindString(8, item.studyDescription);
    s.BindString(9, item.originalPatientId);
    s.BindString(10, item.isolatedPatientId);
    s.BindString(11, item.orthancInstanceId);
    s.BindString(12, item.orthancSeriesId);
    s.BindString(13, item.orthancStudyId);
    s.BindString(14, item.orthancPatientId);
    s.BindInt64(15, item.storedAt);
    s.BindString(16, item.patientName);
    s.BindString(17, item.patientBirthDate);
    s.BindString(18, item.originalPatientIdBytes);
    s.Run();

    Orthanc::SQLite::Statement u(
      db_, SQLITE_FROM_HERE,
      "UPDATE uploads SET files = files + 1, bytes = bytes + ?, updated_at = ? WHERE id = ?");
    u.BindInt64(0, item.size);
    u.BindInt64(1, item.storedAt);
    u.BindString(2, item.uploadId);
    u.Run();
    AddUsageInternal(quotaScopes, day, 0, item.size);

    AddAuditInternal(item.storedAt, "file-stored", item.uploadId, ip,
                     item.sha256 + " (" + std::to_string(item.size) + " bytes) SOP " +
                       item.sopInstanceUid);
    t.Commit();
    return AddItemResult_Added;
  }

  bool Ledger::LookupItem(ItemRecord& item, const std::string& uploadId,
                          const std::string& sha256) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 std::string("SELECT ") + kItemColumns +
                                   " FROM items WHERE upload_id = ? AND sha256 = ?");
    s.BindString(0, uploadId);
    s.BindString(1, sha256);
    if (!s.Step())
    {
      return false;
    }
    item = ReadItem(s);
    return true;
  }

  std::vector<ItemRecord> Ledger::ListItems(const std::string& uploadId) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 std::string("SELECT ") + kItemColumns +
                                   " FROM items WHERE upload_id = ? ORDER BY rowid");
    s.BindString(0, uploadId);
    std::vector<ItemRecord> result;
    while (s.Step())
    {
      result.push_back(ReadItem(s));
    }
    return result;
  }

  bool Ledger::LookupItemBySop(ItemRecord& item, const std::string& uploadId,
                               const std::string& sopInstanceUid) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 std::string("SELECT ") + kItemColumns +
                                   " FROM items WHERE upload_id = ? AND sop_uid = ? LIMIT 1");
    s.BindString(0, uploadId);
    s.BindString(1, sopInstanceUid);
    if (!s.Step())
    {
      return false;
    }
    item = ReadItem(s);
    return true;
  }

  bool Ledger::HasStudy(const std::string& uploadId, const std::string& studyInstanceUid) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE, "SELECT 1 FROM items WHERE upload_id = ? AND study_uid = ? LIMIT 1");
    s.BindString(0, uploadId);
    s.BindString(1, studyInstanceUid);
    return s.Step();
  }

  bool Ledger::ChangeState(const std::string& id, const std::set<UploadState>& from,
                           UploadState to, int64_t now, const std::string& ip,
                           const std::string& detail, const std::string& receiptCode)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    UploadRecord upload;
    if (!LookupUploadInternal(upload, id) || from.count(upload.state) == 0)
    {
      return false;
    }
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "UPDATE uploads SET state = ?, updated_at = ?,"
      " completed_at = CASE WHEN ? THEN ? ELSE completed_at END,"
      " receipt_code = CASE WHEN ? THEN ? ELSE receipt_code END WHERE id = ?");
    const bool completing = (to == UploadState_Complete);
    s.BindString(0, EnumerationToString(to));
    s.BindInt64(1, now);
    s.BindInt(2, completing ? 1 : 0);
    s.BindInt64(3, now);
    s.BindInt(4, completing ? 1 : 0);
    s.BindString(5, receiptCode);
    s.BindString(6, id);
    s.Run();
    AddAuditInternal(now, std::string("upload-") + EnumerationToString(to), id, ip, detail);
    t.Commit();
    return true;
  }

  void Ledger::MarkPurged(const std::string& id, int64_t now, const std::string& detail)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Transaction t(db_);
    t.Begin();
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 "UPDATE uploads SET purged = 1 WHERE id = ?");
    s.BindString(0, id);
    s.Run();
    Orthanc::SQLite::Statement patients(db_, SQLITE_FROM_HERE,
                                        "DELETE FROM patients WHERE upload_id = ?");
    patients.BindString(0, id);
    patients.Run();
    AddAuditInternal(now, "data-removed", id, "", detail);
    t.Commit();
  }

  std::map<std::string, int64_t> Ledger::CountStates(
    const char* table, std::initializer_list<const char*> states) const
  {
    std::map<std::string, int64_t> result;
    for (const char* state : states)
    {
      result[state] = 0;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    // Not a cached statement: its text depends on the table.
    Orthanc::SQLite::Statement s(db_, std::string("SELECT state, COUNT(*) FROM ") + table +
                                        " GROUP BY state");
    while (s.Step())
    {
      result[s.ColumnString(0)] = s.ColumnInt64(1);
    }
    return result;
  }

  std::map<std::string, int64_t> Ledger::CountByState() const
  {
    return CountStates("uploads", {});
  }

  std::vector<UploadRecord> Ledger::ListOutbox(unsigned int limit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 std::string("SELECT ") + kUploadColumns +
                                   " FROM uploads WHERE state = 'complete'"
                                   " ORDER BY completed_at, id LIMIT ?");
    s.BindInt64(0, limit);
    std::vector<UploadRecord> result;
    while (s.Step())
    {
      result.push_back(ReadUpload(s));
    }
    return result;
  }

  std::vector<std::string> Ledger::ListIdleOpenUploads(int64_t cutoffMs) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE, "SELECT id FROM uploads WHERE state = 'open' AND updated_at < ?");
    s.BindInt64(0, cutoffMs);
    std::vector<std::string> result;
    while (s.Step())
    {
      result.push_back(s.ColumnString(0));
    }
    return result;
  }

  std::vector<std::string> Ledger::ListUnpurgedRemovedUploads() const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT id FROM uploads WHERE purged = 0 AND state IN ('cancelled', 'expired', 'deleted', 'delivered')");
    std::vector<std::string> result;
    while (s.Step())
    {
      result.push_back(s.ColumnString(0));
    }
    return result;
  }

  std::vector<AuditEvent> Ledger::ReadEventsAfterInternal(Orthanc::SQLite::Statement& s,
                                                         int64_t seq, unsigned int limit,
                                                         int64_t& scannedUpTo) const
  {
    std::vector<AuditEvent> result;
    while (s.Step())
    {
      result.push_back(ReadAudit(s));
    }
    if (result.size() == limit && limit > 0)
    {
      scannedUpTo = result.back().seq;
    }
    else
    {
      // Under the caller's lock: nothing was added in between.
      Orthanc::SQLite::Statement max(db_, SQLITE_FROM_HERE, "SELECT IFNULL(MAX(seq), 0) FROM audit");
      max.Step();
      scannedUpTo = std::max(seq, max.ColumnInt64(0));
    }
    return result;
  }

  void Ledger::AddAudit(int64_t time, const std::string& event, const std::string& uploadId,
                        const std::string& ip, const std::string& detail)
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      AddAuditInternal(time, event, uploadId, ip, detail);
    }
    if (boost::starts_with(event, "alert-"))
    {
      // Every alert also reaches Orthanc's log, whether or not anybody is mailed about it.
      LOG(WARNING) << "Inbound: " << event << (uploadId.empty() ? "" : " (upload " + uploadId + ")")
                   << ": " << detail;
    }
  }

  std::vector<AuditEvent> Ledger::ListAudit(int64_t sinceMs, unsigned int limit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(
      db_, SQLITE_FROM_HERE,
      "SELECT * FROM (SELECT seq, time, event, upload_id, ip, detail FROM audit"
      " WHERE time >= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq");
    s.BindInt64(0, sinceMs);
    s.BindInt64(1, limit);
    std::vector<AuditEvent> result;
    while (s.Step())
    {
      result.push_back(ReadAudit(s));
    }
    return result;
  }

  std::vector<AuditEvent> Ledger::ListHistory(const std::string& uploadId) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Orthanc::SQLite::Statement s(db_, SQLITE_FROM_HERE,
                                 "SELECT seq, time, event, upload_id, ip, detail FROM audit"
                                 " WHERE upload_id = ? ORDER BY seq");
    s.BindString(0, uploadId);
    std::vector<AuditEvent> result;
    while (s.Step())
    {
      result.push_back(ReadAudit(s));
    }
    return result;
  }
}
