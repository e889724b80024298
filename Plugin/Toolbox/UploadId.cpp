// The alphabet of upload ids and the check of an id that comes from outside.
#include "UploadId.h"

#include <cstring>

namespace Inbound
{
  const char* const kUploadIdAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

  bool IsUploadId(const std::string& id)
  {
    if (id.size() != kUploadIdLength)
    {
      return false;
    }
    for (char c : id)
    {
      if (c == '\0' || std::strchr(kUploadIdAlphabet, c) == nullptr)
      {
        return false;
      }
    }
    return true;
  }
}
