// Where files go on Standalone and Internal: isolated, stored in this Orthanc, with metadata.
#pragma once

#include "Configuration.h"
#include "Ledger/Ledger.h"
#include "Toolbox/Time.h"
#include "Upload/IOrthancStore.h"
#include "Upload/IUploadSink.h"
#include "Upload/MetadataWriter.h"

namespace Inbound
{
  // Isolates each file into its upload's patient namespace and stores it in this Orthanc,
  // with the metadata of doc/Api.md ("Orthanc metadata written") on the instance and, once per
  // study, on the study, written by its MetadataWriter once the ledger has the item.
  class ArchiveSink : public IUploadSink
  {
  private:
    const Configuration& configuration_;
    Ledger& ledger_;
    IOrthancStore& store_;
    MetadataWriter metadata_;

    // The file moved into the upload's patient namespace (Isolation) and written, preamble
    // cleared; then stored in Orthanc ("item" gets the Orthanc ids and owes its metadata).
    // "body" is the file as sent, where a parse that stopped before the pixel data finds it.
    void Isolate(std::string& rewritten, const UploadRecord& upload, ItemRecord& item,
                 Orthanc::ParsedDicomFile& dicom, const void* body, size_t size);
    void Store(const UploadRecord& upload, ItemRecord& item, std::string& rewritten);

  public:
    ArchiveSink(const Configuration& configuration, Ledger& ledger, IOrthancStore& store,
                const IClock& clock);

    void Keep(const UploadRecord& upload, ItemRecord& item, Orthanc::ParsedDicomFile* dicom,
              const void* body, size_t size) override;

    // The parse is freed once the file is rewritten, before Orthanc stores it.
    void KeepFile(const UploadRecord& upload, ItemRecord& item,
                  std::unique_ptr<Orthanc::ParsedDicomFile> dicom, const std::string& path,
                  uint64_t size) override;

    // Deletes exactly the instances that the upload stored (Orthanc drops parents left
    // empty), never a whole patient or study: nothing of another upload or of the hospital.
    void Remove(const std::string& uploadId, const std::vector<ItemRecord>& items) override;

    bool StoresInOrthanc() const override
    {
      return true;
    }

    void Recorded(const ItemRecord& item) override;

    void Settle(const std::string& uploadId) override;

    // Its background loop is run by the plugin (PluginContext).
    MetadataWriter& GetMetadataWriter()
    {
      return metadata_;
    }
  };
}
