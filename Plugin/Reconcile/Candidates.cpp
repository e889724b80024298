// The reconciliation assistant's answer as JSON (doc/Api.md, the candidates route).
#include "Candidates.h"

#include <stdexcept>

namespace Inbound
{
  namespace
  {
    Json::Value ToJsonArray(const std::vector<std::string>& values)
    {
      Json::Value array(Json::arrayValue);
      for (const std::string& v : values)
      {
        array.append(v);
      }
      return array;
    }

    // Optional members are left out when empty rather than sent as "".
    void SetIfNotEmpty(Json::Value& target, const char* name, const std::string& value)
    {
      if (!value.empty())
      {
        target[name] = value;
      }
    }

    Json::Value ToJson(const SourceOutcome& s)
    {
      Json::Value json(Json::objectValue);
      json["source"] = s.source;
      json["query"] = s.query;
      json["status"] = EnumerationToString(s.status);
      SetIfNotEmpty(json, "message", s.message);
      json["elapsedMs"] = static_cast<Json::Int64>(s.elapsedMs);
      json["records"] = static_cast<Json::UInt64>(s.records);
      json["truncated"] = s.truncated;
      return json;
    }

    Json::Value ToJson(const Candidate& c, int threshold)
    {
      const CandidateRecord& r = c.record;
      Json::Value json(Json::objectValue);
      json["source"] = r.source;
      json["patientId"] = r.patientId;
      SetIfNotEmpty(json, "issuer", r.issuer);
      json["name"] = r.name;
      json["birthDate"] = r.birthDate;
      json["sex"] = r.sex;
      json["score"] = c.score;
      json["reasons"] = ToJsonArray(c.reasons);
      json["fits"] = c.score >= threshold;
      SetIfNotEmpty(json, "accessionNumber", r.accessionNumber);
      SetIfNotEmpty(json, "requestedProcedureId", r.requestedProcedureId);
      SetIfNotEmpty(json, "procedure", r.procedureDescription);
      SetIfNotEmpty(json, "scheduledDate", r.scheduledDate);
      SetIfNotEmpty(json, "scheduledModality", r.scheduledModality);
      if (!r.otherPatientIds.empty())
      {
        json["otherPatientIds"] = ToJsonArray(r.otherPatientIds); // an addition
      }
      return json;
    }

    Json::Value ToJson(const PatientCandidates& p, int threshold)
    {
      const SentPatient& s = p.sent;
      Json::Value json(Json::objectValue);
      json["originalPatientId"] = s.originalPatientId;
      json["issuer"] = s.issuer;
      json["name"] = s.name;
      json["birthDate"] = s.birthDate;
      json["sex"] = s.sex;
      json["otherPatientIds"] = ToJsonArray(s.otherPatientIds);
      json["accessionNumbers"] = ToJsonArray(s.accessionNumbers);
      json["isolatedPatientId"] = s.isolatedPatientId;
      json["studies"] = ToJsonArray(s.studies);
      json["ambiguous"] = p.ambiguous;
      Json::Value candidates(Json::arrayValue);
      for (const Candidate& c : p.candidates)
      {
        candidates.append(ToJson(c, threshold));
      }
      json["candidates"] = candidates;
      // Additions: what the "scheduled" reason compares with.
      json["modalities"] = ToJsonArray(s.modalities);
      json["studyDates"] = ToJsonArray(s.studyDates);
      return json;
    }
  } // namespace

  const char* EnumerationToString(SourceStatus status)
  {
    switch (status)
    {
    case SourceStatus_Answered:
      return "answered";
    case SourceStatus_Timeout:
      return "timeout";
    case SourceStatus_Failed:
      return "failed";
    case SourceStatus_Unavailable:
      return "unavailable";
    case SourceStatus_Busy:
      return "busy";
    default:
      throw std::invalid_argument("unknown source status");
    }
  }

  bool Reconciliation::IsComplete() const
  {
    for (const SourceOutcome& s : sources)
    {
      if (s.status != SourceStatus_Answered)
      {
        return false;
      }
    }
    return true;
  }

  Json::Value Reconciliation::ToJson() const
  {
    Json::Value json(Json::objectValue);
    json["uploadId"] = uploadId;
    if (!requestId.empty())
    {
      json["request"]["id"] = requestId;
      json["request"]["patientId"] = requestPatientId;
    }
    json["threshold"] = threshold;
    json["autoThreshold"] = autoThreshold;
    json["generatedAt"] = static_cast<Json::Int64>(generatedAt);
    json["complete"] = IsComplete();
    Json::Value list(Json::arrayValue);
    for (const SourceOutcome& s : sources)
    {
      list.append(Inbound::ToJson(s));
    }
    json["sources"] = list;
    Json::Value patientList(Json::arrayValue);
    for (const PatientCandidates& p : patients)
    {
      patientList.append(Inbound::ToJson(p, threshold));
    }
    json["patients"] = patientList;
    return json;
  }
} // namespace Inbound
