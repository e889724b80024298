#pragma once

#include "Http/AddressRules.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <json/value.h>

#include <map>
#include <mutex>
#include <string>

namespace Inbound
{
  // Addresses and CIDR blocks refused before anything else: the configured ones (permanent)
  // and the ones banned by an admin or automatically (persisted in the ledger, so a restart
  // does not lift them). Checked by the access filter on every request, hence the cache.
  class BanList : public boost::noncopyable
  {
  private:
    Ledger& ledger_;
    const IClock& clock_;
    AddressRules configured_;
    std::mutex mutex_;
    std::map<std::string, BanRecord> bans_;  // by entry
    std::map<std::string, AddressRules> rules_;

    void ReloadInternal();

  public:
    // How the reason of an automatic ban starts (in the ledger and audit trail).
    static const char* const kAutomaticPrefix;

    BanList(Ledger& ledger, const IClock& clock, const std::vector<std::string>& configured);

    bool IsBanned(const std::string& address);

    // "seconds" 0: until lifted. Throws std::invalid_argument for a bad entry.
    void Ban(const std::string& entry, int64_t seconds, const std::string& reason, bool automatic,
             const std::string& by);

    // False if the entry was not banned (configured entries cannot be lifted here).
    bool Unban(const std::string& entry, const std::string& by);

    Json::Value Describe();
  };

  enum Offence
  {
    Offence_None,      // an ordinary refusal of a legitimate sender
    Offence_Refusal,   // garbage, guessing, scanning
    Offence_LimitHit   // over a rate limit: a paced browser meets a few, a flood thousands
  };

  // Counts offences per client in a window and bans a client that keeps offending (floods,
  // scanners, garbage senders, password guessers) for a while. Rate-limit hits have their
  // own, much higher threshold, so that a browser that honours Retry-After is never banned.
  class AutoBan : public boost::noncopyable
  {
  private:
    struct Counts
    {
      int64_t windowStart = 0;
      unsigned int refusals = 0;
      unsigned int limitHits = 0;
    };

    BanList& bans_;
    const IClock& clock_;
    unsigned int refusalThreshold_;
    unsigned int limitHitThreshold_;
    int64_t windowMs_;
    int64_t banSeconds_;
    std::mutex mutex_;
    std::map<std::string, Counts> counts_;

  public:
    AutoBan(BanList& bans, const IClock& clock, unsigned int refusalThreshold,
            unsigned int limitHitThreshold, unsigned int windowSeconds, unsigned int banSeconds);

    // True if this offence got the client banned.
    bool Record(const std::string& address, Offence offence);
  };
}
