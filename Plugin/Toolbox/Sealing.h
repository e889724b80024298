// Sealing: hybrid encryption for the Internal's key (X25519, HKDF-SHA256, AES-256-GCM; OpenSSL 3).
#pragma once

#include <boost/noncopyable.hpp>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace Inbound
{
  // How a gateway keeps what it holds unreadable at rest (doc/Security.md, "Sealed staging"):
  // every staged file and every field a sender typed is sealed for the Internal's public key.
  // An envelope is self-describing (format in doc/Ledger.md, "Sealed envelopes"): a magic,
  // the id of the key it was sealed for, an ephemeral X25519 public key, a nonce, the
  // AES-256-GCM ciphertext and its tag. The AES key is derived per envelope (fresh ephemeral
  // key, HKDF-SHA256 over the X25519 shared secret), and the "context" (what the envelope
  // holds and for which upload, e.g. "item:<upload id>:<sha256>") is authenticated, so that an
  // envelope cannot be moved to another upload or item without the Internal noticing.
  // No cryptography is written here: OpenSSL's EVP interface does all of it.

  // Errors in keys (unreadable, wrong type, not PEM) throw SealingKeyError with a message
  // that names the key's origin, so that the start-up error tells the admin what to fix.
  class SealingKeyError : public std::runtime_error
  {
  public:
    explicit SealingKeyError(const std::string& message) : std::runtime_error(message)
    {
    }
  };

  // An X25519 public key the gateway seals for.
  class SealingPublicKey
  {
  private:
    std::shared_ptr<void> key_;  // EVP_PKEY
    std::string id_;
    std::string pem_;

  public:
    // "origin" names where the PEM came from, for the error message.
    static SealingPublicKey FromPem(const std::string& pem, const std::string& origin);

    // 16 lower-case hex characters: the start of the SHA-256 of the key's DER
    // SubjectPublicKeyInfo; the same for the same key whatever its PEM formatting.
    const std::string& GetId() const
    {
      return id_;
    }

    // The key as PEM (SubjectPublicKeyInfo), as OpenSSL writes it.
    const std::string& GetPem() const
    {
      return pem_;
    }

    void* GetHandle() const
    {
      return key_.get();
    }
  };

  // An X25519 private key of the Internal, from a PEM file (PKCS#8).
  class SealingPrivateKey
  {
  private:
    std::shared_ptr<void> key_;  // EVP_PKEY
    SealingPublicKey publicKey_;

    SealingPrivateKey() = default;

  public:
    // Reads the key; throws SealingKeyError if the file is missing, unreadable, not a PEM
    // X25519 private key, or readable by others than its owner (group or world bits).
    static SealingPrivateKey Load(const std::string& path);

    // Load(), or if "path" does not exist, creates a new key there (mode 600, written
    // atomically: temporary file, fsync, rename) and returns it.
    static SealingPrivateKey LoadOrCreate(const std::string& path);

    const SealingPublicKey& GetPublicKey() const
    {
      return publicKey_;
    }

    const std::string& GetId() const
    {
      return publicKey_.GetId();
    }

    void* GetHandle() const
    {
      return key_.get();
    }
  };

  namespace Sealing
  {
    // Bytes an envelope adds to its plaintext.
    size_t GetOverhead();

    // Seals "data" for "key"; "context" is authenticated, not stored.
    std::string Seal(const SealingPublicKey& key, const void* data, size_t size,
                     const std::string& context);

    inline std::string Seal(const SealingPublicKey& key, const std::string& data,
                            const std::string& context)
    {
      return Seal(key, data.data(), data.size(), context);
    }

    // Whether the bytes start like an envelope (magic and version), and if so the id of the
    // key it was sealed for. Reads only the header, but is false for fewer bytes than an
    // empty envelope (GetOverhead()); never throws.
    bool ReadKeyId(std::string& keyId, const void* data, size_t size);

    // Opens an envelope with "key". False, with a reason in "error" and "plaintext"
    // empty, when the bytes are no envelope, were sealed for another key or another
    // "context", or were changed in any byte. Never throws on any input.
    bool Open(std::string& plaintext, std::string& error, const SealingPrivateKey& key,
              const void* data, size_t size, const std::string& context);
  }

  // The Internal's private keys: the current one (whose public key gateways seal with) and
  // the previous ones, kept until no gateway holds anything sealed for them.
  class SealingKeyRing : public boost::noncopyable
  {
  private:
    std::vector<SealingPrivateKey> keys_;  // the first is the current one

  public:
    explicit SealingKeyRing(std::vector<SealingPrivateKey> keys);

    const SealingPrivateKey& GetCurrent() const;

    const std::vector<SealingPrivateKey>& GetKeys() const
    {
      return keys_;
    }

    // Opens with the key the envelope names; false with a reason (unknown key id, not an
    // envelope, tampered, other context) otherwise.
    bool Open(std::string& plaintext, std::string& error, const void* data, size_t size,
              const std::string& context) const;
  };
}
