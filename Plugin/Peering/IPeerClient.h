// One gateway as the Internal reaches it, as an interface (a fake in unit tests).
#pragma once

#include <cstdint>
#include <string>

namespace Inbound
{
  struct PeerAnswer
  {
    uint16_t status = 0;
    std::string body;
    bool truncated = false;  // more than the caller's maxAnswerBytes came: body is incomplete
  };

  // One gateway as the internal side reaches it: an entry of Orthanc's "OrthancPeers" (URL,
  // credentials, client certificate and timeouts all come from there). Tests use a fake.
  class IPeerClient
  {
  public:
    virtual ~IPeerClient() = default;

    virtual const std::string& GetName() const = 0;

    // False when the gateway could not be reached at all; otherwise its answer, any status. A
    // redirect is never followed: it is an answer like any other (3xx). An answer body longer
    // than "maxAnswerBytes" is cut off there, the transfer aborted and "truncated" set.
    virtual bool Call(PeerAnswer& answer, bool post, const std::string& uri,
                      const std::string& body, unsigned int timeoutSeconds,
                      uint64_t maxAnswerBytes) = 0;
  };
}
