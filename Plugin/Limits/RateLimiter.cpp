// Takes requests and bytes from each client's buckets; forgets clients whose buckets are full.
#include "RateLimiter.h"

namespace Inbound
{
  RateLimiter::RateLimiter(const RateLimits& limits, const IClock& clock) :
    limits_(limits),
    clock_(clock)
  {
  }

  RateLimiter::Client& RateLimiter::GetClientInternal(const std::string& address, int64_t now)
  {
    auto found = clients_.find(address);
    if (found == clients_.end())
    {
      if (clients_.size() >= pruneAt_)
      {
        PruneInternal(now);
      }
      found = clients_.emplace(address, Client{TokenBucket(limits_.requestBurst,
                                                           limits_.requestsPerSecond, now),
                                               TokenBucket(limits_.byteBurst,
                                                           limits_.bytesPerSecond, now),
                                               TokenBucket(limits_.fileBurst,
                                                           limits_.filesPerSecond, now)}).first;
    }
    return found->second;
  }

  void RateLimiter::PruneInternal(int64_t now)
  {
    for (auto it = clients_.begin(); it != clients_.end();)
    {
      if (it->second.requests.IsFull(now) && it->second.bytes.IsFull(now) &&
          it->second.files.IsFull(now))
        it = clients_.erase(it);
      else
        ++it;
    }
    pruneAt_ = std::max<size_t>(1024, 2 * clients_.size());
  }

  bool RateLimiter::TakeRequest(const std::string& address, double& retryAfterSeconds)
  {
    retryAfterSeconds = 0;
    if (limits_.requestsPerSecond <= 0)
    {
      return true;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    return GetClientInternal(address, now).requests.TryTake(1, now, retryAfterSeconds);
  }

  bool RateLimiter::TakeBytes(const std::string& address, uint64_t count,
                              double& retryAfterSeconds)
  {
    retryAfterSeconds = 0;
    if (limits_.bytesPerSecond <= 0)
    {
      return true;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    Client& client = GetClientInternal(address, now);
    // A file larger than the burst would never fit: it is charged as a full burst instead,
    // so the per-file cap, not the rate limit, decides on it.
    const double amount = std::min(double(count), limits_.byteBurst);
    return client.bytes.TryTake(amount, now, retryAfterSeconds);
  }

  bool RateLimiter::TakeFile(const std::string& address, double& retryAfterSeconds)
  {
    retryAfterSeconds = 0;
    if (limits_.filesPerSecond <= 0)
    {
      return true;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    return GetClientInternal(address, now).files.TryTake(1, now, retryAfterSeconds);
  }

  void RateLimiter::ReturnRequest(const std::string& address)
  {
    if (limits_.requestsPerSecond <= 0)
    {
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    GetClientInternal(address, now).requests.Give(1, now);
  }

  size_t RateLimiter::CountTrackedClients()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return clients_.size();
  }
}
