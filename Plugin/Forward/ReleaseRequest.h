// The body of a release: which studies go to which modality, with which patient identity.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace Inbound
{
  // What an admin asks for when releasing an upload to the PACS (IHE Import Reconciliation:
  // the hospital's own patient identity replaces the namespaced one).
  struct ReleaseRequest
  {
    std::string modality;
    std::vector<std::string> studies;  // Orthanc ids; empty: every study of the upload
    std::string patientId;
    std::string patientName;
    std::string patientBirthDate;      // YYYYMMDD or empty
    bool newUids = false;
    bool keepNamespacedPatientId = false;

    // Parses and checks the JSON body; ApiError 400 otherwise (reconciliation-required when
    // neither a PatientID nor the explicit choice of the namespaced one is given).
    static ReleaseRequest Parse(const void* body, size_t size);
  };
}
