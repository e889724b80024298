// Unit tests of the start-up self-check of Orthanc's settings, per role, and of weak passwords.
#include "Http/SelfCheck.h"
#include "Toolbox/Json.h"

#include <boost/filesystem.hpp>

#include <fstream>

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

  std::vector<std::string> Findings(const std::string& orthanc, const std::string& inbound,
                                    const std::vector<std::string>& otherPlugins = {})
  {
    return FindUnsafeSettings(Parse(orthanc), Configuration::Parse(Parse(inbound)), otherPlugins);
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

namespace
{
  // The safe settings with "extra" (a JSON object) merged over them.
  std::string SafeWith(const std::string& extra)
  {
    Json::Value v = Parse(kSafe);
    const Json::Value e = Parse(extra);
    for (const std::string& key : e.getMemberNames())
      v[key] = e[key];
    return JsonText::Compact(v);
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
  EXPECT_TRUE(Mentions(f, "\"DicomServerEnabled\""));  // stores from anyone on a Standalone
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
    Findings(R"({"RemoteAccessAllowed": true, "WebDavEnabled": false, "HttpDescribeErrors": false,
                "DicomServerEnabled": false})",
             R"({"TrustedProxies": ["127.0.0.1"]})");
  ASSERT_EQ(1u, f.size());
  EXPECT_TRUE(Mentions(f, "AuthenticationEnabled"));
}

TEST(SelfCheck, EveryRoleIsChecked)
{
  for (const char* role : {"Standalone", "Gateway", "Internal"})
  {
    const std::string inbound = std::string(R"({"Role": ")") + role +
                                R"(", "Gateways": ["dmz"]})";
    EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"SslEnabled": true})"), inbound), "AllowSslEnabled")) << role;
    EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"ExecuteLuaEnabled": true})"), inbound), "AllowLua")) << role;
    EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"LuaScripts": ["x.lua"]})"), inbound), "AllowLua")) << role;
    EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"RestApiWriteToFileSystemEnabled": true})"), inbound),
                         "AllowRestApiWriteToFileSystem")) << role;
    EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"HttpsVerifyPeers": false})"), inbound), "AllowHttpsNoVerify")) << role;
    EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"RegisteredUsers": {"admin": "short"}})"), inbound),
                         "AllowWeakPasswords")) << role;
    EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"RegisteredUsers": {"admin": "change-me-to-a-long-random-secret"}})"),
                                  inbound), "AllowWeakPasswords")) << role;
    EXPECT_TRUE(Findings(SafeWith(R"({"RegisteredUsers": {"admin": "a-long-random-password-here"}})"), inbound).empty()) << role;
    const std::string allowed = std::string(R"({"Role": ")") + role + R"(", "Gateways": ["dmz"],
      "Security": {"AllowLua": true, "AllowWeakPasswords": true}})";
    EXPECT_TRUE(Findings(SafeWith(R"({"ExecuteLuaEnabled": true, "RegisteredUsers": {"a": "b"}})"), allowed).empty()) << role;
  }
}

TEST(SelfCheck, InsideTheHospitalRemoteAccessAndDicomAreNormal)
{
  EXPECT_TRUE(Findings(R"({"RemoteAccessAllowed": true, "DicomServerEnabled": true})",
                       R"({"Role": "Internal", "Gateways": ["dmz"]})").empty());
}

TEST(SelfCheck, AStandaloneDicomPortMustRestrictStores)
{
  EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"DicomServerEnabled": true})"), "{}"), "DicomAlwaysAllowStore"));
  EXPECT_TRUE(Mentions(Findings(SafeWith(R"({"DicomServerEnabled": true, "DicomAlwaysAllowStore": false})"), "{}"),
                       "AllowDicomServer"));
  EXPECT_TRUE(Findings(SafeWith(R"({"DicomServerEnabled": true, "DicomAlwaysAllowStore": false,
                                "DicomCheckModalityHost": true})"), "{}").empty());
  EXPECT_TRUE(Findings(SafeWith(R"({"DicomServerEnabled": true})"), R"({"Security": {"AllowDicomServer": true}})").empty());
}

TEST(SelfCheck, AGatewayLoadsNoOtherPlugin)
{
  const std::string gateway = R"({"Role": "Gateway"})";
  EXPECT_TRUE(Findings(kSafe, gateway, {}).empty());
  EXPECT_TRUE(Mentions(Findings(kSafe, gateway, {"/usr/share/orthanc/plugins/libOrthancAuthorization.so"}),
                       "AllowOtherPlugins"));
  EXPECT_TRUE(Findings(kSafe, R"({"Role": "Gateway", "Security": {"AllowOtherPlugins": true}})",
                       {"/x/libOther.so"}).empty());
  EXPECT_TRUE(Findings(kSafe, "{}", {"/x/libOther.so"}).empty());  // a Standalone may
}

TEST(SelfCheck, OtherPluginsAreFoundInFilesAndFolders)
{
  namespace fs = boost::filesystem;
  const fs::path dir = fs::temp_directory_path() / fs::unique_path("selfcheck-%%%%%%%%");
  fs::create_directories(dir / "plugins");
  for (const char* name : {"plugins/libOrthancInbound.so", "plugins/libOther.so", "plugins/readme.txt", "libThird.so"})
  {
    std::ofstream((dir / name).string()) << "x";
  }
  Json::Value config;
  config["Plugins"].append((dir / "plugins").string());
  config["Plugins"].append("libThird.so");  // relative to the configuration's folder
  const std::vector<std::string> others =
    ListOtherPlugins(config, (dir / "plugins/libOrthancInbound.so").string(), dir.string());
  ASSERT_EQ(2u, others.size());
  EXPECT_TRUE(others[0].find("libOther.so") != std::string::npos || others[1].find("libOther.so") != std::string::npos);
  EXPECT_TRUE(others[0].find("libThird.so") != std::string::npos || others[1].find("libThird.so") != std::string::npos);
  fs::remove_all(dir);
}

TEST(SelfCheck, WeakPasswords)
{
  EXPECT_TRUE(IsWeakPassword(""));
  EXPECT_TRUE(IsWeakPassword("fifteen-chars!!"));
  EXPECT_FALSE(IsWeakPassword("sixteen-chars!!!"));
  EXPECT_TRUE(IsWeakPassword("please-CHANGE-ME-now-1234"));
  EXPECT_TRUE(IsWeakPassword("changeme-changeme-changeme"));
}
