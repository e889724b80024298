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

    // The same for a parse that stopped before its pixel data (DicomInspector::Parse): the
    // dataset written as above, then "pixelData", the whole Pixel Data element as sent (tag,
    // VR, length, value), copied after it. Target is allocated once, at the final size.
    // DicomGuard::CheckDataset guarantees that these are the bytes DCMTK would have written
    // for the element; throws InternalError if the dataset now holds an element that DCMTK
    // would write after it.
    void SaveAndRelease(std::string& target, Orthanc::ParsedDicomFile& dicom,
                        const void* pixelData, size_t pixelDataSize);
  }
}
