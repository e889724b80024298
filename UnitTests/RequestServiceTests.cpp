// Unit tests of request links' service: creation, the public side, the clock, roles, listeners.
#include "Requests/RequestService.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  const int64_t kDay = 86400000;

  Configuration MakeConfiguration(const std::string& extra = "")
  {
    Json::Value section;
    std::string errors;
    JsonText::ParseConfiguration(section, InboundTests::MakeConfigurationJson(), errors);
    Json::Value more;
    if (!extra.empty())
    {
      EXPECT_TRUE(JsonText::ParseConfiguration(more, extra, errors)) << errors;
      for (const std::string& key : more.getMemberNames())
      {
        section[key] = more[key];
      }
    }
    section["Requests"]["MaxFailures"] = 3;
    section["Requests"]["TicketSeconds"] = 600;
    return Configuration::Parse(section);
  }

  struct Fixture
  {
    Configuration configuration;
    Ledger ledger{""};
    InboundTests::FakeClock clock;
    RequestService service{configuration, ledger, clock};

    explicit Fixture(const std::string& extra = "") : configuration(MakeConfiguration(extra))
    {
    }

    // The 201 answer and the link's token.
    Json::Value Create(const std::string& body, std::string& token)
    {
      const Json::Value answer = service.Create(body.data(), body.size(), "alice",
                                                "https://admin.hospital.example");
      const std::string url = answer["url"].asString();
      token = url.substr(url.rfind('/') + 1);
      return answer;
    }

    Json::Value Answer(const std::string& token, const std::string& answer)
    {
      const std::string body = "{\"answer\": \"" + answer + "\"}";
      return service.Challenge(token, body.data(), body.size(), "203.0.113.5");
    }
  };

  const char* const kBirthDateRequest =
    R"({"recipient": "neuro", "patient": {"id": "H-1", "name": "DOE^JANE",
        "birthDate": "1980-01-31"}, "expiresInDays": 2, "maxUploads": 2})";

  template <typename F> std::string Refusal(F f)
  {
    try
    {
      f();
    }
    catch (const ApiError& e)
    {
      return e.GetCode();
    }
    return "";
  }
}

TEST(RequestService, TheLinkIsShownOnceAndOnlyItsHashIsKept)
{
  Fixture f;
  std::string token;
  const Json::Value answer = f.Create(kBirthDateRequest, token);
  EXPECT_EQ("https://admin.hospital.example/inbound/r/" + token, answer["url"].asString());
  EXPECT_FALSE(answer.isMember("code"));
  EXPECT_FALSE(answer["mailed"].asBool());
  EXPECT_EQ(FormatIso8601(f.clock.now + 2 * kDay), answer["expiresAt"].asString());

  RequestRecord stored;
  ASSERT_TRUE(f.ledger.Requests().Lookup(stored, answer["id"].asString()));
  EXPECT_EQ(Crypto::Sha256Hex(token), stored.tokenHash);
  EXPECT_EQ("alice", stored.createdBy);
  EXPECT_EQ(ChallengeKind_BirthDate, stored.challenge);
  EXPECT_EQ("19800131", stored.patient.birthDate);
  EXPECT_EQ(std::string::npos, stored.secret.find("DOE"));
  EXPECT_EQ(std::string::npos, JsonText::Compact(f.service.DescribeLink(token)).find("DOE"));
  EXPECT_EQ(std::string::npos, JsonText::Compact(f.service.DescribeLink(token)).find("1980"));
}

TEST(RequestService, TheChallengeOpensTheExpectedPatient)
{
  Fixture f;
  std::string token;
  f.Create(kBirthDateRequest, token);
  const Json::Value right = f.Answer(token, "19800131");
  EXPECT_EQ("DOE^JANE", right["expected"]["patientName"].asString());
  EXPECT_EQ("19800131", right["expected"]["birthDate"].asString());
  EXPECT_EQ(FormatIso8601(f.clock.now + 600 * 1000), right["ticketExpiresAt"].asString());
  EXPECT_EQ(f.service.CheckBinding(token, right["ticket"].asString()).patient.id, "H-1");

  std::string codeToken;
  const Json::Value code = f.Create(R"({"recipient": "neuro", "challenge": "code"})", codeToken);
  const std::string shown = code["code"].asString();
  ASSERT_EQ(9u, shown.size());
  EXPECT_EQ("challenge-failed", Refusal([&] { f.Answer(codeToken, "19800131"); }));
  EXPECT_EQ("", f.Answer(codeToken, shown)["expected"]["patientName"].asString());
}

TEST(RequestService, WrongAnswersLockAndCountForTheAddress)
{
  Fixture f;
  std::vector<std::string> counted;
  f.service.SetWrongAnswerCounter([&](const std::string& ip) { counted.push_back(ip); });
  std::string token;
  f.Create(kBirthDateRequest, token);
  try
  {
    f.Answer(token, "19800130");
    FAIL();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ("challenge-failed", e.GetCode());
    EXPECT_EQ(2, e.ToJson()["remainingAttempts"].asInt());
  }
  EXPECT_EQ("challenge-failed", Refusal([&] { f.Answer(token, "not a date"); }));
  EXPECT_EQ("request-locked", Refusal([&] { f.Answer(token, "1980-01-01"); }));
  EXPECT_EQ("request-locked", Refusal([&] { f.Answer(token, "19800131"); }));
  EXPECT_EQ("request-locked", Refusal([&] { f.service.DescribeLink(token); }));
  EXPECT_EQ(std::vector<std::string>(3, "203.0.113.5"), counted);  // not the refused right one
}

TEST(RequestService, ExpiryOfTheRequestAndOfTicketsFollowsTheClock)
{
  Fixture f;
  std::string token;
  f.Create(kBirthDateRequest, token);
  const std::string ticket = f.Answer(token, "19800131")["ticket"].asString();
  f.clock.now += 600 * 1000 - 1;
  EXPECT_NO_THROW(f.service.CheckBinding(token, ticket));
  f.clock.now += 1;
  EXPECT_EQ("challenge-required", Refusal([&] { f.service.CheckBinding(token, ticket); }));

  // A ticket never outlives its request.
  f.clock.now += 2 * kDay - 600 * 1000 - 60 * 1000;
  const Json::Value late = f.Answer(token, "19800131");
  int64_t ticketExpiresAt = 0;
  ASSERT_TRUE(ParseIso8601(ticketExpiresAt, late["ticketExpiresAt"].asString()));
  EXPECT_EQ(f.ledger.Requests().List(0)[0].expiresAt, ticketExpiresAt);
  f.clock.now += 60 * 1000;
  EXPECT_EQ("request-expired", Refusal([&] { f.service.DescribeLink(token); }));
  EXPECT_EQ("request-expired", Refusal([&] { f.Answer(token, "19800131"); }));
  EXPECT_EQ("request-expired",
            Refusal([&] { f.service.CheckBinding(token, late["ticket"].asString()); }));
  EXPECT_EQ("expired", f.service.List(0)["requests"][0]["status"].asString());
}

TEST(RequestService, RevocationIsFinalAndAnsweredAgain)
{
  Fixture f;
  int revoked = 0;
  f.service.AddRevokedListener([&](const RequestRecord& r, Json::Value& answer) {
    EXPECT_EQ(RequestState_Revoked, r.state);
    answer["gateways"] = "told";
    revoked++;
  });
  std::string token;
  const std::string id = f.Create(kBirthDateRequest, token)["id"].asString();
  EXPECT_EQ("told", f.service.Revoke(id, "bob")["gateways"].asString());
  EXPECT_EQ("revoked", f.service.Revoke(id, "bob")["status"].asString());
  EXPECT_EQ(1, revoked);
  EXPECT_EQ("request-revoked", Refusal([&] { f.service.DescribeLink(token); }));
  EXPECT_EQ("not-found", Refusal([&] { f.service.Revoke("NOSUCHREQ234", "bob"); }));
  EXPECT_EQ("not-found", Refusal([&] { f.service.Show("NOSUCHREQ234"); }));
  EXPECT_EQ("not-found", Refusal([&] { f.service.DescribeLink(std::string(43, 'A')); }));
}

TEST(RequestService, ListenersExtendTheAnswers)
{
  Fixture f;
  std::string seenUrl;
  f.service.AddCreatedListener([&](const RequestRecord& r, const std::string& url,
                                   Json::Value& answer) {
    seenUrl = url;
    answer["mailed"] = !r.id.empty();
  });
  f.service.AddDescribeListener([](const RequestRecord&, Json::Value& json) {
    json["gateways"] = Json::objectValue;
  });
  std::string token;
  const Json::Value answer = f.Create(kBirthDateRequest, token);
  EXPECT_EQ(answer["url"].asString(), seenUrl);
  EXPECT_TRUE(answer["mailed"].asBool());
  EXPECT_TRUE(f.service.Show(answer["id"].asString())["gateways"].isObject());
  EXPECT_TRUE(f.service.List(0)["requests"][0]["gateways"].isObject());
}

TEST(RequestService, LinksNeedAPublicAddressWhereTheAdminsIsNotOne)
{
  Fixture internal(R"({"Role": "Internal", "Gateways": ["dmz"]})");
  std::string token;
  EXPECT_EQ("public-url-required", Refusal([&] { internal.Create(kBirthDateRequest, token); }));

  Fixture withUrl(R"({"Role": "Internal", "Gateways": ["dmz"],
                      "PublicUrl": "https://upload.hospital.example"})");
  const Json::Value answer = withUrl.Create(kBirthDateRequest, token);
  EXPECT_EQ("https://upload.hospital.example/inbound/r/" + token, answer["url"].asString());

  Fixture standalone;
  EXPECT_EQ("public-url-required", Refusal([&] {
              const std::string body = kBirthDateRequest;
              standalone.service.Create(body.data(), body.size(), "alice", "");
            }));

  Fixture gateway(R"({"Role": "Gateway"})");
  EXPECT_EQ("not-found", Refusal([&] { gateway.Create(kBirthDateRequest, token); }));
  EXPECT_EQ("not-found", Refusal([&] { gateway.service.Revoke("ANYREQUEST23", "bob"); }));
}

TEST(RequestService, ForwardToNamesAKnownModalityAndTheHospitalsPatient)
{
  Fixture f;
  std::string token;
  const std::string body =
    R"({"recipient": "neuro", "patient": {"id": "H-1", "name": "DOE^JANE", "birthDate": "19800102"},)"
    R"( "challenge": "code", "forwardTo": "pacs"})";
  EXPECT_EQ("unknown-modality", Refusal([&] { f.Create(body, token); }));
  f.service.SetModalityCheck([](const std::string& name) { return name == "pacs"; });
  const Json::Value answer = f.Create(body, token);
  EXPECT_EQ("pacs", f.service.Show(answer["id"].asString())["forwardTo"].asString());
  EXPECT_EQ("code", f.service.Show(answer["id"].asString())["challenge"].asString());
  EXPECT_EQ("invalid-field", Refusal([&] {
              f.Create(R"({"recipient": "neuro", "patient": {"name": "X"}, "forwardTo": "pacs"})",
                       token);
            }));
  // A name alone fits other people too: no forward by itself without the birth date.
  EXPECT_EQ("invalid-field", Refusal([&] {
              f.Create(R"({"recipient": "neuro", "patient": {"id": "H-1", "name": "DOE^JANE"},)"
                       R"( "forwardTo": "pacs"})", token);
            }));
  EXPECT_EQ("invalid-field", Refusal([&] {
              f.Create(R"({"recipient": "neuro", "patient": {"id": "H-1", "name": "^",)"
                       R"( "birthDate": "19800102"}, "forwardTo": "pacs"})", token);
            }));
  EXPECT_EQ("unknown-modality", Refusal([&] {
              f.Create(R"({"recipient": "neuro", "patient": {"id": "H", "name": "DOE^JANE",)"
                       R"( "birthDate": "19800102"}, "forwardTo": "ris"})", token);
            }));
}
