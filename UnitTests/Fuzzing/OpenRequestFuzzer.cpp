// libFuzzer target: the JSON body of "POST /inbound/api/uploads" (untrusted, public).
#include "Configuration.h"
#include "Http/ApiError.h"
#include "Upload/OpenRequest.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const Inbound::Configuration configuration = [] {
    Json::Value section;
    section["Privacy"]["Version"] = "1";
    Json::Value recipient;
    recipient["Id"] = "neuro";
    recipient["Name"] = "Neuroradiology";
    recipient["Email"] = "neuro@hospital.example";
    section["Recipients"].append(recipient);
    return Inbound::Configuration::Parse(section);
  }();

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
