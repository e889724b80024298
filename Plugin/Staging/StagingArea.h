// The gateway's staging area: the exact bytes sent, one file per item, written atomically.
#pragma once

#include "Staging/StagingSealer.h"
#include "Upload/IUploadSink.h"

#include <boost/noncopyable.hpp>

#include <string>

namespace Inbound
{
  // The gateway's staging area: the exact bytes each sender sent, one folder per upload, one
  // file per item named by its SHA-256. Written atomically (temporary file, fsync, rename,
  // fsync of the folder), so a crash leaves either the whole file or none of it. With a
  // sealer, each file is the envelope of those bytes (still named by the SHA-256 of the bytes
  // sent), and the ledger gets the sender's fields sealed and no patient data of the items.
  class StagingArea : public IUploadSink, public boost::noncopyable
  {
  private:
    std::string root_;
    const StagingSealer* sealer_;  // null: plain text (no Inbound.Sealing.PublicKeys)

    std::string GetFolder(const std::string& uploadId) const;

  public:
    explicit StagingArea(const std::string& root, const StagingSealer* sealer = nullptr);

    const StagingSealer* GetSealer() const
    {
      return sealer_;
    }

    const std::string& GetRoot() const
    {
      return root_;
    }

    std::string GetPath(const std::string& uploadId, const std::string& sha256) const;

    void Write(const std::string& uploadId, const std::string& sha256, const void* data,
               size_t size);

    // False if the item is not staged; the content (an envelope when sealed) is not checked.
    bool Read(std::string& target, const std::string& uploadId, const std::string& sha256) const;

    bool Exists(const std::string& uploadId, const std::string& sha256) const;

    void RemoveUpload(const std::string& uploadId);

    // Overwrites a file's bytes with zeros in place (fsync), before it is replaced or removed,
    // so that plain text does not stay in the disk's free blocks where the file system writes
    // in place (not on copy-on-write file systems, nor below an SSD's wear levelling).
    static void Scrub(const std::string& path);

    // Bytes held on disk by the staging area.
    uint64_t ComputeSize() const;

    void Keep(const UploadRecord& upload, ItemRecord& item, Orthanc::ParsedDicomFile* dicom,
              const void* body, size_t size) override;

    void Remove(const std::string& uploadId, const std::vector<ItemRecord>& items) override
    {
      RemoveUpload(uploadId);
    }

    bool StoresInOrthanc() const override
    {
      return false;
    }

    void SealFields(UploadRecord& record) const override;
  };
}
