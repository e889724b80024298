// One reader/writer lock per upload, so no file lands after its upload is removed.
#pragma once

#include <boost/noncopyable.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

namespace Inbound
{
  // One reader/writer lock per upload: files of one upload are stored in parallel (shared),
  // while completing, cancelling, expiring or deleting it waits for them and excludes new
  // ones (exclusive). Without it, a file could land in Orthanc after its upload was removed.
  class UploadLocks : public boost::noncopyable
  {
  private:
    std::mutex mutex_;
    std::map<std::string, std::weak_ptr<std::shared_mutex>> locks_;
    size_t pruneAt_ = 64;

  public:
    std::shared_ptr<std::shared_mutex> Get(const std::string& uploadId);
  };
}
