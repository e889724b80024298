#include "Routes.h"

#include "Orthanc/RestCall.h"
#include "PluginContext.h"
#include "Toolbox/EmbeddedResources.h"
#include "Http/BanRequest.h"

#include <Logging.h>

#include <boost/lexical_cast.hpp>

#include <strings.h>

#include <cerrno>
#include <cstdlib>

namespace Inbound
{
  namespace
  {
    thread_local std::string currentClientAddress_;
    const char* const kRealm = "Orthanc Inbound";

    // The body reservation of the request on this HTTP thread (see InFlight). Released when
    // the handler ends, or, if Orthanc never called it (the client went away while sending),
    // by the next request on the same thread.
    thread_local uint64_t reservation_ = 0;

    void ReleaseReservation()
    {
      if (reservation_ != 0)
      {
        PluginContext::Get().GetLimits().ReleaseBody(reservation_);
        reservation_ = 0;
      }
    }

    // The handler runs: the body's memory is held until it ends, however long that takes,
    // so its reservation must not lapse after Limits.BodyTimeout.
    void StartReservation()
    {
      if (reservation_ != 0)
      {
        PluginContext::Get().GetLimits().StartBody(reservation_);
      }
    }

    // Refusals that say something about the client (garbage, guessing, floods) count
    // towards an automatic ban; the ordinary ones of a legitimate sender do not.
    Offence ClassifyRefusal(int status, const std::string& code)
    {
      if (code == "rate-limited" || code == "server-busy")
        return Offence_LimitHit;
      if (status >= 500 || status == 422 || code == "upload-closed" ||
          code == "empty-upload" || code == "duplicate-instance")
        return Offence_None;  // quota, storage, internal errors; a CD's DICOMDIR or duplicates
      return Offence_Refusal;
    }

    // The refusals that the filter leaves to the handler so that they get a JSON answer:
    // a method override, an admin write without the site's own origin.
    void CheckRequest(const RestCall& call, const char* url)
    {
      PluginContext::Get().GetAccess().CheckInHandler(call.GetMethod(), url,
                                                      call.GetRequestFacts());
    }

    template <void (*Handler)(RestCall&)>
    OrthancPluginErrorCode Route(OrthancPluginRestOutput* output, const char* url,
                                 const OrthancPluginHttpRequest* request)
    {
      StartReservation();
      RestCall call(PluginContext::Get().GetOrthanc(), output, request);
      call.Run([url](RestCall& c) {
        CheckRequest(c, url);
        Handler(c);
      });
      ReleaseReservation();
      return OrthancPluginErrorCode_Success;
    }

    // A public route: rate-limited per client, every refusal audited.
    template <void (*Handler)(RestCall&)>
    OrthancPluginErrorCode PublicRoute(OrthancPluginRestOutput* output, const char* url,
                                       const OrthancPluginHttpRequest* request)
    {
      StartReservation();
      PluginContext& context = PluginContext::Get();
      RestCall call(context.GetOrthanc(), output, request);
      call.Run([url](RestCall& c) {
        CheckRequest(c, url);
        PluginContext::Get().GetLimits().CheckRequestRate(GetCurrentClientAddress());
        Handler(c);
      });
      ReleaseReservation();
      if (call.GetRefusalStatus() != 0 && call.GetRefusalCode() != "method-override")  // the filter's
      {
        context.GetLimits().RecordRefusal(
          GetCurrentClientAddress(), call.GetRefusalStatus(), call.GetRefusalCode(),
          std::string(url) + ": " + call.GetRefusalMessage(),
          ClassifyRefusal(call.GetRefusalStatus(), call.GetRefusalCode()));
      }
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
    // A login that fails is a refusal like any other: audited and counted towards an
    // automatic ban, so that passwords cannot be guessed at leisure.
    bool CheckLogin(RestCall& call)
    {
      if (PluginContext::Get().GetAccess().IsAuthorized(call.GetHeader("authorization")))
      {
        return true;
      }
      const bool attempted = !call.GetHeader("authorization").empty();
      PluginContext::Get().GetLimits().RecordRefusal(
        GetCurrentClientAddress(), 401, attempted ? "bad-credentials" : "login-required",
        "login", attempted ? Offence_Refusal : Offence_None);
      if (attempted)
      {
        PluginContext::Get().GetLockout().RecordFailure(GetCurrentClientAddress());
      }
      call.Challenge(kRealm);
      return false;
    }

    void ServeRoot(RestCall& call)
    {
      if (CheckLogin(call))
      {
        call.Redirect("/app/explorer.html");
      }
    }

    // "/inbound/auth": the reverse proxy's auth_request target, so that admins get the
    // browser's login prompt in front of Orthanc Explorer with Orthanc's own RegisteredUsers
    // as the one credential store (the filter itself can only answer 403).
    void ServeAuth(RestCall& call)
    {
      if (CheckLogin(call))
      {
        if (call.GetArgument("next") == "admin")
        {
          call.Redirect("/inbound/admin/ui/");
          return;
        }
        Json::Value answer(Json::objectValue);
        answer["authorized"] = true;
        call.AnswerJson(200, answer);
      }
    }

    void ServePage(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      // "/inbound" without the slash cannot be told apart here (Orthanc drops trailing
      // slashes before routing); the proxy redirects it to "/inbound/".
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
      // The page names its assets with a digest ("app.js?v=..."): those never change.
      call.AnswerBuffer(file->data, file->size, GetMime(file->path), false,
                        !call.GetArgument("v").empty());
    }

    void ApiInfo(RestCall& call)
    {
      if (call.Expect("GET"))
        call.AnswerJson(200, PluginContext::Get().GetUploads().GetInfo());
    }

    void ApiLogo(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      const Configuration& configuration = PluginContext::Get().GetConfiguration();
      if (configuration.brandingLogo.empty())
      {
        throw ApiError(404, "not-found", "No logo is configured");
      }
      // An SVG may hold scripts, and opened directly (not as an <img>) it is a document of
      // this site's origin, next to the admin routes and cached credentials. The sandbox gives
      // it an opaque origin and runs no script, default-src 'none' loads nothing; inline
      // styles stay so that it still draws. nosniff comes with every answer (SetCommonHeaders).
      call.SetHeader("Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; sandbox");
      const bool svg = configuration.brandingLogoMime == "image/svg+xml";
      call.SetHeader("Content-Disposition",
                     svg ? "inline; filename=\"logo.svg\"" : "inline; filename=\"logo.png\"");
      call.AnswerBuffer(configuration.brandingLogo.data(), configuration.brandingLogo.size(),
                        configuration.brandingLogoMime);
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

    void AdminLimits(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      call.AnswerJson(200, PluginContext::Get().GetLimits().Describe(call.GetArgument("client")));
    }

    void AdminLift(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      LimitsGuard& limits = PluginContext::Get().GetLimits();
      Json::Value answer(Json::objectValue);
      answer["lifted"] = limits.GetMonitor().Lift(limits.GetDay());
      answer["dataMonitor"] = limits.GetMonitor().Describe();
      call.AnswerJson(200, answer);
    }

    void AdminBans(RestCall& call)
    {
      if (!call.Expect("GET,POST"))
        return;
      BanList& bans = PluginContext::Get().GetLimits().GetBans();
      if (call.GetMethod() == Orthanc::HttpMethod_Post)
      {
        const BanRequest request = BanRequest::Parse(call.GetBody(), call.GetBodySize());
        bans.Ban(request.entry, request.seconds, request.reason, false, "admin");
      }
      Json::Value answer(Json::objectValue);
      answer["bans"] = bans.Describe();
      call.AnswerJson(call.GetMethod() == Orthanc::HttpMethod_Post ? 201 : 200, answer);
    }

    void AdminBan(RestCall& call)
    {
      if (!call.Expect("DELETE"))
        return;
      if (!PluginContext::Get().GetLimits().GetBans().Unban(call.GetGroup(0), "admin"))
      {
        throw ApiError(404, "not-found", "No such ban (configured bans are lifted in the configuration)");
      }
      Json::Value answer(Json::objectValue);
      answer["unbanned"] = call.GetGroup(0);
      call.AnswerJson(200, answer);
    }

    int64_t ParseId(const std::string& text, const char* what)
    {
      try
      {
        return boost::lexical_cast<int64_t>(text);
      }
      catch (const boost::bad_lexical_cast&)
      {
        throw ApiError(404, "not-found", std::string("No such ") + what);
      }
    }

    void AdminNotifications(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      const std::string state = call.GetArgument("state");
      if (!state.empty() && state != "pending" && state != "delivered" && state != "failed")
      {
        throw ApiError(400, "invalid-argument",
                       "\"state\" must be \"pending\", \"delivered\" or \"failed\"");
      }
      call.AnswerJson(200, PluginContext::Get().GetNotifier().Describe(
                             state, AdminViews::ParseLimitArgument(call.GetArgument("limit"))));
    }

    void AdminNotificationRetry(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      const int64_t id = ParseId(call.GetGroup(0), "notification");
      if (!PluginContext::Get().GetNotifier().Retry(id, "admin"))
      {
        throw ApiError(404, "not-found", "No such notification waiting or failed");
      }
      Json::Value answer(Json::objectValue);
      answer["id"] = Json::Int64(id);
      answer["state"] = "pending";
      call.AnswerJson(200, answer);
    }

    Forwarder& GetForwarder()
    {
      Forwarder* forwarder = PluginContext::Get().GetForwarder();
      if (forwarder == nullptr)
      {
        throw ApiError(404, "not-found", "A gateway keeps no studies to forward");
      }
      return *forwarder;
    }

    void AdminModalities(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      Json::Value answer(Json::objectValue);
      answer["modalities"] = Json::arrayValue;
      for (const std::string& name : GetForwarder().ListModalities())
      {
        answer["modalities"].append(name);
      }
      call.AnswerJson(200, answer);
    }

    void AdminStudy(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      Json::Value answer = PluginContext::Get().GetAdmin().DescribeStudy(call.GetGroup(0));
      answer["forwards"] =
        GetForwarder().Describe(answer["uploadId"].asString(), "", 1000)["forwards"];
      call.AnswerJson(200, answer);
    }

    void AdminRelease(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      const ReleaseRequest request = ReleaseRequest::Parse(call.GetBody(), call.GetBodySize());
      call.AnswerJson(202, GetForwarder().Release(call.GetGroup(0), request, "admin"));
    }

    void AdminForwards(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      const std::string state = call.GetArgument("state");
      if (!state.empty() && state != "pending" && state != "sending" && state != "done" &&
          state != "failed")
      {
        throw ApiError(400, "invalid-argument",
                       "\"state\" must be \"pending\", \"sending\", \"done\" or \"failed\"");
      }
      call.AnswerJson(200, GetForwarder().Describe(
                             call.GetArgument("upload"), state,
                             AdminViews::ParseLimitArgument(call.GetArgument("limit"))));
    }

    void AdminForwardRetry(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      call.AnswerJson(200, GetForwarder().Retry(ParseId(call.GetGroup(0), "forward"), "admin"));
    }

    void AnswerAdminFile(RestCall& call, const std::string& path)
    {
      if (!call.Expect("GET"))
        return;
      const EmbeddedFile* file = LookupAdminFile(path);
      if (file == nullptr)
      {
        throw ApiError(404, "not-found", "No such file");
      }
      call.AnswerBuffer(file->data, file->size, GetMime(file->path), path == "index.html");
    }

    // Opened without credentials (an internal Orthanc without a proxy in front), the admin
    // page sends the browser to the login prompt of "/inbound/auth": credentials given there
    // are sent with every later request under "/inbound/", the page's API calls included.
    void ServeAdminPage(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      if (!PluginContext::Get().GetAccess().IsAuthorized(call.GetHeader("authorization")))
      {
        call.Redirect("/inbound/auth?next=admin");
        return;
      }
      AnswerAdminFile(call, "index.html");
    }

    void ServeAdminFile(RestCall& call)
    {
      AnswerAdminFile(call, call.GetGroup(0));
    }

    Outbox& GetOutbox()
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
      if (!call.Expect("GET"))
        return;
      const std::string wait = call.GetArgument("wait"), limit = call.GetArgument("limit");
      call.AnswerJson(200, GetOutbox().List(wait.empty() ? 0 : std::atoi(wait.c_str()),
                                            limit.empty() ? 100 : std::atoi(limit.c_str()),
                                            PluginContext::Get().GetStopping()));
    }

    void PeerManifest(RestCall& call)
    {
      if (call.Expect("GET"))
        call.AnswerJson(200, GetOutbox().GetManifest(call.GetGroup(0)));
    }

    void PeerItem(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      const std::string data = GetOutbox().ReadItem(call.GetGroup(0), call.GetGroup(1));
      call.AnswerBuffer(data.data(), data.size(), "application/dicom");
    }

    void PeerAck(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      call.AnswerJson(200, GetOutbox().Acknowledge(call.GetGroup(0), call.GetBody(),
                                                   call.GetBodySize(), GetCurrentClientAddress()));
    }

    void AdminGateways(RestCall& call)
    {
      if (call.Expect("GET"))
        call.AnswerJson(200, PluginContext::Get().DescribeGateways());
    }

    // POST /inbound/admin/gateways/{name}/held/{id}/retry: the upload is pulled again.
    void AdminReleaseHeldPull(RestCall& call)
    {
      if (!call.Expect("POST"))
        return;
      if (!PluginContext::Get().ReleaseHeldPull(call.GetGroup(0), call.GetGroup(1), "admin"))
      {
        throw ApiError(404, "not-found", "No such upload held by this gateway's puller");
      }
      Json::Value answer(Json::objectValue);
      answer["gateway"] = call.GetGroup(0);
      answer["id"] = call.GetGroup(1);
      answer["state"] = "released";
      call.AnswerJson(200, answer);
    }

    void AdminAudit(RestCall& call)
    {
      if (!call.Expect("GET"))
        return;
      call.AnswerJson(200, PluginContext::Get().GetAdmin().ListAudit(call.GetArgument("since"),
                                                                     call.GetArgument("limit")));
    }

    int64_t ParseContentLength(const char* value)
    {
      char* end = nullptr;
      errno = 0;
      const long long parsed = strtoll(value, &end, 10);
      if (errno != 0 || end == value || *end != '\0' || parsed < 0)
      {
        return INT64_MAX;  // unreadable: treated as too large
      }
      return parsed;
    }

    Offence OffenceOf(AccessVerdict verdict)
    {
      switch (verdict)
      {
        case AccessVerdict_Banned:
        case AccessVerdict_Handler:
          return Offence_None;  // a banned client is refused, not counted again
        default:
          return Offence_Refusal;
      }
    }

    int32_t Filter(OrthancPluginHttpMethod method, const char* uri, const char* ip,
                   uint32_t headersCount, const char* const* headersKeys,
                   const char* const* headersValues, uint32_t getArgumentsCount,
                   const char* const* getArgumentsKeys, const char* const* getArgumentsValues)
    {
      try
      {
        ReleaseReservation();
        AccessRequest request;
        request.method = ToHttpMethod(method);
        request.uri = uri;
        std::string forwardedFor;
        int64_t contentLength = -1;
        bool chunked = false;
        for (uint32_t i = 0; i < headersCount; i++)
        {
          if (strcasecmp(headersKeys[i], "authorization") == 0)
            request.authorization = headersValues[i];
          else if (strcasecmp(headersKeys[i], "x-forwarded-for") == 0)
            forwardedFor = headersValues[i];
          else if (strcasecmp(headersKeys[i], "content-length") == 0)
            contentLength = ParseContentLength(headersValues[i]);
          else if (strcasecmp(headersKeys[i], "transfer-encoding") == 0)
            chunked = true;
          else
            request.facts.AddHeader(headersKeys[i], headersValues[i]);
        }
        for (uint32_t i = 0; i < getArgumentsCount; i++)
        {
          request.facts.AddArgument(getArgumentsKeys[i]);
        }
        PluginContext& context = PluginContext::Get();
        const AccessPolicy& access = context.GetAccess();
        LimitsGuard& limits = context.GetLimits();
        currentClientAddress_ = ResolveClientAddress(access.GetTrustedProxies(), ip, forwardedFor);
        request.client = currentClientAddress_;
        request.hasBody = (request.method == Orthanc::HttpMethod_Post ||
                           request.method == Orthanc::HttpMethod_Put || contentLength > 0 || chunked);
        request.bodyBytes = chunked ? -1 : contentLength;
        request.banned = limits.GetBans().IsBanned(currentClientAddress_);

        const AccessDecision decision = access.Decide(request);
        switch (decision.verdict)
        {
          case AccessVerdict_Handler:
            if (request.facts.methodOverride)
            {
              // The handler answers 400 (JSON); audited and counted here, for every route.
              limits.RecordRefusal(currentClientAddress_, 400, "method-override", uri,
                                   Offence_Refusal);
            }
            return 1;
          case AccessVerdict_Admin:
          case AccessVerdict_Puller:
            return 1;  // admins and pullers are not subject to the public side's limits
          case AccessVerdict_Public:
            break;
          default:
            limits.RecordRefusal(currentClientAddress_, 403, EnumerationToString(decision.verdict),
                                 uri, OffenceOf(decision.verdict));
            if (decision.failedLogin)
            {
              context.GetLockout().RecordFailure(currentClientAddress_);
            }
            return 0;
        }

        const bool isFile = (request.method == Orthanc::HttpMethod_Put && AccessPolicy::IsFileRoute(uri));
        const Admission admission = limits.AdmitBody(
          currentClientAddress_, request.hasBody, isFile, chunked ? -1 : contentLength, reservation_);
        if (admission == Admission_Allowed)
        {
          return 1;
        }
        limits.RecordRefusal(
          currentClientAddress_, 403, EnumerationToString(admission), uri,
          admission == Admission_Banned ? Offence_None :
          (admission == Admission_ClientBusy || admission == Admission_ServerBusy) ? Offence_LimitHit
                                                                                  : Offence_Refusal);
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
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/?", PublicRoute<ServePage>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/auth", Route<ServeAuth>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/app/(.+)", PublicRoute<ServeAsset>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/info", PublicRoute<ApiInfo>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/logo", PublicRoute<ApiLogo>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads", PublicRoute<ApiOpen>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads/([^/]+)",
                                            PublicRoute<ApiUpload>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads/([^/]+)/files/([^/]+)",
                                            PublicRoute<ApiFile>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/api/uploads/([^/]+)/complete",
                                            PublicRoute<ApiComplete>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/uploads",
                                            Route<AdminUploads>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/uploads/([^/]+)",
                                            Route<AdminUpload>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/audit", Route<AdminAudit>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/limits", Route<AdminLimits>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/limits/lift", Route<AdminLift>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/bans", Route<AdminBans>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/bans/(.+)", Route<AdminBan>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/gateways", Route<AdminGateways>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/gateways/([^/]+)/held/([^/]+)/retry",
                                            Route<AdminReleaseHeldPull>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/notifications",
                                            Route<AdminNotifications>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/notifications/([^/]+)/retry",
                                            Route<AdminNotificationRetry>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/modalities",
                                            Route<AdminModalities>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/studies/([^/]+)",
                                            Route<AdminStudy>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/uploads/([^/]+)/release",
                                            Route<AdminRelease>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/forwards",
                                            Route<AdminForwards>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/forwards/([^/]+)/retry",
                                            Route<AdminForwardRetry>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/ui", Route<ServeAdminPage>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/admin/ui/(.+)",
                                            Route<ServeAdminFile>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/peer/outbox", Route<PeerOutbox>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/peer/outbox/([^/]+)",
                                            Route<PeerManifest>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/peer/outbox/([^/]+)/items/([^/]+)",
                                            Route<PeerItem>);
    OrthancPluginRegisterRestCallbackNoLock(context, "/inbound/peer/outbox/([^/]+)/ack",
                                            Route<PeerAck>);
    OrthancPluginRegisterIncomingHttpRequestFilter2(context, Filter);
  }
}
