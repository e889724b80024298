#include "Http/SelfCheck.h"
#include "Toolbox/Json.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  Json::Value Parse(const std::string& text)
  {
    Json::Value v;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(v, text, errors)) << errors;
    return v;
  }

  const char* const kSafe = R"({"SslEnabled": false, "AuthenticationEnabled": false,
    "RemoteAccessAllowed": false, "WebDavEnabled": false, "DicomServerEnabled": false,
    "HttpDescribeErrors": false})";

  std::vector<std::string> Findings(const std::string& orthanc, const std::string& inbound)
  {
    return FindUnsafeSettings(Parse(orthanc), Configuration::Parse(Parse(inbound)));
  }

  bool Mentions(const std::vector<std::string>& findings, const std::string& word)
  {
    for (const std::string& f : findings)
    {
      if (f.find(word) != std::string::npos)
        return true;
    }
    return false;
  }
}

TEST(SelfCheck, SafeSettingsPass)
{
  EXPECT_TRUE(Findings(kSafe, "{}").empty());
}

TEST(SelfCheck, OrthancDefaultsAreUnsafe)
{
  // Absent keys take Orthanc's defaults: WebDAV on and error descriptions on.
  const std::vector<std::string> f = Findings("{}", "{}");
  EXPECT_TRUE(Mentions(f, "\"WebDavEnabled\""));
  EXPECT_TRUE(Mentions(f, "\"HttpDescribeErrors\""));
  EXPECT_FALSE(Mentions(f, "\"DicomServerEnabled\""));  // allowed in Standalone
  EXPECT_TRUE(Mentions(Findings("{}", R"({"Role": "Gateway"})"), "\"DicomServerEnabled\""));
}

TEST(SelfCheck, EachUnsafeSettingIsNamedWithItsOverride)
{
  auto with = [](const std::string& key, const std::string& value) {
    Json::Value v = Parse(kSafe);
    v[key] = Parse(value);
    return JsonText::Compact(v);
  };
  std::vector<std::string> f = Findings(with("SslEnabled", "true"), "{}");
  ASSERT_EQ(1u, f.size());
  EXPECT_TRUE(Mentions(f, "AllowSslEnabled"));
  EXPECT_TRUE(Findings(with("SslEnabled", "true"), R"({"Security": {"AllowSslEnabled": true}})").empty());

  EXPECT_TRUE(Mentions(Findings(with("AuthenticationEnabled", "true"), "{}"), "AuthenticationEnabled"));
  EXPECT_TRUE(Mentions(Findings(with("RemoteAccessAllowed", "true"), "{}"), "RemoteAccessAllowed"));
  EXPECT_TRUE(Findings(with("RemoteAccessAllowed", "true"), R"({"TrustedProxies": ["10.0.0.1"]})").empty());
  EXPECT_TRUE(Mentions(Findings(with("WebDavEnabled", "true"), "{}"), "AllowWebDav"));
  EXPECT_TRUE(Mentions(Findings(with("HttpDescribeErrors", "true"), "{}"), "AllowHttpDescribeErrors"));
}

TEST(SelfCheck, RemoteAccessTurnsOrthancAuthenticationOnByDefault)
{
  const std::vector<std::string> f =
    Findings(R"({"RemoteAccessAllowed": true, "WebDavEnabled": false, "HttpDescribeErrors": false})",
             R"({"TrustedProxies": ["127.0.0.1"]})");
  ASSERT_EQ(1u, f.size());
  EXPECT_TRUE(Mentions(f, "AuthenticationEnabled"));
}
