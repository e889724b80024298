// Red team of request links, the pure parts: odd answers, envelopes opened out of place, origins.
#include "Http/RequestSafety.h"
#include "Requests/PatientMatch.h"
#include "Requests/RequestSecret.h"
#include "Toolbox/Crypto.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const std::string kToken = "r3dTeamTokenOfRequestA_0123456789abcdefABCD";
  const std::string kBirthDate = "19640812";
}

TEST(RedTeamRequests, NoOddFormOfADateOrCodeIsTakenForTheRightAnswer)
{
  // Look-alike digits, letters and separators, bytes hidden after the date: never the
  // normalized right answer (at worst a wrong one, counted).
  const std::string odd[] = {
    "\xef\xbc\x91\xef\xbc\x99\xef\xbc\x96\xef\xbc\x94-08-12",  // full-width 1964
    "\xd9\xa1\xd9\xa9\xd9\xa6\xd9\xa4\xd9\xa0\xd9\xa8\xd9\xa1\xd9\xa2",  // Arabic-Indic
    "1964\xe2\x80\x90" "08\xe2\x80\x90" "12",  // U+2010 hyphens
    std::string("19640812\0", 9), std::string("1964-08-12\0", 11), "19640812 ", "1964-08-12x",
    "1964-08-1\xcc\x81" "2", "+964-08-12", "1964_08_12", "1964-08-12-", "19640812\n"};
  for (const std::string& answer : odd)
  {
    std::string normalized;
    EXPECT_FALSE(RequestSecret::NormalizeAnswer(normalized, ChallengeKind_BirthDate, answer) &&
                 normalized == kBirthDate)
      << answer;
  }
  std::string code;
  ASSERT_TRUE(RequestSecret::NormalizeAnswer(code, ChallengeKind_Code, "abcd-2345"));
  EXPECT_EQ("ABCD2345", code);
  for (const std::string& answer :
       {std::string("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\xef\xbc\xa4-2345"),  // full-width
        std::string("\xd0\x90\xd0\x92\xd0\xa1" "D-2345"),                       // Cyrillic ABC
        std::string("ABCD\xe2\x80\x8b" "2345"), std::string("ABCD\t2345")})
  {
    std::string normalized;
    EXPECT_FALSE(RequestSecret::NormalizeAnswer(normalized, ChallengeKind_Code, answer) &&
                 normalized == "ABCD2345")
      << answer;
  }
}

TEST(RedTeamRequests, AnEnvelopeOpensOnlyForItsOwnRequestTokenAndAnswer)
{
  const std::string secret =
    RequestSecret::Seal({"MUSTERFRAU^ERIKA", kBirthDate}, kToken, kBirthDate, "REQAAAAAAAAA");
  RequestSecret::Expected expected;
  ASSERT_TRUE(RequestSecret::Open(expected, secret, kToken, kBirthDate, "REQAAAAAAAAA"));
  // Copied to another request (a gateway's forged push), opened with what a ledger or a
  // gateway holds (the token's hash), or with a ticket: never.
  EXPECT_FALSE(RequestSecret::Open(expected, secret, kToken, kBirthDate, "REQBBBBBBBBB"));
  EXPECT_FALSE(RequestSecret::Open(expected, secret, Crypto::Sha256Hex(kToken), kBirthDate,
                                   "REQAAAAAAAAA"));
  EXPECT_FALSE(RequestSecret::Open(expected, secret, Crypto::RandomToken(), kBirthDate,
                                   "REQAAAAAAAAA"));
  // An empty answer is no way around the challenge of a birth date or code.
  EXPECT_FALSE(RequestSecret::Open(expected, secret, kToken, "", "REQAAAAAAAAA"));
}

TEST(RedTeamRequests, ANameThatOnlyLooksTheSameIsAnotherPatient)
{
  // Matching decides whether an upload goes to the PACS under the hospital's PatientID: what
  // merely looks alike, or names more or fewer people, must not match.
  const std::string expected = "MUSTERFRAU^ERIKA";
  for (const char* found : {"\xd0\x9cUSTERFRAU^ERIKA",           // Cyrillic capital M
                            "MUSTERFRAU^ERIKA^MARIA", "MUSTERFRAU", "ERIKA",
                            "MUSTER FRAU^ERIKA", "MUSTERFRAU^ERIKAS", "", "^", "=MUSTERFRAU^ERIKA"})
  {
    EXPECT_FALSE(PatientMatch::Compare(expected, kBirthDate, found, kBirthDate).IsMatch()) << found;
  }
  // The right name without the birth date, or with another one: no match either.
  EXPECT_FALSE(PatientMatch::Compare(expected, kBirthDate, expected, "").IsMatch());
  EXPECT_FALSE(PatientMatch::Compare(expected, kBirthDate, expected, "19640821").IsMatch());
  EXPECT_FALSE(PatientMatch::Compare(expected, kBirthDate, expected, "1964-08-12").IsMatch());
  EXPECT_TRUE(PatientMatch::Compare(expected, kBirthDate, "Musterfrau^Erika", kBirthDate).IsMatch());
}

TEST(RedTeamRequests, TheSitesOwnOriginHasItsSchemeHostAndPort)
{
  EXPECT_TRUE(IsSameOrigin("http://hospital.example", "hospital.example", false));
  EXPECT_TRUE(IsSameOrigin("HTTPS://Hospital.Example", "hospital.example", true));
  EXPECT_TRUE(IsSameOrigin("https://hospital.example:8443", "hospital.example:8443", true));
  // The other scheme is another site: a man in the middle writes http:// pages.
  EXPECT_FALSE(IsSameOrigin("http://hospital.example", "hospital.example", true));
  EXPECT_FALSE(IsSameOrigin("https://hospital.example", "hospital.example", false));
  for (const char* origin : {"", "null", "https://hospital.example:443x",
                             "https://evil.example@hospital.example",
                             "https://hospital.example/", "https://hospital.example.evil.example",
                             "https://evil.example#@hospital.example", "ws://hospital.example",
                             "https://hospital.example\\@evil.example", "https://"})
  {
    EXPECT_FALSE(IsSameOrigin(origin, "hospital.example", true)) << origin;
  }
  EXPECT_FALSE(IsSameOrigin("https://hospital.example", "", true));

  RequestFacts facts;
  facts.AddHeader("Origin", "http://hospital.example");
  facts.AddHeader("Host", "hospital.example");
  EXPECT_TRUE(IsSameOriginWrite(facts));
  facts.AddHeader("X-Forwarded-Proto", "https");  // the TLS proxy
  EXPECT_FALSE(IsSameOriginWrite(facts));
  facts.AddHeader("Origin", "https://hospital.example");
  EXPECT_TRUE(IsSameOriginWrite(facts));
}
