// Records the reconciliation sources' last round, failures and time for the metrics.
#include "Reconcile/SourceHealth.h"

namespace Inbound
{
  SourceHealth::SourceHealth(const ReconciliationSettings& settings)
  {
    if (settings.local)
    {
      ReconciliationSourceMetrics local;
      local.source = "local";
      local.query = "Local";
      sources_.push_back(local);
    }
    for (const ReconciliationSource& configured : settings.sources)
    {
      ReconciliationSourceMetrics source;
      source.source = configured.modality;
      source.query = EnumerationToString(configured.query);
      sources_.push_back(source);
    }
  }

  void SourceHealth::Record(const std::vector<SourceOutcome>& outcomes, int64_t now)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rounds_++;
    for (const SourceOutcome& outcome : outcomes)
    {
      if (outcome.status == SourceStatus_Busy)
      {
        continue;
      }
      for (ReconciliationSourceMetrics& source : sources_)
      {
        if (source.source == outcome.source && source.query == outcome.query)
        {
          const bool answered = outcome.status == SourceStatus_Answered;
          source.up = answered ? 1 : 0;
          source.failures += answered ? 0 : 1;
          source.lastRoundAt = now;
          source.lastElapsedMs = outcome.elapsedMs;
        }
      }
    }
  }

  std::vector<ReconciliationSourceMetrics> SourceHealth::GetMetrics(uint64_t& rounds) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rounds = rounds_;
    return sources_;
  }
} // namespace Inbound
