// A token bucket, without lock or clock of its own: the building block of the rate limits.
#pragma once

#include <cstdint>

namespace Inbound
{
  // A token bucket: "capacity" tokens at most, refilled at "ratePerSecond". No locking and no
  // clock of its own (the caller passes the time), so it is exact in tests and cheap to wrap.
  class TokenBucket
  {
  private:
    double capacity_;
    double ratePerSecond_;
    double tokens_;
    int64_t lastMs_;

    void Refill(int64_t nowMs);

  public:
    TokenBucket(double capacity, double ratePerSecond, int64_t nowMs);

    // Takes "amount" tokens if there are enough; otherwise takes none and tells how many
    // seconds to wait until there would be (infinite wait is reported as -1 when "amount"
    // exceeds the capacity).
    bool TryTake(double amount, int64_t nowMs, double& waitSeconds);

    // Puts back "amount" tokens taken before (never beyond the capacity).
    void Give(double amount, int64_t nowMs);

    double GetTokens(int64_t nowMs);

    // Whether the bucket is full, i.e. remembering it is useless.
    bool IsFull(int64_t nowMs);
  };
}
