// What the upload logic needs from Orthanc, as an interface (a fake in unit tests).
#pragma once

#include <cstdint>
#include <string>

namespace Inbound
{
  enum ResourceLevel
  {
    ResourceLevel_Patient,
    ResourceLevel_Study,
    ResourceLevel_Series,
    ResourceLevel_Instance
  };

  struct StoredInstance
  {
    std::string instanceId;
    std::string seriesId;
    std::string studyId;
    std::string patientId;
    bool alreadyStored = false;
  };

  // What the upload logic needs from Orthanc. The plugin implements it with Orthanc's REST
  // API (Plugin/Orthanc/); unit tests with a fake.
  class IOrthancStore
  {
  public:
    virtual ~IOrthancStore() = default;

    // Stores a DICOM file as "POST /instances" does; throws on refusal.
    virtual StoredInstance StoreInstance(const std::string& dicom) = 0;

    // The largest instance Orthanc takes from a plugin (OrthancPluginRestApiPost: 32 bits).
    static constexpr uint64_t kMaxInstanceBytes = 0xffffffffu;

    // False if the resource has no such metadata.
    virtual bool LookupMetadata(std::string& value, ResourceLevel level, const std::string& id,
                                const std::string& name) = 0;

    virtual void SetMetadata(ResourceLevel level, const std::string& id, const std::string& name,
                             const std::string& value) = 0;

    // Removes a resource and everything below it; a missing resource is not an error.
    virtual void DeleteResource(ResourceLevel level, const std::string& id) = 0;
  };
}
