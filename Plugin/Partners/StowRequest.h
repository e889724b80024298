// One partner STOW-RS request from its first chunk to its answer: reader, session and response.
#pragma once

#include "Partners/StowReader.h"
#include "Partners/StowResponse.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace Inbound
{
  // What Orthanc's chunked callbacks hold (doc/Api.md "Partner STOW-RS"). Orthanc turns a
  // failing factory into its own answer and ignores what the chunk callback returns, so a
  // request refused at the start is created all the same and answers its refusal at Finish(),
  // and nothing here throws. The session is closed exactly once: at Finish(), or when the
  // request is destroyed without an answer (the client went away).
  class StowRequest
  {
  public:
    struct Answer
    {
      int status = 500;
      std::string contentType;
      std::string body;
      std::vector<std::pair<std::string, std::string>> headers; // besides Content-Type
    };

    // An accepted request: "session" receives the parts.
    StowRequest(std::unique_ptr<IPartnerSession> session, const std::string& contentType,
                const std::string& expectedStudy, uint64_t maxPartBytes, size_t maxParts = 0,
                bool bodyHeld = false);

    // A request refused before its body: the body is read and discarded, the refusal answered.
    StowRequest(int status, const std::string& error, const std::string& message);

    ~StowRequest();

    StowRequest(const StowRequest&) = delete;
    StowRequest& operator=(const StowRequest&) = delete;

    void AddChunk(const void* data, size_t size);

    // Ends the body, closes the session and builds the answer (the same one if called again).
    const Answer& Finish();

    // Null for a refused request.
    const StowReader* GetReader() const
    {
      return reader_.get();
    }

  private:
    void CloseSession();

    std::unique_ptr<IPartnerSession> session_;
    std::unique_ptr<StowReader> reader_;
    bool finished_ = false;
    Answer answer_;
  };
} // namespace Inbound
