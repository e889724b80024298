// Refills the bucket from the caller's time, takes tokens, tells how long to wait.
#include "TokenBucket.h"

#include <algorithm>

namespace Inbound
{
  TokenBucket::TokenBucket(double capacity, double ratePerSecond, int64_t nowMs) :
    capacity_(capacity),
    ratePerSecond_(ratePerSecond),
    tokens_(capacity),
    lastMs_(nowMs)
  {
  }

  void TokenBucket::Refill(int64_t nowMs)
  {
    if (nowMs > lastMs_)
    {
      tokens_ = std::min(capacity_, tokens_ + ratePerSecond_ * double(nowMs - lastMs_) / 1000.0);
      lastMs_ = nowMs;
    }
  }

  bool TokenBucket::TryTake(double amount, int64_t nowMs, double& waitSeconds)
  {
    Refill(nowMs);
    if (amount <= tokens_)
    {
      tokens_ -= amount;
      waitSeconds = 0;
      return true;
    }
    if (amount > capacity_ || ratePerSecond_ <= 0)
    {
      waitSeconds = -1;
    }
    else
    {
      waitSeconds = (amount - tokens_) / ratePerSecond_;
    }
    return false;
  }

  void TokenBucket::Give(double amount, int64_t nowMs)
  {
    Refill(nowMs);
    tokens_ = std::min(capacity_, tokens_ + amount);
  }

  double TokenBucket::GetTokens(int64_t nowMs)
  {
    Refill(nowMs);
    return tokens_;
  }

  bool TokenBucket::IsFull(int64_t nowMs)
  {
    return GetTokens(nowMs) >= capacity_;
  }
}
