// Maps a file read-only with mmap, with madvise hints, and unmaps it when done.
#include "MappedFile.h"

#include <OrthancException.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace Inbound
{
  namespace
  {
    [[noreturn]] void Fail(const std::string& what, const std::string& path, int error)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InexistentFile,
                                      what + " " + path + ": " + strerror(error));
    }

    const char kNothing = 0;  // what an empty file's GetData() points to
  }

  MappedFile::MappedFile(const std::string& path, Access access) :
    path_(path)
  {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
    {
      Fail("Cannot open", path, errno);
    }
    struct stat info;
    if (fstat(fd, &info) != 0)
    {
      const int error = errno;
      close(fd);
      Fail("Cannot read the size of", path, error);
    }
    if (!S_ISREG(info.st_mode))
    {
      close(fd);
      Fail("Cannot map (not a regular file)", path, EINVAL);
    }
    size_ = static_cast<uint64_t>(info.st_size);
    if (size_ > 0)
    {
      data_ = mmap(nullptr, static_cast<size_t>(size_), PROT_READ, MAP_PRIVATE, fd, 0);
      if (data_ == MAP_FAILED)
      {
        const int error = errno;
        data_ = nullptr;
        close(fd);
        Fail("Cannot map", path, error);
      }
      // Only a hint: a kernel that ignores it reads ahead more, nothing else changes.
      madvise(data_, static_cast<size_t>(size_),
              access == Access_Random ? MADV_RANDOM : MADV_SEQUENTIAL);
    }
    close(fd);  // the mapping keeps the file
  }

  MappedFile::~MappedFile()
  {
    if (data_ != nullptr)
    {
      munmap(data_, static_cast<size_t>(size_));
    }
  }

  const void* MappedFile::GetData() const
  {
    return data_ != nullptr ? data_ : &kNothing;
  }

  void MappedFile::Release(uint64_t offset, uint64_t length) const
  {
    if (data_ == nullptr || offset >= size_)
    {
      return;
    }
    // madvise wants page-aligned starts: round the start down (those bytes were read anyway).
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t start = offset - offset % page;
    const uint64_t end = std::min(size_, offset + std::min(length, size_ - offset));
    madvise(static_cast<char*>(data_) + start, static_cast<size_t>(end - start), MADV_DONTNEED);
  }
}
