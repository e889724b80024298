// Unit tests of the study summary shared by receipts, admin views, mails and webhooks.
#include "Upload/StudySummary.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  ItemRecord MakeItem(const std::string& study, const std::string& patient,
                      const std::string& series, const std::string& modality,
                      const std::string& orthancStudy = "")
  {
    ItemRecord item;
    item.studyInstanceUid = study;
    item.isolatedPatientId = patient;
    item.seriesInstanceUid = series;
    item.modality = modality;
    item.orthancStudyId = orthancStudy;
    item.sopInstanceUid = study + "/" + series + "/" + std::to_string(rand());
    return item;
  }
}

TEST(StudySummary, NoItemsNoStudies)
{
  EXPECT_TRUE(StudySummary::Summarize({}).empty());
}

TEST(StudySummary, CountsSeriesModalitiesAndInstancesPerStudyInArrivalOrder)
{
  const std::vector<StudySummary> studies = StudySummary::Summarize({
    MakeItem("2.2", "P1", "2.2.1", "MR"),
    MakeItem("1.1", "P1", "1.1.1", "CT"),
    MakeItem("2.2", "P1", "2.2.2", "SR"),
    MakeItem("1.1", "P1", "1.1.1", "CT"),
    MakeItem("2.2", "P1", "2.2.1", "MR"),
    MakeItem("1.1", "P1", "1.1.2", ""),
  });
  ASSERT_EQ(2u, studies.size());
  EXPECT_EQ("2.2", studies[0].first.studyInstanceUid);  // the first file arrived first
  EXPECT_EQ((std::set<std::string>{"MR", "SR"}), studies[0].modalities);
  EXPECT_EQ(2u, studies[0].series.size());
  EXPECT_EQ(3, studies[0].instances);
  EXPECT_EQ("1.1", studies[1].first.studyInstanceUid);
  EXPECT_EQ(std::set<std::string>{"CT"}, studies[1].modalities);  // no empty modality
  EXPECT_EQ((std::set<std::string>{"1.1.1", "1.1.2"}), studies[1].series);
  EXPECT_EQ(3, studies[1].instances);
}

TEST(StudySummary, OneStudyUidUnderTwoIsolatedPatientsIsTwoStudies)
{
  const std::vector<StudySummary> studies = StudySummary::Summarize({
    MakeItem("1.1", "IN-A", "1.1.1", "CT", "OA"),
    MakeItem("1.1", "IN-B", "1.1.1", "CT", "OB"),
    MakeItem("1.1", "IN-A", "1.1.1", "CT", "OA"),
  });
  ASSERT_EQ(2u, studies.size());
  EXPECT_EQ("IN-A", studies[0].first.isolatedPatientId);
  EXPECT_EQ("OA", studies[0].first.orthancStudyId);
  EXPECT_EQ(2, studies[0].instances);
  EXPECT_EQ("IN-B", studies[1].first.isolatedPatientId);
  EXPECT_EQ("OB", studies[1].first.orthancStudyId);
  EXPECT_EQ(1, studies[1].instances);
}

TEST(StudySummary, TheKeyCannotBeForgedByMovingCharactersBetweenItsParts)
{
  // As concatenated text both would read "1.1\n2" + "X"; as a pair they differ.
  const std::vector<StudySummary> studies = StudySummary::Summarize({
    MakeItem("1.1", "2\nX", "s", "CT"),
    MakeItem("1.1\n2", "X", "s", "CT"),
  });
  EXPECT_EQ(2u, studies.size());
}

TEST(StudySummary, TheOrthancStudyIdIsThatOfTheFirstStoredFile)
{
  const std::vector<StudySummary> studies = StudySummary::Summarize({
    MakeItem("1.1", "P1", "1.1.1", "CT", ""),
    MakeItem("1.1", "P1", "1.1.1", "CT", "O1"),
    MakeItem("1.1", "P1", "1.1.1", "CT", "O2"),
  });
  ASSERT_EQ(1u, studies.size());
  EXPECT_EQ("O1", studies[0].first.orthancStudyId);
}
