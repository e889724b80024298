// OpenSSL helpers of the sealing and request-link code: X25519, HKDF-SHA256, AES-256-GCM.
#include "SealingOpenSsl.h"

#include <OrthancException.h>

#include <openssl/core_names.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace Inbound
{
  namespace
  {
    // EVP_*Update take an int length: larger buffers go through in slices.
    const size_t kSlice = size_t(1) << 28;

    bool AddAad(EVP_CIPHER_CTX* ctx, bool encrypt, std::initializer_list<SealingOpenSsl::Bytes> aad)
    {
      for (const SealingOpenSsl::Bytes& bytes : aad)
      {
        int ignored = 0;
        if (bytes.size > INT_MAX)
        {
          return false;
        }
        const unsigned char* p = static_cast<const unsigned char*>(bytes.data);
        const int n = static_cast<int>(bytes.size);
        if ((encrypt ? EVP_EncryptUpdate(ctx, nullptr, &ignored, p, n)
                     : EVP_DecryptUpdate(ctx, nullptr, &ignored, p, n)) != 1)
        {
          return false;
        }
      }
      return true;
    }

    // Runs "size" bytes through the cipher in slices (EVP takes int lengths); GCM writes as
    // many bytes as it reads.
    bool Transform(EVP_CIPHER_CTX* ctx, bool encrypt, unsigned char* out, const unsigned char* in,
                   size_t size)
    {
      while (size > 0)
      {
        const size_t slice = std::min(size, kSlice);
        int written = 0;
        const int n = static_cast<int>(slice);
        if ((encrypt ? EVP_EncryptUpdate(ctx, out, &written, in, n)
                     : EVP_DecryptUpdate(ctx, out, &written, in, n)) != 1 ||
            written != n)
        {
          return false;
        }
        in += slice;
        out += slice;
        size -= slice;
      }
      return true;
    }
  }

  namespace SealingOpenSsl
  {
    void Fail(const std::string& what)
    {
      throw Orthanc::OrthancException(Orthanc::ErrorCode_InternalError, "Sealing: " + what);
    }

    Pkey NewX25519Key()
    {
      Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
      if (!key)
      {
        Fail("cannot generate an X25519 key");
      }
      return key;
    }

    void GetRawPublicKey(unsigned char* raw, const EVP_PKEY* key)
    {
      size_t length = kX25519Size;
      if (EVP_PKEY_get_raw_public_key(key, raw, &length) != 1 || length != kX25519Size)
      {
        Fail("cannot read an X25519 public key");
      }
    }

    bool Agree(Secret<kX25519Size>& shared, EVP_PKEY* own, EVP_PKEY* peer)
    {
      PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
      size_t length = sizeof(shared.bytes);
      return ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
             EVP_PKEY_derive_set_peer(ctx.get(), peer) == 1 &&
             EVP_PKEY_derive(ctx.get(), shared.bytes, &length) == 1 &&
             length == sizeof(shared.bytes);
    }

    bool DeriveHkdfSha256(unsigned char* out, size_t outSize, Bytes ikm, Bytes salt, Bytes info)
    {
      Kdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
      KdfCtx ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
      if (!ctx)
      {
        return false;
      }
      char digest[] = "SHA256";
      OSSL_PARAM params[5];
      size_t n = 0;
      params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
      params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_KEY, const_cast<void*>(ikm.data), ikm.size);
      if (salt.size > 0)  // absent: RFC 5869's default, a salt of zeros
      {
        params[n++] = OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_SALT, const_cast<void*>(salt.data), salt.size);
      }
      params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_INFO, const_cast<void*>(info.data), info.size);
      params[n] = OSSL_PARAM_construct_end();
      return EVP_KDF_derive(ctx.get(), out, outSize, params) == 1;
    }

    bool EncryptAesGcm(unsigned char* out, unsigned char* tag, const unsigned char* key,
                       const unsigned char* nonce, std::initializer_list<Bytes> aad,
                       const unsigned char* in, size_t size)
    {
      CipherCtx ctx(EVP_CIPHER_CTX_new());
      int ignored = 0;
      return ctx &&
             EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, nonce) == 1 &&
             AddAad(ctx.get(), true, aad) && Transform(ctx.get(), true, out, in, size) &&
             EVP_EncryptFinal_ex(ctx.get(), out + size, &ignored) == 1 && ignored == 0 &&
             EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize, tag) == 1;
    }

    bool DecryptAesGcm(unsigned char* out, const unsigned char* tag, const unsigned char* key,
                       const unsigned char* nonce, std::initializer_list<Bytes> aad,
                       const unsigned char* in, size_t size)
    {
      unsigned char expected[kGcmTagSize];
      memcpy(expected, tag, kGcmTagSize);
      CipherCtx ctx(EVP_CIPHER_CTX_new());
      int ignored = 0;
      const bool ok =
        ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, nonce) == 1 &&
        AddAad(ctx.get(), false, aad) && Transform(ctx.get(), false, out, in, size) &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize, expected) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), out + size, &ignored) == 1;
      if (!ok && size > 0)
      {
        OPENSSL_cleanse(out, size);
      }
      return ok;
    }
  }
}
