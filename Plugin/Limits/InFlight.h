// The bodies held in memory right now: per-client count and byte budget, reserved before reading.
#pragma once

#include <boost/noncopyable.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace Inbound
{
  // Bodies being received or handled right now (doc/Architecture.md, fact 3: Orthanc holds each one
  // whole in memory before the plugin sees it). Reserved by the access filter before the body
  // is read (the bytes it will take in memory, see LimitsGuard::AdmitBody), marked in use when
  // the plugin's handler starts, and released by that handler when it ends. A body whose
  // handler never starts (the client went away while sending: Orthanc does not tell the
  // plugin) lapses after a timeout instead; one in use never lapses, however long its handler
  // runs, since its memory is still held.
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
      bool inUse;
      bool isBody;  // false: bytes only (ReserveBytes), not one of the client's bodies
    };

    unsigned int maxPerClient_;
    uint64_t maxBytes_;
    std::mutex mutex_;
    std::map<std::string, unsigned int> perClient_;
    std::map<uint64_t, Reservation> reservations_;
    uint64_t nextTicket_ = 1;
    uint64_t bytes_ = 0;
    uint64_t extraBytes_ = 0;  // of bytes_, those of ReserveBytes
    uint64_t refusals_ = 0;
    uint64_t lapsed_ = 0;

    void ReleaseInternal(std::map<uint64_t, Reservation>::iterator it);

  public:
    InFlight(unsigned int maxPerClient, uint64_t maxBytes);

    // "ticket" identifies the reservation for Release().
    Result Reserve(uint64_t& ticket, const std::string& address, uint64_t bytes, int64_t nowMs);

    // Memory beyond a body's own, for a handler that runs (a file that parses bigger than it
    // is): counted in the byte budget, not as a body of any client; in use from the start, so
    // it never lapses. Result_ServerBusy when the budget cannot hold it.
    Result ReserveBytes(uint64_t& ticket, uint64_t bytes, int64_t nowMs);

    // The handler of the request has started: the reservation no longer lapses. False for an
    // unknown or lapsed ticket.
    bool MarkInUse(uint64_t ticket);

    // Releasing an unknown or lapsed ticket does nothing.
    void Release(uint64_t ticket);

    // Releases the reservations not in use and made before "cutoffMs"; returns how many.
    size_t Expire(int64_t cutoffMs);

    // Body reservations whose handler runs.
    size_t CountInUse();

    uint64_t GetBytes();

    // The part of GetBytes() reserved by ReserveBytes.
    uint64_t GetExtraBytes();

    unsigned int GetCount(const std::string& address);

    uint64_t GetRefusals();

    uint64_t GetLapsed();
  };
}
