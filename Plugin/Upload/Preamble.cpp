// Names what a DICOM preamble holds for the audit trail; zeroes the preamble of a stored copy.
#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include "Preamble.h"

#include <OrthancException.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace Inbound
{
  namespace
  {
    const char kPrefix[] = "DICM";
    const size_t kPrefixSize = 4;

    struct Signature
    {
      const char* bytes;
      size_t size;
      const char* description;
    };

    // The formats a polyglot is usually made of (CVE-2019-11687): each names itself in its
    // first bytes, which is all the preamble can hold of it.
    const Signature kSignatures[] = {
      {"MZ", 2, "starts with MZ (Windows executable)"},
      {"\x7f" "ELF", 4, "starts with ELF (Unix executable)"},
      {"\xca\xfe\xba\xbe", 4, "starts with a Mach-O header (macOS executable)"},
      {"\xcf\xfa\xed\xfe", 4, "starts with a Mach-O header (macOS executable)"},
      {"\xce\xfa\xed\xfe", 4, "starts with a Mach-O header (macOS executable)"},
      {"PK", 2, "starts with PK (ZIP archive)"},
      {"#!", 2, "starts with #! (script)"},
      {"%PDF", 4, "starts with %PDF (PDF document)"},
    };

    bool StartsWith(const uint8_t* data, const char* bytes, size_t size)
    {
      return memcmp(data, bytes, size) == 0;
    }

    bool HasPrefix(const void* data, size_t size)
    {
      return size >= Preamble::kSize + kPrefixSize &&
             memcmp(static_cast<const uint8_t*>(data) + Preamble::kSize, kPrefix, kPrefixSize) == 0;
    }
  }

  std::string Preamble::Describe(const void* data, size_t size)
  {
    if (!HasPrefix(data, size))
    {
      return "";
    }
    const uint8_t* bytes = static_cast<const uint8_t*>(data);
    const size_t nonZero =
      size_t(std::count_if(bytes, bytes + kSize, [](uint8_t b) { return b != 0; }));
    if (nonZero == 0 || StartsWith(bytes, "II*\0", 4) || StartsWith(bytes, "MM\0*", 4))
    {
      return "";  // the standard's two cases (PS3.10 7.1 and 7.5)
    }
    for (const Signature& signature : kSignatures)
    {
      if (StartsWith(bytes, signature.bytes, signature.size))
      {
        return signature.description;
      }
    }
    return std::to_string(nonZero) + " non-zero bytes";
  }

  void Preamble::Clear(std::string& dicom)
  {
    if (!HasPrefix(dicom.data(), dicom.size()))
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                      "The rewritten DICOM file has no DICM prefix at byte 128");
    }
    std::fill(dicom.begin(), dicom.begin() + kSize, '\0');
  }
}
