// Binds a handler to each route of the route table, registers them with Orthanc, and the access filter.
#include "Routes.h"

#include "Http/RouteTable.h"
#include "Orthanc/AccessFilter.h"
#include "Orthanc/Handlers.h"
#include "Orthanc/PartnerHandlers.h"
#include "Orthanc/RequestState.h"
#include "PluginContext.h"

#include <stdexcept>

namespace Inbound
{
  namespace
  {
    // Refusals that say something about the client (garbage, guessing, floods, malware)
    // count towards an automatic ban; the ordinary ones of a legitimate sender do not.
    Offence ClassifyRefusal(int status, const std::string& code)
    {
      // A page meets too-many-partial-files by design (it backs off, as when busy) and
      // parts-missing when it resumes a file (doc/Api.md, "Files in parts").
      if (code == "rate-limited" || code == "server-busy" || code == "too-many-partial-files")
        return Offence_LimitHit;
      if (status >= 500 || (status == 422 && code != "malware") || code == "upload-closed" ||
          code == "empty-upload" || code == "duplicate-instance" || code == "parts-missing")
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

    // Every route's handler runs through here: the refusals left to it by the filter, then for
    // public routes the client's request rate, then the methods of the route table; refusals of
    // public routes are audited and counted towards an automatic ban.
    template <RouteId id, void (*Handler)(RestCall&)>
    OrthancPluginErrorCode Handle(OrthancPluginRestOutput* output, const char* url,
                                  const OrthancPluginHttpRequest* request)
    {
      static const Route& route = GetRoute(id);
      const bool isPublic = (route.routeClass == RouteClass_Public);
      StartReservation();
      PluginContext& context = PluginContext::Get();
      RestCall call(context.GetOrthanc(), output, request);
      call.Run([url, isPublic](RestCall& c) {
        CheckRequest(c, url);
        if (isPublic)
        {
          PluginContext::Get().GetLimits().CheckRequestRate(GetCurrentClientAddress());
        }
        if (route.methods == nullptr || c.Expect(route.methods))
        {
          Handler(c);
        }
      });
      ReleaseReservation();
      if (isPublic && call.GetRefusalStatus() != 0 &&
          call.GetRefusalCode() != "method-override")  // the filter's
      {
        context.GetLimits().RecordRefusal(
          GetCurrentClientAddress(), call.GetRefusalStatus(), call.GetRefusalCode(),
          std::string(url) + ": " + call.GetRefusalMessage(),
          ClassifyRefusal(call.GetRefusalStatus(), call.GetRefusalCode()));
      }
      return OrthancPluginErrorCode_Success;
    }

    // The stream the filter admitted ends with its reader (same thread: doc/Api.md "Partner
    // routes"), also after a client went away.
    void FinalizePartnerStream(OrthancPluginServerChunkedRequestReader* reader)
    {
      PartnerHandlers::Finalize(reader);
      ReleaseReservation();
      ReleasePartnerStream();
    }
  }

  void RegisterRoutes(OrthancPluginContext* context)
  {
    // Each route of the table (Http/RouteTable.cpp) with its handler.
    static const std::pair<RouteId, OrthancPluginRestCallback> kHandlers[] = {
      {RouteId_Root, Handle<RouteId_Root, Handlers::ServeRoot>},
      {RouteId_Auth, Handle<RouteId_Auth, Handlers::ServeAuth>},
      {RouteId_Page, Handle<RouteId_Page, Handlers::ServePage>},
      {RouteId_Asset, Handle<RouteId_Asset, Handlers::ServeAsset>},
      {RouteId_Info, Handle<RouteId_Info, Handlers::ApiInfo>},
      {RouteId_Logo, Handle<RouteId_Logo, Handlers::ApiLogo>},
      {RouteId_Uploads, Handle<RouteId_Uploads, Handlers::ApiOpen>},
      {RouteId_Upload, Handle<RouteId_Upload, Handlers::ApiUpload>},
      {RouteId_UploadFile, Handle<RouteId_UploadFile, Handlers::ApiFile>},
      {RouteId_UploadComplete, Handle<RouteId_UploadComplete, Handlers::ApiComplete>},
      {RouteId_UploadPart, Handle<RouteId_UploadPart, Handlers::ApiPart>},
      {RouteId_UploadAssemble, Handle<RouteId_UploadAssemble, Handlers::ApiAssemble>},
      {RouteId_RequestPage, Handle<RouteId_RequestPage, Handlers::ServeRequestPage>},
      {RouteId_RequestLink, Handle<RouteId_RequestLink, Handlers::ApiRequestLink>},
      {RouteId_RequestChallenge, Handle<RouteId_RequestChallenge, Handlers::ApiRequestChallenge>},
      {RouteId_AdminUploads, Handle<RouteId_AdminUploads, Handlers::AdminUploads>},
      {RouteId_AdminUpload, Handle<RouteId_AdminUpload, Handlers::AdminUpload>},
      {RouteId_AdminAudit, Handle<RouteId_AdminAudit, Handlers::AdminAudit>},
      {RouteId_AdminLimits, Handle<RouteId_AdminLimits, Handlers::AdminLimits>},
      {RouteId_AdminLimitsLift, Handle<RouteId_AdminLimitsLift, Handlers::AdminLift>},
      {RouteId_AdminBans, Handle<RouteId_AdminBans, Handlers::AdminBans>},
      {RouteId_AdminBan, Handle<RouteId_AdminBan, Handlers::AdminBan>},
      {RouteId_AdminGateways, Handle<RouteId_AdminGateways, Handlers::AdminGateways>},
      {RouteId_AdminHeldPullRetry, Handle<RouteId_AdminHeldPullRetry, Handlers::AdminReleaseHeldPull>},
      {RouteId_AdminSealing, Handle<RouteId_AdminSealing, Handlers::AdminSealing>},
      {RouteId_AdminNotifications, Handle<RouteId_AdminNotifications, Handlers::AdminNotifications>},
      {RouteId_AdminNotificationRetry,
       Handle<RouteId_AdminNotificationRetry, Handlers::AdminNotificationRetry>},
      {RouteId_AdminModalities, Handle<RouteId_AdminModalities, Handlers::AdminModalities>},
      {RouteId_AdminStudy, Handle<RouteId_AdminStudy, Handlers::AdminStudy>},
      {RouteId_AdminRelease, Handle<RouteId_AdminRelease, Handlers::AdminRelease>},
      {RouteId_AdminCandidates, Handle<RouteId_AdminCandidates, Handlers::AdminCandidates>},
      {RouteId_AdminForwards, Handle<RouteId_AdminForwards, Handlers::AdminForwards>},
      {RouteId_AdminForwardRetry, Handle<RouteId_AdminForwardRetry, Handlers::AdminForwardRetry>},
      {RouteId_AdminRequests, Handle<RouteId_AdminRequests, Handlers::AdminRequests>},
      {RouteId_AdminRequest, Handle<RouteId_AdminRequest, Handlers::AdminRequest>},
      {RouteId_AdminPartners, Handle<RouteId_AdminPartners, Handlers::AdminPartners>},
      {RouteId_AdminPartnerToken, Handle<RouteId_AdminPartnerToken, Handlers::AdminPartnerToken>},
      {RouteId_AdminPartner, Handle<RouteId_AdminPartner, Handlers::AdminPartner>},
      {RouteId_AdminPage, Handle<RouteId_AdminPage, Handlers::ServeAdminPage>},
      {RouteId_AdminFile, Handle<RouteId_AdminFile, Handlers::ServeAdminFile>},
      {RouteId_PeerOutbox, Handle<RouteId_PeerOutbox, Handlers::PeerOutbox>},
      {RouteId_PeerManifest, Handle<RouteId_PeerManifest, Handlers::PeerManifest>},
      {RouteId_PeerItem, Handle<RouteId_PeerItem, Handlers::PeerItem>},
      {RouteId_PeerItemPart, Handle<RouteId_PeerItemPart, Handlers::PeerItemPart>},
      {RouteId_PeerAck, Handle<RouteId_PeerAck, Handlers::PeerAck>},
      {RouteId_PeerRequests, Handle<RouteId_PeerRequests, Handlers::PeerRequests>},
      {RouteId_PartnerStudies, nullptr},  // chunked: below
      {RouteId_PartnerStudy, nullptr},
    };
    static_assert(sizeof(kHandlers) / sizeof(kHandlers[0]) == RouteId_Count,
                  "every route of the table has one handler");

    for (const Route& route : GetRoutes())
    {
      if (IsChunkedRoute(route))
      {
        // POST only: a NULL GET/DELETE handler answers 405, PUT has no factory.
        OrthancPluginRegisterChunkedRestCallback(
          context, GetOrthancPattern(route).c_str(), nullptr, PartnerHandlers::Factory, nullptr,
          nullptr, PartnerHandlers::AddChunk, PartnerHandlers::Execute, FinalizePartnerStream);
        continue;
      }
      OrthancPluginRestCallback callback = nullptr;
      for (const auto& handler : kHandlers)
      {
        if (handler.first == route.id)
        {
          if (callback != nullptr)
          {
            throw std::logic_error(std::string("Two handlers for the route ") + route.path);
          }
          callback = handler.second;
        }
      }
      if (callback == nullptr)
      {
        throw std::logic_error(std::string("No handler for the route ") + route.path);
      }
      OrthancPluginRegisterRestCallbackNoLock(context, GetOrthancPattern(route).c_str(), callback);
    }
    OrthancPluginRegisterIncomingHttpRequestFilter2(context, AccessFilter);
  }
}
