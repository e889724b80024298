// What the staging area's files share: errors naming the path, fsync, exact reads, atomic writes.
#pragma once

#include <boost/noncopyable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace Inbound
{
  namespace StagingFiles
  {
    // Throws Orthanc's CannotWriteFile: "<what> <path>: <errno's text>".
    [[noreturn]] void Fail(const std::string& what, const std::string& path);

    // fsync of a file or (O_DIRECTORY) a folder opened with "flags".
    void SyncPath(const std::string& path, int flags);

    // A file descriptor closed when it goes out of scope; Get() < 0 if it did not open.
    class Descriptor : public boost::noncopyable
    {
    private:
      int fd_;

    public:
      Descriptor(const std::string& path, int flags) :
        fd_(open(path.c_str(), flags | O_CLOEXEC))
      {
      }

      ~Descriptor()
      {
        if (fd_ >= 0)
        {
          close(fd_);
        }
      }

      int Get() const
      {
        return fd_;
      }
    };

    // A file written next to its target and renamed over it once whole and synced, so that
    // the target is either as before or complete; removed if abandoned.
    class TemporaryFile : public boost::noncopyable
    {
    private:
      std::string path_;
      int fd_;

    public:
      explicit TemporaryFile(const std::string& target);

      ~TemporaryFile();

      // Throws Orthanc's FullStorage when the disk is full.
      void Append(const void* data, size_t size);

      // Syncs, renames over "target" and syncs "folder": the new file is durable.
      void Commit(const std::string& target, const std::string& folder);
    };
  }
}
