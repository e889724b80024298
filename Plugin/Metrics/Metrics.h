// The Prometheus gauges of the plugin: a typed snapshot of the figures and the names they are published under.
#pragma once

#include "Ledger/Records.h"
#include "Limits/LimitsGuard.h"
#include "Peering/Puller.h"
#include "Scan/MalwareScan.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace Inbound
{
  // One partner site's figures (Partners/PartnerStatus.h), published with a "partner" label.
  struct PartnerMetricsSnapshot
  {
    std::string id;              // [a-z0-9-]: safe inside a label value
    int64_t lastContactAt = 0;   // ms; 0: never
    bool silent = false;
    uint64_t requestsToday = 0;
    uint64_t instancesToday = 0;
    uint64_t bytesToday = 0;
    uint64_t failuresToday = 0;
  };

  // One reconciliation source's rounds since start (Reconcile/SourceHealth.h), published with
  // "source" and "query" labels (one modality may be asked both queries).
  struct ReconciliationSourceMetrics
  {
    std::string source;         // "local" or the DicomModalities name (escaped when published)
    std::string query;          // "Local", "Patient", "Worklist"
    int up = -1;                // 1: last round answered; 0: timeout/failed/unavailable; -1: never
    int64_t lastRoundAt = 0;    // ms; 0: never asked
    uint64_t failures = 0;      // rounds it did not answer
    int64_t lastElapsedMs = -1; // -1: never asked
  };

  // Everything the gauges report, read once per refresh of Orthanc's metrics. Each part comes
  // from the component that owns it as a typed value, never from a JSON answer of the admin
  // API, so that renaming a field of an admin page cannot silently change a gauge.
  struct MetricsSnapshot
  {
    int64_t now = 0;                                    // ms since the epoch
    std::map<UploadState, int64_t> uploadsByState;      // absent: 0
    LimitsSnapshot limits;
    std::map<std::string, int64_t> notificationsByState;
    int64_t metadataOwed = -1;  // stored files whose Orthanc metadata are not written yet;
                                // -1 where nothing is stored in Orthanc (a Gateway)
    bool forwards = false;                              // only where studies are forwarded
    std::map<std::string, int64_t> forwardsByState;
    std::vector<GatewaySnapshot> gateways;
    int sealing = -1;  // a gateway: 1 sealing its uploads, 0 plain text; -1 other roles
    MalwareScanSnapshot scan;                           // all 0 when scanning is off
    std::vector<PartnerMetricsSnapshot> partners;       // Inbound.Partners, in its order
    bool reconciliation = false;                        // Standalone, Internal (the finder exists)
    uint64_t reconciliationRounds = 0;
    std::vector<ReconciliationSourceMetrics> reconciliationSources;
  };

  typedef std::pair<std::string, double> Metric;

  // The gauges, named as doc/Operations.md lists them ("inbound_uploads_open", ...).
  std::vector<Metric> ToMetrics(const MetricsSnapshot& snapshot);
}
