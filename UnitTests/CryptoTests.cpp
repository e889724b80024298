// Unit tests of the crypto helpers: SHA-256 vectors, readable codes, tokens, constant-time compare.
#include "Toolbox/Crypto.h"

#include <gtest/gtest.h>

#include <set>

using namespace Inbound;

TEST(Crypto, Sha256OfKnownVectors)
{
  EXPECT_EQ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Crypto::Sha256Hex(""));
  EXPECT_EQ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Crypto::Sha256Hex("abc"));
}

TEST(Crypto, IsSha256Hex)
{
  EXPECT_TRUE(Crypto::IsSha256Hex(Crypto::Sha256Hex("x")));
  EXPECT_FALSE(Crypto::IsSha256Hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  EXPECT_FALSE(Crypto::IsSha256Hex("abc"));
  EXPECT_FALSE(Crypto::IsSha256Hex(std::string(63, 'a') + "g"));
}

TEST(Crypto, RandomCodesAreReadableAndDistinct)
{
  std::set<std::string> seen;
  for (int i = 0; i < 1000; i++)
  {
    const std::string code = Crypto::RandomCode(12);
    ASSERT_EQ(12u, code.size());
    EXPECT_EQ(std::string::npos, code.find_first_of("01IO"));
    EXPECT_EQ(std::string::npos, code.find_first_not_of("23456789ABCDEFGHJKLMNPQRSTUVWXYZ"));
    seen.insert(code);
  }
  EXPECT_EQ(1000u, seen.size());
}

TEST(Crypto, TokensAreUrlSafeAndLong)
{
  const std::string a = Crypto::RandomToken();
  EXPECT_EQ(43u, a.size());
  EXPECT_EQ(std::string::npos, a.find_first_of("+/="));
  EXPECT_NE(a, Crypto::RandomToken());
}

TEST(Crypto, ConstantTimeEquals)
{
  EXPECT_TRUE(Crypto::ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(Crypto::ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(Crypto::ConstantTimeEquals("secret", "secret2"));
  EXPECT_TRUE(Crypto::ConstantTimeEquals("", ""));
}
