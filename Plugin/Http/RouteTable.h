// The plugin's routes, declared once: Orthanc registers them and the access filter classifies them from this table.
#pragma once

#include <Enumerations.h>

#include <string>
#include <vector>

namespace Inbound
{
  // Who may call a route (doc/Api.md, "Who may call what").
  enum RouteClass
  {
    RouteClass_Public,     // the sender's routes: no account
    RouteClass_Challenge,  // answered by the plugin itself with a Basic challenge (login)
    RouteClass_Peer,       // a gateway's outbox and request links: configured pullers only
    RouteClass_Admin,      // everything else: the plugin's admin routes and all of Orthanc
    RouteClass_Partner     // STOW-RS of partner sites: a partner's Bearer token, POST only
  };

  const char* EnumerationToString(RouteClass routeClass);

  // One value per route of the table, in the order Orthanc registers them.
  enum RouteId
  {
    RouteId_Root,
    RouteId_Auth,
    RouteId_Page,
    RouteId_Asset,
    RouteId_Info,
    RouteId_Logo,
    RouteId_Uploads,
    RouteId_Upload,
    RouteId_UploadFile,
    RouteId_UploadComplete,
    RouteId_UploadPart,
    RouteId_UploadAssemble,
    RouteId_RequestPage,
    RouteId_RequestLink,
    RouteId_RequestChallenge,
    RouteId_AdminUploads,
    RouteId_AdminUpload,
    RouteId_AdminAudit,
    RouteId_AdminLimits,
    RouteId_AdminLimitsLift,
    RouteId_AdminBans,
    RouteId_AdminBan,
    RouteId_AdminGateways,
    RouteId_AdminHeldPullRetry,
    RouteId_AdminSealing,
    RouteId_AdminNotifications,
    RouteId_AdminNotificationRetry,
    RouteId_AdminModalities,
    RouteId_AdminStudy,
    RouteId_AdminRelease,
    RouteId_AdminCandidates,
    RouteId_AdminForwards,
    RouteId_AdminForwardRetry,
    RouteId_AdminRequests,
    RouteId_AdminRequest,
    RouteId_AdminPartners,
    RouteId_AdminPartnerToken,
    RouteId_AdminPartner,
    RouteId_AdminPage,
    RouteId_AdminFile,
    RouteId_PeerOutbox,
    RouteId_PeerManifest,
    RouteId_PeerItem,
    RouteId_PeerItemPart,
    RouteId_PeerAck,
    RouteId_PeerRequests,
    RouteId_PartnerStudies,
    RouteId_PartnerStudy,
    RouteId_Count  // not a route
  };

  // A route as declared. "path" is written as doc/Api.md writes it: literal segments and
  // parameters in braces. A parameter spans one segment, or the rest of the path when its name
  // ends in "*"; a path ending in "/" also matches without that slash (Orthanc drops trailing
  // slashes before routing). Parameters of routes open without an admin account are matched
  // strictly by the filter (see RouteTable.cpp); Orthanc's pattern accepts any segment and the
  // handler validates.
  struct Route
  {
    RouteId id;
    const char* path;
    RouteClass routeClass;
    bool classForGetOnly;  // the class holds for GET; other methods are admin-class
    const char* methods;   // what the handler answers ("GET,DELETE"); nullptr: any method
  };

  // The table, in registration order.
  const std::vector<Route>& GetRoutes();

  const Route& GetRoute(RouteId id);

  // The regular expression Orthanc is given to register the route.
  std::string GetOrthancPattern(const Route& route);

  // The route that the access filter matches "uri" to (anchored, strict parameters), or nullptr:
  // not one of the plugin's routes as the filter sees it, hence admin-class (default deny).
  const Route* MatchRoute(const std::string& uri);

  // Partner routes are read in chunks (Orthanc's chunked REST callback, doc/Api.md "Partner
  // sites"), so that a stream is held part by part, never whole.
  inline bool IsChunkedRoute(const Route& route)
  {
    return route.routeClass == RouteClass_Partner;
  }

  // The class of a request by its method and path; anything not in the table is admin-class.
  RouteClass ClassifyRoute(Orthanc::HttpMethod method, const std::string& uri);

  // "text" (a path, or a sentence quoting one) with the token of every request link path
  // ("/inbound/r/<token>", "/inbound/api/requests/<token>...") replaced by "-": a token is
  // the key to its request (doc/Requests.md) and is never written to the audit trail or a log.
  std::string MaskRequestTokens(const std::string& text);
}
