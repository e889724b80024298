#include "Routes.h"

#include "Orthanc/RestCall.h"
#include "PluginContext.h"
#include "Toolbox/EmbeddedResources.h"

#include <Logging.h>

#include <strings.h>

namespace Inbound
{
  namespace
  {
    thread_local std::string currentClientAddress_;
    const char* const kRealm = "Orthanc Inbound";

    template <void (*Handler)(RestCall&)>
    OrthancPluginErrorCode Route(OrthancPluginRestOutput* output, const char* url,
                                 const OrthancPluginHttpRequest* request)
    {
      RestCall call(PluginContext::Get().GetOrthanc(), output, request);
      call.Run(Handler);
      return OrthancPluginErrorCode_Success;
    }

    ClientInfo GetClient(const RestCall& call)
    {
      ClientInfo client;
      client.ip = GetCurrentClientAddress();
      client.userAgent = call.GetHeader("user-agent");
      return client;
    }

    std::string GetMime(const std::string& path)
    {
      static const std::pair<const char*, const char*> kTypes[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".png", "image/png"},                 {".json", "application/json"},
        {".ico", "image/x-icon"},              {".woff2", "font/woff2"}};
      for (const auto& type : kTypes)
      {
        const std::string extension = type.first;
        if (path.size() > extension.size() &&
            path.compare(path.size() - extension.size(), extension.size(), extension) == 0)
        {
          return type.second;
        }
      }
      return "application/octet-stream";
    }

    // "/": Orthanc Explorer's entry. Browsers only send Basic credentials after a 401
    // challenge, which the filter cannot give; this route gives it, for the whole site.
    void ServeRoot(RestCall& call)
    {
      if (PluginContext::Get().GetAccess().IsAuthorized(call.GetHeader("authorization")))
      {
        call.Redirect("/app/explorer.html");
      }
      else
      {
        call.Challenge(kRealm);
      }
    }

    void ServePage(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      const EmbeddedFile* page = LookupWebFile("index.html");
      call.AnswerBuffer(page->data, page->size, GetMime("index.html"), true);
    }

    void ServeAsset(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      const EmbeddedFile* file = LookupWebFile(call.GetGroup(0));
      if (file == nullptr)
      {
        throw ApiError(404, "not-found", "No such file");
      }
      call.AnswerBuffer(file->data, file->size, GetMime(file->path));
    }

    void ApiInfo(RestCall& call)
    {
      if (call.Expect("GET"))
        call.AnswerJson(200, PluginContext::Get().GetUploads().GetInfo());
    }

    void ApiOpen(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      const ApiAnswer answer = PluginContext::Get().GetUploads().Open(
        call.GetBody(), call.GetBodySize(), GetClient(call));
      call.AnswerJson(answer.status, answer.body);
    }

    void ApiUpload(RestCall& call)
    {
      if (!call.Expect("GET,DELETE"))
        return;
      UploadService& uploads = PluginContext::Get().GetUploads();
      const std::string token = call.GetHeader("x-inbound-token");
      if (call.GetMethod() == Orthanc::HttpMethod_Get)
        call.AnswerJson(200, uploads.GetStatus(call.GetGroup(0), token));
      else
        call.AnswerJson(200, uploads.Cancel(call.GetGroup(0), token, GetClient(call)));
    }

    void ApiFile(RestCall& call)
    {
      if (!call.Expect("PUT"))
        return;
      const ApiAnswer answer = PluginContext::Get().GetUploads().PutFile(
        call.GetGroup(0), call.GetHeader("x-inbound-token"), call.GetGroup(1), call.GetBody(),
        call.GetBodySize(), GetClient(call));
      call.AnswerJson(answer.status, answer.body);
    }

    void ApiComplete(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      call.AnswerJson(200, PluginContext::Get().GetUploads().Complete(
                             call.GetGroup(0), call.GetHeader("x-inbound-token"),
                             GetClient(call)));
    }

    void AdminUploads(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      call.AnswerJson(200, PluginContext::Get().GetAdmin().ListUploads(
                             call.GetArgument("state"), call.GetArgument("since"),
                             call.GetArgument("limit")));
    }

    void AdminUpload(RestCall& call)
    {
      if (!call.Expect("GET,DELETE"))
        return;
      AdminViews& admin = PluginContext::Get().GetAdmin();
      if (call.GetMethod() == Orthanc::HttpMethod_Get)
        call.AnswerJson(200, admin.ShowUpload(call.GetGroup(0)));
      else
        call.AnswerJson(200, admin.DeleteUpload(call.GetGroup(0), GetClient(call)));
    }

    void AdminAudit(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      call.AnswerJson(200, PluginContext::Get().GetAdmin().ListAudit(call.GetArgument("since"),
                                                                     call.GetArgument("limit")));
    }

    Orthanc::HttpMethod ToMethod(OrthancPluginHttpMethod method)
    {
      switch (method)
      {
        case OrthancPluginHttpMethod_Get:
          return Orthanc::HttpMethod_Get;
        case OrthancPluginHttpMethod_Post:
          return Orthanc::HttpMethod_Post;
        case OrthancPluginHttpMethod_Put:
          return Orthanc::HttpMethod_Put;
        default:
          return Orthanc::HttpMethod_Delete;
      }
    }

    int32_t Filter(OrthancPluginHttpMethod method, const char* uri, const char* ip,
                   uint32_t headersCount, const char* const* headersKeys,
                   const char* const* headersValues, uint32_t getArgumentsCount,
                   const char* const* getArgumentsKeys, const char* const* getArgumentsValues)
    {
      try
      {
        std::string authorization, forwardedFor;
        for (uint32_t i = 0; i < headersCount; i++)
        {
          if (strcasecmp(headersKeys[i], "authorization") == 0)
            authorization = headersValues[i];
          else if (strcasecmp(headersKeys[i], "x-forwarded-for") == 0)
            forwardedFor = headersValues[i];
        }
        const AccessPolicy& access = PluginContext::Get().GetAccess();
        currentClientAddress_ =
          ResolveClientAddress(access.GetTrustedProxies(), ip, forwardedFor);
        if (access.IsAllowed(ToMethod(method), uri, authorization))
        {
          return 1;
        }
        LOG(INFO) << "Inbound: refused " << uri << " to " << currentClientAddress_;
        return 0;
      }
      catch (...)
      {
        return 0;  // fail closed: a filter that cannot decide denies
      }
    }
  }

  const std::string& GetCurrentClientAddress()
  {
    return currentClientAddress_;
  }

  void RegisterRoutes(OrthancPluginContext* context)
  {
    // "NoLock": Orthanc would otherwise run every call of a plugin's routes one at a time;
    // the services here are thread-safe, and parallel uploads need parallel calls.
    OrthancPluginRegisterRestCallbackNoLock(context, "/", Route<ServeRoot>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/?", Route<ServePage>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/app/(.+)", Route<ServeAsset>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/info", Route<ApiInfo>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads", Route<ApiOpen>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads/([^/]+)",
                                            Route<ApiUpload>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads/([^/]+)/files/([^/]+)",
                                            Route<ApiFile>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads/([^/]+)/complete",
                                            Route<ApiComplete>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/uploads",
                                            Route<AdminUploads>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/uploads/([^/]+)",
                                            Route<AdminUpload>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/audit", Route<AdminAudit>);
    OrthancPluginRegisterIncomingHttpRequestFilter2(context, Filter);
  }
}
