// One partner STOW-RS request from its first chunk to its answer: reader, session and response.
#include "Partners/StowRequest.h"

#include "Toolbox/Json.h"

#include <json/value.h>

namespace Inbound
{
  namespace
  {
    const char kErrorType[] = "application/json; charset=utf-8";
    const char kStowType[] = "application/dicom+json";

    // Threads storing a request's parts while the next ones are read (StowReader): two keep
    // both cores of a small server busy on one study; MaxStreamsTotal bounds the total.
    const unsigned int kPipelineWorkers = 2;

    std::string ErrorBody(const std::string& error, const std::string& message)
    {
      Json::Value body(Json::objectValue);
      body["error"] = error;
      body["message"] = message;
      return JsonText::Compact(body);
    }
  } // namespace

  StowRequest::StowRequest(std::unique_ptr<IPartnerSession> session, const std::string& contentType,
                           const std::string& expectedStudy, uint64_t maxPartBytes,
                           size_t maxParts, bool bodyHeld) :
    session_(std::move(session))
  {
    if (session_)
    {
      reader_.reset(new StowReader(contentType, *session_, expectedStudy, maxPartBytes,
                                   kPipelineWorkers, maxParts));
      reader_->SetBodyHeld(bodyHeld);
    }
    else
    {
      finished_ = true;
      answer_.status = 500;
      answer_.contentType = kErrorType;
      answer_.body = ErrorBody("internal-error", "No session for this request");
    }
  }

  StowRequest::StowRequest(int status, const std::string& error, const std::string& message)
  {
    finished_ = true;
    answer_.status = status;
    answer_.contentType = kErrorType;
    answer_.body = ErrorBody(error, message);
  }

  StowRequest::~StowRequest()
  {
    if (reader_)
    {
      reader_->Stop(); // its workers use the session: they finish before it closes
    }
    CloseSession();
  }

  void StowRequest::CloseSession()
  {
    if (session_)
    {
      try
      {
        session_->Close();
      }
      catch (...)
      {
        // Closing writes the partner's statistics; the answer stands without them.
      }
      session_.reset();
    }
  }

  void StowRequest::AddChunk(const void* data, size_t size)
  {
    if (!finished_ && reader_)
    {
      reader_->AddChunk(data, size); // never throws; discards after an error
    }
  }

  const StowRequest::Answer& StowRequest::Finish()
  {
    if (finished_)
    {
      CloseSession();
      return answer_;
    }
    finished_ = true;
    try
    {
      reader_->Close();
      const StowResponse response = StowResponse::Build(reader_->GetResults(), reader_->GetError());
      answer_.status = response.status;
      answer_.body = JsonText::Compact(response.body);
      answer_.contentType = response.body.isMember("error") ? kErrorType : kStowType;
      if (!response.error.empty())
      {
        if (session_)
        {
          session_->RequestFailed(response.error);
        }
        answer_.headers.emplace_back("X-Inbound-Error", response.error);
      }
      if (response.retryAfter != 0)
      {
        answer_.headers.emplace_back("Retry-After", std::to_string(response.retryAfter));
      }
    }
    catch (...)
    {
      answer_ = Answer();
      answer_.status = 500;
      answer_.contentType = kErrorType;
      answer_.body = ErrorBody("internal-error", "The answer could not be built");
    }
    CloseSession();
    return answer_;
  }
} // namespace Inbound
