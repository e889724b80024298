// Checks the Part 10 header, runs DicomGuard, then parses with DCMTK and reads the summary.
#include "DicomInspector.h"

#include "Http/ApiError.h"
#include "Upload/DicomText.h"

#include <DicomFormat/DicomTag.h>
#include <OrthancException.h>

#include <algorithm>
#include <limits>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>

namespace Inbound
{
  namespace
  {
    ApiError Dicomdir()
    {
      return ApiError(422, "dicomdir",
                      "This is a DICOMDIR (the index of a CD), not an image; it is skipped");
    }

    std::string Get(const Orthanc::ParsedDicomFile& dicom, const Orthanc::DicomTag& tag)
    {
      std::string value;
      if (!dicom.GetTagValue(value, tag))
      {
        return "";
      }
      // DICOM pads values to an even length with a space.
      const size_t end = value.find_last_not_of(' ');
      return end == std::string::npos ? "" : value.substr(0, end + 1);
    }

    // Longest UID and PatientID accepted (see Summarize).
    const size_t kMaxUidBytes = 256;
    const size_t kMaxPatientIdBytes = 1024;

    // What DicomInspector::Parse and ParseFile read of a parsed file; refuses a DICOMDIR and
    // a file without its UIDs.
    void Summarize(DicomSummary& summary, Orthanc::ParsedDicomFile& dicom)
    {
      DcmMetaInfo* meta = dicom.GetDcmtkObject().getMetaInfo();
      OFString mediaClass;
      if (meta != nullptr && meta->findAndGetOFString(DCM_MediaStorageSOPClassUID, mediaClass).good() &&
          mediaClass == UID_MediaStorageDirectoryStorage)
      {
        throw Dicomdir();
      }

      summary.sopInstanceUid = Get(dicom, Orthanc::DICOM_TAG_SOP_INSTANCE_UID);
      summary.sopClassUid = Get(dicom, Orthanc::DICOM_TAG_SOP_CLASS_UID);
      summary.seriesInstanceUid = Get(dicom, Orthanc::DICOM_TAG_SERIES_INSTANCE_UID);
      summary.studyInstanceUid = Get(dicom, Orthanc::DICOM_TAG_STUDY_INSTANCE_UID);
      if (summary.sopInstanceUid.empty() || summary.seriesInstanceUid.empty() ||
          summary.studyInstanceUid.empty())
      {
        throw ApiError(400, "invalid-dicom",
                       "The DICOM file lacks its SOP Instance, Series or Study Instance UID");
      }
      // The UIDs and the PatientID are keys of the ledger and of Orthanc's index (a
      // PostgreSQL index entry holds at most ~2.7 KB): bounded well above what the standard
      // allows (64 characters each) so that slightly broken files still pass, and refused
      // here, before anything is recorded, rather than by a database (doc/Security.md).
      if (summary.sopInstanceUid.size() > kMaxUidBytes || summary.sopClassUid.size() > kMaxUidBytes ||
          summary.seriesInstanceUid.size() > kMaxUidBytes ||
          summary.studyInstanceUid.size() > kMaxUidBytes)
      {
        throw ApiError(400, "invalid-dicom",
                       "A UID of the DICOM file is longer than " + std::to_string(kMaxUidBytes) +
                         " characters (the standard allows 64)");
      }

      // Not Orthanc's decoding, which drops what it cannot convert (two PatientIDs could read
      // the same): the bytes as sent, and a decoding that keeps every one of them.
      DcmDataset& dataset = *dicom.GetDcmtkObject().getDataset();
      std::string charset;
      DicomText::ReadRaw(charset, dataset, DCM_SpecificCharacterSet);
      DicomText::ReadRaw(summary.patientIdBytes, dataset, DCM_PatientID);
      if (summary.patientIdBytes.size() > kMaxPatientIdBytes)
      {
        throw ApiError(400, "invalid-dicom",
                       "The DICOM file's PatientID is longer than " +
                         std::to_string(kMaxPatientIdBytes) + " bytes (the standard allows 64 "
                         "characters)");
      }
      const DicomText::Decoded patientId = DicomText::Decode(summary.patientIdBytes, charset);
      summary.patientId = patientId.text;
      summary.patientIdExact = patientId.exact;
      std::string patientName;
      DicomText::ReadRaw(patientName, dataset, DCM_PatientName);
      summary.patientName = DicomText::Decode(patientName, charset).text;
      summary.patientBirthDate = Get(dicom, Orthanc::DICOM_TAG_PATIENT_BIRTH_DATE);
      summary.modality = Get(dicom, Orthanc::DICOM_TAG_MODALITY);
      summary.studyDate = Get(dicom, Orthanc::DICOM_TAG_STUDY_DATE);
      summary.studyDescription = Get(dicom, Orthanc::DICOM_TAG_STUDY_DESCRIPTION);
      Orthanc::DicomTransferSyntax syntax;
      summary.transferSyntax =
        dicom.LookupTransferSyntax(syntax) ? Orthanc::GetTransferSyntaxUid(syntax) : "";
    }

    // Values longer than this stay in the file when DCMTK loads it (ParseFile).
    const Uint32 kMaxReadLength = 4096;

    // A parse of the bytes before a file's pixel data: the parse carries which body it left
    // unread, so that the rewrite cannot drop the image (LookupUnparsedPixelData).
    class HeaderOnlyFileFormat : public DcmFileFormat
    {
    public:
      const void* body;
      size_t size;
      size_t pixelData;  // where the element starts in "body"; it runs to the body's end

      HeaderOnlyFileFormat(const void* body, size_t size, size_t pixelData) :
        body(body),
        size(size),
        pixelData(pixelData)
      {
      }
    };

    // FromDcmtkBridge::LoadFromMemoryBuffer (the parse of Orthanc's ParsedDicomFile of a
    // buffer) over the bytes before the pixel data: the same DCMTK read, which ends where
    // they end, as it ends at the end of a whole file.
    std::unique_ptr<Orthanc::ParsedDicomFile> ParseHeader(const void* body, size_t size,
                                                          size_t pixelData)
    {
      DcmInputBufferStream stream;
      stream.setBuffer(body, pixelData);
      stream.setEos();
      std::unique_ptr<HeaderOnlyFileFormat> format(new HeaderOnlyFileFormat(body, size, pixelData));
      format->transferInit();
      const OFCondition read =
        format->read(stream, EXS_Unknown, EGL_noChange, static_cast<Uint32>(std::min<size_t>(
                                                          size, std::numeric_limits<Uint32>::max())));
      if (!read.good())
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_BadFileFormat);
      }
      format->loadAllDataIntoMemory();
      format->transferEnd();
      return std::unique_ptr<Orthanc::ParsedDicomFile>(
        Orthanc::ParsedDicomFile::AcquireDcmtkObject(format.release()));
    }
  }

  CheckedDicom DicomInspector::Check(const void* data, size_t size, const DicomGuardLimits& limits)
  {
    // Part 10 only: a 128-byte preamble and the "DICM" prefix (400 not-dicom). Raw datasets
    // without a file meta header carry no transfer syntax and cannot be kept "exactly as sent".
    const DicomFileMeta fileMeta = DicomGuard::ReadMeta(data, size);
    if (fileMeta.mediaStorageSopClass == UID_MediaStorageDirectoryStorage)
    {
      throw Dicomdir();  // before its dataset is even walked: it is never stored
    }

    // Before anything parses the bytes, here and in Orthanc when they are stored: DCMTK
    // recurses per nested sequence on this (civetweb's 100 KiB) stack and inflates deflated
    // datasets without a cap.
    size_t copyablePixelData = 0;
    const uint64_t parsedBytes =
      DicomGuard::CheckDataset(fileMeta, data, size, limits, copyablePixelData);
    return CheckedDicom(data, size, parsedBytes, copyablePixelData);
  }

  std::unique_ptr<Orthanc::ParsedDicomFile> DicomInspector::Parse(DicomSummary& summary,
                                                                  const CheckedDicom& file)
  {
    std::unique_ptr<Orthanc::ParsedDicomFile> dicom;
    try
    {
      if (file.copyablePixelData_ != 0)
      {
        // Only what the summary, the checks and the isolation read: moving the pixel data
        // into DCMTK and out again was most of the CPU time of a rewrite (issue 20).
        dicom = ParseHeader(file.data_, file.size_, file.copyablePixelData_);
      }
      else
      {
        dicom.reset(new Orthanc::ParsedDicomFile(file.data_, file.size_));
      }
    }
    catch (const Orthanc::OrthancException& e)
    {
      throw ApiError(400, "invalid-dicom", "The DICOM file cannot be read (truncated or damaged)");
    }
    Summarize(summary, *dicom);
    return dicom;
  }

  bool DicomInspector::LookupUnparsedPixelData(size_t& offset, Orthanc::ParsedDicomFile& dicom,
                                               const void* body, size_t size)
  {
    const HeaderOnlyFileFormat* header =
      dynamic_cast<const HeaderOnlyFileFormat*>(&dicom.GetDcmtkObject());
    if (header == nullptr)
    {
      return false;
    }
    if (header->body != body || header->size != size)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                      "The parse stopped before the pixel data of another body");
    }
    offset = header->pixelData;
    return true;
  }

  CheckedDicomFile DicomInspector::CheckFile(const std::string& path,
                                             const DicomGuardLimits& limits)
  {
    std::unique_ptr<MappedFile> mapping(new MappedFile(path, MappedFile::Access_Random));
    // The mapping holds the whole file: size_t must count its bytes.
    static_assert(sizeof(size_t) >= sizeof(uint64_t), "64-bit size_t needed to map big files");
    const CheckedDicom checked =
      Check(mapping->GetData(), static_cast<size_t>(mapping->GetSize()), limits);
    return CheckedDicomFile(std::move(mapping), checked.GetParsedBytes());
  }

  std::unique_ptr<Orthanc::ParsedDicomFile> DicomInspector::ParseFile(DicomSummary& summary,
                                                                      const CheckedDicomFile& file)
  {
    // The arguments of Orthanc's own parse of a memory buffer (FromDcmtkBridge), except that
    // long values are not read now: DCMTK notes where they are and reads them when needed.
    std::unique_ptr<DcmFileFormat> format(new DcmFileFormat);
    const OFCondition loaded = format->loadFile(OFFilename(file.GetPath().c_str()), EXS_Unknown,
                                                EGL_noChange, kMaxReadLength, ERM_autoDetect);
    if (!loaded.good())
    {
      throw ApiError(400, "invalid-dicom", "The DICOM file cannot be read (truncated or damaged)");
    }
    std::unique_ptr<Orthanc::ParsedDicomFile> dicom(
      Orthanc::ParsedDicomFile::AcquireDcmtkObject(format.release()));
    Summarize(summary, *dicom);
    return dicom;
  }
}
