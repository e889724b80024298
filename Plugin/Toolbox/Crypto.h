// SHA-256, HMAC, random codes and tokens, constant-time comparison (OpenSSL).
#pragma once

#include <cstddef>
#include <string>

namespace Inbound
{
  namespace Crypto
  {
    // Lower-case hex SHA-256 of a buffer (OpenSSL EVP).
    std::string Sha256Hex(const void* data, size_t size);

    inline std::string Sha256Hex(const std::string& data)
    {
      return Sha256Hex(data.data(), data.size());
    }

    // Lower-case hex HMAC-SHA256 of "data" under "key" (OpenSSL).
    std::string HmacSha256Hex(const std::string& key, const std::string& data);

    // Bytes from OpenSSL's CSPRNG; throws if it is not seeded.
    std::string RandomBytes(size_t count);

    // Random identifier of "length" characters from an alphabet without look-alike
    // characters (no 0/O, 1/I), upper case, so it reads well in a PatientID and on the phone.
    std::string RandomCode(size_t length);

    // 256 random bits, URL-safe base64 without padding.
    std::string RandomToken();

    // Comparison whose duration does not depend on where the strings differ, so that a
    // remote client cannot guess a token or password byte by byte from response times.
    bool ConstantTimeEquals(const std::string& a, const std::string& b);

    bool IsSha256Hex(const std::string& s);
  }
}
