// Reads a partner's STOW-RS body chunk by chunk with the Orthanc framework's multipart reader.
// reader.
#include "Partners/StowReader.h"

#include <algorithm>
#include <exception>
#include <map>

namespace Inbound
{
  const char* const StowReader::kUnsupportedMediaType = "unsupported-media-type";
  const char* const StowReader::kInvalidMultipart = "invalid-multipart";
  const char* const StowReader::kTooLarge = "too-large";
  const char* const StowReader::kTruncated = "truncated";

  namespace
  {
    bool IsBoundaryChar(char c)
    {
      // RFC 2046 bchars (the space only inside, checked by the caller).
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             std::string("'()+_,-./:=? ").find(c) != std::string::npos;
    }

    bool IsValidBoundary(const std::string& boundary)
    {
      if (boundary.empty() || boundary.size() > StowReader::kMaxBoundary ||
          boundary[boundary.size() - 1] == ' ')
      {
        return false;
      }
      return std::all_of(boundary.begin(), boundary.end(), IsBoundaryChar);
    }

    bool IsApplicationDicom(const Orthanc::MultipartStreamReader::HttpHeaders& headers)
    {
      std::string value;
      if (!Orthanc::MultipartStreamReader::GetMainContentType(value, headers))
      {
        return false;
      }
      std::string main;
      std::map<std::string, std::string> arguments;
      try
      {
        return Orthanc::MultipartStreamReader::ParseHeaderArguments(main, arguments, value) &&
               main == "application/dicom";
      }
      catch (...)
      {
        return false;
      }
    }
  } // namespace

  StowReader::StowReader(const std::string& contentType, IPartnerSession& session,
                         const std::string& expectedStudy, uint64_t maxPartBytes) :
    session_(session),
    expectedStudy_(expectedStudy), maxPartBytes_(maxPartBytes)
  {
    std::string type, subType, boundary;
    bool parsed = false;
    try
    {
      parsed = Orthanc::MultipartStreamReader::ParseMultipartContentType(type, subType, boundary,
                                                                         contentType);
    }
    catch (...)
    {
      parsed = false;
    }
    if (!parsed || type != "multipart/related" || subType != "application/dicom" ||
        !IsValidBoundary(boundary))
    {
      Latch(kUnsupportedMediaType);
      return;
    }
    boundary_ = boundary;
    try
    {
      parser_.reset(new Orthanc::MultipartStreamReader(boundary));
      parser_->SetHandler(*this);
      parser_->SetBlockSize(kFirstBlock);
    }
    catch (...)
    {
      parser_.reset();
      Latch(kInvalidMultipart);
    }
  }

  size_t StowReader::GetBlockSize() const
  {
    return parser_ ? parser_->GetBlockSize() : 0;
  }

  void StowReader::Latch(const char* error)
  {
    if (error_.empty())
    {
      error_ = error;
    }
  }

  void StowReader::RememberTail(const void* data, size_t size)
  {
    // Enough to hold CRLF "--" boundary "--" plus an epilogue of a few bytes.
    const size_t keep = boundary_.size() + 256;
    const char* bytes = static_cast<const char*>(data);
    if (size >= keep)
    {
      tail_.assign(bytes + size - keep, keep);
    }
    else
    {
      tail_.append(bytes, size);
      if (tail_.size() > keep)
      {
        tail_.erase(0, tail_.size() - keep);
      }
    }
  }

  void StowReader::Feed(const void* data, size_t size)
  {
    partSeen_ = false;
    try
    {
      if (data == nullptr)
      {
        parser_->CloseStream(); // parses what is buffered (the framework keeps its state)
      }
      else
      {
        parser_->AddChunk(data, size);
      }
    }
    catch (...)
    {
      // OrthancException (NetworkProtocol, ParameterOutOfRange) or an allocation failure.
      Latch(kInvalidMultipart);
    }
    if (partSeen_)
    {
      sinceLastPart_ = 0;
    }
  }

  void StowReader::AddChunk(const void* data, size_t size)
  {
    if (HasFailed() || closed_ || size == 0 || data == nullptr)
    {
      return; // swallowed: Orthanc cannot stop the upload (doc/Api.md "Partner STOW-RS")
    }
    bytesFed_ += size;
    RememberTail(data, size);
    sinceLastPart_ += size;
    Feed(data, size);
    if (HasFailed())
    {
      return;
    }

    if (sinceLastPart_ > maxPartBytes_ + kSlack)
    {
      Feed(nullptr, 0); // a part may be complete but not parsed yet (block boundaries)
      if (!partSeen_ && !HasFailed())
      {
        Latch(kTooLarge);
      }
      if (HasFailed())
      {
        return;
      }
    }

    // A big part is parsed when the buffer crosses a block multiple, each time by copying the
    // whole buffer: doubling the block keeps that copying linear in the part's size.
    const size_t block = parser_->GetBlockSize();
    if (!partSeen_ && sinceLastPart_ > 4 * static_cast<uint64_t>(block))
    {
      parser_->SetBlockSize(2 * block);
    }
    else if (partSeen_ && block != kFirstBlock)
    {
      parser_->SetBlockSize(kFirstBlock);
    }
  }

  void StowReader::Close()
  {
    if (closed_)
    {
      return;
    }
    closed_ = true;
    if (HasFailed() || bytesFed_ == 0)
    {
      return; // an empty body has no parts: the answer says so (no-instances)
    }
    Feed(nullptr, 0);
    if (HasFailed())
    {
      return;
    }
    // The framework drops an unterminated last part silently: the closing delimiter must be
    // there, at the start of the body (no part) or after a CRLF.
    const std::string delimiter = "--" + boundary_ + "--";
    const size_t at = tail_.rfind(delimiter);
    const bool terminated =
        at != std::string::npos && ((at == 0 && bytesFed_ == tail_.size()) ||
                                    (at >= 2 && tail_.compare(at - 2, 2, "\r\n") == 0));
    if (!terminated)
    {
      Latch(kTruncated);
    }
  }

  void StowReader::HandlePart(const Orthanc::MultipartStreamReader::HttpHeaders& headers,
                              const void* part, size_t size)
  {
    partSeen_ = true;
    if (HasFailed())
    {
      return;
    }
    StowItemResult result;
    if (!IsApplicationDicom(headers))
    {
      result.failureReason = StowFailureReason_CannotUnderstand;
      result.code = "not-application-dicom";
    }
    else if (size > maxPartBytes_)
    {
      result.failureReason = StowFailureReason_TooLarge;
      result.code = "too-large";
    }
    else
    {
      try
      {
        result = session_.Add(part, size, expectedStudy_);
      }
      catch (...)
      {
        result = StowItemResult();
        result.failureReason = StowFailureReason_ProcessingFailure;
        result.code = "internal-error";
      }
    }
    results_.push_back(result);
  }
} // namespace Inbound
