// Counts the partner STOW-RS requests running at once, per partner and in all.
#include "PartnerStreams.h"

namespace Inbound
{
  bool PartnerStreams::Acquire(const std::string& partnerId, unsigned int maxForPartner)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    unsigned int& count = perPartner_[partnerId];
    if (count >= maxForPartner || total_ >= maxTotal_)
    {
      if (count == 0)
      {
        perPartner_.erase(partnerId);
      }
      return false;
    }
    count++;
    total_++;
    return true;
  }

  void PartnerStreams::Release(const std::string& partnerId)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = perPartner_.find(partnerId);
    if (it == perPartner_.end())
    {
      return;
    }
    total_--;
    if (--it->second == 0)
    {
      perPartner_.erase(it);
    }
  }

  unsigned int PartnerStreams::GetCount(const std::string& partnerId)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = perPartner_.find(partnerId);
    return it == perPartner_.end() ? 0 : it->second;
  }

  unsigned int PartnerStreams::GetTotal()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return total_;
  }
}
