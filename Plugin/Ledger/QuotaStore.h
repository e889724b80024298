// The daily quota counters (table "quota_usage").
#pragma once

#include "Ledger/LedgerDatabase.h"
#include "Ledger/Records.h"

#include <functional>
#include <string>
#include <vector>

namespace Inbound
{
  // Uploads opened and bytes stored per scope ("client:<address>", "sender:<key>" with the
  // keyed hash of the e-mail address, "global") and UTC day, kept in the ledger so that a restart does not reset them. The
  // upload store counts them in the transaction that opens an upload or records a file.
  class QuotaStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;

  public:
    explicit QuotaStore(LedgerDatabase& database);

    // "day": days since the epoch, UTC.
    QuotaUsage GetUsage(const std::string& scope, int64_t day) const;

    // Within the caller's transaction: adds to the counters of each of "scopes".
    void Add(const LedgerDatabase::Session& session, const std::vector<std::string>& scopes,
             int64_t day, int64_t uploads, int64_t bytes);

    // Ledgers before schema 5 counted senders by "sender:<e-mail>": each such row is added to
    // the row of "sender:<senderKey(e-mail)>" and deleted, in one transaction. Returns the
    // number of rows rewritten.
    size_t RekeySenders(const std::function<std::string(const std::string&)>& senderKey);
  };
}
