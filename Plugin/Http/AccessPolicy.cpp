#include "AccessPolicy.h"

#include "Toolbox/Crypto.h"

#include <Toolbox.h>

#include <boost/regex.hpp>

namespace Inbound
{
  AccessPolicy::AccessPolicy(const std::map<std::string, std::string>& users,
                             const AddressRules& trustedProxies,
                             const std::vector<PullerAccount>& pullers) :
    users_(users),
    trustedProxies_(trustedProxies)
  {
    for (const PullerAccount& puller : pullers)
    {
      pullers_.push_back(PullerRule{puller.username, puller.password, AddressRules(puller.networks)});
    }
  }

  RouteClass AccessPolicy::Classify(Orthanc::HttpMethod method, const std::string& uri)
  {
    // The paths only: each public route's handler answers 405 for a wrong method itself.
    // The patterns are anchored (regex_match) and exclude "..", so no public prefix can
    // reach another route.
    static const boost::regex kPublic(
      "/inbound/?|/inbound/app/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}|/inbound/api/info"
      "|/inbound/api/logo|/inbound/api/uploads(/[A-Za-z0-9]{1,64}(/complete|/files/[A-Za-z0-9]{1,128})?)?");
    if (boost::regex_match(uri, kPublic))
    {
      return RouteClass_Public;
    }
    // The admin page's entry lets the plugin send a browser without credentials to the
    // login prompt (ServeAdminPage); its files and every admin route stay closed.
    if (((uri == "/" || uri == "/inbound/admin/ui" || uri == "/inbound/admin/ui/") &&
         method == Orthanc::HttpMethod_Get) ||
        uri == "/inbound/auth")
    {
      return RouteClass_Challenge;
    }
    static const boost::regex kPeer(
      "/inbound/peer/outbox(/[A-Za-z0-9]{1,64}(/ack|/items/[A-Za-z0-9]{1,128})?)?");
    if (boost::regex_match(uri, kPeer))
    {
      return RouteClass_Peer;
    }
    return RouteClass_Admin;
  }

  bool AccessPolicy::IsFileRoute(const std::string& uri)
  {
    static const boost::regex kFile("/inbound/api/uploads/[A-Za-z0-9]{1,64}/files/[A-Za-z0-9]{1,128}");
    return boost::regex_match(uri, kFile);
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

  bool AccessPolicy::IsAllowed(Orthanc::HttpMethod method, const std::string& uri,
                               const std::string& authorization,
                               const std::string& clientAddress) const
  {
    switch (Classify(method, uri))
    {
      case RouteClass_Public:
      case RouteClass_Challenge:
        return true;
      case RouteClass_Peer:
        return IsPuller(authorization, clientAddress);
      default:
        return IsAuthorized(authorization);
    }
  }
}
