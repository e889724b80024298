// Unit tests of reconciliation queries (safe sender values, keys, bodies), answers, sent patients.
#include "Reconcile/CandidateQueries.h"
#include "Reconcile/SentPatients.h"
#include "Toolbox/Json.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace Inbound;
using namespace Inbound::CandidateQueries;

namespace
{
  size_t Literals(const std::string& pattern)
  {
    return static_cast<size_t>(std::count_if(
        pattern.begin(), pattern.end(),
        [](char c)
        { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }));
  }

  SentPatient Jane()
  {
    SentPatient p;
    p.originalPatientId = "EXT-555";
    p.name = "Doe^Jane";
    p.birthDate = "19700131";
    p.otherPatientIds = {"OLD-77", "EXT-555", "OLD-77", "A*"};
    p.accessionNumbers = {"A2026-001", "A2026-001", "12345678901234567", "ACC?"};
    return p;
  }

  std::vector<std::string> ValuesOf(const std::vector<Query>& queries, const char* key)
  {
    std::vector<std::string> values;
    for (const Query& q : queries)
    {
      if (q.keys.isMember(key) && (!q.keys[key].isString() || !q.keys[key].asString().empty()))
      {
        values.push_back(q.keys[key].isString() ? q.keys[key].asString() : "(not a string)");
      }
    }
    return values;
  }

  Json::Value Parse(const std::string& text)
  {
    Json::Value v;
    EXPECT_TRUE(JsonText::ParseStrict(v, text.c_str(), text.size())) << text;
    return v;
  }
} // namespace

TEST(CandidateQueries, ExactValuesCarryNoWildcardListOrControlCharacter)
{
  EXPECT_TRUE(IsExactValue("H1003", 64));
  EXPECT_TRUE(IsExactValue(std::string(64, '7'), 64));
  EXPECT_FALSE(IsExactValue(std::string(65, '7'), 64));
  std::string umlauts;
  for (int i = 0; i < 16; i++)
    umlauts += "\xc3\x9c"; // Ü: 16 characters, 32 bytes
  EXPECT_TRUE(IsExactValue(umlauts, 16));
  EXPECT_FALSE(IsExactValue(umlauts + "X", 16));
  for (const char* bad : {"", "*", "H1*", "H?003", "H1\\H2", "H1\nX", "H1\tX", "\x7f"})
  {
    EXPECT_FALSE(IsExactValue(bad, 64)) << bad;
  }
}

TEST(CandidateQueries, BirthDatesAreEightDigitsNeverARange)
{
  EXPECT_TRUE(IsBirthDate("19700131"));
  EXPECT_TRUE(IsBirthDate("20001231"));
  for (const char* bad : {"", "1970013", "197001311", "19700131-19800101", "-19700131", "1970*",
                          "19701301", "19700100", "19700132", "1970013a", "19700?31"})
  {
    EXPECT_FALSE(IsBirthDate(bad)) << bad;
  }
}

TEST(CandidateQueries, NameWordsKeepAsciiLettersAndStarTheRest)
{
  EXPECT_EQ((std::vector<std::string>{"M*LLER", "J*RGEN"}), GetNameWords("MÜLLER^JÜRGEN"));
  EXPECT_EQ((std::vector<std::string>{"JANE", "DOE"}), GetNameWords("Doe^Jane^Q")); // Q: 1 letter
  EXPECT_EQ((std::vector<std::string>{"*R*SK*BING", "ZO*"}), GetNameWords("Ærøskøbing^Zoë"));
  EXPECT_EQ((std::vector<std::string>{"*UKASIEWICZ", "ZO*"}), GetNameWords("Łukasiewicz^Zoë"));
  EXPECT_EQ((std::vector<std::string>{"O*BRIEN", "MARY"}), GetNameWords("O'Brien^Mary-Ann"));
  EXPECT_EQ((std::vector<std::string>{"DOE"}), GetNameWords("Doe=ドウ=どう")); // first group
  EXPECT_EQ((std::vector<std::string>{"WOLFESCHLEGEL", "LI"}), GetNameWords("Li^Wolfeschlegel^Ng"));
  EXPECT_EQ((std::vector<std::string>{"JANE"}), GetNameWords("JANE^JANE"));
  EXPECT_EQ((std::vector<std::string>{"B*C"}), GetNameWords("A*^B?C"));
  // Names a sender could use to ask for every patient: no word left.
  for (const char* hostile :
       {"", "*", "?^\\\\", "**^??", "李^小龙", "A^B^C", "*A*", "\\A\\", "%^_", "-^-", "Ü*"})
  {
    EXPECT_TRUE(GetNameWords(hostile).empty()) << hostile;
  }
}

TEST(CandidateQueries, PatternsHaveTwoLiteralsAndNeitherQuestionMarkNorBackslash)
{
  EXPECT_EQ((std::vector<std::string>{"M*LLER*", "M*ller*"}), GetPrefixPatterns("M*LLER"));
  EXPECT_EQ((std::vector<std::string>{"*UKASIEWICZ*", "*ukasiewicz*"}),
            GetPrefixPatterns("*UKASIEWICZ"));
  EXPECT_EQ((std::vector<std::string>{"ZO*", "Zo*"}), GetPrefixPatterns("ZO*"));
  EXPECT_EQ((std::vector<std::string>{"1234*"}), GetPrefixPatterns("1234"));
  EXPECT_EQ("*ZO*", GetContainsPattern("ZO*"));
  EXPECT_EQ("*DOE*", GetContainsPattern("DOE"));

  const char* names[] = {"Doe^Jane",
                         "*^?",
                         "J?^D\\\\E",
                         "Ü^Ö^Ä",
                         "A\x01"
                         "B^C\x7f"
                         "D",
                         "李^小龙",
                         "X*Y^*Z",
                         "\xff\xfe^\x80",
                         "Ab^Cd^Ef^Gh^Ij"};
  for (const char* name : names)
  {
    SentPatient p;
    p.name = name;
    std::vector<std::string> patterns = ValuesOf(ForPatientLevel(p), "PatientName");
    for (const std::string& v : ValuesOf(ForWorklist(p), "PatientName"))
      patterns.push_back(v);
    for (const std::string& v : ValuesOf(ForLocal(p), "PatientName"))
      patterns.push_back(v);
    EXPECT_LE(patterns.size(), 2u * 2u + 2u * 2u + 2u) << name; // two words at most
    for (const std::string& pattern : patterns)
    {
      EXPECT_GE(Literals(pattern), 2u) << name << " -> " << pattern;
      EXPECT_EQ(std::string::npos, pattern.find_first_of("?\\")) << name << " -> " << pattern;
      EXPECT_EQ(std::string::npos, pattern.find("**")) << name << " -> " << pattern;
      for (char c : pattern)
        EXPECT_TRUE(c == '*' ||
                    (static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f))
            << name << " -> " << pattern;
    }
  }
}

TEST(CandidateQueries, PatientLevelQueriesInOrderWithEveryReturnKeyInUtf8)
{
  const std::vector<Query> queries = ForPatientLevel(Jane());
  std::vector<std::string> by;
  for (const Query& q : queries)
  {
    by.push_back(q.by);
    EXPECT_EQ("ISO_IR 192", q.keys["SpecificCharacterSet"].asString());
    for (const char* key : {"PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                            "IssuerOfPatientID", "0010,1000"})
    {
      EXPECT_TRUE(q.keys.isMember(key)) << key;
    }
    EXPECT_FALSE(q.keys.isMember("OtherPatientIDs")); // refused by Orthanc 1.10.1 (facts 1.2)
    EXPECT_EQ(7u, q.keys.size());                     // one matching value, the others empty
  }
  EXPECT_EQ(
      (std::vector<std::string>{"birth date", "PatientID", "other patient IDs",
                                "PatientID (other ID as sent)", "name", "name", "name", "name"}),
      by);
  EXPECT_EQ((std::vector<std::string>{"19700131"}), ValuesOf(queries, "PatientBirthDate"));
  EXPECT_EQ((std::vector<std::string>{"EXT-555", "OLD-77"}), ValuesOf(queries, "PatientID"));
  EXPECT_EQ((std::vector<std::string>{"EXT-555"}), ValuesOf(queries, "0010,1000"));
  EXPECT_EQ((std::vector<std::string>{"JANE*", "Jane*", "DOE*", "Doe*"}),
            ValuesOf(queries, "PatientName"));

  // A sender's values that would widen the query are not asked at all.
  SentPatient hostile;
  hostile.originalPatientId = "*";
  hostile.birthDate = "19000101-20991231";
  hostile.name = "*^?";
  hostile.otherPatientIds = {"?", "A\\B"};
  EXPECT_TRUE(ForPatientLevel(hostile).empty());
  EXPECT_TRUE(ForWorklist(hostile).empty());
  EXPECT_TRUE(ForLocal(hostile).empty());
}

TEST(CandidateQueries, WorklistQueriesAskAccessionNumbersFirst)
{
  const std::vector<Query> queries = ForWorklist(Jane());
  ASSERT_FALSE(queries.empty());
  EXPECT_EQ("accession number", queries[0].by);
  EXPECT_EQ((std::vector<std::string>{"A2026-001"}), ValuesOf(queries, "AccessionNumber"));
  EXPECT_EQ((std::vector<std::string>{"EXT-555"}), ValuesOf(queries, "PatientID")); // no other IDs
  EXPECT_EQ(4u, ValuesOf(queries, "PatientName").size());
  for (const Query& q : queries)
  {
    EXPECT_EQ("ISO_IR 192", q.keys["SpecificCharacterSet"].asString());
    ASSERT_TRUE(q.keys["ScheduledProcedureStepSequence"].isArray());
    const Json::Value& step = q.keys["ScheduledProcedureStepSequence"][0];
    for (const char* key : {"Modality", "ScheduledProcedureStepStartDate",
                            "ScheduledProcedureStepDescription", "ScheduledStationAETitle"})
    {
      EXPECT_TRUE(step.isMember(key)) << key;
    }
    for (const char* key : {"RequestedProcedureID", "RequestedProcedureDescription",
                            "StudyInstanceUID", "IssuerOfPatientID", "PatientSex"})
    {
      EXPECT_TRUE(q.keys.isMember(key)) << key;
    }
  }
}

TEST(CandidateQueries, LocalQueriesAskOneConstraintEach)
{
  const std::vector<Query> queries = ForLocal(Jane());
  for (const Query& q : queries)
  {
    EXPECT_EQ(1u, q.keys.size());
  }
  EXPECT_EQ((std::vector<std::string>{"*JANE*", "*DOE*"}), ValuesOf(queries, "PatientName"));
  EXPECT_EQ((std::vector<std::string>{"EXT-555"}), ValuesOf(queries, "0010,1000"));
}

TEST(CandidateQueries, BodiesAlwaysCarryTheirOwnTimeout)
{
  const Query q = ForPatientLevel(Jane())[0];
  const Json::Value patient = MakePatientBody(q, 4);
  EXPECT_EQ("Patient", patient["Level"].asString());
  EXPECT_EQ(4u, patient["Timeout"].asUInt());
  EXPECT_TRUE(patient["Normalize"].asBool());
  EXPECT_EQ(q.keys, patient["Query"]);
  EXPECT_EQ(1u, MakePatientBody(q, 0)["Timeout"].asUInt()); // 0 would wait for ever (facts 1.6)
  const Json::Value worklist = MakeWorklistBody(ForWorklist(Jane())[0], 0);
  EXPECT_EQ(1u, worklist["Timeout"].asUInt());
  EXPECT_TRUE(worklist["Simplify"].asBool());
  const Json::Value local = MakeLocalBody(ForLocal(Jane())[0], 100);
  EXPECT_EQ(101u, local["Limit"].asUInt());
  EXPECT_TRUE(local["Expand"].asBool());
  EXPECT_FALSE(local["CaseSensitive"].asBool());
  EXPECT_EQ("Patient", local["Level"].asString());
}

TEST(CandidateQueries, AnswersAreReadAsRecords)
{
  CandidateRecord r;
  ASSERT_TRUE(ParsePatientAnswer(r, Parse(R"({"PatientID": "H1003", "PatientName": "DOE^JANE",
    "PatientBirthDate": "19700131", "PatientSex": "F", "IssuerOfPatientID": "HOSP",
    "OtherPatientIDs": "EXT-555\\OLD-1", "SpecificCharacterSet": "ISO_IR 192"})"),
                                 "pacs"));
  EXPECT_EQ("pacs", r.source);
  EXPECT_EQ("H1003", r.patientId);
  EXPECT_EQ("HOSP", r.issuer);
  EXPECT_EQ("DOE^JANE", r.name);
  EXPECT_EQ("19700131", r.birthDate);
  EXPECT_EQ("F", r.sex);
  EXPECT_EQ((std::vector<std::string>{"EXT-555", "OLD-1"}), r.otherPatientIds);
  ASSERT_TRUE(
      ParsePatientAnswer(r, Parse(R"({"PatientID": "H1", "RETIRED_OtherPatientIDs": "X"})"), "p"));
  EXPECT_EQ((std::vector<std::string>{"X"}), r.otherPatientIds);
  EXPECT_FALSE(ParsePatientAnswer(r, Parse(R"({"PatientName": "NO^ID"})"), "pacs"));
  EXPECT_FALSE(ParsePatientAnswer(r, Parse(R"({"PatientID": 17})"), "pacs"));
  EXPECT_FALSE(ParsePatientAnswer(r, Parse(R"([1, 2])"), "pacs"));

  ASSERT_TRUE(ParseWorklistAnswer(r, Parse(R"({"PatientID": "H1003", "PatientName": "DOE^JANE",
    "AccessionNumber": "A2026-001", "RequestedProcedureID": "RP001",
    "ScheduledProcedureStepSequence": [{"Modality": "CT", "ScheduledProcedureStepStartDate": "20260513",
      "ScheduledProcedureStepDescription": "CT head"}]})"),
                                  "ris"));
  EXPECT_EQ("ris", r.source);
  EXPECT_EQ("A2026-001", r.accessionNumber);
  EXPECT_EQ("RP001", r.requestedProcedureId);
  EXPECT_EQ("CT head", r.procedureDescription); // no RequestedProcedureDescription
  EXPECT_EQ("20260513", r.scheduledDate);
  EXPECT_EQ("CT", r.scheduledModality);
  ASSERT_TRUE(ParseWorklistAnswer(r, Parse(R"({"PatientID": "H1", "RequestedProcedureDescription":
    "MR knee", "ScheduledProcedureStepSequence": [{"ScheduledProcedureStepDescription": "x"}]})"),
                                  "ris"));
  EXPECT_EQ("MR knee", r.procedureDescription);

  const std::string isolated = R"({"ID": "o1", "MainDicomTags": {"PatientID":
    "INB-ABCDEFGHJKLM-1-EXT-555", "PatientName": "DOE^JANE", "PatientBirthDate": "19700131"}})";
  EXPECT_FALSE(ParseLocalAnswer(r, Parse(isolated), "INB-"));
  ASSERT_TRUE(ParseLocalAnswer(r, Parse(isolated), "OTHER-")); // another prefix: not ours
  ASSERT_TRUE(ParseLocalAnswer(r, Parse(R"({"ID": "o2", "MainDicomTags": {"PatientID": "H1003",
    "PatientName": "DOE^JANE", "PatientSex": "F", "OtherPatientIDs": "EXT-555"}})"),
                               "INB-"));
  EXPECT_EQ("local", r.source);
  EXPECT_EQ("H1003", r.patientId);
  EXPECT_EQ((std::vector<std::string>{"EXT-555"}), r.otherPatientIds);
}

TEST(CandidateQueries, RecordsAreDeduplicatedByTheirIdentity)
{
  std::vector<CandidateRecord> records;
  CandidateRecord r;
  r.patientId = "H1";
  EXPECT_TRUE(AddUnique(records, r));
  EXPECT_FALSE(AddUnique(records, r));
  r.issuer = "OTHER"; // the same ID of another issuer is another patient
  EXPECT_TRUE(AddUnique(records, r));
  r.accessionNumber = "A1";
  r.requestedProcedureId = "RP1";
  EXPECT_TRUE(AddUnique(records, r));
  r.requestedProcedureId = "RP2"; // another procedure of the same order
  EXPECT_TRUE(AddUnique(records, r));
  EXPECT_FALSE(AddUnique(records, r));
  EXPECT_EQ(4u, records.size());
}

TEST(SentPatients, OnePatientPerIsolatedIdWithTheirStudies)
{
  std::vector<ItemRecord> items(4);
  const char* isolated[] = {"INB-X-1-A", "INB-X-2-B", "INB-X-1-A", ""};
  const char* studies[] = {"s1", "s2", "s3", "s4"};
  for (size_t i = 0; i < items.size(); i++)
  {
    items[i].isolatedPatientId = isolated[i];
    items[i].orthancStudyId = studies[i];
    items[i].originalPatientId = i == 1 ? "B" : "A";
    items[i].patientName = i == 1 ? "ROE^RICHARD" : "DOE^JANE";
    items[i].patientBirthDate = "19700131";
    items[i].modality = i == 2 ? "MR" : "CT";
    items[i].studyDate = "2026051" + std::to_string(i);
  }
  const std::vector<SentPatient> patients = SentPatients::FromItems(items);
  ASSERT_EQ(2u, patients.size()); // the item without an isolated ID was not stored
  EXPECT_EQ("A", patients[0].originalPatientId);
  EXPECT_EQ("DOE^JANE", patients[0].name);
  EXPECT_EQ("INB-X-1-A", patients[0].isolatedPatientId);
  EXPECT_EQ((std::vector<std::string>{"s1", "s3"}), patients[0].studies);
  EXPECT_EQ((std::vector<std::string>{"CT", "MR"}), patients[0].modalities);
  EXPECT_EQ((std::vector<std::string>{"20260510", "20260512"}), patients[0].studyDates);
  EXPECT_EQ("B", patients[1].originalPatientId);
}

TEST(SentPatients, StoredTagsGiveSexAccessionOtherIdsAndTheSendersIssuer)
{
  // As Orthanc's /instances/{id}/tags?short shows an isolated instance: the sender's own
  // OriginalAttributesSequence item first, the isolation's last.
  const Json::Value tags = Parse(R"({"0010,0040": "F", "0008,0050": "A2026-001 ",
    "0010,1000": "OLD-77\\EXT-9", "0010,1002": [{"0010,0020": "EXT-9", "0010,0021": "CLINIC-X"},
                                               {"0010,0020": "CARD-1"}],
    "0400,0561": [
      {"0400,0550": [{"0010,0021": "EARLIER"}], "0400,0563": "SENDER-PACS"},
      {"0400,0550": [{"0010,0020": "EXT-555", "0010,0021": "CLINIC-X"}], "0400,0563": "ORTHANC-INBOUND",
       "0400,0564": "", "0400,0565": "COERCE"},
      {"0400,0550": [{"0010,0021": "LATER"}], "0400,0563": "OTHER-SYSTEM"}]})");
  SentPatient p;
  SentPatients::AddInstanceTags(p, tags);
  EXPECT_EQ("F", p.sex);
  EXPECT_EQ((std::vector<std::string>{"A2026-001"}), p.accessionNumbers);
  EXPECT_EQ((std::vector<std::string>{"EXT-9", "CARD-1", "OLD-77"}), p.otherPatientIds);
  EXPECT_EQ("CLINIC-X", p.issuer);

  // A second study's instance adds its accession number; the sex stays the first one read.
  SentPatients::AddInstanceTags(p, Parse(R"({"0010,0040": "M", "0008,0050": "A2026-002"})"));
  EXPECT_EQ("F", p.sex);
  EXPECT_EQ((std::vector<std::string>{"A2026-001", "A2026-002"}), p.accessionNumbers);

  SentPatient q;
  SentPatients::AddInstanceTags(q, Parse(R"({"0010,0040": "U", "0400,0561": "not a sequence"})"));
  EXPECT_EQ("", q.sex); // only M, F, O
  EXPECT_EQ("", q.issuer);
}
