// How well a hospital record fits a patient as sent: points, rank, auto-forward identity.
#pragma once

#include "Reconcile/Candidates.h"

#include <cstddef>
#include <string>

namespace Inbound
{
  // The rule of doc/Reconciliation.md, "Scores". Sender texts are untrusted: names are cut to
  // 200 bytes and 16 words before comparing, edit distances are computed on words of at most
  // 64 characters only, so that the work per record is bounded whatever a sender wrote.
  namespace CandidateScore
  {
    // Reason codes (Candidate::reasons), in the order Score gives them.
    extern const char* const kNameSame;         // "name-same"          45
    extern const char* const kNameReordered;    // "name-reordered"     40
    extern const char* const kNamePartial;      // "name-partial"       25
    extern const char* const kNameSimilar;      // "name-similar"       25
    extern const char* const kNameDiffers;      // "name-differs"        0
    extern const char* const kBirthDateSame;    // "birth-date-same"    35
    extern const char* const kBirthDateNear;    // "birth-date-near"    10
    extern const char* const kBirthDateDiffers; // "birth-date-differs" -40
    extern const char* const kSexSame;          // "sex-same"           10
    extern const char* const kSexDiffers;       // "sex-differs"        -20
    extern const char* const kOriginalId;       // "original-id"        25
    extern const char* const kSamePatientId;    // "same-patient-id"    10
    extern const char* const kAccession;        // "accession"          20
    extern const char* const kScheduled;        // "scheduled"           5
    extern const char* const kRequestLink;      // "request-link"        0 (informative)

    // The record scored against the patient as sent: points clamped to 0-100 and the codes of
    // every rule that applied.
    Candidate Score(const SentPatient& sent, const CandidateRecord& record);

    // Best first (score, then source: "local" < "request" < modalities by name, then
    // PatientID); drops the candidates of score 0; sets `ambiguous` (two different PatientIDs
    // within 5 points at the top, both at or above `threshold`, before the cut); keeps at most
    // `maxCandidates`, and beyond them the best candidate of each other PatientID at or above
    // `threshold` (a fitting patient is never cut away).
    void Rank(PatientCandidates& patient, int threshold, size_t maxCandidates);

    // The hospital PatientID an automatic release may use for this patient: the single
    // distinct PatientID with a candidate scoring >= autoThreshold; "" when none or several.
    std::string SingleAbove(const PatientCandidates& patient, int autoThreshold);

    // The identity an automatic release uses: true when every source answered
    // (result.IsComplete()) with no answer left unread (none `truncated`), the upload has
    // patients, none is ambiguous, and every patient's
    // SingleAbove(result.autoThreshold) equals `requestPatientId` (non-empty). `chosen` is then
    // the best candidate with that PatientID at or above autoThreshold, a hospital record
    // (local, PACS, worklist) before the "request" one. False otherwise, `reason` being a code
    // for the audit trail, never a patient's data: "no-request-patient", "sources-incomplete",
    // "sources-truncated", "no-patients", "no-candidate-above", "several-candidates-above", "patient-ambiguous",
    // "request-patient-differs".
    bool AutoIdentity(Candidate& chosen, std::string& reason, const Reconciliation& result,
                      const std::string& requestPatientId);
  } // namespace CandidateScore
} // namespace Inbound
