// Unit tests of releases and auto-forwards against a fake Orthanc: copies, jobs, retries, rules.
// Over 500 lines: one fake Orthanc and fixture serve every forwarding test, requests included.
#include "Forward/Forwarder.h"
#include "LedgerBackends.h"
#include "Http/ApiError.h"
#include "IsolatedInstance.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"

#include <dcmtk/dcmdata/dcdeftag.h>

#include <gtest/gtest.h>

#include <map>

using namespace Inbound;

namespace
{
  // Orthanc's REST API as far as the forwarder uses it: modalities, a study's instances,
  // instance modification, storing, store jobs that succeed or fail, deletion.
  class FakeRest : public IOrthancRest
  {
  public:
    std::vector<std::string> modalities = {"pacs"};
    std::map<std::string, std::vector<std::string>> studies;  // study -> instances
    std::map<std::string, std::string> jobs;                   // id -> state
    std::vector<std::string> stores;  // resources sent, in order (one store: comma-separated)
    std::map<std::string, InboundTests::IsolatedInstance> files;  // instance -> stored file
    std::vector<std::string> posted;   // the copies' files stored, in order
    std::vector<std::string> deleted;
    bool pacsUp = true;
    int copies = 0;

    bool Get(Json::Value& answer, const std::string& uri) override
    {
      if (uri == "/modalities")
      {
        answer = Json::arrayValue;
        for (const std::string& m : modalities)
          answer.append(m);
        return true;
      }
      if (uri.rfind("/jobs/", 0) == 0)
      {
        const auto job = jobs.find(uri.substr(6));
        if (job == jobs.end())
          return false;
        answer = Json::objectValue;
        answer["State"] = job->second;
        answer["ErrorDescription"] = "DICOM network error";
        return true;
      }
      const std::string tags = "/tags?short";  // as Reconcile/SentPatients reads them
      if (uri.rfind("/instances/", 0) == 0 && uri.size() > tags.size() + 11 &&
          uri.compare(uri.size() - tags.size(), tags.size(), tags) == 0)
      {
        const auto file = files.find(uri.substr(11, uri.size() - 11 - tags.size()));
        if (file == files.end())
          return false;
        answer = Json::objectValue;
        answer["0010,0040"] = file->second.sex;
        return true;
      }
      const std::string prefix = "/studies/";
      if (uri.rfind(prefix, 0) == 0)
      {
        const std::string study = uri.substr(prefix.size(), uri.find("/instances") - prefix.size());
        if (studies.count(study) == 0)
          return false;
        answer = Json::arrayValue;
        for (const std::string& i : studies[study])
        {
          Json::Value instance(Json::objectValue);
          instance["ID"] = i;
          instance["ParentSeries"] = "series-of-" + i;
          answer.append(instance);
        }
        return true;
      }
      return false;
    }

    Json::Value Post(const std::string& uri, const Json::Value& body) override
    {
      Json::Value answer(Json::objectValue);
      if (uri == "/modalities/pacs/store")
      {
        const std::string id = "job-" + std::to_string(jobs.size() + 1);
        jobs[id] = pacsUp ? "Success" : "Failure";
        std::string resources;
        for (const Json::Value& resource : body["Resources"])
        {
          resources += (resources.empty() ? "" : ",") + resource.asString();
        }
        stores.push_back(resources);
        answer["ID"] = id;
        return answer;
      }
      throw std::runtime_error("unexpected POST " + uri);
    }

    bool GetBytes(std::string& answer, const std::string& uri) override
    {
      const std::string prefix = "/instances/", suffix = "/file";
      if (uri.rfind(prefix, 0) != 0 || uri.size() < prefix.size() + suffix.size() ||
          uri.compare(uri.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
      const auto file = files.find(uri.substr(prefix.size(), uri.size() - prefix.size() - suffix.size()));
      if (file == files.end())
        return false;
      answer = file->second.Make();
      return true;
    }

    Json::Value PostBytes(const std::string& uri, const std::string& body) override
    {
      EXPECT_EQ("/instances", uri);
      copies++;
      posted.push_back(body);
      Json::Value answer(Json::objectValue);
      answer["ParentStudy"] = "copy-study";
      answer["ID"] = "copy-" + std::to_string(copies);
      answer["Status"] = "Success";
      if (studies.count("copy-study") > 0)
      {
        studies["copy-study"].push_back(answer["ID"].asString());
      }
      return answer;
    }

    void Delete(const std::string& uri) override
    {
      deleted.push_back(uri);
    }
  };

  // The reconciliation assistant's answers, set by each test; an upload without one has no
  // patients (nothing identified).
  class FakeFinder : public ICandidateFinder
  {
  public:
    std::map<std::string, Reconciliation> results;  // by upload
    std::map<std::string, Reconciliation> cached;   // by upload
    bool fails = false;
    int finds = 0;

    Reconciliation Find(const std::string& uploadId, bool fresh) override
    {
      finds++;
      if (fails)
        throw std::runtime_error("the finder failed");
      Reconciliation r;
      r.uploadId = uploadId;
      const auto found = results.find(uploadId);
      return found == results.end() ? r : found->second;
    }

    bool GetCached(Reconciliation& result, const std::string& uploadId) override
    {
      const auto found = cached.find(uploadId);
      if (found == cached.end())
        return false;
      result = found->second;
      return true;
    }
  };

  Candidate MakeCandidate(const std::string& source, const std::string& patientId, int score,
                          const std::string& name = "DOE^JANE", const std::string& sex = "",
                          const std::string& issuer = "")
  {
    Candidate c;
    c.record.source = source;
    c.record.patientId = patientId;
    c.record.name = name;
    c.record.birthDate = "19700131";
    c.record.sex = sex;
    c.record.issuer = issuer;
    c.score = score;
    return c;
  }

  // One patient of "upload" (the fixture's study) with these candidates, best first.
  Reconciliation Answer(const std::string& upload, const std::vector<Candidate>& candidates)
  {
    Reconciliation r;
    r.uploadId = upload;
    PatientCandidates p;
    p.sent.originalPatientId = "P-" + upload;
    p.sent.isolatedPatientId = "INB-" + upload + "-1";
    p.sent.studies = {"study-" + upload};
    p.candidates = candidates;
    r.patients.push_back(p);
    SourceOutcome local;
    local.source = "local";
    local.query = "Local";
    r.sources.push_back(local);
    return r;
  }

  Json::Value Section(const std::string& text)
  {
    Json::Value v;
    std::string errors;
    EXPECT_TRUE(JsonText::ParseConfiguration(v, text, errors)) << errors;
    return v;
  }

  struct Fixture
  {
    Configuration configuration;
    Ledger ledger{""};
    InboundTests::FakeClock clock;
    FakeRest rest;
    FakeFinder finder;
    std::atomic<bool> stopping{false};
    std::unique_ptr<Forwarder> forwarder;

    explicit Fixture(const std::string& extra = "")
    {
      configuration = Configuration::Parse(Section(
        R"({"Recipients": [{"Id": "neuro", "Name": "Neuro", "Email": "neuro@hospital.example"},
                           {"Id": "trauma", "Name": "Trauma", "Email": "trauma@hospital.example"}],
            "Forwarding": {"RetryInterval": 10, "MaxRetryInterval": 40, "GiveUpAfter": 100})" +
        extra + "}"));
      ledger.Forwards().GetCursor(); // before any upload, as in a running plugin
      forwarder.reset(new Forwarder(configuration, ledger, rest, finder, clock));
    }

    // A complete upload of one study with two instances, as the upload service leaves it;
    // bound to "request" when given, its files naming the patient "name", born "birthDate".
    std::string AddUpload(const std::string& id, const std::string& recipient,
                          const std::string& request = "", const std::string& name = "",
                          const std::string& birthDate = "")
    {
      UploadRecord u;
      u.id = id;
      u.tokenHash = "h";
      u.createdAt = u.updatedAt = clock.now;
      u.recipientId = recipient;
      u.requestId = request;
      EXPECT_EQ("", ledger.Uploads().Create(u));
      const std::string study = "study-" + id;
      for (const char* sha : {"a1", "b2"})
      {
        ItemRecord item;
        item.uploadId = id;
        item.sha256 = std::string(sha) + id;
        item.studyInstanceUid = "1.2." + id;
        item.orthancStudyId = study;
        item.orthancInstanceId = item.sha256;
        item.orthancSeriesId = "series-of-" + item.sha256;
        item.originalPatientId = "P-" + id;
        item.isolatedPatientId = "INB-" + id + "-1";
        item.patientName = name;
        item.patientBirthDate = birthDate;
        item.storedAt = clock.now;
        ledger.Uploads().AddItem(item, "");
        rest.studies[study].push_back(item.sha256);
        InboundTests::IsolatedInstance file;
        file.uploadId = id;
        file.senderPatientId = item.originalPatientId;
        file.name = name;
        file.birthDate = birthDate;
        file.studyUid = item.studyInstanceUid;
        file.sopUid = "1.2." + id + "." + std::to_string(rest.files.size() + 1);
        rest.files[item.orthancInstanceId] = file;
      }
      ledger.Uploads().ChangeState(id, {UploadState_Open}, UploadState_Complete, clock.now, "", "");
      return study;
    }

    // A request for the hospital's patient H-1, DOE^JANE born 19700131 (or "name").
    void AddRequest(const std::string& id, const std::string& forwardTo,
                    const std::string& name = "DOE^JANE")
    {
      RequestRecord r;
      r.id = id;
      r.tokenHash = "token-of-" + id;
      r.createdAt = r.updatedAt = clock.now;
      r.expiresAt = clock.now + 86400000;
      r.recipientId = "neuro";
      r.maxUploads = 5;
      r.challenge = ChallengeKind_Code;
      r.patient.id = "H-1";
      r.patient.name = name;
      r.patient.birthDate = "19700131";
      r.forwardTo = forwardTo;
      ledger.Requests().Create(r);
    }

    int64_t Matched(const std::string& upload)
    {
      UploadRecord u;
      EXPECT_TRUE(ledger.Uploads().Lookup(u, upload));
      return u.requestMatched;
    }

    std::vector<AuditEvent> Audited(const std::string& event)
    {
      std::vector<AuditEvent> found;
      for (const AuditEvent& e : ledger.Audit().List(0, 1000))
      {
        if (e.event == event)
        {
          found.push_back(e);
        }
      }
      return found;
    }

    ReleaseRequest Reconciled()
    {
      const std::string body = R"({"modality": "pacs", "patient": {"id": "H-1", "name": "Doe^Jane", "birthDate": "19700131"}})";
      return ReleaseRequest::Parse(body.data(), body.size());
    }

    ForwardRecord Only(const std::string& upload)
    {
      const std::vector<ForwardRecord> all = ledger.Forwards().List(upload, "", 100);
      EXPECT_EQ(1u, all.size());
      return all.empty() ? ForwardRecord() : all.front();
    }
  };

  // An element of the i-th copy stored ("" when absent).
  std::string Posted(const FakeRest& rest, size_t i, const DcmTagKey& tag)
  {
    if (i >= rest.posted.size())
    {
      ADD_FAILURE() << "no copy " << i;
      return "";
    }
    std::unique_ptr<DcmFileFormat> file = InboundTests::ParseDicom(rest.posted[i]);
    return InboundTests::GetRaw(*file->getDataset(), tag);
  }

  std::string ErrorCode(const std::string& body)
  {
    try
    {
      ReleaseRequest::Parse(body.data(), body.size());
    }
    catch (const ApiError& e)
    {
      return e.GetCode();
    }
    return "";
  }
}

TEST(Forwarder, ReleaseRequestNeedsTheHospitalsIdentityOrAnExplicitChoice)
{
  EXPECT_EQ("reconciliation-required", ErrorCode(R"({"modality": "pacs"})"));
  EXPECT_EQ("reconciliation-required", ErrorCode(R"({"modality": "pacs", "patient": {"name": "X"}})"));
  EXPECT_EQ("", ErrorCode(R"({"modality": "pacs", "keepNamespacedPatientId": true})"));
  EXPECT_EQ("invalid-field", ErrorCode(R"({"modality": "pacs", "keepNamespacedPatientId": true, "patient": {"id": "H"}})"));
  EXPECT_EQ("invalid-field", ErrorCode(R"({"modality": "pacs", "patient": {"id": "H", "birthDate": "1970-01-31"}})"));
  EXPECT_EQ("invalid-field", ErrorCode(R"({"modality": "pacs", "patient": {"id": "A\\B"}})"));
  EXPECT_EQ("invalid-field", ErrorCode(R"({"modality": "pacs", "patient": {"id": "H"}, "extra": 1})"));
  EXPECT_EQ("invalid-field", ErrorCode(R"({"patient": {"id": "H"}})"));
  EXPECT_EQ("bad-json", ErrorCode("[1]"));
}

TEST(Forwarder, ReleaseRequestReadsTheReconciledIdentityStrictly)
{
  const std::string body = R"({"modality": "pacs", "patient": {"id": "H-1", "name": "Łukasiewicz^Zoë",
      "birthDate": "19700131", "sex": "F", "issuer": "HOSPITAL-X"}, "accessionNumber": "A-17",
      "candidate": {"source": "pacs", "score": 85}, "confirmMismatch": true})";
  const ReleaseRequest r = ReleaseRequest::Parse(body.data(), body.size());
  EXPECT_EQ("F", r.patientSex);
  EXPECT_TRUE(r.hasIssuer);
  EXPECT_EQ("HOSPITAL-X", r.patientIssuer);
  EXPECT_EQ("A-17", r.accessionNumber);
  EXPECT_EQ("pacs", r.candidateSource);
  EXPECT_EQ(85, r.candidateScore);
  EXPECT_TRUE(r.confirmMismatch);
  const std::string plain = R"({"modality": "pacs", "patient": {"id": "H-1"}})";
  const ReleaseRequest p = ReleaseRequest::Parse(plain.data(), plain.size());
  EXPECT_FALSE(p.hasIssuer);
  EXPECT_EQ(-1, p.candidateScore);
  EXPECT_FALSE(p.confirmMismatch);
  // An empty issuer is a choice: the element is removed.
  const std::string removed = R"({"modality": "pacs", "patient": {"id": "H-1", "issuer": ""}})";
  EXPECT_TRUE(ReleaseRequest::Parse(removed.data(), removed.size()).hasIssuer);

  const std::string id = R"({"modality": "pacs", "patient": {"id": "H-1")";
  for (const std::string& bad : std::vector<std::string>{
         id + R"(, "sex": "X"}})", id + R"(, "sex": "m"}})", id + R"(, "sex": 1}})",
         id + R"(, "issuer": "A\\B"}})", id + R"(, "issuer": ")" + std::string(65, 'I') + R"("}})",
         id + R"(, "issuer": "tab	in"}})", id + R"(, "issuer": null}})",
         id + R"(, "ssn": "1"}})",
         id + R"(}, "accessionNumber": "12345678901234567"})",
         id + R"(}, "accessionNumber": "A\\B"})", id + R"(}, "accessionNumber": 17})",
         id + R"(}, "candidate": "pacs"})", id + R"(}, "candidate": {"source": "pacs"}})",
         id + R"(}, "candidate": {"score": 80}})",
         id + R"(}, "candidate": {"source": "", "score": 80}})",
         id + R"(}, "candidate": {"source": "pacs", "score": 101}})",
         id + R"(}, "candidate": {"source": "pacs", "score": -1}})",
         id + R"(}, "candidate": {"source": "pacs", "score": 80.5}})",
         id + R"(}, "candidate": {"source": "pacs", "score": "80"}})",
         id + R"(}, "candidate": {"source": "pacs", "score": 80, "reasons": []}})",
         id + R"(}, "confirmMismatch": "yes"})",
         id + R"(, "name": "Doe"}})",
         R"({"modality": "pacs", "keepNamespacedPatientId": true, "patient": {"sex": "F"}})",
         R"({"modality": "pacs", "keepNamespacedPatientId": true, "accessionNumber": "A"})",
         R"({"modality": "pacs", "keepNamespacedPatientId": true, "candidate": {"source": "pacs", "score": 1}})"})
  {
    EXPECT_EQ("invalid-field", ErrorCode(bad)) << bad;
  }
  // Sixteen characters of SH, 64 of LO, counted in characters, not bytes.
  std::string e64, a16;
  for (int i = 0; i < 64; i++)
    e64 += "\xc3\xa9";  // é
  for (int i = 0; i < 16; i++)
    a16 += "\xc3\x84";  // Ä
  EXPECT_EQ("", ErrorCode(id + R"(, "issuer": ")" + e64 + R"("}})"));
  EXPECT_EQ("invalid-field", ErrorCode(id + R"(, "issuer": ")" + e64 + R"(e"}})"));
  EXPECT_EQ("", ErrorCode(id + R"(}, "accessionNumber": ")" + a16 + R"("})"));
  EXPECT_EQ("invalid-field", ErrorCode(id + R"(}, "accessionNumber": ")" + a16 + R"(A"})"));
}

TEST(Forwarder, ReleaseCopiesWithTheHospitalsIdentitySendsAndRemovesTheCopy)
{
  Fixture f;
  const std::string study = f.AddUpload("U1", "neuro");
  Json::Value answer = f.forwarder->Release("U1", f.Reconciled(), "admin");
  ASSERT_EQ(1u, answer["forwards"].size());

  f.forwarder->Step(f.stopping);  // copy and start the job
  ASSERT_EQ(2u, f.rest.posted.size());
  EXPECT_EQ("H-1", Posted(f.rest, 0, DCM_PatientID));
  EXPECT_EQ("Doe^Jane", Posted(f.rest, 0, DCM_PatientName));
  EXPECT_EQ("19700131", Posted(f.rest, 0, DCM_PatientBirthDate));
  EXPECT_EQ("", Posted(f.rest, 0, DCM_IssuerOfPatientID));  // none configured: removed
  EXPECT_EQ(f.rest.files["a1U1"].sopUid, Posted(f.rest, 0, DCM_SOPInstanceUID));  // UIDs kept
  EXPECT_EQ("1.2.U1", Posted(f.rest, 0, DCM_StudyInstanceUID));
  EXPECT_EQ(std::vector<std::string>{"copy-study"}, f.rest.stores);
  EXPECT_EQ(ForwardState_Sending, f.Only("U1").state);

  f.clock.now += 1000;
  f.forwarder->Step(f.stopping);  // the job succeeded
  const ForwardRecord done = f.Only("U1");
  EXPECT_EQ(ForwardState_Done, done.state);
  EXPECT_EQ(study, done.study);
  EXPECT_EQ(std::vector<std::string>{"/studies/copy-study"}, f.rest.deleted);
}

TEST(Forwarder, ReleaseRecordsAndAuditsTheWholeIdentityAndTheCandidate)
{
  Fixture f;
  f.AddUpload("U1", "neuro");
  const std::string body = R"({"modality": "pacs", "patient": {"id": "H-1", "name": "Doe^Jane",
      "sex": "F", "issuer": "HOSPITAL-X"}, "accessionNumber": "A-17",
      "candidate": {"source": "pacs", "score": 85}, "confirmMismatch": true})";
  const Json::Value answer =
    f.forwarder->Release("U1", ReleaseRequest::Parse(body.data(), body.size()), "admin");
  const ForwardRecord r = f.Only("U1");
  EXPECT_EQ("HOSPITAL-X", r.patientIssuer);
  EXPECT_EQ("F", r.patientSex);
  EXPECT_EQ("A-17", r.accessionNumber);
  EXPECT_EQ("pacs", r.candidateSource);
  EXPECT_EQ(85, r.candidateScore);
  EXPECT_TRUE(r.confirmed);
  const Json::Value& json = answer["forwards"][0];
  EXPECT_EQ("HOSPITAL-X", json["issuer"].asString());
  EXPECT_EQ("F", json["sex"].asString());
  EXPECT_EQ("A-17", json["accessionNumber"].asString());
  EXPECT_EQ("pacs", json["candidate"]["source"].asString());
  EXPECT_EQ(85, json["candidate"]["score"].asInt());
  EXPECT_TRUE(json["confirmedMismatch"].asBool());
  ASSERT_EQ(1u, f.Audited("release-requested").size());
  EXPECT_EQ("1 studies to pacs as PatientID H-1 (issuer HOSPITAL-X), accession A-17 by admin; "
            "candidate pacs score 85; mismatch confirmed",
            f.Audited("release-requested")[0].detail);

  // Without issuer, sex, accession or candidate: the configured issuer (none: removed), the
  // rest left as sent.
  f.AddUpload("U2", "neuro");
  const Json::Value plain = f.forwarder->Release("U2", f.Reconciled(), "admin")["forwards"][0];
  EXPECT_EQ("", plain["issuer"].asString());
  EXPECT_TRUE(plain["sex"].isNull());
  EXPECT_TRUE(plain["accessionNumber"].isNull());
  EXPECT_TRUE(plain["candidate"].isNull());
  EXPECT_FALSE(plain["confirmedMismatch"].asBool());
  EXPECT_EQ("1 studies to pacs as PatientID H-1 (issuer removed) by admin",
            f.Audited("release-requested")[1].detail);
}

TEST(Forwarder, ReleaseRefusesUnknownModalitiesStudiesAndOpenUploads)
{
  Fixture f;
  f.AddUpload("U1", "neuro");
  std::string body = R"({"modality": "elsewhere", "patient": {"id": "H"}})";
  EXPECT_THROW(f.forwarder->Release("U1", ReleaseRequest::Parse(body.data(), body.size()), "a"),
               ApiError);
  body = R"({"modality": "pacs", "studies": ["not-this-one"], "patient": {"id": "H"}})";
  EXPECT_THROW(f.forwarder->Release("U1", ReleaseRequest::Parse(body.data(), body.size()), "a"),
               ApiError);
  EXPECT_THROW(f.forwarder->Release("NOPE", f.Reconciled(), "a"), ApiError);
  UploadRecord open;
  open.id = "OPEN";
  open.tokenHash = "h";
  f.ledger.Uploads().Create(open);
  EXPECT_THROW(f.forwarder->Release("OPEN", f.Reconciled(), "a"), ApiError);
  // An upload's namespaced PatientID is never the hospital's (red team): even confirmed.
  body = R"({"modality": "pacs", "confirmMismatch": true,
             "patient": {"id": "INB-ABCDEFGHJKLM-1-EXT-555", "name": "DOE^JANE"}})";
  try
  {
    f.forwarder->Release("U1", ReleaseRequest::Parse(body.data(), body.size()), "a");
    ADD_FAILURE();
  }
  catch (const ApiError& e)
  {
    EXPECT_EQ(400, e.GetStatus());
    EXPECT_EQ("invalid-field", e.GetCode());
  }
  EXPECT_TRUE(f.ledger.Forwards().List("", "", 100).empty());
}

TEST(Forwarder, FailedJobsAreRetriedWithBackOffThenGivenUpWithAnAlert)
{
  Fixture f;
  f.AddUpload("U1", "neuro");
  f.rest.pacsUp = false;
  f.forwarder->Release("U1", f.Reconciled(), "admin");
  f.forwarder->Step(f.stopping);
  f.clock.now += 1000;
  f.forwarder->Step(f.stopping);  // the job failed: retry in 10 s
  ForwardRecord r = f.Only("U1");
  EXPECT_EQ(ForwardState_Pending, r.state);
  EXPECT_NE(std::string::npos, r.lastError.find("DICOM network error"));
  EXPECT_EQ(f.clock.now + 10000, r.nextAttemptAt);
  EXPECT_EQ(2u, f.rest.posted.size());

  f.clock.now += 10000;
  f.forwarder->Step(f.stopping);  // second attempt reuses the copy
  EXPECT_EQ(2u, f.rest.posted.size());
  EXPECT_EQ(2u, f.rest.stores.size());

  f.clock.now += 200000;  // past GiveUpAfter
  f.forwarder->Step(f.stopping);
  r = f.Only("U1");
  EXPECT_EQ(ForwardState_Failed, r.state);
  bool alerted = false;
  for (const AuditEvent& e : f.ledger.Audit().List(0, 100))
    alerted = alerted || e.event == "alert-forward-failed";
  EXPECT_TRUE(alerted);

  f.rest.pacsUp = true;
  f.forwarder->Retry(r.id, "admin");
  f.forwarder->Step(f.stopping);
  f.clock.now += 1000;
  f.forwarder->Step(f.stopping);
  EXPECT_EQ(ForwardState_Done, f.Only("U1").state);
  EXPECT_THROW(f.forwarder->Retry(r.id, "admin"), ApiError);
}

TEST(Forwarder, RulesForwardEachCompletedUploadOnceAndOnlyTheirRecipients)
{
  Fixture f(R"(, "AutoForward": [{"Recipient": "neuro", "Modality": "pacs", "PatientID": "Namespaced"},
                                 {"Recipient": "trauma", "Modality": "pacs", "PatientID": "AsSent"}])");
  f.AddUpload("U1", "neuro");
  f.AddUpload("U2", "trauma");
  f.forwarder->CollectRules();
  f.forwarder->CollectRules();  // nothing twice
  const ForwardRecord neuro = f.Only("U1");
  EXPECT_TRUE(neuro.keepNamespace);
  EXPECT_EQ("rule", neuro.origin);
  const ForwardRecord trauma = f.Only("U2");
  EXPECT_FALSE(trauma.keepNamespace);
  EXPECT_EQ("P-U2", trauma.patientId);

  f.forwarder->Step(f.stopping);
  // The namespaced study's instances are sent as stored, without a copy; the other one is
  // copied.
  EXPECT_EQ(2u, f.rest.stores.size());
  EXPECT_EQ("a1U1,b2U1", f.rest.stores[0]);
  EXPECT_EQ(2u, f.rest.posted.size());
  EXPECT_EQ("P-U2", Posted(f.rest, 0, DCM_PatientID));
}

TEST(Forwarder, UploadsBeforeTheFirstStartAreNotForwardedByRules)
{
  Configuration c = Configuration::Parse(Section(
    R"({"Recipients": [{"Id": "neuro", "Name": "N", "Email": "n@hospital.example"}],
        "AutoForward": [{"Recipient": "*", "Modality": "pacs", "PatientID": "Namespaced"}]})"));
  Ledger ledger(InboundTests::TestLedgerLocation());
  UploadRecord u;
  u.id = "OLD";
  u.tokenHash = "h";
  u.recipientId = "neuro";
  ledger.Uploads().Create(u);
  ledger.Uploads().ChangeState("OLD", {UploadState_Open}, UploadState_Complete, 1, "", "");
  InboundTests::FakeClock clock;
  FakeRest rest;
  FakeFinder finder;
  Forwarder forwarder(c, ledger, rest, finder, clock);
  forwarder.CollectRules();
  EXPECT_TRUE(ledger.Forwards().List("", "", 10).empty());
}

TEST(Forwarder, RetentionListsOnlyOldUploadsWhoseStudiesWereAllSent)
{
  Fixture f(R"(, "Retention": {"Days": 2, "OnlyForwarded": true})");
  f.AddUpload("SENT", "neuro");
  f.AddUpload("KEPT", "neuro");
  f.forwarder->Release("SENT", f.Reconciled(), "admin");
  f.forwarder->Step(f.stopping);
  f.clock.now += 1000;
  f.forwarder->Step(f.stopping);
  EXPECT_TRUE(f.forwarder->ListUploadsPastRetention().empty());  // not old enough yet
  f.clock.now += 3 * 86400 * 1000;
  EXPECT_EQ(std::vector<std::string>{"SENT"}, f.forwarder->ListUploadsPastRetention());
}

TEST(Forwarder, ReleaseSendsOnlyTheInstancesOfTheUpload)
{
  // An Orthanc study that also holds an instance that the upload did not store (put there by
  // someone else): neither the namespaced send nor the reconciled copy takes it.
  Fixture f;
  const std::string study = f.AddUpload("U1", "neuro");
  f.rest.studies[study].push_back("foreign-instance");
  std::string body = R"({"modality": "pacs", "keepNamespacedPatientId": true})";
  f.forwarder->Release("U1", ReleaseRequest::Parse(body.data(), body.size()), "admin");
  f.forwarder->Step(f.stopping);
  ASSERT_EQ(1u, f.rest.stores.size());
  EXPECT_EQ("a1U1,b2U1", f.rest.stores[0]);

  f.forwarder->Release("U1", f.Reconciled(), "admin");
  f.forwarder->Step(f.stopping);
  EXPECT_EQ(2u, f.rest.posted.size());  // two instances copied, not three
  ASSERT_EQ(2u, f.rest.stores.size());
  EXPECT_EQ("copy-study", f.rest.stores[1]);
}

TEST(Forwarder, ACopyLandingInAnExistingStudyIsNotSent)
{
  // Without new UIDs, the hospital's PatientID and the sender's StudyInstanceUID can name a
  // study that this Orthanc holds already: sending (and later deleting) that study would
  // touch the hospital's instances. The copies made are removed, nothing is sent.
  Fixture f;
  f.AddUpload("U1", "neuro");
  f.rest.studies["copy-study"] = {"hospital-instance"};
  f.forwarder->Release("U1", f.Reconciled(), "admin");
  f.forwarder->Step(f.stopping);
  EXPECT_TRUE(f.rest.stores.empty());
  EXPECT_EQ((std::vector<std::string>{"/instances/copy-1", "/instances/copy-2"}),
            f.rest.deleted);
  EXPECT_NE(std::string::npos, f.Only("U1").lastError.find("new UIDs"));
}

TEST(Forwarder, AFailedCopyLeavesNoPartOfItBehind)
{
  // The second instance cannot be coerced (it is not the isolated copy of this upload) or
  // read: the first one's copy, already stored, is deleted again, at every attempt.
  Fixture f;
  f.AddUpload("U1", "neuro");
  f.rest.files["b2U1"].uploadId = "U9";
  f.forwarder->Release("U1", f.Reconciled(), "admin");
  f.forwarder->Step(f.stopping);
  EXPECT_TRUE(f.rest.stores.empty());
  EXPECT_EQ(std::vector<std::string>{"/instances/copy-1"}, f.rest.deleted);
  EXPECT_NE(std::string::npos, f.Only("U1").lastError.find("not the isolated copy"));

  f.rest.files.erase("b2U1");
  f.clock.now += 60000;
  f.forwarder->Step(f.stopping);
  EXPECT_EQ((std::vector<std::string>{"/instances/copy-1", "/instances/copy-2"}), f.rest.deleted);
  EXPECT_NE(std::string::npos, f.Only("U1").lastError.find("no longer holds"));
  EXPECT_TRUE(f.rest.stores.empty());
}

TEST(Forwarder, AMatchedRequestUploadGoesToItsModalityOnceUnderTheHospitalsIdentity)
{
  Fixture f;
  f.AddRequest("R1", "pacs");
  f.finder.results["U1"] = Answer("U1", {MakeCandidate("request", "H-1", 80)});
  f.AddUpload("U1", "neuro", "R1", "Doe^Jane", "19700131");
  f.forwarder->CollectRules();
  f.forwarder->CollectRules();  // nothing twice
  EXPECT_EQ(1, f.Matched("U1"));
  const ForwardRecord forward = f.Only("U1");
  EXPECT_EQ("request", forward.origin);
  EXPECT_EQ("request R1", forward.requestedBy);
  EXPECT_EQ("pacs", forward.modality);
  EXPECT_EQ("H-1", forward.patientId);
  EXPECT_EQ("DOE^JANE", forward.patientName);
  EXPECT_EQ("19700131", forward.patientBirthDate);
  EXPECT_FALSE(forward.keepNamespace);
  ASSERT_EQ(1u, f.Audited("auto-forward").size());
  EXPECT_EQ("1 studies to pacs as PatientID H-1 for request R1; candidate request score 80",
            f.Audited("auto-forward")[0].detail);
  EXPECT_EQ("request", forward.candidateSource);
  EXPECT_EQ(80, forward.candidateScore);
  EXPECT_EQ(1, f.finder.finds);
  EXPECT_TRUE(f.Audited("request-mismatch").empty());

  // A forwarder started afresh on the same ledger (a restart) queues nothing again.
  Forwarder again(f.configuration, f.ledger, f.rest, f.finder, f.clock);
  again.CollectRules();
  EXPECT_EQ(1u, f.ledger.Forwards().List("", "", 100).size());

  f.forwarder->Step(f.stopping);
  ASSERT_EQ(2u, f.rest.posted.size());
  for (size_t i = 0; i < 2; i++)
  {
    EXPECT_EQ("H-1", Posted(f.rest, i, DCM_PatientID));
    EXPECT_EQ("DOE^JANE", Posted(f.rest, i, DCM_PatientName));
    EXPECT_EQ("19700131", Posted(f.rest, i, DCM_PatientBirthDate));
  }
  EXPECT_EQ(std::vector<std::string>{"copy-study"}, f.rest.stores);
}

TEST(Forwarder, ARequestNoLongerLiveForwardsNothingOnItsOwn)
{
  // A gateway may date an upload before a revocation or the expiry it knew of: the upload
  // stays bound and judged, but only a person sends it under the hospital's identity.
  Fixture f;
  f.AddRequest("R1", "pacs");
  f.AddRequest("R2", "pacs");
  f.AddRequest("R3", "pacs");
  f.AddUpload("U1", "neuro", "R1", "Doe^Jane", "19700131");
  f.AddUpload("U2", "neuro", "R2", "Doe^Jane", "19700131");
  f.AddUpload("U3", "neuro", "R3", "Doe^Jane", "19700131");
  ASSERT_TRUE(f.ledger.Requests().Revoke("R1", f.clock.now, "admin"));
  ASSERT_TRUE(f.ledger.Requests().MarkLocked("R2", f.clock.now, f.clock.now, "dmz"));
  f.clock.now += 86400000;  // R3 expired
  f.forwarder->CollectRules();
  for (const char* upload : {"U1", "U2", "U3"})
  {
    EXPECT_EQ(1, f.Matched(upload)) << upload;
  }
  EXPECT_TRUE(f.ledger.Forwards().List("", "", 100).empty());
  EXPECT_TRUE(f.Audited("auto-forward").empty());
  EXPECT_EQ(0, f.finder.finds);  // not even asked
}

TEST(Forwarder, AnotherPatientIsNotSentAndWaitsForAPerson)
{
  Fixture f;
  f.AddRequest("R1", "pacs");
  f.AddUpload("U1", "neuro", "R1", "Roe^Richard", "19811124");
  f.AddUpload("U2", "neuro", "R1", "Doe^Jane", "");  // the birth date cannot be checked
  f.forwarder->CollectRules();
  f.forwarder->Step(f.stopping);
  EXPECT_TRUE(f.ledger.Forwards().List("", "", 100).empty());
  EXPECT_TRUE(f.rest.stores.empty());
  EXPECT_EQ(0, f.Matched("U1"));
  EXPECT_EQ(0, f.Matched("U2"));
  const std::vector<AuditEvent> mismatches = f.Audited("request-mismatch");
  ASSERT_EQ(2u, mismatches.size());
  EXPECT_EQ("U1", mismatches[0].uploadId);
  EXPECT_EQ("request R1: 1 of 1 patient not the expected one (name and birth date)",
            mismatches[0].detail);
  EXPECT_EQ("request R1: 1 of 1 patient not the expected one (birth date)",
            mismatches[1].detail);
  EXPECT_TRUE(f.Audited("auto-forward").empty());

  // A person releases it with the request's patient, confirming that the birth date sent
  // was wrong: sent under the hospital's identity.
  EXPECT_THROW(f.forwarder->Release("U1", f.Reconciled(), "admin"), ApiError);
  const std::string confirmed = R"({"modality": "pacs", "confirmMismatch": true,
      "patient": {"id": "H-1", "name": "Doe^Jane", "birthDate": "19700131"}})";
  f.forwarder->Release("U1", ReleaseRequest::Parse(confirmed.data(), confirmed.size()), "admin");
  f.forwarder->Step(f.stopping);
  EXPECT_EQ(1u, f.rest.stores.size());
}

TEST(Forwarder, RequestsWithoutForwardToOrPatientNameAndRulesForBoundUploads)
{
  Fixture f(R"(, "AutoForward": [{"Recipient": "neuro", "Modality": "pacs", "PatientID": "Namespaced"}])");
  f.AddRequest("R1", "");
  f.AddRequest("R2", "pacs", "");  // no name: nothing to compare with
  f.AddUpload("U1", "neuro", "R1", "DOE^JANE", "19700131");
  f.AddUpload("U2", "neuro", "R2", "DOE^JANE", "19700131");
  f.AddUpload("U3", "neuro");  // an open upload is not judged
  f.forwarder->CollectRules();
  EXPECT_EQ(1, f.Matched("U1"));
  EXPECT_EQ(-1, f.Matched("U2"));
  EXPECT_EQ(-1, f.Matched("U3"));
  EXPECT_TRUE(f.Audited("request-mismatch").empty());
  // The rule forwards every upload of its recipient, bound or not, as before.
  for (const char* upload : {"U1", "U2", "U3"})
  {
    EXPECT_EQ("rule", f.Only(upload).origin) << upload;
  }
}

TEST(Forwarder, ARequestForwardsOnlyTheIdentityTheAssistantFindsBeyondDoubt)
{
  Fixture f;
  for (const char* id : {"R1", "R2", "R3", "R4", "R5", "R6"})
    f.AddRequest(id, "pacs");
  // R1: the PACS's record of H-1 and the request's: the hospital's record is used.
  f.finder.results["U1"] = Answer("U1", {MakeCandidate("pacs", "H-1", 90, "DOE^JANE^Q", "F", "HOSP"),
                                         MakeCandidate("request", "H-1", 80)});
  // R2: two hospital patients above AutoThreshold.
  f.finder.results["U2"] = Answer("U2", {MakeCandidate("pacs", "H-1", 90),
                                         MakeCandidate("pacs", "H-9", 85)});
  // R3: a source did not answer.
  f.finder.results["U3"] = Answer("U3", {MakeCandidate("request", "H-1", 80)});
  SourceOutcome down;
  down.source = "pacs";
  down.status = SourceStatus_Timeout;
  f.finder.results["U3"].sources.push_back(down);
  // R4: only another patient above.
  f.finder.results["U4"] = Answer("U4", {MakeCandidate("pacs", "H-7", 95)});
  // R5: nothing above AutoThreshold (the request without a birth date scores 45).
  f.finder.results["U5"] = Answer("U5", {MakeCandidate("request", "H-1", 45)});
  // R6: the single candidate's name cannot be written into DICOM.
  f.finder.results["U6"] = Answer("U6", {MakeCandidate("pacs", "H-1", 90, "DOE\\JANE")});
  int n = 1;
  for (const char* id : {"U1", "U2", "U3", "U4", "U5", "U6"})
    f.AddUpload(id, "neuro", "R" + std::to_string(n++), "Doe^Jane", "19700131");
  f.forwarder->CollectRules();

  // Only U1 is sent, with the PACS record's identity and issuer.
  const std::vector<ForwardRecord> all = f.ledger.Forwards().List("", "", 100);
  ASSERT_EQ(1u, all.size());
  const ForwardRecord& forward = all[0];
  EXPECT_EQ("U1", forward.uploadId);
  EXPECT_EQ("H-1", forward.patientId);
  EXPECT_EQ("DOE^JANE^Q", forward.patientName);
  EXPECT_EQ("19700131", forward.patientBirthDate);
  EXPECT_EQ("F", forward.patientSex);
  EXPECT_EQ("HOSP", forward.patientIssuer);
  EXPECT_EQ("pacs", forward.candidateSource);
  EXPECT_EQ(90, forward.candidateScore);
  EXPECT_EQ("request", forward.origin);
  EXPECT_EQ("1 studies to pacs as PatientID H-1 for request R1; candidate pacs score 90",
            f.Audited("auto-forward").at(0).detail);

  // The others wait for a person, each with its reason; their verdicts are recorded as before.
  std::map<std::string, std::string> waiting;
  for (const AuditEvent& e : f.Audited("reconcile-waiting"))
    waiting[e.uploadId] = e.detail;
  EXPECT_EQ((std::map<std::string, std::string>{
              {"U2", "request R2 to pacs: several-candidates-above"},
              {"U3", "request R3 to pacs: sources-incomplete"},
              {"U4", "request R4 to pacs: request-patient-differs"},
              {"U5", "request R5 to pacs: no-candidate-above"},
              {"U6", "request R6 to pacs: candidate-not-writable"}}),
            waiting);
  for (const char* id : {"U1", "U2", "U3", "U4", "U5", "U6"})
    EXPECT_EQ(1, f.Matched(id)) << id;

  f.forwarder->Step(f.stopping);
  ASSERT_EQ(2u, f.rest.posted.size());
  EXPECT_EQ("H-1", Posted(f.rest, 0, DCM_PatientID));
  EXPECT_EQ("HOSP", Posted(f.rest, 0, DCM_IssuerOfPatientID));
  EXPECT_EQ("F", Posted(f.rest, 0, DCM_PatientSex));
  EXPECT_EQ("DOE^JANE^Q", Posted(f.rest, 0, DCM_PatientName));
}

TEST(Forwarder, AFinderThatFailsLeavesTheUploadWaiting)
{
  Fixture f(R"(, "Reconciliation": {"IssuerOfPatientID": "HOSPITAL-A"})");
  f.AddRequest("R1", "pacs");
  f.finder.fails = true;
  f.AddUpload("U1", "neuro", "R1", "Doe^Jane", "19700131");
  f.forwarder->CollectRules();
  EXPECT_TRUE(f.ledger.Forwards().List("", "", 100).empty());
  ASSERT_EQ(1u, f.Audited("reconcile-waiting").size());
  EXPECT_EQ("request R1 to pacs: candidates-failed", f.Audited("reconcile-waiting")[0].detail);

  // A record without issuer takes the configured one.
  f.finder.fails = false;
  f.AddRequest("R2", "pacs");
  f.finder.results["U2"] = Answer("U2", {MakeCandidate("local", "H-1", 85)});
  f.AddUpload("U2", "neuro", "R2", "Doe^Jane", "19700131");
  f.forwarder->CollectRules();
  EXPECT_EQ("HOSPITAL-A", f.Only("U2").patientIssuer);
}

TEST(Forwarder, RulesThatReconcileUseOnlyTheRequestsPatientFoundBeyondDoubt)
{
  Fixture f(R"(, "AutoForward": [{"Recipient": "neuro", "Modality": "pacs", "PatientID": "Namespaced", "Reconcile": true}])");
  f.AddRequest("R1", "");  // no forwardTo of its own
  f.finder.results["U1"] = Answer("U1", {MakeCandidate("pacs", "H-1", 92, "DOE^JANE", "F")});
  f.finder.results["U2"] = Answer("U2", {MakeCandidate("pacs", "H-1", 92)});
  f.AddUpload("U1", "neuro", "R1", "Doe^Jane", "19700131");
  f.AddUpload("U2", "neuro");  // no request: no patient to look for
  f.forwarder->CollectRules();

  const ForwardRecord forward = f.Only("U1");
  EXPECT_EQ("rule", forward.origin);
  EXPECT_FALSE(forward.keepNamespace);
  EXPECT_EQ("H-1", forward.patientId);
  EXPECT_EQ("F", forward.patientSex);
  EXPECT_EQ("pacs", forward.candidateSource);
  EXPECT_TRUE(f.ledger.Forwards().List("U2", "", 100).empty());
  ASSERT_EQ(1u, f.Audited("reconcile-waiting").size());
  EXPECT_EQ("U2", f.Audited("reconcile-waiting")[0].uploadId);
  EXPECT_EQ("rule to pacs: no-request-patient", f.Audited("reconcile-waiting")[0].detail);
  EXPECT_EQ(1, f.finder.finds);  // U2 was not even looked up
  ASSERT_EQ(1u, f.Audited("auto-forward").size());
  EXPECT_EQ("1 studies queued by the rules; upload U1 to pacs as PatientID H-1; candidate pacs "
            "score 92", f.Audited("auto-forward")[0].detail);

  // A revoked request identifies nobody on its own.
  f.AddRequest("R3", "");
  f.finder.results["U3"] = Answer("U3", {MakeCandidate("pacs", "H-1", 92)});
  f.AddUpload("U3", "neuro", "R3", "Doe^Jane", "19700131");
  ASSERT_TRUE(f.ledger.Requests().Revoke("R3", f.clock.now, "admin"));
  f.forwarder->CollectRules();
  EXPECT_TRUE(f.ledger.Forwards().List("U3", "", 100).empty());
  EXPECT_EQ("rule to pacs: no-request-patient", f.Audited("reconcile-waiting").back().detail);

  // One question per upload and round, whatever the number of rules and the request's own.
  Fixture g(R"(, "AutoForward": [{"Recipient": "neuro", "Modality": "pacs", "PatientID": "Namespaced", "Reconcile": true},
                                 {"Recipient": "*", "Modality": "pacs", "PatientID": "Namespaced", "Reconcile": true}])");
  g.AddRequest("R1", "pacs");
  g.finder.results["U1"] = Answer("U1", {MakeCandidate("pacs", "H-1", 92)});
  g.AddUpload("U1", "neuro", "R1", "Doe^Jane", "19700131");
  g.forwarder->CollectRules();
  EXPECT_EQ(1, g.finder.finds);
  EXPECT_EQ(3u, g.ledger.Forwards().List("U1", "", 100).size());
}

TEST(Forwarder, AReleaseThatContradictsWhatWasSentNeedsAConfirmation)
{
  Fixture f;
  f.AddUpload("U1", "neuro", "", "Doe^Jane", "19700131");  // sent: F, 19700131
  auto release = [&f](const std::string& extra) {
    const std::string body = R"({"modality": "pacs", "patient": {"id": "H-1")" + extra;
    return f.forwarder->Release("U1", ReleaseRequest::Parse(body.data(), body.size()), "admin");
  };
  auto refusal = [&](const std::string& extra) -> std::string {
    try
    {
      release(extra);
    }
    catch (const ApiError& e)
    {
      EXPECT_EQ(409, e.GetStatus());
      EXPECT_EQ("confirmation-required", e.GetCode());
      return e.what();
    }
    return "";
  };
  const std::string birth = refusal(R"(, "birthDate": "19700130"}})");
  EXPECT_NE(std::string::npos, birth.find("birth date")) << birth;
  EXPECT_EQ(std::string::npos, birth.find("1970")) << birth;  // no patient data
  EXPECT_NE(std::string::npos, refusal(R"(, "sex": "M"}})").find("sex"));
  const std::string both = refusal(R"(, "sex": "M", "birthDate": "19700130"}})");
  EXPECT_NE(std::string::npos, both.find("birth date"));
  EXPECT_NE(std::string::npos, both.find("sex"));
  EXPECT_TRUE(f.ledger.Forwards().List("", "", 100).empty());
  EXPECT_TRUE(f.Audited("release-requested").empty());

  // Agreeing, unknown or not released: no question.
  release(R"(, "sex": "F", "birthDate": "19700131"}})");
  release(R"(}})");
  f.rest.files["a1U1"].sex = f.rest.files["b2U1"].sex = "";
  release(R"(, "sex": "M"}})");
  // Confirmed: released, recorded and audited as such.
  release(R"(, "birthDate": "19700130"}, "confirmMismatch": true})");
  EXPECT_TRUE(f.ledger.Forwards().List("", "", 100).front().confirmed);
  EXPECT_NE(std::string::npos, f.Audited("release-requested").back().detail.find("mismatch confirmed"));

  // The assistant's last answer found the patient ambiguous.
  f.finder.cached["U1"] = Answer("U1", {});
  f.finder.cached["U1"].patients[0].ambiguous = true;
  EXPECT_NE(std::string::npos, refusal(R"(}})").find("several"));
  f.finder.cached["U1"].patients[0].sent.studies = {"another-study"};
  f.finder.cached["U1"].patients[0].sent.isolatedPatientId = "INB-U1-2";
  release(R"(}})");  // another patient's doubt is not this one's
  // The namespaced PatientID is no hospital identity: nothing to confirm.
  const std::string keep = R"({"modality": "pacs", "keepNamespacedPatientId": true})";
  f.finder.cached["U1"].patients[0].sent.studies = {"study-U1"};
  f.forwarder->Release("U1", ReleaseRequest::Parse(keep.data(), keep.size()), "admin");
  EXPECT_EQ(0, f.finder.finds);  // a release never waits for the sources
}
