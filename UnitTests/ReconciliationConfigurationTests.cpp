// Unit tests of Inbound.Reconciliation and AutoForward's "Reconcile": values and refusals.
#include "Configuration.h"
#include "Reconcile/ReconcileSetup.h"
#include "Toolbox/Json.h"

#include <OrthancException.h>

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  Configuration ParseText(const std::string& text)
  {
    Json::Value v;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(v, text, errors)) << errors;
    return Configuration::Parse(v);
  }

  std::string ErrorOf(const std::string& text)
  {
    try
    {
      ParseText(text);
    }
    catch (const Orthanc::OrthancException& e)
    {
      return e.GetDetails();
    }
    return "";
  }

  ::testing::AssertionResult Refused(const std::string& text, const std::string& option)
  {
    const std::string error = ErrorOf(text);
    if (error.find("\"Inbound." + option + "\"") == std::string::npos)
    {
      return ::testing::AssertionFailure() << "error \"" << error << "\" names not " << option;
    }
    return ::testing::AssertionSuccess();
  }
} // namespace

TEST(ReconciliationConfiguration, DefaultsAskOnlyThisOrthanc)
{
  const ReconciliationSettings r = Configuration::Parse(Json::nullValue).reconciliation;
  EXPECT_TRUE(r.sources.empty());
  EXPECT_TRUE(r.local);
  EXPECT_EQ("", r.issuerOfPatientId);
  EXPECT_EQ(50, r.threshold);
  EXPECT_EQ(80, r.autoThreshold);
  EXPECT_EQ(5u, r.timeoutSeconds);
  EXPECT_EQ(100u, r.maxAnswers);
  EXPECT_EQ(10u, r.maxCandidates);
  EXPECT_EQ(300u, r.cacheSeconds);
}

TEST(ReconciliationConfiguration, ValuesAreRead)
{
  const ReconciliationSettings r = ParseText(R"({"Reconciliation": {
    "Sources": [{"Modality": "pacs", "Query": "Patient"}, {"Modality": "ris", "Query": "Worklist"},
                {"Modality": "pacs", "Query": "Worklist"}],
    "Local": false, "IssuerOfPatientID": "HOSPITAL-Ø", "Threshold": 40, "AutoThreshold": 90,
    "TimeoutSeconds": 2, "MaxAnswers": 20, "MaxCandidates": 3, "CacheSeconds": 0}})")
                                       .reconciliation;
  ASSERT_EQ(3u, r.sources.size());
  EXPECT_EQ("pacs", r.sources[0].modality);
  EXPECT_EQ(ReconciliationQuery_Patient, r.sources[0].query);
  EXPECT_EQ("ris", r.sources[1].modality);
  EXPECT_EQ(ReconciliationQuery_Worklist, r.sources[1].query);
  EXPECT_STREQ("Worklist", EnumerationToString(r.sources[2].query));
  EXPECT_FALSE(r.local);
  EXPECT_EQ("HOSPITAL-Ø", r.issuerOfPatientId);
  EXPECT_EQ(40, r.threshold);
  EXPECT_EQ(90, r.autoThreshold);
  EXPECT_EQ(2u, r.timeoutSeconds);
  EXPECT_EQ(20u, r.maxAnswers);
  EXPECT_EQ(3u, r.maxCandidates);
  EXPECT_EQ(0u, r.cacheSeconds);
}

TEST(ReconciliationConfiguration, BadValuesNameTheOption)
{
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Sources": {"Modality": "pacs"}}})",
                      "Reconciliation.Sources"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Sources": [{"Modality": "pacs"}]}})",
                      "Reconciliation.Sources[0]"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Sources": [{"Modality": "", "Query": "Patient"}]}})",
                      "Reconciliation.Sources[0]"));
  EXPECT_TRUE(
      Refused(R"({"Reconciliation": {"Sources": [{"Modality": "../tools", "Query": "Patient"}]}})",
              "Reconciliation.Sources[0].Modality"));
  EXPECT_TRUE(
      Refused(R"({"Reconciliation": {"Sources": [{"Modality": "p?x", "Query": "Patient"}]}})",
              "Reconciliation.Sources[0].Modality"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Sources": [{"Modality": "p", "Query": "Study"}]}})",
                      "Reconciliation.Sources[0].Query"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Sources": [{"Modality": "p", "Query": "Patient",
                          "Aet": "X"}]}})",
                      "Reconciliation.Sources[0]"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Sources": [{"Modality": "p", "Query": "Patient"},
                          {"Modality": "p", "Query": "Patient"}]}})",
                      "Reconciliation.Sources[1]"));
  std::string nine;
  for (int i = 0; i < 9; i++)
  {
    nine += std::string(i == 0 ? "" : ",") + "{\"Modality\": \"m" + std::to_string(i) +
            "\", \"Query\": \"Patient\"}";
  }
  EXPECT_TRUE(
      Refused("{\"Reconciliation\": {\"Sources\": [" + nine + "]}}", "Reconciliation.Sources"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Local": "yes"}})", "Reconciliation.Local"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"IssuerOfPatientID": "A\\B"}})",
                      "Reconciliation.IssuerOfPatientID"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"IssuerOfPatientID": "A\nB"}})",
                      "Reconciliation.IssuerOfPatientID"));
  EXPECT_TRUE(
      Refused("{\"Reconciliation\": {\"IssuerOfPatientID\": \"" + std::string(65, 'X') + "\"}}",
              "Reconciliation.IssuerOfPatientID"));
  EXPECT_EQ("", ErrorOf("{\"Reconciliation\": {\"IssuerOfPatientID\": \"" + std::string(64, 'X') +
                        "\"}}"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Threshold": 0}})", "Reconciliation.Threshold"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Threshold": 101}})", "Reconciliation.Threshold"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"Threshold": 70, "AutoThreshold": 60}})",
                      "Reconciliation.AutoThreshold"));
  EXPECT_TRUE(
      Refused(R"({"Reconciliation": {"TimeoutSeconds": 0}})", "Reconciliation.TimeoutSeconds"));
  EXPECT_TRUE(
      Refused(R"({"Reconciliation": {"TimeoutSeconds": 61}})", "Reconciliation.TimeoutSeconds"));
  EXPECT_TRUE(Refused(R"({"Reconciliation": {"MaxAnswers": 0}})", "Reconciliation.MaxAnswers"));
  EXPECT_TRUE(
      Refused(R"({"Reconciliation": {"MaxCandidates": 101}})", "Reconciliation.MaxCandidates"));
  EXPECT_TRUE(
      Refused(R"({"Reconciliation": {"CacheSeconds": -1}})", "Reconciliation.CacheSeconds"));
}

TEST(ReconciliationConfiguration, AGatewayAsksNoSource)
{
  EXPECT_TRUE(Refused(R"({"Role": "Gateway",
                          "Reconciliation": {"Sources": [{"Modality": "pacs", "Query": "Patient"}]}})",
                      "Reconciliation.Sources"));
  EXPECT_EQ(Role_Gateway, ParseText(R"({"Role": "Gateway"})").role);
}

TEST(ReconciliationConfiguration, AutoForwardReconcileIsExclusiveWithAsSent)
{
  const std::string recipients =
      R"("Recipients": [{"Id": "neuro", "Name": "Neuro", "Email": "n@hospital.example"}])";
  const Configuration c = ParseText("{" + recipients + R"(, "AutoForward": [
    {"Recipient": "neuro", "Modality": "pacs", "PatientID": "Namespaced", "Reconcile": true},
    {"Recipient": "*", "Modality": "pacs", "PatientID": "AsSent", "Reconcile": false},
    {"Recipient": "*", "Modality": "pacs", "PatientID": "Namespaced"}]})");
  ASSERT_EQ(3u, c.autoForward.size());
  EXPECT_TRUE(c.autoForward[0].reconcile);
  EXPECT_FALSE(c.autoForward[0].asSent);
  EXPECT_FALSE(c.autoForward[1].reconcile);
  EXPECT_TRUE(c.autoForward[1].asSent);
  EXPECT_FALSE(c.autoForward[2].reconcile);

  EXPECT_TRUE(Refused("{" + recipients + R"(, "AutoForward": [
    {"Recipient": "*", "Modality": "pacs", "PatientID": "AsSent", "Reconcile": true}]})",
                      "AutoForward[0].Reconcile"));
  EXPECT_TRUE(Refused("{" + recipients + R"(, "AutoForward": [
    {"Recipient": "*", "Modality": "pacs", "PatientID": "Namespaced", "Reconcile": "yes"}]})",
                      "AutoForward[0].Reconcile"));

  // A reconciling rule sends the hospital's identity or nothing: PatientID may be left out,
  // which no other rule may.
  const Configuration bare = ParseText("{" + recipients + R"(, "AutoForward": [
    {"Recipient": "neuro", "Modality": "pacs", "Reconcile": true}]})");
  ASSERT_EQ(1u, bare.autoForward.size());
  EXPECT_TRUE(bare.autoForward[0].reconcile);
  EXPECT_FALSE(bare.autoForward[0].asSent);
  EXPECT_TRUE(Refused("{" + recipients + R"(, "AutoForward": [
    {"Recipient": "neuro", "Modality": "pacs", "Reconcile": false}]})", "AutoForward[0]"));
  EXPECT_TRUE(Refused("{" + recipients + R"(, "AutoForward": [
    {"Recipient": "neuro", "Modality": "pacs"}]})", "AutoForward[0]"));
}

TEST(ReconciliationConfiguration, SourcesNeedUtf8AnswersFromOrthanc)
{
  const Configuration none = Configuration::Parse(Json::nullValue);
  const Configuration pacs = ParseText(
      R"({"Reconciliation": {"Sources": [{"Modality": "pacs", "Query": "Patient"},
                                       {"Modality": "ris", "Query": "Worklist"}]}})");
  Json::Value orthanc(Json::objectValue);
  orthanc["DicomModalities"]["pacs"] = Json::arrayValue;

  // Without sources nothing is asked of Orthanc's encoding (Local reads Orthanc's own index).
  EXPECT_TRUE(ReconcileSetup::Check(orthanc, none).empty());

  // Absent is Latin1, Orthanc's default: refused, and the message names the fix.
  try
  {
    ReconcileSetup::Check(orthanc, pacs);
    ADD_FAILURE() << "started with answers in Latin1";
  }
  catch (const Orthanc::OrthancException& e)
  {
    EXPECT_NE(std::string::npos,
              std::string(e.GetDetails()).find("\"DefaultEncoding\" : \"Utf8\""));
    EXPECT_NE(std::string::npos, std::string(e.GetDetails()).find("\"Latin1\""));
  }
  orthanc["DefaultEncoding"] = "Latin1";
  EXPECT_THROW(ReconcileSetup::Check(orthanc, pacs), Orthanc::OrthancException);
  orthanc["DefaultEncoding"] = "Utf16";
  EXPECT_THROW(ReconcileSetup::Check(orthanc, pacs), Orthanc::OrthancException);
  orthanc["DefaultEncoding"] = 8;
  EXPECT_THROW(ReconcileSetup::Check(orthanc, pacs), Orthanc::OrthancException);

  orthanc["DefaultEncoding"] = "Utf8";
  const std::vector<std::string> warnings = ReconcileSetup::Check(orthanc, pacs);
  ASSERT_EQ(1u, warnings.size()); // "ris" is not in DicomModalities: a warning, not a stop
  EXPECT_NE(std::string::npos, warnings[0].find("\"ris\""));
  orthanc["DefaultEncoding"] = "utf8"; // Orthanc reads the name in any case
  EXPECT_EQ(1u, ReconcileSetup::Check(orthanc, pacs).size());
  EXPECT_TRUE(ReconcileSetup::IsUtf8("UTF8"));
  EXPECT_FALSE(ReconcileSetup::IsUtf8("UTF-8"));
}
