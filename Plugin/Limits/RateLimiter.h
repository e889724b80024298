// Per-client rate limits on requests and bytes, with token buckets in an expiring map.
#pragma once

#include "Limits/TokenBucket.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <map>
#include <mutex>
#include <string>

namespace Inbound
{
  struct RateLimits
  {
    double requestsPerSecond = 0;  // 0: no limit
    double requestBurst = 0;
    double bytesPerSecond = 0;     // 0: no limit
    double byteBurst = 0;
    double filesPerSecond = 0;     // files and parts of open uploads; 0: no limit
    double fileBurst = 0;
  };

  // Per-client token buckets for requests and bytes, in an expiring map: a client whose
  // buckets are full again is forgotten, so memory follows the clients active right now.
  class RateLimiter : public boost::noncopyable
  {
  private:
    struct Client
    {
      TokenBucket requests;
      TokenBucket bytes;
      TokenBucket files;
    };

    RateLimits limits_;
    const IClock& clock_;
    std::mutex mutex_;
    std::map<std::string, Client> clients_;
    size_t pruneAt_ = 1024;

    Client& GetClientInternal(const std::string& address, int64_t now);
    void PruneInternal(int64_t now);

  public:
    RateLimiter(const RateLimits& limits, const IClock& clock);

    // One request; false (and the seconds to wait) when over the limit.
    bool TakeRequest(const std::string& address, double& retryAfterSeconds);

    // "count" bytes of a file body; false when over the limit.
    bool TakeBytes(const std::string& address, uint64_t count, double& retryAfterSeconds);

    // One file or part of an open upload; false (and the seconds to wait) when over the limit.
    bool TakeFile(const std::string& address, double& retryAfterSeconds);

    // Gives back the request that TakeRequest took for a call that turned out to be a file of
    // an open upload (paced by TakeFile instead).
    void ReturnRequest(const std::string& address);

    size_t CountTrackedClients();
  };
}
