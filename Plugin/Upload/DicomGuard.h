// A structural walk of an untrusted DICOM file before any parser: depth, lengths, inflation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace Inbound
{
  struct DicomGuardLimits
  {
    // Most sequences open at once (sequences in items in sequences...). DCMTK parses, copies
    // and writes nested sequences by recursion on the calling thread, and Orthanc runs the
    // public routes on civetweb threads of 100 KiB of stack. The default is measured in
    // Configuration.cpp.
    unsigned int maxSequenceDepth = 24;

    // Largest dataset after inflating the Deflated transfer syntaxes (Inbound.Upload.MaxFileBytes).
    uint64_t maxInflatedBytes = 0;
  };

  struct DicomFileMeta
  {
    size_t datasetOffset = 0;
    std::string transferSyntax;        // may be empty or unknown: then guessed as DCMTK does
    std::string mediaStorageSopClass;
  };

  // A structural check of an untrusted DICOM Part 10 file BEFORE any DICOM parser sees it.
  // DCMTK's parser recurses once per nested sequence and trusts element lengths, so a 2 KB file
  // of 50 nested sequences overflows a civetweb worker's stack (SIGSEGV of all of Orthanc), and
  // 300 KB of Deflated dataset inflate to 300 MB. This walk has no recursion (an explicit stack
  // of containers), takes time linear in the file and memory independent of it (deflated data
  // is inflated through a small window and discarded).
  //
  // It walks the file meta group (explicit VR little endian), then the dataset in its transfer
  // syntax (implicit VR LE, explicit VR LE or BE, deflated explicit VR LE): sequences and items
  // of defined and undefined length, their delimiters, UN of undefined length (implicit VR LE
  // inside, PS3.5 6.2.2) and encapsulated pixel data (fragments of defined length). It refuses
  // with ApiError 400 "invalid-dicom" a nesting deeper than the limit, any length that runs
  // past its item, sequence or the file, a delimiter out of place, an undefined length other
  // than on SQ, UN or Pixel Data, an unknown VR; with 413 "too-large" a
  // deflated dataset that inflates beyond maxInflatedBytes.
  //
  // A value of defined length that begins with an item tag, in implicit VR or with VR UN, is
  // walked as a sequence too: DCMTK reads such values as sequences when its dictionary says SQ
  // (implicit VR), or may convert UN, and a walk that skipped them would let nesting through.
  class DicomGuard
  {
  public:
    // The file meta group only (400 not-dicom, 400 invalid-dicom).
    static DicomFileMeta ReadMeta(const void* data, size_t size);

    // Both return the bytes that the file takes once parsed: its size, or for a deflated
    // dataset the file meta group plus the dataset inflated (at most maxInflatedBytes). A parser
    // holds that much, not the body's size: memory is reserved for the difference.
    static uint64_t CheckDataset(const DicomFileMeta& meta, const void* data, size_t size,
                                 const DicomGuardLimits& limits);

    // CheckDataset, and where the file's Pixel Data element starts if DCMTK would write it
    // back exactly as sent, so that a parse may stop before it and the rewrite copy it
    // (DicomInspector::Parse): explicit or implicit VR little endian, not deflated, native
    // pixel data (OB or OW) of defined, even length, the dataset's last element at the top
    // level and its highest tag, no (7FE0,0000). 0 otherwise (the file is parsed whole).
    static uint64_t CheckDataset(const DicomFileMeta& meta, const void* data, size_t size,
                                 const DicomGuardLimits& limits, size_t& copyablePixelData);

    static uint64_t Check(const void* data, size_t size, const DicomGuardLimits& limits);
  };
}
