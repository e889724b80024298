// The reconciliation assistant's data: a patient as sent, a candidate, a source's outcome.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <string>
#include <vector>

namespace Inbound
{
  // One patient of an upload as the sender sent it (doc/Reconciliation.md): read from the
  // ledger's items and from one stored instance of the isolated patient (its PatientSex,
  // AccessionNumbers, OtherPatientIDsSequence, and the isolation's OriginalAttributesSequence
  // item for the sender's IssuerOfPatientID). Texts are UTF-8.
  struct SentPatient
  {
    std::string originalPatientId;             // the sender's PatientID, as decoded
    std::string issuer;                        // the sender's IssuerOfPatientID
    std::string name;                          // DICOM PN as sent
    std::string birthDate;                     // YYYYMMDD as sent (may be empty or malformed)
    std::string sex;                           // "M", "F", "O" or ""
    std::vector<std::string> otherPatientIds;  // OtherPatientIDsSequence / (0010,1000) as sent
    std::vector<std::string> accessionNumbers; // of the upload's studies of this patient
    std::vector<std::string> modalities;       // of those studies
    std::vector<std::string> studyDates;       // YYYYMMDD of those studies
    std::string isolatedPatientId;             // this Orthanc's namespaced PatientID
    std::vector<std::string> studies;          // Orthanc study ids (isolated) of this patient
  };

  // One record a source answered: a patient of this Orthanc, of a PACS (patient-level C-FIND)
  // or a scheduled procedure of a worklist. What the source said, before scoring.
  struct CandidateRecord
  {
    std::string source;           // "local", "request", or a DicomModalities name
    std::string patientId;
    std::string issuer;
    std::string name;
    std::string birthDate;
    std::string sex;
    std::vector<std::string> otherPatientIds;  // (0010,1000) as the source answered it
    // Worklist only:
    std::string accessionNumber;
    std::string requestedProcedureId;
    std::string procedureDescription;  // RequestedProcedureDescription or the SPS description
    std::string scheduledDate;         // ScheduledProcedureStepStartDate
    std::string scheduledModality;
  };

  // A scored candidate for one sent patient.
  struct Candidate
  {
    CandidateRecord record;
    int score = 0;                     // 0-100
    std::vector<std::string> reasons;  // codes of doc/Reconciliation.md, "Scores"
  };

  enum SourceStatus
  {
    SourceStatus_Answered,
    SourceStatus_Timeout,      // no answer within Reconciliation.TimeoutSeconds
    SourceStatus_Failed,       // refused, unreachable, or an error (the message says which)
    SourceStatus_Unavailable,  // the modality does not offer this query (C-FIND SOP class)
    SourceStatus_Busy          // too many queries running: not asked this time
  };

  const char* EnumerationToString(SourceStatus status);  // "answered", "timeout", ...

  struct SourceOutcome
  {
    std::string source;     // "local" or the DicomModalities name
    std::string query;      // "Local", "Patient" or "Worklist"
    SourceStatus status = SourceStatus_Answered;
    std::string message;    // for people; never a patient's data
    int64_t elapsedMs = 0;
    size_t records = 0;     // records answered (before scoring)
    bool truncated = false; // more answers than Reconciliation.MaxAnswers: the rest ignored
  };

  struct PatientCandidates
  {
    SentPatient sent;
    std::vector<Candidate> candidates;  // best first; at most Reconciliation.MaxCandidates
    bool ambiguous = false;  // two different PatientIDs within 5 points at the top, both
                             // at or above the threshold
  };

  // The answer of GET /inbound/admin/uploads/{id}/candidates.
  struct Reconciliation
  {
    std::string uploadId;
    std::string requestId;         // the request link the upload came through, if any
    std::string requestPatientId;  // its patient's PatientID, if it names one
    int threshold = 50;
    int autoThreshold = 80;
    int64_t generatedAt = 0;       // ms since the epoch
    std::vector<SourceOutcome> sources;
    std::vector<PatientCandidates> patients;

    // Every source answered (none timed out, failed, was unavailable or busy).
    bool IsComplete() const;

    Json::Value ToJson() const;
  };
}
