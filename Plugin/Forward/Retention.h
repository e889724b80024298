// Which complete uploads Inbound.Retention removes: old enough, and sent on if it says so.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"

#include <cstdint>
#include <string>
#include <vector>

namespace Inbound
{
  // Complete uploads past Inbound.Retention (and, with OnlyForwarded, whose studies were
  // all sent on), to be removed; none on a gateway or when Retention.Days is 0.
  std::vector<std::string> ListUploadsPastRetention(const Configuration& configuration,
                                                    const Ledger& ledger, int64_t now);
}
