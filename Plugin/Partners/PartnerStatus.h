// What the admin sees of the partner sites: each configured partner, its figures, silence and uploads.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Metrics/Metrics.h"
#include "Toolbox/Time.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  // The admin's views of Inbound.Partners (doc/Api.md, "Admin routes"): every configured
  // partner, also one that never called, with the figures PartnerStore keeps.
  class PartnerStatus : public boost::noncopyable
  {
  private:
    const std::vector<PartnerSettings>& partners_;
    Ledger& ledger_;
    const IClock& clock_;
    int64_t startedAt_;

    Json::Value Describe(const PartnerSettings& partner, const PartnerActivity* activity,
                         uint64_t openUploads, int64_t now) const;

  public:
    static constexpr unsigned int kWindowDays = 7;    // "last7Days"
    static constexpr unsigned int kRecentUploads = 20;

    // "startedAt": the plugin's start, from which the silence of a partner that never called
    // counts.
    PartnerStatus(const std::vector<PartnerSettings>& partners, Ledger& ledger,
                  const IClock& clock, int64_t startedAt);

    // Where the current silence counts from: the last contact, or the plugin's start when
    // later (a silence is only judged over time the plugin was there to hear the partner).
    static int64_t GetSilenceStart(int64_t lastContactAt, int64_t startedAt);

    // Enabled, SilenceAlertHours > 0, and no request for that long.
    static bool IsSilent(const PartnerSettings& partner, int64_t lastContactAt, int64_t startedAt,
                         int64_t now);

    // {partners: [...]} in the order of the configuration.
    Json::Value List() const;

    // Each configured partner's gauges (Metrics/Metrics.h).
    std::vector<PartnerMetricsSnapshot> GetMetrics() const;

    // One partner with its last uploads; ApiError 404 "not-found" for an id not configured.
    Json::Value Show(const std::string& partnerId) const;

    // A new partner token (Crypto::RandomToken, 256 bits) and its SHA-256 for
    // Inbound.Partners: {token, tokenSha256, configuration: {TokenSha256}}. Nothing is kept;
    // audited "partner-token-made" with the admin's name and the hash's first 8 hex digits
    // only, never the token.
    Json::Value MakeToken(const std::string& adminName, const std::string& clientIp) const;
  };
}
