// The queries asked of each source for a patient as sent; their answers read as records.
#pragma once

#include "Reconcile/Candidates.h"

#include <json/value.h>

#include <string>
#include <vector>

namespace Inbound
{
  // doc/Reconciliation.md, "Candidates". The sender's values are untrusted and go into C-FIND
  // and /tools/find queries, where '*' and '?' are wildcards, '\' separates values (a list
  // is an OR) and '-' in a date makes a range: an ID or accession number is used only as an
  // exact value without any of these, a birth date only as exactly 8 digits, and a name only
  // through its ASCII letters and digits (every other letter becomes '*'), with at least 2 of
  // them per pattern, so that no query asks for every patient.
  namespace CandidateQueries
  {
    // One query: the "Query" object of the request, and what it matches on for the log
    // ("birth date", "PatientID", ...; never the value, which is a patient's data).
    struct Query
    {
      Json::Value keys;
      std::string by;
    };

    // A value for an exact match: not empty, at most `maxCharacters` characters (LO 64,
    // SH 16), no wildcard, backslash or control character.
    bool IsExactValue(const std::string& value, size_t maxCharacters);

    // A DICOM date YYYYMMDD with a month 01-12 and a day 01-31 (no range, no wildcard).
    bool IsBirthDate(const std::string& value);

    // The name words a query uses: the first ('=') group of the person name, split on '^',
    // white space, ',' and '-'; each word's characters mapped (ASCII letters and digits kept,
    // every other letter and any inner sign as '*', signs at its ends dropped, "**" as "*");
    // the 2 with the most ASCII letters and digits, at least 2 of them. Upper case.
    std::vector<std::string> GetNameWords(const std::string& personName);

    // The patterns of a word as GetNameWords gives it: "WORD*" and "Word*" (a PACS or a
    // worklist, which may match case-sensitively), "*WORD*" (this Orthanc, case-insensitive).
    std::vector<std::string> GetPrefixPatterns(const std::string& word);
    std::string GetContainsPattern(const std::string& word);

    // The queries, in the order they are asked, each with every return key of its kind.
    std::vector<Query> ForPatientLevel(const SentPatient& sent); // a PACS, Level Patient
    std::vector<Query> ForWorklist(const SentPatient& sent);     // a RIS
    std::vector<Query> ForLocal(const SentPatient& sent);        // this Orthanc's /tools/find

    // The bodies of the calls to Orthanc: POST /modalities/{m}/query, POST
    // /modalities/{m}/find-worklist, POST /tools/find. Timeout (seconds, at least 1) is always
    // sent: Orthanc's DicomScuTimeout 0 would wait for ever.
    Json::Value MakePatientBody(const Query& query, unsigned int timeoutSeconds);
    Json::Value MakeWorklistBody(const Query& query, unsigned int timeoutSeconds);
    Json::Value MakeLocalBody(const Query& query, unsigned int maxAnswers);

    // One answer as a record of `source`; false when it has no PatientID (nothing to
    // release to) or, for this Orthanc, when the patient is an isolated one of an upload
    // (Isolation::IsIsolatedPatientId with `prefix`).
    bool ParsePatientAnswer(CandidateRecord& record, const Json::Value& answer,
                            const std::string& source);
    bool ParseWorklistAnswer(CandidateRecord& record, const Json::Value& answer,
                             const std::string& source);
    bool ParseLocalAnswer(CandidateRecord& record, const Json::Value& answer,
                          const std::string& prefix);

    // Appends `record` to `records` unless one with the same identity is there: (PatientID,
    // issuer) for patients, (PatientID, AccessionNumber, RequestedProcedureID) for worklist
    // entries. False when it was there.
    bool AddUnique(std::vector<CandidateRecord>& records, const CandidateRecord& record);
  } // namespace CandidateQueries
} // namespace Inbound
