// What a sealing gateway holds per key, and the sealing of what it received before it sealed.
#pragma once

#include "Ledger/Ledger.h"
#include "Staging/StagingArea.h"
#include "Staging/StagingSealer.h"

#include <map>
#include <string>

namespace Inbound
{
  namespace SealedHoldings
  {
    // At start-up on a sealing gateway (doc/Operations.md, "Sealed staging"): seals every
    // staged file still in plain text (a gateway switched to sealing), removes temporary
    // files a crash left, and seals the ledger's plain records (UploadStore::SealPlainRecords);
    // then empties the ledger's write-ahead log. Logs what it did.
    void SealWhatIsPlain(const StagingSealer& sealer, Ledger& ledger, StagingArea& staging);

    // Per key id: the staged files sealed for it, and the sealed fields of the uploads not yet
    // delivered or removed ("held" in GET /inbound/admin/sealing): a rotation's old key is
    // needed inside until this is 0 on every gateway. "plain" counts what is not sealed.
    std::map<std::string, uint64_t> CountByKey(const Ledger& ledger, const StagingArea& staging,
                                               uint64_t& plain);
  }
}
