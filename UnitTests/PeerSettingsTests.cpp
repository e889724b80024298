// Unit tests of reading "OrthancPeers" entries and global HTTP options as Orthanc 1.10.1 does.
#include "Peering/PeerSettings.h"
#include "Toolbox/Json.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  Json::Value Orthanc(const std::string& text)
  {
    Json::Value v;
    EXPECT_TRUE(JsonText::ParseStrict(v, text.data(), text.size())) << text;
    return v;
  }

  PeerSettings Parse(const std::string& text)
  {
    return PeerSettings::Parse(Orthanc(text), "dmz", "/etc/orthanc");
  }

  std::string ErrorOf(const std::string& text)
  {
    try
    {
      Parse(text);
    }
    catch (const Orthanc::OrthancException& e)
    {
      return e.GetDetails();
    }
    return "";
  }
}

TEST(PeerSettings, ArrayEntryWithCredentials)
{
  const PeerSettings s =
    Parse(R"({"OrthancPeers": {"dmz": ["http://gw:8042", "inside", "secret"]}})");
  EXPECT_EQ("dmz", s.name);
  EXPECT_EQ("http://gw:8042/", s.url);  // Orthanc adds the trailing slash
  EXPECT_EQ("inside", s.username);
  EXPECT_EQ("secret", s.password);
  EXPECT_TRUE(s.HasCredentials());
  EXPECT_TRUE(s.httpHeaders.empty());
  EXPECT_TRUE(s.httpsVerifyPeers);
}

TEST(PeerSettings, ArrayEntryWithoutCredentials)
{
  const PeerSettings s = Parse(R"({"OrthancPeers": {"dmz": ["http://gw/"]}})");
  EXPECT_EQ("http://gw/", s.url);
  EXPECT_FALSE(s.HasCredentials());
}

TEST(PeerSettings, ArrayEntryOfOtherSizesIsRefused)
{
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"OrthancPeers": {"dmz": ["http://gw/", "inside"]}})").find("password"));
  EXPECT_NE("", ErrorOf(R"({"OrthancPeers": {"dmz": []}})"));
  EXPECT_NE("", ErrorOf(R"({"OrthancPeers": {"dmz": ["http://gw/", "a", "b", "c"]}})"));
  EXPECT_NE("", ErrorOf(R"({"OrthancPeers": {"dmz": ["http://gw/", 1, "b"]}})"));
}

TEST(PeerSettings, ObjectEntry)
{
  const PeerSettings s = Parse(R"({
    "OrthancPeers": {"dmz": {"Url": "https://gw.example/base", "Username": "inside",
      "Password": "secret", "CertificateFile": "client.crt", "CertificateKeyFile": "client.key",
      "CertificateKeyPassword": "kp", "HttpHeaders": {"X-Token": "abc", "Other": ""},
      "Timeout": 42, "Pkcs11": false, "SomeUserProperty": "x"}},
    "HttpsCACertificates": "ca.pem", "HttpTimeout": 90, "HttpProxy": "proxy:3128",
    "HttpVerbose": true})");
  EXPECT_EQ("https://gw.example/base/", s.url);
  EXPECT_EQ("inside", s.username);
  EXPECT_EQ("secret", s.password);
  EXPECT_EQ("client.crt", s.certificateFile);  // as Orthanc: relative to the working folder
  EXPECT_EQ("client.key", s.certificateKeyFile);
  EXPECT_EQ("kp", s.certificateKeyPassword);
  ASSERT_EQ(2u, s.httpHeaders.size());
  EXPECT_EQ("abc", s.httpHeaders.at("X-Token"));
  EXPECT_EQ("", s.httpHeaders.at("Other"));
  EXPECT_EQ(42u, s.timeoutSeconds);
  EXPECT_EQ("/etc/orthanc/ca.pem", s.httpsCaCertificates);  // as Orthanc: from the config folder
  EXPECT_EQ(90u, s.httpTimeoutSeconds);
  EXPECT_EQ("proxy:3128", s.httpProxy);
  EXPECT_TRUE(s.verbose);
}

TEST(PeerSettings, ObjectEntryTakesUrlInCapitals)
{
  EXPECT_EQ("http://gw/", Parse(R"({"OrthancPeers": {"dmz": {"URL": "http://gw"}}})").url);
}

TEST(PeerSettings, KeyWithoutCertificateIsIgnoredAsByOrthanc)
{
  const PeerSettings s = Parse(
    R"({"OrthancPeers": {"dmz": {"Url": "http://gw/", "CertificateKeyFile": "k.pem"}}})");
  EXPECT_EQ("", s.certificateKeyFile);
}

TEST(PeerSettings, MalformedObjectEntriesAreRefused)
{
  for (const char* entry : {
         R"({"Url": ""})", R"({})", R"({"Url": 5})", R"({"Url": "ftp://gw/"})",
         R"({"Url": "file:///etc/passwd"})", R"({"Url": "HTTP://gw/"})",
         R"({"Url": "http://gw/", "Password": "p"})",
         R"({"Url": "http://gw/", "Username": 1, "Password": "p"})",
         R"({"Url": "http://gw/", "HttpHeaders": ["a"]})",
         R"({"Url": "http://gw/", "HttpHeaders": {"A": 1}})",
         R"({"Url": "http://gw/", "HttpHeaders": {"A": "x\r\nHost: evil"}})",
         R"({"Url": "http://gw/", "HttpHeaders": {"A:B": "x"}})",
         R"({"Url": "http://gw/", "Timeout": -1})", R"({"Url": "http://gw/", "Timeout": "5"})",
         R"({"Url": "http://gw/", "Pkcs11": true})", R"("http://gw/")", R"(42)"})
  {
    const std::string error = ErrorOf(std::string(R"({"OrthancPeers": {"dmz": )") + entry + "}}");
    EXPECT_NE(std::string::npos, error.find("Inbound.Gateways")) << entry << ": " << error;
    EXPECT_NE(std::string::npos, error.find("\"dmz\"")) << entry << ": " << error;
  }
}

TEST(PeerSettings, MissingEntryNamesTheGatewaysOption)
{
  for (const char* text : {R"({})", R"({"OrthancPeers": {"other": ["http://gw/"]}})",
                           R"({"OrthancPeers": []})"})
  {
    const std::string error = ErrorOf(text);
    EXPECT_NE(std::string::npos, error.find("Inbound.Gateways")) << text;
    EXPECT_NE(std::string::npos, error.find("is not an entry of Orthanc's \"OrthancPeers\""))
      << text;
  }
}

TEST(PeerSettings, PeersInTheDatabaseAreRefused)
{
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"OrthancPeersInDatabase": true, "OrthancPeers": {"dmz": ["http://gw/"]}})")
              .find("OrthancPeersInDatabase"));
}

TEST(PeerSettings, HttpsNeedsCertificatesToVerifyWith)
{
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"OrthancPeers": {"dmz": ["https://gw/"]}})").find("HttpsCACertificates"));
  // Absolute paths stay; without verification or over http no CA is needed.
  EXPECT_EQ("/ca.pem", Parse(R"({"OrthancPeers": {"dmz": ["https://gw/"]},
                                 "HttpsCACertificates": "/ca.pem"})").httpsCaCertificates);
  EXPECT_FALSE(Parse(R"({"OrthancPeers": {"dmz": ["https://gw/"]}, "HttpsVerifyPeers": false})")
                 .httpsVerifyPeers);
  EXPECT_EQ("", Parse(R"({"OrthancPeers": {"dmz": ["http://gw/"]}})").httpsCaCertificates);
}

TEST(PeerSettings, MalformedGlobalOptionsAreRefused)
{
  EXPECT_NE("", ErrorOf(R"({"OrthancPeers": {"dmz": ["http://gw/"]}, "HttpsVerifyPeers": "no"})"));
  EXPECT_NE("", ErrorOf(R"({"OrthancPeers": {"dmz": ["http://gw/"]}, "HttpTimeout": -5})"));
  EXPECT_NE("", ErrorOf(R"({"OrthancPeers": {"dmz": ["http://gw/"]}, "HttpProxy": 3128})"));
}

TEST(PeerSettings, UrlJoinsAsOrthancDoes)
{
  // The base URL always ends with one "/" and the uri follows as given: a uri starting with
  // "/" gives the "//" that gateways (and the nginx site) have always received.
  EXPECT_EQ("http://gw/inbound/peer/outbox",
            Parse(R"({"OrthancPeers": {"dmz": ["http://gw"]}})").MakeUrl("inbound/peer/outbox"));
  EXPECT_EQ("http://gw//inbound/peer/outbox?wait=5",
            Parse(R"({"OrthancPeers": {"dmz": ["http://gw/"]}})")
              .MakeUrl("/inbound/peer/outbox?wait=5"));
  EXPECT_EQ("https://gw/base//inbound/peer/outbox",
            Parse(R"({"OrthancPeers": {"dmz": {"Url": "https://gw/base"}},
                      "HttpsVerifyPeers": false})")
              .MakeUrl("/inbound/peer/outbox"));
}

TEST(PeerSettings, TimeoutPrecedence)
{
  PeerSettings s = Parse(R"({"OrthancPeers": {"dmz": ["http://gw/"]}})");
  EXPECT_EQ(60u, s.GetTimeoutSeconds(0));  // Orthanc's default
  EXPECT_EQ(7u, s.GetTimeoutSeconds(7));
  s.httpTimeoutSeconds = 90;
  EXPECT_EQ(90u, s.GetTimeoutSeconds(0));
  s.timeoutSeconds = 42;
  EXPECT_EQ(42u, s.GetTimeoutSeconds(0));
  EXPECT_EQ(7u, s.GetTimeoutSeconds(7));  // the call's own timeout first, as Orthanc
}
