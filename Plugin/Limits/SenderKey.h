// Per-sender quota scopes keyed by a secret: a keyed hash of the e-mail address, never the address.
#pragma once

#include "Ledger/Ledger.h"

#include <string>

namespace Inbound
{
  // The quotas per sender count by a keyed hash of the e-mail address (HMAC-SHA256 with a
  // secret of this server), so that the ledger holds no address for them: a sealing gateway
  // keeps nothing a sender typed (doc/Security.md, "Sealed staging"), and a stolen ledger
  // does not tell who sent how much without the secret. Every role does the same.
  namespace SenderKey
  {
    const size_t kSecretSize = 32;

    // Reads the secret at "path" ("<DataDirectory>/quota-key"), or creates it at the first
    // start (32 random bytes, mode 600, written atomically). Throws Orthanc's BadFileFormat,
    // naming the file, if it does not hold 32 bytes or others than its owner may read it.
    std::string LoadOrCreateSecret(const std::string& path);

    // The secret of every Orthanc on "ledger": SQLite, the file at "path" as above;
    // PostgreSQL, the row "quota-key" of ledger_meta (hex), created by the first Orthanc that
    // starts (under the ledger's lock: all of them then share it, and per-sender quotas count
    // alike wherever an upload arrives). Throws BadFileFormat for a row that is not 32 bytes.
    std::string LoadOrCreateSecret(Ledger& ledger, const std::string& path);

    // Lower-case hex HMAC-SHA256 of the lower-cased address: two spellings of an address that
    // differ in case share one quota. "" for "".
    std::string Compute(const std::string& secret, const std::string& email);

    // Whether a quota scope still names an address ("sender:<e-mail>", ledgers before
    // schema 5), not a key.
    bool IsPlainScope(const std::string& scope);

    // At start-up: rewrites the quota rows that name an address, and gives uploads recorded
    // before schema 5 their sender key (doc/Ledger.md, "Upgrades"); then empties the ledger's
    // write-ahead log, so that no address of those rows is left in it. Each step only finds
    // what is left to do: several Orthancs starting on one ledger may all run it.
    void UpgradeLedger(Ledger& ledger, const std::string& secret);
  }
}
