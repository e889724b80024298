// The ban list: its hash index by prefix length, persistence in the ledger, expiry, auto-bans.
// Over 500 lines: the index, its persistence and the shared ledger's refresh are one list.
#include "BanList.h"

#include <Logging.h>

namespace Inbound
{
  const char* const BanList::kAutomaticPrefix = "automatic: ";

  namespace
  {
    // At most this many expired bans are forgotten per Prune(), to bound the time the
    // exclusive lock is held.
    const size_t kForgetBatch = 10000;

    // The network of a valid entry ("192.0.2.1", "2001:db8::/64") and its prefix length.
    void ParseEntry(boost::asio::ip::address& network, unsigned int& prefix, const std::string& entry)
    {
      AddressRules check({entry});  // throws std::invalid_argument for a bad entry
      const size_t slash = entry.find('/');
      AddressRules::ParseAddress(network, entry.substr(0, slash));
      prefix = (slash == std::string::npos ? (network.is_v4() ? 32 : 128)
                                           : static_cast<unsigned int>(std::stoul(entry.substr(slash + 1))));
    }

    // Family, prefix length and the address masked to it: equal for every address of the block.
    std::string MakeKey(const boost::asio::ip::address& address, unsigned int prefix)
    {
      std::string bytes;
      if (address.is_v4())
      {
        const auto b = address.to_v4().to_bytes();
        bytes.assign(b.begin(), b.end());
      }
      else
      {
        const auto b = address.to_v6().to_bytes();
        bytes.assign(b.begin(), b.end());
      }
      for (size_t i = 0; i < bytes.size(); i++)
      {
        const unsigned int first = static_cast<unsigned int>(i) * 8;
        if (first >= prefix)
        {
          bytes[i] = 0;
        }
        else if (first + 8 > prefix)
        {
          bytes[i] = static_cast<char>(static_cast<unsigned char>(bytes[i]) &
                                       static_cast<unsigned char>(0xff << (8 - (prefix - first))));
        }
      }
      return std::string(1, address.is_v4() ? '4' : '6') + std::string(1, static_cast<char>(prefix)) + bytes;
    }

    bool IsActive(const BanRecord& ban, int64_t now)
    {
      return ban.until == 0 || ban.until > now;
    }

    bool IsSame(const BanRecord& a, const BanRecord& b)
    {
      return a.entry == b.entry && a.until == b.until && a.createdAt == b.createdAt &&
             a.reason == b.reason && a.automatic == b.automatic;
    }
  }

  void BanList::Index::Add(const std::string& key, const std::string& entry)
  {
    std::vector<std::string>& entries = entries_[key];
    entries.push_back(entry);
    prefixes_[std::make_pair(key[0] == '4', static_cast<unsigned char>(key[1]))]++;
  }

  void BanList::Index::Remove(const std::string& key, const std::string& entry)
  {
    auto found = entries_.find(key);
    if (found == entries_.end())
    {
      return;
    }
    std::vector<std::string>& entries = found->second;
    for (auto it = entries.begin(); it != entries.end(); ++it)
    {
      if (*it == entry)
      {
        entries.erase(it);
        const auto prefix = std::make_pair(key[0] == '4', static_cast<unsigned int>(static_cast<unsigned char>(key[1])));
        if (--prefixes_[prefix] == 0)
        {
          prefixes_.erase(prefix);
        }
        break;
      }
    }
    if (entries.empty())
    {
      entries_.erase(found);
    }
  }

  template <typename Match>
  bool BanList::Index::Find(const boost::asio::ip::address& address, Match match) const
  {
    for (const auto& prefix : prefixes_)
    {
      if (prefix.first.first != address.is_v4())
      {
        continue;
      }
      const auto found = entries_.find(MakeKey(address, prefix.first.second));
      if (found != entries_.end())
      {
        for (const std::string& entry : found->second)
        {
          if (match(entry))
          {
            return true;
          }
        }
      }
    }
    return false;
  }

  BanList::BanList(Ledger& ledger, const IClock& clock, const std::vector<std::string>& configured,
                   size_t maxAutomatic) :
    ledger_(ledger),
    clock_(clock),
    maxAutomatic_(maxAutomatic)
  {
    for (const std::string& entry : configured)
    {
      boost::asio::ip::address network;
      unsigned int prefix = 0;
      ParseEntry(network, prefix, entry);  // throws for a bad entry, as before
      configured_.Add(MakeKey(network, prefix), entry);
    }
    const int64_t now = clock_.NowMs();
    std::unique_lock<std::shared_mutex> lock(mutex_);
    for (const BanRecord& ban : ledger_.Bans().List())
    {
      const int64_t pruneAt = (ban.until == 0 ? 0 : ban.until + (ban.automatic ? 0 : kExpiredAdminBanListedMs));
      if (pruneAt != 0 && pruneAt <= now)
      {
        toDelete_.push_back(ban);  // expired while the plugin was down
      }
      else
      {
        HoldInternal(ban);
      }
    }
  }

  void BanList::HoldInternal(const BanRecord& ban)
  {
    Held held;
    try
    {
      boost::asio::ip::address network;
      unsigned int prefix = 0;
      ParseEntry(network, prefix, ban.entry);
      held.key = MakeKey(network, prefix);
    }
    catch (const std::exception&)
    {
      LOG(WARNING) << "Inbound: ignoring bad ban entry " << ban.entry;
      return;
    }
    auto existing = bans_.find(ban.entry);
    if (existing != bans_.end())
    {
      RemoveInternal(existing);
    }
    held.record = ban;
    held.pruneAt = (ban.until == 0 ? 0 : ban.until + (ban.automatic ? 0 : kExpiredAdminBanListedMs));
    held.indexed = IsActive(ban, clock_.NowMs());
    if (held.indexed)
    {
      index_.Add(held.key, ban.entry);
    }
    if (held.pruneAt != 0)
    {
      queue_.insert(std::make_pair(held.pruneAt, ban.entry));
    }
    if (ban.automatic)
    {
      automatic_++;
    }
    bans_[ban.entry] = held;
  }

  void BanList::RemoveInternal(std::map<std::string, Held>::iterator it)
  {
    const Held& held = it->second;
    if (held.indexed)
    {
      index_.Remove(held.key, it->first);
    }
    if (held.pruneAt != 0)
    {
      queue_.erase(std::make_pair(held.pruneAt, it->first));
    }
    if (held.record.automatic)
    {
      automatic_--;
    }
    bans_.erase(it);
  }

  bool BanList::IsBanned(const std::string& address)
  {
    boost::asio::ip::address parsed;
    if (!AddressRules::ParseAddress(parsed, address))
    {
      return false;
    }
    if (configured_.Find(parsed, [](const std::string&) { return true; }))
    {
      return true;
    }
    const int64_t now = clock_.NowMs();
    bool expiredSeen = false;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      if (index_.Find(parsed, [&](const std::string& entry) {
            const auto held = bans_.find(entry);
            if (held == bans_.end())
            {
              return false;
            }
            if (IsActive(held->second.record, now))
            {
              return true;
            }
            expiredSeen = true;
            return false;
          }))
      {
        return true;
      }
    }
    if (expiredSeen)
    {
      // Expired bans of this address leave the lookup at once (they stay listed until Prune).
      std::unique_lock<std::shared_mutex> lock(mutex_);
      std::vector<std::string> expired;
      index_.Find(parsed, [&](const std::string& entry) {
        const auto held = bans_.find(entry);
        if (held != bans_.end() && !IsActive(held->second.record, now))
        {
          expired.push_back(entry);
        }
        return false;
      });
      for (const std::string& entry : expired)
      {
        Held& held = bans_[entry];
        index_.Remove(held.key, entry);
        held.indexed = false;
      }
    }
    return false;
  }

  bool BanList::Ban(const std::string& entry, int64_t seconds, const std::string& reason,
                    bool automatic, const std::string& by)
  {
    AddressRules check({entry});  // throws for a bad entry
    BanRecord ban;
    ban.entry = entry;
    ban.createdAt = clock_.NowMs();
    ban.until = seconds > 0 ? ban.createdAt + seconds * 1000 : 0;
    ban.reason = reason;
    ban.automatic = automatic;
    if (automatic)
    {
      bool alert = false;
      {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        const auto existing = bans_.find(entry);
        if (automatic_ >= maxAutomatic_ &&
            (existing == bans_.end() || !existing->second.record.automatic))
        {
          alert = !capAlerted_;
          capAlerted_ = true;
          if (!alert)
          {
            return false;
          }
        }
      }
      if (alert)
      {
        ledger_.Audit().Add(ban.createdAt, AuditEventType_AlertBanCap, "", entry,
                            std::to_string(maxAutomatic_) +
                                " automatic bans are in force: no "
                                "more are added until some expire (rate limits still apply); "
                                "consider banning the attacking networks by hand");
        return false;
      }
    }
    // The ledger is written outside the lock that every request takes.
    ledger_.Bans().Put(ban, by);
    std::unique_lock<std::shared_mutex> lock(mutex_);
    HoldInternal(ban);
    touched_.insert(entry);
    return true;
  }

  bool BanList::Unban(const std::string& entry, const std::string& by)
  {
    const bool removed = ledger_.Bans().Remove(entry, clock_.NowMs(), by);
    std::unique_lock<std::shared_mutex> lock(mutex_);
    const auto held = bans_.find(entry);
    if (held != bans_.end())
    {
      RemoveInternal(held);
    }
    touched_.insert(entry);
    return removed;
  }

  size_t BanList::Prune()
  {
    const int64_t now = clock_.NowMs();
    std::vector<BanRecord> batch;
    {
      std::unique_lock<std::shared_mutex> lock(mutex_);
      for (size_t i = 0; i < kForgetBatch && !queue_.empty() && queue_.begin()->first <= now; i++)
      {
        const auto held = bans_.find(queue_.begin()->second);
        if (held == bans_.end())
        {
          queue_.erase(queue_.begin());  // cannot happen: the queue follows bans_
          continue;
        }
        toDelete_.push_back(held->second.record);
        RemoveInternal(held);
      }
      if (automatic_ < maxAutomatic_ - maxAutomatic_ / 10)
      {
        capAlerted_ = false;  // the next time the cap is reached is alerted again
      }
      while (!toDelete_.empty() && batch.size() < kPruneBatch)
      {
        batch.push_back(toDelete_.back());
        toDelete_.pop_back();
      }
    }
    try
    {
      return ledger_.Bans().DeleteExpired(batch);
    }
    catch (const std::exception& e)
    {
      LOG(WARNING) << "Inbound: cannot prune expired bans from the ledger, will retry: " << e.what();
    }
    catch (...)
    {
      LOG(WARNING) << "Inbound: cannot prune expired bans from the ledger, will retry";
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    toDelete_.insert(toDelete_.end(), batch.begin(), batch.end());
    return 0;
  }

  size_t BanList::Refresh()
  {
    {
      std::unique_lock<std::shared_mutex> lock(mutex_);
      touched_.clear();
    }
    // Read outside the lock that every request takes.
    const std::vector<BanRecord> stored = ledger_.Bans().List();
    const int64_t now = clock_.NowMs();
    std::unique_lock<std::shared_mutex> lock(mutex_);
    size_t changed = 0;
    std::set<std::string> inLedger;
    for (const BanRecord& ban : stored)
    {
      inLedger.insert(ban.entry);
      const auto held = bans_.find(ban.entry);
      if (touched_.count(ban.entry) > 0 || (held != bans_.end() && IsSame(held->second.record, ban)))
      {
        continue;
      }
      const int64_t pruneAt =
        (ban.until == 0 ? 0 : ban.until + (ban.automatic ? 0 : kExpiredAdminBanListedMs));
      if (pruneAt != 0 && pruneAt <= now)
      {
        continue;  // expired: pruned (here or there), not held again
      }
      HoldInternal(ban);  // new, or renewed, by another Orthanc
      changed++;
    }
    for (auto it = bans_.begin(); it != bans_.end();)
    {
      if (inLedger.count(it->first) == 0 && touched_.count(it->first) == 0)
      {
        // Lifted by another Orthanc (or pruned there).
        const auto gone = it++;
        RemoveInternal(gone);
        changed++;
      }
      else
      {
        ++it;
      }
    }
    return changed;
  }

  size_t BanList::CountHeld()
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return bans_.size();
  }

  size_t BanList::CountIndexed()
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return index_.CountKeys();
  }

  Json::Value BanList::Describe()
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    Json::Value result(Json::arrayValue);
    for (const auto& item : bans_)
    {
      const BanRecord& ban = item.second.record;
      Json::Value json(Json::objectValue);
      json["entry"] = ban.entry;
      json["reason"] = ban.reason;
      json["automatic"] = ban.automatic;
      json["createdAt"] = FormatIso8601(ban.createdAt);
      json["until"] = ban.until == 0 ? Json::Value(Json::nullValue) : Json::Value(FormatIso8601(ban.until));
      json["active"] = IsActive(ban, now);
      result.append(json);
    }
    return result;
  }

  size_t BanList::CountActive()
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    size_t active = 0;
    for (const auto& item : bans_)
    {
      active += IsActive(item.second.record, now) ? 1 : 0;
    }
    return active;
  }

  AutoBan::AutoBan(BanList& bans, const IClock& clock, unsigned int refusalThreshold,
                   unsigned int limitHitThreshold, unsigned int windowSeconds,
                   unsigned int banSeconds) :
    bans_(bans),
    clock_(clock),
    refusalThreshold_(refusalThreshold),
    limitHitThreshold_(limitHitThreshold),
    windowMs_(int64_t(windowSeconds) * 1000),
    banSeconds_(banSeconds)
  {
  }

  bool AutoBan::Record(const std::string& address, Offence offence)
  {
    const unsigned int threshold =
      (offence == Offence_Refusal ? refusalThreshold_ :
       offence == Offence_LimitHit ? limitHitThreshold_ : 0);
    if (threshold == 0 || address.empty())
    {
      return false;
    }
    const int64_t now = clock_.NowMs();
    std::string reason;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (counts_.size() > 100000)
      {
        counts_.clear();  // bounded: addresses come from the TCP peer or the trusted proxy
      }
      Counts& counts = counts_[address];
      if (now - counts.windowStart > windowMs_)
      {
        counts = Counts();
        counts.windowStart = now;
      }
      unsigned int& count = (offence == Offence_Refusal ? counts.refusals : counts.limitHits);
      if (++count < threshold)
      {
        return false;
      }
      counts_.erase(address);
      reason = std::string(BanList::kAutomaticPrefix) + std::to_string(threshold) +
               (offence == Offence_Refusal ? " refusals" : " rate-limit hits") + " within " +
               std::to_string(windowMs_ / 1000) + " s";
    }
    if (!bans_.Ban(address, banSeconds_, reason, true, ""))
    {
      return false;  // over the cap of automatic bans: alerted
    }
    LOG(WARNING) << "Inbound: " << address << " banned for " << banSeconds_ << " s (" << reason << ")";
    return true;
  }
}
