// libFuzzer target: the JSON body of "POST /inbound/api/uploads" (untrusted, public).
#include "CivetwebThread.h"
#include "Configuration.h"
#include "Http/ApiError.h"
#include "Upload/OpenRequest.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const Inbound::Configuration& configuration = InboundFuzzing::GetStandaloneConfiguration();

  try
  {
    Inbound::OpenRequest::Parse(data, size, configuration);
  }
  catch (const Inbound::ApiError&)
  {
    // a refusal is the expected outcome of most inputs; anything else escapes and crashes
  }
  return 0;
}
