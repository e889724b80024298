#include "InFlight.h"

namespace Inbound
{
  InFlight::InFlight(unsigned int maxPerClient, uint64_t maxBytes) :
    maxPerClient_(maxPerClient),
    maxBytes_(maxBytes)
  {
  }

  InFlight::Result InFlight::Reserve(const std::string& address, uint64_t bytes)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    unsigned int& count = perClient_[address];
    if (maxPerClient_ > 0 && count >= maxPerClient_)
    {
      refusals_++;
      if (count == 0)
        perClient_.erase(address);
      return Result_ClientBusy;
    }
    if (maxBytes_ > 0 && bytes_ + bytes > maxBytes_)
    {
      refusals_++;
      if (count == 0)
        perClient_.erase(address);
      return Result_ServerBusy;
    }
    count++;
    bytes_ += bytes;
    return Result_Reserved;
  }

  void InFlight::Release(const std::string& address, uint64_t bytes)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = perClient_.find(address);
    if (found != perClient_.end())
    {
      if (--found->second == 0)
      {
        perClient_.erase(found);
      }
    }
    bytes_ = (bytes > bytes_) ? 0 : bytes_ - bytes;
  }

  uint64_t InFlight::GetBytes()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
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
}
