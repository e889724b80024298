// The alphabet of upload ids and the check of an id that comes from outside.
#include "UploadId.h"

#include "Crypto.h"

#include <OrthancException.h>

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

  std::string NewUploadId(const std::string& prefix)
  {
    // More than 4 would leave too few random characters; the configuration refuses it.
    if (prefix.size() > 4 || prefix.find_first_not_of(kUploadIdAlphabet) != std::string::npos)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                      "Not an upload id prefix: " + prefix);
    }
    return prefix + Crypto::RandomCode(kUploadIdLength - prefix.size());
  }
}
