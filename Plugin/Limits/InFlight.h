#pragma once

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace Inbound
{
  // Bodies being received right now (ARCHITECTURE, fact 3: Orthanc holds each one whole in
  // memory before the plugin sees it). Reserved by the access filter from the Content-Length
  // before the body is read, released when the request ends, so memory stays bounded.
  class InFlight : public boost::noncopyable
  {
  private:
    unsigned int maxPerClient_;
    uint64_t maxBytes_;
    std::mutex mutex_;
    std::map<std::string, unsigned int> perClient_;
    uint64_t bytes_ = 0;
    uint64_t refusals_ = 0;

  public:
    enum Result
    {
      Result_Reserved,
      Result_ClientBusy,   // the client has its maximum of bodies in flight
      Result_ServerBusy    // the server's byte budget is used up
    };

    InFlight(unsigned int maxPerClient, uint64_t maxBytes);

    Result Reserve(const std::string& address, uint64_t bytes);

    void Release(const std::string& address, uint64_t bytes);

    uint64_t GetBytes();

    unsigned int GetCount(const std::string& address);

    uint64_t GetRefusals();
  };
}
