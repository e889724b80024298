// Writes a parsed DICOM file into a Part 10 buffer without first copying its whole dataset.
#include "DicomWriter.h"

#include "Upload/DicomInspector.h"

#include <DicomParsing/ParsedDicomFile.h>
#include <OrthancException.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>

#include <memory>

namespace Inbound
{
  namespace
  {
    // Writes the dataset, then "tail" after it.
    void Write(std::string& target, Orthanc::ParsedDicomFile& dicom, const void* tail,
               size_t tailSize)
    {
      std::unique_ptr<DcmDataset> dataset(dicom.GetDcmtkObject().getAndRemoveDataset());
      if (dataset.get() == nullptr)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        "The parsed file has no dataset to write");
      }
      // As Orthanc: the transfer syntax the dataset is in, explicit little endian if unknown.
      E_TransferSyntax syntax = dataset->getCurrentXfer();
      if (syntax == EXS_Unknown)
      {
        syntax = EXS_LittleEndianExplicit;
      }
      // A new file object with an empty meta group takes the dataset over (no copy).
      DcmFileFormat file(dataset.release(), OFFalse);
      file.validateMetaInfo(syntax);
      file.removeInvalidGroups();

      const E_EncodingType encoding = EET_ExplicitLength;
      // One allocation at the final size; only the header's part is zeroed first, the tail
      // is appended into the capacity reserved.
      const size_t bound = file.calcElementLength(syntax, encoding);
      target.clear();
      target.reserve(bound + tailSize);
      target.resize(bound);
      DcmOutputBufferStream stream(bound == 0 ? nullptr : &target[0], bound);
      DcmWriteCache cache;
      file.transferInit();
      const OFCondition written = file.write(stream, syntax, encoding, &cache, EGL_recalcGL,
                                             EPD_noChange, 0, 0, 0, EWM_updateMeta);
      file.transferEnd();
      if (written.bad())
      {
        target.clear();
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        std::string("DCMTK cannot write the file: ") +
                                          written.text());
      }
      stream.flush();
      const offile_off_t length = stream.tell();
      if (length >= 0 && static_cast<size_t>(length) < bound)
      {
        target.resize(static_cast<size_t>(length));  // the computed length is an upper bound
      }
      if (tailSize > 0)
      {
        target.append(static_cast<const char*>(tail), tailSize);
      }
    }
  }

  namespace DicomWriter
  {
    void SaveAndRelease(std::string& target, Orthanc::ParsedDicomFile& dicom)
    {
      SaveAndRelease(target, dicom, nullptr, 0);
    }

    void SaveAndRelease(std::string& target, Orthanc::ParsedDicomFile& dicom, const void* body,
                        size_t size)
    {
      // Throws for a parse of another body, or of a body not given.
      size_t pixelData = 0;
      if (!DicomInspector::LookupUnparsedPixelData(pixelData, dicom, body, size))
      {
        Write(target, dicom, nullptr, 0);
        return;
      }
      // DCMTK writes a dataset's elements in tag order: the element copied last must be the
      // highest (the isolation adds none above it; this keeps it so).
      DcmDataset* dataset = dicom.GetDcmtkObject().getDataset();
      const DcmElement* last =
        (dataset == nullptr || dataset->card() == 0 ? nullptr
                                                    : dataset->getElement(dataset->card() - 1));
      const E_TransferSyntax syntax = (dataset == nullptr ? EXS_Unknown : dataset->getCurrentXfer());
      if (syntax != EXS_LittleEndianExplicit && syntax != EXS_LittleEndianImplicit)
      {
        // The element copied is encoded in one of these (DicomGuard::CheckDataset).
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        "The pixel data copied is not in the dataset's encoding");
      }
      if (last != nullptr && !(last->getTag() < DCM_PixelData))
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        "The dataset holds an element at or after the pixel "
                                        "data that is copied after it");
      }
      Write(target, dicom, static_cast<const uint8_t*>(body) + pixelData, size - pixelData);
    }
  }
}
