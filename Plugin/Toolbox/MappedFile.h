// A read-only memory mapping of a whole file (RAII), for walking big files without reading them.
#pragma once

#include <boost/noncopyable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace Inbound
{
  // Maps a file read-only (MAP_PRIVATE, PROT_READ) for as long as the object lives. Only the
  // pages that are read count in the process's memory, and the kernel may drop them again at
  // any time (they are the file's), so a walk that reads a 1 GB file's headers and skips its
  // pixel data costs a few pages. An empty file maps nothing: GetData() is still a valid
  // pointer (to no bytes). The file must not shrink while it is mapped (reading past its new
  // end would be SIGBUS): map only files that this process owns and nobody else writes.
  class MappedFile : public boost::noncopyable
  {
  public:
    enum Access
    {
      Access_Random,     // MADV_RANDOM: no read-ahead (walks that jump over values)
      Access_Sequential  // MADV_SEQUENTIAL: read-ahead, pages dropped early once read
    };

  private:
    std::string path_;
    void* data_ = nullptr;
    uint64_t size_ = 0;

  public:
    // Throws Orthanc's InexistentFile naming the path and the system's reason when the file
    // cannot be opened, is no regular file, or cannot be mapped.
    explicit MappedFile(const std::string& path, Access access = Access_Random);

    ~MappedFile();

    const void* GetData() const;

    uint64_t GetSize() const
    {
      return size_;
    }

    const std::string& GetPath() const
    {
      return path_;
    }

    // Tells the kernel that the pages of [offset, offset + length) are not needed any more
    // (MADV_DONTNEED: they leave the process's resident memory, and are read again from the
    // file if touched). Ranges are clipped to the file; never throws.
    void Release(uint64_t offset, uint64_t length) const;
  };
}
