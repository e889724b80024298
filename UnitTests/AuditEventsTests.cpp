// Unit tests of the audit events' vocabulary: text forms, alerts, and doc/Api.md listing them all.

#include "Ledger/Ledger.h"
#include "LedgerBackends.h"

#include <OrthancException.h>

#include <boost/algorithm/string/predicate.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

using namespace Inbound;

namespace
{
  // The event names in the first column of the table under "## Audit events" in doc/Api.md,
  // read from the source tree.
  std::set<std::string> ReadDocumentedEvents()
  {
    const std::string path = std::string(INBOUND_SOURCE_DIR) + "/doc/Api.md";
    std::ifstream file(path);
    EXPECT_TRUE(file.good()) << path;
    std::set<std::string> events;
    bool inSection = false;
    std::string line;
    const std::regex name("`([^`]+)`");
    while (std::getline(file, line))
    {
      if (boost::starts_with(line, "## "))
      {
        inSection = (line == "## Audit events");
      }
      else if (inSection && boost::starts_with(line, "| `"))
      {
        const std::string first = line.substr(1, line.find('|', 1) - 1);
        for (std::sregex_iterator it(first.begin(), first.end(), name), end; it != end; ++it)
        {
          events.insert((*it)[1].str());
        }
      }
    }
    return events;
  }
}

TEST(AuditEvents, EveryEventRoundTripsThroughItsTextForm)
{
  std::set<std::string> texts;
  for (AuditEventType type : GetAuditEventTypes())
  {
    const std::string text = EnumerationToString(type);
    EXPECT_TRUE(texts.insert(text).second) << "two events named " << text;
    EXPECT_EQ(type, StringToAuditEventType(text));
    AuditEventType found;
    ASSERT_TRUE(LookupAuditEventType(found, text));
    EXPECT_EQ(type, found);
    EXPECT_EQ(std::string::npos, text.find_first_of("'\"\\ ")) << text;  // safe inside SQL
  }
  EXPECT_EQ(48u, texts.size());
  EXPECT_EQ(AuditEventType_UploadOpened, GetAuditEventTypes().front());
  EXPECT_EQ(AuditEventType_AlertPartnerSilent, GetAuditEventTypes().back());

  AuditEventType found = AuditEventType_Ban;
  EXPECT_FALSE(LookupAuditEventType(found, "alert-unknown"));
  EXPECT_EQ(AuditEventType_Ban, found);
  EXPECT_THROW(StringToAuditEventType(""), Orthanc::OrthancException);
  EXPECT_THROW(StringToAuditEventType("Upload-Opened"), Orthanc::OrthancException);
}

TEST(AuditEvents, TheAlertsAreExactlyTheEventsNamedAlert)
{
  std::set<AuditEventType> alerts;
  for (AuditEventType type : GetAuditEventTypes())
  {
    EXPECT_EQ(boost::starts_with(EnumerationToString(type), "alert-"), IsAlert(type))
      << EnumerationToString(type);
    if (IsAlert(type))
    {
      alerts.insert(type);
    }
  }
  const std::vector<AuditEventType> listed = GetAlertTypes();
  EXPECT_EQ(alerts, std::set<AuditEventType>(listed.begin(), listed.end()));
  EXPECT_EQ(15u, listed.size());
  for (AuditEventType alert : listed)
  {
    EXPECT_EQ(std::string("alert-") + GetAlertKind(alert), EnumerationToString(alert));
  }
  EXPECT_EQ("data-monitor-warning", GetAlertKind(AuditEventType_AlertDataMonitorWarning));
  EXPECT_THROW(GetAlertKind(AuditEventType_Ban), Orthanc::OrthancException);
}

TEST(AuditEvents, AStateChangeIsNamedAfterItsState)
{
  for (UploadState state : {UploadState_Complete, UploadState_Cancelled, UploadState_Expired,
                            UploadState_Deleted, UploadState_Delivered})
  {
    EXPECT_EQ(std::string("upload-") + EnumerationToString(state),
              EnumerationToString(GetStateChangeEvent(state)));
  }
  EXPECT_THROW(GetStateChangeEvent(UploadState_Open), Orthanc::OrthancException);
}

TEST(AuditEvents, TheApiDocumentListsExactlyTheseEvents)
{
  std::set<std::string> texts;
  for (AuditEventType type : GetAuditEventTypes())
  {
    texts.insert(EnumerationToString(type));
  }
  EXPECT_EQ(texts, ReadDocumentedEvents());
}

TEST(AuditEvents, AReaderFindsEveryEventOfItsTypesAndOnlyThose)
{
  Ledger ledger(InboundTests::TestLedgerLocation());
  const int64_t start = ledger.Audit().GetCursor("test");
  for (AuditEventType type : GetAuditEventTypes())
  {
    ledger.Audit().Add(1000, type, "", "", "");
  }
  const std::vector<AuditEventType> alerts = GetAlertTypes();
  int64_t scanned = 0;
  const std::vector<AuditEvent> found =
    ledger.Audit().ListAfter(start, std::set<AuditEventType>(alerts.begin(), alerts.end()), 100,
                             scanned);
  ASSERT_EQ(alerts.size(), found.size());
  for (size_t i = 0; i < found.size(); i++)
  {
    EXPECT_TRUE(found[i].Is(alerts[i]));
  }
  EXPECT_EQ(start + static_cast<int64_t>(GetAuditEventTypes().size()), scanned);

  // A full page: the cursor stops at its last entry, not at the end of the trail.
  const std::vector<AuditEvent> page =
    ledger.Audit().ListAfter(start, std::set<AuditEventType>(alerts.begin(), alerts.end()), 2,
                             scanned);
  ASSERT_EQ(2u, page.size());
  EXPECT_EQ(page.back().seq, scanned);

  // No type: nothing found, everything scanned.
  EXPECT_TRUE(ledger.Audit().ListAfter(start, {}, 100, scanned).empty());
  EXPECT_EQ(start + static_cast<int64_t>(GetAuditEventTypes().size()), scanned);
}
