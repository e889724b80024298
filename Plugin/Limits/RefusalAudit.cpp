// Collects refusals into counted audit entries, writes them each second, prunes old entries.
#include "RefusalAudit.h"

#include "Upload/TextRules.h"

#include <vector>

namespace Inbound
{
  namespace
  {
    const size_t kMaxWhat = 200;
    const int64_t kPruneIntervalMs = 10 * 1000;
  }

  const char* const RefusalAudit::kOverflowCode = "further-clients";

  RefusalAudit::RefusalAudit(Ledger& ledger, const IClock& clock, unsigned int intervalSeconds,
                             size_t maxClients) :
    ledger_(ledger),
    clock_(clock),
    intervalMs_(int64_t(intervalSeconds) * 1000),
    maxClients_(maxClients)
  {
  }

  std::string RefusalAudit::FormatDetail(const Key& key, const Entry& entry)
  {
    // "STATUS CODE: WHAT", as a single refusal always was; the count last, where no "what"
    // can put a forged one after it.
    std::string detail = key.second == kOverflowCode ?
      std::string("refusals of further clients, not itemized") :
      std::to_string(entry.status) + " " + key.second + ": " + entry.what;
    if (entry.count > 1 || key.second == kOverflowCode)
    {
      detail += " [" + std::to_string(entry.count) + " refusals]";
    }
    return detail;
  }

  void RefusalAudit::Record(const std::string& client, int status, const std::string& code,
                            const std::string& what)
  {
    const int64_t now = clock_.NowMs();
    std::lock_guard<std::mutex> lock(mutex_);
    Key key(client, code);
    auto found = entries_.find(key);
    if (found == entries_.end() && entries_.size() >= maxClients_)
    {
      key = Key("", kOverflowCode);
      found = entries_.find(key);
    }
    if (found != entries_.end())
    {
      Entry& entry = found->second;
      // An interval that is over starts anew once its entry is written with its last count;
      // until then (a second at most) the refusal still counts in the old one.
      if (now - entry.start < intervalMs_ || entry.seq == 0 || entry.written != entry.count)
      {
        entry.count++;
        return;
      }
      entries_.erase(found);
    }
    Entry& entry = entries_[key];
    entry.start = now;
    entry.status = status;
    entry.what = TextRules::MakeSafe(what, kMaxWhat);
    entry.count = 1;
  }

  void RefusalAudit::Flush()
  {
    std::lock_guard<std::mutex> flushLock(flushMutex_);
    const int64_t now = clock_.NowMs();
    std::vector<AuditEvent> events;
    std::vector<std::pair<Key, size_t>> added;  // the new events: key, index in "events"
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end();)
      {
        Entry& entry = it->second;
        if (entry.seq != 0 && entry.written == entry.count)
        {
          if (now - entry.start >= intervalMs_)
          {
            it = entries_.erase(it);  // over and written
            continue;
          }
        }
        else
        {
          AuditEvent event;
          event.seq = entry.seq;
          event.time = entry.start;
          event.event = EnumerationToString(AuditEventType_Refused);
          event.ip = it->first.first;
          event.detail = FormatDetail(it->first, entry);
          entry.written = entry.count;
          if (entry.seq == 0)
          {
            added.push_back(std::make_pair(it->first, events.size()));
          }
          events.push_back(event);
        }
        ++it;
      }
    }
    if (events.empty())
    {
      return;
    }
    // On failure the new entries keep no seq, and are added at the next Flush().
    ledger_.Audit().WriteRefusals(events);
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& item : added)
    {
      // Record() never removes an entry without seq: a new one is still there.
      auto found = entries_.find(item.first);
      if (found != entries_.end() && found->second.seq == 0)
      {
        found->second.seq = events[item.second].seq;
      }
    }
  }

  size_t RefusalAudit::CountOpenEntries()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
  }

  AuditPruner::AuditPruner(Ledger& ledger, const IClock& clock, unsigned int retentionDays,
                           unsigned int batch) :
    ledger_(ledger),
    clock_(clock),
    retentionMs_(int64_t(retentionDays) * 86400 * 1000),
    batch_(batch)
  {
  }

  int64_t AuditPruner::Run()
  {
    const int64_t now = clock_.NowMs();
    if (retentionMs_ == 0 || now < next_)
    {
      return 0;
    }
    const int64_t deleted = ledger_.Audit().Prune(now - retentionMs_, batch_);
    pruned_ += deleted;
    if (deleted < int64_t(batch_))
    {
      next_ = now + kPruneIntervalMs;  // caught up
    }
    return deleted;
  }
}
