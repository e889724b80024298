// The ledger's database (SQLite or PostgreSQL): its one connection, the lock that guards it,
// transactions, schema.
#pragma once

#include "Ledger/LedgerSql.h"

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace Inbound
{
  // One connection (LedgerSql.h) shared by every store of the ledger (see Ledger.h), and the
  // mutex that guards it: the connection is not used but through a Session, which holds the
  // mutex for its whole life and is one transaction of the database. See doc/Ledger.md.
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
    // ledgers in both LedgerSchemaSqlite.cpp and LedgerSchemaPostgres.cpp.
    // 9: leases; notifications and forwards: lease_owner, lease_until (several Orthancs on
    // one ledger).
    static constexpr int kSchemaVersion = 10;

    enum Durability
    {
      Durability_Full,   // on disk when the transaction's commit returns
      Durability_Normal  // SQLite: WAL with synchronous=NORMAL, PostgreSQL: synchronous_commit
                         // off: a power cut may forget the last few commits, never corrupt
                         // the database
    };

    // The lock on the database, held from construction to destruction, and one transaction
    // of the database: a plain Session commits when it ends normally and rolls back when it
    // ends by an exception. Every public method of a store opens one (or a Transaction);
    // methods that take a "Session&" run inside their caller's, which is how one store writes
    // into another store's table in the same transaction (the audit entry of a state change,
    // for instance). The mutex is not recursive: inside a session, call only such methods,
    // never a store's public ones.
    class Session : public boost::noncopyable
    {
    private:
      std::unique_lock<std::timed_mutex> lock_;
      ILedgerConnection& connection_;
      int uncaught_;   // exceptions in flight when the session began
      bool open_;      // the transaction is not ended yet

    protected:
      Session(LedgerDatabase& database, Durability durability);

      void CommitNow();

      void RollbackNow();

    public:
      explicit Session(LedgerDatabase& database);

      // Commits, unless an exception is leaving the scope (then rolls back). A commit that
      // fails throws from here (PostgreSQL: the server went away).
      ~Session() noexcept(false);

      ILedgerConnection& GetConnection() const
      {
        return connection_;
      }
    };

    // A session that commits only through Commit(): everything written through it is rolled
    // back if the transaction ends without it (an exception, an early return).
    class Transaction : public Session
    {
    public:
      explicit Transaction(LedgerDatabase& database, Durability durability = Durability_Full);

      ~Transaction();

      void Commit();
    };

  private:
    std::timed_mutex mutex_;                      // guards connection_
    bool lockTimeoutLowered_ = false;             // PostgreSQL: lock_timeout below 30 s
    std::unique_ptr<ILedgerConnection> connection_;
    LedgerDialect dialect_;

    void Open(const LedgerLocation& location);

    // The mutex, for a Session. PostgreSQL: a request waits at most kMaxWaitSeconds for the
    // ledger in all, this Orthanc's other sessions and the ledger-wide lock of all Orthancs
    // together (lock_timeout gets what is left), then ErrorCode_DatabaseUnavailable (503).
    std::unique_lock<std::timed_mutex> Lock();

  public:
    // Opens the ledger of "location" and creates or upgrades its schema; throws
    // ErrorCode_IncompatibleDatabaseVersion for a ledger of a newer schema, which is left
    // untouched.
    explicit LedgerDatabase(const LedgerLocation& location);

    // SQLite: "path" empty: an in-memory database (unit tests).
    explicit LedgerDatabase(const std::string& path);

    LedgerDialect GetDialect() const
    {
      return dialect_;
    }

    // SQLite: moves the write-ahead log into the database and empties it: after rows were
    // rewritten to forget what they held (SenderKey::UpgradeLedger), their old images leave
    // the -wal file too. Deleted content is overwritten in the database itself
    // (secure_delete). PostgreSQL: nothing (its WAL and vacuum are the server's).
    void Checkpoint();
  };

  // The rows of "table" (a constant) in each value of its "state" column; "states" are listed
  // even when no row is in them.
  std::map<std::string, int64_t> CountRowsByState(const LedgerDatabase::Session& session,
                                                  const std::string& table,
                                                  const std::vector<std::string>& states);
}
