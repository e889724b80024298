// SHA-256, HMAC, random codes and tokens, constant-time comparison (OpenSSL).
#pragma once

#include <cstddef>
#include <string>
#include <thread>

namespace Inbound
{
  namespace Crypto
  {
    // Lower-case hexadecimal of bytes, two digits a byte.
    std::string ToHex(const void* data, size_t size);

    inline std::string ToHex(const std::string& bytes)
    {
      return ToHex(bytes.data(), bytes.size());
    }

    // Lower-case hex SHA-256 of a buffer (OpenSSL EVP).
    std::string Sha256Hex(const void* data, size_t size);

    inline std::string Sha256Hex(const std::string& data)
    {
      return Sha256Hex(data.data(), data.size());
    }

    // SHA-256 of data that arrives in pieces (a file read or received chunk by chunk), so
    // that it is never held whole (OpenSSL EVP). Not copyable; one thread at a time.
    class Sha256Stream
    {
    private:
      void* context_;  // EVP_MD_CTX

    public:
      Sha256Stream();
      ~Sha256Stream();
      Sha256Stream(const Sha256Stream&) = delete;
      Sha256Stream& operator=(const Sha256Stream&) = delete;

      void Update(const void* data, size_t size);

      // Lower-case hex of everything given; the stream starts again empty afterwards.
      std::string FinishHex();
    };

    class Sha256Helpers;

    // SHA-256 of a whole body computed on a helper thread while the caller goes on (a file is
    // hashed while it is parsed: about 0.3 ms of 0.5 MB that no longer add to the answer's
    // time). The helpers are a few threads kept for the life of the process (one per core but
    // one), not a thread per body: creating one cost about as much as it hid on a busy
    // machine. A body goes to a helper only if one is idle; one that no helper has started
    // when Get() is called is taken back and hashed by the caller, so that a caller never
    // waits for a helper to be scheduled. Small bodies are hashed by the caller. The body must
    // stay alive and unchanged until Get() has returned or the task is destroyed (the
    // destructor waits for a helper that is hashing it).
    class Sha256Task
    {
    private:
      friend class Sha256Helpers;
      enum State
      {
        State_Caller,   // not given to a helper, or taken back: the caller hashes
        State_Queued,   // waits for a helper
        State_Running,  // a helper hashes it
        State_Done      // a helper has hashed it
      };

      const void* data_;
      size_t size_;
      State state_;       // under Sha256Helpers' lock once queued
      bool queued_;       // the caller's own: given to a helper and not yet finished
      bool hashed_;       // the caller's own: hex_ and failed_ are final
      std::string hex_;   // written by whoever hashes; read once hashed_
      bool failed_;       // idem

      void Run();

    public:
      Sha256Task(const void* data, size_t size);
      ~Sha256Task();
      Sha256Task(const Sha256Task&) = delete;
      Sha256Task& operator=(const Sha256Task&) = delete;

      // Lower-case hex SHA-256 of the body (waits for the helper; throws if OpenSSL failed).
      const std::string& Get();

      // Get() == expected, in constant time.
      bool Matches(const std::string& expected);
    };

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
