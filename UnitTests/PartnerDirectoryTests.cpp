// Unit tests of PartnerDirectory: Bearer tokens to partners, revoked partners, networks, one refusal per cause.
#include "Http/PartnerDirectory.h"
#include "Toolbox/Crypto.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const std::string kTokenA = "tokenOfClinicA-0123456789_abcdefXYZ";
  const std::string kTokenA2 = "rotatedTokenOfClinicA-0123456789";
  const std::string kTokenB = "tokenOfClinicB-0123456789_abcdefXYZ";
  const std::string kTokenC = "tokenOfClinicC-0123456789_abcdefXYZ";

  PartnerSettings Partner(const std::string& id, const std::vector<std::string>& tokens,
                          const std::vector<std::string>& networks, bool enabled)
  {
    PartnerSettings p;
    p.id = id;
    p.name = "Clinic " + id;
    p.recipient = "neuro";
    for (const std::string& token : tokens)
    {
      p.tokenSha256s.push_back(Crypto::Sha256Hex(token));
    }
    p.networks = networks;
    p.enabled = enabled;
    return p;
  }

  PartnerDirectory MakeDirectory()
  {
    return PartnerDirectory({Partner("a", {kTokenA, kTokenA2}, {}, true),
                             Partner("b", {kTokenB}, {"192.0.2.0/24", "2001:db8::/32"}, true),
                             Partner("c", {kTokenC}, {}, false)});
  }

  std::string RefusalOf(const PartnerDirectory& directory, const std::string& authorization,
                        const std::string& client = "198.51.100.7")
  {
    std::string refusal = "unset";
    const PartnerSettings* partner = directory.Authenticate(authorization, client, refusal);
    EXPECT_EQ(nullptr, partner) << authorization;
    return refusal;
  }
}

TEST(PartnerDirectory, EveryTokenOfAnEnabledPartnerOpens)
{
  const PartnerDirectory directory = MakeDirectory();
  EXPECT_EQ(3u, directory.GetSize());
  std::string refusal = "unset";
  const PartnerSettings* a = directory.Authenticate("Bearer " + kTokenA, "198.51.100.7", refusal);
  ASSERT_NE(nullptr, a);
  EXPECT_EQ("a", a->id);
  EXPECT_EQ("", refusal);
  // The scheme is case-insensitive; the rotation's second token opens too.
  a = directory.Authenticate("bearer " + kTokenA2, "::1", refusal);
  ASSERT_NE(nullptr, a);
  EXPECT_EQ("a", a->id);
  a = directory.Authenticate("BEARER " + kTokenA, "10.0.0.1", refusal);
  ASSERT_NE(nullptr, a);
  const PartnerSettings* b = directory.Authenticate("Bearer " + kTokenB, "192.0.2.200", refusal);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ("b", b->id);
  b = directory.Authenticate("Bearer " + kTokenB, "2001:db8::5", refusal);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ("b", directory.Lookup("b")->id);
  EXPECT_EQ(nullptr, directory.Lookup("d"));
}

TEST(PartnerDirectory, WrongMissingOrMalformedTokensAreBadTokens)
{
  const PartnerDirectory directory = MakeDirectory();
  for (const std::string& header : {
         std::string(""), std::string("Bearer"), std::string("Bearer "), "Bearer " + kTokenA + "x",
         "Bearer " + kTokenA.substr(1), "Basic " + kTokenA, "Bearer  " + kTokenA, "Bearer " + kTokenA + " ",
         "Bearer " + kTokenA + "=", std::string("Bearer short"), "Bearer " + std::string(257, 'a'),
         "Token " + kTokenA, "Bearer " + Crypto::Sha256Hex(kTokenA), "Bearer" + kTokenA,
         "Bearer " + kTokenA + "\r\nX: y", "Bearer " + std::string("tokenOfClinicA-0123456789_abcdef\0YZ", 35)})
  {
    EXPECT_EQ("partner-bad-token", RefusalOf(directory, header)) << header;
  }
  // A directory without partners opens nothing, not even a token hashing to nothing.
  EXPECT_EQ("partner-bad-token", RefusalOf(PartnerDirectory(), "Bearer " + kTokenA));
  EXPECT_TRUE(PartnerDirectory().IsEmpty());
}

TEST(PartnerDirectory, RevokedPartnersAndForeignNetworksAreRefused)
{
  const PartnerDirectory directory = MakeDirectory();
  EXPECT_EQ("partner-revoked", RefusalOf(directory, "Bearer " + kTokenC));
  EXPECT_EQ("partner-network", RefusalOf(directory, "Bearer " + kTokenB, "198.51.100.7"));
  EXPECT_EQ("partner-network", RefusalOf(directory, "Bearer " + kTokenB, "192.0.3.1"));
  EXPECT_EQ("partner-network", RefusalOf(directory, "Bearer " + kTokenB, "2001:db9::1"));
  EXPECT_EQ("partner-network", RefusalOf(directory, "Bearer " + kTokenB, ""));
  EXPECT_EQ("partner-network", RefusalOf(directory, "Bearer " + kTokenB, "not-an-address"));
}

TEST(PartnerDirectory, ExtractBearerTokenIsStrict)
{
  EXPECT_EQ(kTokenA, PartnerDirectory::ExtractBearerToken("Bearer " + kTokenA));
  EXPECT_EQ(kTokenA, PartnerDirectory::ExtractBearerToken("bEaReR " + kTokenA));
  EXPECT_EQ("", PartnerDirectory::ExtractBearerToken("Bearer " + kTokenA + "/"));
  EXPECT_EQ("", PartnerDirectory::ExtractBearerToken("Bearer " + std::string(15, 'a')));
  EXPECT_EQ(std::string(16, 'a'), PartnerDirectory::ExtractBearerToken("Bearer " + std::string(16, 'a')));
  EXPECT_EQ(std::string(256, 'a'), PartnerDirectory::ExtractBearerToken("Bearer " + std::string(256, 'a')));
  // A real token as the plugin makes them is accepted.
  const std::string token = Crypto::RandomToken();
  EXPECT_EQ(token, PartnerDirectory::ExtractBearerToken("Bearer " + token));
}
