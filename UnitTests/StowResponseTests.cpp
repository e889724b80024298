// Unit tests of StowResponse: PS3.18 statuses and the DICOM JSON of a partner's STOW-RS answer.
#include "Partners/StowResponse.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  StowItemResult Stored(const std::string& instance)
  {
    StowItemResult result;
    result.ok = true;
    result.sopClass = "1.2.840.10008.5.1.4.1.1.2";
    result.sopInstance = instance;
    return result;
  }

  StowItemResult Failed(uint16_t reason, const std::string& instance = "", bool transient = false,
                        unsigned int retryAfter = 0)
  {
    StowItemResult result;
    result.failureReason = reason;
    result.sopInstance = instance;
    result.sopClass = instance.empty() ? "" : "1.2.840.10008.5.1.4.1.1.2";
    result.code = "x";
    result.transient = transient;
    result.retryAfter = retryAfter;
    return result;
  }

  int Status(const std::vector<StowItemResult>& results, const std::string& error = "")
  {
    return StowResponse::Build(results, error).status;
  }
} // namespace

TEST(StowResponse, StatusesFollowPs318)
{
  EXPECT_EQ(200, Status({Stored("1.1"), Stored("1.2")}));
  EXPECT_EQ(202, Status({Stored("1.1"), Failed(StowFailureReason_CannotUnderstand)}));
  EXPECT_EQ(202, Status({Failed(StowFailureReason_QuotaExceeded, "", true), Stored("1.1")}));
  EXPECT_EQ(409, Status({Failed(StowFailureReason_StudyMismatch, "1.1")}));
  EXPECT_EQ(
      409, Status({Failed(StowFailureReason_Malware), Failed(StowFailureReason_CannotUnderstand)}));
  EXPECT_EQ(400, Status({Failed(StowFailureReason_CannotUnderstand),
                         Failed(StowFailureReason_SopClassNotSupported, "1.3")}));
  EXPECT_EQ(409, Status({Failed(StowFailureReason_StorageFull, "", true),
                         Failed(StowFailureReason_Malware)}));

  const StowResponse busy =
      StowResponse::Build({Failed(StowFailureReason_ServerBusy, "", true, 30),
                           Failed(StowFailureReason_QuotaExceeded, "", true, 600)},
                          "");
  EXPECT_EQ(503, busy.status);
  EXPECT_EQ(600u, busy.retryAfter);
  EXPECT_EQ(1u,
            StowResponse::Build({Failed(StowFailureReason_ServerBusy, "", true)}, "").retryAfter);
  EXPECT_EQ(0u, StowResponse::Build({Stored("1.1")}, "").retryAfter);
}

TEST(StowResponse, AnEmptyRequestIsRefused)
{
  const StowResponse response = StowResponse::Build({}, "");
  EXPECT_EQ(400, response.status);
  EXPECT_EQ("no-instances", response.error);
  EXPECT_EQ("no-instances", response.body["error"].asString());
  EXPECT_FALSE(response.body.isMember("00081199"));
}

TEST(StowResponse, RequestErrorsListWhatWasStoredBefore)
{
  EXPECT_EQ(415, Status({}, "unsupported-media-type"));
  EXPECT_EQ(413, Status({Stored("1.1")}, "too-large"));
  EXPECT_EQ(400, Status({Stored("1.1")}, "invalid-multipart"));
  EXPECT_EQ(413, Status({Stored("1.1")}, "too-many-parts"));
  const StowResponse busy = StowResponse::Build({Stored("1.1")}, "server-busy");
  EXPECT_EQ(503, busy.status);
  EXPECT_LE(1u, busy.retryAfter);
  const StowResponse truncated = StowResponse::Build({Stored("1.1")}, "truncated");
  EXPECT_EQ(400, truncated.status);
  EXPECT_EQ("truncated", truncated.error);
  ASSERT_EQ(1u, truncated.body["00081199"]["Value"].size());
  EXPECT_EQ("1.1", truncated.body["00081199"]["Value"][0]["00081155"]["Value"][0].asString());
}

TEST(StowResponse, BodyIsDicomJsonWithTheThreeSequences)
{
  const StowResponse response = StowResponse::Build(
      {Stored("1.2.3.1"), Failed(StowFailureReason_StudyMismatch, "1.2.3.2"),
       Failed(StowFailureReason_CannotUnderstand), Failed(StowFailureReason_None, "1.2.3.4")},
      "");
  EXPECT_EQ(202, response.status);
  EXPECT_EQ("", response.error);
  const Json::Value& body = response.body;
  EXPECT_EQ("ISO_IR 192", body["00080005"]["Value"][0].asString());
  EXPECT_EQ("UR", body["00081190"]["vr"].asString());
  EXPECT_FALSE(body["00081190"].isMember("Value"));

  const Json::Value& referenced = body["00081199"];
  EXPECT_EQ("SQ", referenced["vr"].asString());
  ASSERT_EQ(1u, referenced["Value"].size());
  EXPECT_EQ("1.2.840.10008.5.1.4.1.1.2", referenced["Value"][0]["00081150"]["Value"][0].asString());
  EXPECT_EQ("UI", referenced["Value"][0]["00081155"]["vr"].asString());
  EXPECT_EQ("1.2.3.1", referenced["Value"][0]["00081155"]["Value"][0].asString());
  EXPECT_EQ("UR", referenced["Value"][0]["00081190"]["vr"].asString());

  const Json::Value& failed = body["00081198"]["Value"];
  ASSERT_EQ(2u, failed.size());
  EXPECT_EQ("1.2.3.2", failed[0]["00081155"]["Value"][0].asString());
  EXPECT_EQ("US", failed[0]["00081197"]["vr"].asString());
  EXPECT_EQ(0xC409u, failed[0]["00081197"]["Value"][0].asUInt());
  EXPECT_EQ(0x0110u, failed[1]["00081197"]["Value"][0].asUInt()); // no reason given: 0110

  const Json::Value& other = body["0008119A"]["Value"];
  ASSERT_EQ(1u, other.size());
  EXPECT_EQ(0xC000u, other[0]["00081197"]["Value"][0].asUInt());
  EXPECT_FALSE(other[0].isMember("00081155"));
}

TEST(StowResponse, AllStoredHasNoFailureSequences)
{
  // Orthanc's DICOMweb client counts a job as failed when 00081198 or 0008119A has items.
  const StowResponse response = StowResponse::Build({Stored("1.1"), Stored("1.1")}, "");
  EXPECT_EQ(200, response.status);
  EXPECT_EQ(2u, response.body["00081199"]["Value"].size());
  EXPECT_FALSE(response.body.isMember("00081198"));
  EXPECT_FALSE(response.body.isMember("0008119A"));
}
