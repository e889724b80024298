// libFuzzer target: validation and parsing of an uploaded file, then the isolation rewrite
// and serialization that follow on the upload path.
#include "Http/ApiError.h"
#include "Upload/DicomInspector.h"
#include "Upload/Isolation.h"

#include <Logging.h>
#include <OrthancException.h>
#include <OrthancFramework.h>

#include <cstdint>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
  Orthanc::InitializeFramework("", true);
  Orthanc::Logging::EnableInfoLevel(false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  try
  {
    Inbound::DicomSummary summary;
    std::unique_ptr<Orthanc::ParsedDicomFile> dicom =
      Inbound::DicomInspector::Parse(summary, data, size);
    const std::string patientId =
      Inbound::Isolation::MakePatientId("INB-", "ABCDEFGHJKLM", summary.patientId);
    Inbound::Isolation::Apply(*dicom, patientId, "ABCDEFGHJKLM");
    std::string buffer;
    dicom->SaveToMemoryBuffer(buffer);
  }
  catch (const Inbound::ApiError&)
  {
  }
  catch (const Orthanc::OrthancException&)
  {
    // a file that parses but cannot be rewritten is refused by the service (500 path)
  }
  return 0;
}
