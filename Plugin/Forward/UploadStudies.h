// Which Orthanc studies and instances an upload stored: the ledger's items, never Orthanc's.
#pragma once

#include "Ledger/Ledger.h"

#include <string>
#include <vector>

namespace Inbound
{
  // The Orthanc studies that the upload's items were stored in, each once.
  std::vector<std::string> StudiesOf(const Ledger& ledger, const std::string& uploadId);

  // The Orthanc instances that this forward's upload stored in its study (the ledger's
  // items): what a release sends, never the other instances an Orthanc study may hold.
  // Throws std::runtime_error when there is none.
  std::vector<ItemRecord> InstancesOf(const Ledger& ledger, const ForwardRecord& forward);
}
