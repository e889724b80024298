// The cryptographic helpers on OpenSSL: digests, HMAC, CSPRNG codes and tokens.
#include "Crypto.h"

#include <OrthancException.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>

namespace Inbound
{
  namespace
  {
    std::string ToHex(const unsigned char* digest, unsigned int length)
    {
      static const char kHex[] = "0123456789abcdef";
      std::string result;
      result.reserve(2 * length);
      for (unsigned int i = 0; i < length; i++)
      {
        result.push_back(kHex[digest[i] >> 4]);
        result.push_back(kHex[digest[i] & 0x0f]);
      }
      return result;
    }
  }

  namespace Crypto
  {
    std::string Sha256Hex(const void* data, size_t size)
    {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      if (EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr) != 1)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "SHA-256 failed");
      }
      return ToHex(digest, length);
    }

    std::string HmacSha256Hex(const std::string& key, const std::string& data)
    {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
               &length) == nullptr)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "HMAC-SHA256 failed");
      }
      return ToHex(digest, length);
    }

    std::string RandomBytes(size_t count)
    {
      std::string result(count, '\0');
      if (count > 0 &&
          RAND_bytes(reinterpret_cast<unsigned char*>(&result[0]), static_cast<int>(count)) != 1)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError,
                                        "The random number generator is not available");
      }
      return result;
    }

    std::string RandomCode(size_t length)
    {
      // 32 symbols: every byte maps without bias (256 is a multiple of 32).
      static const char kAlphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
      static_assert(sizeof(kAlphabet) - 1 == 32, "alphabet of 32 symbols");
      const std::string bytes = RandomBytes(length);
      std::string result;
      result.reserve(length);
      for (unsigned char c : bytes)
      {
        result.push_back(kAlphabet[c & 0x1f]);
      }
      return result;
    }

    std::string RandomToken()
    {
      const std::string bytes = RandomBytes(32);
      std::string encoded(4 * ((bytes.size() + 2) / 3) + 1, '\0');
      const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&encoded[0]),
                                    reinterpret_cast<const unsigned char*>(bytes.data()),
                                    static_cast<int>(bytes.size()));
      encoded.resize(n);
      std::string result;
      for (char c : encoded)
      {
        if (c == '+')
          result.push_back('-');
        else if (c == '/')
          result.push_back('_');
        else if (c != '=')
          result.push_back(c);
      }
      return result;
    }

    bool ConstantTimeEquals(const std::string& a, const std::string& b)
    {
      if (a.size() != b.size())
      {
        return false;
      }
      return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
    }

    bool IsSha256Hex(const std::string& s)
    {
      if (s.size() != 64)
      {
        return false;
      }
      for (char c : s)
      {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        {
          return false;
        }
      }
      return true;
    }
  }
}
