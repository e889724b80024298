// The handlers of the login routes, the upload page and the public upload API.
#include "Orthanc/Handlers.h"

#include "Orthanc/RequestState.h"
#include "PluginContext.h"
#include "Toolbox/EmbeddedResources.h"

namespace Inbound
{
  namespace Handlers
  {
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

    static const char* const kRealm = "Orthanc Inbound";

    // "/": Orthanc Explorer's entry. Browsers only send Basic credentials after a 401
    // challenge, which the filter cannot give; this route gives it, for the whole site.
    // A login that fails is a refusal like any other: audited and counted towards an
    // automatic ban, so that passwords cannot be guessed at leisure.
    static bool CheckLogin(RestCall& call)
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
      // "/inbound" without the slash cannot be told apart here (Orthanc drops trailing
      // slashes before routing); the proxy redirects it to "/inbound/".
      const EmbeddedFile* page = LookupWebFile("index.html");
      call.AnswerBuffer(page->data, page->size, GetMime("index.html"), true);
    }

    void ServeAsset(RestCall& call)
    {
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
      call.AnswerJson(200, PluginContext::Get().GetUploads().GetInfo());
    }

    void ApiLogo(RestCall& call)
    {
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
      const ApiAnswer answer = PluginContext::Get().GetUploads().Open(
        call.GetBody(), call.GetBodySize(), GetClient(call));
      call.AnswerJson(answer.status, answer.body);
    }

    void ApiUpload(RestCall& call)
    {
      UploadService& uploads = PluginContext::Get().GetUploads();
      const std::string token = call.GetHeader("x-inbound-token");
      if (call.GetMethod() == Orthanc::HttpMethod_Get)
        call.AnswerJson(200, uploads.GetStatus(call.GetGroup(0), token));
      else
        call.AnswerJson(200, uploads.Cancel(call.GetGroup(0), token, GetClient(call)));
    }

    void ApiFile(RestCall& call)
    {
      const ApiAnswer answer = PluginContext::Get().GetUploads().PutFile(
        call.GetGroup(0), call.GetHeader("x-inbound-token"), call.GetGroup(1), call.GetBody(),
        call.GetBodySize(), GetClient(call));
      call.AnswerJson(answer.status, answer.body);
    }

    // "/inbound/r/{token}": the upload page for a request link. Its assets and API calls are
    // relative, so a <base> of "../" (this site's "/inbound/") makes them resolve as on
    // "/inbound/"; the page reads the token from its address and asks the API, which refuses
    // an unknown, expired or revoked link in the sender's language.
    void ServeRequestPage(RestCall& call)
    {
      const EmbeddedFile* page = LookupWebFile("index.html");
      std::string html(reinterpret_cast<const char*>(page->data), page->size);
      const size_t head = html.find("<head>");
      html.insert(head == std::string::npos ? 0 : head + 6, "\n<base href=\"../\">");
      call.AnswerRequestPage(html);
    }

    void ApiRequestLink(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetRequests().DescribeLink(call.GetGroup(0)));
    }

    void ApiRequestChallenge(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetRequests().Challenge(
                             call.GetGroup(0), call.GetBody(), call.GetBodySize(),
                             GetCurrentClientAddress()));
    }

    void ApiPart(RestCall& call)
    {
      const ApiAnswer answer = PluginContext::Get().GetUploads().PutPart(
        call.GetGroup(0), call.GetHeader("x-inbound-token"), call.GetGroup(1), call.GetGroup(2),
        call.GetHeader("x-inbound-part-sha256"), call.GetBody(), call.GetBodySize(),
        GetClient(call));
      call.AnswerJson(answer.status, answer.body);
    }

    void ApiAssemble(RestCall& call)
    {
      const ApiAnswer answer = PluginContext::Get().GetUploads().Assemble(
        call.GetGroup(0), call.GetHeader("x-inbound-token"), call.GetGroup(1), call.GetBody(),
        call.GetBodySize(), GetClient(call));
      call.AnswerJson(answer.status, answer.body);
    }

    void ApiComplete(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetUploads().Complete(
                             call.GetGroup(0), call.GetHeader("x-inbound-token"),
                             GetClient(call)));
    }
  }
}
