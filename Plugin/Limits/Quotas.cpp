// Checks the daily quotas of an upload and its bytes, and tells when they reset.
#include "Quotas.h"

#include "Http/ApiError.h"

#include <boost/algorithm/string/case_conv.hpp>

namespace Inbound
{
  Quotas::Quotas(const QuotaLimits& limits, const Ledger& ledger, const IClock& clock) :
    limits_(limits),
    ledger_(ledger),
    clock_(clock)
  {
  }

  int64_t Quotas::GetSecondsUntilReset() const
  {
    const int64_t now = clock_.NowMs();
    return std::max<int64_t>(1, ((DayOf(now) + 1) * 86400000 - now + 999) / 1000);
  }

  std::vector<std::string> Quotas::GetScopes(const std::string& clientIp,
                                             const std::string& senderKey)
  {
    std::vector<std::string> scopes = {"global", "client:" + clientIp};
    if (!senderKey.empty())
    {
      scopes.push_back("sender:" + boost::algorithm::to_lower_copy(senderKey));
    }
    return scopes;
  }

  void Quotas::Check(const std::string& scope, const std::string& what, uint64_t maxUploads,
                     uint64_t maxBytes, uint64_t addUploads, uint64_t addBytes) const
  {
    if ((maxUploads == 0 || addUploads == 0) && (maxBytes == 0 || addBytes == 0))
    {
      return;
    }
    const QuotaUsage usage = ledger_.Quotas().GetUsage(scope, GetDay());
    const bool overUploads = maxUploads != 0 && addUploads != 0 &&
                             uint64_t(usage.uploads) + addUploads > maxUploads;
    const bool overBytes = maxBytes != 0 && addBytes != 0 &&
                           uint64_t(usage.bytes) + addBytes > maxBytes;
    if (overUploads || overBytes)
    {
      throw ApiError(503, "quota-exceeded",
                     "The daily quota of " + std::string(overUploads ? "uploads" : "bytes") +
                       " " + what + " is used up; it resets at midnight UTC")
        .WithHeader("Retry-After", std::to_string(GetSecondsUntilReset()));
    }
  }

  void Quotas::CheckUpload(const std::string& clientIp, const std::string& senderKey) const
  {
    const std::vector<std::string> scopes = GetScopes(clientIp, senderKey);
    Check(scopes[0], "of this site", limits_.uploadsPerDay, 0, 1, 0);
    Check(scopes[1], "from your network address", limits_.uploadsPerClient, 0, 1, 0);
    if (scopes.size() > 2)
      Check(scopes[2], "for your e-mail address", limits_.uploadsPerSender, 0, 1, 0);
  }

  void Quotas::CheckBytes(const std::string& clientIp, const std::string& senderKey,
                          uint64_t bytes) const
  {
    const std::vector<std::string> scopes = GetScopes(clientIp, senderKey);
    Check(scopes[0], "of this site", 0, limits_.bytesPerDay, 0, bytes);
    Check(scopes[1], "from your network address", 0, limits_.bytesPerClient, 0, bytes);
    if (scopes.size() > 2)
      Check(scopes[2], "for your e-mail address", 0, limits_.bytesPerSender, 0, bytes);
  }

  void Quotas::CheckPartner(const std::string& partnerId, uint64_t maxUploads,
                            uint64_t maxBytes, uint64_t addUploads, uint64_t addBytes) const
  {
    Check("global", "of this site", limits_.uploadsPerDay, limits_.bytesPerDay, addUploads,
          addBytes);
    Check("partner:" + partnerId, "of this partner", maxUploads, maxBytes, addUploads, addBytes);
  }

  uint64_t Quotas::GetBytesToday() const
  {
    return ledger_.Quotas().GetUsage("global", GetDay()).bytes;
  }

  QuotaUsage Quotas::GetGlobalUsage() const
  {
    return ledger_.Quotas().GetUsage("global", GetDay());
  }

  Json::Value Quotas::Describe(const std::string& clientIp) const
  {
    const QuotaUsage global = GetGlobalUsage();
    Json::Value json(Json::objectValue);
    json["day"] = FormatIso8601(GetDay() * 86400000).substr(0, 10);
    json["resetsInSeconds"] = Json::Int64(GetSecondsUntilReset());
    json["global"]["uploads"] = Json::Int64(global.uploads);
    json["global"]["bytes"] = Json::Int64(global.bytes);
    json["limits"]["bytesPerClientPerDay"] = Json::UInt64(limits_.bytesPerClient);
    json["limits"]["uploadsPerClientPerDay"] = Json::UInt64(limits_.uploadsPerClient);
    json["limits"]["bytesPerSenderPerDay"] = Json::UInt64(limits_.bytesPerSender);
    json["limits"]["uploadsPerSenderPerDay"] = Json::UInt64(limits_.uploadsPerSender);
    json["limits"]["bytesPerDay"] = Json::UInt64(limits_.bytesPerDay);
    json["limits"]["uploadsPerDay"] = Json::UInt64(limits_.uploadsPerDay);
    if (!clientIp.empty())
    {
      const QuotaUsage client = ledger_.Quotas().GetUsage("client:" + clientIp, GetDay());
      json["client"]["address"] = clientIp;
      json["client"]["uploads"] = Json::Int64(client.uploads);
      json["client"]["bytes"] = Json::Int64(client.bytes);
    }
    return json;
  }
}
