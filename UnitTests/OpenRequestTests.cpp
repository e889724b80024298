// Unit tests of the open request's checks: full and minimal bodies, refusals, the page's language.
#include "Configuration.h"
#include "Http/ApiError.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"
#include "Upload/OpenRequest.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  Configuration MakeConfiguration()
  {
    Json::Value section;
    std::string errors;
    JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors);
    return Configuration::Parse(section);
  }

  std::string CodeOf(const std::string& body)
  {
    try
    {
      OpenRequest::Parse(body.data(), body.size(), MakeConfiguration());
    }
    catch (const ApiError& e)
    {
      EXPECT_EQ(400, e.GetStatus());
      return e.GetCode();
    }
    return "accepted";
  }

  const std::string kConsent = R"("consent": {"version": "2026-01", "accepted": true})";
}

TEST(OpenRequest, AcceptsAFullRequest)
{
  const std::string body = R"({"sender": {"name": "Dr. A. Example", "email": "a@example.org",
    "institution": "Example Clinic", "phone": "+49 251 0000"}, "recipient": "neuro",
    "message": "CT from 12 May", )" + kConsent + R"(, "expected": {"files": 3, "bytes": 1000}})";
  const OpenRequest r = OpenRequest::Parse(body.data(), body.size(), MakeConfiguration());
  EXPECT_EQ("Dr. A. Example", r.sender.name);
  EXPECT_EQ("a@example.org", r.sender.email);
  EXPECT_EQ("Example Clinic", r.sender.institution);
  EXPECT_EQ("neuro", r.recipientId);
  EXPECT_EQ("2026-01", r.consentVersion);
  EXPECT_EQ(3, r.expectedFiles);
  EXPECT_EQ(1000, r.expectedBytes);
}

TEST(OpenRequest, MinimalRequest)
{
  EXPECT_EQ("accepted", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"}, )" +
                               kConsent + "}"));
}

TEST(OpenRequest, Refusals)
{
  EXPECT_EQ("bad-json", CodeOf("{"));
  EXPECT_EQ("bad-json", CodeOf("[]"));
  EXPECT_EQ("bad-json", CodeOf(R"({"a": 1} trailing)"));
  EXPECT_EQ("bad-json", CodeOf(std::string(100, '[') + std::string(100, ']')));
  EXPECT_EQ("invalid-field", CodeOf("{" + kConsent + "}"));
  EXPECT_EQ("invalid-field", CodeOf(R"({"sender": {"email": "a@example.org"}, )" + kConsent + "}"));
  EXPECT_EQ("invalid-field", CodeOf(R"({"sender": {"name": "   ", "email": "a@example.org"}, )" + kConsent + "}"));
  EXPECT_EQ("invalid-field", CodeOf(R"({"sender": {"name": "A"}, )" + kConsent + "}"));
  EXPECT_EQ("invalid-field", CodeOf(R"({"sender": {"name": "A", "email": "nope"}, )" + kConsent + "}"));
  EXPECT_EQ("invalid-field",
            CodeOf(R"({"sender": {"name": "A\r\nBcc: x@y.org", "email": "a@example.org"}, )" + kConsent + "}"));
  EXPECT_EQ("invalid-field",
            CodeOf(R"({"sender": {"name": 5, "email": "a@example.org"}, )" + kConsent + "}"));
  EXPECT_EQ("invalid-field", CodeOf(R"({"sender": {"name": ")" + std::string(129, 'x') +
                                    R"(", "email": "a@example.org"}, )" + kConsent + "}"));
  EXPECT_EQ("invalid-field", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"},
    "expected": {"files": -1}, )" + kConsent + "}"));
  // A number beyond int64 (found by the fuzz target): a 400, not a JsonCpp error (500).
  EXPECT_EQ("invalid-field", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"},
    "expected": {"bytes": 12297829382473033845}, )" + kConsent + "}"));
  EXPECT_EQ("consent-required", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"}})"));
  EXPECT_EQ("consent-required", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"},
    "consent": {"version": "2026-01", "accepted": false}})"));
  EXPECT_EQ("consent-required", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"},
    "consent": {"version": "2025-01", "accepted": true}})"));
  EXPECT_EQ("unknown-recipient", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"},
    "recipient": "someone@else.org", )" + kConsent + "}"));
  EXPECT_EQ("unknown-recipient", CodeOf(R"({"sender": {"name": "A", "email": "a@example.org"},
    "recipient": 3, )" + kConsent + "}"));
}

TEST(OpenRequest, TheLanguageOfThePageIsOneOfTheSites)
{
  const std::string sender = R"({"sender": {"name": "A", "email": "a@example.org"}, )" + kConsent;
  const std::string de = sender + R"(, "language": "de"})";
  EXPECT_EQ("de", OpenRequest::Parse(de.data(), de.size(), MakeConfiguration()).language);
  const std::string none = sender + "}";
  EXPECT_EQ("", OpenRequest::Parse(none.data(), none.size(), MakeConfiguration()).language);
  EXPECT_EQ("accepted", CodeOf(sender + R"(, "language": null})"));
  for (const char* bad : {R"("fr")", R"("DE")", R"("")", R"("de ")", "7", "[\"de\"]", R"("../en")"})
  {
    EXPECT_EQ("invalid-field", CodeOf(sender + R"(, "language": )" + bad + "}")) << bad;
  }
}
