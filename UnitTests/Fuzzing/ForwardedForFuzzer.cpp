// libFuzzer target: the access filter's reading of untrusted request parts — X-Forwarded-For
// resolution, CIDR rules, the Authorization header, and the whole decision (AccessPolicy::Decide)
// on fuzzed URIs, methods, Origin, Host, Content-Type, X-Requested-With and arguments, with the
// rules that must hold whatever the input:
// a banned client is never let in, a write that another site could have sent never reaches
// Orthanc as an admin's, and a multipart form never passes without an account.
#include "CivetwebThread.h"
#include "Http/AccessPolicy.h"
#include "Http/AddressRules.h"
#include "Http/ApiError.h"

#include <cstdint>
#include <string>
#include <vector>

namespace
{
  void Require(bool condition)
  {
    if (!condition)
      __builtin_trap();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const Inbound::AddressRules trusted({"127.0.0.1", "10.0.0.0/8", "2001:db8::/32"});
  static const Inbound::AccessPolicy policy(
    {{"admin", "a-long-admin-password"}}, trusted,
    {Inbound::PullerAccount{"inside", "a-long-puller-password", {"10.1.0.0/16"}}},
    Inbound::AddressRules({"127.0.0.0/8", "10.0.0.0/8", "::1"}), Inbound::Role_Standalone);

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

  // Lines: flags, URI, client, Authorization, then header name/value pairs and an argument.
  const std::vector<std::string> f = InboundFuzzing::SplitFields(text, '\n', 12);
  const uint8_t flags = f[0].empty() ? 0 : uint8_t(f[0][0]);
  Inbound::AccessRequest request;
  static const Orthanc::HttpMethod kMethods[] = {Orthanc::HttpMethod_Get, Orthanc::HttpMethod_Post,
                                                 Orthanc::HttpMethod_Put, Orthanc::HttpMethod_Delete};
  request.method = kMethods[flags & 3];
  request.uri = f[1];
  request.client = Inbound::ResolveClientAddress(trusted, "127.0.0.1", f[2]);
  request.authorization = f[3];
  request.hasBody = (flags & 4) != 0;
  request.bodyBytes = (flags & 8) ? 100 : -1;
  request.banned = (flags & 16) != 0;
  for (size_t i = 4; i + 1 < 10; i += 2)
  {
    request.facts.AddHeader(f[i].c_str(), f[i + 1].c_str());
  }
  request.facts.AddArgument(f[10].c_str());

  const Inbound::AccessDecision decision = policy.Decide(request);
  Require(!(request.banned && decision.IsAllowed()));
  if (decision.verdict == Inbound::AccessVerdict_Admin && Inbound::IsWrite(request.method))
  {
    Require(Inbound::IsSameOriginWrite(request.facts));
  }
  if (request.facts.multipartForm && decision.IsAllowed())
  {
    // An admin's own upload form, or a refusal left to the handler (which answers 400).
    Require(decision.verdict == Inbound::AccessVerdict_Handler ||
            (policy.NeedsAdmin(decision.routeClass) &&
             decision.verdict == Inbound::AccessVerdict_Admin));
  }
  if (request.facts.methodOverride)
  {
    Require(decision.verdict != Inbound::AccessVerdict_Admin &&
            decision.verdict != Inbound::AccessVerdict_Public &&
            decision.verdict != Inbound::AccessVerdict_Puller);
  }
  if (decision.verdict == Inbound::AccessVerdict_Handler)
  {
    bool refused = false;
    try
    {
      policy.CheckInHandler(request.method, request.uri, request.facts);
    }
    catch (const Inbound::ApiError&)
    {
      refused = true;
    }
    Require(refused);  // the handler refuses whatever the filter left to it
  }
  return 0;
}
