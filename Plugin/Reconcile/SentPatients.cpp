// The patients of an upload as sent: ledger items by isolated PatientID, plus stored tags.
#include "Reconcile/SentPatients.h"

#include <algorithm>
#include <map>

namespace Inbound
{
  namespace SentPatients
  {
    namespace
    {
      const size_t kMaxStudiesRead = 20; // stored instances read per patient
      const size_t kMaxOtherIds = 16;

      void AddDistinct(std::vector<std::string>& values, const std::string& value, size_t max)
      {
        if (!value.empty() && values.size() < max &&
            std::find(values.begin(), values.end(), value) == values.end())
        {
          values.push_back(value);
        }
      }

      std::string Trim(const std::string& text)
      {
        const size_t first = text.find_first_not_of(' ');
        return first == std::string::npos
                   ? ""
                   : text.substr(first, text.find_last_not_of(' ') - first + 1);
      }

      std::string Text(const Json::Value& tags, const char* tag)
      {
        return tags.isObject() && tags.isMember(tag) && tags[tag].isString()
                   ? Trim(tags[tag].asString())
                   : "";
      }

      const Json::Value& Items(const Json::Value& tags, const char* tag)
      {
        static const Json::Value kNone(Json::arrayValue);
        return tags.isObject() && tags.isMember(tag) && tags[tag].isArray() ? tags[tag] : kNone;
      }
    } // namespace

    std::vector<SentPatient> FromItems(const std::vector<ItemRecord>& items)
    {
      std::vector<SentPatient> patients;
      std::map<std::string, size_t> index; // isolated PatientID -> position
      for (const ItemRecord& item : items)
      {
        if (item.isolatedPatientId.empty() || item.orthancStudyId.empty())
        {
          continue; // not stored in this Orthanc
        }
        auto found = index.find(item.isolatedPatientId);
        if (found == index.end())
        {
          SentPatient p;
          p.originalPatientId = item.originalPatientId;
          p.name = item.patientName;
          p.birthDate = item.patientBirthDate;
          p.isolatedPatientId = item.isolatedPatientId;
          found = index.emplace(item.isolatedPatientId, patients.size()).first;
          patients.push_back(p);
        }
        SentPatient& p = patients[found->second];
        AddDistinct(p.studies, item.orthancStudyId, items.size());
        AddDistinct(p.modalities, item.modality, items.size());
        AddDistinct(p.studyDates, item.studyDate, items.size());
      }
      return patients;
    }

    void AddInstanceTags(SentPatient& patient, const Json::Value& tags)
    {
      const std::string sex = Text(tags, "0010,0040");
      if (patient.sex.empty() && (sex == "M" || sex == "F" || sex == "O"))
      {
        patient.sex = sex;
      }
      AddDistinct(patient.accessionNumbers, Text(tags, "0008,0050"), kMaxStudiesRead);
      for (const Json::Value& item : Items(tags, "0010,1002")) // OtherPatientIDsSequence
      {
        AddDistinct(patient.otherPatientIds, Text(item, "0010,0020"), kMaxOtherIds);
      }
      const std::string others = Text(tags, "0010,1000"); // OtherPatientIDs, multi-valued
      size_t start = 0;
      while (start <= others.size())
      {
        const size_t end = std::min(others.find('\\', start), others.size());
        AddDistinct(patient.otherPatientIds, Trim(others.substr(start, end - start)), kMaxOtherIds);
        start = end + 1;
      }
      const Json::Value& original = Items(tags, "0400,0561"); // OriginalAttributesSequence
      for (Json::ArrayIndex i = original.size(); i-- > 0;)
      {
        if (Text(original[i], "0400,0563") == "ORTHANC-INBOUND") // ModifyingSystem
        {
          const Json::Value& modified = Items(original[i], "0400,0550");
          patient.issuer = modified.empty() ? "" : Text(modified[0], "0010,0021");
          break;
        }
      }
    }

    std::vector<SentPatient> Read(const std::vector<ItemRecord>& items, IOrthancRest& orthanc)
    {
      std::vector<SentPatient> patients = FromItems(items);
      for (SentPatient& patient : patients)
      {
        std::vector<std::string> studiesRead;
        size_t attempts = 0; // bounded also when instances cannot be read
        for (const ItemRecord& item : items)
        {
          if (item.isolatedPatientId != patient.isolatedPatientId ||
              item.orthancInstanceId.empty() || studiesRead.size() >= kMaxStudiesRead ||
              attempts >= 2 * kMaxStudiesRead ||
              std::find(studiesRead.begin(), studiesRead.end(), item.orthancStudyId) !=
                  studiesRead.end())
          {
            continue;
          }
          Json::Value tags;
          attempts++;
          if (orthanc.Get(tags, "/instances/" + item.orthancInstanceId + "/tags?short"))
          {
            studiesRead.push_back(item.orthancStudyId);
            AddInstanceTags(patient, tags);
          }
        }
      }
      return patients;
    }
  } // namespace SentPatients
} // namespace Inbound
