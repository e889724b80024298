// Unit tests of the reconciliation round with a fake Orthanc: statuses, deadline, threads, cache.
// Over 500 lines: one thread-safe fake Orthanc (C-FIND, worklist, /tools/find) serves every round
// test.
#include "Forward/OrthancRestError.h"
#include "Http/ApiError.h"
#include "Reconcile/CandidateFinder.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"
#include "Upload/Isolation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <set>
#include <thread>

using namespace Inbound;

namespace
{
  Json::Value Parse(const std::string& text)
  {
    Json::Value v;
    EXPECT_TRUE(JsonText::ParseStrict(v, text.c_str(), text.size())) << text;
    return v;
  }

  bool Glob(const char* pattern, const char* text, bool caseInsensitive)
  {
    if (*pattern == '\0')
      return *text == '\0';
    if (*pattern == '*')
      return Glob(pattern + 1, text, caseInsensitive) ||
             (*text != '\0' && Glob(pattern, text + 1, caseInsensitive));
    const auto fold = [caseInsensitive](char c)
    { return caseInsensitive && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
    return *text != '\0' && (*pattern == '?' || fold(*pattern) == fold(*text)) &&
           Glob(pattern + 1, text + 1, caseInsensitive);
  }

  // Whether an answer matches every non-empty key of a query, as a PACS (case-sensitive) or
  // Orthanc's /tools/find (case-insensitive) would.
  bool Matches(const Json::Value& query, const Json::Value& record, bool caseInsensitive)
  {
    for (const std::string& key : query.getMemberNames())
    {
      if (!query[key].isString() || query[key].asString().empty() || key == "SpecificCharacterSet")
        continue;
      const std::string field = key == "0010,1000" ? "OtherPatientIDs" : key;
      const std::string value = record.get(field, "").asString();
      bool found = false;
      size_t start = 0;
      while (!found && start <= value.size())
      {
        const size_t end = std::min(value.find('\\', start), value.size());
        found = Glob(query[key].asString().c_str(), value.substr(start, end - start).c_str(),
                     caseInsensitive);
        start = end + 1;
      }
      if (!found)
        return false;
    }
    return true;
  }

  // Orthanc's REST API as the finder uses it, thread-safe: C-FINDs to modalities that answer,
  // fail, or hang until released; /tools/find; stored tags; the default encoding.
  class FakeOrthanc : public IOrthancRest
  {
  public:
    std::mutex mutex;
    std::condition_variable releasedSignal;
    bool released = false;
    std::string encoding = "Utf8";
    std::map<std::string, Json::Value> tags;      // instance -> short tags
    std::map<std::string, Json::Value> pacs;      // modality -> simplified patient answers
    std::map<std::string, Json::Value> worklists; // modality -> worklist entries
    Json::Value local = Json::arrayValue;         // expanded patients
    std::map<std::string, int> errors;            // modality -> Orthanc error code
    std::map<std::string, int> errorAfterMs;      // modality -> time before its error
    std::set<std::string> hung;                   // never answer until released
    std::vector<std::pair<std::string, Json::Value>> posts;
    std::set<std::string> openQueries;
    std::vector<std::string> deleted;
    std::map<std::string, Json::Value> queries;
    int hungReturned = 0;

    void Release()
    {
      std::lock_guard<std::mutex> lock(mutex);
      released = true;
      releasedSignal.notify_all();
    }

    size_t CountPosts(const std::string& prefix)
    {
      std::lock_guard<std::mutex> lock(mutex);
      size_t n = 0;
      for (const auto& p : posts)
        n += p.first.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
      return n;
    }

    // The part of "uri" between "prefix" and "suffix".
    static bool Inner(std::string& id, const std::string& uri, const std::string& prefix,
                      const std::string& suffix)
    {
      if (uri.size() <= prefix.size() + suffix.size() ||
          uri.compare(0, prefix.size(), prefix) != 0 ||
          uri.compare(uri.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
      id = uri.substr(prefix.size(), uri.size() - prefix.size() - suffix.size());
      return true;
    }

    bool Get(Json::Value& answer, const std::string& uri) override
    {
      std::lock_guard<std::mutex> lock(mutex);
      std::string id;
      const std::map<std::string, Json::Value>* found = nullptr;
      if (Inner(id, uri, "/instances/", "/tags?short"))
        found = &tags;
      else if (Inner(id, uri, "/queries/", "/answers?expand&simplify"))
        found = &queries;
      if (found == nullptr || found->count(id) == 0)
        return false;
      answer = found->at(id);
      return true;
    }

    bool GetBytes(std::string& answer, const std::string& uri) override
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (uri != "/tools/default-encoding")
        return false;
      answer = encoding;
      return true;
    }

    Json::Value Post(const std::string& uri, const Json::Value& body) override
    {
      std::unique_lock<std::mutex> lock(mutex);
      posts.push_back(std::make_pair(uri, body));
      Json::Value answers(Json::arrayValue);
      if (uri == "/tools/find")
      {
        for (const Json::Value& p : local)
        {
          if (Matches(body["Query"], p["MainDicomTags"], true) &&
              answers.size() < body["Limit"].asUInt())
            answers.append(p);
        }
        return answers;
      }
      const std::string modality = uri.substr(12, uri.find('/', 12) - 12);
      if (hung.count(modality) > 0)
      {
        releasedSignal.wait_for(lock, std::chrono::seconds(20), [this] { return released; });
        hungReturned++;
        throw OrthancRestError("POST " + uri + ": Error in the network protocol", 9);
      }
      if (errors.count(modality) > 0)
      {
        const int code = errors[modality];
        const int delay = errorAfterMs[modality];
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        throw OrthancRestError("POST " + uri + ": an error", code);
      }
      const bool worklist = uri.find("/find-worklist") != std::string::npos;
      const Json::Value& records = worklist ? worklists[modality] : pacs[modality];
      if (!records.isArray())
        throw OrthancRestError("POST " + uri + ": Inexistent item", 7);
      for (const Json::Value& r : records)
      {
        if (Matches(body["Query"], r, false))
          answers.append(r);
      }
      if (worklist)
        return answers;
      const std::string id = "q" + std::to_string(queries.size() + deleted.size());
      queries[id] = answers;
      openQueries.insert(id);
      Json::Value created(Json::objectValue);
      created["ID"] = id;
      created["Path"] = "/queries/" + id;
      return created;
    }

    Json::Value PostBytes(const std::string& uri, const std::string&) override
    {
      throw std::runtime_error("unexpected POST " + uri);
    }

    void Delete(const std::string& uri) override
    {
      std::lock_guard<std::mutex> lock(mutex);
      deleted.push_back(uri);
      openQueries.erase(uri.substr(std::string("/queries/").size()));
    }
  };

  const char* const kPacs = R"([
    {"PatientID": "H1003", "PatientName": "DOE^JANE", "PatientBirthDate": "19700131",
     "PatientSex": "F", "IssuerOfPatientID": "HOSPITAL", "OtherPatientIDs": "EXT-555"},
    {"PatientID": "H1004", "PatientName": "JANE^DOE", "PatientBirthDate": "19700131", "PatientSex": "F"},
    {"PatientID": "H1005", "PatientName": "Doe^Jane^Q", "PatientBirthDate": "19810101"},
    {"PatientID": "H2000", "PatientName": "SMITH^JOHN", "PatientBirthDate": "19700131", "PatientSex": "M"}])";

  const char* const kWorklist = R"([
    {"PatientID": "H1003", "PatientName": "DOE^JANE", "PatientBirthDate": "19700131",
     "AccessionNumber": "A2026-001", "RequestedProcedureID": "RP001",
     "ScheduledProcedureStepSequence": [{"Modality": "CT", "ScheduledProcedureStepStartDate": "20260512"}]}])";

  struct Fixture
  {
    Configuration configuration;
    Ledger ledger{""};
    InboundTests::FakeClock clock;
    FakeOrthanc orthanc;
    std::unique_ptr<CandidateFinder> finder;

    explicit Fixture(const std::string& reconciliation, size_t maxThreads = 8, size_t cached = 64)
    {
      std::string errors;
      Json::Value section;
      EXPECT_TRUE(JsonText::ParseConfiguration(
          section, R"({"Reconciliation": )" + reconciliation + "}", errors))
          << errors;
      configuration = Configuration::Parse(section);
      orthanc.pacs["pacs"] = Parse(kPacs);
      orthanc.worklists["ris"] = Parse(kWorklist);
      orthanc.local = Parse(R"([
        {"ID": "p1", "MainDicomTags": {"PatientID": "L-77", "PatientName": "Doe^Jane",
                                       "PatientBirthDate": "19700131", "PatientSex": "F"}},
        {"ID": "p2", "MainDicomTags": {"PatientID": "INB-BCDEFGHJKLMN-1-EXT-555",
                                       "PatientName": "DOE^JANE", "PatientBirthDate": "19700131"}}])");
      finder.reset(new CandidateFinder(configuration, ledger, orthanc, clock, maxThreads, cached));
    }

    ~Fixture()
    {
      orthanc.Release(); // the hung C-FINDs end, so that the finder's threads can be joined
      finder.reset();
    }

    // A complete upload of one CT study of the patient EXT-555, DOE^JANE born 19700131, F,
    // isolated here; the sender's issuer CLINIC-X in the isolation's item.
    std::string AddUpload(const std::string& id, const std::string& request = "",
                          UploadState state = UploadState_Complete)
    {
      UploadRecord u;
      u.id = id;
      u.tokenHash = "h";
      u.createdAt = u.updatedAt = clock.now;
      u.requestId = request;
      EXPECT_EQ("", ledger.Uploads().Create(u));
      ItemRecord item;
      item.uploadId = id;
      item.sha256 = "sha-" + id;
      item.originalPatientId = "EXT-555";
      item.patientName = "Doe^Jane";
      item.patientBirthDate = "19700131";
      item.isolatedPatientId = Isolation::MakePatientId("INB-", id, 1, "EXT-555");
      item.orthancInstanceId = "i-" + id;
      item.orthancStudyId = "s-" + id;
      item.modality = "CT";
      item.studyDate = "20260510";
      item.storedAt = clock.now;
      ledger.Uploads().AddItem(item, "");
      orthanc.tags[item.orthancInstanceId] = Parse(R"({"0010,0040": "F", "0008,0050": "A2026-001",
        "0400,0561": [{"0400,0550": [{"0010,0020": "EXT-555", "0010,0021": "CLINIC-X"}],
                       "0400,0563": "ORTHANC-INBOUND"}]})");
      if (state != UploadState_Open)
      {
        ledger.Uploads().ChangeState(id, {UploadState_Open}, state, clock.now, "", "");
      }
      return id;
    }

    const SourceOutcome& Source(const Reconciliation& r, const std::string& name)
    {
      for (const SourceOutcome& s : r.sources)
      {
        if (s.source == name)
          return s;
      }
      ADD_FAILURE() << "no source " << name;
      static SourceOutcome none;
      return none;
    }

    void WaitUntilIdle()
    {
      for (int i = 0; i < 400 && finder->CountRunning() > 0; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_EQ(0u, finder->CountRunning());
    }
  };

  int64_t MillisecondsOf(const std::function<void()>& f)
  {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
  }

  const Candidate* FindCandidate(const PatientCandidates& p, const std::string& source,
                                 const std::string& patientId)
  {
    for (const Candidate& c : p.candidates)
    {
      if (c.record.source == source && c.record.patientId == patientId)
        return &c;
    }
    return nullptr;
  }

  bool HasReason(const Candidate& c, const std::string& reason)
  {
    return std::find(c.reasons.begin(), c.reasons.end(), reason) != c.reasons.end();
  }
} // namespace

TEST(CandidateFinder, TheRightPatientComesFirstFromEverySource)
{
  Fixture f(R"({"Sources": [{"Modality": "pacs", "Query": "Patient"},
                            {"Modality": "ris", "Query": "Worklist"}], "TimeoutSeconds": 2})");
  f.AddUpload("ABCDEFGHJKLM");
  const Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  ASSERT_EQ(3u, r.sources.size());
  EXPECT_EQ("local", r.sources[0].source);
  EXPECT_EQ("pacs", r.sources[1].source);
  EXPECT_EQ("ris", r.sources[2].source);
  EXPECT_TRUE(r.IsComplete());
  EXPECT_EQ(50, r.threshold);
  EXPECT_EQ(f.clock.now, r.generatedAt);
  ASSERT_EQ(1u, r.patients.size());
  const PatientCandidates& p = r.patients[0];
  EXPECT_EQ("EXT-555", p.sent.originalPatientId);
  EXPECT_EQ("CLINIC-X", p.sent.issuer);
  EXPECT_EQ("F", p.sent.sex);
  EXPECT_EQ((std::vector<std::string>{"A2026-001"}), p.sent.accessionNumbers);
  EXPECT_EQ(Isolation::MakePatientId("INB-", "ABCDEFGHJKLM", 1, "EXT-555"),
            p.sent.isolatedPatientId);

  ASSERT_FALSE(p.candidates.empty());
  EXPECT_EQ("H1003", p.candidates[0].record.patientId);
  EXPECT_EQ(100, p.candidates[0].score);
  EXPECT_FALSE(p.ambiguous);
  const Candidate* fromPacs = FindCandidate(p, "pacs", "H1003");
  ASSERT_NE(nullptr, fromPacs);
  EXPECT_TRUE(HasReason(*fromPacs, "original-id")); // EXT-555 among its other IDs
  EXPECT_EQ("HOSPITAL", fromPacs->record.issuer);
  const Candidate* scheduled = FindCandidate(p, "ris", "H1003");
  ASSERT_NE(nullptr, scheduled);
  EXPECT_EQ("A2026-001", scheduled->record.accessionNumber);
  EXPECT_TRUE(HasReason(*scheduled, "accession"));
  ASSERT_NE(nullptr, FindCandidate(p, "local", "L-77"));
  const Candidate* transposed = FindCandidate(p, "pacs", "H1004");
  ASSERT_NE(nullptr, transposed);
  EXPECT_LT(transposed->score, 100);
  const Candidate* other = FindCandidate(p, "pacs", "H2000"); // same birth date, other name
  EXPECT_TRUE(other == nullptr || other->score < r.threshold);
  for (const Candidate& c : p.candidates)
  {
    // An isolated patient (another upload's) is never the hospital's.
    EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", c.record.patientId)) << c.record.patientId;
  }

  // Every C-FIND declared UTF-8 and carried its own Timeout; every query object was freed.
  size_t cfinds = 0;
  for (const auto& post : f.orthanc.posts)
  {
    if (post.first.rfind("/modalities/", 0) == 0)
    {
      cfinds++;
      EXPECT_EQ("ISO_IR 192", post.second["Query"]["SpecificCharacterSet"].asString());
      EXPECT_TRUE(post.second["Timeout"].isUInt());
      EXPECT_GE(post.second["Timeout"].asUInt(), 1u);
      EXPECT_LE(post.second["Timeout"].asUInt(), 2u);
    }
  }
  EXPECT_GT(cfinds, 4u);
  EXPECT_TRUE(f.orthanc.openQueries.empty());
  EXPECT_FALSE(f.orthanc.deleted.empty());
}

TEST(CandidateFinder, SourcesThatDoNotAnswerSayWhyWithinTheDeadline)
{
  Fixture f(R"({"Sources": [{"Modality": "pacs", "Query": "Patient"},
                            {"Modality": "down", "Query": "Patient"},
                            {"Modality": "hung", "Query": "Patient"},
                            {"Modality": "slow", "Query": "Patient"},
                            {"Modality": "ghost", "Query": "Worklist"}], "TimeoutSeconds": 1})");
  f.orthanc.errors["down"] = 9; // refused at once
  f.orthanc.errors["slow"] = 9; // a silent peer: Orthanc gives up after the Timeout
  f.orthanc.errorAfterMs["slow"] = 1000;
  f.orthanc.hung.insert("hung");
  f.orthanc.errors["ghost"] = 7;
  f.AddUpload("ABCDEFGHJKLM");
  Reconciliation r;
  const int64_t elapsed = MillisecondsOf([&] { r = f.finder->Find("ABCDEFGHJKLM", false); });
  EXPECT_LT(elapsed, 2500); // TimeoutSeconds + 1 s, with some slack for the machine
  EXPECT_FALSE(r.IsComplete());
  EXPECT_EQ(SourceStatus_Answered, f.Source(r, "local").status);
  const SourceOutcome& down = f.Source(r, "down");
  EXPECT_EQ(SourceStatus_Failed, down.status);
  EXPECT_NE(std::string::npos, down.message.find("refused or unreachable"));
  EXPECT_EQ(SourceStatus_Timeout, f.Source(r, "hung").status);
  EXPECT_EQ("no answer within 1 s", f.Source(r, "hung").message);
  EXPECT_EQ(SourceStatus_Timeout, f.Source(r, "slow").status);
  const SourceOutcome& ghost = f.Source(r, "ghost");
  EXPECT_EQ(SourceStatus_Failed, ghost.status);
  EXPECT_EQ("\"ghost\" is not in DicomModalities", ghost.message);
  // The others' candidates are there all the same.
  ASSERT_EQ(1u, r.patients.size());
  EXPECT_NE(nullptr, FindCandidate(r.patients[0], "pacs", "H1003"));
  for (const SourceOutcome& s : r.sources)
  {
    EXPECT_EQ(std::string::npos, s.message.find("EXT-555")) << s.message; // no patient data
    EXPECT_EQ(std::string::npos, s.message.find("DOE")) << s.message;
  }
  EXPECT_GE(f.finder->CountRunning(), 1u); // the hung one, in the background
  f.orthanc.Release();
  f.WaitUntilIdle();
}

TEST(CandidateFinder, APeerWithoutTheQueryIsUnavailable)
{
  Fixture f(R"({"Sources": [{"Modality": "wl", "Query": "Patient"}], "Local": false})");
  f.orthanc.errors["wl"] = 2016;
  f.AddUpload("ABCDEFGHJKLM");
  const Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  ASSERT_EQ(1u, r.sources.size());
  EXPECT_EQ(SourceStatus_Unavailable, r.sources[0].status);
  EXPECT_EQ("\"wl\" does not offer this query (Patient C-FIND SOP class)", r.sources[0].message);
  EXPECT_EQ(1u, f.orthanc.CountPosts("/modalities/wl/")); // not asked again for each query
}

TEST(CandidateFinder, AtMostSoManySourceThreadsRunInTheProcess)
{
  Fixture f(R"({"Sources": [{"Modality": "hung1", "Query": "Patient"},
                            {"Modality": "hung2", "Query": "Patient"}],
                "Local": false, "TimeoutSeconds": 1})",
            1);
  f.orthanc.hung = {"hung1", "hung2"};
  f.AddUpload("ABCDEFGHJKLM");
  Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  EXPECT_EQ(SourceStatus_Timeout, f.Source(r, "hung1").status);
  EXPECT_EQ(SourceStatus_Busy, f.Source(r, "hung2").status);
  EXPECT_EQ(0u, f.orthanc.CountPosts("/modalities/hung2/")); // not asked

  // The first round's thread still runs in the background: it counts.
  r = f.finder->Find("ABCDEFGHJKLM", false); // a busy result is not answered from the cache
  EXPECT_EQ(SourceStatus_Busy, f.Source(r, "hung1").status);
  EXPECT_EQ(SourceStatus_Busy, f.Source(r, "hung2").status);
  EXPECT_EQ(1u, f.finder->CountRunning());

  f.orthanc.Release();
  f.WaitUntilIdle();
  r = f.finder->Find("ABCDEFGHJKLM", false);
  EXPECT_NE(SourceStatus_Busy, f.Source(r, "hung1").status);
}

TEST(CandidateFinder, WithoutUtf8AnswersNoCFindIsAsked)
{
  Fixture f(R"({"Sources": [{"Modality": "pacs", "Query": "Patient"},
                            {"Modality": "ris", "Query": "Worklist"}]})");
  f.orthanc.encoding = "Latin1"; // PUT /tools/default-encoding at run time
  f.AddUpload("ABCDEFGHJKLM");
  Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  for (const char* source : {"pacs", "ris"})
  {
    EXPECT_EQ(SourceStatus_Failed, f.Source(r, source).status);
    EXPECT_EQ("Orthanc's DefaultEncoding is not Utf8", f.Source(r, source).message);
  }
  EXPECT_EQ(0u, f.orthanc.CountPosts("/modalities/"));
  EXPECT_EQ(SourceStatus_Answered, f.Source(r, "local").status); // its own index: not converted
  EXPECT_NE(nullptr, FindCandidate(r.patients[0], "local", "L-77"));

  f.orthanc.encoding = "Utf8\n";
  r = f.finder->Find("ABCDEFGHJKLM", true);
  EXPECT_TRUE(r.IsComplete());
}

TEST(CandidateFinder, ResultsAreCachedPerUploadUnlessFresh)
{
  Fixture f(R"({"Sources": [{"Modality": "pacs", "Query": "Patient"}], "CacheSeconds": 60})", 8, 2);
  f.AddUpload("ABCDEFGHJKLM");
  Reconciliation cached;
  EXPECT_FALSE(f.finder->GetCached(cached, "ABCDEFGHJKLM"));
  const Reconciliation first = f.finder->Find("ABCDEFGHJKLM", false);
  const size_t asked = f.orthanc.CountPosts("/");
  ASSERT_GT(asked, 0u);

  f.clock.now += 59000;
  Reconciliation again = f.finder->Find("ABCDEFGHJKLM", false);
  EXPECT_EQ(asked, f.orthanc.CountPosts("/")); // nothing asked
  EXPECT_EQ(first.generatedAt, again.generatedAt);

  again = f.finder->Find("ABCDEFGHJKLM", true); // ?fresh=true
  EXPECT_EQ(2 * asked, f.orthanc.CountPosts("/"));
  EXPECT_EQ(f.clock.now, again.generatedAt);

  f.clock.now += 60000; // CacheSeconds later
  f.finder->Find("ABCDEFGHJKLM", false);
  EXPECT_EQ(3 * asked, f.orthanc.CountPosts("/"));
  ASSERT_TRUE(f.finder->GetCached(cached, "ABCDEFGHJKLM"));
  EXPECT_EQ(f.clock.now, cached.generatedAt);

  // At most 2 uploads kept: the least recently used goes.
  f.AddUpload("BCDEFGHJKLMN");
  f.AddUpload("CDEFGHJKLMNP");
  f.finder->Find("BCDEFGHJKLMN", false);
  f.finder->Find("ABCDEFGHJKLM", false); // used again: stays
  f.finder->Find("CDEFGHJKLMNP", false);
  EXPECT_TRUE(f.finder->GetCached(cached, "ABCDEFGHJKLM"));
  EXPECT_FALSE(f.finder->GetCached(cached, "BCDEFGHJKLMN"));
  EXPECT_TRUE(f.finder->GetCached(cached, "CDEFGHJKLMNP"));
}

TEST(CandidateFinder, OnlyCompleteUploadsStoredHere)
{
  Fixture f(R"({})");
  f.AddUpload("ABCDEFGHJKLM", "", UploadState_Open);
  try
  {
    f.finder->Find("BCDEFGHJKLMN", false);
    ADD_FAILURE();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(404, e.GetStatus());
    EXPECT_EQ("not-found", e.GetCode());
  }
  try
  {
    f.finder->Find("ABCDEFGHJKLM", false);
    ADD_FAILURE();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(409, e.GetStatus());
    EXPECT_EQ("upload-not-stored", e.GetCode());
  }
  EXPECT_EQ(0u, f.orthanc.CountPosts("/"));
}

TEST(CandidateFinder, TheRequestLinksPatientIsACandidate)
{
  Fixture f(R"({"Local": false})");
  RequestRecord request;
  request.id = "REQ1";
  request.tokenHash = "t";
  request.createdAt = request.updatedAt = f.clock.now;
  request.expiresAt = f.clock.now + 86400000;
  request.maxUploads = 1;
  request.challenge = ChallengeKind_Code;
  request.patient.id = "H-9";
  request.patient.name = "DOE^JANE";
  request.patient.birthDate = "19700131";
  f.ledger.Requests().Create(request);
  f.AddUpload("ABCDEFGHJKLM", "REQ1");
  const Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  EXPECT_EQ("REQ1", r.requestId);
  EXPECT_EQ("H-9", r.requestPatientId);
  ASSERT_EQ(1u, r.sources.size());
  EXPECT_EQ("request", r.sources[0].source);
  EXPECT_TRUE(r.IsComplete());
  const Candidate* c = FindCandidate(r.patients[0], "request", "H-9");
  ASSERT_NE(nullptr, c);
  EXPECT_TRUE(HasReason(*c, "request-link"));
  EXPECT_EQ("H-9", r.ToJson()["request"]["patientId"].asString());
}

TEST(CandidateFinder, AnswersBeyondMaxAnswersAreReported)
{
  Fixture f(R"({"Sources": [{"Modality": "pacs", "Query": "Patient"}], "MaxAnswers": 1})");
  f.AddUpload("ABCDEFGHJKLM");
  const Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  EXPECT_TRUE(f.Source(r, "pacs").truncated);  // three patients born on 19700131
  EXPECT_TRUE(f.Source(r, "local").truncated); // two, one of them isolated
  EXPECT_EQ(SourceStatus_Answered, f.Source(r, "pacs").status);
  for (const auto& post : f.orthanc.posts)
  {
    if (post.first == "/tools/find")
    {
      EXPECT_EQ(2u, post.second["Limit"].asUInt());
    }
  }
}

TEST(CandidateFinder, TheDestructorWaitsForTheBackgroundThreads)
{
  std::unique_ptr<Fixture> f(new Fixture(
      R"({"Sources": [{"Modality": "hung", "Query": "Worklist"}], "TimeoutSeconds": 1})"));
  f->orthanc.hung.insert("hung");
  f->AddUpload("ABCDEFGHJKLM");
  const Reconciliation r = f->finder->Find("ABCDEFGHJKLM", false);
  EXPECT_EQ(SourceStatus_Timeout, f->Source(r, "hung").status);
  std::thread releaser(
      [&f]
      {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        f->orthanc.Release();
      });
  const int64_t waited = MillisecondsOf([&f] { f->finder.reset(); });
  releaser.join();
  EXPECT_GE(waited, 200);
  EXPECT_EQ(1, f->orthanc.hungReturned); // the thread ended before the finder went
}

TEST(CandidateFinder, StopWaitsForTheBackgroundThreadsAndStartsNoMore)
{
  // Orthanc's OrthancStopped (PluginContext::Stop): a C-FIND that outlived its round must
  // end while Orthanc's core still serves it (red team: else Orthanc aborted at unload).
  Fixture f(R"({"Sources": [{"Modality": "hung", "Query": "Patient"}], "TimeoutSeconds": 1})");
  f.orthanc.hung.insert("hung");
  f.AddUpload("ABCDEFGHJKLM");
  Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  EXPECT_EQ(SourceStatus_Timeout, f.Source(r, "hung").status);
  EXPECT_EQ(1u, f.finder->CountRunning());
  std::thread releaser(
      [&f]
      {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        f.orthanc.Release();
      });
  const int64_t waited = MillisecondsOf([&f] { f.finder->Stop(); });
  releaser.join();
  EXPECT_GE(waited, 200);
  EXPECT_EQ(1, f.orthanc.hungReturned);
  EXPECT_EQ(0u, f.finder->CountRunning());

  // A round after it asks nobody, and says why.
  const size_t asked = f.orthanc.CountPosts("/modalities/hung/");
  r = f.finder->Find("ABCDEFGHJKLM", true);
  EXPECT_EQ(SourceStatus_Busy, f.Source(r, "hung").status);
  EXPECT_EQ("Orthanc is stopping: not asked", f.Source(r, "hung").message);
  EXPECT_EQ(SourceStatus_Busy, f.Source(r, "local").status);
  EXPECT_EQ(asked, f.orthanc.CountPosts("/modalities/hung/"));
  EXPECT_EQ(0u, f.finder->CountRunning());
  f.finder->Stop(); // twice: nothing more
}

TEST(CandidateFinder, NamespacedPatientsInThePacsOrWorklistAreNoCandidates)
{
  // An upload sent on with its namespaced PatientID is in the PACS under it, named as its
  // sender chose (red team: a planted twin would stop every automatic release of H1003).
  Fixture f(R"({"Sources": [{"Modality": "pacs", "Query": "Patient"},
                            {"Modality": "ris", "Query": "Worklist"}], "TimeoutSeconds": 2})");
  const char* planted = R"({"PatientID": "INB-BCDEFGHJKLMN-1-EXT-555", "PatientName": "DOE^JANE",
                            "PatientBirthDate": "19700131", "PatientSex": "F",
                            "AccessionNumber": "A2026-001", "RequestedProcedureID": "RP9"})";
  f.orthanc.pacs["pacs"].append(Parse(planted));
  f.orthanc.worklists["ris"].append(Parse(planted));
  f.AddUpload("ABCDEFGHJKLM");
  const Reconciliation r = f.finder->Find("ABCDEFGHJKLM", false);
  ASSERT_EQ(1u, r.patients.size());
  ASSERT_FALSE(r.patients[0].candidates.empty());
  EXPECT_EQ("H1003", r.patients[0].candidates[0].record.patientId);
  for (const Candidate& c : r.patients[0].candidates)
  {
    EXPECT_FALSE(Isolation::IsIsolatedPatientId("INB-", c.record.patientId)) << c.record.source;
  }
}

TEST(CandidateFinder, EachSourcesLastRoundIsCountedForTheMetrics)
{
  Fixture f(R"({"Sources": [{"Modality": "pacs", "Query": "Patient"},
                            {"Modality": "pacs", "Query": "Worklist"},
                            {"Modality": "down", "Query": "Patient"},
                            {"Modality": "hung", "Query": "Patient"}], "TimeoutSeconds": 1})",
            5);
  f.orthanc.worklists["pacs"] = Parse(kWorklist);
  f.orthanc.errors["down"] = 9;
  f.orthanc.hung.insert("hung");
  uint64_t rounds = 99;
  std::vector<ReconciliationSourceMetrics> m = f.finder->GetSourceMetrics(rounds);
  EXPECT_EQ(0u, rounds);
  ASSERT_EQ(5u, m.size()); // "local" first, then Sources in their order, none asked yet
  EXPECT_EQ("local", m[0].source);
  EXPECT_EQ("Local", m[0].query);
  EXPECT_EQ("Worklist", m[2].query);
  for (const ReconciliationSourceMetrics& s : m)
  {
    EXPECT_EQ(-1, s.up);
    EXPECT_EQ(0, s.lastRoundAt);
    EXPECT_EQ(-1, s.lastElapsedMs);
  }

  f.AddUpload("ABCDEFGHJKLM");
  f.finder->Find("ABCDEFGHJKLM", false);
  m = f.finder->GetSourceMetrics(rounds);
  EXPECT_EQ(1u, rounds);
  for (size_t i : {0, 1, 2})
  {
    EXPECT_EQ(1, m[i].up) << m[i].source;
    EXPECT_EQ(0u, m[i].failures);
    EXPECT_EQ(f.clock.now, m[i].lastRoundAt);
    EXPECT_GE(m[i].lastElapsedMs, 0);
  }
  EXPECT_EQ(0, m[3].up); // refused
  EXPECT_EQ(1u, m[3].failures);
  EXPECT_EQ(0, m[4].up); // timeout: the round stopped waiting for it
  EXPECT_EQ(1u, m[4].failures);
  EXPECT_GE(m[4].lastElapsedMs, 1000);

  // A cached answer asks nobody: nothing changes. A busy source was not asked: nor does it.
  f.clock.now += 1000;
  f.finder->Find("ABCDEFGHJKLM", false);
  m = f.finder->GetSourceMetrics(rounds);
  EXPECT_EQ(1u, rounds);
  EXPECT_EQ(f.clock.now - 1000, m[0].lastRoundAt);
  f.orthanc.errors.erase("down");
  f.orthanc.pacs["down"] = Parse(kPacs);
  f.finder->Find("ABCDEFGHJKLM", true); // 5 threads at most, the hung one still runs: busy
  m = f.finder->GetSourceMetrics(rounds);
  EXPECT_EQ(2u, rounds);
  EXPECT_EQ(1, m[3].up); // answers again; its failure stays counted
  EXPECT_EQ(1u, m[3].failures);
  EXPECT_EQ(f.clock.now, m[3].lastRoundAt);
  EXPECT_EQ(0, m[4].up);                         // busy: still the first round's figures
  EXPECT_EQ(f.clock.now - 1000, m[4].lastRoundAt);
  EXPECT_EQ(1u, m[4].failures);
  f.orthanc.Release();
  f.WaitUntilIdle();
}
