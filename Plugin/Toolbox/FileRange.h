// Reads an exact byte range of an open file (pread, EINTR-safe): files read a piece at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace Inbound
{
  // Exactly "count" bytes at "offset" of the open file "fd" into "buffer"; throws Orthanc's
  // CorruptedFile naming "path" when the file is shorter ("shorter than expected") or cannot
  // be read (the system's reason).
  void ReadFileRange(int fd, char* buffer, uint64_t offset, size_t count, const std::string& path);
}
