// libFuzzer target: an uploaded file's checks and isolation, then the release's coercion of its copy.
// Byte 0 picks the release (bit 0: isolate first as the upload path does; bit 1: a name that
// Latin-1 cannot hold, so that the file is converted to UTF-8; bit 2: new UIDs; bit 3: the
// issuer removed), the rest is the file. On a thread with a civetweb worker's 100 KiB stack
// (doc/Architecture.md, fact 12), though the forwarder's thread has more: the coercion then
// runs where the tightest limit holds.
#include "CivetwebThread.h"
#include "Http/ApiError.h"
#include "Reconcile/Coercion.h"
#include "Upload/DicomInspector.h"
#include "Upload/Isolation.h"

#include <Logging.h>
#include <OrthancException.h>
#include <OrthancFramework.h>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace
{
  const char* const kUpload = "ABCDEFGHJKLM";

  struct Input
  {
    const uint8_t* data;
    size_t size;
  };

  void Coerce(const Input& input)
  {
    if (input.size < 1)
    {
      return;
    }
    const uint8_t how = input.data[0];
    try
    {
      Inbound::DicomGuardLimits limits;  // the defaults: 24 levels
      limits.maxInflatedBytes = 2 * 1024 * 1024;
      Inbound::DicomSummary summary;
      const Inbound::CheckedDicom checked =
        Inbound::DicomInspector::Check(input.data + 1, input.size - 1, limits);
      std::unique_ptr<Orthanc::ParsedDicomFile> dicom =
        Inbound::DicomInspector::Parse(summary, checked);
      DcmDataset& dataset = *dicom->GetDcmtkObject().getDataset();
      if (how & 1)
      {
        Inbound::Isolation::Apply(dataset, "INB-ABCDEFGHJKLM-1", kUpload, "Sender Hospital",
                                  "20261204203512.123456+0000");
      }
      Inbound::CoercedIdentity identity;
      identity.patientId = "H-1";
      identity.issuer = (how & 8) ? "" : "HOSPITAL-X";
      identity.name = (how & 2) ? "\xc5\x81ukasiewicz^Zo\xc3\xab" : "DOE^JANE";
      identity.birthDate = "19700131";
      identity.sex = "F";
      identity.accessionNumber = "A-17";
      Inbound::CoercedUids uids;
      if (how & 4)
      {
        uids.study = "2.25.1";
        uids.series = "2.25.1.2";
        uids.instance = "2.25.1.2.3";
      }
      Inbound::Coercion::Apply(dataset, identity, uids, kUpload, "20270101101010.000001+0000");
      std::string buffer;
      dicom->SaveToMemoryBuffer(buffer);
    }
    catch (const Inbound::ApiError&)
    {
    }
    catch (const Orthanc::OrthancException&)
    {
    }
    catch (const std::runtime_error&)
    {
      // the coercion's refusals: the forward fails with that message
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
  InboundFuzzing::RunOnCivetwebStack([&input] { Coerce(input); });
  return 0;
}
