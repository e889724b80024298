// Refusals audited once per client, code and interval with a count; the audit trail's pruning.
#pragma once

#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace Inbound
{
  // The audit entries of refusals, one per client, code and interval: a flood or a banned
  // client hammering the site leaves a handful of entries with a count, not one per request
  // (an anonymous client must not be able to fill the disk through the audit trail).
  //
  // The first refusal of a client with a code is written at the next Flush() (about a
  // second), with the request it refused ("what"); later ones in the same interval only
  // raise the count that the same entry shows, "... [N refusals]". Clients beyond
  // "maxClients" in one interval share one entry.
  //
  // Record() runs on the HTTP threads, Flush() on the background thread.
  class RefusalAudit : public boost::noncopyable
  {
  private:
    struct Entry
    {
      int64_t start = 0;     // the first refusal of the interval
      int64_t seq = 0;       // its audit entry, once written
      uint64_t count = 0;
      uint64_t written = 0;  // the count the audit entry shows
      int status = 0;
      std::string what;      // of the first refusal
    };

    typedef std::pair<std::string, std::string> Key;  // client, code

    Ledger& ledger_;
    const IClock& clock_;
    const int64_t intervalMs_;
    const size_t maxClients_;
    std::mutex flushMutex_;  // one Flush() at a time
    std::mutex mutex_;       // guards entries_
    std::map<Key, Entry> entries_;

    static std::string FormatDetail(const Key& key, const Entry& entry);

  public:
    // The entry shared by the clients beyond "maxClients" within an interval.
    static const char* const kOverflowCode;

    RefusalAudit(Ledger& ledger, const IClock& clock, unsigned int intervalSeconds,
                 size_t maxClients = 10000);

    // "client": the client's key (see GetClientKey). "what": the request refused.
    void Record(const std::string& client, int status, const std::string& code,
                const std::string& what);

    // Writes new entries and new counts; forgets the intervals that are over and written.
    void Flush();

    size_t CountOpenEntries();
  };

  // Deletes audit entries older than the retention, a small batch at a time, so that the
  // ledger's lock is never held long: while there is a backlog on every call (once a second
  // from the background thread), then every 10 seconds.
  class AuditPruner : public boost::noncopyable
  {
  private:
    Ledger& ledger_;
    const IClock& clock_;
    const int64_t retentionMs_;
    const unsigned int batch_;
    int64_t next_ = 0;               // Run() is called from one thread at a time
    std::atomic<int64_t> pruned_{0};  // read by Describe() on the HTTP threads

  public:
    // "retentionDays" 0: nothing is ever deleted.
    AuditPruner(Ledger& ledger, const IClock& clock, unsigned int retentionDays,
                unsigned int batch = 500);

    // Returns how many entries were deleted now.
    int64_t Run();

    int64_t GetPruned() const
    {
      return pruned_.load();
    }
  };
}
