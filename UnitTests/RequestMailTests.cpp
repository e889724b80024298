// Unit tests of the request-link mails: the link mail, the recipient's mail of a bound upload.
#include <OrthancFramework.h> // first: it defines what the framework headers test

#include "NotifierTestSupport.h"

using namespace NotifierTesting;

namespace
{
  const char* const kUrl = "https://upload.hospital.example/inbound/r/TOKEN-0123456789abcdef";

  class RequestMailTest : public NotifierTest
  {
  protected:
    // A request for the patient of every test file (Mustermann^Erika, 19640812).
    RequestRecord MakeRequest(const std::string& id, const std::string& email,
                              ChallengeKind challenge = ChallengeKind_BirthDate,
                              const std::string& language = "",
                              const std::string& patientName = "MUSTERMANN^ERIKA")
    {
      RequestRecord r;
      r.id = id;
      r.tokenHash = "hash-of-" + id;
      r.createdAt = r.updatedAt = clock_.now;
      r.expiresAt = clock_.now + 14 * 86400000LL;
      r.recipientId = "neuro";
      r.message = "Please send the CT of last week";
      r.language = language;
      r.maxUploads = 2;
      r.challenge = challenge;
      r.patient.id = "H-77";
      r.patient.name = patientName;
      r.patient.birthDate = kPatientBirthDate;
      r.senderName = "Dr. Praxis";
      r.senderEmail = email;
      r.forwardTo = "pacs";
      ledger_.Requests().Create(r);
      return r;
    }

    NotificationRecord Stored(int64_t id)
    {
      NotificationRecord n;
      EXPECT_TRUE(ledger_.Notifications().Lookup(n, id));
      return n;
    }
  };
}

TEST_F(RequestMailTest, TheLinkMailReachesTheSenderWithoutPatientDataThenItsTextIsGone)
{
  Start();
  const RequestRecord r = MakeRequest("R1", "praxis@example.org");
  EXPECT_TRUE(notifier_->QueueRequestLink(r, kUrl));
  notifier_->QueueRequestLink(r, kUrl);
  EXPECT_EQ(1u, Queue().size());  // one per request and address
  Run();
  const std::vector<FakeMailTransport::Sent> sent = mail_.To("praxis@example.org");
  ASSERT_EQ(1u, sent.size());
  ParsedMail m = ParseMail(sent[0].message);
  EXPECT_EQ("\"Dr. Praxis\" <praxis@example.org>", m.headers["To"]);
  EXPECT_EQ("R1", m.headers["X-Inbound-Request"]);
  EXPECT_EQ("request-created", m.headers["X-Inbound-Event"]);
  EXPECT_EQ("[Test Hospital] Neuroradiology asks you for images", m.subject);
  for (const std::string& body : {m.text, m.html})
  {
    EXPECT_NE(std::string::npos, body.find(kUrl));
    EXPECT_NE(std::string::npos, body.find("Please send the CT of last week"));
    EXPECT_NE(std::string::npos, body.find("Dear Dr. Praxis"));
    EXPECT_NE(std::string::npos, body.find("asks for the patient's date of birth"));
    EXPECT_NE(std::string::npos, body.find("can be used for 2 uploads"));
    EXPECT_NE(std::string::npos, body.find("valid until"));
    EXPECT_EQ(std::string::npos, body.find("code that"));
  }
  ExpectNoPatientData(AllOf(sent[0]));
  EXPECT_EQ(std::string::npos, AllOf(sent[0]).find("H-77"));

  // Delivered: the queue keeps that it was sent, not the link.
  const NotificationRecord n = Only("request-link");
  EXPECT_EQ(NotificationState_Delivered, n.state);
  EXPECT_EQ("praxis@example.org", n.target);
  EXPECT_EQ("", Stored(n.id).payload);
  EXPECT_FALSE(notifier_->Retry(n.id, "admin"));  // nothing left to send
  // The audit trail never held it either.
  for (const AuditEvent& e : ledger_.Audit().List(0, 1000))
  {
    EXPECT_EQ(std::string::npos, e.detail.find("TOKEN")) << e.event;
  }
}

TEST_F(RequestMailTest, ACodeComesAnotherWayAndTheRequestsLanguageIsUsed)
{
  Start();
  const RequestRecord r = MakeRequest("R2", "praxis@example.org", ChallengeKind_Code, "de");
  EXPECT_TRUE(notifier_->QueueRequestLink(r, kUrl));
  Run();
  ASSERT_EQ(1u, mail_.delivered.size());
  const ParsedMail m = ParseMail(mail_.delivered[0].message);
  EXPECT_EQ("[Test Hospital] Neuroradiology bittet Sie um Bilder", m.subject);
  EXPECT_NE(std::string::npos, m.text.find("Der Code steht nicht in dieser E-Mail"));
  EXPECT_NE(std::string::npos, m.html.find("Der Code steht nicht in dieser E-Mail"));
  EXPECT_EQ(std::string::npos, m.text.find("Geburtsdatum"));
}

TEST_F(RequestMailTest, NoMailWithoutEmailOrAValidAddress)
{
  Start("{}", false);
  EXPECT_FALSE(notifier_->QueueRequestLink(MakeRequest("R3", "praxis@example.org"), kUrl));
  Start();
  EXPECT_FALSE(notifier_->QueueRequestLink(MakeRequest("R4", ""), kUrl));
  EXPECT_FALSE(notifier_->QueueRequestLink(MakeRequest("R5", "not an address\r\nBcc: x@y.z"), kUrl));
  EXPECT_TRUE(Queue().empty());
}

TEST_F(RequestMailTest, ARevokedRequestsUnsentLinkMailIsNotSentAndAGivenUpOneIsBlanked)
{
  Start(R"({"Notifications": {"GiveUpAfter": 60}})");
  mail_.failAll = true;
  const RequestRecord revoked = MakeRequest("R6", "first@example.org");
  const RequestRecord other = MakeRequest("R7", "second@example.org");
  EXPECT_TRUE(notifier_->QueueRequestLink(revoked, kUrl));
  EXPECT_TRUE(notifier_->QueueRequestLink(other, std::string(kUrl) + "X"));
  notifier_->CancelRequestLinks(revoked);
  for (const NotificationRecord& n : Queue())
  {
    if (n.target == "first@example.org")
    {
      EXPECT_EQ(NotificationState_Failed, n.state);
      EXPECT_EQ("", Stored(n.id).payload);
      EXPECT_EQ("request R6 revoked before the mail was sent", n.lastError);
    }
    else
    {
      EXPECT_EQ(NotificationState_Pending, n.state);
      EXPECT_NE("", Stored(n.id).payload);
    }
  }
  RunUntilSettled();  // the relay stays down: given up
  for (const FakeMailTransport::Sent& s : mail_.attempts)
  {
    EXPECT_EQ("second@example.org", s.recipients[0]);
  }
  for (const NotificationRecord& n : Queue())
  {
    if (n.kind == "request-link")
    {
      EXPECT_EQ(NotificationState_Failed, n.state);
      EXPECT_EQ("", Stored(n.id).payload) << n.target;
    }
  }
}

TEST_F(RequestMailTest, TheRecipientsMailNamesTheRequestAndWhetherThePatientMatched)
{
  Start();
  MakeRequest("R8", "praxis@example.org");
  MakeRequest("R9", "praxis@example.org", ChallengeKind_Code, "", "Doe^Jane");
  CompleteUpload("neuro", "a@example.org", 1, "Dr. A", "R8");
  CompleteUpload("neuro", "a@example.org", 1, "Dr. A", "R9");
  Run();
  const std::vector<FakeMailTransport::Sent> sent = mail_.To("neuro@hospital.example");
  ASSERT_EQ(2u, sent.size());
  const ParsedMail matched = ParseMail(sent[0].message);
  EXPECT_EQ("[Test Hospital] Images you requested (request R8) – New images from Dr. A "
            "(Clinic West)", matched.subject);
  for (const std::string& body : {matched.text, matched.html})
  {
    EXPECT_NE(std::string::npos, body.find("images you requested (request R8)"));
    EXPECT_NE(std::string::npos, body.find("The patient in the files is the one of the request."));
    EXPECT_NE(std::string::npos, body.find("being sent to pacs"));
    EXPECT_EQ(std::string::npos, body.find("differs"));
  }
  ExpectNoPatientData(AllOf(sent[0]));  // IncludePatientData is off

  const ParsedMail differs = ParseMail(sent[1].message);
  EXPECT_EQ("[Test Hospital] Images you requested (request R9), patient differs – New images "
            "from Dr. A (Clinic West)", differs.subject);
  for (const std::string& body : {differs.text, differs.html})
  {
    EXPECT_NE(std::string::npos, body.find("differs from the one of the request"));
    EXPECT_EQ(std::string::npos, body.find("being sent to"));
  }
  ExpectNoPatientData(AllOf(sent[1]));
  EXPECT_EQ(std::string::npos, AllOf(sent[1]).find("Doe"));
}

TEST_F(RequestMailTest, WithPatientDataAllowedTheMailNamesTheRequestedPatient)
{
  Start(R"({"Notifications": {"IncludePatientData": true}})");
  MakeRequest("R10", "praxis@example.org");
  CompleteUpload("neuro", "a@example.org", 1, "Dr. A", "R10");
  Run();
  ASSERT_EQ(1u, mail_.delivered.size());
  const ParsedMail m = ParseMail(mail_.delivered[0].message);
  EXPECT_EQ("[Test Hospital] Images you requested for MUSTERMANN, ERIKA, born 1964-08-12 "
            "(request R10) – New images from Dr. A (Clinic West)", m.subject);
  EXPECT_NE(std::string::npos,
            m.text.find("images you requested for MUSTERMANN, ERIKA, born 1964-08-12 (request R10)"));
}

TEST_F(RequestMailTest, ALockedRequestIsAnAlertToTheAdmins)
{
  Start();
  ledger_.Audit().Add(clock_.now, AuditEventType_AlertRequestLocked, "", "198.51.100.7",
                      "request R11 locked after 5 wrong answers");
  Run();
  const std::vector<FakeMailTransport::Sent> sent = mail_.To("admin@hospital.example");
  ASSERT_EQ(1u, sent.size());
  const ParsedMail m = ParseMail(sent[0].message);
  EXPECT_EQ("[Test Hospital] Alert: A request link locked after repeated wrong answers", m.subject);
  EXPECT_NE(std::string::npos, m.text.find("request R11 locked after 5 wrong answers"));
  EXPECT_NE(std::string::npos, m.text.find("198.51.100.7"));
}

TEST_F(RequestMailTest, ALinkMailCancelledDuringItsAttemptKeepsItsReason)
{
  Start(R"({"Notifications": {"GiveUpAfter": 60}})");
  const RequestRecord r = MakeRequest("R8", "late@example.org");
  EXPECT_TRUE(notifier_->QueueRequestLink(r, kUrl));
  const NotificationRecord n = Queue().at(0);
  // The attempt read the mail, the request was revoked, then the attempt ended in failure.
  notifier_->CancelRequestLinks(r);
  ledger_.Notifications().MarkRetry(n.id, clock_.now + 1000, "Couldn't connect to server");
  NotificationRecord after = Stored(n.id);
  EXPECT_EQ(NotificationState_Failed, after.state);
  EXPECT_EQ("request R8 revoked before the mail was sent", after.lastError);
  const size_t alerts = ledger_.Audit().List(0, 1000).size();
  ledger_.Notifications().MarkFailed(n.id, clock_.now, "given up", AuditEventType_NotificationFailed,
                                     "detail");
  after = Stored(n.id);
  EXPECT_EQ("request R8 revoked before the mail was sent", after.lastError);
  EXPECT_EQ(alerts, ledger_.Audit().List(0, 1000).size());
}
