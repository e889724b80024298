// The handlers of a gateway's outbox and pushed request links, called by the Internal's pullers.
#include "Orthanc/Handlers.h"

#include "Orthanc/RequestState.h"
#include "PluginContext.h"

#include <cstdlib>

namespace Inbound
{
  namespace Handlers
  {
    static Outbox& GetOutbox()
    {
      Outbox* outbox = PluginContext::Get().GetOutbox();
      if (outbox == nullptr)
      {
        throw ApiError(404, "not-found", "Only a gateway has an outbox");
      }
      return *outbox;
    }

    void PeerOutbox(RestCall& call)
    {
      const std::string wait = call.GetArgument("wait"), limit = call.GetArgument("limit");
      call.AnswerJson(200, GetOutbox().List(wait.empty() ? 0 : std::atoi(wait.c_str()),
                                            limit.empty() ? 100 : std::atoi(limit.c_str()),
                                            PluginContext::Get().GetStopping()));
    }

    void PeerManifest(RestCall& call)
    {
      call.AnswerJson(200, GetOutbox().GetManifest(call.GetGroup(0)));
    }

    void PeerItem(RestCall& call)
    {
      bool sealed = false;
      const std::string data = GetOutbox().ReadItem(call.GetGroup(0), call.GetGroup(1), sealed);
      call.AnswerBuffer(data.data(), data.size(),
                        sealed ? "application/octet-stream" : "application/dicom");
    }

    void PeerItemPart(RestCall& call)
    {
      const std::string text = call.GetGroup(2);
      if (text.empty() || text.size() > 19 ||
          text.find_first_not_of("0123456789") != std::string::npos)
      {
        throw ApiError(400, "bad-part", "The piece number must be a decimal integer");
      }
      // A piece is no DICOM file, sealed or not.
      const std::string data =
        GetOutbox().ReadItemPiece(call.GetGroup(0), call.GetGroup(1), std::stoull(text));
      call.AnswerBuffer(data.data(), data.size(), "application/octet-stream");
    }

    void PeerRequests(RestCall& call)
    {
      Outbox& outbox = GetOutbox();
      call.AnswerJson(200, call.GetMethod() == Orthanc::HttpMethod_Post
                             ? outbox.ReceiveRequests(call.GetBody(), call.GetBodySize())
                             : outbox.ListRequests());
    }

    void PeerAck(RestCall& call)
    {
      call.AnswerJson(200, GetOutbox().Acknowledge(call.GetGroup(0), call.GetBody(),
                                                   call.GetBodySize(), GetCurrentClientAddress()));
    }
  }
}
