// The upload logic's view of Orthanc (store, metadata, delete), on the in-process REST API.
#pragma once

#include "Upload/IOrthancStore.h"

#include <orthanc/OrthancCPlugin.h>

namespace Inbound
{
  // IOrthancStore on Orthanc's own REST API, called in-process (no HTTP, no filter).
  class OrthancStore : public IOrthancStore
  {
  private:
    OrthancPluginContext* context_;

  public:
    explicit OrthancStore(OrthancPluginContext* context) :
      context_(context)
    {
    }

    StoredInstance StoreInstance(const std::string& dicom) override;

    bool LookupMetadata(std::string& value, ResourceLevel level, const std::string& id,
                        const std::string& name) override;

    void SetMetadata(ResourceLevel level, const std::string& id, const std::string& name,
                     const std::string& value) override;

    void DeleteResource(ResourceLevel level, const std::string& id) override;
  };
}
