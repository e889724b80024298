// libFuzzer target: X-Forwarded-For resolution, CIDR rules and the Authorization header.
#include "Http/AccessPolicy.h"
#include "Http/AddressRules.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const Inbound::AddressRules trusted({"127.0.0.1", "10.0.0.0/8", "2001:db8::/32"});
  static const Inbound::AccessPolicy policy({{"admin", "secret"}}, trusted);

  const std::string text(reinterpret_cast<const char*>(data), size);
  Inbound::ResolveClientAddress(trusted, "127.0.0.1", text);
  trusted.Contains(text);
  policy.IsAuthorized(text);
  Inbound::AccessPolicy::Classify(Orthanc::HttpMethod_Get, text);
  try
  {
    Inbound::AddressRules rules({text});
    rules.Contains("10.1.2.3");
  }
  catch (const std::invalid_argument&)
  {
  }
  return 0;
}
