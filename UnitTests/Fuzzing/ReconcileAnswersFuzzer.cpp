// libFuzzer target: the reconciliation's readers of answers (a PACS's C-FIND, a RIS's worklist,
// this Orthanc's /tools/find, the stored tags of a sent patient) on a civetweb worker's stack.
// Byte 0 picks the reader (0 patient level, 1 worklist, 2 local, 3 stored tags), the rest is the
// JSON that Orthanc hands over. Its promises: nothing throws or overflows the 100 KiB stack; an
// accepted record has a PatientID; this Orthanc's isolated patients are never candidates; a
// record added twice is kept once; the sent patient's sex stays one of "M", "F", "O" or "" and
// its lists stay within their caps.
#include "CivetwebThread.h"
#include "Reconcile/CandidateQueries.h"
#include "Reconcile/SentPatients.h"
#include "Toolbox/Json.h"
#include "Upload/Isolation.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace
{
  const char* const kPrefix = "INB";

  void CheckRecord(bool accepted, const Inbound::CandidateRecord& record, bool local)
  {
    if (!accepted)
    {
      return;
    }
    if (record.patientId.empty() ||
        (local && Inbound::Isolation::IsIsolatedPatientId(kPrefix, record.patientId)))
    {
      abort();
    }
    std::vector<Inbound::CandidateRecord> records;
    if (!Inbound::CandidateQueries::AddUnique(records, record) ||
        Inbound::CandidateQueries::AddUnique(records, record) || records.size() != 1)
    {
      abort();
    }
  }

  void Run(const std::string& input)
  {
    if (input.empty())
    {
      return;
    }
    Json::Value answer;
    if (!Inbound::JsonText::ParseStrict(answer, input.data() + 1, input.size() - 1))
    {
      return;
    }
    Inbound::CandidateRecord record;
    switch (static_cast<uint8_t>(input[0]) % 4)
    {
      case 0:
        CheckRecord(Inbound::CandidateQueries::ParsePatientAnswer(record, answer, "pacs"), record,
                    false);
        break;
      case 1:
        CheckRecord(Inbound::CandidateQueries::ParseWorklistAnswer(record, answer, "ris"), record,
                    false);
        break;
      case 2:
        CheckRecord(Inbound::CandidateQueries::ParseLocalAnswer(record, answer, kPrefix), record,
                    true);
        break;
      default:
      {
        Inbound::SentPatient patient;
        Inbound::SentPatients::AddInstanceTags(patient, answer);
        Inbound::SentPatients::AddInstanceTags(patient, answer);  // a second study's instance
        if ((patient.sex != "" && patient.sex != "M" && patient.sex != "F" && patient.sex != "O") ||
            patient.otherPatientIds.size() > 16 || patient.accessionNumbers.size() > 20)
        {
          abort();
        }
        break;
      }
    }
  }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const std::string input(reinterpret_cast<const char*>(data), size);
  InboundFuzzing::RunOnCivetwebStack([&] { Run(input); });
  return 0;
}
