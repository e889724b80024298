// Makes isolated PatientIDs and issuers; rewrites a dataset, recording the sender's values.
#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Isolation.h"

#include "Http/ApiError.h"
#include "Toolbox/UploadId.h"
#include "Upload/DicomText.h"

#include <OrthancException.h>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

namespace Inbound
{
  namespace
  {
    const size_t kLongStringCharacters = 64;
    const size_t kMaxPrefix = 16;

    bool IsIdCharacter(char c)
    {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }

    void Check(const OFCondition& condition, const char* what)
    {
      if (condition.bad())
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        std::string("Isolation cannot write ") + what + ": " +
                                          condition.text());
      }
    }

    // The sender's attribute as sent, or (absent) a zero-length one.
    void CopyOrEmpty(DcmItem& target, DcmDataset& source, const DcmTagKey& tag)
    {
      DcmElement* element = nullptr;
      if (source.findAndGetElement(tag, element, OFFalse).good() && element != nullptr)
      {
        Check(target.insert(static_cast<DcmElement*>(element->clone()), OFTrue), "a copy");
      }
      else
      {
        Check(target.insertEmptyElement(DcmTag(tag), OFTrue), "an empty attribute");
      }
    }

    // LO text that needs no conversion to be written into this dataset: ASCII, or any UTF-8
    // when the file declares UTF-8; anything else would be re-encoded, so it is left empty.
    std::string MakeSource(DcmDataset& dataset, const std::string& source)
    {
      std::string charset;
      DicomText::ReadRaw(charset, dataset, DCM_SpecificCharacterSet);
      const bool utf8 = (charset == "ISO_IR 192");
      std::string result;
      size_t characters = 0;
      for (size_t i = 0; i < source.size(); i++)
      {
        const unsigned char c = static_cast<unsigned char>(source[i]);
        if (c < 0x20 || c == 0x7f || c == '\\' || (c >= 0x80 && !utf8))
        {
          return "";
        }
        if ((c & 0xc0) != 0x80 && ++characters > kLongStringCharacters)
        {
          break;
        }
        result.push_back(static_cast<char>(c));
      }
      return result;
    }
  }

  std::string Isolation::MakePatientId(const std::string& prefix, const std::string& uploadId,
                                       int64_t ordinal, const std::string& decodedOriginal)
  {
    if (prefix.empty() || prefix.size() > kMaxPrefix ||
        prefix.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789._-") != std::string::npos)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "Isolation: malformed PatientID prefix");
    }
    if (!IsUploadId(uploadId))
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "Isolation: malformed upload id");
    }
    if (ordinal < 1)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "Isolation: patient ordinal below 1");
    }
    std::string id = prefix + uploadId + "-" + std::to_string(ordinal);

    // One '_' per character that is not [A-Za-z0-9._-] (UTF-8 continuation bytes belong to
    // the character before them).
    std::string readable;
    for (char c : decodedOriginal)
    {
      if ((static_cast<unsigned char>(c) & 0xc0) == 0x80)
      {
        continue;
      }
      readable.push_back(IsIdCharacter(c) ? c : '_');
    }
    if (!readable.empty() && id.size() + 1 < kLongStringCharacters)
    {
      id += "-" + readable.substr(0, kLongStringCharacters - id.size() - 1);
    }
    return id;
  }

  bool Isolation::IsIsolatedPatientId(const std::string& prefix, const std::string& patientId)
  {
    const size_t kUploadIdLength = 12;
    if (prefix.empty() || patientId.compare(0, prefix.size(), prefix) != 0 ||
        patientId.size() < prefix.size() + kUploadIdLength + 2 ||
        !IsUploadId(patientId.substr(prefix.size(), kUploadIdLength)) ||
        patientId[prefix.size() + kUploadIdLength] != '-')
    {
      return false;
    }
    const size_t start = prefix.size() + kUploadIdLength + 1;
    size_t end = start;
    while (end < patientId.size() && patientId[end] >= '0' && patientId[end] <= '9')
    {
      end++;
    }
    return end > start && patientId[start] != '0' &&
           (end == patientId.size() || patientId[end] == '-');
  }

  std::string Isolation::MakeIssuer(const std::string& uploadId)
  {
    return "ORTHANC-INBOUND " + uploadId;
  }

  void Isolation::Apply(DcmDataset& dataset, const std::string& isolatedPatientId,
                        const std::string& uploadId, const std::string& source,
                        const std::string& modifiedAt)
  {
    if (!IsUploadId(uploadId) || isolatedPatientId.empty() ||
        isolatedPatientId.size() > kLongStringCharacters ||
        isolatedPatientId.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                            "0123456789._-") != std::string::npos)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "Isolation: malformed isolated PatientID or upload id");
    }

    // The record of the change first, from the attributes as they are now.
    std::unique_ptr<DcmItem> original(new DcmItem);
    {
      std::unique_ptr<DcmSequenceOfItems> modified(
        new DcmSequenceOfItems(DCM_ModifiedAttributesSequence));
      std::unique_ptr<DcmItem> previous(new DcmItem);
      CopyOrEmpty(*previous, dataset, DCM_PatientID);
      CopyOrEmpty(*previous, dataset, DCM_IssuerOfPatientID);
      DcmElement* qualifiers = nullptr;
      if (dataset.findAndGetElement(DCM_IssuerOfPatientIDQualifiersSequence, qualifiers, OFFalse)
            .good() &&
          qualifiers != nullptr)
      {
        Check(previous->insert(static_cast<DcmElement*>(qualifiers->clone()), OFTrue),
              "the issuer's qualifiers");
      }
      Check(modified->append(previous.release()), "ModifiedAttributesSequence");
      Check(original->insert(modified.release(), OFTrue), "ModifiedAttributesSequence");
    }
    Check(original->putAndInsertString(DCM_AttributeModificationDateTime, modifiedAt.c_str()),
          "AttributeModificationDateTime");
    Check(original->putAndInsertString(DCM_ModifyingSystem, "ORTHANC-INBOUND"), "ModifyingSystem");
    Check(original->putAndInsertString(DCM_SourceOfPreviousValues,
                                       MakeSource(dataset, source).c_str()),
          "SourceOfPreviousValues");
    Check(original->putAndInsertString(DCM_ReasonForTheAttributeModification, "COERCE"),
          "ReasonForTheAttributeModification");

    // Existing items are kept (PS3.3 C.12.1.1.9): one more at the end.
    DcmElement* existing = nullptr;
    DcmSequenceOfItems* sequence = nullptr;
    if (dataset.findAndGetElement(DCM_OriginalAttributesSequence, existing, OFFalse).good() &&
        existing != nullptr && existing->ident() == EVR_SQ)
    {
      sequence = static_cast<DcmSequenceOfItems*>(existing);
    }
    else if (existing != nullptr)
    {
      // Sent with another VR (UN): no item can be added without rewriting what the sender
      // recorded, so the file is refused rather than changed beyond the isolation.
      throw ApiError(400, "invalid-dicom",
                     "The file's OriginalAttributesSequence (0400,0561) is not a sequence");
    }
    else
    {
      std::unique_ptr<DcmSequenceOfItems> created(
        new DcmSequenceOfItems(DCM_OriginalAttributesSequence));
      sequence = created.get();
      Check(dataset.insert(created.release(), OFTrue), "OriginalAttributesSequence");
    }
    Check(sequence->append(original.release()), "OriginalAttributesSequence");

    Check(dataset.putAndInsertString(DCM_PatientID, isolatedPatientId.c_str(), OFTrue),
          "PatientID");
    Check(dataset.putAndInsertString(DCM_IssuerOfPatientID, MakeIssuer(uploadId).c_str(), OFTrue),
          "IssuerOfPatientID");
    dataset.findAndDeleteElement(DCM_IssuerOfPatientIDQualifiersSequence, OFFalse, OFFalse);
  }

  std::string Isolation::Now()
  {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const long micros = static_cast<long>(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000);
    std::tm utc;
    gmtime_r(&seconds, &utc);
    char buffer[96];  // room for any int the compiler can imagine, not only real dates
    std::snprintf(buffer, sizeof(buffer), "%04d%02d%02d%02d%02d%02d.%06ld+0000",
                  utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                  utc.tm_sec, micros);
    return buffer;
  }
}
