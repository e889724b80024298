// The 128-byte preamble of a DICOM Part 10 file: what it holds, and a zero one for stored copies.
#pragma once

#include <cstddef>
#include <string>

namespace Inbound
{
  // PS3.10 7.1 lets the 128 bytes before "DICM" hold anything: a file can be a DICOM file and
  // at once a Windows executable, an ELF binary, a ZIP archive or a script (CVE-2019-11687,
  // "polyglots"). The plugin never stores such a preamble in Orthanc (Clear), and records a
  // non-zero one in the audit trail (Describe). Reasoning in doc/Security.md, "Polyglots".
  class Preamble
  {
  public:
    static constexpr size_t kSize = 128;

    // What a file's preamble holds, in neutral words for the audit trail ("starts with MZ
    // (Windows executable)", ..., "non-zero bytes"); never the bytes themselves. Empty when
    // it is all zeros, or a TIFF header ("II*\0" or "MM\0*", the dual-personality files of
    // PS3.10 7.5), or when the file has no preamble (shorter than 132 bytes or no "DICM" at
    // byte 128: such files are refused before this matters).
    static std::string Describe(const void* data, size_t size);

    // Writes 128 zero bytes over the preamble of a Part 10 file held in memory, whatever the
    // parser that wrote it kept of the sender's preamble (DCMTK keeps and writes back the one
    // it read). Throws OrthancException(InternalError) when "dicom" has no "DICM" at byte
    // 128: a stored copy without its prefix must not be made.
    static void Clear(std::string& dicom);
  };
}
