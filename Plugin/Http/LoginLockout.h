// Lockout after repeated wrong passwords: the client address is banned for a while.
#pragma once

#include "Limits/BanList.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <map>
#include <mutex>
#include <string>

namespace Inbound
{
  // Wrong passwords per client address (admins' and pullers' Basic credentials, the login
  // prompt): a client that gives "threshold" wrong passwords within the window is banned for
  // a while, and since bans come before credentials, the right password does not open the
  // door to it either until the ban lapses or an admin lifts it.
  class LoginLockout : public boost::noncopyable
  {
  private:
    struct Failures
    {
      int64_t windowStart = 0;
      unsigned int count = 0;
    };

    BanList& bans_;
    const IClock& clock_;
    unsigned int threshold_;
    int64_t windowMs_;
    int64_t banSeconds_;
    unsigned int ipv6PrefixLength_;
    std::mutex mutex_;
    std::map<std::string, Failures> failures_;

  public:
    // "threshold" 0: no lockout. IPv6 clients count, and are locked out, per network of
    // "ipv6PrefixLength" bits, like every other limit (GetClientKey).
    LoginLockout(BanList& bans, const IClock& clock, unsigned int threshold,
                 unsigned int windowSeconds, unsigned int banSeconds,
                 unsigned int ipv6PrefixLength = 64);

    // One wrong password from "address"; true if this locked the client out.
    bool RecordFailure(const std::string& address);
  };
}
