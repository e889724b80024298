// Unit tests of the access policy: public and admin routes, bans first, networks, CSRF, overrides.
#include "Http/AccessPolicy.h"
#include "Http/ApiError.h"

#include <Toolbox.h>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  std::string Basic(const std::string& credentials)
  {
    std::string encoded;
    Orthanc::Toolbox::EncodeBase64(encoded, credentials);
    return "Basic " + encoded;
  }
}

TEST(AccessPolicy, PublicRoutes)
{
  for (const char* uri :
       {"/inbound/", "/inbound", "/inbound/app/app.js", "/inbound/api/info", "/inbound/api/logo",
        "/inbound/api/uploads", "/inbound/api/uploads/ABCDEF234567",
        "/inbound/api/uploads/ABCDEF234567/complete",
        "/inbound/api/uploads/ABCDEF234567/files/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
  {
    EXPECT_EQ(RouteClass_Public, AccessPolicy::Classify(Orthanc::HttpMethod_Get, uri)) << uri;
  }
}

TEST(AccessPolicy, EverythingElseIsAdmin)
{
  for (const char* uri :
       {"/patients", "/instances", "/app/explorer.html", "/inbound/admin/uploads",
        "/inbound/admin/audit", "/inbound/api/uploads/x/files/y/z", "/inbound/api/other",
        "/inbound/app/../patients", "/inbound/app/.hidden", "/inbound/api/uploads/a.b",
        "/inbound/apix", "/tools/reset", "/plugins", "//inbound/"})
  {
    EXPECT_EQ(RouteClass_Admin, AccessPolicy::Classify(Orthanc::HttpMethod_Get, uri)) << uri;
  }
  EXPECT_EQ(RouteClass_Challenge, AccessPolicy::Classify(Orthanc::HttpMethod_Get, "/"));
  EXPECT_EQ(RouteClass_Admin, AccessPolicy::Classify(Orthanc::HttpMethod_Post, "/"));
  EXPECT_EQ(RouteClass_Challenge, AccessPolicy::Classify(Orthanc::HttpMethod_Get, "/inbound/auth"));
  EXPECT_EQ(RouteClass_Challenge, AccessPolicy::Classify(Orthanc::HttpMethod_Get, "/inbound/admin/ui"));
  EXPECT_EQ(RouteClass_Challenge, AccessPolicy::Classify(Orthanc::HttpMethod_Get, "/inbound/admin/ui/"));
  EXPECT_EQ(RouteClass_Admin, AccessPolicy::Classify(Orthanc::HttpMethod_Post, "/inbound/admin/ui"));
  EXPECT_EQ(RouteClass_Admin, AccessPolicy::Classify(Orthanc::HttpMethod_Get, "/inbound/admin/ui//"));
  EXPECT_EQ(RouteClass_Admin, AccessPolicy::Classify(Orthanc::HttpMethod_Get, "/inbound/admin/ui/admin.js"));
}

TEST(AccessPolicy, CredentialsOfRegisteredUsersOnly)
{
  const AccessPolicy policy({{"admin", "s3cret"}, {"other", "pw:with:colons"}}, AddressRules());
  EXPECT_TRUE(policy.IsAuthorized(Basic("admin:s3cret")));
  EXPECT_TRUE(policy.IsAuthorized("basic " + Basic("admin:s3cret").substr(6)));
  EXPECT_TRUE(policy.IsAuthorized(Basic("other:pw:with:colons")));
  EXPECT_FALSE(policy.IsAuthorized(Basic("admin:wrong")));
  EXPECT_FALSE(policy.IsAuthorized(Basic("admin:")));
  EXPECT_FALSE(policy.IsAuthorized(Basic("nobody:s3cret")));
  EXPECT_FALSE(policy.IsAuthorized(Basic("admins3cret")));
  EXPECT_FALSE(policy.IsAuthorized("Bearer abc"));
  EXPECT_FALSE(policy.IsAuthorized("Basic !!!not-base64!!!"));
  EXPECT_FALSE(policy.IsAuthorized(""));

  EXPECT_TRUE(policy.IsAllowed(Orthanc::HttpMethod_Put, "/inbound/api/uploads", ""));
  EXPECT_FALSE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/patients", ""));
  EXPECT_TRUE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/patients", Basic("admin:s3cret")));
  EXPECT_FALSE(policy.IsAllowed(Orthanc::HttpMethod_Delete, "/inbound/admin/uploads/X", ""));
}

TEST(AccessPolicy, NoUsersMeansNoAdminAccess)
{
  const AccessPolicy policy({}, AddressRules());
  EXPECT_FALSE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/patients", Basic(":")));
  EXPECT_TRUE(policy.IsAllowed(Orthanc::HttpMethod_Get, "/inbound/api/info", ""));
}

namespace
{
  AccessRequest Request(Orthanc::HttpMethod method, const std::string& uri,
                        const std::string& authorization = "", const std::string& client = "127.0.0.1")
  {
    AccessRequest request;
    request.method = method;
    request.uri = uri;
    request.authorization = authorization;
    request.client = client;
    request.hasBody = (method == Orthanc::HttpMethod_Post || method == Orthanc::HttpMethod_Put);
    request.bodyBytes = request.hasBody ? 20 : -1;  // a small JSON body
    return request;
  }

  AccessVerdict Verdict(const AccessPolicy& policy, const AccessRequest& request)
  {
    return policy.Decide(request).verdict;
  }

  const AccessPolicy& Policy()
  {
    static const AccessPolicy policy(
      {{"admin", "a-long-admin-password"}}, AddressRules({"127.0.0.1"}),
      {PullerAccount{"inside", "a-long-puller-password", {"10.1.0.0/16"}}},
      AddressRules({"127.0.0.0/8", "10.0.0.0/8"}), Role_Standalone);
    return policy;
  }
}

TEST(AccessPolicy, BansComeBeforeCredentialsOnEveryRouteClass)
{
  const std::string admin = Basic("admin:a-long-admin-password");
  for (const char* uri : {"/inbound/api/info", "/inbound/admin/uploads", "/system", "/",
                          "/inbound/peer/outbox"})
  {
    AccessRequest request = Request(Orthanc::HttpMethod_Get, uri,
                                    std::string(uri) == "/inbound/peer/outbox"
                                      ? Basic("inside:a-long-puller-password") : admin,
                                    std::string(uri) == "/inbound/peer/outbox" ? "10.1.2.3" : "127.0.0.1");
    EXPECT_NE(AccessVerdict_Banned, Verdict(Policy(), request)) << uri;
    request.banned = true;
    EXPECT_EQ(AccessVerdict_Banned, Verdict(Policy(), request)) << uri;
    EXPECT_FALSE(Policy().Decide(request).IsAllowed()) << uri;
  }
}

TEST(AccessPolicy, AdminRoutesOnlyFromAdminNetworks)
{
  const std::string admin = Basic("admin:a-long-admin-password");
  for (const char* uri : {"/inbound/admin/uploads", "/system", "/tools/execute-script", "/app/explorer.html"})
  {
    EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), Request(Orthanc::HttpMethod_Get, uri, admin, "10.9.9.9"))) << uri;
    EXPECT_EQ(AccessVerdict_NotAdminNetwork,
              Verdict(Policy(), Request(Orthanc::HttpMethod_Get, uri, admin, "203.0.113.7"))) << uri;
    EXPECT_EQ(AccessVerdict_NotAdminNetwork,
              Verdict(Policy(), Request(Orthanc::HttpMethod_Get, uri, "", "2001:db8::1"))) << uri;
  }
  // The login prompt is not offered to the Internet either.
  EXPECT_EQ(AccessVerdict_NotAdminNetwork, Verdict(Policy(), Request(Orthanc::HttpMethod_Get, "/", "", "203.0.113.7")));
  EXPECT_EQ(AccessVerdict_Public, Verdict(Policy(), Request(Orthanc::HttpMethod_Get, "/", "", "127.0.0.1")));
  // The public routes stay open to everybody.
  EXPECT_EQ(AccessVerdict_Public, Verdict(Policy(), Request(Orthanc::HttpMethod_Get, "/inbound/api/info", "", "203.0.113.7")));
}

TEST(AccessPolicy, WrongCredentialsAreFailedLogins)
{
  AccessDecision d = Policy().Decide(Request(Orthanc::HttpMethod_Get, "/system", Basic("admin:guess")));
  EXPECT_EQ(AccessVerdict_Unauthorized, d.verdict);
  EXPECT_TRUE(d.failedLogin);
  d = Policy().Decide(Request(Orthanc::HttpMethod_Get, "/system", ""));
  EXPECT_EQ(AccessVerdict_Unauthorized, d.verdict);
  EXPECT_FALSE(d.failedLogin);  // a browser's first request carries no credentials
  d = Policy().Decide(Request(Orthanc::HttpMethod_Get, "/inbound/peer/outbox", Basic("inside:guess"), "10.1.0.1"));
  EXPECT_EQ(AccessVerdict_Unauthorized, d.verdict);
  EXPECT_TRUE(d.failedLogin);
}

TEST(AccessPolicy, AdminWritesAreSameOriginOnly)
{
  const std::string admin = Basic("admin:a-long-admin-password");
  for (Orthanc::HttpMethod method : {Orthanc::HttpMethod_Post, Orthanc::HttpMethod_Put, Orthanc::HttpMethod_Delete})
  {
    AccessRequest plugin = Request(method, "/inbound/admin/bans", admin);
    AccessRequest orthanc = Request(method, "/tools/execute-script", admin);
    // No proof of origin: the plugin's handler answers 403 cross-site; Orthanc's routes are
    // refused here.
    EXPECT_EQ(AccessVerdict_Handler, Verdict(Policy(), plugin));
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), orthanc));
    orthanc.facts.origin = "https://evil.example";
    orthanc.facts.host = "hospital.example";
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), orthanc));
    orthanc.facts.origin = "null";
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), orthanc));
    orthanc.facts.origin = "https://hospital.example.evil.example";
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), orthanc));
    orthanc.facts.origin = "https://Hospital.Example";
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), orthanc));  // the site is plain http
    orthanc.facts.AddHeader("X-Forwarded-Proto", "https");           // behind the TLS proxy
    EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), orthanc));
    orthanc.facts.origin = "http://hospital.example";  // a page a man in the middle wrote
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), orthanc));
    orthanc.facts.origin = "https://hospital.example";
    orthanc.facts.origin = "";
    orthanc.facts.requestedWith = "XMLHttpRequest";
    EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), orthanc));
    EXPECT_THROW(Policy().CheckInHandler(method, "/inbound/admin/bans", plugin.facts), ApiError);
    AccessRequest big = plugin;  // a big cross-site body is refused before Orthanc reads it
    big.hasBody = true;
    big.bodyBytes = 10 * 1024 * 1024;
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), big));
    big.bodyBytes = -1;  // chunked: length unknown
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), big));
    big.bodyBytes = 100;
    EXPECT_EQ(AccessVerdict_Handler, Verdict(Policy(), big));
    AccessRequest form = plugin;  // Orthanc answers a multipart form itself: refused here
    form.facts.AddHeader("Content-Type", "multipart/form-data; boundary=x");
    EXPECT_EQ(AccessVerdict_CrossSite, Verdict(Policy(), form));
    plugin.facts.requestedWith = "XMLHttpRequest";
    EXPECT_NO_THROW(Policy().CheckInHandler(method, "/inbound/admin/bans", plugin.facts));
  }
  // Reads and the public routes need no proof.
  EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), Request(Orthanc::HttpMethod_Get, "/system", admin)));
  EXPECT_EQ(AccessVerdict_Public, Verdict(Policy(), Request(Orthanc::HttpMethod_Post, "/inbound/api/uploads")));
  EXPECT_NO_THROW(Policy().CheckInHandler(Orthanc::HttpMethod_Post, "/inbound/api/uploads", RequestFacts()));
}

TEST(AccessPolicy, InsideThePublicRoutesAreAdminWritesToo)
{
  const AccessPolicy internal({{"admin", "a-long-admin-password"}}, AddressRules(), {},
                              AddressRules({"127.0.0.0/8"}), Role_Internal);
  EXPECT_THROW(internal.CheckInHandler(Orthanc::HttpMethod_Post, "/inbound/api/uploads", RequestFacts()), ApiError);
  EXPECT_EQ(AccessVerdict_Unauthorized,
            internal.Decide(Request(Orthanc::HttpMethod_Get, "/inbound/api/info")).verdict);
}

TEST(AccessPolicy, MethodOverridesAreRefused)
{
  const std::string admin = Basic("admin:a-long-admin-password");
  AccessRequest request = Request(Orthanc::HttpMethod_Delete, "/inbound/admin/uploads/ABC", admin);
  request.hasBody = false;
  request.facts.AddArgument("_method");
  EXPECT_EQ(AccessVerdict_Handler, Verdict(Policy(), request));  // answered 400 by the handler
  try
  {
    Policy().CheckInHandler(request.method, request.uri, request.facts);
    FAIL();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(400, e.GetStatus());
    EXPECT_EQ("method-override", e.GetCode());
  }
  request.uri = "/patients/abc";
  EXPECT_EQ(AccessVerdict_MethodOverride, Verdict(Policy(), request));
  AccessRequest header = Request(Orthanc::HttpMethod_Put, "/inbound/admin/bans", admin);
  header.facts.AddHeader("X-HTTP-Method-Override", "DELETE");
  EXPECT_EQ(AccessVerdict_MethodOverride, Verdict(Policy(), header));  // it has a body
  AccessRequest upper = Request(Orthanc::HttpMethod_Delete, "/inbound/api/uploads/ABC");
  upper.hasBody = false;
  upper.facts.AddArgument("_METHOD");
  EXPECT_EQ(AccessVerdict_Handler, Verdict(Policy(), upper));
}

TEST(AccessPolicy, MultipartFormsNeedAnAccount)
{
  for (const std::pair<const char*, const char*>& header :
       std::vector<std::pair<const char*, const char*>>{
         {"Content-Type", "multipart/form-data; boundary=x"}, {"content-type", " Multipart/Mixed"},
         {"X-File-Name", "a.dcm"}, {"x-file-size", "1000"}})
  {
    AccessRequest request = Request(Orthanc::HttpMethod_Post, "/inbound/api/uploads");
    request.facts.AddHeader(header.first, header.second);
    EXPECT_EQ(AccessVerdict_Multipart, Verdict(Policy(), request)) << header.first;
    request.uri = "/inbound/peer/outbox/ABC/ack";
    request.authorization = Basic("inside:a-long-puller-password");
    request.client = "10.1.0.1";
    EXPECT_EQ(AccessVerdict_Multipart, Verdict(Policy(), request)) << header.first;
    request.uri = "/instances";  // Orthanc Explorer's own upload, for an admin
    request.authorization = Basic("admin:a-long-admin-password");
    request.client = "127.0.0.1";
    request.facts.requestedWith = "XMLHttpRequest";
    EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), request)) << header.first;
  }
}
