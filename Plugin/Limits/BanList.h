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
    BanList(Ledger& ledger, const IClock& clock, const std::vector<std::string>& configured);

    bool IsBanned(const std::string& address);

    // "seconds" 0: until lifted. Throws std::invalid_argument for a bad entry.
    void Ban(const std::string& entry, int64_t seconds, const std::string& reason, bool automatic,
             const std::string& by);

    // False if the entry was not banned (configured entries cannot be lifted here).
    bool Unban(const std::string& entry, const std::string& by);

    Json::Value Describe();
  };

  // Counts refusals per client in a sliding window and bans a client that keeps being
  // refused (floods, scanners, garbage senders) for a while.
  class AutoBan : public boost::noncopyable
  {
  private:
    BanList& bans_;
    const IClock& clock_;
    unsigned int threshold_;
    int64_t windowMs_;
    int64_t banSeconds_;
    std::mutex mutex_;
    std::map<std::string, std::pair<int64_t, unsigned int>> counts_;  // window start, count

  public:
    AutoBan(BanList& bans, const IClock& clock, unsigned int threshold, unsigned int windowSeconds,
            unsigned int banSeconds);

    // True if this refusal got the client banned.
    bool RecordRefusal(const std::string& address);
  };
}
