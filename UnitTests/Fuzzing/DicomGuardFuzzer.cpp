// libFuzzer target: the structural walk alone (no DCMTK parse after it), so that libFuzzer
// spends its executions on the walker's branches: meta group, encodings, sequences, items,
// delimiters, fragments, deflate. Its promise: it returns or throws ApiError, in time linear
// in the input, and it is deterministic.
#include "Http/ApiError.h"
#include "Upload/DicomGuard.h"

#include <OrthancFramework.h>

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
  Orthanc::InitializeFramework("", true);  // DCMTK's dictionary, used for implicit VR
  return 0;
}

namespace
{
  std::string Outcome(const uint8_t* data, size_t size, unsigned int depth)
  {
    Inbound::DicomGuardLimits limits;
    limits.maxSequenceDepth = depth;
    limits.maxInflatedBytes = 2 * 1024 * 1024;
    try
    {
      const uint64_t parsed = Inbound::DicomGuard::Check(data, size, limits);
      // The size as parsed is the file's, or its meta group (part of the file) plus at most
      // the inflated cap: what the memory reservation is based on must stay within these.
      if (parsed < 132 || parsed > size + limits.maxInflatedBytes)
      {
        abort();
      }
      return "";
    }
    catch (const Inbound::ApiError& e)
    {
      return e.GetCode();
    }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const std::string strict = Outcome(data, size, 24);
  const std::string loose = Outcome(data, size, 1000000);
  // A file accepted at 24 levels is accepted without a cap: the cap only ever refuses more.
  if (strict.empty() && !loose.empty())
  {
    abort();
  }
  return 0;
}
