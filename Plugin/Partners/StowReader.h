// Reads a partner's STOW-RS body chunk by chunk with the Orthanc framework's multipart reader.
// reader.
#pragma once

#include "Partners/StowItemResult.h"

#include <HttpServer/MultipartStreamReader.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace Inbound
{
  // Orthanc calls the chunk callback once per body chunk and ignores what it returns, so the
  // reader never throws: it latches the first request-level error, stops feeding the parser and
  // swallows the rest; the execute callback then answers (doc/Api.md "Partner STOW-RS").
  // Each complete part goes to the session at once: memory is bounded by a part, not the request.
  class StowReader : private Orthanc::MultipartStreamReader::IHandler
  {
  public:
    // Request-level errors (GetError()); empty while none.
    static const char* const kUnsupportedMediaType; // not multipart/related; type=application/dicom
    static const char* const kInvalidMultipart;     // garbage between parts, missing CRLF, ...
    static const char* const kTooLarge;             // a part (or garbage) longer than the cap
    static const char* const kTruncated;            // the closing delimiter never came

    // The longest boundary accepted. RFC 2046 says 70, but Orthanc's DICOMweb client sends two
    // UUIDs joined by "-" (73 characters, doc/Api.md "Partner STOW-RS"); the parser does not care.
    static const size_t kMaxBoundary = 200;

    // contentType: the request's Content-Type header. expectedStudy: the route's {study} or "".
    // maxPartBytes: the largest part accepted (the partner's MaxFileBytes); bytes fed without a
    // part coming out are capped at maxPartBytes + kSlack.
    StowReader(const std::string& contentType, IPartnerSession& session,
               const std::string& expectedStudy, uint64_t maxPartBytes);

    static const uint64_t kSlack = 2 * 1024 * 1024; // a part's headers and one chunk

    void AddChunk(const void* data, size_t size);

    // The body has ended: parses what is buffered and checks the closing delimiter.
    void Close();

    bool HasFailed() const
    {
      return !error_.empty();
    }

    const std::string& GetError() const
    {
      return error_;
    }

    // One result per part seen, in order (also those before an error).
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
    static const size_t kFirstBlock = 1024 * 1024;

    void HandlePart(const Orthanc::MultipartStreamReader::HttpHeaders& headers, const void* part,
                    size_t size) override;

    void Latch(const char* error);
    void RememberTail(const void* data, size_t size);
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
  };
} // namespace Inbound
