// Counts wrong passwords per client within a window and bans the client past the threshold.
#include "LoginLockout.h"

#include "Limits/ClientKey.h"

#include <Logging.h>

namespace Inbound
{
  LoginLockout::LoginLockout(BanList& bans, const IClock& clock, unsigned int threshold,
                             unsigned int windowSeconds, unsigned int banSeconds,
                             unsigned int ipv6PrefixLength) :
    bans_(bans),
    clock_(clock),
    threshold_(threshold),
    windowMs_(int64_t(windowSeconds) * 1000),
    banSeconds_(banSeconds),
    ipv6PrefixLength_(ipv6PrefixLength)
  {
  }

  bool LoginLockout::RecordFailure(const std::string& clientAddress)
  {
    if (threshold_ == 0 || clientAddress.empty())
    {
      return false;
    }
    const std::string address = GetClientKey(clientAddress, ipv6PrefixLength_);
    const int64_t now = clock_.NowMs();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failures_.size() > 100000)
      {
        failures_.clear();  // bounded: addresses come from the TCP peer or a trusted proxy
      }
      Failures& failures = failures_[address];
      if (failures.count == 0 || now - failures.windowStart > windowMs_)
      {
        failures = Failures();
        failures.windowStart = now;
      }
      if (++failures.count < threshold_)
      {
        return false;
      }
      failures_.erase(address);
    }
    const std::string reason = std::string(BanList::kAutomaticPrefix) +
                               std::to_string(threshold_) + " failed logins within " +
                               std::to_string(windowMs_ / 1000) + " s";
    if (!bans_.Ban(address, banSeconds_, reason, true, ""))
    {
      return false;  // over the cap of automatic bans: alerted
    }
    LOG(WARNING) << "Inbound: " << address << " locked out for " << banSeconds_ << " s ("
                 << reason << ")";
    return true;
  }
}
