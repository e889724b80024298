// Shared by the unit tests: a fake clock, a fake Orthanc store, small DICOM files, a configuration.
#pragma once

#include "Configuration.h"
#include "Ledger/Records.h"
#include "Toolbox/Time.h"
#include "Upload/IOrthancStore.h"
#include "Upload/UploadService.h"

#include <DicomParsing/ParsedDicomFile.h>

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace InboundTests
{
  class FakeClock : public Inbound::IClock
  {
  public:
    int64_t now = 1770000000000;  // 2026-02-02

    int64_t NowMs() const override
    {
      return now;
    }
  };

  // An Orthanc that keeps what it is given, with ids derived from the DICOM identifiers the
  // way Orthanc derives them (patient from PatientID, instance from all four).
  class FakeStore : public Inbound::IOrthancStore
  {
  public:
    struct Instance
    {
      std::string dicom;
      std::string patientId;  // the DICOM PatientID
      std::string orthancPatient;
      std::string orthancStudy;
    };

    std::map<std::string, Instance> instances;  // by Orthanc instance id
    std::map<std::string, std::map<std::string, std::string>> metadata;  // id -> name -> value
    std::set<std::string> deletedPatients;   // ids deleted at the patient level
    std::set<std::string> deletedInstances;  // ids deleted at the instance level
    int stores = 0;
    std::recursive_mutex mutex;  // the puller stores several items at once

    Inbound::StoredInstance StoreInstance(const std::string& dicom) override;

    bool LookupMetadata(std::string& value, Inbound::ResourceLevel level, const std::string& id,
                        const std::string& name) override
    {
      std::lock_guard<std::recursive_mutex> lock(mutex);
      auto found = metadata.find(id);
      if (found == metadata.end() || found->second.count(name) == 0)
        return false;
      value = found->second.at(name);
      return true;
    }

    void SetMetadata(Inbound::ResourceLevel level, const std::string& id,
                     const std::string& name, const std::string& value) override
    {
      std::lock_guard<std::recursive_mutex> lock(mutex);
      metadata[id][name] = value;
    }

    void DeleteResource(Inbound::ResourceLevel level, const std::string& id) override;
  };

  // An upload opened by Dr. A (a@example.org, recipient "neuro", message "stroke work-up"),
  // and one file sent to it, as the public API's handlers call the service.
  Inbound::ApiAnswer OpenTestUpload(Inbound::UploadService& service,
                                    const Inbound::ClientInfo& client);
  Inbound::ApiAnswer PutTestFile(Inbound::UploadService& service, const Inbound::ApiAnswer& upload,
                                 const std::string& file, const Inbound::ClientInfo& client);

  // A small valid DICOM Part 10 file.
  std::string MakeDicom(const std::string& patientId, const std::string& studyUid,
                        const std::string& seriesUid, const std::string& sopUid,
                        const std::string& modality = "CT");

  std::string MakeConfigurationJson();

  // The configuration that MakeConfigurationJson() describes, parsed; with "role" ("Gateway",
  // "Internal"), as that role.
  Inbound::Configuration MakeConfiguration(const std::string& role = "");

  // An upload as a gateway's manifest describes it ("ABCDEFGHJKLM", a@example.org from
  // 203.0.113.9), pulled from "gateway": for UploadService::BeginPulledUpload.
  Inbound::UploadRecord MakePulledUpload(const std::string& gateway);
}
