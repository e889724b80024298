#pragma once

#include <OrthancFramework.h>  // first: it defines what the framework headers test

#include <DicomParsing/ParsedDicomFile.h>

#include <string>

namespace Inbound
{
  // The namespace of an upload: "<prefix><upload id>-<original PatientID>", cut to the 64
  // characters of a DICOM LO value. Deterministic, so a retried file lands on the same
  // Orthanc resources, and unique per upload, so no upload can touch a patient that existed
  // before it, nor another upload's patient.
  class Isolation
  {
  public:
    static std::string MakePatientId(const std::string& prefix, const std::string& uploadId,
                                     const std::string& originalPatientId);

    static std::string MakeIssuer(const std::string& uploadId);

    // Rewrites PatientID and IssuerOfPatientID in place; nothing else changes.
    static void Apply(Orthanc::ParsedDicomFile& dicom, const std::string& isolatedPatientId,
                      const std::string& uploadId);
  };
}
