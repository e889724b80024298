// Writes a parsed DICOM file into a Part 10 buffer without first copying its whole dataset.
#pragma once

#include <string>

namespace Orthanc
{
  class ParsedDicomFile;
}

namespace Inbound
{
  namespace DicomWriter
  {
    // The bytes that Orthanc's ParsedDicomFile::SaveToMemoryBuffer writes (a new file meta
    // group for the dataset's transfer syntax, group lengths recomputed, explicit lengths,
    // zero preamble), without its deep copy of the dataset into a new file object: that copy
    // held the pixel data twice, about 0.1 ms of CPU per 0.5 MB file and, for a file parsed
    // with its large values left on disk, a second copy of those values in memory. The dataset
    // is moved into the file written: "dicom" holds an empty dataset afterwards, to be
    // destroyed. Large values left on disk are copied into "target" in blocks (DCMTK's write
    // cache), not loaded whole first. Throws OrthancException if DCMTK cannot write it.
    void SaveAndRelease(std::string& target, Orthanc::ParsedDicomFile& dicom);

    // SaveAndRelease of a parse of "body" (DicomInspector::Parse, ParseFile: then no body).
    // A parse that stopped before the file's pixel data (DicomInspector::
    // LookupUnparsedPixelData) is written as above, then the whole Pixel Data element as sent
    // (tag, VR, length, value) is copied after it, into a target allocated once at its final
    // size: the bytes that DCMTK writes for the element (DicomGuard::CheckDataset says when).
    // Throws InternalError if the dataset now holds an element that DCMTK would write after
    // it. The overload without a body refuses such a parse (the image would be lost).
    void SaveAndRelease(std::string& target, Orthanc::ParsedDicomFile& dicom, const void* body,
                        size_t size);
  }
}
