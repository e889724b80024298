// Asks every source for candidates in parallel within a deadline; scores; caches per upload.
#pragma once

#include "Configuration.h"
#include "Forward/IOrthancRest.h"
#include "Ledger/Ledger.h"
#include "Reconcile/ICandidateFinder.h"
#include "Reconcile/SourceHealth.h"
#include "Toolbox/Time.h"

#include <boost/noncopyable.hpp>

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace Inbound
{
  // The reconciliation assistant's search (doc/Reconciliation.md, "Candidates"). One round
  // reads the upload's patients as sent (SentPatients), then asks this Orthanc ("local"), the
  // request link's patient ("request") and every Inbound.Reconciliation.Sources entry, each
  // source on a thread of its own, and answers within TimeoutSeconds + 1 s whatever the
  // sources do: a source still running then is "timeout" and its thread ends in the
  // background, holding only its own shared state (never the caller's). At most `maxThreads`
  // source threads run at once in the process (one finder per plugin); a source beyond them
  // is "busy", not asked. Threads: Find runs on an HTTP thread (or the forwarder's); the
  // source threads call only IOrthancRest, never the ledger.
  class CandidateFinder : public ICandidateFinder, public boost::noncopyable
  {
  public:
    struct Task; // one source of one round, shared by the round and its thread

  private:
    struct Worker
    {
      std::shared_ptr<Task> task;
      std::thread thread;
    };

    struct CacheEntry
    {
      Reconciliation result;
      int64_t storedAt = 0; // IClock ms
    };

    const Configuration& configuration_;
    const ReconciliationSettings& settings_;
    Ledger& ledger_;
    IOrthancRest& orthanc_;
    const IClock& clock_;
    const size_t maxThreads_;
    const size_t maxCachedUploads_;
    std::atomic<bool> stopping_;
    SourceHealth health_;       // each source's last round, for the metrics (own lock)

    std::mutex mutex_;          // guards every member below
    std::list<Worker> workers_; // started source threads, joined once finished
    size_t running_ = 0;        // source threads not finished yet
    std::map<std::string, CacheEntry> cache_;
    std::list<std::string> recent_; // upload ids of cache_, most recently used first

    // Starts the task's thread; false (nothing started) when maxThreads_ are running.
    bool Start(const std::shared_ptr<Task>& task);

    void Run(Task& task);

    void ReapFinished();

    void Remember(const Reconciliation& result);

  public:
    CandidateFinder(const Configuration& configuration, Ledger& ledger, IOrthancRest& orthanc,
                    const IClock& clock, size_t maxThreads = 8, size_t maxCachedUploads = 64);

    // Waits for the source threads still running (each ends with its C-FIND's Timeout).
    ~CandidateFinder() override;

    // Orthanc is stopping (OrthancStopped, its core still serving the source threads' calls):
    // no source thread starts any more, no query begins, and the threads still running are
    // waited for. Later, the core is torn down under a thread still inside it (a C-FIND that
    // outlived its round): Orthanc aborted. Idempotent.
    void Stop();

    Reconciliation Find(const std::string& uploadId, bool fresh) override;

    bool GetCached(Reconciliation& result, const std::string& uploadId) override;

    // Source threads not finished yet (those of earlier rounds included).
    size_t CountRunning();

    // Each configured source's rounds since start, and how many rounds asked the sources.
    std::vector<ReconciliationSourceMetrics> GetSourceMetrics(uint64_t& rounds) const
    {
      return health_.GetMetrics(rounds);
    }
  };
} // namespace Inbound
