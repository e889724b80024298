// The ledger's SQL, whatever database holds it: SQLite (a file of one Orthanc) or PostgreSQL
// (shared by several Orthancs). See doc/Ledger.md "Two databases".
#pragma once

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace Inbound
{
  enum LedgerDialect
  {
    LedgerDialect_SQLite,
    LedgerDialect_PostgreSQL
  };

  // Where the ledger lives (Inbound.Ledger and, for PostgreSQL, Orthanc's own "PostgreSQL"
  // section: the same server, database and credentials as Orthanc's index).
  struct LedgerLocation
  {
    LedgerDialect dialect = LedgerDialect_SQLite;
    std::string sqlitePath;    // SQLite: the file; empty = in memory (unit tests)
    std::string postgresUri;   // PostgreSQL: a libpq connection string or URI
    std::string postgresSchema = "inbound";  // PostgreSQL: the schema of the plugin's tables
  };

  // One prepared statement of a connection. Parameters are numbered from 0 in the order of
  // the "?" in the statement's text (PostgreSQL's $1, $2... are written by the connection).
  // Columns are numbered from 0. Values are what the SQLite statement gave before: integers
  // as int64, text as UTF-8 strings, blobs as bytes.
  class ILedgerStatement : public boost::noncopyable
  {
  public:
    virtual ~ILedgerStatement()
    {
    }

    virtual void BindNull(int index) = 0;
    virtual void BindInt(int index, int value) = 0;
    virtual void BindInt64(int index, int64_t value) = 0;
    virtual void BindString(int index, const std::string& value) = 0;
    virtual void BindBlob(int index, const void* data, size_t size) = 0;

    // Executes on the first call; true while a row is there to read.
    virtual bool Step() = 0;

    // Executes; true when it ran to its end (as Orthanc::SQLite::Statement::Run()).
    virtual bool Run() = 0;

    virtual int ColumnCount() const = 0;
    virtual bool ColumnIsNull(int column) const = 0;
    virtual int ColumnInt(int column) const = 0;
    virtual int64_t ColumnInt64(int column) const = 0;
    virtual std::string ColumnString(int column) const = 0;
    virtual std::string ColumnBlob(int column) const = 0;
  };

  // One connection to the ledger's database. Not thread-safe: LedgerDatabase guards it with
  // its mutex and runs every use inside a Session (LedgerDatabase.h).
  class ILedgerConnection : public boost::noncopyable
  {
  public:
    virtual ~ILedgerConnection()
    {
    }

    virtual LedgerDialect GetDialect() const = 0;

    // A statement ready to bind, reset to its first row. "sql" is kept as the key of a cache
    // of prepared statements: the same text is prepared once per connection.
    virtual std::unique_ptr<ILedgerStatement> Prepare(const std::string& sql) = 0;

    // Runs one or several statements without parameters or rows (DDL, SET, PRAGMA).
    virtual void Execute(const std::string& sql) = 0;

    // Rows changed by the last INSERT, UPDATE or DELETE run on this connection.
    virtual int64_t GetLastChangeCount() const = 0;

    // The id given by the last INSERT into a table with an automatic id (SQLite's rowid,
    // PostgreSQL's lastval()). Only after an INSERT that inserted a row: after "INSERT ... ON
    // CONFLICT DO NOTHING" that inserted none, PostgreSQL returns an id it used up for nothing
    // and SQLite the previous insert's, neither the existing row's (select it instead).
    virtual int64_t GetLastInsertRowId() = 0;

    // A transaction. PostgreSQL: BEGIN, then the ledger-wide advisory lock
    // (pg_advisory_xact_lock), so that transactions of all Orthancs on one ledger run one
    // after the other, as those of one Orthanc do on SQLite. Throws
    // ErrorCode_DatabaseUnavailable when the server cannot be reached (fail closed; the next
    // Begin() connects again). "relaxedDurability": the commit may return before it is on
    // disk (LedgerDatabase::Durability_Normal): SQLite's synchronous=NORMAL for this
    // transaction, PostgreSQL's SET LOCAL synchronous_commit = off.
    virtual void Begin(bool relaxedDurability = false) = 0;
    virtual void Commit() = 0;
    virtual void Rollback() = 0;  // never throws
  };

  // A statement of the ledger, as the stores write them:
  //   LedgerStatement s(session, "SELECT state FROM uploads WHERE id = ?");
  //   s.BindString(0, id);
  //   if (s.Step()) { ... s.ColumnString(0) ... }
  // The SQL must be portable between SQLite 3.40 and PostgreSQL 15: "ON CONFLICT ... DO
  // NOTHING / DO UPDATE" rather than "INSERT OR IGNORE/REPLACE", COALESCE rather than IFNULL,
  // CASE rather than two-argument MAX()/MIN(), no instr(), no PRAGMA.
  class LedgerStatement : public boost::noncopyable
  {
  private:
    std::unique_ptr<ILedgerStatement> statement_;

  public:
    LedgerStatement(ILedgerConnection& connection, const std::string& sql) :
      statement_(connection.Prepare(sql))
    {
    }

    void BindNull(int index)
    {
      statement_->BindNull(index);
    }

    void BindInt(int index, int value)
    {
      statement_->BindInt(index, value);
    }

    void BindInt64(int index, int64_t value)
    {
      statement_->BindInt64(index, value);
    }

    void BindString(int index, const std::string& value)
    {
      statement_->BindString(index, value);
    }

    void BindBlob(int index, const void* data, size_t size)
    {
      statement_->BindBlob(index, data, size);
    }

    bool Step()
    {
      return statement_->Step();
    }

    bool Run()
    {
      return statement_->Run();
    }

    int ColumnCount() const
    {
      return statement_->ColumnCount();
    }

    bool ColumnIsNull(int column) const
    {
      return statement_->ColumnIsNull(column);
    }

    int ColumnInt(int column) const
    {
      return statement_->ColumnInt(column);
    }

    int64_t ColumnInt64(int column) const
    {
      return statement_->ColumnInt64(column);
    }

    std::string ColumnString(int column) const
    {
      return statement_->ColumnString(column);
    }

    std::string ColumnBlob(int column) const
    {
      return statement_->ColumnBlob(column);
    }
  };

  // The connection for "location" (SqliteLedgerConnection.cpp, PostgresLedgerConnection.cpp).
  std::unique_ptr<ILedgerConnection> OpenLedgerConnection(const LedgerLocation& location);
}
