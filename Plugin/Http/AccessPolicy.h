// Who may call which route: the access filter's verdict on a request before its body is read.
#pragma once

#include "Configuration.h"
#include "Http/AddressRules.h"
#include "Http/PartnerDirectory.h"
#include "Http/RequestSafety.h"
#include "Http/RouteTable.h"

#include <Enumerations.h>

#include <map>
#include <string>

namespace Inbound
{
  // What the access filter knows of a request before Orthanc reads its body.
  struct AccessRequest
  {
    Orthanc::HttpMethod method = Orthanc::HttpMethod_Get;
    std::string uri;            // as Orthanc routes it (decoded, dot segments removed)
    std::string authorization;  // the raw Authorization header
    std::string client;         // the client's address (after TrustedProxies)
    RequestFacts facts;
    bool hasBody = false;
    int64_t bodyBytes = -1;     // Content-Length; -1 when absent (chunked)
    bool banned = false;        // the client's address is banned
  };

  enum AccessVerdict
  {
    AccessVerdict_Public,          // no account needed: the public limits decide next
    AccessVerdict_Admin,           // an admin from an admin network: no public limits
    AccessVerdict_Puller,          // a configured puller from its network
    AccessVerdict_Partner,         // a partner's token on its STOW-RS route, from its networks
    AccessVerdict_Handler,         // refused by the plugin's route handler with its JSON error
                                   // (method override, cross-site write) before it acts
    AccessVerdict_Banned,
    AccessVerdict_MethodOverride,  // on a route of Orthanc itself, or with a body
    AccessVerdict_Multipart,       // a multipart form or X-File-* header without an account
    AccessVerdict_NotAdminNetwork,
    AccessVerdict_Unauthorized,    // no or wrong credentials
    AccessVerdict_CrossSite        // an admin write that another site's page could have sent
  };

  struct AccessDecision
  {
    AccessVerdict verdict;
    RouteClass routeClass;
    bool failedLogin;  // credentials were given and were wrong
    const PartnerSettings* partner = nullptr;  // AccessVerdict_Partner: whose token it is
    std::string refusal = "";  // a partner route's audit code; the client sees a plain 403

    bool IsAllowed() const
    {
      return verdict == AccessVerdict_Public || verdict == AccessVerdict_Admin ||
             verdict == AccessVerdict_Puller || verdict == AccessVerdict_Handler ||
             verdict == AccessVerdict_Partner;
    }
  };

  const char* EnumerationToString(AccessVerdict verdict);

  // The plugin's door (doc/Architecture.md, fact 2): Orthanc's own authentication is off, so this
  // policy decides every request before Orthanc reads its body. Default deny: a route that is
  // not known to be public needs the credentials of one of Orthanc's "RegisteredUsers".
  class AccessPolicy
  {
  private:
    std::map<std::string, std::string> users_;
    AddressRules trustedProxies_;
    struct PullerRule
    {
      std::string username;
      std::string password;
      AddressRules networks;
    };
    std::vector<PullerRule> pullers_;
    AddressRules adminNetworks_;
    Role role_;
    PartnerDirectory partners_;

    AccessDecision DecidePartner(const AccessRequest& request, AccessDecision decision) const;

    static bool DecodeBasic(std::string& user, std::string& password,
                            const std::string& authorization);

  public:
    // Throws std::invalid_argument for a bad network of a puller.
    AccessPolicy(const std::map<std::string, std::string>& users,
                 const AddressRules& trustedProxies, const std::vector<PullerAccount>& pullers = {},
                 const AddressRules& adminNetworks = AddressRules({"127.0.0.0/8", "::1"}),
                 Role role = Role_Standalone, const std::vector<PartnerSettings>& partners = {});

    const PartnerDirectory& GetPartners() const
    {
      return partners_;
    }

    // The route table's class of a request (Http/RouteTable.h).
    static RouteClass Classify(Orthanc::HttpMethod method, const std::string& uri)
    {
      return ClassifyRoute(method, uri);
    }

    // The plugin's own routes ("/" and everything under "/inbound/"): their handlers can answer
    // a refusal with a JSON body, which the filter cannot.
    static bool IsPluginRoute(const std::string& uri);

    // Routes that need an admin: the admin class, and the upload and partner routes of an
    // Internal Orthanc, which has no public side.
    bool NeedsAdmin(RouteClass routeClass) const;

    // The whole decision, in this order: bans (before credentials, on every route class),
    // method overrides, multipart forms on routes open without an account, then per route
    // class: puller credentials and networks; admin networks, credentials, same-origin writes.
    AccessDecision Decide(const AccessRequest& request) const;

    // For a route handler of the plugin: the refusal that Decide() left to it, if any
    // (ApiError 400 method-override, 403 cross-site); does nothing otherwise.
    void CheckInHandler(Orthanc::HttpMethod method, const std::string& uri,
                        const RequestFacts& facts) const;

    bool IsAdminNetwork(const std::string& address) const
    {
      return adminNetworks_.Contains(address);
    }

    // "PUT /inbound/api/uploads/{id}/files/{sha256}" and its parts (IsPartRoute): the only
    // routes that take big bodies.
    static bool IsFileRoute(const std::string& uri)
    {
      const Route* route = MatchRoute(uri);
      return route != nullptr && (route->id == RouteId_UploadFile || route->id == RouteId_UploadPart);
    }

    // "PUT /inbound/api/uploads/{id}/files/{sha256}/parts/{n}": at most Upload.PartBytes.
    static bool IsPartRoute(const std::string& uri)
    {
      const Route* route = MatchRoute(uri);
      return route != nullptr && route->id == RouteId_UploadPart;
    }

    // "authorization" is the raw Authorization header (may be empty).
    bool IsAuthorized(const std::string& authorization) const;

    // The admin who made an admin call, for the records ("createdBy"): the user of the
    // Basic credentials that the filter checked; "admin" when there are none (a proxy that
    // logs in for the admin).
    static std::string GetAdminName(const std::string& authorization);

    // A configured puller's credentials, from one of its networks.
    bool IsPuller(const std::string& authorization, const std::string& clientAddress) const;

    bool IsAllowed(Orthanc::HttpMethod method, const std::string& uri,
                   const std::string& authorization, const std::string& clientAddress = "") const;

    const AddressRules& GetTrustedProxies() const
    {
      return trustedProxies_;
    }
  };
}
