// The ledger's SQLite database: its one connection, the lock that guards it, transactions, schema.
#pragma once

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include <SQLite/Connection.h>
#include <SQLite/Statement.h>
#include <SQLite/Transaction.h>

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace Inbound
{
  // One connection (WAL, synchronous=FULL, foreign keys on) shared by every store of the
  // ledger (see Ledger.h), and the mutex that guards it: the connection is not used but
  // through a Session, which holds the mutex for its whole life. See doc/Ledger.md.
  class LedgerDatabase : public boost::noncopyable
  {
  public:
    // 7: partner uploads (uploads.partner_id, partner_study), partner_stats, partner_contacts.
    // 8: forwards.patient_issuer, patient_sex, accession_number, candidate_source,
    // candidate_score, confirmed (the reconciliation assistant's release).
    // 1: uploads, items, audit, quotas, bans, notifications, cursors, forwards; 2: the
    // language of each upload; 3: pulls in progress and held pulls, the patient ordinals of
    // Isolation and items.original_patient_id_bytes; 4: uploads.gateway, the gateway a
    // pulled upload came from; 5: uploads.sealed_fields and uploads.sender_key (sealed
    // staging, quotas by a keyed hash); 6: request links ("requests", "request_tickets",
    // uploads.request_id). Raise it with every change of the schema, and upgrade older
    // ledgers in CreateOrUpgradeSchema().
    static const int kSchemaVersion = 8;

    // The lock on the database, held from construction to destruction. Every public method
    // of a store opens one (or a Transaction); methods that take a "Session&" run inside
    // their caller's, which is how one store writes into another store's table in the same
    // transaction (the audit entry of a state change, for instance). The mutex is not
    // recursive: inside a session, call only such methods, never a store's public ones.
    class Session : public boost::noncopyable
    {
    private:
      std::lock_guard<std::mutex> lock_;
      Orthanc::SQLite::Connection& connection_;

    public:
      explicit Session(LedgerDatabase& database);

      Orthanc::SQLite::Connection& GetConnection() const
      {
        return connection_;
      }
    };

    enum Durability
    {
      Durability_Full,   // on disk when Commit() returns
      Durability_Normal  // WAL with synchronous=NORMAL: a power cut may forget the last few
                         // commits, never corrupt the database
    };

    // A session that is one transaction: everything written through it is committed by
    // Commit(), and rolled back if the transaction ends without it (an exception, an early
    // return).
    class Transaction : public Session
    {
    private:
      // Relaxes synchronous for this transaction only, restored after commit or rollback.
      class Synchronous : public boost::noncopyable
      {
      private:
        Orthanc::SQLite::Connection& connection_;
        bool relaxed_;

      public:
        Synchronous(Orthanc::SQLite::Connection& connection, Durability durability);
        ~Synchronous();
      };

      Synchronous synchronous_;                   // destroyed after the transaction ends
      Orthanc::SQLite::Transaction transaction_;

    public:
      explicit Transaction(LedgerDatabase& database, Durability durability = Durability_Full);

      void Commit();
    };

  private:
    std::mutex mutex_;                         // guards connection_
    Orthanc::SQLite::Connection connection_;
    std::string path_;

    // Run inside the transaction of CreateOrUpgradeSchema().
    void AddColumnIfMissing(const char* table, const char* column, const char* definition);

    void CreateOrUpgradeSchema();

  public:
    // "path" empty: an in-memory database (unit tests). Creates or upgrades the schema;
    // throws ErrorCode_IncompatibleDatabaseVersion for a ledger of a newer schema, which is
    // left untouched.
    explicit LedgerDatabase(const std::string& path);

    // Moves the write-ahead log into the database and empties it: after rows were rewritten
    // to forget what they held (SenderKey::UpgradeLedger), their old images leave the -wal
    // file too. Deleted content is overwritten in the database itself (secure_delete).
    void Checkpoint();
  };

  // The rows of "table" in each value of its "state" column; "states" are listed even when
  // no row is in them.
  std::map<std::string, int64_t> CountRowsByState(const LedgerDatabase::Session& session,
                                                  const std::string& table,
                                                  const std::vector<std::string>& states);
}
