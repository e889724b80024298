// Parses and checks the body of a release: fields, DICOM text, the reconciliation choice.
#include "ReleaseRequest.h"

#include "Http/ApiError.h"
#include "Reconcile/Coercion.h"
#include "Toolbox/Json.h"
#include "Upload/JsonFields.h"

namespace Inbound
{
  namespace
  {
    std::string GetText(const Json::Value& object, const char* key)
    {
      if (!object.isMember(key))
      {
        return "";
      }
      if (!object[key].isString())
      {
        throw ApiError(400, "invalid-field", std::string("\"") + key + "\" must be a string");
      }
      return object[key].asString();
    }

    bool GetFlag(const Json::Value& object, const char* key)
    {
      if (!object.isMember(key))
      {
        return false;
      }
      if (!object[key].isBool())
      {
        throw ApiError(400, "invalid-field", std::string("\"") + key + "\" must be true or false");
      }
      return object[key].asBool();
    }

    void CheckText(const std::string& value, size_t maxBytes, size_t maxCharacters,
                   const std::string& what)
    {
      if (!Coercion::IsText(value, maxBytes, maxCharacters))
      {
        throw ApiError(400, "invalid-field",
                       what + " (at most " + std::to_string(maxCharacters) +
                         " characters) contains characters DICOM does not allow");
      }
    }
  }

  ReleaseRequest ReleaseRequest::Parse(const void* body, size_t size)
  {
    Json::Value json;
    if (!JsonText::ParseStrict(json, body, size) || !json.isObject())
    {
      throw ApiError(400, "bad-json", "The body must be a JSON object");
    }
    for (const std::string& key : json.getMemberNames())
    {
      if (key != "modality" && key != "studies" && key != "patient" && key != "newUids" &&
          key != "keepNamespacedPatientId" && key != "accessionNumber" && key != "candidate" &&
          key != "confirmMismatch")
      {
        throw ApiError(400, "invalid-field", "Unknown field \"" + key + "\"");
      }
    }
    ReleaseRequest r;
    r.modality = GetText(json, "modality");
    if (r.modality.empty())
    {
      throw ApiError(400, "invalid-field", "\"modality\" names the target (DicomModalities)");
    }
    if (json.isMember("studies"))
    {
      if (!json["studies"].isArray())
      {
        throw ApiError(400, "invalid-field", "\"studies\" must be a list of Orthanc study ids");
      }
      for (const Json::Value& study : json["studies"])
      {
        if (!study.isString() || study.asString().empty())
        {
          throw ApiError(400, "invalid-field", "\"studies\" must be a list of Orthanc study ids");
        }
        r.studies.push_back(study.asString());
      }
    }
    if (json.isMember("patient"))
    {
      const Json::Value& patient = json["patient"];
      if (!patient.isObject())
      {
        throw ApiError(400, "invalid-field", "\"patient\" must be an object");
      }
      JsonFields::CheckKeys(patient, "patient.", {"id", "name", "birthDate", "sex", "issuer"});
      r.patientId = GetText(patient, "id");
      r.patientName = GetText(patient, "name");
      r.patientBirthDate = GetText(patient, "birthDate");
      r.patientSex = GetText(patient, "sex");
      r.hasIssuer = patient.isMember("issuer");
      r.patientIssuer = GetText(patient, "issuer");
    }
    r.accessionNumber = GetText(json, "accessionNumber");
    if (json.isMember("candidate"))
    {
      const Json::Value& candidate = json["candidate"];
      if (!candidate.isObject())
      {
        throw ApiError(400, "invalid-field", "\"candidate\" must be an object {source, score}");
      }
      JsonFields::CheckKeys(candidate, "candidate.", {"source", "score"});
      r.candidateSource = GetText(candidate, "source");
      if (r.candidateSource.empty() || !candidate.isMember("score") ||
          !candidate["score"].isIntegral() || candidate["score"].asLargestInt() < 0 ||
          candidate["score"].asLargestInt() > 100)
      {
        throw ApiError(400, "invalid-field",
                       "\"candidate\" names its source and a score from 0 to 100");
      }
      r.candidateScore = static_cast<int>(candidate["score"].asLargestInt());
      CheckText(r.candidateSource, 64, 64, "\"candidate.source\"");
    }
    r.newUids = GetFlag(json, "newUids");
    r.keepNamespacedPatientId = GetFlag(json, "keepNamespacedPatientId");
    r.confirmMismatch = GetFlag(json, "confirmMismatch");

    CheckText(r.patientId, 64, 64, "The PatientID");
    CheckText(r.patientName, 200, 200, "The name");
    CheckText(r.patientIssuer, 256, 64, "\"patient.issuer\"");
    CheckText(r.accessionNumber, 64, 16, "\"accessionNumber\"");
    if (!r.patientSex.empty() && r.patientSex != "M" && r.patientSex != "F" && r.patientSex != "O")
    {
      throw ApiError(400, "invalid-field", "\"patient.sex\" must be \"M\", \"F\" or \"O\"");
    }
    if (!r.patientBirthDate.empty() && !Coercion::IsDate(r.patientBirthDate))
    {
      throw ApiError(400, "invalid-field", "\"birthDate\" must be a date like 19700131");
    }
    if (r.keepNamespacedPatientId && !r.patientId.empty())
    {
      throw ApiError(400, "invalid-field",
                     "Either the hospital's PatientID or keepNamespacedPatientId, not both");
    }
    if (r.keepNamespacedPatientId &&
        (!r.patientSex.empty() || r.hasIssuer || !r.accessionNumber.empty() ||
         r.candidateScore >= 0))
    {
      throw ApiError(400, "invalid-field",
                     "sex, issuer, accessionNumber and candidate belong to the hospital's "
                     "identity, not to keepNamespacedPatientId");
    }
    if (!r.keepNamespacedPatientId && r.patientId.empty())
    {
      throw ApiError(400, "reconciliation-required",
                     "Give the hospital's PatientID (patient.id), or set keepNamespacedPatientId "
                     "to send the study with its namespaced PatientID");
    }
    return r;
  }
}
