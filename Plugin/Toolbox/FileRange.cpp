// pread until the whole range is read, retrying interrupted calls, failing on a short file.
#include "FileRange.h"

#include <OrthancException.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace Inbound
{
  void ReadFileRange(int fd, char* buffer, uint64_t offset, size_t count, const std::string& path)
  {
    size_t done = 0;
    while (done < count)
    {
      const ssize_t n = pread(fd, buffer + done, count - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR)
      {
        continue;
      }
      if (n <= 0)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_CorruptedFile,
                                        "Cannot read " + path + ": " +
                                          (n == 0 ? std::string("shorter than expected")
                                                  : std::string(strerror(errno))));
      }
      done += static_cast<size_t>(n);
    }
  }
}
