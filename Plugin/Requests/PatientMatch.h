// Whether the patients of an upload are the patient a request link asked for (the name rule).
#pragma once

#include "Ledger/Records.h"

#include <string>
#include <vector>

namespace Inbound
{
  // The rule of doc/Requests.md ("Matching and forwarding"), the same as the upload page's
  // (Resources/WebApp/src/patientmatch.js); both are tested against one case table,
  // UnitTests/Resources/patient-match-cases.json. Names: the first ('=') group of a DICOM
  // person name; lower case (Unicode's default mapping), canonical decomposition (NFD) with
  // every combining mark dropped, the letters no decomposition splits folded (ß→ss, æ→ae,
  // œ→oe, ø→o, ł→l, đ→d, ð→d, þ→th, ı→i, ħ→h, ŧ→t, ς→σ); split on '^', white space, ','
  // and '-'; the same multiset of non-empty words in any order is the same name. Birth
  // dates, trimmed: compared when the request has one; a file without one is "unknown", not
  // a match. Texts are UTF-8, as DicomText decodes them from whatever character set a file
  // declares.
  namespace PatientMatch
  {
    enum BirthDate
    {
      BirthDate_Same,
      BirthDate_Different,
      BirthDate_Unknown,      // the file has none
      BirthDate_NotRequested  // the request has none: not compared
    };

    // "same", "different", "unknown", "not-requested" (the names of the case table).
    const char* EnumerationToString(BirthDate value);

    struct Verdict
    {
      bool sameName = false;
      BirthDate birthDate = BirthDate_Unknown;

      bool IsMatch() const
      {
        return sameName && (birthDate == BirthDate_Same || birthDate == BirthDate_NotRequested);
      }
    };

    // The words of a name as compared, sorted; none for an empty name.
    std::vector<std::string> GetNameWords(const std::string& name);

    // False when either name has no word.
    bool IsSameName(const std::string& a, const std::string& b);

    BirthDate CompareBirthDates(const std::string& expected, const std::string& found);

    Verdict Compare(const std::string& expectedName, const std::string& expectedBirthDate,
                    const std::string& foundName, const std::string& foundBirthDate);

    // The verdict on a whole upload: each patient of its files (each distinct name and birth
    // date as sent) compared with the request's.
    struct UploadVerdict
    {
      bool decided = false;   // false: the request names no patient, or the upload has no file
      bool matched = false;   // every patient matched
      size_t patients = 0;
      size_t differing = 0;
      bool nameDiffers = false;       // in at least one patient
      bool birthDateDiffers = false;  // different or unknown in at least one patient

      // For the audit trail: counts and what differed, never a name or a date.
      std::string Describe(const std::string& requestId) const;
    };

    UploadVerdict CompareUpload(const RequestPatient& expected,
                                const std::vector<ItemRecord>& items);
  }
}
