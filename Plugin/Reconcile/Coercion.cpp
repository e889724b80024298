// Writes the hospital's identity into an isolated instance, recording the sender's values.
#include "Coercion.h"

#include "Upload/Isolation.h"
#include "Upload/JsonFields.h"
#include "Upload/TextRules.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <boost/regex.hpp>

#include <memory>
#include <stdexcept>

namespace Inbound
{
  namespace
  {
    const char* const kModifyingSystem = "ORTHANC-INBOUND";

    void Check(const OFCondition& condition, const char* what)
    {
      if (condition.bad())
      {
        throw std::runtime_error(std::string("The released copy cannot be written (") + what +
                                 "): " + condition.text());
      }
    }

    bool IsAscii(const std::string& text)
    {
      for (unsigned char c : text)
      {
        if (c >= 0x80)
        {
          return false;
        }
      }
      return true;
    }

    // A sequence of the dataset, created when absent; throws when the element is no sequence
    // (e.g. sent as UN): nothing can be appended without rewriting what the sender recorded.
    DcmSequenceOfItems& GetSequence(DcmItem& item, const DcmTagKey& tag, const char* name)
    {
      DcmElement* element = nullptr;
      if (item.findAndGetElement(tag, element, OFFalse).good() && element != nullptr)
      {
        if (element->ident() != EVR_SQ)
        {
          throw std::runtime_error(std::string("The file's ") + name + " is not a sequence");
        }
        return *static_cast<DcmSequenceOfItems*>(element);
      }
      std::unique_ptr<DcmSequenceOfItems> created(new DcmSequenceOfItems(tag));
      DcmSequenceOfItems& result = *created;
      Check(item.insert(created.release(), OFTrue), name);
      return result;
    }

    std::string GetString(DcmItem& item, const DcmTagKey& tag)
    {
      OFString value;
      if (item.findAndGetOFStringArray(tag, value, OFFalse).good())
      {
        return value.c_str();
      }
      return "";
    }

    // The isolation's record: the ModifiedAttributesSequence item of the last
    // OriginalAttributesSequence item whose ModifyingSystem is ours (Isolation::Apply).
    void FindIsolationItem(DcmItem*& record, DcmItem*& previous, DcmDataset& dataset)
    {
      record = nullptr;
      previous = nullptr;
      DcmElement* element = nullptr;
      if (dataset.findAndGetElement(DCM_OriginalAttributesSequence, element, OFFalse).good() &&
          element != nullptr && element->ident() == EVR_SQ)
      {
        DcmSequenceOfItems& sequence = *static_cast<DcmSequenceOfItems*>(element);
        for (unsigned long i = sequence.card(); i > 0 && record == nullptr; i--)
        {
          DcmItem* item = sequence.getItem(i - 1);
          if (item != nullptr && GetString(*item, DCM_ModifyingSystem) == kModifyingSystem)
          {
            record = item;
          }
        }
      }
      DcmItem* modified = nullptr;
      if (record == nullptr ||
          record->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, modified, 0).bad() ||
          modified == nullptr)
      {
        throw std::runtime_error("The stored instance holds no record of the sender's PatientID "
                                 "(OriginalAttributesSequence item of ORTHANC-INBOUND)");
      }
      previous = modified;
    }

    // Copies the element "tag" of "source" into "target"; absent: a zero-length one when
    // "emptyWhenAbsent" (PS3.3 C.12.1.1.9.2 for values added), else nothing.
    void CopyElement(DcmItem& target, DcmItem& source, const DcmTagKey& tag, bool emptyWhenAbsent)
    {
      DcmElement* element = nullptr;
      if (source.findAndGetElement(tag, element, OFFalse).good() && element != nullptr)
      {
        Check(target.insert(static_cast<DcmElement*>(element->clone()), OFTrue), "a copy");
      }
      else if (emptyWhenAbsent)
      {
        Check(target.insertEmptyElement(DcmTag(tag), OFTrue), "an empty attribute");
      }
    }

    // Records the value as stored of an attribute the release changes to "value" (given).
    void RecordIfChanged(DcmItem& previous, DcmDataset& dataset, const DcmTagKey& tag,
                         const std::string& value)
    {
      DcmElement* element = nullptr;
      const bool present =
        dataset.findAndGetElement(tag, element, OFFalse).good() && element != nullptr;
      if (!value.empty() && (!present || GetString(dataset, tag) != value))
      {
        CopyElement(previous, dataset, tag, true);
      }
    }

    // An issuer as compared: without its padding, ASCII letters in lower case.
    std::string Normalized(const std::string& issuer)
    {
      const size_t first = issuer.find_first_not_of(' ');
      std::string result = first == std::string::npos
                             ? ""
                             : issuer.substr(first, issuer.find_last_not_of(' ') - first + 1);
      for (char& c : result)
      {
        c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      }
      return result;
    }

    // The sender's issuer is the hospital's own namespace (the one released, or the
    // configured one): its PatientID there is the sender's claim, not a fact to pass on.
    bool IsHospitalIssuer(const std::string& senderIssuer, const CoercedIdentity& identity)
    {
      const std::string sender = Normalized(senderIssuer);
      for (const std::string* own : {&identity.issuer, &identity.hospitalIssuer})
      {
        if (!Normalized(*own).empty() && Normalized(*own) == sender)
        {
          return true;
        }
      }
      return false;
    }

    void WriteIfGiven(DcmDataset& dataset, const DcmTagKey& tag, const std::string& value,
                      const char* name)
    {
      if (!value.empty())
      {
        Check(dataset.putAndInsertString(tag, value.c_str(), OFTrue), name);
      }
    }
  }

  bool Coercion::IsText(const std::string& value, size_t maxBytes, size_t maxCharacters)
  {
    return JsonFields::IsDicomText(value, maxBytes) && TextRules::IsCleanText(value) &&
           TextRules::CountCharacters(value) <= maxCharacters;
  }

  bool Coercion::IsDate(const std::string& date)
  {
    static const boost::regex kDate("(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])");
    return boost::regex_match(date, kDate);
  }

  std::string Coercion::CheckIdentity(const CoercedIdentity& identity)
  {
    if (identity.patientId.empty() || !IsText(identity.patientId, 64, 64))
    {
      return "the PatientID is empty or not valid DICOM text (LO)";
    }
    if (!IsText(identity.issuer, 256, 64))
    {
      return "the issuer is not valid DICOM text (LO)";
    }
    if (!IsText(identity.name, 200, 200))
    {
      return "the name is not valid DICOM text";
    }
    if (!identity.birthDate.empty() && !IsDate(identity.birthDate))
    {
      return "the birth date is not a date YYYYMMDD";
    }
    if (!identity.sex.empty() && identity.sex != "M" && identity.sex != "F" && identity.sex != "O")
    {
      return "the sex is not M, F or O";
    }
    if (!IsText(identity.accessionNumber, 64, 16))
    {
      return "the accession number is not valid DICOM text (SH)";
    }
    return "";
  }

  void Coercion::Apply(DcmDataset& dataset, const CoercedIdentity& identity,
                       const CoercedUids& uids, const std::string& uploadId,
                       const std::string& modifiedAt)
  {
    const std::string problem = CheckIdentity(identity);
    if (!problem.empty())
    {
      throw std::runtime_error("The released identity cannot be written: " + problem);
    }
    if (GetString(dataset, DCM_IssuerOfPatientID) != Isolation::MakeIssuer(uploadId))
    {
      throw std::runtime_error("The stored instance is not the isolated copy of upload " +
                               uploadId);
    }

    // Text the file's character set cannot hold: the whole dataset becomes UTF-8 first, so
    // that every value (the sender's recorded ones too) is read under one declaration.
    if (!IsAscii(identity.patientId + identity.issuer + identity.name +
                 identity.accessionNumber) &&
        GetString(dataset, DCM_SpecificCharacterSet) != "ISO_IR 192")
    {
      const OFCondition converted = dataset.convertToUTF8();
      if (converted.bad())
      {
        throw std::runtime_error(
          "The file's text cannot be converted to UTF-8 to hold the hospital's identity (" +
          std::string(converted.text()) + "); release with an ASCII name or issuer");
      }
      Check(dataset.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192", OFTrue),
            "SpecificCharacterSet");
    }

    DcmItem* isolation = nullptr;
    DcmItem* sent = nullptr;
    FindIsolationItem(isolation, sent, dataset);

    // The record of this change, from the values as sent and as stored.
    std::unique_ptr<DcmItem> original(new DcmItem);
    {
      std::unique_ptr<DcmSequenceOfItems> modified(
        new DcmSequenceOfItems(DCM_ModifiedAttributesSequence));
      std::unique_ptr<DcmItem> previous(new DcmItem);
      CopyElement(*previous, *sent, DCM_PatientID, true);
      CopyElement(*previous, *sent, DCM_IssuerOfPatientID, true);
      CopyElement(*previous, *sent, DCM_IssuerOfPatientIDQualifiersSequence, false);
      RecordIfChanged(*previous, dataset, DCM_PatientName, identity.name);
      RecordIfChanged(*previous, dataset, DCM_PatientBirthDate, identity.birthDate);
      RecordIfChanged(*previous, dataset, DCM_PatientSex, identity.sex);
      RecordIfChanged(*previous, dataset, DCM_AccessionNumber, identity.accessionNumber);
      Check(modified->append(previous.release()), "ModifiedAttributesSequence");
      Check(original->insert(modified.release(), OFTrue), "ModifiedAttributesSequence");
    }
    Check(original->putAndInsertString(DCM_AttributeModificationDateTime, modifiedAt.c_str()),
          "AttributeModificationDateTime");
    Check(original->putAndInsertString(DCM_ModifyingSystem, kModifyingSystem), "ModifyingSystem");
    CopyElement(*original, *isolation, DCM_SourceOfPreviousValues, true);
    Check(original->putAndInsertString(DCM_ReasonForTheAttributeModification, "COERCE"),
          "ReasonForTheAttributeModification");

    // The sender's PatientID stays known to the PACS as another ID of the patient.
    std::unique_ptr<DcmItem> other;
    if (!GetString(*sent, DCM_PatientID).empty())
    {
      other.reset(new DcmItem);
      CopyElement(*other, *sent, DCM_PatientID, false);
      const std::string senderIssuer = GetString(*sent, DCM_IssuerOfPatientID);
      if (Normalized(senderIssuer).empty() || IsHospitalIssuer(senderIssuer, identity))
      {
        Check(other->putAndInsertString(DCM_IssuerOfPatientID,
                                        Isolation::MakeIssuer(uploadId).c_str()),
              "IssuerOfPatientID");
      }
      else
      {
        CopyElement(*other, *sent, DCM_IssuerOfPatientID, false);
        CopyElement(*other, *sent, DCM_IssuerOfPatientIDQualifiersSequence, false);
      }
      Check(other->putAndInsertString(DCM_TypeOfPatientID, "TEXT"), "TypeOfPatientID");
    }

    // Appended last, once both items are complete (the isolation's item is read above) and
    // both sequences are known to be sequences: a refusal appends nothing.
    DcmSequenceOfItems* others =
      other ? &GetSequence(dataset, DCM_OtherPatientIDsSequence, "OtherPatientIDsSequence")
            : nullptr;
    Check(GetSequence(dataset, DCM_OriginalAttributesSequence, "OriginalAttributesSequence")
            .append(original.release()),
          "OriginalAttributesSequence");
    if (others != nullptr)
    {
      Check(others->append(other.release()), "OtherPatientIDsSequence");
    }

    Check(dataset.putAndInsertString(DCM_PatientID, identity.patientId.c_str(), OFTrue),
          "PatientID");
    if (identity.issuer.empty())
    {
      dataset.findAndDeleteElement(DCM_IssuerOfPatientID, OFFalse, OFFalse);
    }
    else
    {
      Check(dataset.putAndInsertString(DCM_IssuerOfPatientID, identity.issuer.c_str(), OFTrue),
            "IssuerOfPatientID");
    }
    dataset.findAndDeleteElement(DCM_IssuerOfPatientIDQualifiersSequence, OFFalse, OFFalse);
    WriteIfGiven(dataset, DCM_PatientName, identity.name, "PatientName");
    WriteIfGiven(dataset, DCM_PatientBirthDate, identity.birthDate, "PatientBirthDate");
    WriteIfGiven(dataset, DCM_PatientSex, identity.sex, "PatientSex");
    WriteIfGiven(dataset, DCM_AccessionNumber, identity.accessionNumber, "AccessionNumber");
    WriteIfGiven(dataset, DCM_StudyInstanceUID, uids.study, "StudyInstanceUID");
    WriteIfGiven(dataset, DCM_SeriesInstanceUID, uids.series, "SeriesInstanceUID");
    WriteIfGiven(dataset, DCM_SOPInstanceUID, uids.instance, "SOPInstanceUID");
  }
}
