// The clamd client: connects with a timeout, streams a file as INSTREAM chunks, reads a bounded answer.
#include "ClamdScanner.h"

#include "Scan/ClamdReply.h"
#include "Toolbox/FileRange.h"

#include <OrthancException.h>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/regex.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <vector>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace Inbound
{
  namespace
  {
    // Why a conversation with clamd stopped; "closed": clamd hung up while we were sending,
    // after which its answer (a size limit, typically) may still be there to read.
    class ClamdFailure : public std::runtime_error
    {
    public:
      bool closed;

      ClamdFailure(const std::string& what, bool closedByPeer = false) :
        std::runtime_error(what),
        closed(closedByPeer)
      {
      }
    };

    std::string Describe(int error)
    {
      return strerror(error);
    }

    typedef std::chrono::steady_clock Clock;

    int RemainingMs(Clock::time_point deadline)
    {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      return left.count() <= 0 ? 0 : static_cast<int>(left.count());
    }

    // Waits for "events" on "fd" until "deadline"; false on timeout.
    bool Wait(int fd, short events, Clock::time_point deadline)
    {
      for (;;)
      {
        struct pollfd p = {fd, events, 0};
        const int n = poll(&p, 1, RemainingMs(deadline));
        if (n > 0)
        {
          return true;
        }
        if (n == 0)
        {
          return false;
        }
        if (errno != EINTR)
        {
          throw ClamdFailure("poll: " + Describe(errno));
        }
      }
    }

    class Socket : public boost::noncopyable
    {
    private:
      int fd_ = -1;

    public:
      explicit Socket(int family)
      {
        fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd_ < 0)
        {
          throw ClamdFailure("socket: " + Describe(errno));
        }
      }

      ~Socket()
      {
        close(fd_);
      }

      int Get() const
      {
        return fd_;
      }

      // A non-blocking connect, finished within "timeoutMs".
      void Connect(const struct sockaddr* address, socklen_t length, int timeoutMs)
      {
        if (connect(fd_, address, length) == 0)
        {
          return;
        }
        if (errno == EAGAIN)  // a Unix socket whose listen queue is full
        {
          throw ClamdFailure("clamd accepts no more connections (MaxConnectionQueueLength)");
        }
        if (errno != EINPROGRESS && errno != EINTR)
        {
          throw ClamdFailure("connect: " + Describe(errno));
        }
        if (!Wait(fd_, POLLOUT, Clock::now() + std::chrono::milliseconds(timeoutMs)))
        {
          throw ClamdFailure("no connection within " + std::to_string(timeoutMs / 1000) + " s");
        }
        int error = 0;
        socklen_t size = sizeof(error);
        if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0)
        {
          throw ClamdFailure("connect: " + Describe(error != 0 ? error : errno));
        }
      }

      // Everything, each wait for room at most "timeoutMs", all of it by "deadline" (a clamd
      // that drains slowly but steadily would hold the thread for as long as the file takes);
      // never SIGPIPE (Orthanc would die).
      void SendAll(const void* data, size_t size, int timeoutMs, Clock::time_point deadline)
      {
        const char* p = static_cast<const char*>(data);
        while (size > 0)
        {
          const ssize_t n = send(fd_, p, size, MSG_NOSIGNAL);
          if (n > 0)
          {
            p += n;
            size -= static_cast<size_t>(n);
          }
          else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          {
            const Clock::time_point part = Clock::now() + std::chrono::milliseconds(timeoutMs);
            if (!Wait(fd_, POLLOUT, std::min(part, deadline)))
            {
              throw ClamdFailure(part <= deadline
                                   ? "clamd took no data for " + std::to_string(timeoutMs / 1000) +
                                       " s"
                                   : std::string("clamd takes the file slower than 1 MiB/s"));
            }
          }
          else if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
          {
            throw ClamdFailure("clamd closed the connection while the file was sent", true);
          }
          else if (n < 0 && errno != EINTR)
          {
            throw ClamdFailure("send: " + Describe(errno));
          }
        }
      }

      // Up to ClamdReply::kMaxLength + 1 bytes, until a whole reply or the end, by "deadline".
      std::string ReadReply(Clock::time_point deadline, bool untilEnd)
      {
        std::string reply;
        char buffer[512];
        while (reply.size() <= ClamdReply::kMaxLength &&
               (untilEnd || !ClamdReply::IsComplete(reply.data(), reply.size())))
        {
          if (!Wait(fd_, POLLIN, deadline))
          {
            throw ClamdFailure("no answer within the timeout");
          }
          const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
          if (n == 0)
          {
            break;
          }
          if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
          {
            if (errno == ECONNRESET && !reply.empty())
            {
              break;
            }
            throw ClamdFailure("recv: " + Describe(errno));
          }
          if (n > 0)
          {
            reply.append(buffer, static_cast<size_t>(n));
          }
        }
        return reply;
      }
    };

    std::unique_ptr<Socket> Connect(const ClamdAddress& address, int timeoutMs)
    {
      if (address.isUnix)
      {
        struct sockaddr_un un;
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        memcpy(un.sun_path, address.path.c_str(), address.path.size());  // length checked by Parse
        std::unique_ptr<Socket> s(new Socket(AF_UNIX));
        s->Connect(reinterpret_cast<const struct sockaddr*>(&un), sizeof(un), timeoutMs);
        return s;
      }

      struct addrinfo hints;
      memset(&hints, 0, sizeof(hints));
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_NUMERICSERV;
      struct addrinfo* found = nullptr;
      const int error = getaddrinfo(address.host.c_str(), std::to_string(address.port).c_str(),
                                    &hints, &found);
      if (error != 0 || found == nullptr)
      {
        throw ClamdFailure("cannot resolve \"" + address.host + "\": " + gai_strerror(error));
      }
      std::string last;
      for (struct addrinfo* a = found; a != nullptr; a = a->ai_next)
      {
        try
        {
          std::unique_ptr<Socket> s(new Socket(a->ai_family));
          s->Connect(a->ai_addr, a->ai_addrlen, timeoutMs);
          freeaddrinfo(found);
          return s;
        }
        catch (const ClamdFailure& e)
        {
          last = e.what();
        }
      }
      freeaddrinfo(found);
      throw ClamdFailure(last);
    }

    void AppendLength(std::string& target, uint32_t length)
    {
      const uint32_t network = htonl(length);
      target.append(reinterpret_cast<const char*>(&network), sizeof(network));
    }

    // The NUL-terminated form of the command: the answer ends with a NUL too (clamd(8)).
    const char kInstream[] = "zINSTREAM";
  }

  bool ClamdAddress::Parse(ClamdAddress& address, const std::string& text, std::string& error)
  {
    static const boost::regex kTcp("tcp:(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})");
    boost::smatch match;
    if (boost::starts_with(text, "unix:"))
    {
      address.isUnix = true;
      address.path = text.substr(5);
      if (address.path.empty() || address.path[0] != '/' ||
          address.path.size() >= sizeof(sockaddr_un::sun_path) ||
          address.path.find('\0') != std::string::npos)
      {
        error = "a Unix socket must be an absolute path of at most " +
                std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
        return false;
      }
      return true;
    }
    if (boost::regex_match(text, match, kTcp))
    {
      const unsigned long port = std::stoul(match[2].str());
      if (port == 0 || port > 65535)
      {
        error = "the port must be 1 to 65535";
        return false;
      }
      address.isUnix = false;
      address.host = match[1].str();
      if (address.host[0] == '[')
      {
        address.host = address.host.substr(1, address.host.size() - 2);
      }
      address.port = static_cast<uint16_t>(port);
      return true;
    }
    error = "must be \"unix:/path/to/clamd.ctl\" or \"tcp:HOST:PORT\"";
    return false;
  }

  std::string ClamdAddress::ToString() const
  {
    if (isUnix)
    {
      return "unix:" + path;
    }
    return "tcp:" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
  }

  ClamdScanner::ClamdScanner(const ClamdAddress& address, unsigned int timeoutSeconds) :
    address_(address),
    timeoutMs_(static_cast<int>(timeoutSeconds) * 1000),
    checkTimeoutMs_(std::min(timeoutMs_, 5000))
  {
  }

  ScanVerdict ClamdScanner::Scan(const void* data, size_t size)
  {
    const char* bytes = static_cast<const char*>(data);
    return Stream(size, [bytes](char*, uint64_t offset, size_t) { return bytes + offset; });
  }

  ScanVerdict ClamdScanner::ScanFile(const std::string& path)
  {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
    {
      return ScanVerdict::Unavailable("cannot open " + path + ": " + Inbound::Describe(errno));
    }
    struct stat info;
    if (fstat(fd, &info) != 0)
    {
      const int error = errno;
      close(fd);
      return ScanVerdict::Unavailable("cannot read " + path + ": " + Inbound::Describe(error));
    }
    // Read-ahead: the file is read once, from its start to its end.
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ScanVerdict verdict;
    try
    {
      verdict = Stream(static_cast<uint64_t>(info.st_size),
                       [fd, &path](char* buffer, uint64_t offset, size_t count) -> const char* {
        ReadFileRange(fd, buffer, offset, count, path);
        return buffer;
      });
    }
    catch (const Orthanc::OrthancException& e)
    {
      verdict = ScanVerdict::Unavailable(e.GetDetails());
    }
    close(fd);
    return verdict;
  }

  ScanVerdict ClamdScanner::Stream(uint64_t size,
                                   const std::function<const char*(char*, uint64_t, size_t)>& read)
  {
    std::unique_ptr<Socket> s;
    try
    {
      // The whole file within the timeout plus 1 s per MiB: a local clamd takes far more.
      const Clock::time_point deadline =
        Clock::now() + std::chrono::milliseconds(timeoutMs_) +
        std::chrono::milliseconds(size * 1000 / kMinBytesPerSecond);
      s = Connect(address_, timeoutMs_);
      s->SendAll(kInstream, sizeof(kInstream), timeoutMs_, deadline);  // with its NUL
      std::vector<char> buffer(kChunkBytes);
      for (uint64_t offset = 0; offset < size; offset += kChunkBytes)
      {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, size - offset));
        const char* chunk = read(buffer.data(), offset, n);  // before the length: read errors
        std::string header;
        AppendLength(header, static_cast<uint32_t>(n));
        s->SendAll(header.data(), header.size(), timeoutMs_, deadline);
        s->SendAll(chunk, n, timeoutMs_, deadline);
      }
      std::string end;
      AppendLength(end, 0);
      s->SendAll(end.data(), end.size(), timeoutMs_, deadline);
    }
    catch (const ClamdFailure& e)
    {
      if (!e.closed || !s)
      {
        return ScanVerdict::Unavailable(e.what());
      }
      // clamd hangs up after "INSTREAM size limit exceeded": read why, briefly.
      try
      {
        const std::string said =
          s->ReadReply(Clock::now() + std::chrono::milliseconds(checkTimeoutMs_), false);
        const ClamdReply reply = ClamdReply::Parse(said.data(), said.size());
        return ScanVerdict::Unavailable(e.what() + std::string(": ") + reply.text,
                                        reply.kind == ClamdReplyKind_SizeLimit);
      }
      catch (const ClamdFailure&)
      {
        return ScanVerdict::Unavailable(e.what());
      }
    }

    try
    {
      // clamd scans once it has the whole file, then answers.
      const std::string said =
        s->ReadReply(Clock::now() + std::chrono::milliseconds(timeoutMs_), false);
      const ClamdReply reply = ClamdReply::Parse(said.data(), said.size());
      switch (reply.kind)
      {
        case ClamdReplyKind_Clean:
          return ScanVerdict::Clean();
        case ClamdReplyKind_Found:
          return ScanVerdict::Infected(reply.signature);
        case ClamdReplyKind_SizeLimit:
          return ScanVerdict::Unavailable("clamd: " + reply.text, true);
        case ClamdReplyKind_Error:
          return ScanVerdict::Unavailable("clamd: " + reply.text);
        default:
          return ScanVerdict::Unavailable("not an answer of clamd: " + reply.text);
      }
    }
    catch (const ClamdFailure& e)
    {
      return ScanVerdict::Unavailable(e.what());
    }
  }

  StreamLimitCheck ClamdScanner::CheckStreamLimit(uint64_t bytes)
  {
    StreamLimitCheck check;
    if (bytes < 2 || bytes - 1 > 0xffffffffu)
    {
      check.reason = "cannot check a limit of " + std::to_string(bytes) + " bytes";
      return check;
    }
    try
    {
      std::unique_ptr<Socket> s = Connect(address_, checkTimeoutMs_);
      std::string probe(kInstream, sizeof(kInstream));
      AppendLength(probe, 1);
      probe.push_back('\0');
      AppendLength(probe, static_cast<uint32_t>(bytes - 1));
      s->SendAll(probe.data(), probe.size(), checkTimeoutMs_,
                 Clock::now() + std::chrono::milliseconds(checkTimeoutMs_));
      shutdown(s->Get(), SHUT_WR);
      const std::string said =
        s->ReadReply(Clock::now() + std::chrono::milliseconds(checkTimeoutMs_), true);
      if (said.empty())
      {
        check.outcome = StreamLimitOutcome_Accepted;
        return check;
      }
      const ClamdReply reply = ClamdReply::Parse(said.data(), said.size());
      if (reply.kind == ClamdReplyKind_SizeLimit)
      {
        check.outcome = StreamLimitOutcome_TooSmall;
      }
      else
      {
        check.reason = "unexpected answer to the StreamMaxLength check: " + reply.text;
      }
    }
    catch (const ClamdFailure& e)
    {
      check.reason = e.what();
    }
    return check;
  }
}
