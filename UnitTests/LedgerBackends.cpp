// The database of the ledger's unit tests (see LedgerBackends.h).

#include "LedgerBackends.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

namespace InboundTests
{
  namespace
  {
    const char* Environment(const char* name)
    {
      const char* value = getenv(name);
      return (value != nullptr && value[0] != '\0') ? value : nullptr;
    }
  }

  bool OnPostgres()
  {
    return Environment("INBOUND_TEST_POSTGRES_URI") != nullptr ||
           Environment("INBOUND_TEST_POSTGRES_URI_FILE") != nullptr;
  }

  std::string PostgresUri()
  {
    if (const char* uri = Environment("INBOUND_TEST_POSTGRES_URI"))
    {
      return uri;
    }
    const char* path = Environment("INBOUND_TEST_POSTGRES_URI_FILE");
    if (path == nullptr)
    {
      throw std::runtime_error(
        "This test needs the unit tests' PostgreSQL server: run it through ctest (the "
        "\"postgresql\" fixture starts one), or start UnitTests/postgres-fixture.sh start FILE "
        "and set INBOUND_TEST_POSTGRES_URI_FILE=FILE");
    }
    std::ifstream file(path);
    std::string uri;
    if (!file || !std::getline(file, uri) || uri.empty())
    {
      throw std::runtime_error(std::string("No PostgreSQL URI in ") + path +
                               ": the ctest fixture postgresql-start failed or did not run");
    }
    return uri;
  }

  std::string NewPostgresSchema()
  {
    static std::atomic<unsigned int> counter(0);
    std::ostringstream name;
    name << "test_" << getpid() << "_" << counter++;
    return name.str();
  }

  Inbound::LedgerLocation NewPostgresLocation()
  {
    Inbound::LedgerLocation location;
    location.dialect = Inbound::LedgerDialect_PostgreSQL;
    location.postgresUri = PostgresUri();
    location.postgresSchema = NewPostgresSchema();
    return location;
  }

  Inbound::LedgerLocation TestLedgerLocation()
  {
    if (OnPostgres())
    {
      return NewPostgresLocation();
    }
    Inbound::LedgerLocation location;
    location.dialect = Inbound::LedgerDialect_SQLite;
    location.sqlitePath.clear();  // in memory
    return location;
  }
}
