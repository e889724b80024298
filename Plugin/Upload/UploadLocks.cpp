// Hands out the lock of an upload, and forgets the locks that nobody holds.
#include "UploadLocks.h"

namespace Inbound
{
  std::shared_ptr<std::shared_mutex> UploadLocks::Get(const std::string& uploadId)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::shared_ptr<std::shared_mutex> result = locks_[uploadId].lock();
    if (!result)
    {
      result = std::make_shared<std::shared_mutex>();
      locks_[uploadId] = result;
    }

    // Forget the locks nobody holds, from time to time, so the map stays small.
    if (locks_.size() >= pruneAt_)
    {
      for (auto it = locks_.begin(); it != locks_.end();)
      {
        it = it->second.expired() ? locks_.erase(it) : std::next(it);
      }
      pruneAt_ = 2 * locks_.size() + 64;
    }
    return result;
  }
}
