// Unit tests of StowRequest: a partner request's answer, headers, and its session closed once.
#include "Partners/StowRequest.h"

#include "Toolbox/Json.h"

#include <gtest/gtest.h>

#include <vector>

#include <stdexcept>

using namespace Inbound;

namespace
{
  const std::string kBoundary = "b0undary";
  const std::string kType = "multipart/related; type=application/dicom; boundary=" + kBoundary;

  struct Counters
  {
    int added = 0;
    int closed = 0;
    std::vector<std::string> failed;  // RequestFailed's codes
  };

  class CountingSession : public IPartnerSession
  {
  public:
    explicit CountingSession(Counters& counters, bool throwOnClose = false) :
      counters_(counters), throwOnClose_(throwOnClose)
    {
    }

    StowItemResult Add(const void* body, size_t size, const std::string&) override
    {
      counters_.added++;
      StowItemResult result;
      result.ok = std::string(static_cast<const char*>(body), size) != "busy";
      result.sopInstance = result.ok ? "1.2." + std::to_string(counters_.added) : "";
      result.failureReason = result.ok ? 0 : StowFailureReason_ServerBusy;
      result.transient = !result.ok;
      result.retryAfter = 7;
      return result;
    }

    void RequestFailed(const std::string& code) override
    {
      EXPECT_EQ(0, counters_.closed);  // before the session closes
      counters_.failed.push_back(code);
    }

    void Close() override
    {
      counters_.closed++;
      if (throwOnClose_)
      {
        throw std::runtime_error("ledger gone");
      }
    }

  private:
    Counters& counters_;
    bool throwOnClose_;
  };

  std::string Part(const std::string& body)
  {
    return "--" + kBoundary + "\r\nContent-Type: application/dicom\r\n\r\n" + body + "\r\n";
  }

  const std::string kEnd = "--" + kBoundary + "--";

  Json::Value Parse(const std::string& text)
  {
    Json::Value value;
    EXPECT_TRUE(JsonText::ParseStrict(value, text.data(), text.size()));
    return value;
  }

  std::string Header(const StowRequest::Answer& answer, const std::string& name)
  {
    for (const auto& header : answer.headers)
    {
      if (header.first == name)
      {
        return header.second;
      }
    }
    return "";
  }
} // namespace

TEST(StowRequest, AnswersTheStowBodyAndClosesTheSessionOnce)
{
  Counters counters;
  StowRequest request(std::unique_ptr<IPartnerSession>(new CountingSession(counters)), kType, "",
                      1000);
  const std::string body = Part("a") + Part("b") + kEnd;
  request.AddChunk(body.data(), 10);
  request.AddChunk(body.data() + 10, body.size() - 10);
  const StowRequest::Answer& answer = request.Finish();
  EXPECT_EQ(200, answer.status);
  EXPECT_EQ("application/dicom+json", answer.contentType);
  EXPECT_EQ(2u, Parse(answer.body)["00081199"]["Value"].size());
  EXPECT_TRUE(answer.headers.empty());
  EXPECT_EQ(1, counters.closed);
  EXPECT_EQ(200, request.Finish().status);    // the same answer again, no second close
  request.AddChunk(body.data(), body.size()); // after the answer: ignored
  EXPECT_EQ(2, counters.added);
  EXPECT_EQ(1, counters.closed);
}

TEST(StowRequest, ErrorsAndRetriesGoInHeaders)
{
  {
    Counters counters;
    StowRequest request(std::unique_ptr<IPartnerSession>(new CountingSession(counters)), kType, "",
                        1000);
    const std::string body = Part("a") + Part("b").substr(0, 20); // cut inside the 2nd
    request.AddChunk(body.data(), body.size());
    const StowRequest::Answer& answer = request.Finish();
    EXPECT_EQ(400, answer.status);
    EXPECT_EQ("truncated", Header(answer, "X-Inbound-Error"));
    EXPECT_EQ(1u, Parse(answer.body)["00081199"]["Value"].size());
    EXPECT_EQ(std::vector<std::string>{"truncated"}, counters.failed);  // the partner's figures
  }
  {
    Counters counters;
    StowRequest request(std::unique_ptr<IPartnerSession>(new CountingSession(counters)), kType, "",
                        1000);
    const std::string body = Part("busy") + kEnd;
    request.AddChunk(body.data(), body.size());
    const StowRequest::Answer& answer = request.Finish();
    EXPECT_EQ(503, answer.status);
    EXPECT_EQ("7", Header(answer, "Retry-After"));
    EXPECT_TRUE(counters.failed.empty());  // a part failed, not the request
  }
  {
    Counters counters;
    StowRequest request(std::unique_ptr<IPartnerSession>(new CountingSession(counters)), kType, "",
                        1000);
    request.AddChunk(kEnd.data(), kEnd.size());
    const StowRequest::Answer& answer = request.Finish();
    EXPECT_EQ(400, answer.status);
    EXPECT_EQ("application/json; charset=utf-8", answer.contentType);
    EXPECT_EQ("no-instances", Parse(answer.body)["error"].asString());
    EXPECT_FALSE(Parse(answer.body)["message"].asString().empty());
    EXPECT_EQ(std::vector<std::string>{"no-instances"}, counters.failed);
  }
}

TEST(StowRequest, ARefusedRequestSwallowsItsBodyAndAnswersTheRefusal)
{
  StowRequest request(403, "forbidden", "Not allowed");
  const std::string body = Part("a") + kEnd;
  request.AddChunk(body.data(), body.size());
  const StowRequest::Answer& answer = request.Finish();
  EXPECT_EQ(403, answer.status);
  EXPECT_EQ("forbidden", Parse(answer.body)["error"].asString());
  EXPECT_EQ(nullptr, request.GetReader());

  StowRequest noSession(std::unique_ptr<IPartnerSession>(), kType, "", 1000);
  EXPECT_EQ(500, noSession.Finish().status);
}

TEST(StowRequest, TheSessionIsClosedWhenTheClientGoesAway)
{
  Counters counters;
  {
    StowRequest request(std::unique_ptr<IPartnerSession>(new CountingSession(counters, true)),
                        kType, "", 1000);
    const std::string body = Part("a") + Part("b"); // no end: "b" is never read
    request.AddChunk(body.data(), body.size());
  } // destroyed without Finish(): Orthanc's finalize after a disconnect
  EXPECT_EQ(1, counters.added);
  EXPECT_EQ(1, counters.closed);

  Counters second;
  StowRequest request(std::unique_ptr<IPartnerSession>(new CountingSession(second, true)), kType,
                      "", 1000);
  EXPECT_EQ(400, request.Finish().status); // a Close() that throws does not change the answer
  EXPECT_EQ(1, second.closed);
}
