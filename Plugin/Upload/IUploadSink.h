// Where a checked file goes, as an interface: this Orthanc (isolated) or the staging area.
#pragma once

#include "Ledger/Records.h"

#include <DicomParsing/ParsedDicomFile.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace Inbound
{
  // Where a verified, validated file goes: into this Orthanc, isolated (Standalone, and the
  // Internal role after a pull), or into the staging area as the exact bytes sent (Gateway).
  class IUploadSink
  {
  public:
    virtual ~IUploadSink() = default;

    // Keeps one file and completes "item" with where it went. Must be idempotent: a retry
    // after a crash keeps the same file again without creating anything twice. "dicom": the
    // parsed file for a sink that StoresInOrthanc(); null for the others, for which it is
    // freed before (a sealing gateway's envelope must not add to the body and the parse:
    // doc/Configuration.md, "Memory per file").
    virtual void Keep(const UploadRecord& upload, ItemRecord& item, Orthanc::ParsedDicomFile* dicom,
                      const void* body, size_t size) = 0;

    // Keep() for a file on disk (assembled from its parts, or pulled in pieces) of "size"
    // bytes at "path", verified. "dicom" as for Keep(), parsed with its large values left in
    // the file: the file stays at "path", unchanged, until the sink frees the parse. The sink
    // may move the file away; the caller removes what is left at "path" afterwards.
    virtual void KeepFile(const UploadRecord& upload, ItemRecord& item,
                          std::unique_ptr<Orthanc::ParsedDicomFile> dicom, const std::string& path,
                          uint64_t size)
    {
      (void) upload;
      (void) item;
      (void) dicom;
      (void) path;
      (void) size;
      throw std::logic_error("This sink cannot keep a file from the disk");
    }

    // Removes everything that was kept for an upload; what is already gone is no error.
    virtual void Remove(const std::string& uploadId, const std::vector<ItemRecord>& items) = 0;

    // After the ledger recorded "item" (UploadStore::AddItem): a sink that owes Orthanc
    // metadata for it (item.metadataOwed) writes them now or soon (Upload/MetadataWriter.h).
    virtual void Recorded(const ItemRecord& item)
    {
      (void) item;
    }

    // Before the upload becomes complete: whatever it still owes is written now; throws
    // ApiError 503 if that cannot be done now (the upload then stays open).
    virtual void Settle(const std::string& uploadId)
    {
      (void) uploadId;
    }

    // Whether items are stored in this Orthanc (isolated PatientID and Orthanc ids are known).
    virtual bool StoresInOrthanc() const = 0;

    // Before a new upload is recorded: a sealing staging area seals what the sender typed
    // into "record.sealedFields" and empties it (doc/Security.md, "Sealed staging"); the
    // other sinks keep the record as it is.
    virtual void SealFields(UploadRecord& record) const
    {
    }
  };
}
