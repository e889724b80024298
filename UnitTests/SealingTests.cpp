// Unit tests of sealed envelopes: round trips, tampering, truncation, key files and key rings.
#include "Toolbox/Crypto.h"
#include "Toolbox/Sealing.h"

#include <boost/filesystem.hpp>
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <sys/stat.h>

#include <fstream>

using namespace Inbound;

namespace
{
  class TempFolder
  {
  public:
    const boost::filesystem::path path;

    TempFolder() :
      path(boost::filesystem::temp_directory_path() /
           boost::filesystem::unique_path("sealing-%%%%%%%%"))
    {
      boost::filesystem::create_directories(path);
    }

    ~TempFolder()
    {
      boost::system::error_code ignored;
      boost::filesystem::remove_all(path, ignored);
    }

    std::string operator/(const std::string& name) const
    {
      return (path / name).string();
    }
  };

  void WriteFile(const std::string& path, const std::string& content, mode_t mode)
  {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << content;
    }
    ASSERT_EQ(0, chmod(path.c_str(), mode));
  }

  std::string ReadFile(const std::string& path)
  {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // A key of another algorithm, as PEM: "private" as PKCS#8, "traditional" as the old
  // algorithm-specific form ("RSA PRIVATE KEY"), else the public key.
  std::string ForeignKeyPem(const char* algorithm, const char* form)
  {
    EVP_PKEY* key =
        std::string(algorithm) == "RSA"  ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(1024))
        : std::string(algorithm) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                         : EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm);
    EXPECT_NE(nullptr, key);
    BIO* bio = BIO_new(BIO_s_mem());
    const std::string f(form);
    if (f == "private")
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else if (f == "traditional")
      PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else
      PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(size));
    BIO_free(bio);
    EVP_PKEY_free(key);
    return pem;
  }

  bool OpenWith(const SealingPrivateKey& key, const std::string& envelope,
                const std::string& context, std::string* error = nullptr)
  {
    std::string plaintext = "left over";
    std::string reason;
    const bool ok =
        Sealing::Open(plaintext, reason, key, envelope.data(), envelope.size(), context);
    EXPECT_EQ(ok, reason.empty()) << reason;
    if (!ok)
    {
      EXPECT_TRUE(plaintext.empty());
    }
    if (error != nullptr)
    {
      *error = reason;
    }
    return ok;
  }

  class SealingTest : public ::testing::Test
  {
  protected:
    TempFolder folder;
    SealingPrivateKey key = SealingPrivateKey::LoadOrCreate(folder / "key.pem");
    SealingPrivateKey other = SealingPrivateKey::LoadOrCreate(folder / "other.pem");
  };
}

TEST_F(SealingTest, RoundTripsEmptyOneByteAndOneMebibyte)
{
  for (size_t size : {size_t(0), size_t(1), size_t(1) << 20})
  {
    const std::string data = Crypto::RandomBytes(size);
    const std::string envelope = Sealing::Seal(key.GetPublicKey(), data, "item:U1:abc");
    ASSERT_EQ(size + Sealing::GetOverhead(), envelope.size());
    EXPECT_EQ("INBSEAL1", envelope.substr(0, 8));
    std::string id;
    ASSERT_TRUE(Sealing::ReadKeyId(id, envelope.data(), envelope.size()));
    EXPECT_EQ(key.GetId(), id);

    std::string plaintext, error;
    ASSERT_TRUE(
        Sealing::Open(plaintext, error, key, envelope.data(), envelope.size(), "item:U1:abc"))
        << error;
    EXPECT_TRUE(plaintext == data);
    if (size >= 64)
    {
      EXPECT_EQ(std::string::npos, envelope.find(data.substr(0, 32)));
    }
  }
}

TEST_F(SealingTest, EachSealIsAFreshEnvelope)
{
  const std::string a = Sealing::Seal(key.GetPublicKey(), "same bytes", "fields:U1");
  const std::string b = Sealing::Seal(key.GetPublicKey(), "same bytes", "fields:U1");
  EXPECT_NE(a, b);
  EXPECT_NE(a.substr(16, 32), b.substr(16, 32)); // ephemeral keys
  EXPECT_NE(a.substr(48, 12), b.substr(48, 12)); // nonces
  EXPECT_EQ(std::string::npos, a.find("same bytes"));
  EXPECT_EQ(std::string::npos, a.find("fields:U1")); // the context is authenticated, not stored
}

TEST_F(SealingTest, WrongKeyDoesNotOpen)
{
  const std::string envelope = Sealing::Seal(key.GetPublicKey(), "secret", "c");
  std::string error;
  EXPECT_FALSE(OpenWith(other, envelope, "c", &error));
  EXPECT_EQ("sealed for key " + key.GetId() + ", not for key " + other.GetId(), error);

  // The key id is authenticated too: relabelling an envelope for the other key fails.
  std::string relabelled = Sealing::Seal(key.GetPublicKey(), "secret", "c");
  unsigned char id[8];
  for (size_t i = 0; i < 8; i++)
    id[i] = static_cast<unsigned char>(std::stoi(other.GetId().substr(2 * i, 2), nullptr, 16));
  relabelled.replace(8, 8, reinterpret_cast<const char*>(id), 8);
  EXPECT_FALSE(OpenWith(other, relabelled, "c", &error));
  EXPECT_FALSE(OpenWith(key, relabelled, "c"));
}

TEST_F(SealingTest, WrongContextDoesNotOpen)
{
  const std::string envelope = Sealing::Seal(key.GetPublicKey(), "dicom", "item:U1:aa");
  std::string error;
  for (const char* context : {"item:U2:aa", "item:U1:ab", "item:U1:aa ", "", "fields:U1"})
  {
    EXPECT_FALSE(OpenWith(key, envelope, context, &error)) << context;
    EXPECT_EQ("the envelope was changed, or sealed for another context", error);
  }
  EXPECT_TRUE(OpenWith(key, envelope, "item:U1:aa"));
}

TEST_F(SealingTest, EverySingleByteChangeIsDetected)
{
  // header (magic, key id, ephemeral key, nonce), ciphertext and tag, each byte in turn
  const std::string envelope = Sealing::Seal(key.GetPublicKey(), "0123456789", "ctx");
  ASSERT_EQ(10 + Sealing::GetOverhead(), envelope.size());
  for (size_t i = 0; i < envelope.size(); i++)
  {
    for (unsigned char mask : {0x01, 0x80, 0xff})
    {
      std::string changed = envelope;
      changed[i] = static_cast<char>(changed[i] ^ mask);
      EXPECT_FALSE(OpenWith(key, changed, "ctx")) << "byte " << i << " mask " << int(mask);
    }
  }
  // An all-zero (low-order) ephemeral key gives no usable shared secret.
  std::string zero = envelope;
  zero.replace(16, 32, std::string(32, '\0'));
  std::string error;
  EXPECT_FALSE(OpenWith(key, zero, "ctx", &error));
  EXPECT_EQ("the envelope's ephemeral key is not usable", error);
}

TEST_F(SealingTest, EveryTruncationAndExtensionIsDetected)
{
  const std::string envelope = Sealing::Seal(key.GetPublicKey(), "0123456789", "ctx");
  for (size_t length = 0; length < envelope.size(); length++)
  {
    EXPECT_FALSE(OpenWith(key, envelope.substr(0, length), "ctx")) << length;
  }
  EXPECT_FALSE(OpenWith(key, envelope + "x", "ctx"));
  EXPECT_FALSE(OpenWith(key, envelope.substr(1), "ctx"));
  std::string plaintext, error;
  EXPECT_FALSE(Sealing::Open(plaintext, error, key, nullptr, 0, "ctx"));
  EXPECT_EQ("not a sealed envelope", error);
}

TEST_F(SealingTest, KeyIdIsStableAcrossPemFormatting)
{
  const std::string pem = key.GetPublicKey().GetPem();
  ASSERT_EQ(0u, pem.find("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_EQ(16u, key.GetId().size());
  EXPECT_EQ(std::string::npos, key.GetId().find_first_not_of("0123456789abcdef"));
  EXPECT_NE(key.GetId(), other.GetId());

  std::string crlf;
  for (char c : pem)
  {
    if (c == '\n')
      crlf += "\r\n";
    else
      crlf += c;
  }
  for (const std::string& variant :
       {pem, crlf, "\n  " + pem + "\n\n  \t", pem.substr(0, pem.size() - 1)})
  {
    const SealingPublicKey parsed = SealingPublicKey::FromPem(variant, "test");
    EXPECT_EQ(key.GetId(), parsed.GetId());
    EXPECT_EQ(pem, parsed.GetPem());
    // and what is sealed for the parsed key opens with the private key
    EXPECT_TRUE(OpenWith(key, Sealing::Seal(parsed, "x", "c"), "c"));
  }
  // the same file read again gives the same key
  EXPECT_EQ(key.GetId(), SealingPrivateKey::Load(folder / "key.pem").GetId());
}

TEST_F(SealingTest, FromPemRefusesWhatIsNotAnX25519PublicKey)
{
  const std::string pem = key.GetPublicKey().GetPem();
  const std::string privatePem = ReadFile(folder / "key.pem");
  struct Case
  {
    std::string pem;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "Inbound.Sealing.PublicKeys[0] is empty"},
      {" \n\t", "Inbound.Sealing.PublicKeys[0] is empty"},
      {"garbage", "is not a PEM key"},
      {"x" + pem, "is not a PEM key"},
      {privatePem, "holds a \"PRIVATE KEY\", not a \"PUBLIC KEY\""},
      {pem + "garbage\n", "has something after the key's END line"},
      {pem + pem, "has something after the key's END line"},
      {pem.substr(0, 40), "is not a valid PEM block"},
      {ForeignKeyPem("RSA", "public"), "is a key of type RSA, not X25519"},
      {ForeignKeyPem("EC", "public"), "not X25519"},
      {ForeignKeyPem("ED25519", "public"), "not X25519"},
      // the X25519 point 0, of low order: every shared secret would be zero
      {"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
       "-----END PUBLIC KEY-----\n",
       "is not a usable X25519 public key"},
  };
  for (const Case& c : cases)
  {
    try
    {
      SealingPublicKey::FromPem(c.pem, "Inbound.Sealing.PublicKeys[0]");
      ADD_FAILURE() << "accepted: " << c.pem;
    }
    catch (const SealingKeyError& e)
    {
      const std::string message = e.what();
      EXPECT_NE(std::string::npos, message.find("Inbound.Sealing.PublicKeys[0]")) << message;
      EXPECT_NE(std::string::npos, message.find(c.message)) << message;
    }
  }
}

TEST(Sealing, LoadOrCreateMakesAPrivateFileAndReloadsTheSameKey)
{
  TempFolder folder;
  const std::string path = folder / "keys/sealing.pem"; // the missing parent is created
  const mode_t previous = umask(0); // a careless umask must not widen the key's mode
  const SealingPrivateKey created = SealingPrivateKey::LoadOrCreate(path);
  umask(previous);

  struct stat info;
  ASSERT_EQ(0, stat(path.c_str(), &info));
  EXPECT_EQ(0600u, info.st_mode & 0777);
  EXPECT_EQ(0u, ReadFile(path).find("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_EQ(1, std::distance(boost::filesystem::directory_iterator(folder.path / "keys"),
                             boost::filesystem::directory_iterator())); // no temporary left

  EXPECT_EQ(created.GetId(), SealingPrivateKey::LoadOrCreate(path).GetId());
  EXPECT_EQ(created.GetId(), SealingPrivateKey::Load(path).GetId());
  EXPECT_EQ(created.GetPublicKey().GetPem(), SealingPrivateKey::Load(path).GetPublicKey().GetPem());
  const std::string envelope = Sealing::Seal(created.GetPublicKey(), "x", "c");
  EXPECT_TRUE(OpenWith(SealingPrivateKey::Load(path), envelope, "c"));

  // a parent that is missing two levels up is not made silently
  EXPECT_THROW(SealingPrivateKey::LoadOrCreate(folder / "a/b/key.pem"), SealingKeyError);
}

TEST(Sealing, LoadRefusesUnsafeOrForeignKeyFiles)
{
  TempFolder folder;
  const SealingPrivateKey good = SealingPrivateKey::LoadOrCreate(folder / "good.pem");
  const std::string goodPem = ReadFile(folder / "good.pem");
  struct Case
  {
    std::string name;
    std::string content;
    mode_t mode;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"world.pem", goodPem, 0644, "chmod 600 "},
      {"group.pem", goodPem, 0640, "chmod 600 "},
      {"rsa.pem", ForeignKeyPem("RSA", "private"), 0600, "is a key of type RSA, not X25519"},
      {"rsa-traditional.pem", ForeignKeyPem("RSA", "traditional"), 0600,
       "holds a \"RSA PRIVATE KEY\""},
      {"ec.pem", ForeignKeyPem("EC", "private"), 0600, "not X25519"},
      {"ed25519.pem", ForeignKeyPem("ED25519", "private"), 0600, "not X25519"},
      {"public.pem", good.GetPublicKey().GetPem(), 0600, "holds a \"PUBLIC KEY\""},
      {"garbage.pem", "not a key at all\n", 0600, "is not a PEM key"},
      {"empty.pem", "", 0600, "is empty"},
      {"trailing.pem", goodPem + "more\n", 0600, "has something after the key's END line"},
      {"broken.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600,
       "is not a valid PKCS#8 private key"},
  };
  for (const Case& c : cases)
  {
    const std::string path = folder / c.name;
    WriteFile(path, c.content, c.mode);
    for (int create = 0; create < 2; create++)
    {
      try
      {
        if (create)
          SealingPrivateKey::LoadOrCreate(path);
        else
          SealingPrivateKey::Load(path);
        ADD_FAILURE() << "accepted " << c.name;
      }
      catch (const SealingKeyError& e)
      {
        const std::string message = e.what();
        EXPECT_NE(std::string::npos, message.find(path)) << message;
        EXPECT_NE(std::string::npos, message.find(c.message)) << message;
      }
    }
    EXPECT_EQ(c.content, ReadFile(path)) << "LoadOrCreate must not replace " << c.name;
  }
  EXPECT_NE(std::string::npos, std::string(ReadFile(folder / "world.pem")).find("PRIVATE KEY"));

  const std::string missing = folder / "missing.pem";
  try
  {
    SealingPrivateKey::Load(missing);
    ADD_FAILURE();
  }
  catch (const SealingKeyError& e)
  {
    EXPECT_NE(std::string::npos, std::string(e.what()).find(missing)) << e.what();
  }
  EXPECT_FALSE(boost::filesystem::exists(missing)); // Load never creates
  EXPECT_THROW(SealingPrivateKey::Load(folder.path.string()), SealingKeyError); // a folder
}

TEST_F(SealingTest, KeyRingOpensWithTheKeyTheEnvelopeNames)
{
  const SealingPrivateKey third = SealingPrivateKey::LoadOrCreate(folder / "third.pem");
  SealingKeyRing ring({key, other});
  EXPECT_EQ(key.GetId(), ring.GetCurrent().GetId());
  ASSERT_EQ(2u, ring.GetKeys().size());

  std::string plaintext, error;
  for (const SealingPrivateKey* k : {&key, &other})
  {
    const std::string envelope = Sealing::Seal(k->GetPublicKey(), "for " + k->GetId(), "c");
    ASSERT_TRUE(ring.Open(plaintext, error, envelope.data(), envelope.size(), "c")) << error;
    EXPECT_EQ("for " + k->GetId(), plaintext);
    EXPECT_FALSE(ring.Open(plaintext, error, envelope.data(), envelope.size(), "d"));
    EXPECT_TRUE(plaintext.empty());
  }

  const std::string foreign = Sealing::Seal(third.GetPublicKey(), "x", "c");
  EXPECT_FALSE(ring.Open(plaintext, error, foreign.data(), foreign.size(), "c"));
  EXPECT_EQ("unknown key id " + third.GetId(), error);

  EXPECT_FALSE(ring.Open(plaintext, error, "plain text", 10, "c"));
  EXPECT_EQ("not a sealed envelope", error);

  SealingKeyRing empty({});
  EXPECT_THROW(empty.GetCurrent(), SealingKeyError);
  const std::string envelope = Sealing::Seal(key.GetPublicKey(), "x", "c");
  EXPECT_FALSE(empty.Open(plaintext, error, envelope.data(), envelope.size(), "c"));
  EXPECT_EQ("unknown key id " + key.GetId(), error);
}

TEST_F(SealingTest, ReadKeyIdOnlyAcceptsAnEnvelopeHeader)
{
  const std::string envelope = Sealing::Seal(key.GetPublicKey(), "", "c");
  std::string id = "unchanged";
  for (size_t length = 0; length < envelope.size(); length++)
  {
    EXPECT_FALSE(Sealing::ReadKeyId(id, envelope.data(), length)) << length;
  }
  EXPECT_EQ("unchanged", id);
  EXPECT_FALSE(Sealing::ReadKeyId(id, nullptr, 0));
  std::string version2 = envelope;
  version2[7] = '2';
  EXPECT_FALSE(Sealing::ReadKeyId(id, version2.data(), version2.size()));
  const std::string dicom = std::string(128, '\0') + "DICM" + std::string(100, 'x');
  EXPECT_FALSE(Sealing::ReadKeyId(id, dicom.data(), dicom.size()));
  EXPECT_TRUE(Sealing::ReadKeyId(id, envelope.data(), envelope.size()));
  EXPECT_EQ(key.GetId(), id);
}
