// The refusal that every route gives for an exception that is not an ApiError.
#pragma once

#include "Http/ApiError.h"

namespace Inbound
{
  // What a client is told when something else than an ApiError was thrown (doc/Api.md, "Error
  // codes"): the archive full is 507 "storage-full"; the ledger's PostgreSQL server out of
  // reach is 503 "ledger-unavailable" with "Retry-After: 5" (nothing was recorded, the same
  // request succeeds once it is back); anything else is 500 "internal-error", without the
  // details, which are for the log. Used by the REST glue for every route and by a partner's
  // STOW-RS parts, so that both say the same. Call only inside a catch block.
  ApiError GetApiErrorOfCurrentException();
}
