// Validates an uploaded file as DICOM Part 10 and parses it, after DicomGuard's walk.
#pragma once

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include <DicomParsing/ParsedDicomFile.h>

#include "Toolbox/MappedFile.h"
#include "Upload/DicomGuard.h"

#include <memory>
#include <string>

namespace Inbound
{
  // What the plugin needs to know about one received file.
  struct DicomSummary
  {
    std::string sopInstanceUid;
    std::string sopClassUid;  // (0008,0016), "" when absent (a partner's STOW-RS answer names it)
    std::string seriesInstanceUid;
    std::string studyInstanceUid;
    std::string patientId;       // as sent, decoded to UTF-8 losing no character (DicomText)
    std::string patientIdBytes;  // the element's raw bytes, padding stripped; "" when absent
    bool patientIdExact = true;  // "patientId" is the decoding under the declared charset
    std::string patientName;     // decoded the same way
    std::string patientBirthDate;
    std::string modality;
    std::string studyDate;
    std::string studyDescription;
    std::string transferSyntax;
  };

  // Untrusted bytes that DicomGuard has walked: only DicomInspector::Check makes one, so that
  // nothing reaches Parse unchecked. Refers to the bytes, does not copy them.
  class CheckedDicom
  {
  private:
    const void* data_;
    size_t size_;
    uint64_t parsedBytes_;
    size_t copyablePixelData_;  // DicomGuard::CheckDataset's; 0: the file is parsed whole

    CheckedDicom(const void* data, size_t size, uint64_t parsedBytes, size_t copyablePixelData) :
      data_(data),
      size_(size),
      parsedBytes_(parsedBytes),
      copyablePixelData_(copyablePixelData)
    {
    }

    friend class DicomInspector;

  public:
    size_t GetSize() const
    {
      return size_;
    }

    // What the file takes once parsed (DicomGuard::Check): more than its size when deflated.
    uint64_t GetParsedBytes() const
    {
      return parsedBytes_;
    }
  };

  // An untrusted file on disk that DicomGuard has walked (DicomInspector::CheckFile): holds
  // its read-only mapping, so that the walk read the headers of the file and nothing else.
  // Move-only; only DicomInspector makes one, so that nothing reaches ParseFile unchecked.
  class CheckedDicomFile
  {
  private:
    std::unique_ptr<MappedFile> mapping_;
    uint64_t parsedBytes_;

    CheckedDicomFile(std::unique_ptr<MappedFile> mapping, uint64_t parsedBytes) :
      mapping_(std::move(mapping)),
      parsedBytes_(parsedBytes)
    {
    }

    friend class DicomInspector;

  public:
    const std::string& GetPath() const
    {
      return mapping_->GetPath();
    }

    uint64_t GetSize() const
    {
      return mapping_->GetSize();
    }

    // As CheckedDicom::GetParsedBytes: the file's size, or more when deflated. ParseFile
    // itself holds much less for a file that is not deflated (values over 4 KiB stay on disk
    // until the parse is written), but writing it holds them all.
    uint64_t GetParsedBytes() const
    {
      return parsedBytes_;
    }

    const MappedFile& GetMapping() const
    {
      return *mapping_;
    }
  };

  // Validates untrusted bytes as a DICOM Part 10 file and parses them (DCMTK through the
  // Orthanc framework), after DicomGuard has walked their structure within `limits`. Two
  // steps, so that the caller can reserve the memory of a file that parses bigger than it is
  // (a deflated one) before DCMTK takes it. Refusals are ApiErrors: 400 not-dicom,
  // 400 invalid-dicom, 413 too-large, 422 dicomdir.
  class DicomInspector
  {
  public:
    static CheckedDicom Check(const void* data, size_t size, const DicomGuardLimits& limits);

    // A file that ends with pixel data that DCMTK would write back as sent (DicomGuard::
    // CheckDataset) is parsed up to it only: the summary and every check read the elements
    // before it, and the rewrite copies it from the body (LookupUnparsedPixelData), which
    // must then outlive the parse. Every other file is parsed whole.
    static std::unique_ptr<Orthanc::ParsedDicomFile> Parse(DicomSummary& summary,
                                                           const CheckedDicom& file);

    // For a parse that Parse stopped before the pixel data of "body": true, and where that
    // element (tag, VR, length, value) starts in "body", to be written after the parse
    // (DicomWriter::SaveAndRelease). False for a file parsed whole. Throws InternalError for
    // a body other than the one parsed (or none): the image would be lost.
    static bool LookupUnparsedPixelData(size_t& offset, Orthanc::ParsedDicomFile& dicom,
                                        const void* body, size_t size);

    // Check, for a file on disk (an assembled upload): DicomGuard walks its read-only mapping
    // (MADV_RANDOM), reading the headers and skipping the values, so that a 1 GB file costs
    // a few pages of memory. The same refusals as Check; a file that cannot be opened throws
    // Orthanc's InexistentFile.
    static CheckedDicomFile CheckFile(const std::string& path, const DicomGuardLimits& limits);

    // Parse, for a checked file on disk, with the same summary and refusals: DCMTK loads the
    // file with values over 4 KiB left on disk (read when the parse is written or they are
    // asked for), so the file must stay at its path, unchanged, until the parse is freed. A
    // deflated dataset cannot be read in place: DCMTK inflates it whole in memory (at most
    // Upload.MaxFileBytes: DicomGuard's cap, see GetParsedBytes).
    static std::unique_ptr<Orthanc::ParsedDicomFile> ParseFile(DicomSummary& summary,
                                                               const CheckedDicomFile& file);
  };
}
