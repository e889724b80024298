// Parses and checks the body of a release: fields, DICOM text, the reconciliation choice.
#include "ReleaseRequest.h"

#include "Http/ApiError.h"
#include "Toolbox/Json.h"
#include "Upload/JsonFields.h"

#include <boost/regex.hpp>

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
          key != "keepNamespacedPatientId")
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
      r.patientId = GetText(patient, "id");
      r.patientName = GetText(patient, "name");
      r.patientBirthDate = GetText(patient, "birthDate");
    }
    r.newUids = GetFlag(json, "newUids");
    r.keepNamespacedPatientId = GetFlag(json, "keepNamespacedPatientId");

    static const boost::regex kDate("(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])");
    if (!JsonFields::IsDicomText(r.patientId, 64) || !JsonFields::IsDicomText(r.patientName, 200))
    {
      throw ApiError(400, "invalid-field",
                     "The PatientID (at most 64 characters) or name contains characters DICOM does not allow");
    }
    if (!r.patientBirthDate.empty() && !boost::regex_match(r.patientBirthDate, kDate))
    {
      throw ApiError(400, "invalid-field", "\"birthDate\" must be a date like 19700131");
    }
    if (r.keepNamespacedPatientId && !r.patientId.empty())
    {
      throw ApiError(400, "invalid-field",
                     "Either the hospital's PatientID or keepNamespacedPatientId, not both");
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
