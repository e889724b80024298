// Unit tests of StowReader: a partner's STOW-RS body split anywhere, wrong types, garbage, caps.
// Over 500 lines: one reader; its split points, caps, pipeline and hostile bodies share fakes.
#include "Partners/StowReader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include <stdexcept>
#include <string>
#include <vector>

using namespace Inbound;

namespace
{
  const std::string kBoundary = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
  const std::string kType = "multipart/related; type=\"application/dicom\"; boundary=" + kBoundary;

  // Stores nothing: keeps each part's bytes and answers ok with the bytes as SOP instance UID.
  class FakeSession : public IPartnerSession
  {
  public:
    std::vector<std::string> parts;
    std::vector<std::string> studies;
    bool throwOnAdd = false;
    int closed = 0;

    StowItemResult Add(const void* body, size_t size, const std::string& expectedStudy) override
    {
      if (throwOnAdd)
      {
        throw std::runtime_error("boom");
      }
      parts.push_back(std::string(static_cast<const char*>(body), size));
      studies.push_back(expectedStudy);
      StowItemResult result;
      result.ok = true;
      result.sopInstance = parts.back();
      return result;
    }

    void Close() override
    {
      closed++;
    }
  };

  std::string Part(const std::string& body, bool withLength = true,
                   const std::string& type = "application/dicom")
  {
    std::string part = "--" + kBoundary + "\r\n";
    if (!type.empty())
    {
      part += "Content-Type: " + type + "\r\n";
    }
    if (withLength)
    {
      part += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    return part + "\r\n" + body + "\r\n";
  }

  std::string End()
  {
    return "--" + kBoundary + "--";
  }

  // Feeds "body" in chunks of the given sizes (the rest in one last chunk) and closes.
  void FeedAll(StowReader& reader, const std::string& body, const std::vector<size_t>& cuts)
  {
    size_t at = 0;
    for (size_t cut : cuts)
    {
      const size_t n = std::min(cut, body.size() - at);
      reader.AddChunk(body.data() + at, n);
      at += n;
    }
    if (at < body.size())
    {
      reader.AddChunk(body.data() + at, body.size() - at);
    }
    reader.Close();
  }
} // namespace

TEST(StowReader, ReadsThePartsWhereverTheBodyIsSplit)
{
  // What Orthanc's DICOMweb client sends (with Content-Length), and parts without it.
  const std::string body = "preamble\r\n" + Part("first\r\n--x", true) + Part("second", false) +
                           Part(std::string("\0\r\n\r\nthird", 11), true) + End();
  for (size_t cut = 0; cut <= body.size(); cut++)
  {
    FakeSession session;
    StowReader reader(kType, session, "1.2.3", 1000);
    FeedAll(reader, body, {cut});
    ASSERT_EQ("", reader.GetError()) << "cut at " << cut;
    ASSERT_EQ(3u, session.parts.size()) << "cut at " << cut;
    EXPECT_EQ("first\r\n--x", session.parts[0]);
    EXPECT_EQ("second", session.parts[1]);
    EXPECT_EQ(std::string("\0\r\n\r\nthird", 11), session.parts[2]);
    EXPECT_EQ("1.2.3", session.studies[0]);
    ASSERT_EQ(3u, reader.GetResults().size());
    EXPECT_TRUE(reader.GetResults()[2].ok);
    EXPECT_EQ(body.size(), reader.GetBytesFed());
  }

  // Byte by byte, and in chunks of 2, 3 and 7 bytes.
  for (size_t step : {1u, 2u, 3u, 7u})
  {
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    FeedAll(reader, body, std::vector<size_t>(body.size(), step));
    EXPECT_EQ("", reader.GetError());
    EXPECT_EQ(3u, session.parts.size());
  }
}

TEST(StowReader, AcceptsTheContentTypesClientsSend)
{
  for (const std::string& type : std::vector<std::string>{
           "multipart/related; type=\"application/dicom\"; boundary=\"" + kBoundary + "\"",
           "Multipart/Related;Type=Application/DICOM;Boundary=" + kBoundary,
           "multipart/related; boundary=" + kBoundary + "; type=application/dicom"})
  {
    FakeSession session;
    StowReader reader(type, session, "", 1000);
    FeedAll(reader, Part("a") + End(), {});
    EXPECT_EQ("", reader.GetError()) << type;
    EXPECT_EQ(1u, session.parts.size()) << type;
  }
}

TEST(StowReader, ReadsWhatOrthancsDicomWebClientSends)
{
  // DICOMweb 1.7 (doc/Api.md "Partner STOW-RS"): a boundary of two UUIDs (73 characters), parts
  // with Content-Length, the closing delimiter without a CRLF.
  const std::string uuid = "9d2b3c1e-5f4a-4b7c-8d9e-0a1b2c3d4e5f";
  const std::string boundary = uuid + "-" + uuid;
  ASSERT_EQ(73u, boundary.size());
  std::string body;
  for (const std::string& file : {std::string("DICM one"), std::string("DICM two")})
  {
    body += "--" + boundary + "\r\nContent-Type: application/dicom\r\nContent-Length: " +
            std::to_string(file.size()) + "\r\n\r\n" + file + "\r\n";
  }
  body += "--" + boundary + "--";
  FakeSession session;
  StowReader reader("multipart/related; type=\"application/dicom\"; boundary=" + boundary, session,
                    "", 1000);
  FeedAll(reader, body, {65524});
  EXPECT_EQ("", reader.GetError());
  EXPECT_EQ((std::vector<std::string>{"DICM one", "DICM two"}), session.parts);
}

TEST(StowReader, RefusesOtherContentTypes)
{
  const std::string longBoundary(201, 'b');
  for (const std::string& type : std::vector<std::string>{
           std::string(""), std::string("text/plain"), "multipart/form-data; boundary=" + kBoundary,
           "multipart/related; boundary=" + kBoundary,
           "multipart/related; type=application/dicom+json; boundary=" + kBoundary,
           "multipart/related; type=application/dicom; boundary=",
           "multipart/related; type=application/dicom",
           "multipart/mixed; type=application/dicom; boundary=" + kBoundary,
           "multipart/related; type=application/dicom; boundary=" + longBoundary,
           "multipart/related; type=application/dicom; boundary=a\r\nb"})
  {
    FakeSession session;
    StowReader reader(type, session, "", 1000);
    FeedAll(reader, Part("a") + End(), {});
    EXPECT_EQ(StowReader::kUnsupportedMediaType, reader.GetError()) << type;
    EXPECT_TRUE(session.parts.empty()) << type;
    EXPECT_TRUE(reader.GetResults().empty());
  }
}

TEST(StowReader, APartThatIsNotDicomFailsAloneWithoutReachingTheSession)
{
  FakeSession session;
  StowReader reader(kType, session, "", 1000);
  FeedAll(reader,
          Part("a") + Part("text", true, "text/plain") + Part("none", true, "") +
              Part("b", true, "Application/DICOM; transfer-syntax=1.2.840.10008.1.2.1") +
              Part("json", false, "application/dicom+json") + End(),
          {});
  EXPECT_EQ("", reader.GetError());
  ASSERT_EQ(5u, reader.GetResults().size());
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), session.parts);
  for (size_t i : {1u, 2u, 4u})
  {
    EXPECT_FALSE(reader.GetResults()[i].ok);
    EXPECT_EQ(StowFailureReason_CannotUnderstand, reader.GetResults()[i].failureReason);
    EXPECT_EQ("not-application-dicom", reader.GetResults()[i].code);
  }
}

TEST(StowReader, GarbageBetweenPartsStopsTheReadingAndTheRestIsSwallowed)
{
  for (const std::string& garbage :
       std::vector<std::string>{std::string("junk"), std::string("\r\n")})
  {
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    const std::string body = Part("a") + garbage + Part("b") + End();
    reader.AddChunk(body.data(), body.size());
    EXPECT_EQ(StowReader::kInvalidMultipart, reader.GetError());
    const std::string more = Part("c") + End();
    reader.AddChunk(more.data(), more.size()); // ignored, no throw
    reader.Close();
    EXPECT_EQ(StowReader::kInvalidMultipart, reader.GetError());
    EXPECT_EQ((std::vector<std::string>{"a"}), session.parts);
    EXPECT_EQ(body.size(), reader.GetBytesFed()); // nothing counted after the error
  }

  // A part without the CRLF after its declared length; a negative or non-numeric length.
  for (const std::string& bad : std::vector<std::string>{
           "--" + kBoundary +
               "\r\nContent-Type: application/dicom\r\nContent-Length: 2\r\n\r\nabc\r\n",
           "--" + kBoundary +
               "\r\nContent-Type: application/dicom\r\nContent-Length: -1\r\n\r\na\r\n",
           "--" + kBoundary +
               "\r\nContent-Type: application/dicom\r\nContent-Length: x\r\n\r\na\r\n"})
  {
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    FeedAll(reader, bad + End(), {});
    EXPECT_EQ(StowReader::kInvalidMultipart, reader.GetError());
    EXPECT_TRUE(session.parts.empty());
  }
}

TEST(StowReader, APartOverTheCapFailsAndAnEndlessOneStopsTheStream)
{
  {
    FakeSession session;
    StowReader reader(kType, session, "", 100);
    FeedAll(reader, Part("a") + Part(std::string(101, 'x')) + Part("b") + End(), {7, 7, 7});
    EXPECT_EQ("", reader.GetError());
    ASSERT_EQ(3u, reader.GetResults().size());
    EXPECT_EQ(StowFailureReason_TooLarge, reader.GetResults()[1].failureReason);
    EXPECT_EQ((std::vector<std::string>{"a", "b"}), session.parts);
  }
  {
    // No boundary ever again: cut once the bytes since the last part exceed cap + slack.
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    const std::string head =
        Part("a") + "--" + kBoundary + "\r\nContent-Type: application/dicom\r\n\r\n";
    reader.AddChunk(head.data(), head.size());
    const std::string chunk(65524, 'y');
    uint64_t sent = head.size();
    while (!reader.HasFailed() && sent < 64 * 1024 * 1024)
    {
      reader.AddChunk(chunk.data(), chunk.size());
      sent += chunk.size();
    }
    EXPECT_EQ(StowReader::kTooLarge, reader.GetError());
    EXPECT_LE(reader.GetBytesFed(), 1000 + StowReader::kSlack + 2 * chunk.size());
    reader.AddChunk(chunk.data(), chunk.size());
    reader.Close();
    EXPECT_EQ(StowReader::kTooLarge, reader.GetError());
    EXPECT_EQ((std::vector<std::string>{"a"}), session.parts);
  }
  {
    // A declared length far beyond what is sent: the same cap.
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    const std::string head =
        "--" + kBoundary +
        "\r\nContent-Type: application/dicom\r\nContent-Length: 4611686018427387904\r\n\r\n";
    reader.AddChunk(head.data(), head.size());
    const std::string chunk(1024 * 1024, 'z');
    for (int i = 0; i < 4 && !reader.HasFailed(); i++)
    {
      reader.AddChunk(chunk.data(), chunk.size());
    }
    EXPECT_EQ(StowReader::kTooLarge, reader.GetError());
  }
}

TEST(StowReader, ABigPartUnderTheCapArrivesWholeInSmallChunks)
{
  const std::string big(9 * 1024 * 1024 + 17, 'q');
  FakeSession session;
  StowReader reader(kType, session, "", big.size());
  const std::string body = Part("a") + Part(big) + Part("b", false) + End();
  std::vector<size_t> cuts(body.size() / 65524 + 1, 65524);
  FeedAll(reader, body, cuts);
  EXPECT_EQ("", reader.GetError());
  ASSERT_EQ(3u, session.parts.size());
  EXPECT_TRUE(session.parts[1] == big);
  EXPECT_EQ("b", session.parts[2]);
}

TEST(StowReader, AnUnterminatedStreamIsReportedTruncated)
{
  const std::string complete = Part("a") + Part("b") + End();
  for (size_t cut : {complete.size() - 1, complete.size() - 3, complete.size() - 8,
                     Part("a").size() + 5, Part("a").size()})
  {
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    FeedAll(reader, complete.substr(0, cut), {});
    EXPECT_EQ(StowReader::kTruncated, reader.GetError()) << cut;
    EXPECT_EQ("a", session.parts.at(0));
  }
  {
    // Not multipart at all.
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    FeedAll(reader, "hello, this is not a multipart body", {});
    EXPECT_EQ(StowReader::kTruncated, reader.GetError());
    EXPECT_TRUE(session.parts.empty());
  }
  {
    // The delimiter inside a part's bytes does not count as the end.
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    FeedAll(reader, Part("a") + "--" + kBoundary + "\r\nContent-Length: 50\r\n\r\nxx" + End(), {});
    EXPECT_EQ(StowReader::kTruncated, reader.GetError());
  }
}

TEST(StowReader, NoPartsAtAllIsNoErrorAndNoResult)
{
  for (const std::string& body :
       std::vector<std::string>{std::string(""), End(), End() + "\r\n", "\r\n" + End()})
  {
    FakeSession session;
    StowReader reader(kType, session, "", 1000);
    FeedAll(reader, body, {});
    EXPECT_EQ("", reader.GetError()) << body;
    EXPECT_TRUE(reader.GetResults().empty());
  }
}

TEST(StowReader, ASessionThatThrowsFailsThePartOnly)
{
  FakeSession session;
  session.throwOnAdd = true;
  StowReader reader(kType, session, "", 1000);
  FeedAll(reader, Part("a") + Part("b") + End(), {});
  EXPECT_EQ("", reader.GetError());
  ASSERT_EQ(2u, reader.GetResults().size());
  EXPECT_EQ(StowFailureReason_ProcessingFailure, reader.GetResults()[0].failureReason);
  EXPECT_EQ("internal-error", reader.GetResults()[1].code);
}

TEST(StowReader, TheParseBlockGrowsWithABigPartAndShrinksAfterIt)
{
  // Orthanc's chunks of an unlengthed body are at most 1 MiB; a part exactly at the cap passes.
  const size_t cap = 12 * 1024 * 1024;
  const std::string big(cap, 'w');
  const std::string next(3 * 1024 * 1024, 'n');
  FakeSession session;
  StowReader reader(kType, session, "", cap);
  const std::string body = Part(big) + Part(next) + Part("after", false) + End();
  const size_t chunk = 1024 * 1024;
  size_t largestBlock = 0;
  size_t blockOnceOut = 0;
  for (size_t at = 0; at < body.size(); at += chunk)
  {
    reader.AddChunk(body.data() + at, std::min(chunk, body.size() - at));
    largestBlock = std::max(largestBlock, reader.GetBlockSize());
    if (session.parts.size() == 1 && blockOnceOut == 0)
    {
      blockOnceOut = reader.GetBlockSize();
    }
  }
  reader.Close();
  EXPECT_GE(largestBlock, 4u * 1024 * 1024); // doubled while the part grew
  EXPECT_EQ(1024u * 1024, blockOnceOut);     // back to 1 MiB once it came out
  EXPECT_EQ("", reader.GetError());
  ASSERT_EQ(3u, session.parts.size());
  EXPECT_TRUE(session.parts[0] == big);
  EXPECT_TRUE(session.parts[1] == next);
  EXPECT_EQ("after", session.parts[2]);
}

namespace
{
  // Thread-safe, slow enough for parts to overlap: counts how many are stored at once.
  class ConcurrentSession : public IPartnerSession
  {
  public:
    std::mutex mutex;
    std::vector<std::string> parts;
    int current = 0;
    int most = 0;
    int addsAfterClose = 0;
    bool closed = false;

    StowItemResult Add(const void* body, size_t size, const std::string&) override
    {
      {
        std::lock_guard<std::mutex> lock(mutex);
        addsAfterClose += closed ? 1 : 0;
        most = std::max(most, ++current);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      StowItemResult result;
      result.ok = size % 2 == 0;  // odd sizes fail, so that failures keep their place too
      result.sopInstance = std::string(static_cast<const char*>(body), size);
      std::lock_guard<std::mutex> lock(mutex);
      parts.push_back(result.sopInstance);
      current--;
      return result;
    }

    void Close() override
    {
      std::lock_guard<std::mutex> lock(mutex);
      closed = true;
    }
  };
} // namespace

TEST(StowReader, WorkersStoreThePartsSideBySideAndTheResultsKeepTheirOrder)
{
  std::string body;
  std::vector<std::string> expected;
  for (int i = 0; i < 40; i++)
  {
    expected.push_back("part-" + std::to_string(i) + std::string(i % 3, 'x'));
    body += Part(expected.back(), i % 2 == 0);
  }
  body += Part("not dicom", true, "text/plain") + End();
  ConcurrentSession session;
  {
    StowReader reader(kType, session, "", 1000, 2);
    FeedAll(reader, body, std::vector<size_t>(body.size() / 7, 7));
    ASSERT_FALSE(reader.HasFailed()) << reader.GetError();
    ASSERT_EQ(41u, reader.GetResults().size());
    for (size_t i = 0; i < expected.size(); i++)
    {
      EXPECT_EQ(expected[i], reader.GetResults()[i].sopInstance);
      EXPECT_EQ(expected[i].size() % 2 == 0, reader.GetResults()[i].ok);
    }
    EXPECT_EQ("not-application-dicom", reader.GetResults()[40].code);
  }
  EXPECT_EQ(40u, session.parts.size());
  EXPECT_EQ(2, session.most);  // two at once, never more
}

TEST(StowReader, APartAboveThePipelineCapIsStoredAloneOnTheReadingThread)
{
  const std::string big(StowReader::kMaxPipelineBytes + 2, 'b');
  const std::string body = Part("a1") + Part("a2") + Part(big) + Part("a3") + End();
  ConcurrentSession session;
  StowReader reader(kType, session, "", big.size(), 2);
  FeedAll(reader, body, {});
  ASSERT_EQ(4u, reader.GetResults().size());
  EXPECT_EQ(big.size(), reader.GetResults()[2].sopInstance.size());
  ASSERT_EQ(4u, session.parts.size());
  EXPECT_EQ(big.size(), session.parts[2].size());  // after the parts before it, before a3
  EXPECT_EQ("a3", session.parts[3]);
}

TEST(StowReader, AReaderDestroyedWithoutCloseStoresWhatItReadBeforeTheSessionCloses)
{
  ConcurrentSession session;
  {
    StowReader reader(kType, session, "", 1000, 2);
    const std::string body = Part("one1") + Part("two2") + Part("three3");  // no end: client gone
    reader.AddChunk(body.data(), body.size());
  }
  session.Close();
  EXPECT_EQ(0, session.addsAfterClose);
  EXPECT_GE(session.parts.size(), 2u);  // the third may still wait for its delimiter
}

TEST(StowReader, PartsBeyondTheCapEndTheRequest)
{
  FakeSession session;
  StowReader reader(kType, session, "", 1000, 0, 3);
  std::string body;
  for (int i = 0; i < 10; i++)
  {
    body += Part("p" + std::to_string(i));
  }
  FeedAll(reader, body + End(), {});
  EXPECT_EQ(StowReader::kTooManyParts, reader.GetError());
  EXPECT_EQ(3u, reader.GetResults().size());
  EXPECT_EQ(3u, session.parts.size());
}

namespace
{
  // Grants buffering memory up to "budget", and records what it was asked.
  class BudgetSession : public FakeSession
  {
  public:
    uint64_t budget = 0;
    uint64_t held = 0;
    uint64_t most = 0;

    bool ReserveBuffering(uint64_t bytes, bool) override
    {
      if (bytes > budget)
      {
        return false;
      }
      held = bytes;
      most = std::max(most, bytes);
      return true;
    }
  };
} // namespace

TEST(StowReader, APartBeingReadReservesItsSizeAndGivesItBack)
{
  const std::string big(3 * StowReader::kUnreservedBuffering + 5, 'b');
  const std::string body = Part(big) + Part("small") + End();
  {
    BudgetSession session;
    session.budget = 1ull << 40;
    StowReader reader(kType, session, "", big.size());
    FeedAll(reader, body, std::vector<size_t>(body.size() / 65536, 65536));
    ASSERT_FALSE(reader.HasFailed()) << reader.GetError();
    ASSERT_EQ(2u, reader.GetResults().size());
    EXPECT_GE(session.most, big.size());  // the part itself at the end (and its headers)
    EXPECT_LE(session.most, big.size() + 1024);
    EXPECT_EQ(0u, session.held);          // given back once the part came out
  }
  {
    // The whole body in one chunk (a Content-Length): the part is reserved before it is stored.
    BudgetSession session;
    session.budget = 1ull << 40;
    StowReader reader(kType, session, "", big.size());
    reader.SetBodyHeld(true);
    FeedAll(reader, body, {});
    ASSERT_FALSE(reader.HasFailed()) << reader.GetError();
    EXPECT_EQ(big.size(), session.most);
    EXPECT_EQ(0u, session.held);
    EXPECT_EQ(2u, session.parts.size());
  }
  {
    // No budget for it while it is read: the request ends, 503 server-busy, nothing stored.
    BudgetSession session;
    session.budget = 2 * StowReader::kUnreservedBuffering;
    StowReader reader(kType, session, "", big.size());
    FeedAll(reader, body, std::vector<size_t>(body.size() / 65536, 65536));
    EXPECT_EQ(StowReader::kServerBusy, reader.GetError());
    EXPECT_TRUE(session.parts.empty());
  }
  {
    // Nor when it comes in one chunk: that part fails A703 (sent again later), the others stand.
    BudgetSession session;
    session.budget = 2 * StowReader::kUnreservedBuffering;
    StowReader reader(kType, session, "", big.size());
    reader.SetBodyHeld(true);
    FeedAll(reader, body, {});
    ASSERT_FALSE(reader.HasFailed()) << reader.GetError();
    ASSERT_EQ(2u, reader.GetResults().size());
    EXPECT_EQ(StowFailureReason_ServerBusy, reader.GetResults()[0].failureReason);
    EXPECT_TRUE(reader.GetResults()[0].transient);
    EXPECT_TRUE(reader.GetResults()[1].ok);
    ASSERT_EQ(1u, session.parts.size());
    EXPECT_EQ("small", session.parts[0]);
  }
}

TEST(StowReader, APartHeaderBlockThatNeverEndsIsCutAtTheCap)
{
  // Red team: the framework buffers a part's headers until the empty line; that buffer is
  // bounded like a part's bytes.
  FakeSession session;
  StowReader reader(kType, session, "", 1000);
  const std::string head = "--" + kBoundary + "\r\nContent-Type: application/dicom\r\nX-Pad: ";
  reader.AddChunk(head.data(), head.size());
  const std::string chunk(65536, 'h');
  uint64_t sent = head.size();
  while (!reader.HasFailed() && sent < 16 * 1024 * 1024)
  {
    reader.AddChunk(chunk.data(), chunk.size());
    sent += chunk.size();
  }
  EXPECT_EQ(StowReader::kTooLarge, reader.GetError());
  EXPECT_LE(reader.GetBytesFed(), 1000 + StowReader::kSlack + 2 * chunk.size());
  reader.Close();
  EXPECT_TRUE(session.parts.empty());
  EXPECT_TRUE(reader.GetResults().empty());
}

TEST(StowReader, ManyHeaderLinesAndAnInnerMultipartAreOnePartEach)
{
  // 20,000 header lines under the cap: one part, read. A part that is itself a multipart body
  // is one part that is not application/dicom: its inner parts never reach the session.
  std::string headers = "Content-Type: application/dicom\r\n";
  for (int i = 0; i < 20000; i++)
  {
    headers += "X-H" + std::to_string(i) + ": v\r\n";
  }
  const std::string inner = "--inner\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--inner--";
  const std::string body = "--" + kBoundary + "\r\n" + headers + "\r\nfirst\r\n" +
                           Part(inner, true, "multipart/related; type=\"application/dicom\"; "
                                             "boundary=inner") + End();
  FakeSession session;
  StowReader reader(kType, session, "", 1024 * 1024);
  FeedAll(reader, body, std::vector<size_t>(body.size() / 4096, 4096));
  EXPECT_EQ("", reader.GetError());
  ASSERT_EQ(2u, reader.GetResults().size());
  EXPECT_EQ((std::vector<std::string>{"first"}), session.parts);
  EXPECT_EQ(StowFailureReason_CannotUnderstand, reader.GetResults()[1].failureReason);
}
