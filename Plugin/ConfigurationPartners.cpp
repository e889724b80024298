// Reads "Inbound.Partners" and "Inbound.PartnerLimits": the machine senders over STOW-RS (doc/Configuration.md).
#include "ConfigurationReader.h"

#include "Http/AddressRules.h"

#include <boost/regex.hpp>

#include <set>
#include <stdexcept>

namespace Inbound
{
  namespace ConfigurationReader
  {
    namespace
    {
      const uint64_t kMaxBytes = uint64_t(1) << 50;

      // Reads one limit of a partner's "Limits" when present, with the same bounds as the
      // option of "PartnerLimits" it overrides.
      uint64_t Override(const Json::Value& overrides, const std::string& key, const std::string& where,
                        uint64_t min, uint64_t max, uint64_t inherited)
      {
        if (!overrides.isMember(key))
        {
          return inherited;
        }
        const Json::Value& v = overrides[key];
        if (!v.isIntegral() || (v.isInt64() && v.asInt64() < 0))
        {
          Bad(where + "." + key, "must be a non-negative integer");
        }
        if (v.asUInt64() < min || v.asUInt64() > max)
        {
          Bad(where + "." + key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        }
        return v.asUInt64();
      }

      // SilenceAlertHours: hours, fractions allowed ("0.25": a quarter of an hour).
      double ToHours(const Json::Value& v, const std::string& where)
      {
        if (v.isBool() || !v.isDouble() || v.asDouble() < 0 || v.asDouble() > 24 * 365)
        {
          Bad(where, "must be a number of hours from 0 to 8760 (fractions allowed)");
        }
        return v.asDouble();
      }

      PartnerLimits ReadOverrides(const Json::Value& overrides, const std::string& where,
                                  const PartnerLimits& defaults, const UploadLimits& upload)
      {
        if (!overrides.isObject())
        {
          Bad(where, "must be an object of PartnerLimits options");
        }
        static const std::set<std::string> kKeys = {
          "QuietSeconds", "SilenceAlertHours", "MaxStreams", "MaxUnchunkedBytes", "MaxFileBytes",
          "MaxFilesPerUpload", "MaxBytesPerUpload", "DailyBytes", "DailyStudies"};
        for (const std::string& key : overrides.getMemberNames())
        {
          if (kKeys.count(key) == 0)
          {
            Bad(where, "unknown key \"" + key + "\" (MaxStreamsTotal is not per partner)");
          }
        }
        PartnerLimits l = defaults;
        l.quietSeconds = static_cast<unsigned int>(
          Override(overrides, "QuietSeconds", where, 1, 86400, l.quietSeconds));
        if (overrides.isMember("SilenceAlertHours"))
        {
          l.silenceAlertHours = ToHours(overrides["SilenceAlertHours"], where + ".SilenceAlertHours");
        }
        l.maxStreams = static_cast<unsigned int>(
          Override(overrides, "MaxStreams", where, 1, defaults.maxStreamsTotal, l.maxStreams));
        l.maxUnchunkedBytes = Override(overrides, "MaxUnchunkedBytes", where, 0, kMaxBytes,
                                       l.maxUnchunkedBytes);
        l.maxFileBytes = Override(overrides, "MaxFileBytes", where, 1024, upload.maxFileBytes,
                                  l.maxFileBytes);
        l.maxFilesPerUpload = Override(overrides, "MaxFilesPerUpload", where, 1,
                                       upload.maxFilesPerUpload, l.maxFilesPerUpload);
        l.maxBytesPerUpload = Override(overrides, "MaxBytesPerUpload", where, 1024,
                                       upload.maxBytesPerUpload, l.maxBytesPerUpload);
        l.dailyBytes = Override(overrides, "DailyBytes", where, 0, kMaxBytes, l.dailyBytes);
        l.dailyStudies = Override(overrides, "DailyStudies", where, 0, kMaxBytes, l.dailyStudies);
        return l;
      }

      std::vector<std::string> ReadHashes(const Json::Value& value, const std::string& where)
      {
        std::vector<std::string> hashes;
        if (value.isString())
        {
          hashes.push_back(value.asString());
        }
        else if (value.isArray() && !value.empty())
        {
          for (Json::ArrayIndex i = 0; i < value.size(); i++)
          {
            if (!value[i].isString())
            {
              Bad(where, "must be a hex SHA-256 or a non-empty list of them");
            }
            hashes.push_back(value[i].asString());
          }
        }
        else
        {
          Bad(where, "must be a hex SHA-256 or a non-empty list of them");
        }
        static const boost::regex kHex("[0-9a-f]{64}");
        for (std::string& hash : hashes)
        {
          for (char& c : hash)
          {
            c = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
          }
          if (!boost::regex_match(hash, kHex))
          {
            Bad(where, "\"" + hash + "\" is not 64 hex digits (the SHA-256 of the token, not the token)");
          }
        }
        return hashes;
      }

      std::string OptionalString(const Json::Value& p, const std::string& key, const std::string& where)
      {
        if (!p.isMember(key))
        {
          return "";
        }
        if (!p[key].isString())
        {
          Bad(where + "." + key, "must be a string");
        }
        return p[key].asString();
      }
    }

    PartnerLimits GetPartnerLimits(const Json::Value& s, const UploadLimits& upload)
    {
      PartnerLimits l;
      l.quietSeconds = static_cast<unsigned int>(GetUnsigned(s, "PartnerLimits.QuietSeconds", 1, 86400));
      l.silenceAlertHours = ToHours(Member(s, "PartnerLimits.SilenceAlertHours"),
                                    "PartnerLimits.SilenceAlertHours");
      // Each stream holds one of civetweb's 50 threads (doc/Architecture.md): keep most free.
      l.maxStreamsTotal = static_cast<unsigned int>(GetUnsigned(s, "PartnerLimits.MaxStreamsTotal", 1, 25));
      l.maxStreams = static_cast<unsigned int>(GetUnsigned(s, "PartnerLimits.MaxStreams", 1, 25));
      if (l.maxStreams > l.maxStreamsTotal)
      {
        Bad("PartnerLimits.MaxStreams", "must not exceed PartnerLimits.MaxStreamsTotal");
      }
      l.maxUnchunkedBytes = GetUnsigned(s, "PartnerLimits.MaxUnchunkedBytes", 0, kMaxBytes);
      l.maxFileBytes = GetUnsigned(s, "PartnerLimits.MaxFileBytes", 0, upload.maxFileBytes);
      l.maxFilesPerUpload = GetUnsigned(s, "PartnerLimits.MaxFilesPerUpload", 0, upload.maxFilesPerUpload);
      l.maxBytesPerUpload = GetUnsigned(s, "PartnerLimits.MaxBytesPerUpload", 0, upload.maxBytesPerUpload);
      l.maxFileBytes = l.maxFileBytes == 0 ? upload.maxFileBytes : l.maxFileBytes;
      l.maxFilesPerUpload = l.maxFilesPerUpload == 0 ? upload.maxFilesPerUpload : l.maxFilesPerUpload;
      l.maxBytesPerUpload = l.maxBytesPerUpload == 0 ? upload.maxBytesPerUpload : l.maxBytesPerUpload;
      l.dailyBytes = GetUnsigned(s, "PartnerLimits.DailyBytes", 0, kMaxBytes);
      l.dailyStudies = GetUnsigned(s, "PartnerLimits.DailyStudies", 0, kMaxBytes);
      return l;
    }

    std::vector<PartnerSettings> GetPartners(const Json::Value& s, Role role,
                                             const std::vector<Recipient>& recipients,
                                             const PartnerLimits& defaults)
    {
      const Json::Value& list = Member(s, "Partners");
      if (!list.isArray())
      {
        Bad("Partners", "must be a list of {\"Id\", \"Name\", \"TokenSha256\", \"Recipient\", ...}");
      }
      if (role == Role_Internal && !list.empty())
      {
        Bad("Partners", "has no public side on an Internal: partners send to the gateway");
      }
      UploadLimits upload;
      upload.maxFileBytes = defaults.maxFileBytes;
      upload.maxFilesPerUpload = defaults.maxFilesPerUpload;
      upload.maxBytesPerUpload = defaults.maxBytesPerUpload;
      static const boost::regex kId("[a-z0-9-]{1,32}");
      std::vector<PartnerSettings> result;
      std::set<std::string> ids;
      std::set<std::string> hashes;
      for (Json::ArrayIndex i = 0; i < list.size(); i++)
      {
        const std::string where = "Partners[" + std::to_string(i) + "]";
        const Json::Value& p = list[i];
        if (!p.isObject() || !p["Id"].isString() || !p["Name"].isString() ||
            !p.isMember("TokenSha256") || !p["Recipient"].isString() || p["Name"].asString().empty())
        {
          Bad(where, "needs the strings \"Id\", \"Name\", \"Recipient\" and a \"TokenSha256\"");
        }
        for (const std::string& key : p.getMemberNames())
        {
          if (key != "Id" && key != "Name" && key != "Institution" && key != "Email" &&
              key != "TokenSha256" && key != "Recipient" && key != "Networks" &&
              key != "Enabled" && key != "Limits")
          {
            Bad(where, "unknown key \"" + key + "\"");
          }
        }
        PartnerSettings partner;
        partner.id = p["Id"].asString();
        if (!boost::regex_match(partner.id, kId))
        {
          Bad(where + ".Id", "must be 1 to 32 of a-z, 0-9 and '-'");
        }
        if (!ids.insert(partner.id).second)
        {
          Bad(where + ".Id", "\"" + partner.id + "\" is used twice");
        }
        partner.name = p["Name"].asString();
        partner.institution = OptionalString(p, "Institution", where);
        partner.email = OptionalString(p, "Email", where);
        partner.tokenSha256s = ReadHashes(p["TokenSha256"], where + ".TokenSha256");
        for (const std::string& hash : partner.tokenSha256s)
        {
          if (!hashes.insert(hash).second)
          {
            Bad(where + ".TokenSha256", "a token hash is used twice: every partner needs its own token");
          }
        }
        partner.recipient = p["Recipient"].asString();
        bool known = false;
        for (const Recipient& recipient : recipients)
        {
          known = known || recipient.id == partner.recipient;
        }
        if (!known)
        {
          Bad(where + ".Recipient", "\"" + partner.recipient + "\" is not in Inbound.Recipients");
        }
        if (p.isMember("Networks"))
        {
          const Json::Value& networks = p["Networks"];
          for (Json::ArrayIndex n = 0; networks.isArray() && n < networks.size(); n++)
          {
            if (!networks[n].isString())
            {
              Bad(where + ".Networks", "must be a list of addresses and CIDRs");
            }
            partner.networks.push_back(networks[n].asString());
          }
          if (!networks.isArray())
          {
            Bad(where + ".Networks", "must be a list of addresses and CIDRs");
          }
          try
          {
            AddressRules check(partner.networks);
          }
          catch (const std::invalid_argument& e)
          {
            Bad(where + ".Networks", e.what());
          }
        }
        if (p.isMember("Enabled") && !p["Enabled"].isBool())
        {
          Bad(where + ".Enabled", "must be true or false");
        }
        partner.enabled = !p.isMember("Enabled") || p["Enabled"].asBool();
        partner.limits = p.isMember("Limits") ?
          ReadOverrides(p["Limits"], where + ".Limits", defaults, upload) : defaults;
        result.push_back(partner);
      }
      return result;
    }
  }
}
