// Unit tests of the reconciliation scores: reason codes, near-misses, rank, auto identity, JSON.
// Over 500 lines: one table of cases per reason code, kept beside the rule it pins.
#include "Reconcile/CandidateScore.h"

#include <gtest/gtest.h>

using namespace Inbound;

namespace
{
  SentPatient Sent(const std::string& name = "DOE^JANE", const std::string& birthDate = "19800514")
  {
    SentPatient s;
    s.originalPatientId = "CD-77";
    s.name = name;
    s.birthDate = birthDate;
    return s;
  }

  CandidateRecord Record(const std::string& name, const std::string& birthDate,
                         const std::string& id = "H-1", const std::string& source = "pacs")
  {
    CandidateRecord r;
    r.source = source;
    r.patientId = id;
    r.name = name;
    r.birthDate = birthDate;
    return r;
  }

  typedef std::vector<std::string> Codes;

  Candidate Scored(int score, const std::string& id, const std::string& source = "pacs")
  {
    Candidate c;
    c.record = Record("DOE^JANE", "19800514", id, source);
    c.score = score;
    return c;
  }

  // A result whose every source answered and whose one patient has these candidates.
  Reconciliation Result(const std::vector<Candidate>& candidates)
  {
    Reconciliation r;
    r.uploadId = "ABCDEFGHJKLM";
    r.autoThreshold = 80;
    SourceOutcome s;
    s.source = "pacs";
    s.query = "Patient";
    r.sources.push_back(s);
    PatientCandidates p;
    p.sent = Sent();
    p.candidates = candidates;
    r.patients.push_back(p);
    return r;
  }
} // namespace

TEST(CandidateScore, NameCodes)
{
  EXPECT_EQ(Codes({"name-same"}), CandidateScore::Score(Sent(), Record("Doe^Jane", "")).reasons);
  EXPECT_EQ(45, CandidateScore::Score(Sent(), Record("Doe^Jane", "")).score);
  EXPECT_EQ(Codes({"name-reordered"}),
            CandidateScore::Score(Sent(), Record("JANE^DOE", "")).reasons);
  EXPECT_EQ(40, CandidateScore::Score(Sent(), Record("JANE^DOE", "")).score);
  // A one-letter typo in a short word, two in a long one: similar; three: differs.
  EXPECT_EQ(Codes({"name-similar"}), CandidateScore::Score(Sent(), Record("DOE^JAME", "")).reasons);
  EXPECT_EQ(25, CandidateScore::Score(Sent(), Record("DOE^JAME", "")).score);
  const SentPatient longName = Sent("SCHWARZENEGGER^ARNOLD");
  EXPECT_EQ(Codes({"name-similar"}),
            CandidateScore::Score(longName, Record("SCHWARZENEGER^ARNOL", "")).reasons);
  EXPECT_EQ(Codes({"name-similar"}),
            CandidateScore::Score(longName, Record("SHWARZENEGER^ARNOLD", "")).reasons);
  EXPECT_EQ(Codes({"name-differs"}),
            CandidateScore::Score(longName, Record("SHWARZENEGR^ARNOLD", "")).reasons);
  EXPECT_EQ(Codes({"name-differs"}), CandidateScore::Score(Sent(), Record("DOE^JOHN", "")).reasons);
  EXPECT_EQ(0, CandidateScore::Score(Sent(), Record("DOE^JOHN", "")).score);
  // Reordered with a typo is still similar; a different number of words is not.
  EXPECT_EQ(Codes({"name-similar"}), CandidateScore::Score(Sent(), Record("JAME^DOE", "")).reasons);
  EXPECT_EQ(Codes({"name-differs"}),
            CandidateScore::Score(Sent("DOE^JANE^X"), Record("DOE^JAME", "")).reasons);
  // No name on either side: no name code at all.
  EXPECT_TRUE(CandidateScore::Score(Sent(""), Record("DOE^JANE", "")).reasons.empty());
  EXPECT_TRUE(CandidateScore::Score(Sent(), Record("^^ ", "")).reasons.empty());
}

TEST(CandidateScore, PartialNames)
{
  // Doe^Jane^Q vs DOE^JANE: the shorter name's two words are in the longer.
  const Candidate c = CandidateScore::Score(Sent("Doe^Jane^Q"), Record("DOE^JANE", ""));
  EXPECT_EQ(Codes({"name-partial"}), c.reasons);
  EXPECT_EQ(25, c.score);
  EXPECT_EQ(Codes({"name-partial"}),
            CandidateScore::Score(Sent("JANE"), Record("DOE^JANE", "")).reasons);
  EXPECT_EQ(Codes({"name-partial"}),
            CandidateScore::Score(Sent("MUELLER^HANS"), Record("MUELLER", "")).reasons);
  // One short word is too little to say anything: "LI" or "DOE" is in many names.
  EXPECT_EQ(Codes({"name-differs"}),
            CandidateScore::Score(Sent("DOE"), Record("DOE^JANE", "")).reasons);
  EXPECT_EQ(Codes({"name-differs"}),
            CandidateScore::Score(Sent("LI"), Record("LI^WEI", "")).reasons);
}

TEST(CandidateScore, NearMissesOfThePacs)
{
  // Same name, other birth date: below the default threshold of 50, even with the sex.
  SentPatient sent = Sent("DOE^JANE", "19800514");
  sent.sex = "F";
  CandidateRecord other = Record("DOE^JANE", "19750302");
  other.sex = "F";
  const Candidate a = CandidateScore::Score(sent, other);
  EXPECT_EQ(Codes({"name-same", "birth-date-differs", "sex-same"}), a.reasons);
  EXPECT_EQ(15, a.score);
  EXPECT_LT(a.score, 50);
  // Transposed name parts, same birth date: above.
  const Candidate b = CandidateScore::Score(sent, Record("JANE^DOE", "19800514"));
  EXPECT_EQ(Codes({"name-reordered", "birth-date-same"}), b.reasons);
  EXPECT_EQ(75, b.score);
  // Accents and case: the same name.
  const Candidate c =
      CandidateScore::Score(Sent("MÜLLER^JÜRGEN", "19800514"), Record("Muller^Jurgen", "19800514"));
  EXPECT_EQ(Codes({"name-same", "birth-date-same"}), c.reasons);
  EXPECT_EQ(80, c.score);
  EXPECT_EQ(Codes({"name-same"}),
            CandidateScore::Score(Sent("ŁUKASIEWICZ^JAN"), Record("Lukasiewicz^Jan", "")).reasons);
  // Only the alphabetic group counts.
  EXPECT_EQ(
      Codes({"name-same"}),
      CandidateScore::Score(Sent("Yamada^Tarou=山田^太郎"), Record("YAMADA^TAROU", "")).reasons);
}

TEST(CandidateScore, BirthDateCodes)
{
  EXPECT_EQ(Codes({"birth-date-same"}),
            CandidateScore::Score(Sent(""), Record("", "19800514")).reasons);
  EXPECT_EQ(Codes({"birth-date-same"}),
            CandidateScore::Score(Sent(""), Record("", "19800514 ")).reasons);
  EXPECT_EQ(35, CandidateScore::Score(Sent(""), Record("", "19800514")).score);
  // One digit, day and month swapped.
  EXPECT_EQ(Codes({"birth-date-near"}),
            CandidateScore::Score(Sent(""), Record("", "19800513")).reasons);
  EXPECT_EQ(Codes({"birth-date-near"}),
            CandidateScore::Score(Sent(""), Record("", "19880514")).reasons);
  EXPECT_EQ(10, CandidateScore::Score(Sent(""), Record("", "19880514")).score);
  EXPECT_EQ(Codes({"birth-date-near"}),
            CandidateScore::Score(Sent("", "19800305"), Record("", "19800503")).reasons);
  EXPECT_EQ(Codes({"birth-date-differs"}),
            CandidateScore::Score(Sent(""), Record("", "19810615")).reasons);
  EXPECT_EQ(0, CandidateScore::Score(Sent(""), Record("", "19810615")).score); // clamped
  // Not a calendar date on either side: not compared.
  for (const char* bad :
       {"", "1980051", "19801314", "19800230", "1980-05-14", "00000514", "abcdefgh"})
  {
    EXPECT_TRUE(CandidateScore::Score(Sent(""), Record("", bad)).reasons.empty()) << bad;
    EXPECT_TRUE(CandidateScore::Score(Sent("", bad), Record("", "19800514")).reasons.empty())
        << bad;
  }
  EXPECT_EQ(Codes({"birth-date-same"}),
            CandidateScore::Score(Sent("", "20000229"), Record("", "20000229")).reasons);
  EXPECT_TRUE(CandidateScore::Score(Sent("", "19000229"), Record("", "19000229")).reasons.empty());
}

TEST(CandidateScore, SexCodes)
{
  SentPatient sent = Sent("");
  sent.sex = "F";
  CandidateRecord r = Record("", "");
  r.sex = "F";
  EXPECT_EQ(Codes({"sex-same"}), CandidateScore::Score(sent, r).reasons);
  EXPECT_EQ(10, CandidateScore::Score(sent, r).score);
  r.sex = "M";
  EXPECT_EQ(Codes({"sex-differs"}), CandidateScore::Score(sent, r).reasons);
  EXPECT_EQ(0, CandidateScore::Score(sent, r).score); // -20 clamped
  for (const char* unknown : {"", "X", "female", "U"})
  {
    r.sex = unknown;
    EXPECT_TRUE(CandidateScore::Score(sent, r).reasons.empty()) << unknown;
  }
}

TEST(CandidateScore, IdentifierCodes)
{
  SentPatient sent = Sent("");
  sent.issuer = "CLINIC-A";
  CandidateRecord r = Record("", "", "H-1");
  // The sender's ID among the hospital's other IDs of the patient.
  r.otherPatientIds = {"X", "CD-77 "};
  EXPECT_EQ(Codes({"original-id"}), CandidateScore::Score(sent, r).reasons);
  EXPECT_EQ(25, CandidateScore::Score(sent, r).score);
  // The same ID under the same issuer.
  r.otherPatientIds.clear();
  r.patientId = "CD-77";
  r.issuer = "CLINIC-A";
  EXPECT_EQ(Codes({"original-id"}), CandidateScore::Score(sent, r).reasons);
  // The same ID, issuers different or unknown: weaker, once.
  r.issuer = "HOSPITAL";
  EXPECT_EQ(Codes({"same-patient-id"}), CandidateScore::Score(sent, r).reasons);
  EXPECT_EQ(10, CandidateScore::Score(sent, r).score);
  sent.issuer.clear();
  r.issuer.clear();
  EXPECT_EQ(Codes({"same-patient-id"}), CandidateScore::Score(sent, r).reasons);
  // The sender knew the hospital's ID.
  sent.otherPatientIds = {"H-9"};
  r.patientId = "H-9";
  EXPECT_EQ(Codes({"original-id"}), CandidateScore::Score(sent, r).reasons);
  // Empty IDs match nothing.
  sent.originalPatientId.clear();
  sent.otherPatientIds = {""};
  r.patientId.clear();
  r.otherPatientIds = {""};
  EXPECT_TRUE(CandidateScore::Score(sent, r).reasons.empty());
}

TEST(CandidateScore, WorklistCodes)
{
  SentPatient sent = Sent("");
  sent.accessionNumbers = {"ACC-1"};
  sent.modalities = {"CT"};
  sent.studyDates = {"20240110"};
  CandidateRecord r = Record("", "", "H-1", "ris");
  r.accessionNumber = "ACC-1";
  EXPECT_EQ(Codes({"accession"}), CandidateScore::Score(sent, r).reasons);
  EXPECT_EQ(20, CandidateScore::Score(sent, r).score);
  r.accessionNumber = "ACC-2";
  r.scheduledModality = "CT";
  EXPECT_EQ(Codes({"scheduled"}), CandidateScore::Score(sent, r).reasons);
  EXPECT_EQ(5, CandidateScore::Score(sent, r).score);
  r.scheduledModality = "MR";
  r.scheduledDate = "20240209"; // 30 days later
  EXPECT_EQ(Codes({"scheduled"}), CandidateScore::Score(sent, r).reasons);
  r.scheduledDate = "20231211"; // 30 days before
  EXPECT_EQ(Codes({"scheduled"}), CandidateScore::Score(sent, r).reasons);
  r.scheduledDate = "20240210"; // 31 days
  EXPECT_TRUE(CandidateScore::Score(sent, r).reasons.empty());
  r.scheduledDate = "garbage";
  EXPECT_TRUE(CandidateScore::Score(sent, r).reasons.empty());
  // Empty accession numbers never match.
  sent.accessionNumbers = {""};
  r.accessionNumber = "";
  EXPECT_TRUE(CandidateScore::Score(sent, r).reasons.empty());
}

TEST(CandidateScore, RequestLinkIsInformative)
{
  const Candidate c =
      CandidateScore::Score(Sent(), Record("DOE^JANE", "19800514", "H-1", "request"));
  EXPECT_EQ(Codes({"name-same", "birth-date-same", "request-link"}), c.reasons);
  EXPECT_EQ(80, c.score);
}

TEST(CandidateScore, ClampedToHundred)
{
  SentPatient sent = Sent();
  sent.sex = "F";
  sent.accessionNumbers = {"ACC-1"};
  sent.modalities = {"CT"};
  CandidateRecord r = Record("DOE^JANE", "19800514", "H-1", "ris");
  r.sex = "F";
  r.otherPatientIds = {"CD-77"};
  r.accessionNumber = "ACC-1";
  r.scheduledModality = "CT";
  const Candidate c = CandidateScore::Score(sent, r);
  EXPECT_EQ(
      Codes({"name-same", "birth-date-same", "sex-same", "original-id", "accession", "scheduled"}),
      c.reasons);
  EXPECT_EQ(100, c.score); // 140 points
  EXPECT_EQ(r.patientId, c.record.patientId);
}

TEST(CandidateScore, UntrustedNamesAreBounded)
{
  // A 10 000-word name: cut to 16 words, the first 16 words decide.
  std::string huge;
  for (int i = 0; i < 10000; i++)
  {
    huge += "WORD" + std::to_string(i % 7) + "^";
  }
  EXPECT_EQ(Codes({"name-differs"}),
            CandidateScore::Score(Sent(huge), Record("DOE^JANE", "")).reasons);
  // Cut at 200 bytes: a difference after them is not seen.
  const std::string head(199, 'A');
  EXPECT_EQ(Codes({"name-same"}),
            CandidateScore::Score(Sent(head + "^JANE"), Record(head + "^JOHN", "")).reasons);
  // A cut inside a multi-byte character does not produce a different word.
  const std::string umlauts = std::string(199, 'A') + "Ü";
  EXPECT_EQ(Codes({"name-same"}),
            CandidateScore::Score(Sent(umlauts + "X"), Record(std::string(199, 'A'), "")).reasons);
  // Words of more than 64 letters are compared, never edited.
  const std::string longWord(80, 'B');
  EXPECT_EQ(Codes({"name-differs"}),
            CandidateScore::Score(Sent(longWord), Record(longWord + "C", "")).reasons);
  // Invalid UTF-8 is not an error.
  EXPECT_NO_THROW(CandidateScore::Score(Sent("\xff\xfe^\xc3"), Record("\xc3\x28", "\xff")));
}

TEST(CandidateScore, RankOrdersDropsAndCuts)
{
  PatientCandidates p;
  p.candidates = {Scored(60, "B", "pacs"),    Scored(0, "Z", "local"), Scored(60, "A", "ris"),
                  Scored(60, "C", "request"), Scored(90, "D", "pacs"), Scored(60, "A", "local"),
                  Scored(60, "A", "pacs"),    Scored(30, "E", "local")};
  CandidateScore::Rank(p, 50, 10);
  std::vector<std::string> order;
  for (const Candidate& c : p.candidates)
  {
    order.push_back(c.record.source + ":" + c.record.patientId);
  }
  EXPECT_EQ(Codes({"pacs:D", "local:A", "request:C", "pacs:A", "pacs:B", "ris:A", "local:E"}),
            order);
  EXPECT_FALSE(p.ambiguous);
  // The cut keeps, beyond it, the best candidate of each other PatientID that fits (B, C).
  CandidateScore::Rank(p, 50, 2);
  order.clear();
  for (const Candidate& c : p.candidates)
  {
    order.push_back(c.record.source + ":" + c.record.patientId);
  }
  EXPECT_EQ(Codes({"pacs:D", "local:A", "request:C", "pacs:B"}), order);
  CandidateScore::Rank(p, 95, 0);
  EXPECT_TRUE(p.candidates.empty());
}

TEST(CandidateScore, TheCutNeverHidesASecondPatientFromTheAutomaticRule)
{
  // MaxCandidates 2: the request's patient twice (PACS, worklist), another above
  // AutoThreshold behind them (red team: an auto-forward must still wait).
  Reconciliation r = Result({Scored(100, "H-1", "pacs"), Scored(95, "H-1", "ris"),
                             Scored(85, "H-2", "pacs"), Scored(60, "H-3"), Scored(30, "H-4")});
  CandidateScore::Rank(r.patients[0], 50, 2);
  ASSERT_EQ(4u, r.patients[0].candidates.size());
  EXPECT_EQ("H-2", r.patients[0].candidates[2].record.patientId);
  EXPECT_EQ("H-3", r.patients[0].candidates[3].record.patientId);
  Candidate chosen;
  std::string reason;
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, r, "H-1"));
  EXPECT_EQ("several-candidates-above", reason);
}

TEST(CandidateScore, TruncatedAnswersNeverReconcileOnTheirOwn)
{
  // A query with more answers than MaxAnswers: those not read may hold another patient.
  Reconciliation r = Result({Scored(100, "H-1")});
  Candidate chosen;
  std::string reason;
  ASSERT_TRUE(CandidateScore::AutoIdentity(chosen, reason, r, "H-1"));
  r.sources[0].truncated = true;
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, r, "H-1"));
  EXPECT_EQ("sources-truncated", reason);
}

TEST(CandidateScore, Ambiguity)
{
  PatientCandidates p;
  // Two PatientIDs within 5 points at the top, both at or above the threshold.
  p.candidates = {Scored(80, "A"), Scored(75, "B")};
  CandidateScore::Rank(p, 50, 10);
  EXPECT_TRUE(p.ambiguous);
  // Seen before the cut.
  p.candidates = {Scored(80, "A"), Scored(75, "B")};
  CandidateScore::Rank(p, 50, 1);
  EXPECT_TRUE(p.ambiguous);
  // Six points apart; the same PatientID twice; the second below the threshold; both below.
  p.candidates = {Scored(80, "A"), Scored(74, "B")};
  CandidateScore::Rank(p, 50, 10);
  EXPECT_FALSE(p.ambiguous);
  p.candidates = {Scored(80, "A", "pacs"), Scored(80, "A", "local")};
  CandidateScore::Rank(p, 50, 10);
  EXPECT_FALSE(p.ambiguous);
  p.candidates = {Scored(52, "A"), Scored(49, "B")};
  CandidateScore::Rank(p, 50, 10);
  EXPECT_FALSE(p.ambiguous);
  p.candidates = {Scored(45, "A"), Scored(45, "B")};
  CandidateScore::Rank(p, 50, 10);
  EXPECT_FALSE(p.ambiguous);
  // A third ID behind the same one twice still counts.
  p.candidates = {Scored(90, "A", "pacs"), Scored(88, "A", "local"), Scored(86, "B")};
  CandidateScore::Rank(p, 50, 10);
  EXPECT_TRUE(p.ambiguous);
}

TEST(CandidateScore, SingleAbove)
{
  PatientCandidates p;
  EXPECT_EQ("", CandidateScore::SingleAbove(p, 80));
  p.candidates = {Scored(90, "H-1", "pacs"), Scored(85, "H-1", "local"), Scored(79, "H-2")};
  EXPECT_EQ("H-1", CandidateScore::SingleAbove(p, 80));
  EXPECT_EQ("", CandidateScore::SingleAbove(p, 79));    // two IDs
  EXPECT_EQ("", CandidateScore::SingleAbove(p, 91));    // none
  EXPECT_EQ("H-1", CandidateScore::SingleAbove(p, 90)); // at the threshold counts
  p.candidates = {Scored(90, "", "pacs")};
  EXPECT_EQ("", CandidateScore::SingleAbove(p, 80));
}

TEST(CandidateScore, AutoIdentityPrefersAHospitalRecord)
{
  const Reconciliation r = Result({Scored(95, "H-1", "request"), Scored(85, "H-1", "pacs"),
                                   Scored(90, "H-1", "local"), Scored(40, "H-2")});
  Candidate chosen;
  std::string reason = "stale";
  ASSERT_TRUE(CandidateScore::AutoIdentity(chosen, reason, r, "H-1"));
  EXPECT_EQ("", reason);
  EXPECT_EQ("local", chosen.record.source);
  EXPECT_EQ(90, chosen.score);
  // Only the request's own record above: it is the identity.
  const Reconciliation onlyRequest = Result({Scored(85, "H-1", "request"), Scored(60, "H-1")});
  ASSERT_TRUE(CandidateScore::AutoIdentity(chosen, reason, onlyRequest, "H-1"));
  EXPECT_EQ("request", chosen.record.source);
}

TEST(CandidateScore, AutoIdentityRefusals)
{
  Candidate chosen;
  std::string reason;
  const Reconciliation good = Result({Scored(90, "H-1")});
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, good, ""));
  EXPECT_EQ("no-request-patient", reason);
  // A source that did not answer may have known another patient.
  for (SourceStatus status :
       {SourceStatus_Timeout, SourceStatus_Failed, SourceStatus_Unavailable, SourceStatus_Busy})
  {
    Reconciliation r = good;
    SourceOutcome down;
    down.source = "ris";
    down.query = "Worklist";
    down.status = status;
    r.sources.push_back(down);
    EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, r, "H-1"));
    EXPECT_EQ("sources-incomplete", reason);
  }
  Reconciliation none = good;
  none.patients.clear();
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, none, "H-1"));
  EXPECT_EQ("no-patients", reason);
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, Result({Scored(79, "H-1")}), "H-1"));
  EXPECT_EQ("no-candidate-above", reason);
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason,
                                            Result({Scored(90, "H-1"), Scored(81, "H-2")}), "H-1"));
  EXPECT_EQ("several-candidates-above", reason);
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, good, "H-2"));
  EXPECT_EQ("request-patient-differs", reason);
  Reconciliation ambiguous = Result({Scored(82, "H-1"), Scored(78, "H-2")});
  CandidateScore::Rank(ambiguous.patients[0], 50, 10);
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, ambiguous, "H-1"));
  EXPECT_EQ("patient-ambiguous", reason);
  // Every patient of the upload must be the request's.
  Reconciliation two = good;
  PatientCandidates second;
  second.candidates = {Scored(90, "H-7")};
  two.patients.push_back(second);
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, two, "H-1"));
  EXPECT_EQ("request-patient-differs", reason);
  two.patients[1].candidates = {Scored(40, "H-1")};
  EXPECT_FALSE(CandidateScore::AutoIdentity(chosen, reason, two, "H-1"));
  EXPECT_EQ("no-candidate-above", reason);
  two.patients[1].candidates = {Scored(81, "H-1", "ris")};
  EXPECT_TRUE(CandidateScore::AutoIdentity(chosen, reason, two, "H-1"));
  EXPECT_EQ("pacs", chosen.record.source);
}

TEST(CandidateScore, SourceStatusNames)
{
  EXPECT_STREQ("answered", EnumerationToString(SourceStatus_Answered));
  EXPECT_STREQ("timeout", EnumerationToString(SourceStatus_Timeout));
  EXPECT_STREQ("failed", EnumerationToString(SourceStatus_Failed));
  EXPECT_STREQ("unavailable", EnumerationToString(SourceStatus_Unavailable));
  EXPECT_STREQ("busy", EnumerationToString(SourceStatus_Busy));
  Reconciliation r;
  EXPECT_TRUE(r.IsComplete()); // no source configured
}

TEST(CandidateScore, ToJsonShape)
{
  Reconciliation r = Result({});
  r.generatedAt = 1700000000123;
  r.threshold = 50;
  r.sources[0].elapsedMs = 42;
  r.sources[0].records = 3;
  SourceOutcome failed;
  failed.source = "ris";
  failed.query = "Worklist";
  failed.status = SourceStatus_Failed;
  failed.message = "connection refused";
  r.sources.push_back(failed);
  CandidateRecord w = Record("DOE^JANE", "19800514", "H-1", "ris");
  w.issuer = "HOSP";
  w.accessionNumber = "ACC-1";
  w.requestedProcedureId = "RP-1";
  w.procedureDescription = "CT head";
  w.scheduledDate = "20240110";
  w.scheduledModality = "CT";
  Candidate strong;
  strong.record = w;
  strong.score = 50;
  strong.reasons = {"name-same"};
  r.patients[0].candidates = {strong, Scored(49, "H-2", "local")};
  r.patients[0].sent.accessionNumbers = {"ACC-1"};

  Json::Value j = r.ToJson();
  EXPECT_EQ("ABCDEFGHJKLM", j["uploadId"].asString());
  EXPECT_FALSE(j.isMember("request"));
  EXPECT_EQ(50, j["threshold"].asInt());
  EXPECT_EQ(80, j["autoThreshold"].asInt());
  EXPECT_EQ(1700000000123, j["generatedAt"].asInt64());
  EXPECT_FALSE(j["complete"].asBool());
  ASSERT_EQ(2u, j["sources"].size());
  EXPECT_EQ("pacs", j["sources"][0]["source"].asString());
  EXPECT_EQ("Patient", j["sources"][0]["query"].asString());
  EXPECT_EQ("answered", j["sources"][0]["status"].asString());
  EXPECT_FALSE(j["sources"][0].isMember("message"));
  EXPECT_EQ(42, j["sources"][0]["elapsedMs"].asInt64());
  EXPECT_EQ(3u, j["sources"][0]["records"].asUInt64());
  EXPECT_FALSE(j["sources"][0]["truncated"].asBool());
  EXPECT_EQ("failed", j["sources"][1]["status"].asString());
  EXPECT_EQ("connection refused", j["sources"][1]["message"].asString());

  ASSERT_EQ(1u, j["patients"].size());
  const Json::Value& p = j["patients"][0];
  EXPECT_EQ("CD-77", p["originalPatientId"].asString());
  EXPECT_EQ("DOE^JANE", p["name"].asString());
  EXPECT_EQ("19800514", p["birthDate"].asString());
  for (const char* key : {"issuer", "sex", "isolatedPatientId"})
  {
    EXPECT_TRUE(p[key].isString()) << key;
  }
  for (const char* key : {"otherPatientIds", "studies"})
  {
    EXPECT_TRUE(p[key].isArray() && p[key].empty()) << key;
  }
  EXPECT_EQ("ACC-1", p["accessionNumbers"][0].asString());
  EXPECT_FALSE(p["ambiguous"].asBool());
  ASSERT_EQ(2u, p["candidates"].size());
  const Json::Value& c = p["candidates"][0];
  EXPECT_EQ("ris", c["source"].asString());
  EXPECT_EQ("H-1", c["patientId"].asString());
  EXPECT_EQ("HOSP", c["issuer"].asString());
  EXPECT_EQ(50, c["score"].asInt());
  EXPECT_EQ("name-same", c["reasons"][0].asString());
  EXPECT_TRUE(c["fits"].asBool()); // at the threshold fits
  EXPECT_EQ("ACC-1", c["accessionNumber"].asString());
  EXPECT_EQ("RP-1", c["requestedProcedureId"].asString());
  EXPECT_EQ("CT head", c["procedure"].asString());
  EXPECT_EQ("20240110", c["scheduledDate"].asString());
  EXPECT_EQ("CT", c["scheduledModality"].asString());
  const Json::Value& weak = p["candidates"][1];
  EXPECT_FALSE(weak["fits"].asBool());
  EXPECT_TRUE(weak["reasons"].isArray() && weak["reasons"].empty());
  for (const char* optional : {"issuer", "accessionNumber", "requestedProcedureId", "procedure",
                               "scheduledDate", "scheduledModality", "otherPatientIds"})
  {
    EXPECT_FALSE(weak.isMember(optional)) << optional;
  }
  for (const char* key : {"name", "birthDate", "sex"})
  {
    EXPECT_TRUE(weak[key].isString()) << key;
  }

  r.requestId = "RQ1";
  r.requestPatientId = "H-1";
  r.sources.pop_back();
  j = r.ToJson();
  EXPECT_EQ("RQ1", j["request"]["id"].asString());
  EXPECT_EQ("H-1", j["request"]["patientId"].asString());
  EXPECT_TRUE(j["complete"].asBool());
}
