// The ledger's database: opening, locking, transactions and the schema (see LedgerDatabase.h).

#include "LedgerDatabase.h"

#include <OrthancException.h>

namespace Inbound
{
  LedgerDatabase::Session::Session(LedgerDatabase& database) :
    lock_(database.mutex_),
    connection_(database.connection_)
  {
  }

  LedgerDatabase::Transaction::Synchronous::Synchronous(Orthanc::SQLite::Connection& connection,
                                                        Durability durability) :
    connection_(connection),
    relaxed_(durability == Durability_Normal)
  {
    if (relaxed_)
    {
      connection_.Execute("PRAGMA synchronous=NORMAL;");
    }
  }

  LedgerDatabase::Transaction::Synchronous::~Synchronous()
  {
    if (relaxed_)
    {
      connection_.Execute("PRAGMA synchronous=FULL;");
    }
  }

  LedgerDatabase::Transaction::Transaction(LedgerDatabase& database, Durability durability) :
    Session(database),
    synchronous_(GetConnection(), durability),
    transaction_(GetConnection())
  {
    transaction_.Begin();
  }

  void LedgerDatabase::Transaction::Commit()
  {
    transaction_.Commit();
  }

  LedgerDatabase::LedgerDatabase(const std::string& path) :
    path_(path.empty() ? std::string("in memory") : path)
  {
    if (path.empty())
    {
      connection_.OpenInMemory();
    }
    else
    {
      connection_.Open(path);
    }
    // WAL with full synchronisation: a committed state change survives a crash or power
    // loss, and readers (admin pages) do not block the upload path.
    connection_.Execute("PRAGMA journal_mode=WAL;");
    connection_.Execute("PRAGMA synchronous=FULL;");
    connection_.Execute("PRAGMA foreign_keys=ON;");
    // What is deleted or overwritten is zeroed, not left in free pages: an address or a sealed
    // gateway's former plain text must not be readable in the file afterwards.
    connection_.Execute("PRAGMA secure_delete=ON;");
    CreateOrUpgradeSchema();
  }

  void LedgerDatabase::Checkpoint()
  {
    Session session(*this);
    session.GetConnection().Execute("PRAGMA wal_checkpoint(TRUNCATE);");
  }

  void LedgerDatabase::AddColumnIfMissing(const char* table, const char* column,
                                          const char* definition)
  {
    // Not cached statements: their text depends on the table (all of them constants).
    Orthanc::SQLite::Statement s(
      connection_,
      std::string("SELECT COUNT(*) FROM pragma_table_info('") + table + "') WHERE name = ?");
    s.BindString(0, column);
    if (s.Step() && s.ColumnInt(0) == 0)
    {
      connection_.Execute(std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " +
                          definition + ";");
    }
  }

  void LedgerDatabase::CreateOrUpgradeSchema()
  {
    Transaction t(*this);

    // The schema's version, kept in SQLite's user_version: an older plugin never writes to a
    // ledger that a newer one has changed (a downgrade after an upgrade is refused, the
    // ledger stays as it is); a newer plugin upgrades an older ledger in place below.
    int version = 0;
    {
      Orthanc::SQLite::Statement s(connection_, SQLITE_FROM_HERE, "PRAGMA user_version");
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

    connection_.Execute(
      "CREATE TABLE IF NOT EXISTS uploads ("
      " id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, state TEXT NOT NULL,"
      " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER NOT NULL,"
      " sender_name TEXT NOT NULL, sender_email TEXT NOT NULL, sender_institution TEXT NOT NULL,"
      " sender_phone TEXT NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL,"
      " consent_version TEXT NOT NULL, client_ip TEXT NOT NULL, user_agent TEXT NOT NULL,"
      " expected_files INTEGER NOT NULL, expected_bytes INTEGER NOT NULL,"
      " receipt_code TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,"
      " purged INTEGER NOT NULL, language TEXT NOT NULL DEFAULT '',"
      " gateway TEXT NOT NULL DEFAULT '', sealed_fields TEXT NOT NULL DEFAULT '',"
      " sender_key TEXT NOT NULL DEFAULT '');"
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

    // Columns added since the first release, to ledgers that lack them. Each is checked
    // first, so that every step runs once whatever version the ledger had.
    // Ledgers written before patient names were recorded (for mails, when allowed).
    AddColumnIfMissing("items", "patient_name", "TEXT NOT NULL DEFAULT ''");
    AddColumnIfMissing("items", "patient_birth_date", "TEXT NOT NULL DEFAULT ''");
    // Schema 2: the language of the sender's page, for the receipt.
    AddColumnIfMissing("uploads", "language", "TEXT NOT NULL DEFAULT ''");
    // Schema 3: the raw bytes of a PatientID that its text does not decode exactly.
    AddColumnIfMissing("items", "original_patient_id_bytes", "TEXT NOT NULL DEFAULT ''");
    // Schema 4: the gateway (OrthancPeers name) a pulled upload came from; '' for uploads
    // received directly, and for those pulled before it was recorded (ClaimPulledUpload).
    AddColumnIfMissing("uploads", "gateway", "TEXT NOT NULL DEFAULT ''");
    // Schema 5: a sealing gateway's sealed sender fields, and the keyed hash of the sender's
    // e-mail that quotas count by (filled in for older rows by UploadStore::FillSenderKeys).
    AddColumnIfMissing("uploads", "sealed_fields", "TEXT NOT NULL DEFAULT ''");
    AddColumnIfMissing("uploads", "sender_key", "TEXT NOT NULL DEFAULT ''");
    // Schema 5: how many starts found a pulled item still in progress (crash-loop guard:
    // the first is retried, the second holds the upload).
    AddColumnIfMissing("pulling", "crashes", "INTEGER NOT NULL DEFAULT 0");
    // Schema 6: request links (doc/Requests.md) and the uploads bound to them.
    AddColumnIfMissing("uploads", "request_id", "TEXT NOT NULL DEFAULT ''");
    // Whether the patients of a bound upload were the expected one: -1 not known yet, 0 no,
    // 1 yes (Requests/PatientMatch.h).
    AddColumnIfMissing("uploads", "request_matched", "INTEGER NOT NULL DEFAULT -1");
    connection_.Execute(
      "CREATE TABLE IF NOT EXISTS requests ("
      " id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, state TEXT NOT NULL,"
      " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
      " created_by TEXT NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL,"
      " language TEXT NOT NULL, max_uploads INTEGER NOT NULL, challenge TEXT NOT NULL,"
      " secret TEXT NOT NULL, failures INTEGER NOT NULL, locked_at INTEGER NOT NULL,"
      " revision INTEGER NOT NULL, patient_id TEXT NOT NULL, patient_name TEXT NOT NULL,"
      " patient_birth_date TEXT NOT NULL, sender_name TEXT NOT NULL,"
      " sender_email TEXT NOT NULL, forward_to TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS request_tickets ("
      " ticket_hash TEXT PRIMARY KEY, request_id TEXT NOT NULL, expires_at INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS request_tickets_request ON request_tickets(request_id);"
      // (Internal) what each gateway confirmed of each request (Requests/RequestSync.h).
      "CREATE TABLE IF NOT EXISTS request_gateways ("
      " request_id TEXT NOT NULL, gateway TEXT NOT NULL, confirmed_revision INTEGER NOT NULL,"
      " synced_at INTEGER NOT NULL, status TEXT NOT NULL, used_uploads INTEGER NOT NULL,"
      " failures INTEGER NOT NULL, locked_at INTEGER NOT NULL, refused TEXT NOT NULL,"
      " PRIMARY KEY (request_id, gateway));"
      "CREATE INDEX IF NOT EXISTS uploads_request ON uploads(request_id);");
    // Schema 7: partner sites (doc/Ledger.md). A partner's upload is keyed by (partner,
    // study): what it sends for a study joins the open upload of that study.
    AddColumnIfMissing("uploads", "partner_id", "TEXT NOT NULL DEFAULT ''");
    AddColumnIfMissing("uploads", "partner_study", "TEXT NOT NULL DEFAULT ''");
    connection_.Execute(
      "CREATE INDEX IF NOT EXISTS uploads_partner ON uploads(partner_id, partner_study, state);"
      // Per partner and UTC day (YYYY-MM-DD): requests, instances stored, bytes, failed parts,
      // uploads opened.
      "CREATE TABLE IF NOT EXISTS partner_stats ("
      " partner_id TEXT NOT NULL, day TEXT NOT NULL, requests INTEGER NOT NULL,"
      " instances INTEGER NOT NULL, bytes INTEGER NOT NULL, failures INTEGER NOT NULL,"
      " studies INTEGER NOT NULL, PRIMARY KEY (partner_id, day));"
      // Per partner: its last request, last stored study, last failure, and whether the
      // silence alert was raised for the current silence (Partners/PartnerWatch.h).
      "CREATE TABLE IF NOT EXISTS partner_contacts ("
      " partner_id TEXT PRIMARY KEY, last_contact_at INTEGER NOT NULL,"
      " last_study_at INTEGER NOT NULL, last_failure_at INTEGER NOT NULL,"
      " last_failure_code TEXT NOT NULL, silence_alerted INTEGER NOT NULL);");
    // Schema 8: the reconciled identity of a forward beyond PatientID, name and birth date,
    // and the reconciliation assistant's candidate it came from (doc/Reconciliation.md).
    AddColumnIfMissing("forwards", "patient_issuer", "TEXT NOT NULL DEFAULT ''");
    AddColumnIfMissing("forwards", "patient_sex", "TEXT NOT NULL DEFAULT ''");
    AddColumnIfMissing("forwards", "accession_number", "TEXT NOT NULL DEFAULT ''");
    AddColumnIfMissing("forwards", "candidate_source", "TEXT NOT NULL DEFAULT ''");
    AddColumnIfMissing("forwards", "candidate_score", "INTEGER NOT NULL DEFAULT -1");
    AddColumnIfMissing("forwards", "confirmed", "INTEGER NOT NULL DEFAULT 0");

    connection_.Execute("PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";");
    t.Commit();
  }

  std::map<std::string, int64_t> CountRowsByState(const LedgerDatabase::Session& session,
                                                  const std::string& table,
                                                  const std::vector<std::string>& states)
  {
    std::map<std::string, int64_t> result;
    for (const std::string& state : states)
    {
      result[state] = 0;
    }
    // Not a cached statement: its text depends on the table.
    Orthanc::SQLite::Statement s(session.GetConnection(),
                                 "SELECT state, COUNT(*) FROM " + table +
                                   " GROUP BY state");
    while (s.Step())
    {
      result[s.ColumnString(0)] = s.ColumnInt64(1);
    }
    return result;
  }
}
