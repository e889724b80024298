// The ledger on SQLite (see SqliteLedgerConnection.h), and the choice of a database.

#include "SqliteLedgerConnection.h"

#include "Ledger/PostgresLedgerConnection.h"

#include <OrthancException.h>
#include <SQLite/Statement.h>

namespace Inbound
{
  class SqliteLedgerConnection::Statement : public ILedgerStatement
  {
  private:
    std::map<std::string, int>::iterator inUse_;
    std::unique_ptr<Orthanc::SQLite::Statement> owned_;
    Orthanc::SQLite::Statement& statement_;

  public:
    Statement(Orthanc::SQLite::Connection& connection, std::map<std::string, int>::iterator inUse,
              const std::string& key, bool cached) :
      inUse_(inUse),
      owned_(cached ? new Orthanc::SQLite::Statement(
                        connection, Orthanc::SQLite::StatementId(key.c_str(), 0), key)
                    : new Orthanc::SQLite::Statement(connection, key)),
      statement_(*owned_)
    {
      inUse_->second++;
    }

    ~Statement() override
    {
      inUse_->second--;
    }

    void BindNull(int index) override
    {
      statement_.BindNull(index);
    }

    void BindInt(int index, int value) override
    {
      statement_.BindInt(index, value);
    }

    void BindInt64(int index, int64_t value) override
    {
      statement_.BindInt64(index, value);
    }

    void BindString(int index, const std::string& value) override
    {
      statement_.BindString(index, value);
    }

    void BindBlob(int index, const void* data, size_t size) override
    {
      statement_.BindBlob(index, data, static_cast<int>(size));
    }

    bool Step() override
    {
      return statement_.Step();
    }

    bool Run() override
    {
      return statement_.Run();
    }

    int ColumnCount() const override
    {
      return statement_.ColumnCount();
    }

    bool ColumnIsNull(int column) const override
    {
      return statement_.ColumnIsNull(column);
    }

    int ColumnInt(int column) const override
    {
      return statement_.ColumnInt(column);
    }

    int64_t ColumnInt64(int column) const override
    {
      return statement_.ColumnInt64(column);
    }

    std::string ColumnString(int column) const override
    {
      return statement_.ColumnString(column);
    }

    std::string ColumnBlob(int column) const override
    {
      const int size = statement_.ColumnByteLength(column);
      const void* data = statement_.ColumnBlob(column);
      return size <= 0 || data == nullptr
               ? std::string()
               : std::string(static_cast<const char*>(data), static_cast<size_t>(size));
    }
  };

  SqliteLedgerConnection::SqliteLedgerConnection(const std::string& path)
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
  }

  std::unique_ptr<ILedgerStatement> SqliteLedgerConnection::Prepare(const std::string& sql)
  {
    // The framework's cache is keyed by a StatementId that keeps a pointer to its text: the
    // text is kept here for the life of the connection.
    const std::string& key = *texts_.insert(sql).first;
    std::map<std::string, int>::iterator inUse = inUse_.emplace(sql, 0).first;
    // The framework refuses to hand out a cached statement that is in use.
    const bool cached = (inUse->second == 0);
    return std::unique_ptr<ILedgerStatement>(new Statement(connection_, inUse, key, cached));
  }

  void SqliteLedgerConnection::Execute(const std::string& sql)
  {
    connection_.Execute(sql);
  }

  int64_t SqliteLedgerConnection::GetLastChangeCount() const
  {
    return connection_.GetLastChangeCount();
  }

  int64_t SqliteLedgerConnection::GetLastInsertRowId()
  {
    return connection_.GetLastInsertRowId();
  }

  void SqliteLedgerConnection::Begin(bool relaxedDurability)
  {
    if (inTransaction_)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                      "The ledger's transactions do not nest");
    }
    // synchronous is not changed inside a transaction: set before, restored after.
    if (relaxedDurability)
    {
      connection_.Execute("PRAGMA synchronous=NORMAL;");
      relaxed_ = true;
    }
    try
    {
      connection_.BeginTransaction();
    }
    catch (...)
    {
      Restore();
      throw;
    }
    inTransaction_ = true;
  }

  void SqliteLedgerConnection::Restore()
  {
    if (relaxed_)
    {
      relaxed_ = false;
      connection_.Execute("PRAGMA synchronous=FULL;");
    }
  }

  void SqliteLedgerConnection::Commit()
  {
    if (!inTransaction_)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                      "No transaction of the ledger to commit");
    }
    try
    {
      connection_.CommitTransaction();
    }
    catch (...)
    {
      Rollback();
      throw;
    }
    inTransaction_ = false;
    Restore();
  }

  void SqliteLedgerConnection::Rollback()
  {
    if (inTransaction_)
    {
      inTransaction_ = false;
      try
      {
        if (connection_.GetTransactionNesting() > 0)
        {
          connection_.RollbackTransaction();
        }
        else
        {
          connection_.Execute("ROLLBACK;");  // a COMMIT that failed left it open
        }
      }
      catch (...)
      {
      }
    }
    try
    {
      Restore();
    }
    catch (...)
    {
    }
  }

  std::unique_ptr<ILedgerConnection> OpenLedgerConnection(const LedgerLocation& location)
  {
    switch (location.dialect)
    {
      case LedgerDialect_SQLite:
        return std::unique_ptr<ILedgerConnection>(new SqliteLedgerConnection(location.sqlitePath));

      case LedgerDialect_PostgreSQL:
        return OpenPostgresLedgerConnection(location);

      default:
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                        "Unknown database for the ledger");
    }
  }
}
