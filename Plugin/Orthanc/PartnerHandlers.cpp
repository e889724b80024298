// Orthanc's chunked REST callbacks of the partner STOW-RS routes (doc/Api.md "Partner STOW-RS").
#include "Orthanc/PartnerHandlers.h"

#include "Http/PartnerDirectory.h"
#include "Orthanc/RequestState.h"
#include "Partners/StowRequest.h"
#include "PluginContext.h"

#include <boost/algorithm/string/predicate.hpp>

namespace Inbound
{
  namespace PartnerHandlers
  {
    namespace
    {
      SessionOpener opener_; // set at start-up before the routes serve: read-only afterwards

      const char kForbidden[] = "Not allowed";

      std::string GetHeader(const OrthancPluginHttpRequest* request, const char* name)
      {
        for (uint32_t i = 0; i < request->headersCount; i++)
        {
          if (boost::iequals(request->headersKeys[i], name))
          {
            return request->headersValues[i];
          }
        }
        return "";
      }

      // The partners of the configuration, read once (the filter has its own copy; the
      // factory checks the token again because a Bearer token of another plugin skips the
      // filter, doc/Api.md "Partner STOW-RS").
      // The filter's strict pattern for {study} (Http/RouteTable.cpp); checked again because
      // Orthanc's pattern is looser and a request may skip the filter (see GetDirectory).
      bool IsStudyUid(const std::string& study, bool present)
      {
        if (!present)
        {
          return true;
        }
        if (study.empty() || study.size() > 64)
        {
          return false;
        }
        for (char c : study)
        {
          if (!((c >= '0' && c <= '9') || c == '.'))
          {
            return false;
          }
        }
        return true;
      }

      const PartnerDirectory& GetDirectory()
      {
        static const PartnerDirectory directory(PluginContext::Get().GetConfiguration().partners);
        return directory;
      }

      StowRequest* Open(const OrthancPluginHttpRequest* request)
      {
        const std::string client = GetCurrentClientAddress();
        std::string refusal;
        const PartnerSettings* partner =
            GetDirectory().Authenticate(GetHeader(request, "authorization"), client, refusal);
        if (partner == nullptr || request->method != OrthancPluginHttpMethod_Post)
        {
          return new StowRequest(403, "forbidden", kForbidden);
        }
        const std::string study = request->groupsCount >= 1 ? request->groups[0] : "";
        if (!IsStudyUid(study, request->groupsCount >= 1))
        {
          return new StowRequest(404, "not-found", "No such route");
        }
        if (!opener_)
        {
          return new StowRequest(503, "not-ready", "Partner sites cannot send yet");
        }
        std::unique_ptr<IPartnerSession> session = opener_(*partner, client);
        if (!session)
        {
          return new StowRequest(503, "server-busy", "Too many requests at once; send again later");
        }
        // A request's parts at most: those of one full upload (each leaves a result and an
        // item of the answer in memory).
        return new StowRequest(std::move(session), GetHeader(request, "content-type"), study,
                               partner->limits.maxFileBytes,
                               static_cast<size_t>(partner->limits.maxFilesPerUpload),
                               !GetHeader(request, "content-length").empty());
      }
    } // namespace

    void SetSessionOpener(const SessionOpener& opener)
    {
      opener_ = opener;
    }

    OrthancPluginErrorCode Factory(OrthancPluginServerChunkedRequestReader** reader,
                                   const char* /*url*/, const OrthancPluginHttpRequest* request)
    {
      StowRequest* created = nullptr;
      try
      {
        created = Open(request);
      }
      catch (...)
      {
        try
        {
          created = new StowRequest(500, "internal-error", "The request could not be opened");
        }
        catch (...)
        {
          return OrthancPluginErrorCode_NotEnoughMemory; // Orthanc's own answer: nothing else left
        }
      }
      *reader = reinterpret_cast<OrthancPluginServerChunkedRequestReader*>(created);
      return OrthancPluginErrorCode_Success;
    }

    OrthancPluginErrorCode AddChunk(OrthancPluginServerChunkedRequestReader* reader,
                                    const void* data, uint32_t size)
    {
      try
      {
        reinterpret_cast<StowRequest*>(reader)->AddChunk(data, size);
      }
      catch (...)
      {
        // StowRequest does not throw; Orthanc would ignore the error code anyway.
      }
      return OrthancPluginErrorCode_Success;
    }

    OrthancPluginErrorCode Execute(OrthancPluginServerChunkedRequestReader* reader,
                                   OrthancPluginRestOutput* output)
    {
      OrthancPluginContext* context = PluginContext::Get().GetOrthanc();
      try
      {
        const StowRequest::Answer& answer = reinterpret_cast<StowRequest*>(reader)->Finish();
        // The body is read and the session closed: the stream's slot and memory are free before
        // the partner reads the answer, or its next request could find them still taken
        // (finalize runs after the answer is sent; it releases again, harmlessly).
        ReleaseReservation();
        ReleasePartnerStream();
        OrthancPluginSetHttpHeader(context, output, "X-Content-Type-Options", "nosniff");
        OrthancPluginSetHttpHeader(context, output, "Referrer-Policy", "no-referrer");
        OrthancPluginSetHttpHeader(context, output, "Cache-Control", "no-store");
        for (const auto& header : answer.headers)
        {
          OrthancPluginSetHttpHeader(context, output, header.first.c_str(), header.second.c_str());
        }
        if (answer.status == 200)
        {
          OrthancPluginAnswerBuffer(context, output, answer.body.data(),
                                    static_cast<uint32_t>(answer.body.size()),
                                    answer.contentType.c_str());
        }
        else
        {
          OrthancPluginSetHttpHeader(context, output, "Content-Type", answer.contentType.c_str());
          OrthancPluginSendHttpStatus(context, output, static_cast<uint16_t>(answer.status),
                                      answer.body.data(),
                                      static_cast<uint32_t>(answer.body.size()));
        }
        return OrthancPluginErrorCode_Success;
      }
      catch (...)
      {
        return OrthancPluginErrorCode_InternalError;
      }
    }

    void Finalize(OrthancPluginServerChunkedRequestReader* reader)
    {
      try
      {
        delete reinterpret_cast<StowRequest*>(reader); // closes the session if not answered
      }
      catch (...)
      {
      }
    }
  } // namespace PartnerHandlers
} // namespace Inbound
