#pragma once

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include <DicomParsing/ParsedDicomFile.h>

#include "Upload/DicomGuard.h"

#include <memory>
#include <string>

namespace Inbound
{
  // What the plugin needs to know about one received file.
  struct DicomSummary
  {
    std::string sopInstanceUid;
    std::string seriesInstanceUid;
    std::string studyInstanceUid;
    std::string patientId;  // as sent (UTF-8), possibly empty
    std::string patientName;
    std::string patientBirthDate;
    std::string modality;
    std::string studyDate;
    std::string studyDescription;
    std::string transferSyntax;
  };

  // Validates untrusted bytes as a DICOM Part 10 file and parses them (DCMTK through the
  // Orthanc framework), after DicomGuard has walked their structure within `limits`.
  // Refusals are ApiErrors: 400 not-dicom, 400 invalid-dicom, 413 too-large, 422 dicomdir.
  class DicomInspector
  {
  public:
    static std::unique_ptr<Orthanc::ParsedDicomFile> Parse(DicomSummary& summary,
                                                           const void* data, size_t size,
                                                           const DicomGuardLimits& limits);
  };
}
