// The push of request links: records as pushed, the gateway's strict parser, the states answered.
#include "RequestPush.h"

#include "Http/ApiError.h"
#include "Peering/PulledManifest.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Errors.h"
#include "Toolbox/Json.h"
#include "Toolbox/Languages.h"
#include "Toolbox/Time.h"
#include "Toolbox/UploadId.h"
#include "Upload/TextRules.h"

#include <set>

namespace Inbound
{
  namespace RequestPush
  {
    namespace
    {
      // What a pushed record may hold, nothing else: a member named "patient", "sender" or
      // anything unknown refuses the record, so that no version of the Internal can make a
      // gateway keep more than the challenge needs.
      const std::set<std::string> kMembers = {
        "id", "tokenHash", "state", "createdAt", "expiresAt", "recipient", "message",
        "language", "maxUploads", "challenge", "secret", "revision"};

      const int64_t kMaxClockSkewMs = 5 * 60 * 1000;
      const int64_t kMaxRevision = int64_t(1) << 53;  // exact in every JSON reader

      // A rule a pushed record breaks: the record is refused, the push goes on.
      struct Refusal
      {
        std::string field;
        std::string why;
      };

      std::string Quote(const Json::Value& value)
      {
        return TextRules::MakeSafe(value.isString() ? value.asString() : JsonText::Compact(value),
                                   40);
      }

      std::string Text(const Json::Value& record, const char* field, size_t maxCharacters)
      {
        const Json::Value& value = record[field];
        if (!value.isString() || !TextRules::IsCleanText(value.asString()) ||
            TextRules::CountCharacters(value.asString()) > maxCharacters)
        {
          throw Refusal{field, "must be a text of at most " + std::to_string(maxCharacters) +
                                 " characters without control characters"};
        }
        return value.asString();
      }

      int64_t Integer(const Json::Value& record, const char* field, int64_t min, int64_t max)
      {
        const Json::Value& value = record[field];
        if (!value.isIntegral() || !value.isInt64() || value.asInt64() < min ||
            value.asInt64() > max)
        {
          throw Refusal{field, "must be an integer from " + std::to_string(min) + " to " +
                                 std::to_string(max) + " (" + Quote(value) + ")"};
        }
        return value.asInt64();
      }

      int64_t Time(const Json::Value& record, const char* field)
      {
        int64_t ms = 0;
        if (!record[field].isString() || !ParseIso8601(ms, record[field].asString()))
        {
          throw Refusal{field, "is not an ISO 8601 time (" + Quote(record[field]) + ")"};
        }
        return ms;
      }

      // One of the names of an enumeration ("state": "active", ...).
      template <typename T>
      T Name(const Json::Value& record, const char* field, T (*parse)(const std::string&))
      {
        try
        {
          return parse(record[field].isString() ? record[field].asString() : "");
        }
        catch (...)  // Orthanc exceptions are not std::exceptions
        {
          throw Refusal{field, "is not one of the known names (" + Quote(record[field]) + ")"};
        }
      }

      void CheckSecret(const Json::Value& value)
      {
        std::string envelope;
        if (!value.isString() || value.asString().size() > kMaxSecretCharacters ||
            !DecodeCanonicalBase64(envelope, value.asString()) ||
            envelope.size() < kMinSecretBytes)
        {
          throw Refusal{"secret", "must be the base64 of an envelope of at most " +
                                    std::to_string(kMaxSecretCharacters) + " characters"};
        }
      }

      RequestRecord ParseRecord(const Json::Value& json, const Configuration& configuration,
                                int64_t now)
      {
        if (!json.isObject())
        {
          throw Refusal{"", "is not a JSON object"};
        }
        for (const std::string& name : json.getMemberNames())
        {
          if (kMembers.count(name) == 0)
          {
            throw Refusal{TextRules::MakeSafe(name, 40), "is not a member of a pushed request"};
          }
        }
        RequestRecord r;
        if (!json["tokenHash"].isString() || !Crypto::IsSha256Hex(json["tokenHash"].asString()))
        {
          throw Refusal{"tokenHash", "is not a lower-case hexadecimal SHA-256"};
        }
        r.tokenHash = json["tokenHash"].asString();
        r.state = Name<RequestState>(json, "state", StringToRequestState);
        r.challenge = Name<ChallengeKind>(json, "challenge", StringToChallengeKind);
        r.createdAt = Time(json, "createdAt");
        r.expiresAt = Time(json, "expiresAt");
        if (r.createdAt > now + kMaxClockSkewMs)
        {
          throw Refusal{"createdAt", "is in the future"};
        }
        if (r.expiresAt <= r.createdAt || r.expiresAt - r.createdAt > kMaxLifetimeMs)
        {
          throw Refusal{"expiresAt", "must be after createdAt, by at most 400 days"};
        }
        r.updatedAt = now;
        r.recipientId = Text(json, "recipient", kMaxRecipientCharacters);
        r.message = Text(json, "message", configuration.text.message);
        r.language = Text(json, "language", 16);
        if (!r.language.empty() && !IsLanguage(r.language))
        {
          throw Refusal{"language", "is not a language of this server (" + DescribeLanguages() + ")"};
        }
        r.maxUploads = Integer(json, "maxUploads", 1, kMaxMaxUploads);
        CheckSecret(json["secret"]);
        r.secret = json["secret"].asString();
        r.revision = Integer(json, "revision", 1, kMaxRevision);
        r.createdBy = "internal";  // who created it inside stays inside
        return r;
      }

      Json::Value RequestsMember(const void* body, size_t size)
      {
        if (size > kMaxBodyBytes)
        {
          throw ApiError(413, "too-large", "A push holds at most " +
                                             std::to_string(kMaxBodyBytes) + " bytes");
        }
        Json::Value json;
        if (!JsonText::ParseStrict(json, body, size) || !json.isObject() ||
            json.size() != 1 || !json["requests"].isArray())
        {
          throw ApiError(400, "bad-json", "The body must be {\"requests\": [record, ...]}");
        }
        if (json["requests"].size() > kMaxRecords)
        {
          throw ApiError(400, "invalid-field", "A push holds at most " +
                                                 std::to_string(kMaxRecords) + " requests");
        }
        return json["requests"];
      }
    }

    Json::Value ToJson(const RequestRecord& record)
    {
      Json::Value json(Json::objectValue);
      json["id"] = record.id;
      json["tokenHash"] = record.tokenHash;
      json["state"] = EnumerationToString(record.state);
      json["createdAt"] = FormatIso8601(record.createdAt);
      json["expiresAt"] = FormatIso8601(record.expiresAt);
      json["recipient"] = record.recipientId;
      json["message"] = record.message;
      json["language"] = record.language;
      json["maxUploads"] = Json::Int64(record.maxUploads);
      json["challenge"] = EnumerationToString(record.challenge);
      json["secret"] = record.secret;
      json["revision"] = Json::Int64(record.revision);
      return json;
    }

    std::vector<Pushed> Parse(const void* body, size_t size, const Configuration& configuration,
                              int64_t now)
    {
      const Json::Value records = RequestsMember(body, size);
      std::vector<Pushed> result;
      std::set<std::string> ids;
      for (Json::ArrayIndex i = 0; i < records.size(); i++)
      {
        const Json::Value& json = records[i];
        const Json::Value& id =
          json.isObject() && json.isMember("id") ? json["id"] : Json::Value::nullSingleton();
        Pushed pushed;
        if (!id.isString() || !IsUploadId(id.asString()))
        {
          // Without an id the Internal could not tell which record was refused.
          throw ApiError(400, "invalid-field",
                         "requests[" + std::to_string(i) + "].id is not a request id (" +
                           Quote(id) + ")");
        }
        if (!ids.insert(id.asString()).second)
        {
          throw ApiError(400, "invalid-field", "requests[" + std::to_string(i) + "].id " +
                                                 id.asString() + " is pushed twice");
        }
        try
        {
          pushed.record = ParseRecord(json, configuration, now);
          if (configuration.LookupRecipient(pushed.record.recipientId) == nullptr)
          {
            pushed.error = "unknown-recipient";
            pushed.message = "recipient \"" + pushed.record.recipientId +
                             "\" is not in this gateway's Inbound.Recipients";
          }
        }
        catch (const Refusal& refusal)
        {
          pushed.error = "invalid-field";
          pushed.message = (refusal.field.empty() ? std::string("the record")
                                                  : "\"" + refusal.field + "\"") +
                           " " + refusal.why;
        }
        pushed.record.id = id.asString();
        result.push_back(pushed);
      }
      return result;
    }

    Json::Value StateToJson(const RequestRecord& record, int64_t now)
    {
      Json::Value json(Json::objectValue);
      json["id"] = record.id;
      json["revision"] = Json::Int64(record.revision);
      json["status"] = record.GetStatus(now);
      json["usedUploads"] = Json::Int64(record.usedUploads);
      json["failures"] = Json::Int64(record.failures);
      json["lockedAt"] = record.lockedAt > 0 ? Json::Value(FormatIso8601(record.lockedAt))
                                             : Json::Value();
      return json;
    }

    Json::Value Receive(const void* body, size_t size, const Configuration& configuration,
                        RequestStore& store, int64_t now)
    {
      Json::Value answer(Json::objectValue);
      answer["requests"] = Json::arrayValue;
      for (const Pushed& pushed : Parse(body, size, configuration, now))
      {
        RequestRecord held;
        if (pushed.error.empty())
        {
          try
          {
            store.Upsert(pushed.record, now);  // false: this revision or a newer one is here
          }
          catch (...)
          {
            // Another request with the same token hash, say: this record only.
            Json::Value refused(Json::objectValue);
            refused["id"] = pushed.record.id;
            refused["error"] = "not-stored";
            refused["message"] = "the gateway could not store it: " + DescribeCurrentException();
            answer["requests"].append(refused);
            continue;
          }
        }
        if (pushed.error.empty() && store.Lookup(held, pushed.record.id))
        {
          answer["requests"].append(StateToJson(held, now));
        }
        else
        {
          Json::Value refused(Json::objectValue);
          refused["id"] = pushed.record.id;
          refused["error"] = pushed.error.empty() ? "not-stored" : pushed.error;
          refused["message"] = pushed.error.empty() ? "the gateway lost it" : pushed.message;
          answer["requests"].append(refused);
        }
      }
      return answer;
    }

    Json::Value ListStates(const RequestStore& store, int64_t now)
    {
      Json::Value answer(Json::objectValue);
      answer["requests"] = Json::arrayValue;
      for (const RequestRecord& record : store.List(0))
      {
        if (record.expiresAt > now)
        {
          answer["requests"].append(StateToJson(record, now));
        }
      }
      return answer;
    }

    std::vector<GatewayState> ParseStates(const std::string& body, int64_t now)
    {
      Json::Value json;
      if (body.size() > kMaxStatesBytes ||
          !JsonText::ParseStrict(json, body.data(), body.size()) || !json.isObject() ||
          !json["requests"].isArray())
      {
        throw GatewayDataError("the request states are not {\"requests\": [...]}");
      }
      const Json::Value& entries = json["requests"];
      if (entries.size() > kMaxStates)
      {
        throw GatewayDataError("the request states list more than " +
                               std::to_string(kMaxStates) + " entries");
      }
      std::vector<GatewayState> result;
      for (Json::ArrayIndex i = 0; i < entries.size(); i++)
      {
        const std::string where = "request state [" + std::to_string(i) + "]";
        const Json::Value& e = entries[i];
        if (!e.isObject() || !e["id"].isString() || !IsUploadId(e["id"].asString()))
        {
          throw GatewayDataError(where + " has no request id");
        }
        GatewayState state;
        state.id = e["id"].asString();
        if (e.isMember("error"))
        {
          if (!e["error"].isString() || !e["message"].isString())
          {
            throw GatewayDataError(where + ": a refusal needs an \"error\" and a \"message\"");
          }
          // Shown to admins: made safe, and short.
          state.error = TextRules::MakeSafe(e["error"].asString(), 40);
          state.message = TextRules::MakeSafe(e["message"].asString(), 300);
          result.push_back(state);
          continue;
        }
        static const std::set<std::string> kStatuses = {"active", "expired", "used", "revoked",
                                                        "locked"};
        int64_t lockedAt = 0;
        if (!e["revision"].isIntegral() || !e["revision"].isInt64() || e["revision"].asInt64() < 0 ||
            !e["status"].isString() || kStatuses.count(e["status"].asString()) == 0 ||
            !e["usedUploads"].isIntegral() || !e["usedUploads"].isInt64() ||
            e["usedUploads"].asInt64() < 0 || e["usedUploads"].asInt64() > kMaxMaxUploads ||
            !e["failures"].isIntegral() || !e["failures"].isInt64() ||
            e["failures"].asInt64() < 0 || e["failures"].asInt64() > 1000000 ||
            !(e["lockedAt"].isNull() ||
              (e["lockedAt"].isString() && ParseIso8601(lockedAt, e["lockedAt"].asString()) &&
               lockedAt > 0 && lockedAt <= now + kMaxClockSkewMs)))
        {
          throw GatewayDataError(where + " (" + state.id + ") breaks the format "
                                 "{id, revision, status, usedUploads, failures, lockedAt}");
        }
        state.revision = e["revision"].asInt64();
        state.status = e["status"].asString();
        state.usedUploads = e["usedUploads"].asInt64();
        state.failures = e["failures"].asInt64();
        state.lockedAt = lockedAt;
        result.push_back(state);
      }
      return result;
    }
  }
}
