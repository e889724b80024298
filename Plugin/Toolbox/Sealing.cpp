// Sealed envelopes on OpenSSL 3's EVP interface: X25519, HKDF-SHA256, AES-256-GCM; key rings.
#include "Sealing.h"

#include "Crypto.h"
#include "SealingOpenSsl.h"

#include <OrthancException.h>

#include <cstring>

namespace Inbound
{
  using namespace SealingOpenSsl;

  namespace
  {
    // The layout of doc/Ledger.md, "Sealed envelopes": magic and version, key id, ephemeral
    // X25519 public key, nonce, then the ciphertext and the GCM tag.
    const char kMagic[] = "INBSEAL1";
    const size_t kMagicSize = 8;
    const size_t kPublicKeySize = kX25519Size;
    const size_t kNonceSize = kGcmNonceSize;
    const size_t kTagSize = kGcmTagSize;
    const size_t kHeaderSize = kMagicSize + kKeyIdSize + kPublicKeySize + kNonceSize;
    // HKDF "info": binds the derived key to this format, so that a key derived for another
    // use of the same shared secret can never open an envelope (and the reverse).
    const char kHkdfInfo[] =
        "Orthanc Inbound sealed envelope INBSEAL1 X25519 HKDF-SHA256 AES-256-GCM";
    // GCM limits one message to 2^39 - 256 bits; far above any file the limits allow.
    const uint64_t kMaxPlaintext = (uint64_t(1) << 36) - 32;

    // HKDF-SHA256(shared secret, salt = ephemeral public key || recipient public key, info).
    // The salt binds the AES key to both public keys of this exchange.
    bool DeriveAesKey(Secret<kAesKeySize>& aesKey, Secret<kX25519Size>& shared,
                      const unsigned char* ephemeralPublic, const unsigned char* recipientPublic)
    {
      unsigned char salt[2 * kPublicKeySize];
      memcpy(salt, ephemeralPublic, kPublicKeySize);
      memcpy(salt + kPublicKeySize, recipientPublic, kPublicKeySize);
      return DeriveHkdfSha256(aesKey.bytes, sizeof(aesKey.bytes),
                              Bytes{shared.bytes, sizeof(shared.bytes)}, Bytes{salt, sizeof(salt)},
                              Bytes{kHkdfInfo, sizeof(kHkdfInfo) - 1});
    }

    int HexDigit(char c)
    {
      if (c >= '0' && c <= '9')
        return c - '0';
      if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
      return -1;
    }

    void DecodeKeyId(unsigned char* out, const std::string& hex)
    {
      if (hex.size() != 2 * kKeyIdSize)
      {
        Fail("bad key id");
      }
      for (size_t i = 0; i < kKeyIdSize; i++)
      {
        const int high = HexDigit(hex[2 * i]);
        const int low = HexDigit(hex[2 * i + 1]);
        if (high < 0 || low < 0)
        {
          Fail("bad key id");
        }
        out[i] = static_cast<unsigned char>(16 * high + low);
      }
    }
  }

  namespace Sealing
  {
    size_t GetOverhead()
    {
      return kHeaderSize + kTagSize;
    }

    std::string Seal(const SealingPublicKey& key, const void* data, size_t size,
                     const std::string& context)
    {
      EVP_PKEY* recipient = static_cast<EVP_PKEY*>(key.GetHandle());
      if (recipient == nullptr)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_BadSequenceOfCalls,
                                        "Sealing: no public key");
      }
      if (size > kMaxPlaintext)
      {
        throw Orthanc::OrthancException(Orthanc::ErrorCode_ParameterOutOfRange,
                                        "Sealing: too large to seal in one envelope");
      }

      std::string envelope;
      envelope.resize(size + GetOverhead());
      unsigned char* out = reinterpret_cast<unsigned char*>(&envelope[0]);
      unsigned char* keyId = out + kMagicSize;
      unsigned char* ephemeralPublic = keyId + kKeyIdSize;
      unsigned char* nonce = ephemeralPublic + kPublicKeySize;
      memcpy(out, kMagic, kMagicSize);
      DecodeKeyId(keyId, key.GetId());

      // A fresh ephemeral key per envelope gives a fresh AES key per envelope; the random
      // nonce is then belt and braces.
      Pkey ephemeral = NewX25519Key();
      GetRawPublicKey(ephemeralPublic, ephemeral.get());
      const std::string random = Crypto::RandomBytes(kNonceSize);
      memcpy(nonce, random.data(), kNonceSize);

      unsigned char recipientPublic[kPublicKeySize];
      GetRawPublicKey(recipientPublic, recipient);
      Secret<kX25519Size> shared;
      Secret<kAesKeySize> aesKey;
      if (!Agree(shared, ephemeral.get(), recipient) ||
          !DeriveAesKey(aesKey, shared, ephemeralPublic, recipientPublic))
      {
        Fail("key agreement failed");
      }

      const unsigned char* in = static_cast<const unsigned char*>(data);
      unsigned char* ciphertext = out + kHeaderSize;
      if (!EncryptAesGcm(ciphertext, ciphertext + size, aesKey.bytes, nonce,
                         {Bytes{out, kHeaderSize}, Bytes{context.data(), context.size()}}, in,
                         size))
      {
        Fail("encryption failed");
      }
      return envelope;
    }

    bool ReadKeyId(std::string& keyId, const void* data, size_t size)
    {
      const unsigned char* p = static_cast<const unsigned char*>(data);
      if (p == nullptr || size < GetOverhead() || memcmp(p, kMagic, kMagicSize) != 0)
      {
        return false;
      }
      keyId = Crypto::ToHex(p + kMagicSize, kKeyIdSize);
      return true;
    }

    bool Open(std::string& plaintext, std::string& error, const SealingPrivateKey& key,
              const void* data, size_t size, const std::string& context)
    {
      plaintext.clear();
      error.clear();
      try
      {
        std::string keyId;
        if (!ReadKeyId(keyId, data, size))
        {
          error = "not a sealed envelope";
          return false;
        }
        if (keyId != key.GetId())
        {
          error = "sealed for key " + keyId + ", not for key " + key.GetId();
          return false;
        }

        const unsigned char* in = static_cast<const unsigned char*>(data);
        const unsigned char* ephemeralPublic = in + kMagicSize + kKeyIdSize;
        const unsigned char* nonce = ephemeralPublic + kPublicKeySize;
        const unsigned char* ciphertext = in + kHeaderSize;
        const size_t length = size - GetOverhead();
        unsigned char tag[kTagSize];
        memcpy(tag, ciphertext + length, kTagSize);

        EVP_PKEY* own = static_cast<EVP_PKEY*>(key.GetHandle());
        unsigned char recipientPublic[kPublicKeySize];
        GetRawPublicKey(recipientPublic, own);
        Pkey ephemeral(EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, ephemeralPublic,
                                                      kPublicKeySize));
        Secret<kX25519Size> shared;
        Secret<kAesKeySize> aesKey;
        if (!ephemeral || !Agree(shared, own, ephemeral.get()) ||
            !DeriveAesKey(aesKey, shared, ephemeralPublic, recipientPublic))
        {
          error = "the envelope's ephemeral key is not usable";
          return false;
        }

        // Decrypted into a buffer of our own, handed over only once the tag is checked: a
        // changed envelope never yields a byte of (partial) plaintext.
        std::string result;
        result.resize(length);
        unsigned char* out = length > 0 ? reinterpret_cast<unsigned char*>(&result[0]) : nullptr;
        if (!DecryptAesGcm(out, tag, aesKey.bytes, nonce,
                           {Bytes{in, kHeaderSize}, Bytes{context.data(), context.size()}},
                           ciphertext, length))
        {
          error = "the envelope was changed, or sealed for another context";
          return false;
        }
        plaintext.swap(result);
        return true;
      }
      catch (...)
      {
        plaintext.clear();
        error = "the envelope cannot be opened (internal error)";
        return false;
      }
    }
  }

  SealingKeyRing::SealingKeyRing(std::vector<SealingPrivateKey> keys) : keys_(std::move(keys))
  {
  }

  const SealingPrivateKey& SealingKeyRing::GetCurrent() const
  {
    if (keys_.empty())
    {
      throw SealingKeyError("No sealing key is configured");
    }
    return keys_.front();
  }

  bool SealingKeyRing::Open(std::string& plaintext, std::string& error, const void* data,
                            size_t size, const std::string& context) const
  {
    plaintext.clear();
    std::string keyId;
    if (!Sealing::ReadKeyId(keyId, data, size))
    {
      error = "not a sealed envelope";
      return false;
    }
    for (const SealingPrivateKey& key : keys_)
    {
      if (key.GetId() == keyId)
      {
        return Sealing::Open(plaintext, error, key, data, size, context);
      }
    }
    error = "unknown key id " + keyId;
    return false;
  }
}
