// libFuzzer target: the reconciliation scores of untrusted sender names, dates and IDs against
// a hospital record, ranked and turned into JSON on a civetweb worker's stack. Its promises:
// nothing throws or overflows the 100 KiB stack; a score is 0-100 with known reason codes, each
// once, at most one name, one birth-date and one sex code; the same inputs give the same score;
// the name, birth-date and sex rules are symmetric; Rank keeps its order and cut; an automatic
// identity is only ever one of the candidates at or above the threshold.
#include "CivetwebThread.h"
#include "Reconcile/CandidateScore.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

namespace
{
  // The fields of a case, separated by NUL bytes; lists within a field by '\'.
  enum Field
  {
    Field_SentName,
    Field_SentBirthDate,
    Field_SentSex,
    Field_SentId,
    Field_SentIssuer,
    Field_SentOtherIds,
    Field_SentAccessions,
    Field_SentModalities,
    Field_SentStudyDates,
    Field_Source,
    Field_Name,
    Field_BirthDate,
    Field_Sex,
    Field_Id,
    Field_Issuer,
    Field_OtherIds,
    Field_Accession,
    Field_ScheduledDate,
    Field_ScheduledModality,
    Field_Count
  };

  std::vector<std::string> List(const std::string& s)
  {
    return s.empty() ? std::vector<std::string>() : InboundFuzzing::SplitFields(s, '\\', 64);
  }

  const std::set<std::string>& Codes()
  {
    static const std::set<std::string> codes = {
        "name-same",       "name-reordered",  "name-partial",       "name-similar", "name-differs",
        "birth-date-same", "birth-date-near", "birth-date-differs", "sex-same",     "sex-differs",
        "original-id",     "same-patient-id", "accession",          "scheduled",    "request-link"};
    return codes;
  }

  size_t CountPrefixed(const std::vector<std::string>& reasons, const std::string& prefix)
  {
    return std::count_if(reasons.begin(), reasons.end(),
                         [&](const std::string& r)
                         { return r.compare(0, prefix.size(), prefix) == 0; });
  }

  std::vector<std::string> Personal(const std::vector<std::string>& reasons)
  {
    std::vector<std::string> result;
    for (const std::string& r : reasons)
    {
      if (r.compare(0, 5, "name-") == 0 || r.compare(0, 11, "birth-date-") == 0 ||
          r.compare(0, 4, "sex-") == 0)
      {
        result.push_back(r);
      }
    }
    return result;
  }

  void Check(const Inbound::Candidate& c)
  {
    std::set<std::string> seen;
    for (const std::string& r : c.reasons)
    {
      if (Codes().count(r) == 0 || !seen.insert(r).second)
      {
        abort();
      }
    }
    if (c.score < 0 || c.score > 100 || CountPrefixed(c.reasons, "name-") > 1 ||
        CountPrefixed(c.reasons, "birth-date-") > 1 || CountPrefixed(c.reasons, "sex-") > 1 ||
        seen.count("original-id") + seen.count("same-patient-id") > 1)
    {
      abort();
    }
  }

  void Run(const std::string& input)
  {
    const std::vector<std::string> f = InboundFuzzing::SplitFields(input, '\0', Field_Count);
    Inbound::SentPatient sent;
    sent.name = f[Field_SentName];
    sent.birthDate = f[Field_SentBirthDate];
    sent.sex = f[Field_SentSex];
    sent.originalPatientId = f[Field_SentId];
    sent.issuer = f[Field_SentIssuer];
    sent.otherPatientIds = List(f[Field_SentOtherIds]);
    sent.accessionNumbers = List(f[Field_SentAccessions]);
    sent.modalities = List(f[Field_SentModalities]);
    sent.studyDates = List(f[Field_SentStudyDates]);
    Inbound::CandidateRecord record;
    record.source = f[Field_Source];
    record.name = f[Field_Name];
    record.birthDate = f[Field_BirthDate];
    record.sex = f[Field_Sex];
    record.patientId = f[Field_Id];
    record.issuer = f[Field_Issuer];
    record.otherPatientIds = List(f[Field_OtherIds]);
    record.accessionNumber = f[Field_Accession];
    record.scheduledDate = f[Field_ScheduledDate];
    record.scheduledModality = f[Field_ScheduledModality];

    const Inbound::Candidate a = Inbound::CandidateScore::Score(sent, record);
    Check(a);
    const Inbound::Candidate again = Inbound::CandidateScore::Score(sent, record);
    if (again.score != a.score || again.reasons != a.reasons)
    {
      abort();
    }
    // The sender's patient as the hospital's record and back: the same personal codes.
    Inbound::SentPatient mirrorSent;
    mirrorSent.name = record.name;
    mirrorSent.birthDate = record.birthDate;
    mirrorSent.sex = record.sex;
    Inbound::CandidateRecord mirror;
    mirror.source = "local";
    mirror.name = sent.name;
    mirror.birthDate = sent.birthDate;
    mirror.sex = sent.sex;
    const Inbound::Candidate b = Inbound::CandidateScore::Score(mirrorSent, mirror);
    Check(b);
    if (Personal(a.reasons) != Personal(b.reasons))
    {
      abort();
    }

    Inbound::Reconciliation result;
    result.uploadId = "ABCDEFGHJKLM";
    result.autoThreshold = static_cast<int>(input.size() % 101);
    Inbound::PatientCandidates patient;
    patient.sent = sent;
    patient.candidates = {a, b, a};
    const size_t cut = input.size() % 4;
    Inbound::CandidateScore::Rank(patient, 50, cut);
    // Beyond the cut, only the best candidate of each other PatientID that fits is kept (so
    // that the automatic rule still sees a second patient above its threshold).
    for (size_t i = cut; i < patient.candidates.size(); i++)
    {
      if (patient.candidates[i].score < 50)
      {
        abort();
      }
      for (size_t j = 0; j < i; j++)
      {
        if (patient.candidates[j].record.patientId == patient.candidates[i].record.patientId)
        {
          abort();
        }
      }
    }
    for (size_t i = 0; i < patient.candidates.size(); i++)
    {
      if (patient.candidates[i].score <= 0 ||
          (i > 0 && patient.candidates[i].score > patient.candidates[i - 1].score))
      {
        abort();
      }
    }
    result.patients.push_back(patient);
    Inbound::Candidate chosen;
    std::string reason;
    if (Inbound::CandidateScore::AutoIdentity(chosen, reason, result, record.patientId))
    {
      if (chosen.record.patientId != record.patientId || chosen.score < result.autoThreshold ||
          !reason.empty())
      {
        abort();
      }
    }
    else if (reason.empty())
    {
      abort();
    }
    const Json::Value json = result.ToJson();
    if (json["patients"][0]["candidates"].size() != patient.candidates.size())
    {
      abort();
    }
  }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const std::string input(reinterpret_cast<const char*>(data), size);
  InboundFuzzing::RunOnCivetwebStack([&] { Run(input); });
  return 0;
}
