#pragma once

#include "Configuration.h"
#include "Http/AddressRules.h"

#include <Enumerations.h>

#include <map>
#include <string>

namespace Inbound
{
  enum RouteClass
  {
    RouteClass_Public,     // the sender's routes: no account
    RouteClass_Challenge,  // answered by the plugin itself with a Basic challenge (login)
    RouteClass_Peer,       // the outbox of a gateway: configured pullers only
    RouteClass_Admin       // everything else: the plugin's admin routes and all of Orthanc
  };

  // The plugin's door (ARCHITECTURE, fact 2): Orthanc's own authentication is off, so this
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

    static bool DecodeBasic(std::string& user, std::string& password,
                            const std::string& authorization);

  public:
    // Throws std::invalid_argument for a bad network of a puller.
    AccessPolicy(const std::map<std::string, std::string>& users,
                 const AddressRules& trustedProxies, const std::vector<PullerAccount>& pullers = {});

    static RouteClass Classify(Orthanc::HttpMethod method, const std::string& uri);

    // "PUT /inbound/api/uploads/{id}/files/{sha256}": the only route that takes big bodies.
    static bool IsFileRoute(const std::string& uri);

    // "authorization" is the raw Authorization header (may be empty).
    bool IsAuthorized(const std::string& authorization) const;

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
