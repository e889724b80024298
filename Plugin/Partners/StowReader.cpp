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
  const char* const StowReader::kTooManyParts = "too-many-parts";
  const char* const StowReader::kServerBusy = "server-busy";

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
                         const std::string& expectedStudy, uint64_t maxPartBytes,
                         unsigned int workers, size_t maxParts) :
    session_(session),
    expectedStudy_(expectedStudy), maxPartBytes_(maxPartBytes), maxParts_(maxParts),
    workerCount_(workers)
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

  StowReader::~StowReader()
  {
    Stop();
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

    ReserveForPartBeingRead();
    if (HasFailed())
    {
      return;
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

  void StowReader::ReserveForPartBeingRead()
  {
    if (partSeen_ || sinceLastPart_ <= kUnreservedBuffering)
    {
      if (reservedBuffering_ != 0)
      {
        session_.ReserveBuffering(0, bodyHeld_);
        reservedBuffering_ = 0;
      }
      return;
    }
    if (sinceLastPart_ <= reservedBuffering_)
    {
      return;
    }
    // Asked in steps of kUnreservedBuffering so that a big part asks a few dozen times, not at
    // every chunk; never more than the largest part (it always fits an idle server's budget).
    const uint64_t step = kUnreservedBuffering;
    const uint64_t wanted = std::min<uint64_t>((sinceLastPart_ + step) / step * step,
                                               std::max<uint64_t>(maxPartBytes_, sinceLastPart_));
    if (!session_.ReserveBuffering(wanted, bodyHeld_))
    {
      Latch(kServerBusy);
      return;
    }
    reservedBuffering_ = wanted;
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
      Stop();
      return; // an empty body has no parts: the answer says so (no-instances)
    }
    Feed(nullptr, 0);
    Stop();
    if (reservedBuffering_ != 0)
    {
      session_.ReserveBuffering(0, bodyHeld_);  // the last part is stored
      reservedBuffering_ = 0;
    }
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
    if (maxParts_ != 0 && results_.size() >= maxParts_)
    {
      Latch(kTooManyParts);
      return;
    }
    const size_t index = results_.size();
    results_.push_back(StowItemResult());
    StowItemResult& result = results_.back();
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
      Submit(index, part, size);
    }
  }

  StowItemResult StowReader::Store(const void* part, size_t size)
  {
    try
    {
      return session_.Add(part, size, expectedStudy_);
    }
    catch (...)
    {
      StowItemResult result;
      result.failureReason = StowFailureReason_ProcessingFailure;
      result.code = "internal-error";
      return result;
    }
  }

  bool StowReader::StartWorkers()
  {
    if (!workers_.empty() || workerCount_ == 0 || stopping_)
    {
      return !workers_.empty();
    }
    try
    {
      for (unsigned int i = 0; i < workerCount_; i++)
      {
        workers_.emplace_back(&StowReader::Work, this);
      }
    }
    catch (...)
    {
      // No thread to be had (std::system_error): the parts are stored on this thread.
      workerCount_ = 0;
    }
    return !workers_.empty();
  }

  void StowReader::Submit(size_t index, const void* part, size_t size)
  {
    if (size > kMaxPipelineBytes || !StartWorkers())
    {
      {
        // In order with the parts before it, and alone: the pipeline's memory stays bounded.
        std::unique_lock<std::mutex> lock(mutex_);
        jobDone_.wait(lock, [this] { return inFlightParts_ == 0; });
      }
      if (size > kUnreservedBuffering && size > reservedBuffering_)
      {
        // Read in one chunk (a body with a Content-Length), or grown past its last step.
        if (!session_.ReserveBuffering(size, bodyHeld_))
        {
          StowItemResult& result = results_[index];
          result.failureReason = StowFailureReason_ServerBusy;
          result.code = "server-busy";
          result.transient = true;
          result.retryAfter = kServerBusyRetryAfter;
          return;
        }
        reservedBuffering_ = size;  // given back by the next chunk, or at Close()
      }
      results_[index] = Store(part, size);
      return;
    }
    Job job{index, std::string()};
    try
    {
      job.part.assign(static_cast<const char*>(part), size);
    }
    catch (const std::bad_alloc&)
    {
      results_[index] = Store(part, size);
      return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    jobDone_.wait(lock, [this, size] {
      return inFlightParts_ < kMaxPipelineParts && inFlightBytes_ + size <= kMaxPipelineBytes;
    });
    inFlightBytes_ += size;
    inFlightParts_++;
    jobs_.push_back(std::move(job));
    jobReady_.notify_one();
  }

  void StowReader::Work()
  {
    for (;;)
    {
      Job job{0, std::string()};
      {
        std::unique_lock<std::mutex> lock(mutex_);
        jobReady_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty())
        {
          return; // stopping, and every queued part is stored
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      StowItemResult result = Store(job.part.data(), job.part.size());
      const size_t size = job.part.size();
      std::string().swap(job.part);  // the copy goes before room is made for the next one
      {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.emplace_back(job.index, std::move(result));
        inFlightBytes_ -= size;
        inFlightParts_--;
      }
      jobDone_.notify_all();
    }
  }

  void StowReader::Stop()
  {
    if (!workers_.empty())
    {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
      }
      jobReady_.notify_all();
      for (std::thread& worker : workers_)
      {
        worker.join();
      }
      workers_.clear();
    }
    workerCount_ = 0;  // a part read after this is stored on the reading thread
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::pair<size_t, StowItemResult>& done : done_)
    {
      results_[done.first] = std::move(done.second);
    }
    done_.clear();
  }
} // namespace Inbound
