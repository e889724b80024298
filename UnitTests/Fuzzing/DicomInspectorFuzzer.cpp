// libFuzzer target: validation and parsing of an uploaded file (a parse of its header only
// when its pixel data can be copied as sent), then the isolation rewrite and serialization
// that follow on the upload path — on a thread with the stack of a civetweb
// worker of Orthanc 1.10.1 (100 KiB), where the plugin really runs them: on the main thread's
// 8 MB a nesting that kills Orthanc goes unnoticed.
#include "CivetwebThread.h"
#include "Http/ApiError.h"
#include "Upload/DicomInspector.h"
#include "Upload/DicomText.h"
#include "Upload/DicomWriter.h"
#include "Upload/Isolation.h"

#include <Logging.h>
#include <OrthancException.h>
#include <OrthancFramework.h>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cstdint>
#include <cstdlib>

namespace
{
  struct Input
  {
    const uint8_t* data;
    size_t size;
  };

  void Inspect(const Input& input)
  {
    try
    {
      Inbound::DicomGuardLimits limits;  // the defaults: 24 levels
      limits.maxInflatedBytes = 2 * 1024 * 1024;  // below the 4 MB bomb seed
      Inbound::DicomSummary summary;
      const Inbound::CheckedDicom checked =
        Inbound::DicomInspector::Check(input.data, input.size, limits);
      if (checked.GetParsedBytes() > input.size + limits.maxInflatedBytes)
      {
        abort();  // the memory reserved before parsing would be wrong
      }
      std::unique_ptr<Orthanc::ParsedDicomFile> dicom =
        Inbound::DicomInspector::Parse(summary, checked);
      // As ArchiveSink::Keep: the raw PatientID, its decoding, an ordinal, the rewrite.
      DcmDataset& dataset = *dicom->GetDcmtkObject().getDataset();
      std::string raw, charset;
      Inbound::DicomText::ReadRaw(raw, dataset, DCM_PatientID);
      Inbound::DicomText::ReadRaw(charset, dataset, DCM_SpecificCharacterSet);
      const Inbound::DicomText::Decoded decoded = Inbound::DicomText::Decode(raw, charset);
      const int64_t ordinal = 1 + static_cast<int64_t>(raw.size() % 7);
      const std::string patientId =
        Inbound::Isolation::MakePatientId("INB-", "ABCDEFGHJKLM", ordinal, decoded.text);
      Inbound::Isolation::Apply(dataset, patientId, "ABCDEFGHJKLM", "Sender Institution",
                                "20261204203512.123456+0000");
      // As ArchiveSink::Isolate: pixel data that Parse left unread is copied after the rest.
      size_t pixelData = 0;
      if (Inbound::DicomInspector::LookupUnparsedPixelData(pixelData, *dicom, input.data,
                                                           input.size) &&
          (pixelData <= 132 || pixelData >= input.size))
      {
        abort();  // the copied element must lie in the body, after the file meta group
      }
      std::string buffer;
      Inbound::DicomWriter::SaveAndRelease(buffer, *dicom, input.data, input.size);
    }
    catch (const Inbound::ApiError&)
    {
    }
    catch (const Orthanc::OrthancException&)
    {
      // a file that parses but cannot be rewritten is refused by the service (500 path)
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
  // One thread per input, as civetweb gives each connection a thread of this stack size.
  const Input input{data, size};
  InboundFuzzing::RunOnCivetwebStack([&input] { Inspect(input); });
  return 0;
}
