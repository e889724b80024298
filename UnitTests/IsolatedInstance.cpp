// Makes the unit tests' isolated instances with DCMTK and the plugin's own isolation.
#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "IsolatedInstance.h"

#include "Upload/Isolation.h"

#include <DicomParsing/ParsedDicomFile.h>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <stdexcept>

namespace InboundTests
{
  namespace
  {
    void Put(DcmItem& item, const DcmTagKey& tag, const std::string& value)
    {
      if (item.putAndInsertString(tag, value.c_str(), OFTrue).bad())
      {
        throw std::runtime_error("test file: cannot write an element");
      }
    }
  }

  std::string IsolatedInstance::Make() const
  {
    DcmDataset dataset;
    if (!charset.empty())
    {
      Put(dataset, DCM_SpecificCharacterSet, charset);
    }
    Put(dataset, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
    Put(dataset, DCM_SOPInstanceUID, sopUid);
    Put(dataset, DCM_StudyInstanceUID, studyUid);
    Put(dataset, DCM_SeriesInstanceUID, seriesUid);
    Put(dataset, DCM_Modality, "OT");
    Put(dataset, DCM_PatientID, senderPatientId);
    if (!senderIssuer.empty())
    {
      Put(dataset, DCM_IssuerOfPatientID, senderIssuer);
    }
    if (senderQualifiers)
    {
      DcmItem* qualifiers = nullptr;
      dataset.findOrCreateSequenceItem(DCM_IssuerOfPatientIDQualifiersSequence, qualifiers, 0);
      Put(*qualifiers, DCM_UniversalEntityID, "2.999.1");
      Put(*qualifiers, DCM_UniversalEntityIDType, "ISO");
    }
    if (!name.empty())
    {
      Put(dataset, DCM_PatientName, name);
    }
    Put(dataset, DCM_PatientBirthDate, birthDate);
    Put(dataset, DCM_PatientSex, sex);
    Put(dataset, DCM_AccessionNumber, accessionNumber);
    Put(dataset, DCM_StudyDescription, studyDescription);
    if (earlierItem)
    {
      DcmItem* item = nullptr;
      dataset.findOrCreateSequenceItem(DCM_OriginalAttributesSequence, item, 0);
      DcmItem* modified = nullptr;
      item->findOrCreateSequenceItem(DCM_ModifiedAttributesSequence, modified, 0);
      Put(*modified, DCM_PatientID, "EARLIER-ID");
      Put(*item, DCM_ModifyingSystem, "SOME-PACS");
      Put(*item, DCM_ReasonForTheAttributeModification, "CORRECT");
      Put(*item, DCM_AttributeModificationDateTime, "20200101120000");
      Put(*item, DCM_SourceOfPreviousValues, "");
    }
    if (otherPatientIds)
    {
      DcmItem* item = nullptr;
      dataset.findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, item, 0);
      Put(*item, DCM_PatientID, "EXT-555");
      Put(*item, DCM_IssuerOfPatientID, "CLINIC-X");
      Put(*item, DCM_TypeOfPatientID, "TEXT");
    }
    Put(dataset, DCM_Rows, "8");
    Put(dataset, DCM_Columns, "8");
    Put(dataset, DCM_BitsAllocated, "8");
    Put(dataset, DCM_BitsStored, "8");
    Put(dataset, DCM_HighBit, "7");
    Put(dataset, DCM_PixelRepresentation, "0");
    Put(dataset, DCM_SamplesPerPixel, "1");
    Put(dataset, DCM_PhotometricInterpretation, "MONOCHROME2");
    Uint8 pixels[64];
    for (int i = 0; i < 64; i++)
    {
      pixels[i] = static_cast<Uint8>(i * 3 + 1);
    }
    dataset.putAndInsertUint8Array(DCM_PixelData, pixels, 64);

    // As the upload path isolates it (a well-formed upload id, then the issuer this test
    // names, so that any upload id of a test ledger can be used).
    Inbound::Isolation::Apply(dataset, "INB-ABCDEFGHJKLM-1", "ABCDEFGHJKLM", "Sender Hospital",
                              "20261204203512.123456+0000");
    Put(dataset, DCM_IssuerOfPatientID, Inbound::Isolation::MakeIssuer(uploadId));
    std::string bytes;
    Orthanc::ParsedDicomFile(dataset).SaveToMemoryBuffer(bytes);
    return bytes;
  }

  std::unique_ptr<DcmFileFormat> ParseDicom(const std::string& bytes)
  {
    DcmInputBufferStream stream;
    stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
    stream.setEos();
    std::unique_ptr<DcmFileFormat> file(new DcmFileFormat);
    file->transferInit();
    if (file->read(stream).bad())
    {
      throw std::runtime_error("test file: not DICOM");
    }
    file->transferEnd();
    return file;
  }

  std::string GetRaw(DcmItem& item, const DcmTagKey& tag)
  {
    OFString value;
    return item.findAndGetOFStringArray(tag, value, OFFalse).good() ? value.c_str() : "";
  }

  std::string GetPixels(DcmItem& item)
  {
    const Uint8* pixels = nullptr;
    unsigned long count = 0;
    if (item.findAndGetUint8Array(DCM_PixelData, pixels, &count).bad() || pixels == nullptr)
    {
      return "";
    }
    return std::string(reinterpret_cast<const char*>(pixels), count);
  }
}
