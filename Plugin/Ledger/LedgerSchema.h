// The ledger's tables, created or upgraded when it is opened: one function per database.
#pragma once

#include "Ledger/LedgerSql.h"

#include <string>

namespace Inbound
{
  // Each runs its own transaction (Begin/Commit, rolled back if it throws) on a connection
  // just opened, creates the tables of LedgerDatabase::kSchemaVersion or upgrades older ones
  // in place, and throws ErrorCode_IncompatibleDatabaseVersion, leaving everything as it
  // was, for a ledger of a newer schema. "description" names the ledger in that message (the
  // file, or the PostgreSQL schema).

  // LedgerSchemaSqlite.cpp: the version is SQLite's user_version.
  void CreateOrUpgradeSqliteSchema(ILedgerConnection& connection, const std::string& description);

  // LedgerSchemaPostgres.cpp: the version is in the table ledger_meta.
  void CreateOrUpgradePostgresSchema(ILedgerConnection& connection,
                                     const std::string& description);
}
