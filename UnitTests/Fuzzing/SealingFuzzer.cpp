// libFuzzer target: sealed envelopes as the Internal reads them from a gateway (untrusted: a
// compromised DMZ controls every byte) — Sealing::ReadKeyId, Sealing::Open and
// SealingKeyRing::Open with a fixed test key, so that the seed envelopes of
// UnitTests/Fuzzing/Corpus/Sealing (made with IntegrationTests/sealing.py for this key and
// kContext) reach the decryption. Nothing may crash, and the promises below must hold: no
// plaintext without success, a reason for every refusal, lengths that add up.
#include "Toolbox/Sealing.h"

#include <boost/filesystem.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace
{
  // A test key only (it opens nothing but the seed corpus).
  const char kTestKey[] = "-----BEGIN PRIVATE KEY-----\n"
                          "MC4CAQAwBQYDK2VuBCIEIJCvy5feH3Z0JlmsS7DHK48VzYwmvHCO+INyBBBOKzlC\n"
                          "-----END PRIVATE KEY-----\n";
  const char kContext[] =
      "item:FUZZ:0000000000000000000000000000000000000000000000000000000000000000";

  // The test key above, or a new one when "pem" is empty; the file is removed at once.
  Inbound::SealingPrivateKey LoadKey(const std::string& pem)
  {
    namespace fs = boost::filesystem;
    const fs::path folder = fs::temp_directory_path() / fs::unique_path("seal-fuzz-%%%%%%%%");
    fs::create_directories(folder);
    const std::string path = (folder / "key.pem").string();
    if (!pem.empty())
    {
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (fd < 0 || write(fd, pem.data(), pem.size()) != static_cast<ssize_t>(pem.size()))
      {
        abort();
      }
      close(fd);
    }
    Inbound::SealingPrivateKey key = Inbound::SealingPrivateKey::LoadOrCreate(path);
    fs::remove_all(folder);
    return key;
  }

  void CheckRefusal(bool ok, const std::string& plaintext, const std::string& error, size_t size)
  {
    if (ok ? (!error.empty() || plaintext.size() + Inbound::Sealing::GetOverhead() != size)
           : (!plaintext.empty() || error.empty()))
    {
      abort();
    }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const Inbound::SealingPrivateKey key = LoadKey(kTestKey);
  static const Inbound::SealingPrivateKey other = LoadKey("");
  static const Inbound::SealingKeyRing ring({other, key});

  std::string keyId;
  const bool envelope = Inbound::Sealing::ReadKeyId(keyId, data, size);
  if (envelope &&
      (size < Inbound::Sealing::GetOverhead() || memcmp(data, "INBSEAL1", 8) != 0 ||
       keyId.size() != 16 || keyId.find_first_not_of("0123456789abcdef") != std::string::npos))
  {
    abort();
  }

  std::string plaintext = "stale";
  std::string error;
  const bool opened = Inbound::Sealing::Open(plaintext, error, key, data, size, kContext);
  CheckRefusal(opened, plaintext, error, size);
  if (opened && (!envelope || keyId != key.GetId()))
  {
    abort();
  }

  std::string ringPlaintext = "stale";
  const bool ringOpened = ring.Open(ringPlaintext, error, data, size, kContext);
  CheckRefusal(ringOpened, ringPlaintext, error, size);
  if (ringOpened != opened || ringPlaintext != plaintext)
  {
    abort(); // the ring opens exactly what its key opens (the other key opens nothing here)
  }

  // The same bytes as a configured public key (admin input, but a parser all the same).
  try
  {
    Inbound::SealingPublicKey::FromPem(std::string(reinterpret_cast<const char*>(data), size),
                                       "fuzz");
  }
  catch (const Inbound::SealingKeyError&)
  {
  }
  return 0;
}
