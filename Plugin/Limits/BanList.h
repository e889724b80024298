// Banned addresses and blocks (configured, by an admin, automatic), looked up on every request.
#pragma once

#include "Http/AddressRules.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <json/value.h>

#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace Inbound
{
  // Addresses and CIDR blocks refused before anything else: the configured ones (permanent)
  // and the ones banned by an admin or automatically (persisted in the ledger, so a restart
  // does not lift them). Checked by the access filter on every request: every entry is held
  // under a hash key (its family, prefix length and masked network), so that a lookup costs
  // one hash probe per prefix length in use (typically 2 or 3), whatever the number of bans.
  // Expired bans leave the lookup at once; Prune() drops them from memory and the ledger.
  class BanList : public boost::noncopyable
  {
  private:
    struct Held
    {
      BanRecord record;
      std::string key;
      int64_t pruneAt = 0;  // 0: never (permanent)
      bool indexed = false;
    };

    // Entries by hash key, and how many entries use each (family, prefix length).
    class Index
    {
    private:
      std::unordered_map<std::string, std::vector<std::string> > entries_;
      std::map<std::pair<bool, unsigned int>, size_t> prefixes_;  // (IPv4?, prefix length)

    public:
      void Add(const std::string& key, const std::string& entry);
      void Remove(const std::string& key, const std::string& entry);
      size_t CountKeys() const
      {
        return entries_.size();
      }
      // Calls "match" with each entry whose network contains "address" until it returns true.
      template <typename Match>
      bool Find(const boost::asio::ip::address& address, Match match) const;
    };

    Ledger& ledger_;
    const IClock& clock_;
    const size_t maxAutomatic_;
    Index configured_;
    std::shared_mutex mutex_;
    std::map<std::string, Held> bans_;                    // by entry (listed in this order)
    Index index_;                                         // the bans not yet seen expired
    std::set<std::pair<int64_t, std::string> > queue_;    // (pruneAt, entry)
    std::vector<BanRecord> toDelete_;                     // pruned, still in the ledger
    size_t automatic_ = 0;
    bool capAlerted_ = false;
    // Entries banned or lifted here since the last Refresh() began: what it read of them
    // may be older than what this process just wrote.
    std::set<std::string> touched_;

    // Under the exclusive lock.
    void HoldInternal(const BanRecord& ban);
    void RemoveInternal(std::map<std::string, Held>::iterator it);

  public:
    // How the reason of an automatic ban starts (in the ledger and audit trail).
    static const char* const kAutomaticPrefix;

    // At most this many automatic bans at once (Inbound.AutoBan): a flood from a large IPv6
    // network cannot grow the list without bound; beyond it, no new automatic ban is added
    // (rate limits still hold) and an "alert-ban-cap" is audited once.
    static constexpr size_t kMaxAutomaticBans = 100000;

    // How long an expired ban of an admin stays listed (as inactive) before it is pruned; an
    // automatic one is pruned at the next Prune().
    static constexpr int64_t kExpiredAdminBanListedMs = int64_t(24) * 3600 * 1000;

    // At most this many rows are deleted from the ledger per Prune().
    static constexpr size_t kPruneBatch = 500;

    BanList(Ledger& ledger, const IClock& clock, const std::vector<std::string>& configured,
            size_t maxAutomatic = kMaxAutomaticBans);

    bool IsBanned(const std::string& address);

    // "seconds" 0: until lifted. Throws std::invalid_argument for a bad entry. False if an
    // automatic ban was not added because of the cap.
    bool Ban(const std::string& entry, int64_t seconds, const std::string& reason, bool automatic,
             const std::string& by);

    // False if the entry was not banned (configured entries cannot be lifted here).
    bool Unban(const std::string& entry, const std::string& by);

    // Background work: forgets the expired bans that are due and deletes up to kPruneBatch of
    // them from the ledger. Returns the number of ledger rows deleted.
    size_t Prune();

    // Reads the ledger's bans again: the bans and lifts of the other Orthancs of the ledger
    // (an admin's, AutoBan's) take effect here. Run every few seconds when the ledger is
    // shared (PluginContext: at most 5 s). Returns how many entries changed here.
    size_t Refresh();

    // The held bans (active, and expired ones not yet pruned).
    size_t CountHeld();

    // The keys in the lookup index (the bans not yet seen expired).
    size_t CountIndexed();

    Json::Value Describe();

    // The bans that refuse requests now (Describe() lists inactive ones too).
    size_t CountActive();
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
