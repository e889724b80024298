// The ledger's unit tests run on both databases: in-memory SQLite by default, PostgreSQL when
// ctest runs them as "postgresql.*" (UnitTests/LedgerBackends.cmake starts the server with
// UnitTests/postgres-fixture.sh and sets INBOUND_TEST_POSTGRES_URI_FILE). A test builds its
// ledger with
//   Inbound::Ledger ledger(InboundTests::TestLedgerLocation());
// and gets a fresh, empty ledger on either.
#pragma once

#include "Ledger/LedgerSql.h"

#include <string>

namespace InboundTests
{
  // Whether this run is the PostgreSQL one: INBOUND_TEST_POSTGRES_URI (a libpq URI) or
  // INBOUND_TEST_POSTGRES_URI_FILE (a file holding one) is set.
  bool OnPostgres();

  // The libpq URI of the test server. Throws (the test fails, it is never skipped) when no
  // URI was given or its file is missing or empty: the PostgreSQL fixture did not start.
  std::string PostgresUri();

  // A schema name used by nothing else yet (process id and a counter).
  std::string NewPostgresSchema();

  // A fresh ledger: in memory on SQLite; on PostgreSQL, a new schema of the test server.
  Inbound::LedgerLocation TestLedgerLocation();

  // A PostgreSQL location in a new schema, whatever the run (the tests of the PostgreSQL
  // connection itself).
  Inbound::LedgerLocation NewPostgresLocation();
}
