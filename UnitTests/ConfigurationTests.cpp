// Unit tests of the configuration parser: defaults, merging, bad values named by their option.
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

TEST(Configuration, NotificationDefaults)
{
  const Configuration c = Configuration::Parse(Json::nullValue);
  EXPECT_EQ("", c.smtp.host);
  EXPECT_EQ(25u, c.smtp.port);
  EXPECT_EQ(SmtpSecurity_StartTls, c.smtp.security);
  EXPECT_TRUE(c.smtp.verifyCertificate);
  EXPECT_EQ(30u, c.smtp.timeoutSeconds);
  EXPECT_TRUE(c.notifications.mailRecipient);
  EXPECT_FALSE(c.notifications.senderReceipt);
  EXPECT_EQ(3u, c.notifications.receiptsPerAddressPerDay);
  EXPECT_TRUE(c.notifications.adminEmails.empty());
  EXPECT_EQ(900u, c.notifications.adminAlertIntervalSeconds);
  EXPECT_EQ("en", c.notifications.language);
  EXPECT_FALSE(c.notifications.includePatientData);
  EXPECT_EQ("", c.notifications.orthancUrl);
  EXPECT_EQ("{OrthancUrl}/app/explorer.html#study?uuid={OrthancStudyId}", c.notifications.viewerUrl);
  EXPECT_EQ(30u, c.notifications.retryIntervalSeconds);
  EXPECT_EQ(1800u, c.notifications.maxRetryIntervalSeconds);
  EXPECT_EQ(172800u, c.notifications.giveUpAfterSeconds);
  EXPECT_TRUE(c.webhooks.empty());
  EXPECT_EQ(600u, c.gatewayAlertSeconds);
}

TEST(Configuration, NotificationOptionsAreRead)
{
  const Configuration c = Configuration::Parse(Section(R"({
    "Recipients": [{"Id": "neuro", "Name": "Neuro", "Email": "neuro@hospital.example", "Language": "de"}],
    "GatewayAlert": 0,
    "Smtp": {"Host": "smtp.hospital.example", "Port": 465, "Security": "Tls", "Username": "u",
             "Password": "p", "From": "Orthanc Inbound <inbound@hospital.example>",
             "VerifyCertificate": false, "Timeout": 10},
    "Notifications": {"SenderReceipt": true, "ReceiptsPerAddressPerDay": 5,
                      "AdminEmails": ["admin@hospital.example", "Ops <ops@hospital.example>"],
                      "AdminAlertInterval": 0, "Language": "de", "IncludePatientData": true,
                      "OrthancUrl": "https://orthanc.hospital.example//", "Viewer": "OHIF",
                      "RetryInterval": 5, "MaxRetryInterval": 5, "GiveUpAfter": 60},
    "Webhooks": [{"Url": "https://hooks.hospital.example/x", "Secret": "0123456789abcdef",
                  "Events": ["alert", "upload.delivered"]},
                 {"Url": "https://other.example/", "Secret": "fedcba9876543210fedcba"}]})"));
  EXPECT_EQ("de", c.recipients[0].language);
  EXPECT_EQ(0u, c.gatewayAlertSeconds);
  EXPECT_EQ("smtp.hospital.example", c.smtp.host);
  EXPECT_EQ(465u, c.smtp.port);
  EXPECT_EQ(SmtpSecurity_Tls, c.smtp.security);
  EXPECT_EQ("Orthanc Inbound <inbound@hospital.example>", c.smtp.from);
  EXPECT_FALSE(c.smtp.verifyCertificate);
  EXPECT_EQ(10u, c.smtp.timeoutSeconds);
  EXPECT_TRUE(c.notifications.senderReceipt);
  EXPECT_EQ(5u, c.notifications.receiptsPerAddressPerDay);
  ASSERT_EQ(2u, c.notifications.adminEmails.size());
  EXPECT_EQ(0u, c.notifications.adminAlertIntervalSeconds);
  EXPECT_EQ("de", c.notifications.language);
  EXPECT_TRUE(c.notifications.includePatientData);
  EXPECT_EQ("https://orthanc.hospital.example", c.notifications.orthancUrl);
  EXPECT_EQ("{OrthancUrl}/ohif/viewer?StudyInstanceUIDs={StudyInstanceUID}",
            c.notifications.viewerUrl);
  EXPECT_EQ(60u, c.notifications.giveUpAfterSeconds);
  ASSERT_EQ(2u, c.webhooks.size());
  EXPECT_EQ((std::vector<std::string>{"alert", "upload.delivered"}), c.webhooks[0].events);
  EXPECT_TRUE(c.webhooks[1].events.empty());
  EXPECT_EQ("fedcba9876543210fedcba", c.webhooks[1].secret);
}

TEST(Configuration, BadNotificationOptionsNameTheOption)
{
  const std::pair<const char*, const char*> cases[] = {
    {R"({"Smtp": {"Host": "smtp.example"}})", "Inbound.Smtp.From"},
    {R"({"Smtp": {"Host": "smtp.example", "From": "not an address"}})", "Inbound.Smtp.From"},
    {R"({"Smtp": {"Host": "smtp.example;rm", "From": "a@b.example"}})", "Inbound.Smtp.Host"},
    {R"({"Smtp": {"Security": "Ssl"}})", "Inbound.Smtp.Security"},
    {R"({"Smtp": {"Port": 0}})", "Inbound.Smtp.Port"},
    {R"({"Smtp": {"CACertificates": "/no/such/ca.pem"}})", "Inbound.Smtp.CACertificates"},
    {R"({"Notifications": {"Language": "fr"}})", "Inbound.Notifications.Language"},
    {R"({"Recipients": [{"Id": "x", "Name": "X", "Email": "x@b.example", "Language": "fr"}]})",
     "Inbound.Recipients[0].Language"},
    {R"({"Notifications": {"AdminEmails": ["nope"]}})", "Inbound.Notifications.AdminEmails"},
    {R"({"Notifications": {"AdminEmails": "admin@b.example"}})", "Inbound.Notifications.AdminEmails"},
    {R"({"Notifications": {"Viewer": "Nope"}})", "Inbound.Notifications.Viewer"},
    {R"({"Notifications": {"Viewer": "ftp://x/{OrthancStudyId}"}})", "Inbound.Notifications.Viewer"},
    {R"({"Notifications": {"Viewer": "{OrthancUrl}/no-id"}})", "Inbound.Notifications.Viewer"},
    {R"({"Notifications": {"OrthancUrl": "orthanc.example"}})", "Inbound.Notifications.OrthancUrl"},
    {R"({"Notifications": {"Templates": "/no/such/folder"}})", "Inbound.Notifications.Templates"},
    {R"({"Notifications": {"RetryInterval": 60, "MaxRetryInterval": 30}})",
     "Inbound.Notifications.MaxRetryInterval"},
    {R"({"Notifications": {"GiveUpAfter": 0}})", "Inbound.Notifications.GiveUpAfter"},
    {R"({"Notifications": {"ReceiptsPerAddressPerDay": 0}})",
     "Inbound.Notifications.ReceiptsPerAddressPerDay"},
    {R"({"Webhooks": {"Url": "https://a.example", "Secret": "0123456789abcdef"}})", "Inbound.Webhooks"},
    {R"({"Webhooks": [{"Url": "http://a.example/hook", "Secret": "0123456789abcdef"}]})",
     "Inbound.Webhooks[0].Url"},
    {R"({"Webhooks": [{"Url": "https://a.example/ hook", "Secret": "0123456789abcdef"}]})",
     "Inbound.Webhooks[0].Url"},
    {R"({"Webhooks": [{"Url": "https://a.example/hook", "Secret": "short"}]})",
     "Inbound.Webhooks[0].Secret"},
    {R"({"Webhooks": [{"Url": "https://a.example/hook", "Secret": "0123456789abcdef",
                       "Events": ["upload.deleted"]}]})", "Inbound.Webhooks[0].Events"},
    {R"({"Webhooks": [{"Url": "https://a.example/hook", "Secret": "0123456789abcdef", "Foo": 1}]})",
     "Inbound.Webhooks[0]"},
    {R"({"Webhooks": [{"Url": "https://a.example/hook"}]})", "Inbound.Webhooks[0]"},
    {R"({"GatewayAlert": -1})", "Inbound.GatewayAlert"}};
  for (const auto& c : cases)
  {
    EXPECT_NE(std::string::npos, ErrorOf(c.first).find(c.second)) << c.first << "\n" << ErrorOf(c.first);
  }
}

TEST(Configuration, BadWebhookValuesNameTheirEntry)
{
  // "Inbound.Events" alone does not tell an admin with several hooks which one is wrong.
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Webhooks": [{"Url": "https://a.example/hook", "Secret": "0123456789abcdef",
                                      "Events": "alert"}]})").find("Inbound.Webhooks[0].Events"));
  EXPECT_NE(std::string::npos,
            ErrorOf(R"({"Webhooks": [{"Url": "https://a.example/hook", "Secret": "0123456789abcdef",
                                      "CACertificates": 5}]})")
              .find("Inbound.Webhooks[0].CACertificates"));
}

TEST(Configuration, RecipientEmailsMustBeAddressesTheMailerAccepts)
{
  // Accepted here but refused by MailAddress::IsValidAddress when the mail is composed: the
  // recipient would never be mailed, and only a log line would say so.
  for (const char* email : {"neuro.@hospital.example", "neuro..x@hospital.example",
                            ".neuro@hospital.example", "neuro@hospital..example",
                            "neuro@-hospital.example"})
  {
    EXPECT_NE(std::string::npos,
              ErrorOf(std::string(R"({"Recipients": [{"Id": "x", "Name": "X", "Email": ")") + email +
                      "\"}]}").find("Inbound.Recipients[0].Email")) << email;
  }
}

TEST(Configuration, SealingKeysAreReadPerRole)
{
  const Configuration none = Configuration::Parse(Json::nullValue);
  EXPECT_TRUE(none.sealing.privateKey.empty());
  EXPECT_TRUE(none.sealing.previousPrivateKeys.empty());
  EXPECT_TRUE(none.sealing.publicKeys.empty());

  const Configuration gateway = Configuration::Parse(Section(
    R"({"Role": "Gateway", "Sealing": {"PublicKeys": ["/etc/a.pub", "-----BEGIN PUBLIC KEY-----"]}})"));
  ASSERT_EQ(2u, gateway.sealing.publicKeys.size());
  EXPECT_EQ("/etc/a.pub", gateway.sealing.publicKeys[0]);

  const Configuration internal = Configuration::Parse(Section(
    R"({"Role": "Internal", "Gateways": ["g"],
        "Sealing": {"PrivateKey": "/k.pem", "PreviousPrivateKeys": ["/old.pem"]}})"));
  EXPECT_EQ("/k.pem", internal.sealing.privateKey);
  ASSERT_EQ(1u, internal.sealing.previousPrivateKeys.size());
  EXPECT_EQ("/old.pem", internal.sealing.previousPrivateKeys[0]);
}

TEST(Configuration, BadSealingValuesNameTheirEntry)
{
  const std::vector<std::pair<std::string, std::string>> cases = {
    {R"({"Role": "Gateway", "Sealing": {"PublicKeys": ["/a.pub", ""]}})",
     "Inbound.Sealing.PublicKeys[1]"},
    {R"({"Role": "Gateway", "Sealing": {"PublicKeys": [5]}})", "Inbound.Sealing.PublicKeys[0]"},
    {R"({"Role": "Gateway", "Sealing": {"PublicKeys": "/a.pub"}})", "Inbound.Sealing.PublicKeys"},
    {R"({"Role": "Internal", "Gateways": ["g"], "Sealing": {"PreviousPrivateKeys": ["a", ""]}})",
     "Inbound.Sealing.PreviousPrivateKeys[1]"},
    {R"({"Sealing": {"PrivateKey": 3}})", "Inbound.Sealing.PrivateKey"},
    // The private key never goes into the DMZ; public keys on the inside are a mistake.
    {R"({"Role": "Gateway", "Sealing": {"PrivateKey": "/k.pem"}})", "Inbound.Sealing.PrivateKey"},
    {R"({"Role": "Gateway", "Sealing": {"PreviousPrivateKeys": ["/k.pem"]}})",
     "Inbound.Sealing.PreviousPrivateKeys"},
    {R"({"Role": "Internal", "Gateways": ["g"], "Sealing": {"PublicKeys": ["/a.pub"]}})",
     "Inbound.Sealing.PublicKeys"},
    {R"({"Sealing": {"PublicKeys": ["/a.pub"]}})", "Inbound.Sealing.PublicKeys"}};
  for (const auto& c : cases)
  {
    EXPECT_NE(std::string::npos, ErrorOf(c.first).find(c.second)) << c.first << "\n" << ErrorOf(c.first);
  }
}

TEST(Configuration, RequestLinkOptions)
{
  const Configuration defaults = Configuration::Parse(Json::nullValue);
  EXPECT_EQ("", defaults.publicUrl);
  EXPECT_TRUE(defaults.openUploads);
  EXPECT_EQ(14u, defaults.requests.defaultExpiryDays);
  EXPECT_EQ(90u, defaults.requests.maxExpiryDays);
  EXPECT_EQ(20u, defaults.requests.maxUploads);
  EXPECT_EQ(5u, defaults.requests.maxFailures);
  EXPECT_EQ(86400u, defaults.requests.ticketSeconds);

  const Configuration c = Configuration::Parse(Section(
    R"({"PublicUrl": "https://upload.hospital.example/", "OpenUploads": false,
        "Requests": {"MaxFailures": 3, "TicketSeconds": 600}})"));
  EXPECT_EQ("https://upload.hospital.example", c.publicUrl);  // the trailing slash dropped
  EXPECT_FALSE(c.openUploads);
  EXPECT_EQ(3u, c.requests.maxFailures);
  EXPECT_EQ(600u, c.requests.ticketSeconds);
  EXPECT_EQ(14u, c.requests.defaultExpiryDays);
  for (const char* url : {"http://localhost:8042", "https://[::1]:8443", "https://h.example/up"})
  {
    EXPECT_EQ(url, Configuration::Parse(Section(std::string("{\"PublicUrl\": \"") + url + "\"}"))
                     .publicUrl);
  }
}

TEST(Configuration, BadRequestLinkOptionsNameTheOption)
{
  const std::vector<std::pair<std::string, std::string>> cases = {
    {R"({"PublicUrl": "upload.hospital.example"})", "Inbound.PublicUrl"},
    {R"({"PublicUrl": "ftp://upload.hospital.example"})", "Inbound.PublicUrl"},
    {R"({"PublicUrl": "https://upload.hospital.example/?x=1"})", "Inbound.PublicUrl"},
    {R"({"PublicUrl": "https://user:pw@upload.hospital.example"})", "Inbound.PublicUrl"},
    {R"({"PublicUrl": "https://upload.hospital.example/a b"})", "Inbound.PublicUrl"},
    {R"({"PublicUrl": 5})", "Inbound.PublicUrl"},
    {R"({"OpenUploads": "no"})", "Inbound.OpenUploads"},
    {R"({"Requests": {"MaxFailures": 0}})", "Inbound.Requests.MaxFailures"},
    {R"({"Requests": {"MaxUploads": 0}})", "Inbound.Requests.MaxUploads"},
    {R"({"Requests": {"TicketSeconds": 10}})", "Inbound.Requests.TicketSeconds"},
    {R"({"Requests": {"DefaultExpiryDays": 0}})", "Inbound.Requests.DefaultExpiryDays"},
    {R"({"Requests": {"DefaultExpiryDays": 30, "MaxExpiryDays": 7}})",
     "Inbound.Requests.DefaultExpiryDays"},
    {R"({"Requests": 5})", "Inbound.Requests"}};
  for (const auto& c : cases)
  {
    EXPECT_NE(std::string::npos, ErrorOf(c.first).find(c.second)) << c.first << "\n" << ErrorOf(c.first);
  }
}

namespace
{
  const std::string kHashA(64, 'a');
  const std::string kHashB(64, 'b');

  std::string WithPartners(const std::string& partners, const std::string& extra = "")
  {
    return R"({"Recipients": [{"Id": "neuro", "Name": "Neuro", "Email": "neuro@hospital.example"}],
               "Partners": )" + partners + extra + "}";
  }
}

TEST(Configuration, PartnersAreReadWithTheirLimits)
{
  const Configuration none = Configuration::Parse(Json::nullValue);
  EXPECT_TRUE(none.partners.empty());
  EXPECT_EQ(60u, none.partnerLimits.quietSeconds);
  EXPECT_EQ(8u, none.partnerLimits.maxStreamsTotal);
  EXPECT_EQ(none.upload.maxFileBytes, none.partnerLimits.maxFileBytes);  // 0: Upload's

  const Configuration c = Configuration::Parse(Section(WithPartners(
    R"([{"Id": "clinic-a", "Name": "Clinic A", "Institution": "Clinic A Radiology",
         "Email": "pacs@clinic-a.example", "TokenSha256": ")" + kHashA + R"(",
         "Recipient": "neuro", "Networks": ["192.0.2.0/24", "2001:db8::1"],
         "Limits": {"DailyStudies": 5, "MaxFileBytes": 4096}},
        {"Id": "clinic-b", "Name": "Clinic B", "TokenSha256": [")" + std::string(64, 'B') + R"(", ")" +
                   std::string(64, 'c') + R"("], "Recipient": "neuro", "Enabled": false}])",
    R"(, "PartnerLimits": {"QuietSeconds": 30, "MaxStreams": 3})")));
  ASSERT_EQ(2u, c.partners.size());
  const PartnerSettings& a = c.partners[0];
  EXPECT_EQ("clinic-a", a.id);
  EXPECT_EQ("Clinic A Radiology", a.institution);
  EXPECT_EQ("pacs@clinic-a.example", a.email);
  ASSERT_EQ(1u, a.tokenSha256s.size());
  EXPECT_EQ(kHashA, a.tokenSha256s[0]);
  EXPECT_EQ(2u, a.networks.size());
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(5u, a.limits.dailyStudies);
  EXPECT_EQ(4096u, a.limits.maxFileBytes);
  EXPECT_EQ(30u, a.limits.quietSeconds);  // inherited from PartnerLimits
  EXPECT_EQ(3u, a.limits.maxStreams);
  const PartnerSettings* b = c.LookupPartner("clinic-b");
  ASSERT_NE(nullptr, b);
  EXPECT_FALSE(b->enabled);
  EXPECT_TRUE(b->networks.empty());
  EXPECT_EQ("", b->institution);
  ASSERT_EQ(2u, b->tokenSha256s.size());
  EXPECT_EQ(kHashB, b->tokenSha256s[0]);  // upper-case hex is lowered
  EXPECT_EQ(c.upload.maxFileBytes, b->limits.maxFileBytes);
  EXPECT_EQ(nullptr, c.LookupPartner("clinic-c"));
}

TEST(Configuration, BadPartnersStopTheStartNamingTheEntry)
{
  const std::string ok = R"("Name": "A", "Recipient": "neuro", "TokenSha256": ")" + kHashA + "\"";
  struct Case { std::string partners; std::string extra; std::string option; };
  const std::vector<Case> cases = {
    {"{}", "", "Inbound.Partners\""},
    {R"([{"Id": "a", "Name": "A", "Recipient": "nobody", "TokenSha256": ")" + kHashA + "\"}]", "",
     "Inbound.Partners[0].Recipient"},
    {R"([{"Id": "a", "Name": "A", "Recipient": "neuro", "TokenSha256": "abc"}])", "",
     "Inbound.Partners[0].TokenSha256"},
    {R"([{"Id": "a", "Name": "A", "Recipient": "neuro", "TokenSha256": ")" + std::string(63, 'a') + "g\"}]",
     "", "Inbound.Partners[0].TokenSha256"},
    {R"([{"Id": "a", "Name": "A", "Recipient": "neuro", "TokenSha256": []}])", "",
     "Inbound.Partners[0].TokenSha256"},
    {"[{\"Id\": \"a\", " + ok + "}, {\"Id\": \"a\", \"Name\": \"B\", \"Recipient\": \"neuro\", "
     "\"TokenSha256\": \"" + kHashB + "\"}]", "", "Inbound.Partners[1].Id"},
    {"[{\"Id\": \"a\", " + ok + "}, {\"Id\": \"b\", \"Name\": \"B\", \"Recipient\": \"neuro\", "
     "\"TokenSha256\": [\"" + kHashB + "\", \"" + kHashA + "\"]}]", "", "Inbound.Partners[1].TokenSha256"},
    {"[{\"Id\": \"a\", " + ok + ", \"Networks\": [\"10.0.0.0/33\"]}]", "", "Inbound.Partners[0].Networks"},
    {"[{\"Id\": \"a\", " + ok + ", \"Networks\": \"10.0.0.0/8\"}]", "", "Inbound.Partners[0].Networks"},
    {"[{\"Id\": \"A b\", " + ok + "}]", "", "Inbound.Partners[0].Id"},
    {"[{\"Id\": \"a\", " + ok + ", \"Token\": \"x\"}]", "", "Inbound.Partners[0]"},
    {"[{\"Id\": \"a\", " + ok + ", \"Enabled\": \"no\"}]", "", "Inbound.Partners[0].Enabled"},
    {"[{\"Id\": \"a\", " + ok + ", \"Limits\": {\"MaxStreamsTotal\": 2}}]", "", "Inbound.Partners[0].Limits"},
    {"[{\"Id\": \"a\", " + ok + ", \"Limits\": {\"MaxStreams\": 9}}]", "", "Inbound.Partners[0].Limits.MaxStreams"},
    {"[{\"Id\": \"a\", " + ok + ", \"Limits\": {\"QuietSeconds\": -1}}]", "", "Inbound.Partners[0].Limits.QuietSeconds"},
    {"[{\"Id\": \"a\", " + ok + ", \"Limits\": {\"MaxFileBytes\": 1099511627776}}]", "",
     "Inbound.Partners[0].Limits.MaxFileBytes"},
    {"[]", R"(, "PartnerLimits": {"MaxStreams": 9})", "Inbound.PartnerLimits.MaxStreams"},
    {"[{\"Id\": \"a\", " + ok + "}]", R"(, "Role": "Internal", "Gateways": ["dmz"])", "Inbound.Partners\""},
  };
  for (const Case& c : cases)
  {
    const std::string error = ErrorOf(WithPartners(c.partners, c.extra));
    EXPECT_NE(std::string::npos, error.find(c.option)) << c.partners << " -> " << error;
  }
  // Revoked and restricted partners are fine; so is a Gateway.
  EXPECT_EQ("", ErrorOf(WithPartners("[{\"Id\": \"a\", " + ok + ", \"Enabled\": false, "
                                     "\"Networks\": [\"10.0.0.0/8\", \"::1\"]}]",
                                     R"(, "Role": "Gateway")")));
}
