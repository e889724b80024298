// The route table and the two regular expressions derived from each route: Orthanc's and the filter's.
#include "RouteTable.h"

#include <boost/regex.hpp>

#include <cctype>
#include <cstring>
#include <stdexcept>

namespace Inbound
{
  namespace
  {
    // Every route of the plugin (doc/Api.md lists each with its methods; a unit test checks
    // that the two agree). Adding a route: a RouteId, a row here, a handler bound to it in
    // Plugin/Orthanc/Routes.cpp, a row in doc/Api.md.
    const std::vector<Route> kRoutes = {
      {RouteId_Root, "/", RouteClass_Challenge, true, nullptr},
      {RouteId_Auth, "/inbound/auth", RouteClass_Challenge, false, nullptr},
      {RouteId_Page, "/inbound/", RouteClass_Public, false, "GET"},
      {RouteId_Asset, "/inbound/app/{file*}", RouteClass_Public, false, "GET"},
      {RouteId_Info, "/inbound/api/info", RouteClass_Public, false, "GET"},
      {RouteId_Logo, "/inbound/api/logo", RouteClass_Public, false, "GET"},
      {RouteId_Uploads, "/inbound/api/uploads", RouteClass_Public, false, "POST"},
      {RouteId_Upload, "/inbound/api/uploads/{id}", RouteClass_Public, false, "GET,DELETE"},
      {RouteId_UploadFile, "/inbound/api/uploads/{id}/files/{sha256}", RouteClass_Public, false,
       "PUT"},
      {RouteId_UploadComplete, "/inbound/api/uploads/{id}/complete", RouteClass_Public, false,
       "POST"},
      // Big files in parts (doc/Api.md, "Files in parts").
      {RouteId_UploadPart, "/inbound/api/uploads/{id}/files/{sha256}/parts/{n}", RouteClass_Public,
       false, "PUT"},
      {RouteId_UploadAssemble, "/inbound/api/uploads/{id}/files/{sha256}/assemble",
       RouteClass_Public, false, "POST"},
      // Request links (doc/Requests.md): the page for a link, what it shows, its challenge.
      {RouteId_RequestPage, "/inbound/r/{token}", RouteClass_Public, false, "GET"},
      {RouteId_RequestLink, "/inbound/api/requests/{token}", RouteClass_Public, false, "GET"},
      {RouteId_RequestChallenge, "/inbound/api/requests/{token}/challenge", RouteClass_Public,
       false, "POST"},
      {RouteId_AdminUploads, "/inbound/admin/uploads", RouteClass_Admin, false, "GET"},
      {RouteId_AdminUpload, "/inbound/admin/uploads/{id}", RouteClass_Admin, false, "GET,DELETE"},
      {RouteId_AdminAudit, "/inbound/admin/audit", RouteClass_Admin, false, "GET"},
      {RouteId_AdminLimits, "/inbound/admin/limits", RouteClass_Admin, false, "GET"},
      {RouteId_AdminLimitsLift, "/inbound/admin/limits/lift", RouteClass_Admin, false, "POST"},
      {RouteId_AdminBans, "/inbound/admin/bans", RouteClass_Admin, false, "GET,POST"},
      // A ban's entry may be a CIDR range, whose "/" is part of the path.
      {RouteId_AdminBan, "/inbound/admin/bans/{entry*}", RouteClass_Admin, false, "DELETE"},
      {RouteId_AdminGateways, "/inbound/admin/gateways", RouteClass_Admin, false, "GET"},
      {RouteId_AdminHeldPullRetry, "/inbound/admin/gateways/{name}/held/{id}/retry",
       RouteClass_Admin, false, "POST"},
      {RouteId_AdminSealing, "/inbound/admin/sealing", RouteClass_Admin, false, "GET"},
      {RouteId_AdminNotifications, "/inbound/admin/notifications", RouteClass_Admin, false, "GET"},
      {RouteId_AdminNotificationRetry, "/inbound/admin/notifications/{id}/retry", RouteClass_Admin,
       false, "POST"},
      {RouteId_AdminModalities, "/inbound/admin/modalities", RouteClass_Admin, false, "GET"},
      {RouteId_AdminStudy, "/inbound/admin/studies/{orthancStudyId}", RouteClass_Admin, false,
       "GET"},
      {RouteId_AdminRelease, "/inbound/admin/uploads/{id}/release", RouteClass_Admin, false, "POST"},
      // The reconciliation assistant (doc/Reconciliation.md): read only, C-FINDs to the sources.
      {RouteId_AdminCandidates, "/inbound/admin/uploads/{id}/candidates", RouteClass_Admin, false,
       "GET"},
      {RouteId_AdminForwards, "/inbound/admin/forwards", RouteClass_Admin, false, "GET"},
      {RouteId_AdminForwardRetry, "/inbound/admin/forwards/{id}/retry", RouteClass_Admin, false,
       "POST"},
      {RouteId_AdminRequests, "/inbound/admin/requests", RouteClass_Admin, false, "GET,POST"},
      {RouteId_AdminRequest, "/inbound/admin/requests/{id}", RouteClass_Admin, false,
       "GET,DELETE"},
      // Partner sites (doc/Api.md); "{partner}" never matches "token" (GetStrictPattern).
      {RouteId_AdminPartners, "/inbound/admin/partners", RouteClass_Admin, false, "GET"},
      {RouteId_AdminPartnerToken, "/inbound/admin/partners/token", RouteClass_Admin, false,
       "POST"},
      {RouteId_AdminPartner, "/inbound/admin/partners/{partner}", RouteClass_Admin, false, "GET"},
      // The admin page's entry lets the plugin send a browser without credentials to the login
      // prompt; its files, like every admin route, stay closed.
      {RouteId_AdminPage, "/inbound/admin/ui/", RouteClass_Challenge, true, "GET"},
      {RouteId_AdminFile, "/inbound/admin/ui/{file*}", RouteClass_Admin, false, "GET"},
      {RouteId_PeerOutbox, "/inbound/peer/outbox", RouteClass_Peer, false, "GET"},
      {RouteId_PeerManifest, "/inbound/peer/outbox/{id}", RouteClass_Peer, false, "GET"},
      {RouteId_PeerItem, "/inbound/peer/outbox/{id}/items/{sha256}", RouteClass_Peer, false, "GET"},
      // A big item piece by piece (the manifest gives its "partBytes").
      {RouteId_PeerItemPart, "/inbound/peer/outbox/{id}/items/{sha256}/parts/{n}", RouteClass_Peer,
       false, "GET"},
      {RouteId_PeerAck, "/inbound/peer/outbox/{id}/ack", RouteClass_Peer, false, "POST"},
      // Request links the Internal pushes out (doc/Requests.md, "Gateways").
      {RouteId_PeerRequests, "/inbound/peer/requests", RouteClass_Peer, false, "GET,POST"},
      // Partner sites' STOW-RS (doc/Api.md, "Partner sites"): a partner's token, nothing else.
      {RouteId_PartnerStudies, "/inbound/dicom-web/studies", RouteClass_Partner, false, "POST"},
      {RouteId_PartnerStudy, "/inbound/dicom-web/studies/{study}", RouteClass_Partner, false,
       "POST"},
    };

    // What the filter accepts for a parameter. Upload ids and file names are letters and
    // digits; an asset's name cannot start with a dot. None of them can hold "/" or "..", so
    // no path open without an account reaches another route.
    std::string GetStrictPattern(const std::string& name, bool rest)
    {
      if (name == "id")
        return "[A-Za-z0-9]{1,64}";
      if (name == "sha256")
        return "[A-Za-z0-9]{1,128}";
      if (name == "n")  // a part's number; the handler answers 400 bad-part unless decimal
        return "[A-Za-z0-9]{1,20}";
      if (name == "file")
        return "[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}";
      if (name == "token")  // a request link's token: Crypto::RandomToken, URL-safe base64
        return "[A-Za-z0-9_-]{16,128}";
      if (name == "partner")  // an id of Inbound.Partners; "token" is the token route's
        return "(?!token$)[a-z0-9-]{1,32}";
      if (name == "study")  // a StudyInstanceUID: digits and single dots, 64 at most (last segment)
        return "(?=[0-9.]{1,64}$)[0-9]+(?:\\.[0-9]+)*";
      return rest ? ".+" : "[^/]+";
    }

    // Turns a route's path into a regular expression, parameters by "parameter".
    template <typename ParameterPattern>
    std::string ToPattern(const char* path, ParameterPattern parameter)
    {
      const std::string text(path);
      std::string pattern;
      size_t i = 0;
      while (i < text.size())
      {
        if (text[i] == '{')
        {
          const size_t close = text.find('}', i);
          if (close == std::string::npos)
          {
            throw std::logic_error("Route path with an unclosed parameter: " + text);
          }
          std::string name = text.substr(i + 1, close - i - 1);
          const bool rest = !name.empty() && name.back() == '*';
          if (rest)
          {
            name.pop_back();
          }
          pattern += parameter(name, rest);
          i = close + 1;
        }
        else
        {
          const char c = text[i++];
          if (!(isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' || c == '_'))
          {
            throw std::logic_error("Route path with an unexpected character: " + text);
          }
          pattern += c;
        }
      }
      if (pattern.size() > 1 && pattern.back() == '/')
      {
        pattern += '?';
      }
      return pattern;
    }

    struct CompiledRoute
    {
      const Route* route;
      boost::regex strict;
    };

    const std::vector<CompiledRoute>& GetCompiledRoutes()
    {
      static const std::vector<CompiledRoute> compiled = [] {
        std::vector<CompiledRoute> result;
        for (const Route& route : kRoutes)
        {
          result.push_back(CompiledRoute{
            &route, boost::regex(ToPattern(route.path, [](const std::string& name, bool rest) {
              return GetStrictPattern(name, rest);
            }))});
        }
        return result;
      }();
      return compiled;
    }
  }

  const char* EnumerationToString(RouteClass routeClass)
  {
    switch (routeClass)
    {
      case RouteClass_Public:
        return "public";
      case RouteClass_Challenge:
        return "login";
      case RouteClass_Peer:
        return "puller";
      case RouteClass_Admin:
        return "admin";
      case RouteClass_Partner:
        return "partner";
      default:
        return "unknown";
    }
  }

  const std::vector<Route>& GetRoutes()
  {
    return kRoutes;
  }

  const Route& GetRoute(RouteId id)
  {
    for (const Route& route : kRoutes)
    {
      if (route.id == id)
      {
        return route;
      }
    }
    throw std::logic_error("A route id without a row in the route table");
  }

  std::string GetOrthancPattern(const Route& route)
  {
    return ToPattern(route.path, [](const std::string& name, bool rest) {
      // "/inbound/admin/partners/token" is not a partner's (RouteId_AdminPartnerToken).
      return std::string(rest ? "(.+)" : name == "partner" ? "((?!token$)[^/]+)" : "([^/]+)");
    });
  }

  const Route* MatchRoute(const std::string& uri)
  {
    for (const CompiledRoute& compiled : GetCompiledRoutes())
    {
      if (boost::regex_match(uri, compiled.strict))
      {
        return compiled.route;
      }
    }
    return nullptr;
  }

  RouteClass ClassifyRoute(Orthanc::HttpMethod method, const std::string& uri)
  {
    const Route* route = MatchRoute(uri);
    if (route == nullptr || (route->classForGetOnly && method != Orthanc::HttpMethod_Get))
    {
      return RouteClass_Admin;
    }
    return route->routeClass;
  }

  std::string MaskRequestTokens(const std::string& text)
  {
    static const char* const kPrefixes[] = {"/inbound/r/", "/inbound/api/requests/"};
    std::string result;
    result.reserve(text.size());
    size_t i = 0;
    while (i < text.size())
    {
      bool masked = false;
      for (const char* prefix : kPrefixes)
      {
        const size_t length = strlen(prefix);
        if (text.compare(i, length, prefix) == 0)
        {
          result.append(prefix);
          i += length;
          // Whatever the token holds up to the next "/", "?", "#" or space: a forged one
          // may hold anything.
          size_t end = i;
          while (end < text.size() && text[end] != '/' && text[end] != '?' && text[end] != '#' &&
                 text[end] != ' ' && text[end] != ':')
          {
            end++;
          }
          if (end > i)
          {
            result.push_back('-');
          }
          i = end;
          masked = true;
          break;
        }
      }
      if (!masked)
      {
        result.push_back(text[i]);
        i++;
      }
    }
    return result;
  }
}
