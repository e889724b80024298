// The ledger's tables on SQLite: created or upgraded in place (see LedgerSchema.h).

#include "LedgerSchema.h"

#include "LedgerDatabase.h"

#include <OrthancException.h>

namespace Inbound
{
  namespace
  {
    // Run inside the transaction of CreateOrUpgradeSqliteSchema(). "table", "column" and
    // "definition" are constants.
    void AddColumnIfMissing(ILedgerConnection& connection, const char* table, const char* column,
                            const char* definition)
    {
      LedgerStatement s(connection, std::string("SELECT COUNT(*) FROM pragma_table_info('") +
                                      table + "') WHERE name = ?");
      s.BindString(0, column);
      if (s.Step() && s.ColumnInt(0) == 0)
      {
        connection.Execute(std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " +
                           definition + ";");
      }
    }

    void CreateOrUpgrade(ILedgerConnection& connection, const std::string& description)
    {
      const int kSchemaVersion = LedgerDatabase::kSchemaVersion;

      // The schema's version, kept in SQLite's user_version: an older plugin never writes to
      // a ledger that a newer one has changed (a downgrade after an upgrade is refused, the
      // ledger stays as it is); a newer plugin upgrades an older ledger in place below.
      int version = 0;
      {
        LedgerStatement s(connection, "PRAGMA user_version");
        if (s.Step())
        {
          version = s.ColumnInt(0);
        }
      }
      if (version > kSchemaVersion)
      {
        throw Orthanc::OrthancException(
          Orthanc::ErrorCode_IncompatibleDatabaseVersion,
          "The ledger " + description + " was written by a newer version of Orthanc Inbound "
            "(schema " + std::to_string(version) + ", this version knows " +
            std::to_string(kSchemaVersion) + "): install that version again", true);
      }

      connection.Execute(
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
        "CREATE INDEX IF NOT EXISTS notifications_target"
        " ON notifications(kind, target, created_at);"
        "CREATE INDEX IF NOT EXISTS notifications_event ON notifications(event, created_at);"
        "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS forwards ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, upload_id TEXT NOT NULL, study TEXT NOT NULL,"
        " modality TEXT NOT NULL, origin TEXT NOT NULL, patient_id TEXT NOT NULL,"
        " patient_name TEXT NOT NULL, patient_birth_date TEXT NOT NULL,"
        " keep_namespace INTEGER NOT NULL,"
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
      AddColumnIfMissing(connection, "items", "patient_name", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "items", "patient_birth_date", "TEXT NOT NULL DEFAULT ''");
      // Schema 2: the language of the sender's page, for the receipt.
      AddColumnIfMissing(connection, "uploads", "language", "TEXT NOT NULL DEFAULT ''");
      // Schema 3: the raw bytes of a PatientID that its text does not decode exactly.
      AddColumnIfMissing(connection, "items", "original_patient_id_bytes",
                         "TEXT NOT NULL DEFAULT ''");
      // Schema 4: the gateway (OrthancPeers name) a pulled upload came from; '' for uploads
      // received directly, and for those pulled before it was recorded (ClaimPulledUpload).
      AddColumnIfMissing(connection, "uploads", "gateway", "TEXT NOT NULL DEFAULT ''");
      // Schema 5: a sealing gateway's sealed sender fields, and the keyed hash of the sender's
      // e-mail that quotas count by (filled in for older rows by UploadStore::FillSenderKeys).
      AddColumnIfMissing(connection, "uploads", "sealed_fields", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "uploads", "sender_key", "TEXT NOT NULL DEFAULT ''");
      // Schema 5: how many starts found a pulled item still in progress (crash-loop guard:
      // the first is retried, the second holds the upload).
      AddColumnIfMissing(connection, "pulling", "crashes", "INTEGER NOT NULL DEFAULT 0");
      // Schema 6: request links (doc/Requests.md) and the uploads bound to them.
      AddColumnIfMissing(connection, "uploads", "request_id", "TEXT NOT NULL DEFAULT ''");
      // Whether the patients of a bound upload were the expected one: -1 not known yet, 0 no,
      // 1 yes (Requests/PatientMatch.h).
      AddColumnIfMissing(connection, "uploads", "request_matched", "INTEGER NOT NULL DEFAULT -1");
      connection.Execute(
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
      AddColumnIfMissing(connection, "uploads", "partner_id", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "uploads", "partner_study", "TEXT NOT NULL DEFAULT ''");
      connection.Execute(
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
      AddColumnIfMissing(connection, "forwards", "patient_issuer", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "forwards", "patient_sex", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "forwards", "accession_number", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "forwards", "candidate_source", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "forwards", "candidate_score", "INTEGER NOT NULL DEFAULT -1");
      AddColumnIfMissing(connection, "forwards", "confirmed", "INTEGER NOT NULL DEFAULT 0");
      // Schema 9: leases, so that each piece of work is done by one Orthanc of those sharing
      // a ledger (doc/Ledger.md): named singletons, and the queues' rows being attempted.
      connection.Execute(
        "CREATE TABLE IF NOT EXISTS leases ("
        " name TEXT PRIMARY KEY, owner TEXT NOT NULL, until INTEGER NOT NULL);");
      AddColumnIfMissing(connection, "notifications", "lease_owner", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "notifications", "lease_until", "INTEGER NOT NULL DEFAULT 0");
      AddColumnIfMissing(connection, "forwards", "lease_owner", "TEXT NOT NULL DEFAULT ''");
      AddColumnIfMissing(connection, "forwards", "lease_until", "INTEGER NOT NULL DEFAULT 0");
      // Schema 10: whether the Orthanc metadata of a stored item are written (1) or still owed
      // (0): they are written after the file's answer (Upload/MetadataWriter.h).
      AddColumnIfMissing(connection, "items", "annotated", "INTEGER NOT NULL DEFAULT 1");
      connection.Execute("CREATE INDEX IF NOT EXISTS items_unannotated"
                         " ON items(upload_id) WHERE annotated = 0;");

      connection.Execute("PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";");
    }
  }

  void CreateOrUpgradeSqliteSchema(ILedgerConnection& connection, const std::string& description)
  {
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
