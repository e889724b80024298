// Exponential back-off: how long to wait before trying again after failures in a row.
#include "Backoff.h"

#include <algorithm>

namespace Inbound
{
  int64_t Backoff::NextDelay(int64_t failures) const
  {
    int64_t delay = first_;
    // Stops doubling at the cap, so that no count of failures can overflow.
    for (int64_t i = 1; i < failures && delay > 0 && delay < max_; i++)
    {
      delay *= 2;
    }
    return std::min(delay, max_);
  }
}
