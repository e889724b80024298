// The ledger on PostgreSQL: ILedgerConnection over libpq (see doc/Ledger.md "Two databases").
#pragma once

#include "Ledger/LedgerSql.h"

#include <cstdint>
#include <memory>
#include <string>

namespace Inbound
{
  // One connection to the PostgreSQL server of "location", its schema created if missing
  // and made the search_path. Throws ErrorCode_DatabaseUnavailable when the server cannot
  // be reached (the message names host, port, database and user, never the password).
  // Every Begin() takes the ledger's advisory lock: the transactions of every Orthanc on
  // the ledger run one after the other. A lost connection is dropped with its prepared
  // statements; the next Begin() connects again.
  std::unique_ptr<ILedgerConnection> OpenPostgresLedgerConnection(const LedgerLocation& location);

  // The pieces of the connection that stand alone, for the unit tests.
  namespace PostgresText
  {
    // The statement's "?" as "$1", "$2"... in order, outside '...' literals, "..."
    // identifiers and comments; "count" receives the number of parameters. Throws
    // ErrorCode_BadParameterType for "?NNN" (the parameters are numbered by position) and
    // for an unterminated literal, identifier or comment. The texts are constants of the
    // plugin, never input from the network: this is no parser of untrusted bytes, hence no
    // fuzz target (doc/Security.md lists the fuzzed parsers).
    std::string RewritePlaceholders(const std::string& sql, int& count);

    // "text" with every invalid UTF-8 sequence (maximal subpart, as Unicode recommends) and
    // every NUL replaced by U+FFFD: PostgreSQL refuses both in a text value.
    std::string SanitizeUtf8(const std::string& text);

    // The key of the ledger's advisory lock: a 64-bit FNV-1a hash of the schema's name, the
    // same on every machine, so that all Orthancs on one ledger take the same lock.
    int64_t AdvisoryLockKey(const std::string& schema);

    // The value of an integer column given as text: an optional "-" then decimal digits
    // only, within int64. Throws ErrorCode_BadFileFormat otherwise.
    int64_t ParseInteger(const std::string& text);

    // The bytes of a bytea value in PostgreSQL's hex output ("\x0aff..."). Throws
    // ErrorCode_BadFileFormat for anything else.
    std::string DecodeBytea(const std::string& text);
  }
}
