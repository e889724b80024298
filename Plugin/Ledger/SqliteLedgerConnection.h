// The ledger on SQLite: one file of one Orthanc (see LedgerSql.h, doc/Ledger.md).
#pragma once

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Ledger/LedgerSql.h"

#include <SQLite/Connection.h>

#include <map>
#include <set>
#include <string>

namespace Inbound
{
  // ILedgerConnection over the Orthanc framework's SQLite wrapper: WAL, synchronous=FULL,
  // foreign keys and secure_delete on. Statements are cached by their text; a text already in
  // use (a statement that is alive while the same text is prepared again) gets a statement of
  // its own.
  class SqliteLedgerConnection : public ILedgerConnection
  {
  private:
    class Statement;

    std::set<std::string> texts_;        // the keys of the cache: their c_str() never move
    std::map<std::string, int> inUse_;   // statements alive per text
    Orthanc::SQLite::Connection connection_;
    bool inTransaction_ = false;
    bool relaxed_ = false;

    void Restore();

  public:
    // "path" empty: in memory (unit tests).
    explicit SqliteLedgerConnection(const std::string& path);

    LedgerDialect GetDialect() const override
    {
      return LedgerDialect_SQLite;
    }

    std::unique_ptr<ILedgerStatement> Prepare(const std::string& sql) override;

    void Execute(const std::string& sql) override;

    int64_t GetLastChangeCount() const override;

    int64_t GetLastInsertRowId() override;

    void Begin(bool relaxedDurability = false) override;

    void Commit() override;

    void Rollback() override;
  };
}
