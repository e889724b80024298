// The access filter's decisions: bans, admin networks and credentials, method overrides, CSRF.
#include "AccessPolicy.h"

#include "Http/ApiError.h"
#include "Toolbox/Crypto.h"

#include <Toolbox.h>


namespace Inbound
{
  namespace
  {
    // Admin requests that only the site's own pages (or scripts that say so) may make: the
    // writes, and the GET of an upload's candidates, which makes C-FINDs to the PACS and the
    // worklist and takes the assistant's threads (doc/Security.md, adversary 4): another
    // site's page could otherwise drive them with an <img> of an upload id its sender knows.
    bool NeedsSameOrigin(Orthanc::HttpMethod method, const std::string& uri)
    {
      if (IsWrite(method))
      {
        return true;
      }
      const Route* route = MatchRoute(uri);
      return method == Orthanc::HttpMethod_Get && route != nullptr &&
             route->id == RouteId_AdminCandidates;
    }
  }

  AccessPolicy::AccessPolicy(const std::map<std::string, std::string>& users,
                             const AddressRules& trustedProxies,
                             const std::vector<PullerAccount>& pullers,
                             const AddressRules& adminNetworks, Role role,
                             const std::vector<PartnerSettings>& partners) :
    users_(users),
    trustedProxies_(trustedProxies),
    adminNetworks_(adminNetworks),
    role_(role),
    partners_(partners)
  {
    for (const PullerAccount& puller : pullers)
    {
      pullers_.push_back(PullerRule{puller.username, puller.password, AddressRules(puller.networks)});
    }
  }

  bool AccessPolicy::IsPluginRoute(const std::string& uri)
  {
    return uri == "/" || uri == "/inbound" || uri.compare(0, 9, "/inbound/") == 0;
  }

  bool AccessPolicy::NeedsAdmin(RouteClass routeClass) const
  {
    return routeClass == RouteClass_Admin ||
           ((routeClass == RouteClass_Public || routeClass == RouteClass_Partner) &&
            role_ == Role_Internal);
  }

  AccessDecision AccessPolicy::DecidePartner(const AccessRequest& request,
                                             AccessDecision decision) const
  {
    // The token is checked first and whatever else is wrong, so that a wrong token always
    // counts as a failed login (lockout, auto-ban); every refusal is the same plain 403.
    decision.partner = partners_.Authenticate(request.authorization, request.client,
                                              decision.refusal);
    if (decision.partner == nullptr)
    {
      decision.verdict = AccessVerdict_Unauthorized;
      decision.failedLogin = !request.authorization.empty() &&
                             decision.refusal == "partner-bad-token";
    }
    else if (request.method != Orthanc::HttpMethod_Post || !request.facts.stowMultipart)
    {
      // Only a STOW-RS body: Orthanc core would read a multipart/form-data body itself.
      decision.partner = nullptr;
      decision.verdict = AccessVerdict_Unauthorized;
      decision.refusal = "partner-not-stow";
    }
    else if (request.bodyBytes > 0 &&
             static_cast<uint64_t>(request.bodyBytes) > decision.partner->limits.maxUnchunkedBytes)
    {
      // Orthanc reads a body with a Content-Length whole into memory (doc/Configuration.md,
      // PartnerLimits.MaxUnchunkedBytes).
      decision.partner = nullptr;
      decision.verdict = AccessVerdict_Unauthorized;
      decision.refusal = "partner-too-large";
    }
    else
    {
      decision.verdict = AccessVerdict_Partner;
    }
    return decision;
  }

  AccessDecision AccessPolicy::Decide(const AccessRequest& request) const
  {
    AccessDecision decision{AccessVerdict_Public, Classify(request.method, request.uri), false};
    const RouteClass routeClass = decision.routeClass;
    const bool needsAdmin = NeedsAdmin(routeClass);

    if (request.banned)
    {
      decision.verdict = AccessVerdict_Banned;
    }
    else if (request.facts.methodOverride)
    {
      // Orthanc has already turned "GET ...?_method=DELETE" into a DELETE: a link in a
      // sender's message would be enough. The plugin's handlers refuse it with a JSON answer;
      // Orthanc's own routes, and bodies, are refused here.
      decision.verdict = (IsPluginRoute(request.uri) && !request.hasBody)
                           ? AccessVerdict_Handler : AccessVerdict_MethodOverride;
    }
    else if (routeClass == RouteClass_Partner && !needsAdmin)
    {
      decision = DecidePartner(request, decision);
    }
    else if (!needsAdmin && request.facts.multipartForm)
    {
      decision.verdict = AccessVerdict_Multipart;
    }
    else if (routeClass == RouteClass_Peer)
    {
      if (IsPuller(request.authorization, request.client))
      {
        decision.verdict = AccessVerdict_Puller;
      }
      else
      {
        decision.verdict = AccessVerdict_Unauthorized;
        decision.failedLogin = !request.authorization.empty();
      }
    }
    else if (routeClass == RouteClass_Challenge || needsAdmin)
    {
      if (!adminNetworks_.Contains(request.client))
      {
        decision.verdict = AccessVerdict_NotAdminNetwork;
      }
      else if (routeClass == RouteClass_Challenge)
      {
        decision.verdict = AccessVerdict_Public;  // the handler asks for the credentials
      }
      else if (!IsAuthorized(request.authorization))
      {
        decision.verdict = AccessVerdict_Unauthorized;
        decision.failedLogin = !request.authorization.empty();
      }
      else if (NeedsSameOrigin(request.method, request.uri) &&
               !IsSameOriginWrite(request.facts))
      {
        // Left to the plugin's handler for its JSON answer only when Orthanc will call it
        // (a multipart form it answers itself) and the body is small: a page of another
        // site must not make an admin's browser fill Orthanc's memory with a big body.
        static const int64_t kMaxRefusedBody = 64 * 1024;
        const bool smallBody = !request.hasBody ||
                               (request.bodyBytes >= 0 && request.bodyBytes <= kMaxRefusedBody);
        decision.verdict = (IsPluginRoute(request.uri) && !request.facts.multipartForm && smallBody)
                             ? AccessVerdict_Handler : AccessVerdict_CrossSite;
      }
      else
      {
        decision.verdict = AccessVerdict_Admin;
      }
    }
    return decision;
  }

  void AccessPolicy::CheckInHandler(Orthanc::HttpMethod method, const std::string& uri,
                                    const RequestFacts& facts) const
  {
    if (facts.methodOverride)
    {
      throw ApiError(400, "method-override",
                     "The \"_method\" argument and X-HTTP-Method-Override are not accepted; "
                     "send the request with its own method");
    }
    if (NeedsAdmin(Classify(method, uri)) && NeedsSameOrigin(method, uri) &&
        !IsSameOriginWrite(facts))
    {
      throw ApiError(403, "cross-site",
                     "Admin changes (and the candidates' queries) are accepted from this site's "
                     "own pages only; scripts send the header \"X-Requested-With: "
                     "XMLHttpRequest\"");
    }
  }

  const char* EnumerationToString(AccessVerdict verdict)
  {
    switch (verdict)
    {
      case AccessVerdict_Public:
        return "public";
      case AccessVerdict_Admin:
        return "admin";
      case AccessVerdict_Puller:
        return "puller";
      case AccessVerdict_Partner:
        return "partner";
      case AccessVerdict_Handler:
        return "handler";
      case AccessVerdict_Banned:
        return "banned";
      case AccessVerdict_MethodOverride:
        return "method-override";
      case AccessVerdict_Multipart:
        return "multipart-refused";
      case AccessVerdict_NotAdminNetwork:
        return "not-admin-network";
      case AccessVerdict_Unauthorized:
        return "unauthorized";
      case AccessVerdict_CrossSite:
        return "cross-site";
      default:
        return "unknown";
    }
  }

  bool AccessPolicy::DecodeBasic(std::string& user, std::string& password,
                                 const std::string& authorization)
  {
    static const std::string kBasic = "Basic ";
    if (authorization.size() <= kBasic.size() || authorization.size() > 1024 ||
        strncasecmp(authorization.c_str(), kBasic.c_str(), kBasic.size()) != 0)
    {
      return false;
    }

    std::string decoded;
    try
    {
      Orthanc::Toolbox::DecodeBase64(decoded, authorization.substr(kBasic.size()));
    }
    catch (...)  // Orthanc exceptions are not std::exceptions
    {
      return false;
    }
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos)
    {
      return false;
    }
    user = decoded.substr(0, colon);
    password = decoded.substr(colon + 1);
    return true;
  }

  bool AccessPolicy::IsPuller(const std::string& authorization,
                              const std::string& clientAddress) const
  {
    std::string user, password;
    if (!DecodeBasic(user, password, authorization))
    {
      return false;
    }
    bool granted = false;
    for (const PullerRule& puller : pullers_)
    {
      // Every entry is compared, so that timing does not tell which user names exist.
      const bool match = Crypto::ConstantTimeEquals(puller.username, user) &
                         Crypto::ConstantTimeEquals(puller.password, password);
      granted = granted || (match && puller.networks.Contains(clientAddress));
    }
    return granted;
  }

  bool AccessPolicy::IsAuthorized(const std::string& authorization) const
  {
    std::string name, password;
    if (!DecodeBasic(name, password, authorization))
    {
      return false;
    }
    const auto user = users_.find(name);
    if (user == users_.end())
    {
      // Same work as a known user, so response times do not reveal user names.
      Crypto::ConstantTimeEquals(password, password);
      return false;
    }
    return Crypto::ConstantTimeEquals(user->second, password);
  }

  std::string AccessPolicy::GetAdminName(const std::string& authorization)
  {
    std::string name, password;
    if (!DecodeBasic(name, password, authorization) || name.empty())
    {
      return "admin";
    }
    return name;
  }

  bool AccessPolicy::IsAllowed(Orthanc::HttpMethod method, const std::string& uri,
                               const std::string& authorization,
                               const std::string& clientAddress) const
  {
    AccessRequest request;
    request.method = method;
    request.uri = uri;
    request.authorization = authorization;
    request.client = clientAddress.empty() ? "127.0.0.1" : clientAddress;
    request.facts.requestedWith = "XMLHttpRequest";
    return Decide(request).IsAllowed();
  }
}
