// Unit tests of the request push's wire format: what a record carries, the gateway's strict parser, states.
#include "Http/ApiError.h"
#include "LedgerBackends.h"
#include "Ledger/Ledger.h"
#include "Peering/PulledManifest.h"
#include "Peering/RequestPush.h"
#include "TestSupport.h"
#include "Toolbox/Crypto.h"
#include "Toolbox/Json.h"
#include "Toolbox/Time.h"

#include <gtest/gtest.h>

#include <functional>

using namespace Inbound;

namespace
{
  const int64_t kNow = 1770000000000;
  const int64_t kDay = 24 * 3600 * 1000;

  // A request as an Internal holds it, patient and sender included.
  RequestRecord MakeRequest(const std::string& id = "REQ234567892")
  {
    RequestRecord r;
    r.id = id;
    r.tokenHash = Crypto::Sha256Hex("token of " + id);
    r.createdAt = r.updatedAt = kNow - 1000;
    r.expiresAt = kNow + 14 * kDay;
    r.createdBy = "dr-house";
    r.recipientId = "neuro";
    r.message = "Please send the CT of May";
    r.language = "de";
    r.maxUploads = 2;
    r.challenge = ChallengeKind_BirthDate;
    r.secret = std::string(60, 'A');  // base64 of 45 zero bytes
    r.revision = 1;
    r.patient.id = "HOSP-0042";
    r.patient.name = "DOE^JANE";
    r.patient.birthDate = "19700101";
    r.senderName = "Dr. Sender";
    r.senderEmail = "sender@clinic.example";
    r.forwardTo = "PACS";
    return r;
  }

  std::string Body(const std::vector<Json::Value>& records)
  {
    Json::Value body(Json::objectValue);
    body["requests"] = Json::arrayValue;
    for (const Json::Value& r : records)
    {
      body["requests"].append(r);
    }
    return JsonText::Compact(body);
  }

  std::vector<RequestPush::Pushed> Parse(const std::string& body)
  {
    static const Configuration configuration = InboundTests::MakeConfiguration("Gateway");
    return RequestPush::Parse(body.data(), body.size(), configuration, kNow);
  }

  // The one record of a push whose record was changed by "change".
  RequestPush::Pushed ParseChanged(const std::function<void(Json::Value&)>& change)
  {
    Json::Value json = RequestPush::ToJson(MakeRequest());
    change(json);
    const std::vector<RequestPush::Pushed> parsed = Parse(Body({json}));
    EXPECT_EQ(1u, parsed.size());
    return parsed.at(0);
  }

  int ParseStatus(const std::string& body, std::string& code)
  {
    try
    {
      Parse(body);
      return 200;
    }
    catch (const ApiError& e)
    {
      code = e.GetCode();
      return e.GetStatus();
    }
  }
}

TEST(RequestPush, ARecordCarriesWhatTheChallengeNeedsAndNoPatient)
{
  const Json::Value json = RequestPush::ToJson(MakeRequest());
  const std::string text = JsonText::Compact(json);
  for (const char* inside : {"HOSP-0042", "DOE", "19700101", "Dr. Sender", "sender@clinic",
                             "PACS", "dr-house"})
  {
    EXPECT_EQ(std::string::npos, text.find(inside)) << inside << " in " << text;
  }
  EXPECT_EQ(12u, json.size()) << text;

  const std::vector<RequestPush::Pushed> parsed = Parse(Body({json}));
  ASSERT_EQ(1u, parsed.size());
  ASSERT_EQ("", parsed[0].error) << parsed[0].message;
  const RequestRecord& r = parsed[0].record;
  const RequestRecord original = MakeRequest();
  EXPECT_EQ(original.id, r.id);
  EXPECT_EQ(original.tokenHash, r.tokenHash);
  EXPECT_EQ(RequestState_Active, r.state);
  EXPECT_EQ(original.createdAt, r.createdAt);
  EXPECT_EQ(original.expiresAt, r.expiresAt);
  EXPECT_EQ("neuro", r.recipientId);
  EXPECT_EQ(original.message, r.message);
  EXPECT_EQ("de", r.language);
  EXPECT_EQ(2, r.maxUploads);
  EXPECT_EQ(ChallengeKind_BirthDate, r.challenge);
  EXPECT_EQ(original.secret, r.secret);
  EXPECT_EQ(1, r.revision);
  EXPECT_EQ("", r.patient.id);
  EXPECT_EQ("", r.patient.name);
  EXPECT_EQ("", r.senderEmail);
  EXPECT_EQ("", r.forwardTo);
  EXPECT_EQ("internal", r.createdBy);
}

TEST(RequestPush, APushThatIsNoListOfRecordsIsRefusedAsAWhole)
{
  std::string code;
  EXPECT_EQ(400, ParseStatus("[]", code));
  EXPECT_EQ("bad-json", code);
  EXPECT_EQ(400, ParseStatus("{\"requests\": {}}", code));
  EXPECT_EQ(400, ParseStatus("{\"requests\": [], \"more\": 1}", code));
  EXPECT_EQ(400, ParseStatus("{\"requests\": []} trailing", code));
  EXPECT_EQ(200, ParseStatus("{\"requests\": []}", code));

  // Larger than the cap: refused before it is parsed.
  const std::string big = "{\"requests\": [], \"x\": \"" +
                          std::string(RequestPush::kMaxBodyBytes, 'a') + "\"}";
  EXPECT_EQ(413, ParseStatus(big, code));
  EXPECT_EQ("too-large", code);

  std::vector<Json::Value> many;
  for (size_t i = 0; i <= RequestPush::kMaxRecords; i++)
  {
    many.push_back(RequestPush::ToJson(MakeRequest()));
  }
  EXPECT_EQ(400, ParseStatus(Body(many), code));
  EXPECT_EQ("invalid-field", code);

  // The same id twice, a record without an id of the right form: the Internal could not tell
  // the answers apart.
  EXPECT_EQ(400, ParseStatus(Body({RequestPush::ToJson(MakeRequest()),
                                   RequestPush::ToJson(MakeRequest())}), code));
  for (const Json::Value& id : {Json::Value("../../admin"), Json::Value(12), Json::Value(),
                                Json::Value("abcdefghjklm"), Json::Value("REQ2345678920")})
  {
    Json::Value json = RequestPush::ToJson(MakeRequest());
    json["id"] = id;
    EXPECT_EQ(400, ParseStatus(Body({json}), code)) << JsonText::Compact(id);
    EXPECT_EQ("invalid-field", code);
  }
  EXPECT_EQ(400, ParseStatus("{\"requests\": [1]}", code));
}

TEST(RequestPush, ARecordBreakingARuleIsRefusedAlone)
{
  // name -> change; each refuses the record as "invalid-field", naming the field.
  const std::vector<std::pair<std::string, std::function<void(Json::Value&)>>> cases = {
    {"patient", [](Json::Value& j) { j["patient"]["id"] = "HOSP-0042"; }},
    {"sender", [](Json::Value& j) { j["sender"] = Json::objectValue; }},
    {"forwardTo", [](Json::Value& j) { j["forwardTo"] = "PACS"; }},
    {"tokenHash", [](Json::Value& j) { j["tokenHash"] = std::string(64, 'A'); }},
    {"tokenHash", [](Json::Value& j) { j["tokenHash"] = std::string(63, 'a'); }},
    {"tokenHash", [](Json::Value& j) { j.removeMember("tokenHash"); }},
    {"state", [](Json::Value& j) { j["state"] = "expired"; }},
    {"state", [](Json::Value& j) { j["state"] = 1; }},
    {"challenge", [](Json::Value& j) { j["challenge"] = "password"; }},
    {"createdAt", [](Json::Value& j) { j["createdAt"] = "yesterday"; }},
    {"createdAt", [](Json::Value& j) { j["createdAt"] = FormatIso8601(kNow + kDay); }},
    {"expiresAt", [](Json::Value& j) { j["expiresAt"] = FormatIso8601(kNow - 2000); }},
    {"expiresAt", [](Json::Value& j) { j["expiresAt"] = FormatIso8601(kNow + 500 * kDay); }},
    {"recipient", [](Json::Value& j) { j["recipient"] = std::string(65, 'r'); }},
    {"recipient", [](Json::Value& j) { j["recipient"] = Json::arrayValue; }},
    {"message", [](Json::Value& j) { j["message"] = "line\r\nBcc: all@hospital.example"; }},
    {"message", [](Json::Value& j) { j["message"] = std::string(5000, 'm'); }},
    {"message", [](Json::Value& j) { j["message"] = "\xff\xfe"; }},
    {"language", [](Json::Value& j) { j["language"] = "xx"; }},
    {"maxUploads", [](Json::Value& j) { j["maxUploads"] = 0; }},
    {"maxUploads", [](Json::Value& j) { j["maxUploads"] = 1e9; }},
    {"maxUploads", [](Json::Value& j) { j["maxUploads"] = 1.5; }},
    {"maxUploads", [](Json::Value& j) { j["maxUploads"] = "2"; }},
    {"secret", [](Json::Value& j) { j["secret"] = "not base64!"; }},
    {"secret", [](Json::Value& j) { j["secret"] = "AAAA"; }},  // shorter than nonce and tag
    {"secret", [](Json::Value& j) { j["secret"] = " " + std::string(60, 'A'); }},
    {"secret",
     [](Json::Value& j) { j["secret"] = std::string(RequestPush::kMaxSecretCharacters + 4, 'A'); }},
    {"revision", [](Json::Value& j) { j["revision"] = 0; }},
    {"revision", [](Json::Value& j) { j["revision"] = -3; }},
  };
  for (const auto& c : cases)
  {
    const RequestPush::Pushed pushed = ParseChanged(c.second);
    EXPECT_EQ("invalid-field", pushed.error) << c.first;
    EXPECT_NE(std::string::npos, pushed.message.find(c.first)) << c.first << ": " << pushed.message;
    EXPECT_EQ("REQ234567892", pushed.record.id) << c.first;
  }

  // Valid variants: no uses left to spend but a longer life, each challenge, a revocation.
  for (const char* challenge : {"none", "birthDate", "code"})
  {
    EXPECT_EQ("", ParseChanged([&](Json::Value& j) { j["challenge"] = challenge; }).error);
  }
  EXPECT_EQ("", ParseChanged([](Json::Value& j) { j["state"] = "revoked"; }).error);
  EXPECT_EQ("", ParseChanged([](Json::Value& j) { j["language"] = ""; }).error);
  // A little clock skew between the two sides is no reason to refuse.
  EXPECT_EQ("", ParseChanged([](Json::Value& j) {
    j["createdAt"] = FormatIso8601(kNow + 60 * 1000);
  }).error);
}

TEST(RequestPush, ARecipientTheGatewayDoesNotKnowIsRefusedForThatRecordOnly)
{
  RequestRecord other = MakeRequest("REQ234567893");
  other.recipientId = "cardiology";
  const std::vector<RequestPush::Pushed> parsed =
    Parse(Body({RequestPush::ToJson(MakeRequest()), RequestPush::ToJson(other)}));
  ASSERT_EQ(2u, parsed.size());
  EXPECT_EQ("", parsed[0].error);
  EXPECT_EQ("unknown-recipient", parsed[1].error);
  EXPECT_EQ("REQ234567893", parsed[1].record.id);
  EXPECT_NE(std::string::npos, parsed[1].message.find("cardiology"));
}

TEST(RequestPush, StatesFromAGatewayAreCheckedFieldByField)
{
  RequestRecord held = MakeRequest();
  held.usedUploads = 1;
  held.failures = 2;
  const std::string good = "{\"requests\": [" +
                           JsonText::Compact(RequestPush::StateToJson(held, kNow)) +
                           ", {\"id\": \"REQ234567893\", \"error\": \"unknown-recipient\", "
                           "\"message\": \"not here\\r\\nBcc: x\"}]}";
  const std::vector<RequestPush::GatewayState> states = RequestPush::ParseStates(good, kNow);
  ASSERT_EQ(2u, states.size());
  EXPECT_EQ("REQ234567892", states[0].id);
  EXPECT_EQ("active", states[0].status);
  EXPECT_EQ(1, states[0].usedUploads);
  EXPECT_EQ(2, states[0].failures);
  EXPECT_EQ(0, states[0].lockedAt);
  EXPECT_EQ("unknown-recipient", states[1].error);
  EXPECT_EQ(std::string::npos, states[1].message.find('\n')) << "made safe to show";

  held.state = RequestState_Locked;
  held.lockedAt = kNow - 5000;
  const std::vector<RequestPush::GatewayState> locked = RequestPush::ParseStates(
    "{\"requests\": [" + JsonText::Compact(RequestPush::StateToJson(held, kNow)) + "]}", kNow);
  ASSERT_EQ(1u, locked.size());
  EXPECT_EQ("locked", locked[0].status);
  EXPECT_EQ(kNow - 5000, locked[0].lockedAt);

  const Json::Value state = RequestPush::StateToJson(MakeRequest(), kNow);
  const std::vector<std::pair<const char*, Json::Value>> broken = {
    {"id", "../x"}, {"id", Json::Value()}, {"revision", -1}, {"revision", "1"},
    {"status", "hacked"}, {"usedUploads", -1}, {"usedUploads", 1e12}, {"failures", 0.5},
    {"lockedAt", "soon"}, {"lockedAt", FormatIso8601(kNow + kDay)}, {"lockedAt", 5}};
  for (const auto& b : broken)
  {
    Json::Value bad = state;
    bad[b.first] = b.second;
    EXPECT_THROW(RequestPush::ParseStates("{\"requests\": [" + JsonText::Compact(bad) + "]}",
                                          kNow),
                 GatewayDataError)
      << b.first << " = " << JsonText::Compact(b.second);
  }
  for (const char* answer : {"", "[]", "{}", "{\"requests\": {}}", "{\"requests\": [1]}",
                             "{\"requests\": [{\"id\": \"REQ234567892\", \"error\": 1}]}"})
  {
    EXPECT_THROW(RequestPush::ParseStates(answer, kNow), GatewayDataError) << answer;
  }
}

TEST(RequestPush, AGatewayStoresNewerRevisionsAndAnswersItsStates)
{
  const Configuration configuration = InboundTests::MakeConfiguration("Gateway");
  Ledger ledger(InboundTests::TestLedgerLocation());
  RequestRecord pushed = MakeRequest();
  RequestRecord unknown = MakeRequest("REQ234567893");
  unknown.recipientId = "cardiology";
  std::string body = Body({RequestPush::ToJson(pushed), RequestPush::ToJson(unknown)});
  Json::Value answer = RequestPush::Receive(body.data(), body.size(), configuration,
                                            ledger.Requests(), kNow);
  ASSERT_EQ(2u, answer["requests"].size()) << JsonText::Compact(answer);
  EXPECT_EQ("REQ234567892", answer["requests"][0]["id"].asString());
  EXPECT_EQ("active", answer["requests"][0]["status"].asString());
  EXPECT_EQ(1, answer["requests"][0]["revision"].asInt());
  EXPECT_EQ("unknown-recipient", answer["requests"][1]["error"].asString());

  RequestRecord held;
  ASSERT_TRUE(ledger.Requests().Lookup(held, "REQ234567892"));
  EXPECT_EQ(pushed.tokenHash, held.tokenHash);
  EXPECT_EQ(pushed.secret, held.secret);
  EXPECT_EQ("", held.patient.id);
  EXPECT_EQ("", held.senderEmail);
  EXPECT_FALSE(ledger.Requests().Lookup(held, "REQ234567893"));

  // Revoked inside: a newer revision replaces it; an older one afterwards changes nothing.
  RequestRecord revoked = pushed;
  revoked.state = RequestState_Revoked;
  revoked.revision = 2;
  body = Body({RequestPush::ToJson(revoked)});
  answer = RequestPush::Receive(body.data(), body.size(), configuration, ledger.Requests(), kNow);
  EXPECT_EQ("revoked", answer["requests"][0]["status"].asString());
  EXPECT_EQ(2, answer["requests"][0]["revision"].asInt());
  body = Body({RequestPush::ToJson(pushed)});
  answer = RequestPush::Receive(body.data(), body.size(), configuration, ledger.Requests(), kNow);
  EXPECT_EQ("revoked", answer["requests"][0]["status"].asString());
  EXPECT_EQ(2, answer["requests"][0]["revision"].asInt());

  const Json::Value states = RequestPush::ListStates(ledger.Requests(), kNow);
  ASSERT_EQ(1u, states["requests"].size());
  EXPECT_EQ("REQ234567892", states["requests"][0]["id"].asString());
  EXPECT_EQ("revoked", states["requests"][0]["status"].asString());
  EXPECT_EQ(Json::Value(), states["requests"][0]["lockedAt"]);
  // Expired: nothing left to tell the Internal, and the answer stays small.
  EXPECT_EQ(0u, RequestPush::ListStates(ledger.Requests(), pushed.expiresAt)["requests"].size());
}
