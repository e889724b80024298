// Reads a partner's STOW-RS body chunk by chunk with the Orthanc framework's multipart reader.
// reader.
#pragma once

#include "Partners/StowItemResult.h"

#include <HttpServer/MultipartStreamReader.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace Inbound
{
  // Orthanc calls the chunk callback once per body chunk and ignores what it returns, so the
  // reader never throws: it latches the first request-level error, stops feeding the parser and
  // swallows the rest; the execute callback then answers (doc/Api.md "Partner STOW-RS").
  // Each complete part goes to the session at once: memory is bounded by a part, not the request.
  // With workers, parts are copied and stored by that many threads while the next ones are read
  // (a STOW-RS client sends one request per study: without them, reading, hashing, parsing and
  // storing would take turns on one thread); at most kMaxPipelineBytes of copies wait or are
  // being stored, and a bigger part is stored on the reading thread once the others are done.
  class StowReader : private Orthanc::MultipartStreamReader::IHandler
  {
  public:
    // Request-level errors (GetError()); empty while none.
    static const char* const kUnsupportedMediaType; // not multipart/related; type=application/dicom
    static const char* const kInvalidMultipart;     // garbage between parts, missing CRLF, ...
    static const char* const kTooLarge;             // a part (or garbage) longer than the cap
    static const char* const kTruncated;            // the closing delimiter never came
    static const char* const kTooManyParts;         // more parts than maxParts
    static const char* const kServerBusy;           // no memory budget for the part being read

    // The longest boundary accepted. RFC 2046 says 70, but Orthanc's DICOMweb client sends two
    // UUIDs joined by "-" (73 characters, doc/Api.md "Partner STOW-RS"); the parser does not care.
    static constexpr size_t kMaxBoundary = 200;

    // contentType: the request's Content-Type header. expectedStudy: the route's {study} or "".
    // maxPartBytes: the largest part accepted (the partner's MaxFileBytes); bytes fed without a
    // part coming out are capped at maxPartBytes + kSlack.
    // workers: threads storing parts (0: each part is stored on the caller's thread, in order).
    // maxParts: parts of one request at most (0: no cap); each leaves a result and an item of
    // the answer, so a stream of tiny parts is bounded here.
    StowReader(const std::string& contentType, IPartnerSession& session,
               const std::string& expectedStudy, uint64_t maxPartBytes, unsigned int workers = 0,
               size_t maxParts = 0);

    // A part being read may take this much without more memory asked of the session (the
    // request's admission reserved it, LimitsGuard::kPartnerPartBytes); beyond it, the part as
    // read so far (in steps of this size, up to maxPartBytes) is reserved, and a part stored on
    // the reading thread is reserved whole (IPartnerSession::ReserveBuffering).
    static constexpr uint64_t kUnreservedBuffering = 8 * 1024 * 1024;

    // The body is in memory whole (a request with a Content-Length): the session counts it
    // reserved already.
    void SetBodyHeld(bool held)
    {
      bodyHeld_ = held;
    }

    // Waits for the parts being stored (Stop()).
    ~StowReader() override;

    StowReader(const StowReader&) = delete;
    StowReader& operator=(const StowReader&) = delete;

    // Copies of parts waiting for, or in, a worker at most (besides the part being read).
    static constexpr size_t kMaxPipelineBytes = 16 * 1024 * 1024;
    static constexpr size_t kMaxPipelineParts = 8;

    // Seconds a part refused for want of memory is worth waiting before it is sent again.
    static constexpr unsigned int kServerBusyRetryAfter = 30;

    static constexpr uint64_t kSlack = 2 * 1024 * 1024; // a part's headers and one chunk

    void AddChunk(const void* data, size_t size);

    // The body has ended: parses what is buffered, checks the closing delimiter and waits until
    // every part is stored.
    void Close();

    // Waits until the parts read so far are stored (the client went away): after this, the
    // session is no longer used. Close() does it too.
    void Stop();

    bool HasFailed() const
    {
      return !error_.empty();
    }

    const std::string& GetError() const
    {
      return error_;
    }

    // One result per part seen, in order (also those before an error); complete after Close().
    const std::vector<StowItemResult>& GetResults() const
    {
      return results_;
    }

    uint64_t GetBytesFed() const
    {
      return bytesFed_;
    }

    // For tests: the parser's current block size.
    size_t GetBlockSize() const;

  private:
    static constexpr size_t kFirstBlock = 1024 * 1024;

    void HandlePart(const Orthanc::MultipartStreamReader::HttpHeaders& headers, const void* part,
                    size_t size) override;

    struct Job
    {
      size_t index;
      std::string part;
    };

    StowItemResult Store(const void* part, size_t size);
    void Submit(size_t index, const void* part, size_t size);
    bool StartWorkers();
    void Work();

    void Latch(const char* error);
    void RememberTail(const void* data, size_t size);
    void ReserveForPartBeingRead();
    void Feed(const void* data, size_t size);

    IPartnerSession& session_;
    std::string expectedStudy_;
    uint64_t maxPartBytes_;
    std::string boundary_;
    std::unique_ptr<Orthanc::MultipartStreamReader> parser_;
    std::string error_;
    std::vector<StowItemResult> results_;
    uint64_t bytesFed_ = 0;
    uint64_t sinceLastPart_ = 0; // bytes fed since a part last came out
    bool partSeen_ = false;      // a part came out during the current Feed()
    std::string tail_;           // the last bytes fed, to find the closing delimiter
    bool closed_ = false;
    size_t maxParts_;
    uint64_t reservedBuffering_ = 0;  // the part size ReserveBuffering holds for now
    bool bodyHeld_ = false;

    // The pipeline (workers_ empty: none). mutex_ guards jobs_, done_, inFlightBytes_,
    // inFlightParts_ and stopping_.
    unsigned int workerCount_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable jobReady_;   // a job was queued, or stopping_
    std::condition_variable jobDone_;    // room was made in the pipeline
    std::deque<Job> jobs_;
    std::vector<std::pair<size_t, StowItemResult>> done_;
    size_t inFlightBytes_ = 0;
    size_t inFlightParts_ = 0;
    bool stopping_ = false;
  };
} // namespace Inbound
