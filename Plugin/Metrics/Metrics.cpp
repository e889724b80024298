// Names and values of the Prometheus gauges, from a typed snapshot.
#include "Metrics.h"

#include <cctype>

namespace Inbound
{
  namespace
  {
    // A gateway's name as part of a metric name: [a-zA-Z0-9_] only.
    std::string ToMetricName(const std::string& name)
    {
      std::string result;
      for (char c : name)
      {
        result.push_back(isalnum(static_cast<unsigned char>(c)) ? c : '_');
      }
      return result;
    }

    // An admin-configured name as a Prometheus label value: '\\' and '"' escaped, any byte
    // that is not printable ASCII (line breaks, invalid UTF-8) replaced by '_'.
    std::string ToLabelValue(const std::string& value)
    {
      std::string result;
      for (char c : value)
      {
        const unsigned char u = static_cast<unsigned char>(c);
        if (c == '\\' || c == '"')
        {
          result.push_back('\\');
        }
        result.push_back(u < 0x20 || u >= 0x7f ? '_' : c);
      }
      return result;
    }

    double SecondsSince(int64_t now, int64_t at)
    {
      return at > 0 ? double(now - at) / 1000.0 : -1.0;
    }
  }

  std::vector<Metric> ToMetrics(const MetricsSnapshot& snapshot)
  {
    std::vector<Metric> metrics;
    for (UploadState state : {UploadState_Open, UploadState_Complete, UploadState_Delivered,
                              UploadState_Cancelled, UploadState_Expired, UploadState_Deleted})
    {
      const auto found = snapshot.uploadsByState.find(state);
      metrics.emplace_back(std::string("inbound_uploads_") + EnumerationToString(state),
                           found == snapshot.uploadsByState.end() ? 0 : double(found->second));
    }

    const LimitsSnapshot& limits = snapshot.limits;
    metrics.emplace_back("inbound_bytes_received_today", double(limits.bytesReceivedToday));
    metrics.emplace_back("inbound_uploads_opened_today", double(limits.uploadsOpenedToday));
    metrics.emplace_back("inbound_bytes_in_flight", double(limits.bytesInFlight));
    metrics.emplace_back("inbound_refusals_total", double(limits.refusals));
    metrics.emplace_back("inbound_bans_active", double(limits.activeBans));
    metrics.emplace_back("inbound_data_monitor_state", double(limits.dataMonitorState));

    for (const auto& count : snapshot.notificationsByState)
    {
      metrics.emplace_back("inbound_notifications_" + count.first, double(count.second));
    }
    if (snapshot.metadataOwed >= 0)
    {
      metrics.emplace_back("inbound_metadata_owed", double(snapshot.metadataOwed));
    }
    if (snapshot.forwards)
    {
      for (const auto& count : snapshot.forwardsByState)
      {
        metrics.emplace_back("inbound_forwards_" + count.first, double(count.second));
      }
    }

    // On every role, so that "scanning is off" is visible too (0 everywhere then).
    metrics.emplace_back("inbound_scan_enabled", snapshot.scan.enabled ? 1 : 0);
    metrics.emplace_back("inbound_scan_ready", snapshot.scan.ready ? 1 : 0);
    metrics.emplace_back("inbound_scan_files_total", double(snapshot.scan.scanned));
    metrics.emplace_back("inbound_scan_malware_total", double(snapshot.scan.infected));
    metrics.emplace_back("inbound_scan_unavailable_total", double(snapshot.scan.unavailable));
    metrics.emplace_back("inbound_scan_busy_total", double(snapshot.scan.busy));

    if (snapshot.sealing >= 0)
    {
      // 0 on a gateway that keeps uploads in plain text: worth an alert rule of its own.
      metrics.emplace_back("inbound_sealing_enabled", double(snapshot.sealing));
    }

    for (const GatewaySnapshot& gateway : snapshot.gateways)
    {
      const std::string prefix = "inbound_gateway_" + ToMetricName(gateway.name) + "_";
      metrics.emplace_back(prefix + "backlog", double(gateway.backlog));
      metrics.emplace_back(prefix + "failures", double(gateway.failures));
      metrics.emplace_back(prefix + "delivered", double(gateway.delivered));
      metrics.emplace_back(prefix + "held", double(gateway.held));
      // -1: never in contact since the start.
      metrics.emplace_back(prefix + "seconds_since_contact",
                           SecondsSince(snapshot.now, gateway.lastContact));
    }
    // Partner sites: one series per partner, labelled (Orthanc publishes the name as given).
    for (const PartnerMetricsSnapshot& partner : snapshot.partners)
    {
      const std::string label = "{partner=\"" + partner.id + "\"}";
      // -1: no request yet (since the ledger was created).
      metrics.emplace_back("inbound_partner_last_contact_seconds" + label,
                           SecondsSince(snapshot.now, partner.lastContactAt));
      metrics.emplace_back("inbound_partner_silent" + label, partner.silent ? 1 : 0);
      metrics.emplace_back("inbound_partner_requests_today" + label, double(partner.requestsToday));
      metrics.emplace_back("inbound_partner_instances_today" + label,
                           double(partner.instancesToday));
      metrics.emplace_back("inbound_partner_bytes_today" + label, double(partner.bytesToday));
      metrics.emplace_back("inbound_partner_failures_today" + label, double(partner.failuresToday));
    }
    // Reconciliation sources: alert on one that stops answering (up 0, failures rising).
    if (snapshot.reconciliation)
    {
      metrics.emplace_back("inbound_reconciliation_rounds_total",
                           double(snapshot.reconciliationRounds));
    }
    for (const ReconciliationSourceMetrics& source : snapshot.reconciliationSources)
    {
      const std::string label = "{source=\"" + ToLabelValue(source.source) + "\",query=\"" +
                                ToLabelValue(source.query) + "\"}";
      metrics.emplace_back("inbound_reconciliation_source_up" + label, double(source.up));
      metrics.emplace_back("inbound_reconciliation_source_last_round_seconds" + label,
                           SecondsSince(snapshot.now, source.lastRoundAt));
      metrics.emplace_back("inbound_reconciliation_source_failures_total" + label,
                           double(source.failures));
      metrics.emplace_back("inbound_reconciliation_source_last_elapsed_ms" + label,
                           double(source.lastElapsedMs));
    }
    return metrics;
  }
}
