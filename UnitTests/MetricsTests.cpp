// The Prometheus gauges: names and values from a typed snapshot.
#include "Metrics/Metrics.h"

#include <gtest/gtest.h>

#include <map>

using namespace Inbound;

namespace
{
  std::map<std::string, double> ToMap(const std::vector<Metric>& metrics)
  {
    std::map<std::string, double> result;
    for (const Metric& metric : metrics)
    {
      EXPECT_TRUE(result.emplace(metric.first, metric.second).second) << "twice: " << metric.first;
    }
    return result;
  }
}

TEST(Metrics, EveryGaugeComesFromItsTypedField)
{
  MetricsSnapshot snapshot;
  snapshot.now = 1770000100000;
  snapshot.uploadsByState[UploadState_Open] = 3;
  snapshot.uploadsByState[UploadState_Delivered] = 7;
  snapshot.limits.bytesReceivedToday = 123456789;
  snapshot.limits.uploadsOpenedToday = 12;
  snapshot.limits.bytesInFlight = 4096;
  snapshot.limits.refusals = 41;
  snapshot.limits.activeBans = 2;
  snapshot.limits.dataMonitorState = 1;
  snapshot.notificationsByState = {{"pending", 1}, {"delivered", 5}, {"failed", 0}};
  GatewaySnapshot gateway;
  gateway.name = "dmz-1.example";
  gateway.lastContact = 1770000090000;
  gateway.backlog = 4;
  gateway.failures = 2;
  gateway.delivered = 9;
  gateway.held = 1;
  snapshot.gateways.push_back(gateway);
  GatewaySnapshot silent;
  silent.name = "b";
  snapshot.gateways.push_back(silent);

  const std::map<std::string, double> metrics = ToMap(ToMetrics(snapshot));
  EXPECT_EQ(3, metrics.at("inbound_uploads_open"));
  EXPECT_EQ(0, metrics.at("inbound_uploads_complete"));
  EXPECT_EQ(7, metrics.at("inbound_uploads_delivered"));
  EXPECT_EQ(0, metrics.at("inbound_uploads_cancelled"));
  EXPECT_EQ(0, metrics.at("inbound_uploads_expired"));
  EXPECT_EQ(0, metrics.at("inbound_uploads_deleted"));
  EXPECT_EQ(123456789, metrics.at("inbound_bytes_received_today"));
  EXPECT_EQ(12, metrics.at("inbound_uploads_opened_today"));
  EXPECT_EQ(4096, metrics.at("inbound_bytes_in_flight"));
  EXPECT_EQ(41, metrics.at("inbound_refusals_total"));
  EXPECT_EQ(2, metrics.at("inbound_bans_active"));
  EXPECT_EQ(1, metrics.at("inbound_data_monitor_state"));
  EXPECT_EQ(1, metrics.at("inbound_notifications_pending"));
  EXPECT_EQ(5, metrics.at("inbound_notifications_delivered"));
  EXPECT_EQ(0, metrics.at("inbound_notifications_failed"));
  EXPECT_EQ(0u, metrics.count("inbound_forwards_pending"));  // a gateway forwards nothing
  EXPECT_EQ(0u, metrics.count("inbound_metadata_owed"));     // nor stores into Orthanc
  EXPECT_EQ(4, metrics.at("inbound_gateway_dmz_1_example_backlog"));
  EXPECT_EQ(2, metrics.at("inbound_gateway_dmz_1_example_failures"));
  EXPECT_EQ(9, metrics.at("inbound_gateway_dmz_1_example_delivered"));
  EXPECT_EQ(1, metrics.at("inbound_gateway_dmz_1_example_held"));
  EXPECT_DOUBLE_EQ(10.0, metrics.at("inbound_gateway_dmz_1_example_seconds_since_contact"));
  EXPECT_EQ(-1, metrics.at("inbound_gateway_b_seconds_since_contact"));
  EXPECT_EQ(0, metrics.at("inbound_scan_enabled"));  // scanning off: shown as such
  EXPECT_EQ(0, metrics.at("inbound_scan_files_total"));
}

TEST(Metrics, TheMalwareScannerIsCounted)
{
  MetricsSnapshot snapshot;
  snapshot.scan.enabled = true;
  snapshot.scan.ready = true;
  snapshot.scan.scanned = 12;
  snapshot.scan.infected = 2;
  snapshot.scan.unavailable = 3;
  const std::map<std::string, double> metrics = ToMap(ToMetrics(snapshot));
  EXPECT_EQ(1, metrics.at("inbound_scan_enabled"));
  EXPECT_EQ(1, metrics.at("inbound_scan_ready"));
  EXPECT_EQ(12, metrics.at("inbound_scan_files_total"));
  EXPECT_EQ(2, metrics.at("inbound_scan_malware_total"));
  EXPECT_EQ(3, metrics.at("inbound_scan_unavailable_total"));
}

TEST(Metrics, ForwardsAppearWhereStudiesAreForwarded)
{
  MetricsSnapshot snapshot;
  snapshot.forwards = true;
  snapshot.forwardsByState = {{"pending", 2}, {"done", 8}};
  const std::map<std::string, double> metrics = ToMap(ToMetrics(snapshot));
  EXPECT_EQ(2, metrics.at("inbound_forwards_pending"));
  EXPECT_EQ(8, metrics.at("inbound_forwards_done"));
  EXPECT_EQ(0u, metrics.count("inbound_gateway__backlog"));
}

TEST(Metrics, MetadataOwedAppearWhereOrthancStoresTheFiles)
{
  MetricsSnapshot snapshot;
  snapshot.metadataOwed = 0;
  EXPECT_EQ(0, ToMap(ToMetrics(snapshot)).at("inbound_metadata_owed"));  // published when 0
  snapshot.metadataOwed = 17;
  EXPECT_EQ(17, ToMap(ToMetrics(snapshot)).at("inbound_metadata_owed"));
}

TEST(Metrics, PartnerSitesAreLabelledSeries)
{
  MetricsSnapshot snapshot;
  snapshot.now = 1770000100000;
  PartnerMetricsSnapshot a;
  a.id = "clinic-a";
  a.lastContactAt = 1770000040000;
  a.requestsToday = 3;
  a.instancesToday = 300;
  a.bytesToday = 157286400;
  a.failuresToday = 1;
  snapshot.partners.push_back(a);
  PartnerMetricsSnapshot never;
  never.id = "clinic-b";
  never.silent = true;
  snapshot.partners.push_back(never);

  const std::map<std::string, double> metrics = ToMap(ToMetrics(snapshot));
  EXPECT_DOUBLE_EQ(60.0, metrics.at("inbound_partner_last_contact_seconds{partner=\"clinic-a\"}"));
  EXPECT_EQ(0, metrics.at("inbound_partner_silent{partner=\"clinic-a\"}"));
  EXPECT_EQ(3, metrics.at("inbound_partner_requests_today{partner=\"clinic-a\"}"));
  EXPECT_EQ(300, metrics.at("inbound_partner_instances_today{partner=\"clinic-a\"}"));
  EXPECT_EQ(157286400, metrics.at("inbound_partner_bytes_today{partner=\"clinic-a\"}"));
  EXPECT_EQ(1, metrics.at("inbound_partner_failures_today{partner=\"clinic-a\"}"));
  EXPECT_EQ(-1, metrics.at("inbound_partner_last_contact_seconds{partner=\"clinic-b\"}"));
  EXPECT_EQ(1, metrics.at("inbound_partner_silent{partner=\"clinic-b\"}"));
  EXPECT_EQ(0, metrics.at("inbound_partner_instances_today{partner=\"clinic-b\"}"));
}

TEST(Metrics, ReconciliationSourcesAreLabelledSeries)
{
  MetricsSnapshot snapshot;
  EXPECT_EQ(0u, ToMap(ToMetrics(snapshot)).count("inbound_reconciliation_rounds_total"));

  snapshot.now = 1770000100000;
  snapshot.reconciliation = true;
  snapshot.reconciliationRounds = 7;
  // Its last round 30 s ago, not answered after 5012 ms; 3 rounds not answered in all.
  snapshot.reconciliationSources.push_back({"pacs", "Patient", 0, 1770000070000, 3, 5012});
  ReconciliationSourceMetrics never;
  never.source = "ris \"x\"\n} 1\\"; // an admin's name can hold anything a label must not
  never.query = "Worklist";
  snapshot.reconciliationSources.push_back(never);

  const std::map<std::string, double> metrics = ToMap(ToMetrics(snapshot));
  EXPECT_EQ(7, metrics.at("inbound_reconciliation_rounds_total"));
  const std::string label = "{source=\"pacs\",query=\"Patient\"}";
  EXPECT_EQ(0, metrics.at("inbound_reconciliation_source_up" + label));
  EXPECT_DOUBLE_EQ(30.0, metrics.at("inbound_reconciliation_source_last_round_seconds" + label));
  EXPECT_EQ(3, metrics.at("inbound_reconciliation_source_failures_total" + label));
  EXPECT_EQ(5012, metrics.at("inbound_reconciliation_source_last_elapsed_ms" + label));
  const std::string escaped = "{source=\"ris \\\"x\\\"_} 1\\\\\",query=\"Worklist\"}";
  EXPECT_EQ(-1, metrics.at("inbound_reconciliation_source_up" + escaped));
  EXPECT_EQ(-1, metrics.at("inbound_reconciliation_source_last_round_seconds" + escaped));
  EXPECT_EQ(0, metrics.at("inbound_reconciliation_source_failures_total" + escaped));
  EXPECT_EQ(-1, metrics.at("inbound_reconciliation_source_last_elapsed_ms" + escaped));
  for (const auto& metric : metrics)
  {
    EXPECT_EQ(std::string::npos, metric.first.find('\n')) << metric.first; // one line each
  }
}
