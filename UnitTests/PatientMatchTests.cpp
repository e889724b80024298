// The patient-match rule against the case table shared with the page, names in DICOM charsets.
#include "Requests/PatientMatch.h"
#include "Toolbox/Json.h"
#include "Upload/DicomText.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace Inbound;

namespace
{
  Json::Value ReadCases()
  {
    std::ifstream file(std::string(INBOUND_SOURCE_DIR) +
                       "/UnitTests/Resources/patient-match-cases.json");
    std::stringstream text;
    text << file.rdbuf();
    const std::string json = text.str();
    Json::Value table;
    EXPECT_TRUE(JsonText::ParseStrict(table, json.data(), json.size()));
    return table;
  }

  ItemRecord Item(const std::string& name, const std::string& birthDate)
  {
    ItemRecord item;
    item.patientName = name;
    item.patientBirthDate = birthDate;
    return item;
  }

  RequestPatient Expected(const std::string& name, const std::string& birthDate)
  {
    RequestPatient p;
    p.id = "H-1";
    p.name = name;
    p.birthDate = birthDate;
    return p;
  }

  // A name as DicomText decodes it from the bytes a file sent under its character set.
  std::string FromDicom(const std::string& bytes, const std::string& charset)
  {
    return DicomText::Decode(bytes, charset).text;
  }
}

TEST(PatientMatch, EveryCaseOfTheTableSharedWithThePage)
{
  const Json::Value table = ReadCases();
  ASSERT_TRUE(table["cases"].isArray()) << "UnitTests/Resources/patient-match-cases.json";
  ASSERT_GE(table["cases"].size(), 25u);
  for (const Json::Value& c : table["cases"])
  {
    const std::string expectedName = c["expected"]["patientName"].asString();
    const std::string foundName = c["found"]["patientName"].asString();
    const PatientMatch::Verdict v =
      PatientMatch::Compare(expectedName, c["expected"]["birthDate"].asString(), foundName,
                            c["found"]["birthDate"].asString());
    const std::string why = c["why"].asString();
    EXPECT_EQ(c["sameName"].asBool(), v.sameName) << why;
    EXPECT_EQ(c["birthDate"].asString(), PatientMatch::EnumerationToString(v.birthDate)) << why;
    EXPECT_EQ(c["matched"].asBool(), v.IsMatch()) << why;
    EXPECT_EQ(c["sameName"].asBool(), PatientMatch::IsSameName(foundName, expectedName))
      << why << " (the other way round)";
  }
}

TEST(PatientMatch, WordsWithoutAccentsInLowerCaseSorted)
{
  EXPECT_EQ(std::vector<std::string>({"garcia", "jose", "maria", "nunez"}),
            PatientMatch::GetNameWords("Núñez-García^José,María"));
  EXPECT_TRUE(PatientMatch::GetNameWords("").empty());
  EXPECT_TRUE(PatientMatch::GetNameWords("^ ,-\t").empty());
  EXPECT_FALSE(PatientMatch::IsSameName("", ""));
  // Decomposed input (e + U+0301) and precomposed (U+00E9) are one letter.
  EXPECT_TRUE(PatientMatch::IsSameName("Ren\xc3\xa9", "Rene\xcc\x81"));
  // White space JavaScript's \s knows: no-break space, ideographic space.
  EXPECT_TRUE(PatientMatch::IsSameName("Doe\xc2\xa0Jane", "Doe^Jane"));
  EXPECT_TRUE(PatientMatch::IsSameName("Doe\xe3\x80\x80Jane", "Doe^Jane"));
  // Final sigma: the whole group is lower-cased as JavaScript does.
  EXPECT_TRUE(PatientMatch::IsSameName("ΝΙΚΟΣ^ΣΟΦΙΑ", "Νίκος^Σοφία"));
  // Turkish dotted capital I: decomposed, its dot dropped, then lower case.
  EXPECT_TRUE(PatientMatch::IsSameName("İLKER", "ilker"));
  // Letters NFD does not split are folded by a map, upper case too.
  EXPECT_TRUE(PatientMatch::IsSameName("ŁUKASZ^ØRE^STRASSE", "lukasz ore straße"));
  // Transliteration is not folding.
  EXPECT_FALSE(PatientMatch::IsSameName("Müller", "Mueller"));
  // Invalid UTF-8 is no letter: it cannot match a real one.
  EXPECT_FALSE(PatientMatch::IsSameName("M\xfcller", "Muller"));
}

TEST(PatientMatch, NamesDecodedFromTheCharacterSetsFilesDeclare)
{
  // Latin-1 bytes of "Müller^Zoë" under ISO_IR 100.
  EXPECT_TRUE(PatientMatch::IsSameName(FromDicom("M\xfcller^Zo\xeb", "ISO_IR 100"),
                                       "MULLER^ZOE"));
  // A misspelt Latin-1 declaration decodes the same.
  EXPECT_TRUE(PatientMatch::IsSameName(FromDicom("M\xfcller^Zo\xeb", "ISO-8859-1"),
                                       "Müller^Zoë"));
  // UTF-8 under ISO_IR 192.
  EXPECT_TRUE(PatientMatch::IsSameName(FromDicom("N\xc3\xba\xc3\xb1" "ez^Jos\xc3\xa9",
                                                 "ISO_IR 192"), "Nunez^Jose"));
  // Latin-2 (ISO_IR 101): 0xA3 is Ł, 0xB6 is ś.
  EXPECT_TRUE(PatientMatch::IsSameName(FromDicom("\xa3ukasz^Wi\xb6niewski", "ISO_IR 101"),
                                       "Lukasz^WISNIEWSKI"));
  // Cyrillic (ISO_IR 144): "ИВАНОВ^ИВАН" against the mixed case typed by staff.
  EXPECT_TRUE(PatientMatch::IsSameName(
    FromDicom("\xb8\xb2\xb0\xbd\xbe\xb2^\xb8\xb2\xb0\xbd", "ISO_IR 144"), "Иванов^Иван"));
  // Greek (ISO_IR 126): "ΣΑΣ" against "σας" and "Σας".
  EXPECT_TRUE(PatientMatch::IsSameName(FromDicom("\xd3\xc1\xd3", "ISO_IR 126"), "σας"));
  // Japanese: the alphabetic group before the ideographic one (ISO 2022 IR 87 escapes).
  EXPECT_TRUE(PatientMatch::IsSameName(
    FromDicom("Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B", "\\ISO 2022 IR 87"),
    "YAMADA^TAROU"));
  // Undeclared Latin-1 is read as Latin-1: still the accented name.
  EXPECT_TRUE(PatientMatch::IsSameName(FromDicom("M\xfcller", ""), "Muller"));
}

TEST(PatientMatch, BirthDates)
{
  EXPECT_EQ(PatientMatch::BirthDate_Same, PatientMatch::CompareBirthDates("19700131", "19700131 "));
  EXPECT_EQ(PatientMatch::BirthDate_Different,
            PatientMatch::CompareBirthDates("19700131", "19700113"));
  EXPECT_EQ(PatientMatch::BirthDate_Unknown, PatientMatch::CompareBirthDates("19700131", " "));
  EXPECT_EQ(PatientMatch::BirthDate_NotRequested, PatientMatch::CompareBirthDates("", ""));
}

TEST(PatientMatch, AnUploadMatchesWhenEveryPatientOfItsFilesDoes)
{
  const RequestPatient jane = Expected("DOE^JANE", "19700131");
  // Many files, one patient written in two ways.
  PatientMatch::UploadVerdict v = PatientMatch::CompareUpload(
    jane, {Item("Doe^Jane", "19700131"), Item("DOE^JANE", "19700131"),
           Item("Doe^Jane", "19700131")});
  EXPECT_TRUE(v.decided);
  EXPECT_TRUE(v.matched);
  EXPECT_EQ(1u, v.patients);
  EXPECT_EQ(0u, v.differing);

  // A CD holding two patients: one is not the expected one.
  v = PatientMatch::CompareUpload(
    jane, {Item("Doe^Jane", "19700131"), Item("Roe^Richard", "19811124")});
  EXPECT_TRUE(v.decided);
  EXPECT_FALSE(v.matched);
  EXPECT_EQ(2u, v.patients);
  EXPECT_EQ(1u, v.differing);
  EXPECT_TRUE(v.nameDiffers);
  EXPECT_TRUE(v.birthDateDiffers);
  const std::string detail = v.Describe("R1");
  EXPECT_EQ("request R1: 1 of 2 patients not the expected one (name and birth date)", detail);
  EXPECT_EQ(std::string::npos, detail.find("Roe"));
  EXPECT_EQ(std::string::npos, detail.find("1981"));

  // The right name without a birth date in the files is not a match.
  v = PatientMatch::CompareUpload(jane, {Item("Doe^Jane", "")});
  EXPECT_TRUE(v.decided);
  EXPECT_FALSE(v.matched);
  EXPECT_FALSE(v.nameDiffers);
  EXPECT_TRUE(v.birthDateDiffers);
  EXPECT_EQ("request R1: 1 of 1 patient not the expected one (birth date)", v.Describe("R1"));
}

TEST(PatientMatch, NothingToCompareDecidesNothing)
{
  // A request without a patient name: no verdict (the upload waits for a person).
  EXPECT_FALSE(PatientMatch::CompareUpload(Expected("", "19700131"),
                                           {Item("Doe^Jane", "19700131")}).decided);
  EXPECT_FALSE(PatientMatch::CompareUpload(Expected("^ ", ""),
                                           {Item("Doe^Jane", "19700131")}).decided);
  // No file.
  EXPECT_FALSE(PatientMatch::CompareUpload(Expected("Doe^Jane", ""), {}).decided);
}
