// The text of a DICOM element as sent, and its decoding to UTF-8 that drops no byte.
#pragma once

#include <string>

class DcmItem;
class DcmTagKey;

namespace Inbound
{
  // Text of a DICOM element as sent, and its lossless decoding. Orthanc's own decoding
  // (ParsedDicomFile::GetTagValue) drops what it cannot convert, so two different
  // PatientIDs could read the same: KÖHLER and KÜHLER labelled with a misspelt character
  // set both became "KHLER". Here nothing is dropped: every byte ends up as a character.
  namespace DicomText
  {
    struct Decoded
    {
      std::string text;    // UTF-8, one or more characters per byte sent, never fewer
      bool exact = false;  // decoded under the character set the file declares, as DICOM says
    };

    // The raw value of a top-level element of "item" (no character set conversion), without
    // the trailing spaces and NULs of DICOM's padding. False if the element is absent (then
    // "value" is empty, like an empty element: both are the same PatientID). Throws ApiError
    // 400 invalid-dicom if it is present but has no readable bytes (e.g. sent as a sequence).
    bool ReadRaw(std::string& value, DcmItem& item, const DcmTagKey& tag);

    // Decodes "raw" under "specificCharacterSet" (the raw value of (0008,0005), with its
    // backslashes): pure ASCII as is; else strictly (glibc iconv, no character dropped or
    // replaced) with the declared set, common misspellings read as the set they mean
    // ("ISO_IR100", "ISO-8859-1", "latin1", "UTF8"); when that fails or the set is unknown:
    // valid UTF-8 as UTF-8, else Latin-1 (one character per byte, never fails). "exact" only
    // when the declared set is a defined term of PS3.3 C.12.1.1.2 that decoded the bytes.
    Decoded Decode(const std::string& raw, const std::string& specificCharacterSet);
  }
}
