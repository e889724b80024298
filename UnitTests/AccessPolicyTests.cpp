#include "Http/AccessPolicy.h"

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
