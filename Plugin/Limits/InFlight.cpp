// Reservations of request bodies: taken by the filter, used by the handler, lapsing if abandoned.
#include "InFlight.h"

namespace Inbound
{
  InFlight::InFlight(unsigned int maxPerClient, uint64_t maxBytes) :
    maxPerClient_(maxPerClient),
    maxBytes_(maxBytes)
  {
  }

  InFlight::Result InFlight::Reserve(uint64_t& ticket, const std::string& address,
                                     uint64_t bytes, int64_t nowMs)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ticket = 0;
    auto found = perClient_.find(address);
    const unsigned int count = (found == perClient_.end() ? 0 : found->second);
    if (maxPerClient_ > 0 && count >= maxPerClient_)
    {
      refusals_++;
      return Result_ClientBusy;
    }
    if (maxBytes_ > 0 && bytes_ + bytes > maxBytes_)
    {
      refusals_++;
      return Result_ServerBusy;
    }
    perClient_[address] = count + 1;
    bytes_ += bytes;
    ticket = nextTicket_++;
    reservations_[ticket] = Reservation{address, bytes, nowMs, false, true};
    return Result_Reserved;
  }

  InFlight::Result InFlight::ReserveBytes(uint64_t& ticket, uint64_t bytes, int64_t nowMs)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ticket = 0;
    if (maxBytes_ > 0 && (bytes > maxBytes_ || bytes_ + bytes > maxBytes_))
    {
      refusals_++;
      return Result_ServerBusy;
    }
    bytes_ += bytes;
    extraBytes_ += bytes;
    ticket = nextTicket_++;
    reservations_[ticket] = Reservation{"", bytes, nowMs, true, false};
    return Result_Reserved;
  }

  void InFlight::ReleaseInternal(std::map<uint64_t, Reservation>::iterator it)
  {
    if (it->second.isBody)
    {
      auto client = perClient_.find(it->second.address);
      if (client != perClient_.end() && --client->second == 0)
      {
        perClient_.erase(client);
      }
    }
    else
    {
      extraBytes_ -= it->second.bytes;
    }
    bytes_ = (it->second.bytes > bytes_) ? 0 : bytes_ - it->second.bytes;
    reservations_.erase(it);
  }

  bool InFlight::MarkInUse(uint64_t ticket)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = reservations_.find(ticket);
    if (found == reservations_.end())
    {
      return false;
    }
    found->second.inUse = true;
    return true;
  }

  size_t InFlight::CountInUse()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t count = 0;
    for (const auto& reservation : reservations_)
    {
      count += (reservation.second.inUse && reservation.second.isBody) ? 1 : 0;
    }
    return count;
  }

  void InFlight::Release(uint64_t ticket)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = reservations_.find(ticket);
    if (found != reservations_.end())
    {
      ReleaseInternal(found);
    }
  }

  size_t InFlight::Expire(int64_t cutoffMs)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t count = 0;
    for (auto it = reservations_.begin(); it != reservations_.end();)
    {
      auto next = std::next(it);
      if (!it->second.inUse && it->second.since < cutoffMs)
      {
        ReleaseInternal(it);
        count++;
      }
      it = next;
    }
    lapsed_ += count;
    return count;
  }

  uint64_t InFlight::GetBytes()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }

  uint64_t InFlight::GetExtraBytes()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return extraBytes_;
  }

  unsigned int InFlight::GetCount(const std::string& address)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = perClient_.find(address);
    return found == perClient_.end() ? 0 : found->second;
  }

  uint64_t InFlight::GetRefusals()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return refusals_;
  }

  uint64_t InFlight::GetLapsed()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return lapsed_;
  }
}
