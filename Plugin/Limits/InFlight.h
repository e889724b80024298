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
  // before the body is read, released when the request ends. A body whose request never
  // reaches the plugin (the client went away while sending) is not announced by Orthanc: its
  // reservation lapses after a timeout instead.
  class InFlight : public boost::noncopyable
  {
  public:
    enum Result
    {
      Result_Reserved,
      Result_ClientBusy,   // the client has its maximum of bodies in flight
      Result_ServerBusy    // the server's byte budget is used up
    };

  private:
    struct Reservation
    {
      std::string address;
      uint64_t bytes;
      int64_t since;
    };

    unsigned int maxPerClient_;
    uint64_t maxBytes_;
    std::mutex mutex_;
    std::map<std::string, unsigned int> perClient_;
    std::map<uint64_t, Reservation> reservations_;
    uint64_t nextTicket_ = 1;
    uint64_t bytes_ = 0;
    uint64_t refusals_ = 0;
    uint64_t lapsed_ = 0;

    void ReleaseInternal(std::map<uint64_t, Reservation>::iterator it);

  public:
    InFlight(unsigned int maxPerClient, uint64_t maxBytes);

    // "ticket" identifies the reservation for Release().
    Result Reserve(uint64_t& ticket, const std::string& address, uint64_t bytes, int64_t nowMs);

    // Releasing an unknown or lapsed ticket does nothing.
    void Release(uint64_t ticket);

    // Releases the reservations older than "cutoffMs"; returns how many.
    size_t Expire(int64_t cutoffMs);

    uint64_t GetBytes();

    unsigned int GetCount(const std::string& address);

    uint64_t GetRefusals();

    uint64_t GetLapsed();
  };
}
