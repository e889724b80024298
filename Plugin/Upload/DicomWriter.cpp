// Writes a parsed DICOM file into a Part 10 buffer without first copying its whole dataset.
#include "DicomWriter.h"

#include <DicomParsing/ParsedDicomFile.h>
#include <OrthancException.h>

#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>

#include <memory>

namespace Inbound
{
  namespace DicomWriter
  {
    void SaveAndRelease(std::string& target, Orthanc::ParsedDicomFile& dicom)
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
      target.resize(file.calcElementLength(syntax, encoding));
      DcmOutputBufferStream stream(target.empty() ? nullptr : &target[0], target.size());
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
      if (length >= 0 && static_cast<size_t>(length) < target.size())
      {
        target.resize(static_cast<size_t>(length));  // the computed length is an upper bound
      }
    }
  }
}
