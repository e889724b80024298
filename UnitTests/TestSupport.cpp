// The fake Orthanc store's ids and deletions, small DICOM files, the test configuration, uploads.
#include "TestSupport.h"

#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"

#include <DicomFormat/DicomTag.h>
#include <DicomParsing/FromDcmtkBridge.h>

namespace InboundTests
{
  Inbound::ApiAnswer OpenTestUpload(Inbound::UploadService& service,
                                    const Inbound::ClientInfo& client)
  {
    const std::string body = R"({"sender": {"name": "Dr. A", "email": "a@example.org"},
      "recipient": "neuro", "message": "stroke work-up",
      "consent": {"version": "2026-01", "accepted": true}})";
    return service.Open(body.data(), body.size(), client);
  }

  Inbound::ApiAnswer PutTestFile(Inbound::UploadService& service, const Inbound::ApiAnswer& upload,
                                 const std::string& file, const Inbound::ClientInfo& client)
  {
    return service.PutFile(upload.body["id"].asString(), upload.body["token"].asString(),
                           Inbound::Crypto::Sha256Hex(file), file.data(), file.size(), client);
  }

  Inbound::StoredInstance FakeStore::StoreInstance(const std::string& dicom)
  {
    std::lock_guard<std::recursive_mutex> lock(mutex);
    stores++;
    Orthanc::ParsedDicomFile parsed(dicom);
    std::string patient, study, series, sop;
    parsed.GetTagValue(patient, Orthanc::DICOM_TAG_PATIENT_ID);
    parsed.GetTagValue(study, Orthanc::DICOM_TAG_STUDY_INSTANCE_UID);
    parsed.GetTagValue(series, Orthanc::DICOM_TAG_SERIES_INSTANCE_UID);
    parsed.GetTagValue(sop, Orthanc::DICOM_TAG_SOP_INSTANCE_UID);

    Inbound::StoredInstance stored;
    stored.patientId = "p-" + Inbound::Crypto::Sha256Hex(patient).substr(0, 16);
    stored.studyId = "st-" + Inbound::Crypto::Sha256Hex(patient + "|" + study).substr(0, 16);
    stored.seriesId = "se-" + Inbound::Crypto::Sha256Hex(patient + "|" + study + "|" + series).substr(0, 16);
    stored.instanceId =
      "i-" + Inbound::Crypto::Sha256Hex(patient + "|" + study + "|" + series + "|" + sop).substr(0, 16);
    stored.alreadyStored = instances.count(stored.instanceId) > 0;
    if (!stored.alreadyStored)
    {
      instances[stored.instanceId] = Instance{dicom, patient, stored.patientId, stored.studyId};
    }
    return stored;
  }

  void FakeStore::DeleteResource(Inbound::ResourceLevel level, const std::string& id)
  {
    std::lock_guard<std::recursive_mutex> lock(mutex);
    if (level == Inbound::ResourceLevel_Instance)
    {
      deletedInstances.insert(id);
      instances.erase(id);
      return;
    }
    deletedPatients.insert(id);
    for (auto it = instances.begin(); it != instances.end();)
    {
      it = (it->second.orthancPatient == id) ? instances.erase(it) : std::next(it);
    }
  }

  std::string MakeDicom(const std::string& patientId, const std::string& studyUid,
                        const std::string& seriesUid, const std::string& sopUid,
                        const std::string& modality)
  {
    Orthanc::ParsedDicomFile dicom(true);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_PATIENT_ID, patientId);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_PATIENT_NAME, "Test^Patient");
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_STUDY_INSTANCE_UID, studyUid);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_SERIES_INSTANCE_UID, seriesUid);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_SOP_INSTANCE_UID, sopUid);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_SOP_CLASS_UID, "1.2.840.10008.5.1.4.1.1.7");
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_MODALITY, modality);
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_STUDY_DATE, "20260512");
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_STUDY_DESCRIPTION, "Head");
    std::string buffer;
    dicom.SaveToMemoryBuffer(buffer);
    return buffer;
  }

  std::string MakeConfigurationJson()
  {
    return R"({
      "SiteName": "Test Hospital",
      "Privacy": {"Version": "2026-01", "Text": "We keep your data safe."},
      "Recipients": [{"Id": "neuro", "Name": "Neuroradiology", "Email": "neuro@hospital.example"}],
      "Upload": {"MaxFilesPerUpload": 5, "MaxFileBytes": 100000, "MaxBytesPerUpload": 200000,
                 "OpenTimeout": 60}
    })";
  }

  Inbound::Configuration MakeConfiguration(const std::string& role)
  {
    Json::Value section;
    std::string errors;
    Inbound::JsonText::ParseConfiguration(section, MakeConfigurationJson(), errors);
    if (!role.empty())
    {
      section["Role"] = role;
    }
    return Inbound::Configuration::Parse(section);
  }

  Inbound::UploadRecord MakePulledUpload(const std::string& gateway)
  {
    Inbound::UploadRecord pulled;
    pulled.id = "ABCDEFGHJKLM";
    pulled.sender.email = "a@example.org";
    pulled.clientIp = "203.0.113.9";
    pulled.gateway = gateway;
    return pulled;
  }
}
