// Unit tests of request secrets: HKDF vectors, answer normalization, sealing and opening.
#include "Requests/RequestSecret.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/SealingOpenSsl.h"

#include <Toolbox.h>

#include <gtest/gtest.h>

#include <openssl/crypto.h>

#include <cstring>

using namespace Inbound;

namespace
{
  // OpenSSL's own upper-case hex, without separators.
  std::string Hex(const unsigned char* data, size_t size)
  {
    std::string hex(2 * size + 1, '\0');
    size_t length = 0;
    EXPECT_EQ(1, OPENSSL_buf2hexstr_ex(&hex[0], hex.size(), &length, data, size, '\0'));
    hex.resize(strlen(hex.c_str()));  // "length" counts the terminating NUL
    return hex;
  }

  RequestSecret::Expected Patient()
  {
    RequestSecret::Expected expected;
    expected.patientName = "MÜLLER^Anna Lena";
    expected.birthDate = "19800131";
    return expected;
  }
}

// RFC 5869, appendix A, test cases 1 and 3 (the latter: no salt, no info).
TEST(RequestSecret, HkdfSha256MatchesRfc5869)
{
  using SealingOpenSsl::Bytes;
  const std::string ikm(22, '\x0b');
  unsigned char salt[13], info[10], okm[42];
  for (unsigned char i = 0; i < 13; i++)
    salt[i] = i;
  for (unsigned char i = 0; i < 10; i++)
    info[i] = 0xf0 + i;
  ASSERT_TRUE(SealingOpenSsl::DeriveHkdfSha256(okm, sizeof(okm), Bytes{ikm.data(), ikm.size()},
                                                Bytes{salt, sizeof(salt)},
                                                Bytes{info, sizeof(info)}));
  EXPECT_EQ("3CB25F25FAACD57A90434F64D0362F2A2D2D0A90CF1A5A4C5DB02D56ECC4C5BF34007208D5B887185865",
            Hex(okm, sizeof(okm)));
  ASSERT_TRUE(SealingOpenSsl::DeriveHkdfSha256(okm, sizeof(okm), Bytes{ikm.data(), ikm.size()},
                                                Bytes{"", 0}, Bytes{"", 0}));
  EXPECT_EQ("8DA4E775A563C18F715F802A063C5A31B8A11F5C5EE1879EC3454E5F3C738D2D9D201395FAA4B61A96C8",
            Hex(okm, sizeof(okm)));
}

TEST(RequestSecret, BirthDatesAreNormalized)
{
  std::string d;
  EXPECT_TRUE(RequestSecret::NormalizeBirthDate(d, "19800131"));
  EXPECT_EQ("19800131", d);
  EXPECT_TRUE(RequestSecret::NormalizeBirthDate(d, "1980-01-31"));
  EXPECT_EQ("19800131", d);
  for (const char* bad : {"", "1980131", "1980-1-31", "19801301", "19800100", "19800132",
                          "1980/01/31", "1980-01-3a", "+1980131", " 19800131", "198001310",
                          "１９８００１３１", "1980-0131-", "0x800131"})
  {
    EXPECT_FALSE(RequestSecret::NormalizeBirthDate(d, bad)) << bad;
  }
}

TEST(RequestSecret, AnswersAreNormalizedByChallenge)
{
  std::string n = "left over";
  EXPECT_TRUE(RequestSecret::NormalizeAnswer(n, ChallengeKind_None, ""));
  EXPECT_EQ("", n);
  EXPECT_TRUE(RequestSecret::NormalizeAnswer(n, ChallengeKind_None, "anything"));
  EXPECT_EQ("", n);
  EXPECT_TRUE(RequestSecret::NormalizeAnswer(n, ChallengeKind_BirthDate, "1980-01-31"));
  EXPECT_EQ("19800131", n);
  EXPECT_FALSE(RequestSecret::NormalizeAnswer(n, ChallengeKind_BirthDate, "31.01.1980"));
  EXPECT_TRUE(RequestSecret::NormalizeAnswer(n, ChallengeKind_Code, " ab2c-d3ef "));
  EXPECT_EQ("AB2CD3EF", n);
  EXPECT_FALSE(RequestSecret::NormalizeAnswer(n, ChallengeKind_Code, " - - "));
  EXPECT_FALSE(RequestSecret::NormalizeAnswer(n, ChallengeKind_Code, ""));
}

TEST(RequestSecret, OpensWithTheTokenTheAnswerAndTheIdOnly)
{
  const std::string token = Crypto::RandomToken();
  const std::string secret = RequestSecret::Seal(Patient(), token, "19800131", "REQ23456789A");

  RequestSecret::Expected opened;
  ASSERT_TRUE(RequestSecret::Open(opened, secret, token, "19800131", "REQ23456789A"));
  EXPECT_EQ("MÜLLER^Anna Lena", opened.patientName);
  EXPECT_EQ("19800131", opened.birthDate);

  RequestSecret::Expected other;
  EXPECT_FALSE(RequestSecret::Open(other, secret, token, "19800130", "REQ23456789A"));
  EXPECT_FALSE(RequestSecret::Open(other, secret, token, "", "REQ23456789A"));
  EXPECT_FALSE(RequestSecret::Open(other, secret, Crypto::RandomToken(), "19800131",
                                   "REQ23456789A"));
  // The gateway's knowledge: the token's hash is no key.
  EXPECT_FALSE(RequestSecret::Open(other, secret, Crypto::Sha256Hex(token), "19800131",
                                   "REQ23456789A"));
  // Moved to another request: the id is both in the key and the authenticated data.
  EXPECT_FALSE(RequestSecret::Open(other, secret, token, "19800131", "REQ23456789B"));
  EXPECT_EQ("", other.patientName);
}

TEST(RequestSecret, NoAnswerAndCodeChallenges)
{
  const std::string token = Crypto::RandomToken();
  RequestSecret::Expected opened;
  const std::string none = RequestSecret::Seal(Patient(), token, "", "R1");
  EXPECT_TRUE(RequestSecret::Open(opened, none, token, "", "R1"));
  const std::string code = RequestSecret::Seal(Patient(), token, "AB2CD3EF", "R2");
  EXPECT_FALSE(RequestSecret::Open(opened, code, token, "ab2cd3ef", "R2"));  // normalized first
  EXPECT_TRUE(RequestSecret::Open(opened, code, token, "AB2CD3EF", "R2"));
}

TEST(RequestSecret, EachSealIsFreshAndHidesThePatient)
{
  const std::string token = Crypto::RandomToken();
  const std::string a = RequestSecret::Seal(Patient(), token, "19800131", "R1");
  const std::string b = RequestSecret::Seal(Patient(), token, "19800131", "R1");
  EXPECT_NE(a, b);  // a random nonce each time
  std::string raw;
  Orthanc::Toolbox::DecodeBase64(raw, a);
  EXPECT_EQ(std::string::npos, raw.find("Anna"));
  EXPECT_EQ(std::string::npos, raw.find("19800131"));
}

TEST(RequestSecret, DamagedEnvelopesDoNotOpen)
{
  const std::string token = Crypto::RandomToken();
  const std::string secret = RequestSecret::Seal(Patient(), token, "X", "R1");
  std::string raw;
  Orthanc::Toolbox::DecodeBase64(raw, secret);
  RequestSecret::Expected opened;
  for (size_t i = 0; i < raw.size(); i++)
  {
    std::string changed = raw;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    std::string base64;
    Orthanc::Toolbox::EncodeBase64(base64, changed);
    EXPECT_FALSE(RequestSecret::Open(opened, base64, token, "X", "R1")) << "byte " << i;
  }
  for (size_t length : {size_t(0), size_t(1), size_t(27), size_t(28), raw.size() - 1})
  {
    std::string base64;
    Orthanc::Toolbox::EncodeBase64(base64, raw.substr(0, length));
    EXPECT_FALSE(RequestSecret::Open(opened, base64, token, "X", "R1")) << length;
  }
  EXPECT_FALSE(RequestSecret::Open(opened, "not base64 !!", token, "X", "R1"));
  EXPECT_FALSE(RequestSecret::Open(opened, "", token, "X", "R1"));
  EXPECT_EQ("", opened.patientName);
}
