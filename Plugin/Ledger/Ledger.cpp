// The ledger: its stores over one database (see Ledger.h).

#include "Ledger.h"

namespace Inbound
{
  Ledger::Ledger(const LedgerLocation& location) :
    database_(location),
    audit_(database_),
    quotas_(database_),
    patients_(database_),
    requests_(database_, audit_),
    uploads_(database_, audit_, quotas_, patients_, requests_),
    bans_(database_, audit_),
    notifications_(database_, audit_),
    forwards_(database_, audit_),
    pulls_(database_, audit_),
    partners_(database_),
    requestGateways_(database_)
  {
  }

  namespace
  {
    LedgerLocation SqliteAt(const std::string& path)
    {
      LedgerLocation location;
      location.sqlitePath = path;
      return location;
    }
  }

  Ledger::Ledger(const std::string& path) :
    Ledger(SqliteAt(path))
  {
  }
}
