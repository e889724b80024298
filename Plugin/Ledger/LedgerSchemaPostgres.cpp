// The ledger's tables on PostgreSQL, in the connection's schema (search_path): created fresh
// at the current version, upgraded in place later (see LedgerSchema.h, doc/Ledger.md "Two
// databases"). The same tables, columns, order of columns and indexes as a fresh SQLite
// ledger (LedgerSchemaSqlite.cpp); BIGINT for every integer, an identity for SQLite's
// AUTOINCREMENT ids, BYTEA for BLOB.

#include "LedgerSchema.h"

#include "LedgerDatabase.h"
#include "PostgresLedgerConnection.h"

#include <OrthancException.h>

namespace Inbound
{
  namespace
  {
    const char* const kVersionKey = "schema-version";

    // The version in ledger_meta; 0 for a ledger without tables yet.
    int ReadVersion(ILedgerConnection& connection)
    {
      LedgerStatement s(connection, "SELECT value FROM ledger_meta WHERE key = ?");
      s.BindString(0, kVersionKey);
      if (!s.Step())
      {
        return 0;
      }
      const int64_t version = PostgresText::ParseInteger(s.ColumnString(0));
      if (version < 0 || version > 1000000)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_IncompatibleDatabaseVersion,
                                        "The ledger's schema version is not valid: " +
                                          std::to_string(version), true);
      }
      return static_cast<int>(version);
    }

    void CreateOrUpgrade(ILedgerConnection& connection, const std::string& description)
    {
      const int kSchemaVersion = LedgerDatabase::kSchemaVersion;

      // The schema's version, kept in ledger_meta: an older plugin never writes to a ledger
      // that a newer one has changed (a downgrade after an upgrade is refused, the ledger
      // stays as it is); a newer plugin upgrades an older ledger in place below.
      connection.Execute("CREATE TABLE IF NOT EXISTS ledger_meta ("
                         " key TEXT PRIMARY KEY, value TEXT)");
      const int version = ReadVersion(connection);
      if (version > kSchemaVersion)
      {
        throw Orthanc::OrthancException(
          Orthanc::ErrorCode_IncompatibleDatabaseVersion,
          "The ledger " + description + " was written by a newer version of Orthanc Inbound "
            "(schema " + std::to_string(version) + ", this version knows " +
            std::to_string(kSchemaVersion) + "): install that version again", true);
      }
      if (version == kSchemaVersion)
      {
        return;
      }

      // Schema 8, the first on PostgreSQL: every table as a fresh SQLite ledger has it.
      connection.Execute(
        "CREATE TABLE IF NOT EXISTS uploads ("
        " id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, state TEXT NOT NULL,"
        " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, completed_at BIGINT NOT NULL,"
        " sender_name TEXT NOT NULL, sender_email TEXT NOT NULL, sender_institution TEXT NOT NULL,"
        " sender_phone TEXT NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL,"
        " consent_version TEXT NOT NULL, client_ip TEXT NOT NULL, user_agent TEXT NOT NULL,"
        " expected_files BIGINT NOT NULL, expected_bytes BIGINT NOT NULL,"
        " receipt_code TEXT NOT NULL, files BIGINT NOT NULL, bytes BIGINT NOT NULL,"
        " purged BIGINT NOT NULL, language TEXT NOT NULL DEFAULT '',"
        " gateway TEXT NOT NULL DEFAULT '', sealed_fields TEXT NOT NULL DEFAULT '',"
        " sender_key TEXT NOT NULL DEFAULT '',"
        " request_id TEXT NOT NULL DEFAULT '', request_matched BIGINT NOT NULL DEFAULT -1,"
        " partner_id TEXT NOT NULL DEFAULT '', partner_study TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX IF NOT EXISTS uploads_state ON uploads(state, updated_at);"
        "CREATE TABLE IF NOT EXISTS items ("
        " upload_id TEXT NOT NULL REFERENCES uploads(id), sha256 TEXT NOT NULL,"
        " size BIGINT NOT NULL, sop_uid TEXT NOT NULL, series_uid TEXT NOT NULL,"
        " study_uid TEXT NOT NULL, modality TEXT NOT NULL, study_date TEXT NOT NULL,"
        " study_description TEXT NOT NULL, original_patient_id TEXT NOT NULL,"
        " isolated_patient_id TEXT NOT NULL, orthanc_instance TEXT NOT NULL,"
        " orthanc_series TEXT NOT NULL, orthanc_study TEXT NOT NULL,"
        " orthanc_patient TEXT NOT NULL, stored_at BIGINT NOT NULL,"
        " patient_name TEXT NOT NULL DEFAULT '', patient_birth_date TEXT NOT NULL DEFAULT '',"
        " original_patient_id_bytes TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (upload_id, sha256));"
        // The ordinal of each distinct PatientID (raw bytes) of an upload, for Isolation.
        "CREATE TABLE IF NOT EXISTS patients ("
        " upload_id TEXT NOT NULL, original BYTEA NOT NULL, ordinal BIGINT NOT NULL,"
        " PRIMARY KEY (upload_id, original), UNIQUE (upload_id, ordinal));"
        "CREATE INDEX IF NOT EXISTS items_study ON items(upload_id, study_uid);"
        "CREATE INDEX IF NOT EXISTS items_sop ON items(upload_id, sop_uid);"
        "CREATE TABLE IF NOT EXISTS audit ("
        " seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, time BIGINT NOT NULL,"
        " event TEXT NOT NULL, upload_id TEXT NOT NULL, ip TEXT NOT NULL, detail TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS audit_upload ON audit(upload_id);"
        "CREATE INDEX IF NOT EXISTS audit_time ON audit(time);"
        "CREATE TABLE IF NOT EXISTS quota_usage ("
        " scope TEXT NOT NULL, day BIGINT NOT NULL, uploads BIGINT NOT NULL,"
        " bytes BIGINT NOT NULL, PRIMARY KEY (scope, day));"
        "CREATE TABLE IF NOT EXISTS bans ("
        " entry TEXT PRIMARY KEY, created_at BIGINT NOT NULL, until BIGINT NOT NULL,"
        " reason TEXT NOT NULL, automatic BIGINT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS notifications ("
        " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, dedup_key TEXT NOT NULL UNIQUE,"
        " created_at BIGINT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,"
        " event TEXT NOT NULL, upload_id TEXT NOT NULL, target TEXT NOT NULL,"
        " subject TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,"
        " attempts BIGINT NOT NULL, next_attempt BIGINT NOT NULL, last_error TEXT NOT NULL,"
        " delivered_at BIGINT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS notifications_due ON notifications(state, next_attempt);"
        "CREATE INDEX IF NOT EXISTS notifications_target"
        " ON notifications(kind, target, created_at);"
        "CREATE INDEX IF NOT EXISTS notifications_event ON notifications(event, created_at);"
        "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS forwards ("
        " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, upload_id TEXT NOT NULL,"
        " study TEXT NOT NULL, modality TEXT NOT NULL, origin TEXT NOT NULL,"
        " patient_id TEXT NOT NULL, patient_name TEXT NOT NULL, patient_birth_date TEXT NOT NULL,"
        " keep_namespace BIGINT NOT NULL, new_uids BIGINT NOT NULL, state TEXT NOT NULL,"
        " attempts BIGINT NOT NULL, next_attempt BIGINT NOT NULL, job_id TEXT NOT NULL,"
        " sent_study TEXT NOT NULL, last_error TEXT NOT NULL, created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL, requested_by TEXT NOT NULL,"
        " patient_issuer TEXT NOT NULL DEFAULT '', patient_sex TEXT NOT NULL DEFAULT '',"
        " accession_number TEXT NOT NULL DEFAULT '', candidate_source TEXT NOT NULL DEFAULT '',"
        " candidate_score BIGINT NOT NULL DEFAULT -1, confirmed BIGINT NOT NULL DEFAULT 0);"
        "CREATE INDEX IF NOT EXISTS forwards_due ON forwards(state, next_attempt);"
        "CREATE INDEX IF NOT EXISTS forwards_upload ON forwards(upload_id);"
        "CREATE INDEX IF NOT EXISTS items_orthanc_study ON items(orthanc_study);"
        // (Internal) items being pulled (crash-loop guard) and held pulled uploads.
        "CREATE TABLE IF NOT EXISTS pulling ("
        " gateway TEXT NOT NULL, upload_id TEXT NOT NULL, sha256 TEXT NOT NULL,"
        " since BIGINT NOT NULL, crashes BIGINT NOT NULL DEFAULT 0,"
        " PRIMARY KEY (gateway, upload_id, sha256));"
        "CREATE TABLE IF NOT EXISTS held_pulls ("
        " gateway TEXT NOT NULL, upload_id TEXT NOT NULL, reason TEXT NOT NULL,"
        " since BIGINT NOT NULL, PRIMARY KEY (gateway, upload_id));"
        // Request links (doc/Requests.md).
        "CREATE TABLE IF NOT EXISTS requests ("
        " id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, state TEXT NOT NULL,"
        " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
        " created_by TEXT NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL,"
        " language TEXT NOT NULL, max_uploads BIGINT NOT NULL, challenge TEXT NOT NULL,"
        " secret TEXT NOT NULL, failures BIGINT NOT NULL, locked_at BIGINT NOT NULL,"
        " revision BIGINT NOT NULL, patient_id TEXT NOT NULL, patient_name TEXT NOT NULL,"
        " patient_birth_date TEXT NOT NULL, sender_name TEXT NOT NULL,"
        " sender_email TEXT NOT NULL, forward_to TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS request_tickets ("
        " ticket_hash TEXT PRIMARY KEY, request_id TEXT NOT NULL, expires_at BIGINT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS request_tickets_request ON request_tickets(request_id);"
        // (Internal) what each gateway confirmed of each request (Requests/RequestSync.h).
        "CREATE TABLE IF NOT EXISTS request_gateways ("
        " request_id TEXT NOT NULL, gateway TEXT NOT NULL, confirmed_revision BIGINT NOT NULL,"
        " synced_at BIGINT NOT NULL, status TEXT NOT NULL, used_uploads BIGINT NOT NULL,"
        " failures BIGINT NOT NULL, locked_at BIGINT NOT NULL, refused TEXT NOT NULL,"
        " PRIMARY KEY (request_id, gateway));"
        "CREATE INDEX IF NOT EXISTS uploads_request ON uploads(request_id);"
        // Partner sites (doc/Ledger.md).
        "CREATE INDEX IF NOT EXISTS uploads_partner ON uploads(partner_id, partner_study, state);"
        "CREATE TABLE IF NOT EXISTS partner_stats ("
        " partner_id TEXT NOT NULL, day TEXT NOT NULL, requests BIGINT NOT NULL,"
        " instances BIGINT NOT NULL, bytes BIGINT NOT NULL, failures BIGINT NOT NULL,"
        " studies BIGINT NOT NULL, PRIMARY KEY (partner_id, day));"
        "CREATE TABLE IF NOT EXISTS partner_contacts ("
        " partner_id TEXT PRIMARY KEY, last_contact_at BIGINT NOT NULL,"
        " last_study_at BIGINT NOT NULL, last_failure_at BIGINT NOT NULL,"
        " last_failure_code TEXT NOT NULL, silence_alerted BIGINT NOT NULL);");

      // Upgrades of a PostgreSQL ledger written by an older version go here, each step
      // idempotent (ALTER TABLE ... ADD COLUMN IF NOT EXISTS, CREATE ... IF NOT EXISTS) and
      // also part of the fresh DDL above when it is a new table.

      LedgerStatement s(connection,
                        "INSERT INTO ledger_meta (key, value) VALUES (?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
      s.BindString(0, kVersionKey);
      s.BindString(1, std::to_string(kSchemaVersion));
      s.Run();
    }
  }

  void CreateOrUpgradePostgresSchema(ILedgerConnection& connection,
                                     const std::string& description)
  {
    // Begin() takes the ledger's advisory lock: of two Orthancs starting at once on a new
    // ledger, one creates the tables, the other finds them at the current version.
    connection.Begin();
    try
    {
      CreateOrUpgrade(connection, description);
      connection.Commit();
    }
    catch (...)
    {
      connection.Rollback();
      throw;
    }
  }
}
