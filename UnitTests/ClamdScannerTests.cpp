// Unit tests of the clamd client against a fake clamd on a socket: framing, timeouts, bounded answers.
#include "MemoryPeak.h"
#include "Scan/ClamdScanner.h"

#include <boost/filesystem.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <fstream>
#include <functional>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace Inbound;

namespace
{
  bool ReadExactly(int fd, void* target, size_t size)
  {
    char* p = static_cast<char*>(target);
    while (size > 0)
    {
      const ssize_t n = read(fd, p, size);
      if (n <= 0)
      {
        return false;
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  void Say(int fd, const std::string& text)
  {
    EXPECT_EQ(ssize_t(text.size()), send(fd, text.data(), text.size(), MSG_NOSIGNAL));
  }

  // Reads "zINSTREAM\0" and the chunks up to the zero-length one, as clamd does, keeping the
  // data; false if the client sent anything else. "quota" as clamd's StreamMaxLength: a chunk
  // announced beyond it is answered with clamd's error at once, before its data.
  bool ReadStream(int fd, std::string& data, std::vector<uint32_t>& chunks, uint64_t quota)
  {
    char command[10];
    if (!ReadExactly(fd, command, sizeof(command)) ||
        std::string(command, sizeof(command)) != std::string("zINSTREAM\0", 10))
    {
      return false;
    }
    for (;;)
    {
      uint32_t length;
      if (!ReadExactly(fd, &length, 4))
      {
        return false;
      }
      length = ntohl(length);
      if (length == 0)
      {
        return true;
      }
      if (length > quota)
      {
        Say(fd, std::string("INSTREAM size limit exceeded. ERROR\0", 36));
        return false;
      }
      quota -= length;
      chunks.push_back(length);
      std::string chunk(length, '\0');
      if (!ReadExactly(fd, &chunk[0], length))
      {
        return false;
      }
      data += chunk;
    }
  }

  // A clamd impostor on a Unix socket (or TCP on 127.0.0.1) that hands each connection to
  // "handler" on its own thread.
  class FakeClamd
  {
  private:
    int listener_ = -1;
    std::thread thread_;
    std::string path_;
    uint16_t port_ = 0;

  public:
    explicit FakeClamd(const std::function<void(int)>& handler, bool tcp = false)
    {
      if (tcp)
      {
        listener_ = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in in = {};
        in.sin_family = AF_INET;
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(0, bind(listener_, reinterpret_cast<struct sockaddr*>(&in), sizeof(in)));
        socklen_t size = sizeof(in);
        getsockname(listener_, reinterpret_cast<struct sockaddr*>(&in), &size);
        port_ = ntohs(in.sin_port);
      }
      else
      {
        path_ = (boost::filesystem::temp_directory_path() /
                 boost::filesystem::unique_path("clamd-%%%%%%%%.ctl")).string();
        listener_ = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un un = {};
        un.sun_family = AF_UNIX;
        strncpy(un.sun_path, path_.c_str(), sizeof(un.sun_path) - 1);
        EXPECT_EQ(0, bind(listener_, reinterpret_cast<struct sockaddr*>(&un), sizeof(un)));
      }
      EXPECT_EQ(0, listen(listener_, 8));
      thread_ = std::thread([this, handler] {
        int fd;
        while ((fd = accept(listener_, nullptr, nullptr)) >= 0)
        {
          handler(fd);
          close(fd);
        }
      });
    }

    ~FakeClamd()
    {
      shutdown(listener_, SHUT_RDWR);
      close(listener_);
      thread_.join();
      if (!path_.empty())
      {
        unlink(path_.c_str());
      }
    }

    ClamdAddress GetAddress() const
    {
      ClamdAddress address;
      std::string error;
      EXPECT_TRUE(ClamdAddress::Parse(
        address, path_.empty() ? "tcp:127.0.0.1:" + std::to_string(port_) : "unix:" + path_,
        error));
      return address;
    }
  };

  std::string MakeFile(size_t size)
  {
    std::string file(size, '\0');
    for (size_t i = 0; i < size; i++)
    {
      file[i] = static_cast<char>(i * 7 + i / 251);
    }
    return file;
  }

  // A clamd that keeps what it was sent and finds "EVIL" in it.
  std::function<void(int)> FindsEvil(std::string& received, std::vector<uint32_t>& chunks)
  {
    return [&received, &chunks](int fd) {
      received.clear();
      chunks.clear();
      if (ReadStream(fd, received, chunks, 1 << 30))
      {
        Say(fd, received.find("EVIL") != std::string::npos
                  ? std::string("stream: Test.Evil FOUND\0", 24) : std::string("stream: OK\0", 11));
      }
    };
  }

  // Until the client closes its end (at most 5 s), reading nothing.
  void WaitForHangUp(int fd)
  {
    struct pollfd p = {fd, POLLRDHUP, 0};
    poll(&p, 1, 5000);
  }

  double Seconds(const std::function<void()>& f)
  {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
}

TEST(ClamdScanner, StreamsTheFileInChunksAndReadsTheVerdict)
{
  const std::string file = MakeFile(3 * ClamdScanner::kChunkBytes + 1234);
  std::string received;
  std::vector<uint32_t> chunks;
  FakeClamd clamd(FindsEvil(received, chunks));
  ClamdScanner scanner(clamd.GetAddress(), 5);
  EXPECT_EQ(ScanOutcome_Clean, scanner.Scan(file.data(), file.size()).outcome);
  EXPECT_EQ(file, received);
  EXPECT_EQ((std::vector<uint32_t>{65536, 65536, 65536, 1234}), chunks);

  const std::string evil = "a DICOM file with EVIL inside";
  const ScanVerdict verdict = scanner.Scan(evil.data(), evil.size());
  EXPECT_EQ(ScanOutcome_Infected, verdict.outcome);
  EXPECT_EQ("Test.Evil", verdict.signature);

  // An empty file is a stream of no chunks.
  EXPECT_EQ(ScanOutcome_Clean, scanner.Scan("", 0).outcome);
  EXPECT_TRUE(chunks.empty());
}

TEST(ClamdScanner, StreamsAFileFromDiskInChunks)
{
  const std::string file = MakeFile(3 * ClamdScanner::kChunkBytes + 99);
  const std::string path = (boost::filesystem::temp_directory_path() /
                            boost::filesystem::unique_path("scan-%%%%%%%%")).string();
  std::ofstream(path, std::ios::binary) << file;
  std::string received;
  std::vector<uint32_t> chunks;
  FakeClamd clamd(FindsEvil(received, chunks));
  ClamdScanner scanner(clamd.GetAddress(), 5);
  EXPECT_EQ(ScanOutcome_Clean, scanner.ScanFile(path).outcome);
  EXPECT_EQ(file, received);
  EXPECT_EQ((std::vector<uint32_t>{65536, 65536, 65536, 99}), chunks);

  std::ofstream(path, std::ios::binary) << "a DICOM file with EVIL inside";
  const ScanVerdict verdict = scanner.ScanFile(path);
  EXPECT_EQ(ScanOutcome_Infected, verdict.outcome);
  EXPECT_EQ("Test.Evil", verdict.signature);

  std::ofstream(path, std::ios::binary).flush();  // empty: a stream of no chunks
  EXPECT_EQ(ScanOutcome_Clean, scanner.ScanFile(path).outcome);
  EXPECT_TRUE(chunks.empty());

  // A file that is not there is no verdict, and nothing is sent.
  boost::filesystem::remove(path);
  const ScanVerdict missing = scanner.ScanFile(path);
  EXPECT_EQ(ScanOutcome_Unavailable, missing.outcome);
  EXPECT_NE(std::string::npos, missing.reason.find(path)) << missing.reason;
}

TEST(ClamdScanner, AFileIsScannedWithOneChunkInMemory)
{
  // 256 MiB (sparse) to a clamd that counts and drops what it reads: the peak memory grows by
  // far less than the file.
  const uint64_t size = 256ull << 20;
  const std::string path = (boost::filesystem::temp_directory_path() /
                            boost::filesystem::unique_path("scan-big-%%%%%%%%")).string();
  std::ofstream(path, std::ios::binary) << "start";
  ASSERT_EQ(0, truncate(path.c_str(), off_t(size)));
  uint64_t received = 0;
  FakeClamd clamd([&](int fd) {
    char command[10];
    ReadExactly(fd, command, sizeof(command));
    std::vector<char> chunk(ClamdScanner::kChunkBytes);
    for (;;)
    {
      uint32_t length;
      if (!ReadExactly(fd, &length, 4) || ntohl(length) == 0 ||
          !ReadExactly(fd, chunk.data(), ntohl(length)))
      {
        break;
      }
      received += ntohl(length);
    }
    Say(fd, std::string("stream: OK\0", 11));
  });
  ClamdScanner scanner(clamd.GetAddress(), 5);
  ASSERT_TRUE(InboundTests::ResetPeakMemory());
  const uint64_t before = InboundTests::ReadStatusKb("VmRSS");
  EXPECT_EQ(ScanOutcome_Clean, scanner.ScanFile(path).outcome);
  const uint64_t peak = InboundTests::ReadStatusKb("VmHWM");
  EXPECT_EQ(size, received);
  EXPECT_LT(peak - before, 16u * 1024) << "peak grew by " << (peak - before) << " KB";
  boost::filesystem::remove(path);
}

TEST(ClamdScanner, WorksOverTcpToo)
{
  FakeClamd clamd([&](int fd) {
    std::string data;
    std::vector<uint32_t> chunks;
    if (ReadStream(fd, data, chunks, 1 << 30))
    {
      Say(fd, std::string("stream: OK\0", 11));
    }
  }, true);
  ClamdScanner scanner(clamd.GetAddress(), 5);
  EXPECT_EQ(ScanOutcome_Clean, scanner.Scan("abc", 3).outcome);
  EXPECT_EQ(StreamLimitOutcome_Accepted, scanner.CheckStreamLimit(100).outcome);
}

TEST(ClamdScanner, NoClamdIsUnavailableAtOnce)
{
  ClamdAddress address;
  std::string error;
  ASSERT_TRUE(ClamdAddress::Parse(address, "unix:/nonexistent/clamd.ctl", error));
  ClamdScanner scanner(address, 30);
  ScanVerdict verdict;
  EXPECT_LT(Seconds([&] { verdict = scanner.Scan("abc", 3); }), 1.0);
  EXPECT_EQ(ScanOutcome_Unavailable, verdict.outcome);
  EXPECT_NE(std::string::npos, verdict.reason.find("No such file"));
  EXPECT_EQ(StreamLimitOutcome_Unavailable, scanner.CheckStreamLimit(1024).outcome);
}

TEST(ClamdScanner, AClamdThatNeverAnswersTimesOut)
{
  // Takes the whole file, then says nothing.
  FakeClamd silent([&](int fd) {
    std::string data;
    std::vector<uint32_t> chunks;
    ReadStream(fd, data, chunks, 1 << 30);
    char c;
    while (read(fd, &c, 1) > 0)
    {
    }
  });
  ClamdScanner scanner(silent.GetAddress(), 1);
  ScanVerdict verdict;
  const double seconds = Seconds([&] { verdict = scanner.Scan("abc", 3); });
  EXPECT_EQ(ScanOutcome_Unavailable, verdict.outcome);
  EXPECT_NE(std::string::npos, verdict.reason.find("no answer"));
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 3.0);
}

TEST(ClamdScanner, AClamdThatTakesNoDataTimesOut)
{
  // Accepts the connection and reads nothing: the socket's buffers fill up.
  FakeClamd stuck([&](int fd) { WaitForHangUp(fd); });
  const std::string file = MakeFile(32 << 20);
  ClamdScanner scanner(stuck.GetAddress(), 1);
  ScanVerdict verdict;
  const double seconds = Seconds([&] { verdict = scanner.Scan(file.data(), file.size()); });
  EXPECT_EQ(ScanOutcome_Unavailable, verdict.outcome);
  EXPECT_NE(std::string::npos, verdict.reason.find("took no data"));
  EXPECT_LT(seconds, 3.0);
}

TEST(ClamdScanner, AnEndlessAnswerIsReadOnlyUpToItsCap)
{
  FakeClamd chatty([&](int fd) {
    std::string data;
    std::vector<uint32_t> chunks;
    ReadStream(fd, data, chunks, 1 << 30);
    const std::string flood(4096, 'A');
    while (send(fd, flood.data(), flood.size(), MSG_NOSIGNAL) > 0)
    {
    }
  });
  ClamdScanner scanner(chatty.GetAddress(), 5);
  const ScanVerdict verdict = scanner.Scan("abc", 3);
  EXPECT_EQ(ScanOutcome_Unavailable, verdict.outcome);
  EXPECT_NE(std::string::npos, verdict.reason.find("not an answer of clamd"));
}

TEST(ClamdScanner, AStreamOverClamdsLimitIsReportedAsSuch)
{
  FakeClamd small([&](int fd) {
    std::string data;
    std::vector<uint32_t> chunks;
    if (ReadStream(fd, data, chunks, 100000))
    {
      Say(fd, std::string("stream: OK\0", 11));
    }
  });
  ClamdScanner scanner(small.GetAddress(), 5);
  const std::string file = MakeFile(4 << 20);
  const ScanVerdict verdict = scanner.Scan(file.data(), file.size());
  EXPECT_EQ(ScanOutcome_Unavailable, verdict.outcome);
  EXPECT_TRUE(verdict.sizeLimit) << verdict.reason;
  EXPECT_EQ(ScanOutcome_Clean, scanner.Scan(file.data(), 100000).outcome);
}

TEST(ClamdScanner, TheStreamLimitIsCheckedWithoutSendingAFile)
{
  // As clamd: the announced chunk against the quota, then the end of the client's data.
  size_t received = 0;
  FakeClamd clamd([&](int fd) {
    std::string data;
    std::vector<uint32_t> chunks;
    ReadStream(fd, data, chunks, 10 << 20);
    received = data.size();
  });
  ClamdScanner scanner(clamd.GetAddress(), 5);
  EXPECT_EQ(StreamLimitOutcome_Accepted, scanner.CheckStreamLimit(10 << 20).outcome);
  EXPECT_EQ(1u, received);  // one byte, not ten megabytes
  EXPECT_EQ(StreamLimitOutcome_TooSmall, scanner.CheckStreamLimit((10 << 20) + 1).outcome);
  EXPECT_EQ(StreamLimitOutcome_TooSmall, scanner.CheckStreamLimit(uint64_t(4) << 30).outcome);
  EXPECT_EQ(StreamLimitOutcome_Unavailable, scanner.CheckStreamLimit(1).outcome);
}

TEST(ClamdScanner, TheStreamLimitCheckOfAMuteClamdTimesOut)
{
  // Reads what the check sends, then neither answers nor closes.
  FakeClamd mute([&](int fd) {
    char c;
    while (read(fd, &c, 1) > 0)
    {
    }
    struct pollfd p = {fd, 0, 0};
    poll(&p, 1, 5000);  // until the client closes (POLLHUP)
  });
  ClamdScanner scanner(mute.GetAddress(), 1);
  StreamLimitCheck check;
  const double seconds = Seconds([&] { check = scanner.CheckStreamLimit(1024); });
  EXPECT_EQ(StreamLimitOutcome_Unavailable, check.outcome);
  EXPECT_NE(std::string::npos, check.reason.find("no answer"));
  EXPECT_LT(seconds, 3.0);
}

TEST(ClamdAddress, ParsesTheTwoForms)
{
  ClamdAddress a;
  std::string error;
  ASSERT_TRUE(ClamdAddress::Parse(a, "unix:/run/clamav/clamd.ctl", error));
  EXPECT_TRUE(a.isUnix);
  EXPECT_EQ("/run/clamav/clamd.ctl", a.path);
  EXPECT_EQ("unix:/run/clamav/clamd.ctl", a.ToString());
  ASSERT_TRUE(ClamdAddress::Parse(a, "tcp:clamd.dmz.example:3310", error));
  EXPECT_FALSE(a.isUnix);
  EXPECT_EQ("clamd.dmz.example", a.host);
  EXPECT_EQ(3310, a.port);
  ASSERT_TRUE(ClamdAddress::Parse(a, "tcp:[::1]:3310", error));
  EXPECT_EQ("::1", a.host);
  EXPECT_EQ("tcp:[::1]:3310", a.ToString());

  const std::vector<std::string> bad = {
    "", "clamd.ctl", "unix:", "unix:relative/clamd.ctl", "unix:/" + std::string(200, 'a'),
    "tcp:host", "tcp:host:0", "tcp:host:65536", "tcp::3310", "tcp:host:33a", "tcp:ho st:3310",
    "http://clamd:3310", "tcp:host:3310/x"};
  for (const std::string& text : bad)
  {
    EXPECT_FALSE(ClamdAddress::Parse(a, text, error)) << text;
    EXPECT_FALSE(error.empty());
  }
}
