// Whether each reconciliation source answered its last round, for the Prometheus gauges.
#pragma once

#include "Configuration.h"
#include "Metrics/Metrics.h"
#include "Reconcile/Candidates.h"

#include <mutex>
#include <vector>

namespace Inbound
{
  // The configured sources ("local", then Inbound.Reconciliation.Sources, in their order) and
  // what their rounds gave since Orthanc started (doc/Operations.md, "Metrics"). The finder
  // records each round's outcomes on the thread that ran the round; the metrics thread reads.
  class SourceHealth
  {
  private:
    mutable std::mutex mutex_; // guards the two members below; innermost
    uint64_t rounds_ = 0;
    std::vector<ReconciliationSourceMetrics> sources_;

  public:
    explicit SourceHealth(const ReconciliationSettings& settings);

    // One round's outcomes at `now` (ms). A "busy" source was not asked: its figures stay as
    // they are. Outcomes of sources that are not configured ("request") are ignored.
    void Record(const std::vector<SourceOutcome>& outcomes, int64_t now);

    std::vector<ReconciliationSourceMetrics> GetMetrics(uint64_t& rounds) const;
  };
} // namespace Inbound
