// The handlers of the admin API and of the admin page.
#include "Orthanc/Handlers.h"

#include "Http/BanRequest.h"
#include "PluginContext.h"
#include "Staging/StagingSealer.h"
#include "Toolbox/EmbeddedResources.h"

#include <boost/lexical_cast.hpp>
#include <boost/regex.hpp>

namespace Inbound
{
  namespace Handlers
  {
    void AdminUploads(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetAdmin().ListUploads(
                             call.GetArgument("state"), call.GetArgument("since"),
                             call.GetArgument("limit")));
    }

    void AdminUpload(RestCall& call)
    {
      AdminViews& admin = PluginContext::Get().GetAdmin();
      if (call.GetMethod() == Orthanc::HttpMethod_Get)
        call.AnswerJson(200, admin.ShowUpload(call.GetGroup(0)));
      else
        call.AnswerJson(200, admin.DeleteUpload(call.GetGroup(0), GetClient(call)));
    }

    void AdminLimits(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetLimits().Describe(call.GetArgument("client")));
    }

    void AdminLift(RestCall& call)
    {
      LimitsGuard& limits = PluginContext::Get().GetLimits();
      Json::Value answer(Json::objectValue);
      answer["lifted"] = limits.GetMonitor().Lift(limits.GetDay());
      answer["dataMonitor"] = limits.GetMonitor().Describe();
      call.AnswerJson(200, answer);
    }

    void AdminBans(RestCall& call)
    {
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
      if (!PluginContext::Get().GetLimits().GetBans().Unban(call.GetGroup(0), "admin"))
      {
        throw ApiError(404, "not-found", "No such ban (configured bans are lifted in the configuration)");
      }
      Json::Value answer(Json::objectValue);
      answer["unbanned"] = call.GetGroup(0);
      call.AnswerJson(200, answer);
    }

    static int64_t ParseId(const std::string& text, const char* what)
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

    static Forwarder& GetForwarder()
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
      Json::Value answer = PluginContext::Get().GetAdmin().DescribeStudy(call.GetGroup(0));
      answer["forwards"] =
        GetForwarder().Describe(answer["uploadId"].asString(), "", 1000)["forwards"];
      call.AnswerJson(200, answer);
    }

    void AdminRelease(RestCall& call)
    {
      const ReleaseRequest request = ReleaseRequest::Parse(call.GetBody(), call.GetBodySize());
      call.AnswerJson(202, GetForwarder().Release(
                             call.GetGroup(0), request,
                             AccessPolicy::GetAdminName(call.GetHeader("authorization"))));
    }

    // GET /inbound/admin/uploads/{id}/candidates[?fresh=true]: who each patient may be here.
    void AdminCandidates(RestCall& call)
    {
      ICandidateFinder* finder = PluginContext::Get().GetCandidateFinder();
      if (finder == nullptr)
      {
        throw ApiError(404, "not-found", "A gateway keeps no studies to reconcile");
      }
      const std::string fresh = call.GetArgument("fresh");
      if (!fresh.empty() && fresh != "true" && fresh != "false")
      {
        throw ApiError(400, "invalid-argument", "\"fresh\" must be \"true\" or \"false\"");
      }
      call.AnswerJson(200, finder->Find(call.GetGroup(0), fresh == "true").ToJson());
    }

    void AdminForwards(RestCall& call)
    {
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
      call.AnswerJson(200, GetForwarder().Retry(ParseId(call.GetGroup(0), "forward"), "admin"));
    }

    static void AnswerAdminFile(RestCall& call, const std::string& path)
    {
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

    void AdminGateways(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().DescribeGateways());
    }

    // POST /inbound/admin/gateways/{name}/held/{id}/retry: the upload is pulled again.
    void AdminReleaseHeldPull(RestCall& call)
    {
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

    // A gateway's public keys (the first seals, the others are recognised: rotation) and what
    // it holds sealed for each, also for keys no longer configured, and in plain text.
    static Json::Value DescribeGatewayKeys(const PluginContext& context)
    {
      const StagingSealer* sealer = context.GetSealer();
      uint64_t plain = 0;
      std::map<std::string, uint64_t> held = context.CountSealedHoldings(plain);
      Json::Value answer(Json::objectValue);
      answer["role"] = EnumerationToString(Role_Gateway);
      answer["sealing"] = sealer != nullptr;
      answer["heldPlain"] = Json::UInt64(plain);
      answer["keys"] = Json::arrayValue;
      for (size_t i = 0; sealer != nullptr && i < sealer->GetKeys().size(); i++)
      {
        Json::Value key(Json::objectValue);
        key["keyId"] = sealer->GetKeys()[i].GetId();
        key["publicKey"] = sealer->GetKeys()[i].GetPem();
        key["seals"] = (i == 0);
        key["held"] = Json::UInt64(held[key["keyId"].asString()]);
        held.erase(key["keyId"].asString());
        answer["keys"].append(key);
      }
      for (const auto& old : held)
      {
        Json::Value key(Json::objectValue);
        key["keyId"] = old.first;
        key["publicKey"] = Json::nullValue;  // removed from Inbound.Sealing.PublicKeys
        key["seals"] = false;
        key["held"] = Json::UInt64(old.second);
        answer["keys"].append(key);
      }
      return answer;
    }

    // GET /inbound/admin/sealing: the keys of sealed staging (doc/Api.md, "Admin routes").
    void AdminSealing(RestCall& call)
    {
      PluginContext& context = PluginContext::Get();
      Json::Value answer(Json::objectValue);
      if (context.GetInternalKeys() != nullptr)
      {
        answer = context.GetInternalKeys()->Describe();
        answer["heldUploads"] = InternalKeys::ListSealingHolds(context.DescribeGateways());
      }
      else if (context.GetConfiguration().role == Role_Gateway)
      {
        answer = DescribeGatewayKeys(context);
      }
      else
      {
        // A Standalone keeps what it receives in its own archive: nothing to seal.
        answer["role"] = EnumerationToString(context.GetConfiguration().role);
        answer["sealing"] = false;
      }
      call.AnswerJson(200, answer);
    }

    // Where the admin reached this server, for the links of a Standalone without
    // Inbound.PublicUrl: the page's Origin (browsers send it with every POST), else the Host
    // (https when the proxy says so); "" when neither is a plain address.
    static std::string GetBaseUrl(const RestCall& call)
    {
      static const boost::regex kOrigin("https?://[A-Za-z0-9.:\\[\\]-]{1,255}");
      static const boost::regex kHost("[A-Za-z0-9.:\\[\\]-]{1,255}");
      const std::string origin = call.GetHeader("origin");
      if (boost::regex_match(origin, kOrigin))
      {
        return origin;
      }
      const std::string host = call.GetHeader("host");
      const bool https = call.GetHeader("x-forwarded-proto") == "https";
      return boost::regex_match(host, kHost) ? (https ? "https://" : "http://") + host : "";
    }

    void AdminRequests(RestCall& call)
    {
      RequestService& requests = PluginContext::Get().GetRequests();
      if (call.GetMethod() == Orthanc::HttpMethod_Get)
      {
        call.AnswerJson(200, requests.List(AdminViews::ParseLimitArgument(call.GetArgument("limit"))));
        return;
      }
      call.AnswerJson(201, requests.Create(call.GetBody(), call.GetBodySize(),
                                           AccessPolicy::GetAdminName(call.GetHeader("authorization")),
                                           GetBaseUrl(call)));
    }

    void AdminRequest(RestCall& call)
    {
      RequestService& requests = PluginContext::Get().GetRequests();
      if (call.GetMethod() == Orthanc::HttpMethod_Get)
        call.AnswerJson(200, requests.Show(call.GetGroup(0)));
      else
        call.AnswerJson(200, requests.Revoke(call.GetGroup(0), AccessPolicy::GetAdminName(
                                                                 call.GetHeader("authorization"))));
    }

    void AdminAudit(RestCall& call)
    {
      call.AnswerJson(200, PluginContext::Get().GetAdmin().ListAudit(call.GetArgument("since"),
                                                                     call.GetArgument("limit")));
    }
  }
}
