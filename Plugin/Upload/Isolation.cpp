#include "Isolation.h"

#include "Upload/TextRules.h"

#include <DicomFormat/DicomTag.h>

namespace Inbound
{
  namespace
  {
    const size_t kLongStringCharacters = 64;
    const Orthanc::DicomTag kIssuerOfPatientId(0x0010, 0x0021);
  }

  std::string Isolation::MakePatientId(const std::string& prefix, const std::string& uploadId,
                                       const std::string& originalPatientId)
  {
    return TextRules::Truncate(prefix + uploadId + "-" + originalPatientId,
                               kLongStringCharacters);
  }

  std::string Isolation::MakeIssuer(const std::string& uploadId)
  {
    return "ORTHANC-INBOUND " + uploadId;
  }

  void Isolation::Apply(Orthanc::ParsedDicomFile& dicom, const std::string& isolatedPatientId,
                        const std::string& uploadId)
  {
    // ReplacePlainString converts from UTF-8 to the file's Specific Character Set.
    dicom.ReplacePlainString(Orthanc::DICOM_TAG_PATIENT_ID, isolatedPatientId);
    dicom.ReplacePlainString(kIssuerOfPatientId, MakeIssuer(uploadId));
  }
}
