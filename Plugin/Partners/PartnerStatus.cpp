// The admin's views of the partner sites: configuration joined with PartnerStore's figures (see PartnerStatus.h).
#include "PartnerStatus.h"

#include "Http/ApiError.h"
#include "Toolbox/Crypto.h"

namespace Inbound
{
  namespace
  {
    Json::Value OptionalTime(int64_t ms)
    {
      return ms > 0 ? Json::Value(FormatIso8601(ms)) : Json::Value(Json::nullValue);
    }

    Json::Value Figures(const std::vector<PartnerDayStats>& days, const std::string& onlyDay)
    {
      uint64_t requests = 0, instances = 0, bytes = 0, failures = 0, studies = 0;
      for (const PartnerDayStats& d : days)
      {
        if (onlyDay.empty() || d.day == onlyDay)
        {
          requests += d.requests;
          instances += d.instances;
          bytes += d.bytes;
          failures += d.failures;
          studies += d.studies;
        }
      }
      Json::Value json(Json::objectValue);
      json["requests"] = Json::UInt64(requests);
      json["instances"] = Json::UInt64(instances);
      json["bytes"] = Json::UInt64(bytes);
      json["failures"] = Json::UInt64(failures);
      json["studies"] = Json::UInt64(studies);
      return json;
    }

    Json::Value DescribeUpload(const PartnerUpload& upload)
    {
      Json::Value json(Json::objectValue);
      json["id"] = upload.id;
      json["state"] = upload.state;
      json["study"] = upload.study;
      json["gateway"] = upload.gateway.empty() ? Json::Value(Json::nullValue)
                                               : Json::Value(upload.gateway);
      json["createdAt"] = OptionalTime(upload.createdAt);
      json["updatedAt"] = OptionalTime(upload.updatedAt);
      json["completedAt"] = OptionalTime(upload.completedAt);
      json["files"] = Json::UInt64(upload.files);
      json["bytes"] = Json::UInt64(upload.bytes);
      return json;
    }
  }

  PartnerStatus::PartnerStatus(const std::vector<PartnerSettings>& partners, Ledger& ledger,
                               const IClock& clock, int64_t startedAt) :
    partners_(partners),
    ledger_(ledger),
    clock_(clock),
    startedAt_(startedAt)
  {
  }

  int64_t PartnerStatus::GetSilenceStart(int64_t lastContactAt, int64_t startedAt)
  {
    return lastContactAt > startedAt ? lastContactAt : startedAt;
  }

  bool PartnerStatus::IsSilent(const PartnerSettings& partner, int64_t lastContactAt,
                               int64_t startedAt, int64_t now)
  {
    if (!partner.enabled || partner.limits.silenceAlertHours <= 0)
    {
      return false;
    }
    const double silentMs = double(now - GetSilenceStart(lastContactAt, startedAt));
    return silentMs >= partner.limits.silenceAlertHours * 3600000.0;
  }

  Json::Value PartnerStatus::Describe(const PartnerSettings& partner,
                                      const PartnerActivity* activity, uint64_t openUploads,
                                      int64_t now) const
  {
    const PartnerActivity none;
    const PartnerActivity& a = activity != nullptr ? *activity : none;
    Json::Value json(Json::objectValue);
    json["id"] = partner.id;
    json["name"] = partner.name;
    json["institution"] = partner.institution;
    json["email"] = partner.email;
    json["recipient"] = partner.recipient;
    json["enabled"] = partner.enabled;
    json["networks"] = Json::arrayValue;
    for (const std::string& network : partner.networks)
    {
      json["networks"].append(network);
    }
    json["lastContactAt"] = OptionalTime(a.lastContactAt);
    json["lastStudyAt"] = OptionalTime(a.lastStudyAt);
    json["today"] = Figures(a.days, FormatIso8601(now).substr(0, 10));
    json["last7Days"] = Figures(a.days, "");
    if (a.lastFailureAt > 0)
    {
      json["lastFailure"]["at"] = FormatIso8601(a.lastFailureAt);
      json["lastFailure"]["code"] = a.lastFailureCode;
    }
    else
    {
      json["lastFailure"] = Json::nullValue;
    }
    json["openUploads"] = Json::UInt64(openUploads);
    json["silent"] = IsSilent(partner, a.lastContactAt, startedAt_, now);
    json["silenceAlertHours"] = partner.limits.silenceAlertHours;
    return json;
  }

  Json::Value PartnerStatus::List() const
  {
    const int64_t now = clock_.NowMs();
    const std::map<std::string, PartnerActivity> activities =
      ledger_.Partners().ListByPartner(now, kWindowDays);
    const std::map<std::string, uint64_t> open = ledger_.Partners().CountOpenUploads();
    Json::Value result(Json::objectValue);
    result["partners"] = Json::arrayValue;
    // (Internal) the labels of what gateways delivered: the gateway's word, not a partner of
    // this server.
    result["pulled"] = Json::arrayValue;
    for (const PulledPartnerUploads& p :
         ledger_.Partners().ListPulled(now - int64_t(kWindowDays) * 86400000))
    {
      Json::Value item(Json::objectValue);
      item["partner"] = p.partnerId;
      item["gateway"] = p.gateway;
      item["lastUploadAt"] = OptionalTime(p.lastUploadAt);
      item["last7Days"]["uploads"] = Json::UInt64(p.uploads);
      item["last7Days"]["instances"] = Json::UInt64(p.files);
      item["last7Days"]["bytes"] = Json::UInt64(p.bytes);
      result["pulled"].append(item);
    }
    for (const PartnerSettings& partner : partners_)
    {
      const auto activity = activities.find(partner.id);
      const auto count = open.find(partner.id);
      result["partners"].append(
        Describe(partner, activity == activities.end() ? nullptr : &activity->second,
                 count == open.end() ? 0 : count->second, now));
    }
    return result;
  }

  std::vector<PartnerMetricsSnapshot> PartnerStatus::GetMetrics() const
  {
    std::vector<PartnerMetricsSnapshot> result;
    if (partners_.empty())
    {
      return result;
    }
    const int64_t now = clock_.NowMs();
    const std::map<std::string, PartnerActivity> activities =
      ledger_.Partners().ListByPartner(now, 1);
    const std::string today = FormatIso8601(now).substr(0, 10);
    for (const PartnerSettings& partner : partners_)
    {
      PartnerMetricsSnapshot m;
      m.id = partner.id;
      const auto found = activities.find(partner.id);
      if (found != activities.end())
      {
        m.lastContactAt = found->second.lastContactAt;
        for (const PartnerDayStats& d : found->second.days)
        {
          if (d.day == today)
          {
            m.requestsToday = d.requests;
            m.instancesToday = d.instances;
            m.bytesToday = d.bytes;
            m.failuresToday = d.failures;
          }
        }
      }
      m.silent = IsSilent(partner, m.lastContactAt, startedAt_, now);
      result.push_back(m);
    }
    return result;
  }

  Json::Value PartnerStatus::Show(const std::string& partnerId) const
  {
    for (const PartnerSettings& partner : partners_)
    {
      if (partner.id == partnerId)
      {
        const int64_t now = clock_.NowMs();
        PartnerActivity activity;
        const bool called = ledger_.Partners().Lookup(activity, partnerId, now, kWindowDays);
        const std::map<std::string, uint64_t> open = ledger_.Partners().CountOpenUploads();
        const auto count = open.find(partnerId);
        Json::Value json = Describe(partner, called ? &activity : nullptr,
                                    count == open.end() ? 0 : count->second, now);
        json["uploads"] = Json::arrayValue;
        for (const PartnerUpload& upload : ledger_.Partners().ListUploads(partnerId, kRecentUploads))
        {
          json["uploads"].append(DescribeUpload(upload));
        }
        // Its last requests (stored, failed), silences and returns, as the audit trail says:
        // the details that name it ("partner <id>: …", "partner <id> (<name>…").
        json["events"] = Json::arrayValue;
        for (const AuditEvent& e : ledger_.Audit().ListByDetailPrefix(
               {AuditEventType_PartnerStow, AuditEventType_PartnerResumed,
                AuditEventType_AlertPartnerSilent},
               {"partner " + partnerId + ":", "partner " + partnerId + " ("}, kRecentUploads))
        {
          Json::Value event(Json::objectValue);
          event["time"] = FormatIso8601(e.time);
          event["event"] = e.event;
          event["ip"] = e.ip;
          event["detail"] = e.detail;
          json["events"].append(event);
        }
        return json;
      }
    }
    throw ApiError(404, "not-found", "No such partner in Inbound.Partners");
  }

  Json::Value PartnerStatus::MakeToken(const std::string& adminName,
                                       const std::string& clientIp) const
  {
    const std::string token = Crypto::RandomToken();
    const std::string hash = Crypto::Sha256Hex(token);
    ledger_.Audit().Add(clock_.NowMs(), AuditEventType_PartnerTokenMade, "", clientIp,
                        "by " + (adminName.empty() ? std::string("an admin") : adminName) +
                          ", SHA-256 " + hash.substr(0, 8) + "...");
    Json::Value json(Json::objectValue);
    json["token"] = token;
    json["tokenSha256"] = hash;
    json["configuration"]["TokenSha256"] = hash;
    return json;
  }
}
