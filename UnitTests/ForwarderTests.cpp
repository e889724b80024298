// Unit tests of releases and auto-forwards against a fake Orthanc: copies, jobs, retries, rules.
// Over 500 lines: one fake Orthanc and fixture serve every forwarding test, requests included.
#include "Forward/Forwarder.h"
#include "Http/ApiError.h"
#include "TestSupport.h"
#include "Toolbox/Json.h"

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
    std::vector<Json::Value> modifications;
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

    std::string PostForBytes(const std::string& uri, const Json::Value& body) override
    {
      modifications.push_back(body);
      return "modified " + uri;
    }

    Json::Value PostBytes(const std::string& uri, const std::string& body) override
    {
      copies++;
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
      forwarder.reset(new Forwarder(configuration, ledger, rest, clock));
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
        item.patientName = name;
        item.patientBirthDate = birthDate;
        item.storedAt = clock.now;
        ledger.Uploads().AddItem(item, "");
        rest.studies[study].push_back(item.sha256);
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

TEST(Forwarder, ReleaseCopiesWithTheHospitalsIdentitySendsAndRemovesTheCopy)
{
  Fixture f;
  const std::string study = f.AddUpload("U1", "neuro");
  Json::Value answer = f.forwarder->Release("U1", f.Reconciled(), "admin");
  ASSERT_EQ(1u, answer["forwards"].size());

  f.forwarder->Step(f.stopping);  // copy and start the job
  ASSERT_EQ(2u, f.rest.modifications.size());
  const Json::Value& m = f.rest.modifications[0];
  EXPECT_EQ("H-1", m["Replace"]["PatientID"].asString());
  EXPECT_EQ("Doe^Jane", m["Replace"]["PatientName"].asString());
  EXPECT_EQ("19700131", m["Replace"]["PatientBirthDate"].asString());
  EXPECT_EQ("IssuerOfPatientID", m["Remove"][0].asString());
  EXPECT_EQ(3u, m["Keep"].size());  // the UIDs are kept
  EXPECT_EQ(std::vector<std::string>{"copy-study"}, f.rest.stores);
  EXPECT_EQ(ForwardState_Sending, f.Only("U1").state);

  f.clock.now += 1000;
  f.forwarder->Step(f.stopping);  // the job succeeded
  const ForwardRecord done = f.Only("U1");
  EXPECT_EQ(ForwardState_Done, done.state);
  EXPECT_EQ(study, done.study);
  EXPECT_EQ(std::vector<std::string>{"/studies/copy-study"}, f.rest.deleted);
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
  EXPECT_EQ(2u, f.rest.modifications.size());

  f.clock.now += 10000;
  f.forwarder->Step(f.stopping);  // second attempt reuses the copy
  EXPECT_EQ(2u, f.rest.modifications.size());
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
  EXPECT_EQ(2u, f.rest.modifications.size());
  EXPECT_EQ("P-U2", f.rest.modifications[0]["Replace"]["PatientID"].asString());
}

TEST(Forwarder, UploadsBeforeTheFirstStartAreNotForwardedByRules)
{
  Configuration c = Configuration::Parse(Section(
    R"({"Recipients": [{"Id": "neuro", "Name": "N", "Email": "n@hospital.example"}],
        "AutoForward": [{"Recipient": "*", "Modality": "pacs", "PatientID": "Namespaced"}]})"));
  Ledger ledger("");
  UploadRecord u;
  u.id = "OLD";
  u.tokenHash = "h";
  u.recipientId = "neuro";
  ledger.Uploads().Create(u);
  ledger.Uploads().ChangeState("OLD", {UploadState_Open}, UploadState_Complete, 1, "", "");
  InboundTests::FakeClock clock;
  FakeRest rest;
  Forwarder forwarder(c, ledger, rest, clock);
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
  EXPECT_EQ(2u, f.rest.modifications.size());  // two instances copied, not three
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

TEST(Forwarder, AMatchedRequestUploadGoesToItsModalityOnceUnderTheHospitalsIdentity)
{
  Fixture f;
  f.AddRequest("R1", "pacs");
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
  EXPECT_EQ("1 studies to pacs as PatientID H-1 for request R1", f.Audited("auto-forward")[0].detail);
  EXPECT_TRUE(f.Audited("request-mismatch").empty());

  // A forwarder started afresh on the same ledger (a restart) queues nothing again.
  Forwarder again(f.configuration, f.ledger, f.rest, f.clock);
  again.CollectRules();
  EXPECT_EQ(1u, f.ledger.Forwards().List("", "", 100).size());

  f.forwarder->Step(f.stopping);
  ASSERT_EQ(2u, f.rest.modifications.size());
  for (const Json::Value& m : f.rest.modifications)
  {
    EXPECT_EQ("H-1", m["Replace"]["PatientID"].asString());
    EXPECT_EQ("DOE^JANE", m["Replace"]["PatientName"].asString());
    EXPECT_EQ("19700131", m["Replace"]["PatientBirthDate"].asString());
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

  // A person releases it with the request's patient: sent under the hospital's identity.
  f.forwarder->Release("U1", f.Reconciled(), "admin");
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
