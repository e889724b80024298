// The release's copy of an isolated instance: the hospital's identity written with DCMTK, sender's values kept.
#pragma once

#include <cstddef>
#include <string>

class DcmDataset;

namespace Inbound
{
  // The identity a release writes (doc/Reconciliation.md, "The released copy").
  struct CoercedIdentity
  {
    std::string patientId;        // required
    std::string issuer;           // IssuerOfPatientID; "" removes it
    std::string name;             // PatientName; "" left as sent
    std::string birthDate;        // YYYYMMDD; "" left as sent
    std::string sex;              // "M", "F", "O"; "" left as sent
    std::string accessionNumber;  // "" left as sent
    // Not written: Reconciliation.IssuerOfPatientID. A sender's issuer equal to it or to
    // "issuer" (the hospital's own namespace) is not repeated as its other ID's issuer.
    std::string hospitalIssuer;
  };

  // New UIDs of the copy; all empty: the sender's are kept.
  struct CoercedUids
  {
    std::string study;
    std::string series;
    std::string instance;
  };

  // IHE Import Reconciliation on the bytes of one isolated instance of an upload, element by
  // element with DCMTK (Orthanc's modification cannot append to OriginalAttributesSequence nor
  // re-encode a file whose character set cannot hold the new name: doc/Architecture.md):
  //  - when a new value is not ASCII and the file is not UTF-8 already, the whole dataset is
  //    converted to UTF-8 first (ISO_IR 192; nested items included; refused when its text does
  //    not decode under its declared character set);
  //  - one item is APPENDED to OriginalAttributesSequence (earlier ones kept): in its
  //    ModifiedAttributesSequence the sender's PatientID, IssuerOfPatientID and issuer
  //    qualifiers as sent (from the isolation's item, the last one of ModifyingSystem
  //    "ORTHANC-INBOUND") and, as stored, each of PatientName, PatientBirthDate, PatientSex and
  //    AccessionNumber that the release changes; ModifyingSystem "ORTHANC-INBOUND",
  //    SourceOfPreviousValues copied from the isolation's item, the time, reason COERCE;
  //  - one item is APPENDED to OtherPatientIDsSequence (the sender's own kept): the sender's
  //    PatientID, its issuer, TEXT; "ORTHANC-INBOUND <upload id>" as the issuer when it had
  //    none or claimed the hospital's own ("issuer" or "hospitalIssuer", case and padding
  //    aside): a CD cannot make the copy say that the patient is also another hospital
  //    patient (red team; its claim stays in OriginalAttributesSequence);
  //  - PatientID, IssuerOfPatientID (or removed), the given name, birth date, sex and
  //    accession number are written; IssuerOfPatientIDQualifiersSequence is removed; the UIDs
  //    when given. Nothing else changes: pixel data is never touched.
  // Throws std::runtime_error, saying why, when the instance is not the isolated copy of this
  // upload, its text cannot be converted, or the identity is not valid DICOM text.
  class Coercion
  {
  public:
    // Text for a DICOM element: clean UTF-8 (no control character), no backslash, at most
    // "maxBytes" bytes and "maxCharacters" code points.
    static bool IsText(const std::string& value, size_t maxBytes, size_t maxCharacters);

    // A DICOM date YYYYMMDD of the years 1900-2099 with a possible month and day.
    static bool IsDate(const std::string& date);

    // "" when the identity can be written: PatientID 1-64 characters, issuer up to 64, name
    // up to 200 bytes, no control character nor backslash, clean UTF-8; birth date YYYYMMDD;
    // sex M/F/O; accession number up to 16 characters. Else why not (no patient data).
    static std::string CheckIdentity(const CoercedIdentity& identity);

    static void Apply(DcmDataset& dataset, const CoercedIdentity& identity,
                      const CoercedUids& uids, const std::string& uploadId,
                      const std::string& modifiedAt);
  };
}
