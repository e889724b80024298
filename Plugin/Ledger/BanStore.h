// The bans set by an admin or automatically (table "bans").
#pragma once

#include "Ledger/AuditStore.h"
#include "Ledger/LedgerDatabase.h"
#include "Ledger/Records.h"

#include <string>
#include <vector>

namespace Inbound
{
  // Bans from the configuration are not stored here (see Plugin/Limits/BanList.h, which
  // keeps the bans in memory and writes them through).
  class BanStore : public boost::noncopyable
  {
  private:
    LedgerDatabase& database_;
    AuditStore& audit_;

  public:
    BanStore(LedgerDatabase& database, AuditStore& audit);

    // Adds or replaces the ban of "ban.entry", audited "ban" (the reason, "by", the duration).
    void Put(const BanRecord& ban, const std::string& by);

    // Audited "unban"; false when "entry" was not banned.
    bool Remove(const std::string& entry, int64_t now, const std::string& by);

    // By entry.
    std::vector<BanRecord> List() const;

    // Deletes these expired bans, each only if its "until" is still the one given (a ban
    // renewed meanwhile stays), in one transaction and without audit entries: the audit trail
    // has the ban with its duration already. Returns how many rows went.
    size_t DeleteExpired(const std::vector<BanRecord>& bans);
  };
}
