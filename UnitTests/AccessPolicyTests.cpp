// Unit tests of the access policy: public and admin routes, bans first, networks, CSRF, overrides.
#include "Http/AccessPolicy.h"
#include "Http/ApiError.h"
#include "Toolbox/Crypto.h"

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

TEST(AccessPolicy, TheCandidatesAreAskedForTheSitesOwnPagesOnly)
{
  // A GET, but it makes C-FINDs: another site's <img> in a logged-in admin's browser must not
  // drive them (red team, doc/Security.md adversary 4).
  const std::string admin = Basic("admin:a-long-admin-password");
  const std::string uri = "/inbound/admin/uploads/ABCDEFGHJKLM/candidates";
  AccessRequest get = Request(Orthanc::HttpMethod_Get, uri, admin);
  get.hasBody = false;
  get.facts.host = "hospital.example";
  for (const char* origin : {"", "https://evil.example", "null", "http://hospital.example.evil.example"})
  {
    get.facts.origin = origin;
    EXPECT_EQ(AccessVerdict_Handler, Verdict(Policy(), get)) << origin;  // 403 from the handler
    try
    {
      Policy().CheckInHandler(get.method, uri, get.facts);
      ADD_FAILURE() << origin;
    }
    catch (const ApiError& e)
    {
      EXPECT_EQ(403, e.GetStatus());
      EXPECT_EQ("cross-site", e.GetCode());
    }
  }
  get.facts.origin = "http://hospital.example";
  EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), get));
  EXPECT_NO_THROW(Policy().CheckInHandler(get.method, uri, get.facts));
  get.facts.origin = "";
  get.facts.requestedWith = "XMLHttpRequest";  // the admin page's own requests
  EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), get));
  EXPECT_NO_THROW(Policy().CheckInHandler(get.method, uri, get.facts));
  // The other admin reads stay plain GETs.
  AccessRequest upload = Request(Orthanc::HttpMethod_Get, "/inbound/admin/uploads/ABCDEFGHJKLM", admin);
  upload.hasBody = false;
  EXPECT_EQ(AccessVerdict_Admin, Verdict(Policy(), upload));
  EXPECT_NO_THROW(Policy().CheckInHandler(upload.method, upload.uri, upload.facts));
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

namespace
{
  const std::string kPartnerToken = "Zk3_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko";
  const std::string kRevokedToken = "Rv3_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Ko";
  const std::string kStowType = "multipart/related; type=\"application/dicom\"; boundary=b0b0";

  PartnerSettings MakePartner(const std::string& id, const std::string& token,
                              const std::vector<std::string>& networks, bool enabled)
  {
    PartnerSettings partner;
    partner.id = id;
    partner.name = id;
    partner.recipient = "neuro";
    partner.tokenSha256s.push_back(Crypto::Sha256Hex(token));
    partner.networks = networks;
    partner.enabled = enabled;
    partner.limits.maxUnchunkedBytes = 1000000;
    return partner;
  }

  AccessPolicy PartnerPolicy(Role role)
  {
    return AccessPolicy({{"admin", "a-long-admin-password"}}, AddressRules({"127.0.0.1"}),
                        {PullerAccount{"inside", "a-long-puller-password", {"10.1.0.0/16"}}},
                        AddressRules({"127.0.0.0/8"}), role,
                        {MakePartner("clinic-a", kPartnerToken, {"192.0.2.0/24"}, true),
                         MakePartner("clinic-b", kRevokedToken, {}, false)});
  }

  AccessRequest Stow(const std::string& uri, const std::string& token,
                     const std::string& client = "192.0.2.10",
                     const std::string& contentType = kStowType)
  {
    AccessRequest request = Request(Orthanc::HttpMethod_Post, uri, "Bearer " + token, client);
    request.facts.AddHeader("Content-Type", contentType.c_str());
    request.bodyBytes = -1;  // chunked
    return request;
  }
}

TEST(AccessPolicy, APartnerTokenOpensItsStowRoutes)
{
  const AccessPolicy policy = PartnerPolicy(Role_Standalone);
  for (const char* uri : {"/inbound/dicom-web/studies", "/inbound/dicom-web/studies/1.2.840.10008.1"})
  {
    const AccessDecision decision = policy.Decide(Stow(uri, kPartnerToken));
    EXPECT_EQ(AccessVerdict_Partner, decision.verdict) << uri;
    EXPECT_EQ(RouteClass_Partner, decision.routeClass);
    EXPECT_TRUE(decision.IsAllowed());
    ASSERT_NE(nullptr, decision.partner);
    EXPECT_EQ("clinic-a", decision.partner->id);
  }
  // The type parameter without quotes, in another case; a Content-Length within the cap.
  AccessRequest request = Stow("/inbound/dicom-web/studies", kPartnerToken, "192.0.2.10",
                               "Multipart/Related; boundary=x; Type=application/dicom");
  request.bodyBytes = 1000000;
  EXPECT_EQ(AccessVerdict_Partner, Verdict(policy, request));
  EXPECT_STREQ("partner", EnumerationToString(AccessVerdict_Partner));
}

TEST(AccessPolicy, PartnerRefusalsAreOneVerdictWithTheirAuditCode)
{
  const AccessPolicy policy = PartnerPolicy(Role_Standalone);
  struct Case { AccessRequest request; std::string refusal; bool failedLogin; };
  AccessRequest tooLarge = Stow("/inbound/dicom-web/studies", kPartnerToken);
  tooLarge.bodyBytes = 1000001;
  AccessRequest get = Stow("/inbound/dicom-web/studies", kPartnerToken);
  get.method = Orthanc::HttpMethod_Put;
  AccessRequest anonymous = Stow("/inbound/dicom-web/studies", kPartnerToken);
  anonymous.authorization = "";
  const std::vector<Case> cases = {
    {Stow("/inbound/dicom-web/studies", "Zk3_xQ-9a7VtY2bN0cPq4rWs8uEfGhJi1LmOnD5e6Kp"), "partner-bad-token", true},
    {Stow("/inbound/dicom-web/studies", kPartnerToken.substr(0, 10)), "partner-bad-token", true},
    {anonymous, "partner-bad-token", false},
    {Stow("/inbound/dicom-web/studies", kRevokedToken), "partner-revoked", false},
    {Stow("/inbound/dicom-web/studies", kPartnerToken, "198.51.100.1"), "partner-network", false},
    {Stow("/inbound/dicom-web/studies", kPartnerToken, "192.0.2.10", "multipart/form-data; boundary=x"),
     "partner-not-stow", false},
    {Stow("/inbound/dicom-web/studies", kPartnerToken, "192.0.2.10", "application/dicom"), "partner-not-stow", false},
    {Stow("/inbound/dicom-web/studies", kPartnerToken, "192.0.2.10",
          "multipart/related; type=\"application/dicom+json\"; boundary=x"), "partner-not-stow", false},
    {get, "partner-not-stow", false},
    {tooLarge, "partner-too-large", false},
  };
  for (const Case& c : cases)
  {
    const AccessDecision decision = policy.Decide(c.request);
    EXPECT_EQ(AccessVerdict_Unauthorized, decision.verdict) << c.refusal;
    EXPECT_EQ(c.refusal, decision.refusal);
    EXPECT_EQ(c.failedLogin, decision.failedLogin) << c.refusal;
    EXPECT_EQ(nullptr, decision.partner) << c.refusal;
  }
  // A banned partner address is refused before its token is looked at.
  AccessRequest banned = Stow("/inbound/dicom-web/studies", kPartnerToken);
  banned.banned = true;
  EXPECT_EQ(AccessVerdict_Banned, Verdict(policy, banned));
}

TEST(AccessPolicy, APartnerTokenOpensNothingElse)
{
  const AccessPolicy policy = PartnerPolicy(Role_Standalone);
  const std::string bearer = "Bearer " + kPartnerToken;
  for (const char* uri : {"/inbound/admin/uploads", "/instances", "/patients", "/inbound/peer/outbox",
                          "/inbound/dicom-web/studies/1.2/series", "/inbound/dicom-web/instances",
                          "/dicom-web/studies"})
  {
    for (Orthanc::HttpMethod method : {Orthanc::HttpMethod_Get, Orthanc::HttpMethod_Post})
    {
      AccessRequest request = Request(method, uri, bearer, "127.0.0.1");
      request.facts.requestedWith = "XMLHttpRequest";
      EXPECT_FALSE(policy.Decide(request).IsAllowed()) << uri;
    }
  }
  // On the public routes it is no more than anonymous, and names no partner.
  const AccessDecision info = policy.Decide(Request(Orthanc::HttpMethod_Get, "/inbound/api/info", bearer));
  EXPECT_EQ(AccessVerdict_Public, info.verdict);
  EXPECT_EQ(nullptr, info.partner);
  // Admin credentials do not open the partner routes of a Standalone either.
  AccessRequest admin = Stow("/inbound/dicom-web/studies", kPartnerToken, "127.0.0.1");
  admin.authorization = Basic("admin:a-long-admin-password");
  EXPECT_EQ(AccessVerdict_Unauthorized, Verdict(policy, admin));
}

TEST(AccessPolicy, AnInternalHasNoPartnerRoutes)
{
  const AccessPolicy policy = PartnerPolicy(Role_Internal);
  EXPECT_TRUE(policy.NeedsAdmin(RouteClass_Partner));
  EXPECT_FALSE(PartnerPolicy(Role_Gateway).NeedsAdmin(RouteClass_Partner));
  EXPECT_EQ(AccessVerdict_NotAdminNetwork, Verdict(policy, Stow("/inbound/dicom-web/studies", kPartnerToken)));
  EXPECT_EQ(AccessVerdict_Unauthorized,
            Verdict(policy, Stow("/inbound/dicom-web/studies", kPartnerToken, "127.0.0.1")));
  EXPECT_EQ(AccessVerdict_Partner,
            Verdict(PartnerPolicy(Role_Gateway), Stow("/inbound/dicom-web/studies", kPartnerToken)));
}
