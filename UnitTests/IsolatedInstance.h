// Unit tests' isolated instances: a small image as the upload path stores it, and reading one back.
#pragma once

#include <dcmtk/dcmdata/dcfilefo.h>

#include <memory>
#include <string>

class DcmItem;
class DcmTagKey;

namespace InboundTests
{
  // A small secondary capture image (8x8, 8 bits) as a sender made it, then isolated as the
  // upload path does (Isolation::Apply): its PatientID is the namespaced one, its issuer
  // "ORTHANC-INBOUND <uploadId>" and OriginalAttributesSequence ends with the isolation's
  // item. Texts are raw bytes in "charset" (empty: none declared).
  struct IsolatedInstance
  {
    std::string uploadId = "ABCDEFGHJKLM";  // any text: only the issuer names it
    std::string charset;
    std::string senderPatientId = "P-1";
    std::string senderIssuer;               // empty: none sent
    bool senderQualifiers = false;          // an IssuerOfPatientIDQualifiersSequence sent
    std::string name = "DOE^JANE";
    std::string birthDate = "19700131";
    std::string sex = "F";
    std::string accessionNumber = "ACC-1";
    std::string studyDescription = "Head";
    bool earlierItem = false;               // the sender's own OriginalAttributesSequence item
    bool otherPatientIds = false;           // the sender's own OtherPatientIDsSequence item
    std::string studyUid = "1.2.3.4";
    std::string seriesUid = "1.2.3.4.5";
    std::string sopUid = "1.2.3.4.5.6";

    // The stored file's bytes (Part 10).
    std::string Make() const;
  };

  std::unique_ptr<DcmFileFormat> ParseDicom(const std::string& bytes);

  // The raw value of a top-level element ("" when absent).
  std::string GetRaw(DcmItem& item, const DcmTagKey& tag);

  // The pixel data's bytes.
  std::string GetPixels(DcmItem& item);
}
