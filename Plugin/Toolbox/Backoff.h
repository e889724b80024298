// Exponential back-off: how long to wait before trying again after failures in a row.
#pragma once

#include <cstdint>

namespace Inbound
{
  // The one back-off rule of the plugin (notifications, forwards, pulls from a gateway): the
  // wait doubles with each failure in a row, from "first" up to "max":
  //
  //   failures   1       2         3         ...   n
  //   delay      first   2*first   4*first   ...   min(first * 2^(n-1), max)
  //
  // "failures" always means the number of attempts that have failed so far, the one that has
  // just failed included; a success starts the count again. There is no random jitter: the
  // schedule is the one doc/Configuration.md describes (RetryInterval, MaxRetryInterval).
  // Units are the caller's (seconds or milliseconds). Pure; safe from any thread.
  class Backoff
  {
  private:
    int64_t first_;
    int64_t max_;

  public:
    Backoff(int64_t first, int64_t max) :
      first_(first),
      max_(max)
    {
    }

    // The delay before the next attempt; "failures" below 1 is read as 1.
    int64_t NextDelay(int64_t failures) const;
  };
}
