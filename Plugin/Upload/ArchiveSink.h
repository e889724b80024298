// Where files go on Standalone and Internal: isolated, stored in this Orthanc, with metadata.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Upload/IOrthancStore.h"
#include "Upload/IUploadSink.h"

namespace Inbound
{
  // Isolates each file into its upload's patient namespace and stores it in this Orthanc,
  // with the metadata of doc/Api.md ("Orthanc metadata written") on the instance and, once per
  // study, on the study.
  class ArchiveSink : public IUploadSink
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    IOrthancStore& store_;

    void WriteStudyMetadata(const UploadRecord& upload, const ItemRecord& item);

  public:
    ArchiveSink(const Configuration& configuration, Ledger& ledger, IOrthancStore& store);

    void Keep(const UploadRecord& upload, ItemRecord& item, Orthanc::ParsedDicomFile* dicom,
              const void* body, size_t size) override;

    // Deletes exactly the instances that the upload stored (Orthanc drops parents left
    // empty), never a whole patient or study: nothing of another upload or of the hospital.
    void Remove(const std::string& uploadId, const std::vector<ItemRecord>& items) override;

    bool StoresInOrthanc() const override
    {
      return true;
    }

    // The study-level "InboundSender" document.
    static Json::Value DescribeSender(const Configuration& configuration,
                                      const UploadRecord& upload, int64_t receivedAt);
  };
}
