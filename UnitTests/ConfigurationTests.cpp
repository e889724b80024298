#include "Configuration.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

using namespace Inbound;

namespace
{
  Json::Value Section(const std::string& text)
  {
    Json::Value v;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(v, text, errors)) << errors;
    return v;
  }

  std::string ErrorOf(const std::string& text)
  {
    try
    {
      Configuration::Parse(Section(text));
    }
    catch (const Orthanc::OrthancException& e)
    {
      return e.GetDetails();
    }
    return "";
  }
}

TEST(Configuration, DefaultsApplyWithoutSection)
{
  const Configuration c = Configuration::Parse(Json::nullValue);
  EXPECT_EQ(Role_Standalone, c.role);
  EXPECT_EQ("INB-", c.patientIdPrefix);
  EXPECT_EQ(536870912u, c.upload.maxFileBytes);
  EXPECT_EQ(86400u, c.upload.openTimeoutSeconds);
  EXPECT_TRUE(c.recipients.empty());
  EXPECT_EQ("InboundSha256", c.metadata.sha256);
  EXPECT_TRUE(c.unknownOptions.empty());
}

TEST(Configuration, UserSectionMergesOverDefaultsKeyByKey)
{
  const Configuration c = Configuration::Parse(Section(InboundTests::MakeConfigurationJson()));
  EXPECT_EQ("Test Hospital", c.siteName);
  EXPECT_EQ(5u, c.upload.maxFilesPerUpload);
  EXPECT_EQ(60u, c.upload.expiryCheckIntervalSeconds);  // not given: the default stays
  ASSERT_EQ(1u, c.recipients.size());
  EXPECT_EQ("neuro@hospital.example", c.recipients[0].email);
  EXPECT_NE(nullptr, c.LookupRecipient("neuro"));
  EXPECT_EQ(nullptr, c.LookupRecipient("nobody"));
}

TEST(Configuration, UnknownKeysAreReportedNotFatal)
{
  const Configuration c = Configuration::Parse(Section(R"({"Foo": 1, "Upload": {"Bar": 2}})"));
  ASSERT_EQ(2u, c.unknownOptions.size());
  EXPECT_EQ("Inbound.Foo", c.unknownOptions[0]);
  EXPECT_EQ("Inbound.Upload.Bar", c.unknownOptions[1]);
}

TEST(Configuration, BadValuesNameTheOption)
{
  EXPECT_NE(std::string::npos, ErrorOf(R"({"Role": "Nope"})").find("Inbound.Role"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Upload": {"MaxFileBytes": -5}})").find("Inbound.Upload.MaxFileBytes"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Upload": {"OpenTimeout": "soon"}})").find("Inbound.Upload.OpenTimeout"));
  EXPECT_NE(std::string::npos, ErrorOf(R"({"SiteName": ""})").find("Inbound.SiteName"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Recipients": [{"Id": "x", "Name": "X", "Email": "not-mail"}]})")
              .find("Inbound.Recipients[0].Email"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Recipients": [{"Id": "x", "Name": "X", "Email": "a@b.org"},
                                       {"Id": "x", "Name": "Y", "Email": "c@b.org"}]})")
              .find("used twice"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"PatientIdPrefix": "way-too-long-prefix-for-ids"})").find("PatientIdPrefix"));
  EXPECT_NE(std::string::npos, ErrorOf(R"({"TrustedProxies": "127.0.0.1"})").find("TrustedProxies"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Upload": {"MaxFileBytes": 900000, "MaxBytesPerUpload": 100000}})")
              .find("MaxBytesPerUpload"));
}

TEST(Configuration, SectionMustBeAnObject)
{
  EXPECT_THROW(Configuration::Parse(Json::Value(42)), Orthanc::OrthancException);
}

TEST(Configuration, BrandingIsCheckedAndTheLogoReadAtStartUp)
{
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Branding": {"PrimaryColor": "red"}})").find("Inbound.Branding.PrimaryColor"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Branding": {"Logo": "/etc/passwd"}})").find("Inbound.Branding.Logo"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Branding": {"Logo": "/no/such/logo.png"}})").find("Inbound.Branding.Logo"));

  const std::string path = "/tmp/inbound-unit-test-logo.svg";
  {
    std::ofstream out(path);
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
  }
  const Configuration c =
    Configuration::Parse(Section(R"({"Branding": {"PrimaryColor": "#1d4f91", "Logo": ")" + path + R"("}})"));
  EXPECT_EQ("#1d4f91", c.brandingColor);
  EXPECT_EQ("image/svg+xml", c.brandingLogoMime);
  EXPECT_EQ("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", c.brandingLogo);
  std::remove(path.c_str());
}
