// libFuzzer target: the check and parse of a file on disk must answer as the check and parse in memory.
#include "CivetwebThread.h"
#include "Http/ApiError.h"
#include "Upload/DicomInspector.h"

#include <Logging.h>
#include <OrthancException.h>
#include <OrthancFramework.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <functional>

namespace
{
  struct Input
  {
    const uint8_t* data;
    size_t size;
  };

  struct Outcome
  {
    std::string refusal;  // "status/code", "" when it passed
    uint64_t parsedBytes = 0;
    std::string summary;
  };

  std::string Describe(const Inbound::DicomSummary& s)
  {
    return s.sopInstanceUid + "|" + s.sopClassUid + "|" + s.seriesInstanceUid + "|" +
           s.studyInstanceUid + "|" + s.patientId + "|" + s.patientIdBytes + "|" +
           (s.patientIdExact ? "1" : "0") + "|" + s.patientName + "|" + s.patientBirthDate + "|" +
           s.modality + "|" + s.studyDate + "|" + s.studyDescription + "|" + s.transferSyntax;
  }

  Outcome Run(const std::function<uint64_t(Inbound::DicomSummary&)>& checkAndParse)
  {
    Outcome outcome;
    Inbound::DicomSummary summary;
    try
    {
      outcome.parsedBytes = checkAndParse(summary);
      outcome.summary = Describe(summary);
    }
    catch (const Inbound::ApiError& e)
    {
      outcome.refusal = std::to_string(e.GetStatus()) + "/" + e.GetCode();
    }
    return outcome;
  }

  void Compare(const Input& input)
  {
    Inbound::DicomGuardLimits limits;  // the defaults: 24 levels
    limits.maxInflatedBytes = 2 * 1024 * 1024;  // below the 4 MB bomb seed

    const Outcome memory = Run([&](Inbound::DicomSummary& summary) {
      const Inbound::CheckedDicom checked =
        Inbound::DicomInspector::Check(input.data, input.size, limits);
      Inbound::DicomInspector::Parse(summary, checked);
      return checked.GetParsedBytes();
    });

    // The same bytes as a file (in memory: memfd), mapped by CheckFile, loaded by DCMTK.
    const int fd = memfd_create("dicom", MFD_CLOEXEC);
    if (fd < 0 || write(fd, input.data, input.size) != static_cast<ssize_t>(input.size))
    {
      abort();
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    const Outcome disk = Run([&](Inbound::DicomSummary& summary) {
      const Inbound::CheckedDicomFile checked = Inbound::DicomInspector::CheckFile(path, limits);
      Inbound::DicomInspector::ParseFile(summary, checked);
      return checked.GetParsedBytes();
    });
    close(fd);

    if (memory.refusal != disk.refusal || memory.parsedBytes != disk.parsedBytes ||
        memory.summary != disk.summary)
    {
      fprintf(stderr, "in memory: [%s] %llu %s\non disk: [%s] %llu %s\n", memory.refusal.c_str(),
              (unsigned long long) memory.parsedBytes, memory.summary.c_str(),
              disk.refusal.c_str(), (unsigned long long) disk.parsedBytes, disk.summary.c_str());
      abort();
    }
  }
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
  Orthanc::InitializeFramework("", true);
  Orthanc::Logging::EnableInfoLevel(false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const Input input{data, size};
  InboundFuzzing::RunOnCivetwebStack([&input] { Compare(input); });
  return 0;
}
