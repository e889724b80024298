// Unit tests of the content of notifications: viewer links and sizes in mails.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "NotifierTestSupport.h"

using namespace NotifierTesting;

TEST(NotificationPayloads, MakeViewerLinkForEachNamedViewer)
{
  const std::string base = "https://orthanc.hospital.example";
  const std::pair<const char*, std::string> expected[] = {
      {"Explorer", base + "/app/explorer.html#study?uuid=OSTUDY"},
      {"Stone", base + "/stone-webviewer/index.html?study=1.2.3"},
      {"OHIF", base + "/ohif/viewer?StudyInstanceUIDs=1.2.3"},
      {"OsimisViewer", base + "/osimis-viewer/app/index.html?study=OSTUDY"},
      {"WebViewer", base + "/web-viewer/app/viewer.html?series=OSERIES"},
      {"https://viewer.example/view?uid={StudyInstanceUID}",
       "https://viewer.example/view?uid=1.2.3"},
      {"{OrthancUrl}/x/{OrthancStudyId}/{OrthancSeriesId}", base + "/x/OSTUDY/OSERIES"}};
  for (const auto& e : expected)
  {
    const Configuration c = MakeConfiguration(
        std::string(
            R"({"Notifications": {"OrthancUrl": "https://orthanc.hospital.example/",
                                  "Viewer": ")") +
        e.first + "\"}}");
    const NotificationSettings& s = c.notifications;
    EXPECT_EQ(e.second, NotificationPayloads::MakeViewerLink(s, "OSTUDY", "1.2.3", "OSERIES"))
        << e.first;
  }

  const NotificationSettings explorer = MakeConfiguration("{}").notifications;
  EXPECT_EQ("", NotificationPayloads::MakeViewerLink(explorer, "", "1.2.3", "OSERIES"));
  NotificationSettings noUrl = explorer;
  noUrl.orthancUrl = "";
  EXPECT_EQ("", NotificationPayloads::MakeViewerLink(noUrl, "OSTUDY", "1.2.3", "OSERIES"));
  const NotificationSettings web =
      MakeConfiguration(R"({"Notifications": {"Viewer": "WebViewer"}})").notifications;
  EXPECT_EQ("", NotificationPayloads::MakeViewerLink(web, "OSTUDY", "1.2.3", ""));
}

TEST(NotificationPayloads, MakeViewerLinkEncodesTheIdentifiers)
{
  // The StudyInstanceUID comes from the sender's file, unchecked: it must not add query
  // parameters, fragments or blanks to a link that the hospital's mail invites to click.
  for (const char* viewer : {"Stone", "OHIF"})
  {
    const NotificationSettings s =
        MakeConfiguration(std::string(R"({"Notifications": {"Viewer": ")") + viewer + "\"}}")
            .notifications;
    const std::string link = NotificationPayloads::MakeViewerLink(
        s, "OSTUDY", "1.2.3&url=https://evil.example/x#y z\nClick", "S");
    EXPECT_EQ(std::string::npos, link.find("&url=")) << link;
    EXPECT_EQ(std::string::npos, link.find_first_of(" \n#")) << link;
  }
}

TEST(NotificationPayloads, FormatSizeInEnglishAndGerman)
{
  EXPECT_EQ("0 B", NotificationPayloads::FormatSize(0, "en"));
  EXPECT_EQ("999 B", NotificationPayloads::FormatSize(999, "en"));
  EXPECT_EQ("1.0 kB", NotificationPayloads::FormatSize(1000, "en"));
  EXPECT_EQ("1.2 kB", NotificationPayloads::FormatSize(1234, "en"));
  EXPECT_EQ("12.4 MB", NotificationPayloads::FormatSize(12400000, "en"));
  EXPECT_EQ("5.0 GB", NotificationPayloads::FormatSize(5000000000LL, "en"));
  EXPECT_EQ("3.2 TB", NotificationPayloads::FormatSize(3200000000000LL, "en"));
  EXPECT_EQ("4000.0 TB", NotificationPayloads::FormatSize(4000000000000000LL, "en"));
  EXPECT_EQ("12,4 MB", NotificationPayloads::FormatSize(12400000, "de"));
  EXPECT_EQ("999 B", NotificationPayloads::FormatSize(999, "de"));
  EXPECT_EQ("1,2 kB", NotificationPayloads::FormatSize(1234, "de"));
}

TEST(NotificationPayloads, FormatSizeNeverShowsAThousandOfAUnit)
{
  // 999,950 bytes round to "1000.0 kB" when the unit is chosen before rounding.
  EXPECT_EQ("1.0 MB", NotificationPayloads::FormatSize(999950, "en"));
  EXPECT_EQ("1,0 GB", NotificationPayloads::FormatSize(999999999, "de"));
}
