// The ledger's database: opening, locking, transactions (see LedgerDatabase.h); the schemas
// are in LedgerSchemaSqlite.cpp and LedgerSchemaPostgres.cpp.

#include "LedgerDatabase.h"

#include "LedgerSchema.h"

#include <OrthancException.h>

#include <exception>

namespace Inbound
{
  LedgerDatabase::Session::Session(LedgerDatabase& database, Durability durability) :
    lock_(database.mutex_),
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
      std::lock_guard<std::mutex> lock(mutex_);
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
