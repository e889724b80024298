// What Sealing*.cpp and RequestSecret.cpp share: RAII for OpenSSL objects, wiped secrets, X25519, HKDF, GCM.
#pragma once

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <initializer_list>
#include <memory>
#include <string>

namespace Inbound
{
  namespace SealingOpenSsl
  {
    // Every EVP object is owned by a unique_ptr that frees it, whatever path is taken out.
    template <typename T, void (*Free)(T*)> struct Deleter
    {
      void operator()(T* p) const
      {
        Free(p);
      }
    };
    using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
    using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
    using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
    using Kdf = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF, EVP_KDF_free>>;
    using KdfCtx = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;

    // Raw X25519 public keys and shared secrets.
    const size_t kX25519Size = 32;
    // A key id: the first bytes of the SHA-256 of the key's DER SubjectPublicKeyInfo (binary
    // in an envelope, twice as many lower-case hex characters elsewhere).
    const size_t kKeyIdSize = 8;

    // Key material that is wiped when it goes out of scope.
    template <size_t N> struct Secret
    {
      unsigned char bytes[N];

      ~Secret()
      {
        OPENSSL_cleanse(bytes, N);
      }
    };

    // Throws an internal error: OpenSSL failed where it cannot fail on valid input.
    [[noreturn]] void Fail(const std::string& what);

    // A new X25519 key pair from OpenSSL's CSPRNG.
    Pkey NewX25519Key();

    // The 32 raw bytes of an X25519 public key (or of the public half of a private key).
    void GetRawPublicKey(unsigned char* raw, const EVP_PKEY* key);

    // X25519. False when OpenSSL refuses, notably for a low-order public key whose shared
    // secret would be all zeros (a forged key must not yield a known AES key).
    bool Agree(Secret<kX25519Size>& shared, EVP_PKEY* own, EVP_PKEY* peer);

    // AES-256-GCM: a 32-byte key, a 12-byte nonce, a 16-byte tag.
    const size_t kAesKeySize = 32;
    const size_t kGcmNonceSize = 12;
    const size_t kGcmTagSize = 16;

    // A buffer that is not owned.
    struct Bytes
    {
      const void* data;
      size_t size;
    };

    // HKDF-SHA256 (RFC 5869) of "ikm" into "out"; an empty "salt" is HKDF's default salt.
    bool DeriveHkdfSha256(unsigned char* out, size_t outSize, Bytes ikm, Bytes salt, Bytes info);

    // AES-256-GCM of "size" bytes from "in" to "out" (as many bytes), each "aad" buffer
    // authenticated in order; writes the tag.
    bool EncryptAesGcm(unsigned char* out, unsigned char* tag, const unsigned char* key,
                       const unsigned char* nonce, std::initializer_list<Bytes> aad,
                       const unsigned char* in, size_t size);

    // The reverse; false when the tag does not match (changed data, wrong key or "aad"), in
    // which case "out" is wiped: a changed envelope never yields a byte of plaintext.
    bool DecryptAesGcm(unsigned char* out, const unsigned char* tag, const unsigned char* key,
                       const unsigned char* nonce, std::initializer_list<Bytes> aad,
                       const unsigned char* in, size_t size);
  }
}
