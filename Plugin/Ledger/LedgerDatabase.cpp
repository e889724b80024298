// The ledger's database: opening, locking, transactions (see LedgerDatabase.h); the schemas
// are in LedgerSchemaSqlite.cpp and LedgerSchemaPostgres.cpp.

#include "LedgerDatabase.h"

#include "LedgerSchema.h"

#include <OrthancException.h>

#include <algorithm>
#include <chrono>
#include <exception>

namespace Inbound
{
  LedgerDatabase::Session::Session(LedgerDatabase& database, Durability durability) :
    lock_(database.Lock()),
    connection_(*database.connection_),
    uncaught_(std::uncaught_exceptions()),
    open_(false)
  {
    connection_.Begin(durability == Durability_Normal);
    open_ = true;
  }

  LedgerDatabase::Session::Session(LedgerDatabase& database) :
    Session(database, Durability_Full)
  {
  }

  LedgerDatabase::Session::~Session() noexcept(false)
  {
    if (open_)
    {
      if (std::uncaught_exceptions() > uncaught_)
      {
        RollbackNow();
      }
      else
      {
        CommitNow();
      }
    }
  }

  void LedgerDatabase::Session::CommitNow()
  {
    if (!open_)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                      "The ledger's transaction is already ended");
    }
    open_ = false;
    connection_.Commit();  // rolls back itself when it fails
  }

  void LedgerDatabase::Session::RollbackNow()
  {
    if (open_)
    {
      open_ = false;
      connection_.Rollback();
    }
  }

  std::unique_lock<std::timed_mutex> LedgerDatabase::Lock()
  {
    if (dialect_ != LedgerDialect_PostgreSQL)
    {
      return std::unique_lock<std::timed_mutex>(mutex_);  // SQLite: transactions are short
    }
    // The bound of a request's wait for the ledger, the statement_timeout of
    // PostgresLedgerConnection.cpp: a node that holds the ledger-wide lock for long (hung, or
    // a slow server) makes the others answer 503 within it rather than queue for minutes.
    const std::chrono::milliseconds kMaxWait(30000);
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::timed_mutex> lock(mutex_, std::defer_lock);
    if (!lock.try_lock_for(kMaxWait))
    {
      throw Orthanc::OrthancException(
        Orthanc::ErrorCode_DatabaseUnavailable,
        "The ledger is busy: this Orthanc's other transactions on it did not end within 30 s",
        false);
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
    try
    {
      if (waited > std::chrono::milliseconds(500))
      {
        const auto left = std::max(std::chrono::milliseconds(100), kMaxWait - waited);
        connection_->Execute("SET lock_timeout = '" + std::to_string(left.count()) + "ms'");
        lockTimeoutLowered_ = true;
      }
      else if (lockTimeoutLowered_)
      {
        connection_->Execute("SET lock_timeout = '30s'");
        lockTimeoutLowered_ = false;
      }
    }
    catch (Orthanc::OrthancException&)
    {
      // The connection is gone: Begin() connects again, with statement_timeout as the bound.
      lockTimeoutLowered_ = false;
    }
    return lock;
  }

  LedgerDatabase::Transaction::Transaction(LedgerDatabase& database, Durability durability) :
    Session(database, durability)
  {
  }

  LedgerDatabase::Transaction::~Transaction()
  {
    RollbackNow();  // nothing when committed
  }

  void LedgerDatabase::Transaction::Commit()
  {
    CommitNow();
  }

  void LedgerDatabase::Open(const LedgerLocation& location)
  {
    connection_ = OpenLedgerConnection(location);
    if (dialect_ == LedgerDialect_PostgreSQL)
    {
      CreateOrUpgradePostgresSchema(*connection_, "schema \"" + location.postgresSchema + "\"");
    }
    else
    {
      CreateOrUpgradeSqliteSchema(
        *connection_, location.sqlitePath.empty() ? std::string("in memory") : location.sqlitePath);
    }
  }

  LedgerDatabase::LedgerDatabase(const LedgerLocation& location) :
    dialect_(location.dialect)
  {
    Open(location);
  }

  LedgerDatabase::LedgerDatabase(const std::string& path) :
    dialect_(LedgerDialect_SQLite)
  {
    LedgerLocation location;
    location.sqlitePath = path;
    Open(location);
  }

  void LedgerDatabase::Checkpoint()
  {
    if (dialect_ == LedgerDialect_SQLite)
    {
      // Outside any transaction: SQLite cannot checkpoint past its own reader.
      std::lock_guard<std::timed_mutex> lock(mutex_);
      connection_->Execute("PRAGMA wal_checkpoint(TRUNCATE);");
    }
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
    LedgerStatement s(session.GetConnection(),
                      "SELECT state, COUNT(*) FROM " + table + " GROUP BY state");
    while (s.Step())
    {
      result[s.ColumnString(0)] = s.ColumnInt64(1);
    }
    return result;
  }
}
