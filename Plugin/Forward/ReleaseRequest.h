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
    std::string patientSex;            // "M", "F", "O" or empty (left as sent)
    bool hasIssuer = false;            // patient.issuer given (else Reconciliation.IssuerOfPatientID)
    std::string patientIssuer;         // IssuerOfPatientID; "" removes it
    std::string accessionNumber;       // empty: left as sent
    std::string candidateSource;       // the candidate the admin chose (informative, audited)
    int candidateScore = -1;           // its score 0-100; -1 none
    bool confirmMismatch = false;      // the admin checked that it is the same patient
    bool newUids = false;
    bool keepNamespacedPatientId = false;

    // Parses and checks the JSON body; ApiError 400 otherwise (reconciliation-required when
    // neither a PatientID nor the explicit choice of the namespaced one is given; invalid-field
    // for an unknown member, a wrong type, text DICOM does not allow in its element, a sex
    // other than M/F/O, a score outside 0-100, or identity fields with the namespaced choice).
    static ReleaseRequest Parse(const void* body, size_t size);
  };
}
