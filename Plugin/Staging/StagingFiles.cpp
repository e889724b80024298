// The staging area's file helpers: errors naming the path, fsync, exact reads, atomic writes.
#include "StagingFiles.h"

#include "Toolbox/Crypto.h"

#include <OrthancException.h>

#include <cerrno>
#include <cstring>

namespace Inbound
{
  namespace StagingFiles
  {
    void Fail(const std::string& what, const std::string& path)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_CannotWriteFile,
                                      what + " " + path + ": " + strerror(errno));
    }

    void SyncPath(const std::string& path, int flags)
    {
      const int fd = open(path.c_str(), flags);
      if (fd < 0)
      {
        Fail("Cannot open", path);
      }
      const int result = fsync(fd);
      close(fd);
      if (result != 0)
      {
        Fail("Cannot sync", path);
      }
    }

    TemporaryFile::TemporaryFile(const std::string& target) :
      path_(target + ".tmp-" + Crypto::RandomCode(8)),
      fd_(open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
    {
      if (fd_ < 0)
      {
        Fail("Cannot create", path_);
      }
    }

    TemporaryFile::~TemporaryFile()
    {
      if (fd_ >= 0)
      {
        close(fd_);
      }
      if (!path_.empty())
      {
        unlink(path_.c_str());
      }
    }

    void TemporaryFile::Append(const void* data, size_t size)
    {
      const char* p = static_cast<const char*>(data);
      while (size > 0)
      {
        const ssize_t n = write(fd_, p, size);
        if (n < 0 && errno == EINTR)
        {
          continue;
        }
        if (n <= 0)
        {
          if (errno == ENOSPC)
          {
            throw Orthanc::OrthancException(Orthanc::ErrorCode_FullStorage);
          }
          Fail("Cannot write", path_);
        }
        p += n;
        size -= static_cast<size_t>(n);
      }
    }

    void TemporaryFile::Commit(const std::string& target, const std::string& folder)
    {
      const int fd = fd_;
      fd_ = -1;
      if (fsync(fd) != 0)
      {
        const int error = errno;
        close(fd);
        errno = error;
        Fail("Cannot sync", path_);
      }
      if (close(fd) != 0)
      {
        Fail("Cannot sync", path_);
      }
      if (rename(path_.c_str(), target.c_str()) != 0)
      {
        Fail("Cannot rename", path_);
      }
      path_.clear();
      SyncPath(folder, O_RDONLY | O_DIRECTORY);
    }
  }
}
