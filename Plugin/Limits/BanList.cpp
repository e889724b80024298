#include "BanList.h"

#include <Logging.h>

namespace Inbound
{
  const char* const BanList::kAutomaticPrefix = "automatic: ";

  BanList::BanList(Ledger& ledger, const IClock& clock, const std::vector<std::string>& configured) :
    ledger_(ledger),
    clock_(clock),
    configured_(configured)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ReloadInternal();
  }

  void BanList::ReloadInternal()
  {
    bans_.clear();
    rules_.clear();
    for (const BanRecord& ban : ledger_.ListBans())
    {
      bans_[ban.entry] = ban;
      try
      {
        rules_[ban.entry] = AddressRules({ban.entry});
      }
      catch (const std::invalid_argument&)
      {
        LOG(WARNING) << "Inbound: ignoring bad ban entry " << ban.entry;
      }
    }
  }

  bool BanList::IsBanned(const std::string& address)
  {
    if (configured_.Contains(address))
    {
      return true;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (bans_.empty())
    {
      return false;
    }
    const int64_t now = clock_.NowMs();
    for (const auto& rule : rules_)
    {
      const BanRecord& ban = bans_[rule.first];
      if ((ban.until == 0 || ban.until > now) && rule.second.Contains(address))
      {
        return true;
      }
    }
    return false;
  }

  void BanList::Ban(const std::string& entry, int64_t seconds, const std::string& reason,
                    bool automatic, const std::string& by)
  {
    AddressRules check({entry});  // throws for a bad entry
    BanRecord ban;
    ban.entry = entry;
    ban.createdAt = clock_.NowMs();
    ban.until = seconds > 0 ? ban.createdAt + seconds * 1000 : 0;
    ban.reason = reason;
    ban.automatic = automatic;
    std::lock_guard<std::mutex> lock(mutex_);
    ledger_.PutBan(ban, by);
    ReloadInternal();
  }

  bool BanList::Unban(const std::string& entry, const std::string& by)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool removed = ledger_.RemoveBan(entry, clock_.NowMs(), by);
    ReloadInternal();
    return removed;
  }

  Json::Value BanList::Describe()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t now = clock_.NowMs();
    Json::Value result(Json::arrayValue);
    for (const auto& item : bans_)
    {
      const BanRecord& ban = item.second;
      Json::Value json(Json::objectValue);
      json["entry"] = ban.entry;
      json["reason"] = ban.reason;
      json["automatic"] = ban.automatic;
      json["createdAt"] = FormatIso8601(ban.createdAt);
      json["until"] = ban.until == 0 ? Json::Value(Json::nullValue) : Json::Value(FormatIso8601(ban.until));
      json["active"] = (ban.until == 0 || ban.until > now);
      result.append(json);
    }
    return result;
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
    bans_.Ban(address, banSeconds_, reason, true, "");
    LOG(WARNING) << "Inbound: " << address << " banned for " << banSeconds_ << " s (" << reason << ")";
    return true;
  }
}
