// The client of ClamAV's clamd: INSTREAM scans and the StreamMaxLength check, over a Unix or TCP socket.
#pragma once

#include "Scan/IMalwareScanner.h"

#include <cstdint>
#include <functional>
#include <string>

namespace Inbound
{
  // Where clamd listens: "unix:/run/clamav/clamd.ctl" or "tcp:HOST:PORT" (IPv6 as [::1]).
  struct ClamdAddress
  {
    bool isUnix = true;
    std::string path;  // Unix socket
    std::string host;  // TCP
    uint16_t port = 0;

    // False with "error" set when "text" is neither form.
    static bool Parse(ClamdAddress& address, const std::string& text, std::string& error);

    std::string ToString() const;
  };

  // One connection per scan (clamd closes it after an INSTREAM; keeping sessions open with
  // IDSESSION was measured no faster: doc/Operations.md, "Malware scanning"). Every step
  // (connect, each write, the answer) waits at most the timeout, with poll(), and the whole
  // file is sent within the timeout plus 1 s per MiB; the answer is read up to
  // ClamdReply::kMaxLength bytes. Stateless: MalwareScan bounds the scans at once; clamd's
  // MaxThreads and MaxQueue bound its side.
  class ClamdScanner : public IMalwareScanner
  {
  private:
    ClamdAddress address_;
    int timeoutMs_;
    int checkTimeoutMs_;

    // An INSTREAM of "size" bytes; "read(buffer, offset, count)" gives the "count" bytes at
    // "offset" (in "buffer", of kChunkBytes, or elsewhere) or throws Orthanc's exception.
    ScanVerdict Stream(uint64_t size,
                       const std::function<const char*(char*, uint64_t, size_t)>& read);

  public:
    // The file is sent in chunks of this size (the chunk length is a 32-bit field).
    static constexpr size_t kChunkBytes = 64 * 1024;

    // The slowest clamd that still counts as working: the whole file must be sent within the
    // timeout plus one second per MiB, or the scan fails (503), whatever each part took.
    static constexpr uint64_t kMinBytesPerSecond = 1024 * 1024;

    ClamdScanner(const ClamdAddress& address, unsigned int timeoutSeconds);

    ScanVerdict Scan(const void* data, size_t size) override;

    // The file read a chunk at a time (kChunkBytes in memory, whatever its size); a file that
    // cannot be read, or changes size while it is sent, is an "unavailable" verdict.
    ScanVerdict ScanFile(const std::string& path) override;

    // clamd checks each announced chunk length against what is left of StreamMaxLength as
    // soon as it reads the length, before any of the chunk's data (clamd/server-th.c,
    // handle_stream). So a chunk of 1 byte followed by the announcement of "bytes - 1" more,
    // then the end of what we send, is answered "INSTREAM size limit exceeded. ERROR" if
    // "bytes" is over the limit, and otherwise by clamd closing the connection without a
    // word (it waits for data that never comes, then sees the end): a positive answer either
    // way, without sending the file. Waits at most min(timeout, 5 s).
    StreamLimitCheck CheckStreamLimit(uint64_t bytes) override;

    std::string Describe() const override
    {
      return address_.ToString();
    }
  };
}
